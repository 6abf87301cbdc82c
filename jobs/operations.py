"""Operator actions on deliveries: retry now, or stop retrying.

    retry   FAILED (before its deadline) -> WAITING_RETRY, due now
            WAITING_RETRY                -> due now
            the next attempt is recorded with trigger "manual"
    cancel  WAITING_RETRY -> FAILED, reason "cancelled"

Anything else (in progress, succeeded, past its deadline, of a deleted
destination) is skipped and counted. By ids the work is done in the call; by
filter it is an operation row and a background job that goes through the matches
in chunks, recording its progress and where it is, so a restarted job resumes
instead of starting over.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from jobs import decisions, queue
from jobs.clock import Clock
from jobs.destinations import resolve_names
from jobs.digits import is_ascii_digits
from jobs.errors import InvalidArgument, NotFound
from jobs.metrics import Metrics
from jobs.model import DeliveryFilter, OperationRow
from jobs.moves import Move, Writes, write
from jobs.retry_policy import DeadlineRule
from jobs.status import Status, as_status
from jobs.store import operations

log = logging.getLogger(__name__)

MAX_IDS = 1000
CHUNK = 500
RETRY, CANCEL = "retry", "cancel"


class OperationService:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        clock: Clock,
        app: queue.App,
        rule: DeadlineRule,
        metrics: Metrics,
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        self._clock = clock
        self._app = app
        # Retries are refused when an attempt started now could not end by the deadline.
        self._rule = rule

    async def start(
        self,
        workspace_id: int,
        kind: str,
        *,
        ids: Sequence[str],
        where: DeliveryFilter | None,
        destination_name: str = "",
    ) -> OperationRow:
        """Retry or cancel deliveries by ids (done now) or by filter (in the background);
        `destination_name`, when given, narrows the filter to that destination."""
        if ids and where is not None:
            raise InvalidArgument.one("filter", "give delivery_ids or a filter, not both")
        if not ids and where is None:
            raise InvalidArgument.one("delivery_ids", "give delivery_ids or a filter")
        if ids:
            return await self._by_ids(workspace_id, kind, ids)
        assert where is not None
        now = self._clock.now()
        async with self._pool.connection() as conn, conn.transaction():
            resolved = await self._resolve(conn, workspace_id, where, destination_name)
            total = await operations.count_matching(conn, workspace_id=workspace_id, where=resolved)
            operation = await operations.insert_operation(
                conn, workspace_id=workspace_id, kind=kind, where=resolved, total=total, now=now
            )
            await self._app.configure_task(queue.OPERATION_TASK, connection=conn).defer_async(
                operation_id=operation.id
            )
        log.info(
            "operation.started", extra={"operation": operation.id, "kind": kind, "total": total}
        )
        return operation

    async def get(self, workspace_id: int, operation_id: str) -> OperationRow:
        if not is_ascii_digits(operation_id):
            raise InvalidArgument.one("id", "an operation id is a number")
        async with self._pool.connection() as conn:
            found = await operations.get_operation(
                conn, operation_id=int(operation_id), workspace_id=workspace_id
            )
        if found is None:
            raise NotFound(f"no operation with id {operation_id}")
        return found

    async def run(self, operation_id: int) -> None:
        """The background job: go through the matching deliveries, chunk by chunk."""
        while True:
            now = self._clock.now()
            async with self._pool.connection() as conn, conn.transaction():
                operation = await operations.get_operation(
                    conn, operation_id=operation_id, for_update=True
                )
                if operation is None or operation.state != "running":
                    return
                rows = await operations.lock_matching(
                    conn,
                    workspace_id=operation.workspace_id,
                    where=DeliveryFilter.from_json(operation.filter),
                    after_id=operation.last_delivery_id,
                    limit=CHUNK,
                )
                done = len(rows) < CHUNK
                changed, writes = await self._apply(conn, operation.kind, rows, now)
                await operations.record_progress(
                    conn,
                    operation_id=operation_id,
                    processed=len(rows),
                    changed=changed,
                    skipped=len(rows) - changed,
                    last_delivery_id=rows[-1].id if rows else 0,
                    state="done" if done else "running",
                    finished_at=now if done else None,
                )
            self._metrics.written(writes)
            if done:
                log.info("operation.finished", extra={"operation": operation_id})
                return

    async def _by_ids(self, workspace_id: int, kind: str, ids: Sequence[str]) -> OperationRow:
        if len(ids) > MAX_IDS:
            raise InvalidArgument.one("delivery_ids", f"at most {MAX_IDS} ids; use a filter")
        bad = [i for i, value in enumerate(ids) if not is_ascii_digits(value)]
        if bad:
            raise InvalidArgument.one(f"delivery_ids[{bad[0]}]", "a delivery id is a number")
        now = self._clock.now()
        async with self._pool.connection() as conn, conn.transaction():
            wanted = sorted({int(i) for i in ids})
            rows = await operations.lock_by_ids(conn, workspace_id=workspace_id, ids=wanted)
            if len(rows) < len(wanted):
                missing = sorted(set(wanted) - {r.id for r in rows})
                raise NotFound(f"no delivery with id {missing[0]}")
            operation = await operations.insert_operation(
                conn, workspace_id=workspace_id, kind=kind, where=None, total=len(rows), now=now
            )
            changed, writes = await self._apply(conn, kind, rows, now)
            await operations.record_progress(
                conn,
                operation_id=operation.id,
                processed=len(rows),
                changed=changed,
                skipped=len(rows) - changed,
                last_delivery_id=rows[-1].id,
                state="done",
                finished_at=now,
            )
            finished = await operations.get_operation(conn, operation_id=operation.id)
        self._metrics.written(writes)
        assert finished is not None
        log.info(
            "operation.finished",
            extra={"operation": finished.id, "kind": kind, "changed": changed},
        )
        return finished

    async def _resolve(
        self,
        conn: AsyncConnection,
        workspace_id: int,
        where: DeliveryFilter,
        destination_name: str,
    ) -> DeliveryFilter:
        if not destination_name:
            return where
        [found] = await resolve_names(
            conn, workspace_id=workspace_id, names=[destination_name], field="filter.destination"
        )
        return dataclasses.replace(where, destination_id=found.id)

    async def _apply(
        self,
        conn: AsyncConnection,
        kind: str,
        rows: Sequence[operations.SelectedDelivery],
        now: dt.datetime,
    ) -> tuple[int, Writes]:
        """Apply the operation to locked deliveries; return how many changed, and the writes."""
        moves: list[Move] = []
        manual: list[int] = []
        waiting: set[int] = set()
        for row in rows:
            status = as_status(row.status)
            if kind == RETRY:
                if status not in (Status.FAILED, Status.WAITING_RETRY):
                    continue
                if row.destination_deleted or not self._rule.can_start(now, row.deadline):
                    continue
                if status is Status.FAILED:
                    moves.append(decisions.retried(row, now=now))
                else:
                    waiting.add(row.destination_id)
                manual.append(row.id)
            elif status is Status.WAITING_RETRY:
                moves.append(decisions.cancelled(row))
        written = await write(conn, self._app, moves, now=now)
        if manual:
            # Due now, and the attempt says an operator asked for it.
            await operations.mark_manual(conn, ids=manual, now=now)
        for destination_id in sorted(waiting - {d for d, _ in written.jobs}):
            await queue.defer_delivery(self._app, conn, destination_id=destination_id)
        return (len(manual) if kind == RETRY else len(moves)), written
