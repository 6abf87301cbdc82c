"""The domain model: what Tenaz holds (workspaces, destinations, events, their deliveries and
attempts, status changes, operations) and how callers pick among them (filters).

Plain dataclasses (frozen, but for those built by the thousand per batch: deliveries, events,
status changes and attempts' ends) with no behaviour and no imports from the rest of Tenaz,
so every layer can use them: the store reads rows into them, the services take and return
them, and the gRPC edge, the dashboard and the CLI map them, none of them reaching into the
store.
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
    # Only these event names go to it (empty: every event its platform can take).
    event_filter: tuple[str, ...] = ()
    # Tenaz event name -> the platform's, before the platform's defaults.
    event_names: dict[str, str] = field(default_factory=dict)
    # With needs_action: what the operator must do (jobs/platforms/base.ACTIONS).
    needs_action_code: str = ""

    def takes(self, event_name: str) -> bool:
        """Whether the destination's event filter lets `event_name` through."""
        return not self.event_filter or event_name in self.event_filter


@dataclass(frozen=True)
class IgnoredType:
    """A checkout event type a webhook source acknowledged without sending, and how often."""

    event_type: str
    count: int
    last_at: dt.datetime


@dataclass(frozen=True)
class WebhookSource:
    """A checkout (or any JSON sender) that calls Tenaz on each sale, at
    /webhooks/{kind}/{name}."""

    id: int
    workspace_id: int
    # The route in the URL: unique on the server.
    name: str
    # The checkout: hotmart, kiwify, eduzz, generic (jobs/checkouts).
    kind: str
    # Sealed (jobs/secrets.py): the checkout's token or signing key.
    secret: str
    # "events": the checkout's type -> Tenaz's event name ("" to send nothing) over the
    # checkout's defaults; "fields" (generic): Tenaz's field -> where it is in the JSON.
    options: dict[str, Any]
    # Where its events go, by name; empty: every destination that takes them.
    destinations: tuple[str, ...]
    created_at: dt.datetime
    updated_at: dt.datetime
    ignored: tuple[IgnoredType, ...] = ()


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


# Not frozen: a submission answers with one per delivery it created, and a frozen dataclass
# costs three times as much to build. Nothing changes one after it is built.
@dataclass(slots=True)
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
    # The destination's platform (its kind).
    destination_kind: str = ""


# Not frozen, as Delivery.
@dataclass(slots=True)
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
class DeliveryFilter:
    """Which deliveries a listing, a search or an operation is about (an event matches when
    one of its deliveries does). Empty fields match everything.

    The one filter of deliveries: ListEvents, the dashboard's list and search, and bulk
    retries and cancels all say what they want with it.
    """

    statuses: Sequence[str] = ()
    # The destination, by id: callers name it, and the service resolves the name.
    destination_id: int | None = None
    event_name: str = ""
    # When the event was received (its deliveries were created in the same transaction).
    after: dt.datetime | None = None
    before: dt.datetime | None = None
    # The callers' own event ids.
    event_ids: Sequence[str] = ()
    # One exact value that may be either the client's event_id or its order_id
    # (the dashboard's search box, where operators paste whichever they have).
    event_or_order_id: str = ""

    def to_json(self) -> dict[str, Any]:
        """The filter as an operation keeps it, to resume a bulk retry or cancel."""
        return {
            "statuses": list(self.statuses),
            "destination_id": self.destination_id,
            "event_name": self.event_name,
            "after": self.after.isoformat() if self.after else None,
            "before": self.before.isoformat() if self.before else None,
            "event_ids": list(self.event_ids),
            "event_or_order_id": self.event_or_order_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeliveryFilter:
        def when(value: str | None) -> dt.datetime | None:
            return dt.datetime.fromisoformat(value) if value else None

        return cls(
            statuses=tuple(data.get("statuses") or ()),
            destination_id=data.get("destination_id"),
            event_name=data.get("event_name") or "",
            # Operations started before the filters were one kept created_after/_before.
            after=when(data.get("after") or data.get("created_after")),
            before=when(data.get("before") or data.get("created_before")),
            event_ids=tuple(data.get("event_ids") or ()),
            event_or_order_id=data.get("event_or_order_id") or "",
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
