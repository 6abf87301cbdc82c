"""Reading the log of status changes for one workspace, as status streams need it.

The log is appended in commit order (see `store.status_changes`), so a reader
that remembers the last sequence it handled resumes with no gap and no repeat.
Streams page through it at their own pace: a slow reader never holds anything
back but itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg_pool import AsyncConnectionPool

from jobs.errors import InvalidArgument, OutOfRange
from jobs.status import Status
from jobs.store import destinations as destination_store
from jobs.store import status_changes as store
from jobs.store.status_changes import ChangeFilter, ChangeView

__all__ = ["ChangeFilter", "ChangeView", "StatusFeed"]


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
                found = await destination_store.destinations_by_names(
                    conn, workspace_id=workspace_id, names=destinations
                )
            for index, name in enumerate(destinations):
                if name not in found:
                    raise InvalidArgument.one(
                        f"destinations[{index}]", f"no destination named {name!r}"
                    )
                ids.append(found[name].id)
        return ChangeFilter(
            destination_ids=ids,
            statuses=list(statuses),
            event_names=list(event_names),
            client_event_ids=list(client_event_ids),
        )

    async def start(self, workspace_id: int, after: int | None) -> int:
        """The cursor to start from: `after`, or the newest change when None."""
        if after is not None and after < 0:
            raise InvalidArgument.one("after_sequence", "must not be negative")
        async with self._pool.connection() as conn:
            if after is None:
                return await store.latest_sequence(conn, workspace_id=workspace_id)
            purged = await store.purged_through(conn)
        if after < purged:
            raise OutOfRange(
                f"changes up to sequence {purged} are no longer kept; reload the current"
                " statuses (ListEvents) and watch from now on"
            )
        return after

    async def read(
        self, workspace_id: int, after: int, where: ChangeFilter, limit: int
    ) -> tuple[list[ChangeView], int]:
        async with self._pool.connection() as conn:
            return await store.changes_after(
                conn, workspace_id=workspace_id, after=after, where=where, limit=limit
            )
