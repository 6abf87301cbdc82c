"""The status-change row of a transition, checked against the status model.

Every writer of a delivery status (the engine, the sweeper, operator actions)
records the change through `change`, so none can record a move the model forbids.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from jobs.status import Status, as_status, transition
from jobs.store.rows import StatusChange


class DeliveryRef(Protocol):
    """What a status change needs to know about its delivery."""

    @property
    def id(self) -> int: ...
    @property
    def workspace_id(self) -> int: ...
    @property
    def event_id(self) -> int: ...
    @property
    def destination_id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def attempt_count(self) -> int: ...


def change(
    delivery: DeliveryRef,
    to_status: Status,
    *,
    error: str,
    at: dt.datetime,
    from_status: Status | None = None,
    attempt_number: int | None = None,
) -> StatusChange:
    """The row for `delivery` moving to `to_status` (from its current status by default)."""
    current = from_status if from_status is not None else as_status(delivery.status)
    transition(current, to_status)
    return StatusChange(
        workspace_id=delivery.workspace_id,
        delivery_id=delivery.id,
        event_id=delivery.event_id,
        destination_id=delivery.destination_id,
        from_status=current,
        to_status=to_status,
        attempt_number=delivery.attempt_count if attempt_number is None else attempt_number,
        error=error,
        at=at,
    )
