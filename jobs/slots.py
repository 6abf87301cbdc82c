"""How many delivery jobs one worker runs at once for each destination, workspace and
endpoint.

A worker runs up to TENAZ_WORKER_CONCURRENCY jobs. A job for a slow platform holds its slot
for as long as the platform takes (up to the attempt's time budget), so without caps one slow
platform could hold every slot and starve everyone else. So a worker runs at most:

- TENAZ_DESTINATION_CONCURRENCY jobs of one destination;
- half its jobs (and at least that many) for one workspace, so that a tenant with many
  destinations cannot take every slot either;
- half its jobs for one endpoint (scheme, host and port), so that many destinations behind
  one slow proxy cannot either.

A job turned away by its destination's cap leaves a note, so that a job still running for
that destination looks for due deliveries once more before it ends. A job turned away by a
shared cap has no such job to count on: the engine queues another for a moment later.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass
from typing import TypeVar

Key = TypeVar("Key")


@dataclass(frozen=True)
class SlotKeys:
    """What a delivery job counts against."""

    destination: int
    workspace: int
    endpoint: str


class TurnedAway(enum.Enum):
    NO = "no"
    BY_DESTINATION = "destination"
    BY_SHARED = "shared"


class Slots:
    def __init__(self, *, per_destination: int, per_shared: int) -> None:
        self._per_destination = per_destination
        self._per_shared = max(per_shared, per_destination)
        self._destinations: Counter[int] = Counter()
        self._workspaces: Counter[int] = Counter()
        self._endpoints: Counter[str] = Counter()
        self._noted: set[int] = set()

    def enter(self, keys: SlotKeys) -> TurnedAway:
        """Take a slot for a job with these keys, or say which cap turned it away."""
        if self._destinations[keys.destination] >= self._per_destination:
            self._noted.add(keys.destination)
            return TurnedAway.BY_DESTINATION
        if (
            self._workspaces[keys.workspace] >= self._per_shared
            or self._endpoints[keys.endpoint] >= self._per_shared
        ):
            return TurnedAway.BY_SHARED
        self._destinations[keys.destination] += 1
        self._workspaces[keys.workspace] += 1
        self._endpoints[keys.endpoint] += 1
        return TurnedAway.NO

    def leave(self, keys: SlotKeys) -> None:
        _release(self._destinations, keys.destination)
        _release(self._workspaces, keys.workspace)
        _release(self._endpoints, keys.endpoint)

    def take_turned_away(self, destination_id: int) -> bool:
        """Whether a job of the destination was turned away by its cap since the last call."""
        if destination_id in self._noted:
            self._noted.discard(destination_id)
            return True
        return False


def _release(counter: Counter[Key], key: Key) -> None:
    counter[key] -= 1
    if not counter[key]:
        del counter[key]
