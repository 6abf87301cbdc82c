"""The seam between the delivery engine and one ad platform.

A connector takes a batch of events already in the platform's wire format and
answers with one `Outcome` per event. Everything platform-specific (URL, auth,
error codes, which failures are external) stays behind this seam; the engine
only reads the outcome kind:

    SUCCEEDED         the platform took the event                -> SUCCEEDED
    EXTERNAL_PROBLEM  the platform could not process the request -> WAITING_RETRY
                      (network, timeout, 5xx, throttling, credentials;
                      `needs_action` flags the destination for the operator)
    REJECTED          the platform refused this event's data     -> FAILED
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class OutcomeKind(enum.StrEnum):
    SUCCEEDED = "succeeded"
    EXTERNAL_PROBLEM = "external_problem"
    REJECTED = "rejected"


@dataclass(frozen=True)
class OutgoingEvent:
    """One delivery's event, as the platform's wire format wants it."""

    delivery_id: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What the platform said about one event of a request."""

    delivery_id: int
    kind: OutcomeKind
    http_status: int | None = None
    platform_code: int | None = None
    platform_subcode: int | None = None
    message: str = ""
    response_excerpt: str = ""
    # The platform refused the destination's credentials or permissions: the
    # event is fine, the operator must fix the destination.
    needs_action: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Connector(Protocol):
    """Sends batches to one destination of one platform."""

    @property
    def max_batch_size(self) -> int:
        """The most events one request may carry."""
        ...

    async def send(self, batch: Sequence[OutgoingEvent]) -> list[Outcome]:
        """Deliver `batch`; one outcome per event, in the batch's order.

        Never raises for platform or network failures: those are outcomes.
        """
        ...
