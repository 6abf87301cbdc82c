"""The domain model: what Tenaz holds (workspaces, destinations, events, their deliveries and
attempts, status changes, operations) and how callers pick among them (filters).

Plain dataclasses (frozen, but for the status change and the attempt's end, built by the
thousand per batch) with no behaviour and no imports from the rest of Tenaz, so every layer
can use them: the store reads rows into them, the services take and return them, and the
gRPC edge, the dashboard and the CLI map them, none of them reaching into the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Workspace:
    id: int
    name: str


@dataclass(frozen=True)
class Caller:
    """The live API key a call was made with: its id, its workspace and its scope."""

    key_id: int
    workspace: Workspace
    scope: str


@dataclass(frozen=True)
class Destination:
    id: int
    workspace_id: int
    name: str
    kind: str
    enabled: bool
    settings: dict[str, Any]
    secret: str
    retry_interval: dt.timedelta | None
    # Events per second; None: no limit.
    rate_limit: float | None
    needs_action: bool
    needs_action_reason: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class Attempt:
    number: int
    trigger: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: str
    http_status: int | None
    platform_code: int | None
    platform_subcode: int | None
    message: str
    response_excerpt: str


@dataclass(frozen=True)
class Delivery:
    id: int
    event_id: int
    destination_id: int
    destination_name: str
    status: str
    failure_reason: str
    attempt_count: int
    next_attempt_at: dt.datetime | None
    deadline: dt.datetime
    last_error: str
    created_at: dt.datetime
    updated_at: dt.datetime
    attempts: tuple[Attempt, ...] = ()


@dataclass(frozen=True)
class Event:
    id: int
    workspace_id: int
    event_name: str
    event_id: str
    event_time: dt.datetime
    payload: dict[str, Any]
    received_at: dt.datetime
    deliveries: tuple[Delivery, ...] = field(default=())


# Not frozen: built by the thousand on the delivery path, and a frozen dataclass costs three
# times as much to build. Nothing changes one after it is built.
@dataclass(slots=True, kw_only=True)
class StatusChange:
    """One transition of one delivery, as the status stream will serve it."""

    workspace_id: int
    delivery_id: int
    event_id: int
    destination_id: int
    from_status: str | None
    to_status: str
    attempt_number: int
    error: str
    at: dt.datetime


@dataclass(frozen=True)
class EventFilter:
    statuses: Sequence[str] = ()
    destination_id: int | None = None
    event_name: str = ""
    received_after: dt.datetime | None = None
    received_before: dt.datetime | None = None
    event_ids: Sequence[str] = ()
    # One exact value that may be either the client's event_id or its order_id
    # (the dashboard's search box, where operators paste whichever they have).
    event_or_order_id: str = ""


@dataclass(frozen=True)
class OperationRow:
    id: int
    workspace_id: int
    kind: str
    state: str
    filter: dict[str, Any]
    total: int
    processed: int
    changed: int
    skipped: int
    last_delivery_id: int
    error: str
    created_at: dt.datetime
    finished_at: dt.datetime | None


@dataclass(frozen=True)
class DeliveryWhere:
    """A DeliveryFilter with the destination resolved to its id."""

    statuses: Sequence[str] = ()
    destination_id: int | None = None
    event_name: str = ""
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "statuses": list(self.statuses),
            "destination_id": self.destination_id,
            "event_name": self.event_name,
            "created_after": self.created_after.isoformat() if self.created_after else None,
            "created_before": self.created_before.isoformat() if self.created_before else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeliveryWhere:
        def when(value: str | None) -> dt.datetime | None:
            return dt.datetime.fromisoformat(value) if value else None

        return cls(
            statuses=tuple(data.get("statuses") or ()),
            destination_id=data.get("destination_id"),
            event_name=data.get("event_name") or "",
            created_after=when(data.get("created_after")),
            created_before=when(data.get("created_before")),
        )


@dataclass(frozen=True)
class ChangeView:
    """A status change with the names a dashboard shows."""

    seq: int
    event_id: int
    client_event_id: str
    event_name: str
    delivery_id: int
    destination: str
    from_status: str | None
    to_status: str
    at: dt.datetime
    attempt_number: int
    error: str


@dataclass(frozen=True)
class ChangeFilter:
    destination_ids: Sequence[int] = ()
    statuses: Sequence[str] = ()
    event_names: Sequence[str] = ()
    client_event_ids: Sequence[str] = ()


@dataclass(slots=True, kw_only=True)
class AttemptEnd:
    """How attempt `number` of a delivery, started at `started_at`, ended: `outcome`, and what
    the platform said."""

    number: int
    trigger: str
    started_at: dt.datetime
    outcome: str
    http_status: int | None = None
    platform_code: int | None = None
    platform_subcode: int | None = None
    message: str = ""
    response_excerpt: str = ""
