"""Reading the log of status changes for one workspace, as status streams need it.

The log is appended in commit order (see `jobs.store.status_changes`), so a reader
that remembers the last sequence it handled resumes with no gap and no repeat.
Streams page through it at their own pace: a slow reader never holds anything
back but itself.

Retention may delete changes a slow stream has not read yet. Each read sees
retention's mark in the same snapshot as its rows, and a stream whose unread
part was purged ends with OutOfRange then, as a stream resuming from a purged
cursor does at its start: it never skips changes silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from jobs.destinations import resolve_names
from jobs.errors import InvalidArgument, OutOfRange
from jobs.model import ChangeFilter, ChangeView
from jobs.status import Status
from jobs.store import status_changes

__all__ = ["NOTIFY_CHANNEL", "ChangeFilter", "ChangeView", "Position", "StatusFeed"]

NOTIFY_CHANNEL = status_changes.NOTIFY_CHANNEL


@dataclass(frozen=True)
class Position:
    """Where a stream is in the workspace's log."""

    # The last change the stream passed: what it shows and what a client resumes after.
    sequence: int
    # Every change of the workspace up to here has been read; a purge beyond it
    # deleted changes the stream has not read.
    read_through: int


def _purged(through: int) -> OutOfRange:
    return OutOfRange(
        f"changes up to sequence {through} are no longer kept; reload the current"
        " statuses (ListEvents) and watch from now on"
    )


class StatusFeed:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def filter(
        self,
        workspace_id: int,
        *,
        destinations: Sequence[str] = (),
        statuses: Sequence[str] = (),
        event_names: Sequence[str] = (),
        client_event_ids: Sequence[str] = (),
    ) -> ChangeFilter:
        for index, status in enumerate(statuses):
            if status not in Status.__members__:
                raise InvalidArgument.one(f"statuses[{index}]", "not a delivery status")
        ids: list[int] = []
        if destinations:
            async with self._pool.connection() as conn:
                found = await resolve_names(
                    conn,
                    workspace_id=workspace_id,
                    names=destinations,
                    field="destinations",
                    indexed=True,
                )
            ids = [destination.id for destination in found]
        return ChangeFilter(
            destination_ids=ids,
            statuses=list(statuses),
            event_names=list(event_names),
            client_event_ids=list(client_event_ids),
        )

    async def start(self, workspace_id: int, after: int | None) -> Position:
        """Where to start: after `after`, or after the newest change when None."""
        if after is not None and after < 0:
            raise InvalidArgument.one("after_sequence", "must not be negative")
        async with self._pool.connection() as conn:
            if after is None:
                safe = await status_changes.safe_sequence(conn)
                latest = await status_changes.latest_sequence(
                    conn, workspace_id=workspace_id, through=safe
                )
                return Position(latest, safe)
            purged = await status_changes.purged_through(conn)
        if after < purged:
            raise _purged(purged)
        return Position(after, after)

    async def read(
        self, workspace_id: int, position: Position, where: ChangeFilter, limit: int
    ) -> tuple[list[ChangeView], Position]:
        """The next matching changes after `position`, and the position after them.

        Raises OutOfRange when retention deleted changes the stream had not read.
        """
        async with self._pool.connection() as conn:
            page = await status_changes.changes_after(
                conn, workspace_id=workspace_id, after=position.sequence, where=where, limit=limit
            )
        if page.purged_through > position.read_through:
            raise _purged(page.purged_through)
        return page.rows, Position(page.cursor, max(page.read_through, position.read_through))
