"""Accepting events: validate, hash personal data, store, and queue the first attempt.

Everything one submission writes (events, deliveries, their first status
change, and the queue job that will send them) commits in one transaction, so
an acknowledged event is always stored and always has a job to deliver it, and
a rejected one leaves nothing behind.

A batch (`SubmitEvents`) is one transaction, all or nothing. Single events
(`SubmitEvent`) arriving at the same time share a transaction through
`GroupCommit`, each keeping its own answer: a caller's invalid event fails that
caller alone.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from jobs import decisions, queue
from jobs.clock import Clock
from jobs.errors import FailedPrecondition, FieldViolation, InvalidArgument
from jobs.group_commit import GroupCommit
from jobs.metrics import Metrics
from jobs.model import Delivery, Destination, Event
from jobs.moves import Move, NewDelivery, Writes, write
from jobs.settings import Settings
from jobs.status import Status
from jobs.store import destinations, events
from jobs.turns import give_way, in_turns
from jobs.validation import (
    Checked,
    ContentInput,
    DestinationChoice,
    EventInput,
    Prepared,
    check_event,
    choose_destinations,
)

__all__ = [
    "MAX_BATCH",
    "ContentInput",
    "EventInput",
    "SubmissionService",
    "SubmitResult",
    "births",
    "check_batch_size",
    "delivery_rows",
    "stored_events",
]

log = logging.getLogger(__name__)

MAX_BATCH = 1000
# Transactions of single-event calls in flight at once, per workspace. One is best:
# the calls that arrive while it commits make the next group, so groups grow with
# the load, and fewer, larger transactions also mean fewer delivery jobs and bigger
# batches to the platform (`make bench`, unary workload: about 1,400 calls/s with one,
# 720 with two).
GROUP_COMMIT_FLUSHERS = 1


@dataclass(frozen=True)
class SubmitResult:
    event: Event
    duplicate: bool


@dataclass(frozen=True)
class CheckedCall:
    """A call's events, each valid on its own (`SubmissionService.check`), whether they
    came as a batch (all stored or none) or as one event, and the call's trace context
    (jobs/tracing.py: '' unless traces are on), stored with its events."""

    events: Sequence[Checked]
    batch: bool
    trace_context: str = ""


def check_batch_size(count: int, *, batch: bool = True) -> None:
    """Refuse a call with no events (a batch) or more than MAX_BATCH.

    It needs only the count, so the gRPC edge runs it before anything else is
    spent on the call: decoding its events, the key's rate limit, the database.
    """
    if batch and count == 0:
        raise InvalidArgument.one("events", "at least one event is required")
    if count > MAX_BATCH:
        raise InvalidArgument.one("events", f"at most {MAX_BATCH} events per call, got {count}")


def _checked(
    items: Sequence[Checked | None],
    violations: Sequence[FieldViolation],
    batch: bool,
    trace_context: str,
) -> CheckedCall:
    """A checked call of the events that passed, or INVALID_ARGUMENT with every problem."""
    if violations:
        raise InvalidArgument(list(violations))
    return CheckedCall([item for item in items if item is not None], batch, trace_context)


class SubmissionService:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        clock: Clock,
        settings: Settings,
        app: queue.App,
        metrics: Metrics,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._settings = settings
        self._app = app
        self._metrics = metrics
        self._singles: GroupCommit[int, CheckedCall, list[SubmitResult]] = GroupCommit(
            self._write_calls,
            flushers=GROUP_COMMIT_FLUSHERS,
            max_items=MAX_BATCH,
            written=metrics.group_commit_calls.observe,
        )

    def check(
        self, events: Sequence[EventInput], *, batch: bool, trace_context: str = ""
    ) -> CheckedCall:
        """Check `events` on their own, hashing their personal data; INVALID_ARGUMENT with
        every problem at once.

        Needs no database: the gRPC edge runs it before the key's rate limit, so that a call
        refused for what it holds spends nothing. Field paths in errors are `event.<field>`
        for a single submission and `events[i].<field>` for a batch.
        """
        check_batch_size(len(events), batch=batch)
        step, violations = self._check_step(batch)
        return _checked(
            [step(pair) for pair in enumerate(events)], violations, batch, trace_context
        )

    async def check_in_turns(
        self, events: Sequence[EventInput], *, trace_context: str = ""
    ) -> CheckedCall:
        """`check` of a batch, giving the event loop a turn every few events (jobs/turns.py):
        for the edges, which check on the loop that serves every other call too."""
        check_batch_size(len(events))
        step, violations = self._check_step(batch=True)
        items = await in_turns(enumerate(events), step)
        return _checked(items, violations, True, trace_context)

    def _check_step(
        self, batch: bool
    ) -> tuple[Callable[[tuple[int, EventInput]], Checked | None], list[FieldViolation]]:
        """What checks one (index, event) of a call, and where it adds the problems it finds."""
        now = self._clock.now()
        violations: list[FieldViolation] = []

        def step(item: tuple[int, EventInput]) -> Checked | None:
            index, event = item
            path = f"events[{index}]" if batch else "event"
            return check_event(event, path, now, self._settings, violations)

        return step, violations

    async def submit(
        self, workspace_id: int, events: Sequence[EventInput], *, batch: bool
    ) -> list[SubmitResult]:
        """Check `events`, store them (all or none) and queue their deliveries."""
        return await self.submit_checked(workspace_id, self.check(events, batch=batch))

    async def submit_checked(self, workspace_id: int, call: CheckedCall) -> list[SubmitResult]:
        """Store a checked call's events (all or none) and queue their deliveries."""
        if not call.batch:
            return await self._singles.submit(workspace_id, call)
        [outcome] = await self._write(workspace_id, [call])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def _write_calls(
        self, workspace_id: int, calls: Sequence[CheckedCall]
    ) -> Sequence[list[SubmitResult] | Exception]:
        try:
            return await self._write(workspace_id, calls)
        except psycopg.DataError:
            if len(calls) == 1:
                raise
        # A value the database refused fails its own call, not the others it was grouped with.
        outcomes: list[list[SubmitResult] | Exception] = []
        for call in calls:
            try:
                outcomes.extend(await self._write(workspace_id, [call]))
            except psycopg.DataError as exc:
                outcomes.append(exc)
        return outcomes

    async def _write(
        self, workspace_id: int, calls: Sequence[CheckedCall]
    ) -> list[list[SubmitResult] | Exception]:
        """Store the valid calls in one transaction; each call's results, or its error."""
        now = self._clock.now()
        async with self._pool.connection() as conn, conn.transaction():
            # Locked until the commit: a destination deleted meanwhile either waits for
            # this transaction (and then ends the deliveries it wrote) or is not chosen.
            choice = DestinationChoice(
                await destinations.list_destinations(
                    conn, workspace_id=workspace_id, for_key_share=True
                )
            )
            checked = [await self._choose(call, now, choice) for call in calls]
            accepted = [item for call in checked if isinstance(call, list) for item in call]
            if not accepted:
                return [call if isinstance(call, Exception) else [] for call in checked]
            # Each step below is milliseconds of Python for a big batch: reads first.
            await give_way()
            unique: dict[tuple[str, str], Prepared] = {}
            for item in accepted:
                unique.setdefault(_key(item), item)
            ids = await events.insert_events(
                conn,
                workspace_id=workspace_id,
                events=[item.new for item in unique.values()],
                now=now,
                trace_context=_trace_contexts(calls, checked, unique),
            )
            new_ids = {key: id_ for key, (id_, duplicate) in ids.items() if not duplicate}
            stored, writes = await self._create_deliveries(conn, workspace_id, unique, new_ids, now)
            known = [id_ for id_, duplicate in ids.values() if duplicate]
            if known:
                stored.update(
                    (e.id, e)
                    for e in await events.get_events(conn, workspace_id=workspace_id, ids=known)
                )
        self._metrics.written(writes)
        outcomes: list[list[SubmitResult] | Exception] = []
        seen: set[tuple[str, str]] = set()
        for call in checked:
            if isinstance(call, Exception):
                outcomes.append(call)
                continue
            results = []
            for item in call:
                id_, duplicate = ids[_key(item)]
                results.append(SubmitResult(stored[id_], duplicate or _key(item) in seen))
                seen.add(_key(item))
            outcomes.append(results)
        log.info(
            "event.submitted",
            extra={
                "workspace": workspace_id,
                "calls": len(calls),
                "events": len(accepted),
                "new": len(new_ids),
                "duplicates": len(accepted) - len(new_ids),
            },
        )
        return outcomes

    async def _choose(
        self, call: CheckedCall, now: dt.datetime, choice: DestinationChoice
    ) -> list[Prepared] | Exception:
        """The call's events with their destinations, or the call's own error (the loop
        gets turns meanwhile: jobs/turns.py)."""
        violations: list[FieldViolation] = []
        try:
            chosen = await in_turns(
                call.events,
                lambda event: choose_destinations(event, now, choice, self._settings, violations),
            )
        except FailedPrecondition as exc:  # this call's, not its neighbours'
            return exc
        if violations:
            return InvalidArgument(violations)
        return [item for item in chosen if item is not None]

    async def _create_deliveries(
        self,
        conn: Any,
        workspace_id: int,
        unique: Mapping[tuple[str, str], Prepared],
        new_ids: Mapping[tuple[str, str], int],
        now: dt.datetime,
    ) -> tuple[dict[int, Event], Writes]:
        """Create the new events' deliveries; the new events as stored, by id, and the
        status writes of the deliveries' births (giving way to reads between the steps)."""
        await give_way()
        rows, chosen = delivery_rows(unique, new_ids)
        created = await events.insert_deliveries(
            conn, workspace_id=workspace_id, rows=rows, now=now
        )
        await give_way()
        writes = await write(conn, self._app, births(workspace_id, created, now=now), now=now)
        await give_way()
        stored = stored_events(workspace_id, unique, new_ids, created, rows, chosen, now=now)
        return stored, writes


def delivery_rows(
    unique: Mapping[tuple[str, str], Prepared], new_ids: Mapping[tuple[str, str], int]
) -> tuple[list[tuple[int, int, dt.datetime]], dict[int, Destination]]:
    """The deliveries of the new events, as rows to insert (event id, destination id,
    deadline), and their destinations by id."""
    rows: list[tuple[int, int, dt.datetime]] = []
    chosen: dict[int, Destination] = {}
    for key, event_id in new_ids.items():
        item = unique[key]
        for destination, deadline in zip(item.destinations, item.deadlines, strict=True):
            chosen[destination.id] = destination
            rows.append((event_id, destination.id, deadline))
    return rows, chosen


def births(
    workspace_id: int, created: Sequence[tuple[int, int, int]], *, now: dt.datetime
) -> list[Move]:
    """The moves into PENDING of the deliveries `created` (delivery id, event id, destination
    id)."""
    return [
        decisions.born(
            NewDelivery(
                id=delivery_id,
                workspace_id=workspace_id,
                event_id=event_id,
                destination_id=destination_id,
            ),
            now=now,
        )
        for delivery_id, event_id, destination_id in created
    ]


def stored_events(
    workspace_id: int,
    unique: Mapping[tuple[str, str], Prepared],
    new_ids: Mapping[tuple[str, str], int],
    created: Sequence[tuple[int, int, int]],
    rows: Sequence[tuple[int, int, dt.datetime]],
    chosen: Mapping[int, Destination],
    *,
    now: dt.datetime,
) -> dict[int, Event]:
    """The new events as stored, by id, with the deliveries `created` (delivery id, event id,
    destination id) from `rows` (event id, destination id, deadline).

    The answer is built from what was written, not read back: the rows are new, so what
    the transaction wrote is what it stored.
    """
    deliveries: dict[int, list[Delivery]] = {}
    deadlines = {(e, d): deadline for e, d, deadline in rows}
    for delivery_id, event_id, destination_id in created:
        deliveries.setdefault(event_id, []).append(
            Delivery(
                id=delivery_id,
                event_id=event_id,
                destination_id=destination_id,
                destination_name=chosen[destination_id].name,
                destination_kind=chosen[destination_id].kind,
                status=Status.PENDING,
                failure_reason="",
                attempt_count=0,
                next_attempt_at=now,
                deadline=deadlines[(event_id, destination_id)],
                last_error="",
                created_at=now,
                updated_at=now,
            )
        )
    return {
        event_id: Event(
            id=event_id,
            workspace_id=workspace_id,
            event_name=unique[key].new.event_name,
            event_id=unique[key].new.event_id,
            event_time=unique[key].new.event_time,
            payload=unique[key].new.payload,
            received_at=now,
            deliveries=tuple(
                sorted(deliveries.get(event_id, ()), key=lambda d: d.destination_name)
            ),
        )
        for key, event_id in new_ids.items()
    }


def _trace_contexts(
    calls: Sequence[CheckedCall],
    checked: Sequence[list[Prepared] | Exception],
    unique: Mapping[tuple[str, str], Prepared],
) -> str | list[str]:
    """The trace contexts to store with the `unique` events: one for a single call (or none,
    traces off), else the context of the call that sent each event first."""
    if len(calls) == 1:
        return calls[0].trace_context
    if not any(call.trace_context for call in calls):
        return ""
    first: dict[tuple[str, str], str] = {}
    for call, items in zip(calls, checked, strict=True):
        if isinstance(items, list):
            for item in items:
                first.setdefault(_key(item), call.trace_context)
    return [first[key] for key in unique]


def _key(item: Prepared) -> tuple[str, str]:
    return (item.new.event_name, item.new.event_id)
