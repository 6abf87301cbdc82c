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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

# What an operator must do about a destination that needs action, by code, in the operator's
# language (pt-BR, English); the dashboard and the CLI show it beside the platform's own words.
ACTIONS: Final[Mapping[str, tuple[str, str]]] = {
    "credentials": (
        "A plataforma recusou as credenciais: renove o token de acesso do destino.",
        "The platform refused the credentials: renew the destination's access token.",
    ),
    "permission": (
        "As credenciais não têm permissão nesta conta: conceda o acesso na plataforma.",
        "The credentials have no permission on this account: grant it on the platform.",
    ),
    "configuration": (
        "A configuração do destino está errada (um id, a URL base ou um ajuste): corrija-a.",
        "The destination's configuration is wrong (an id, the base URL or a setting): fix it.",
    ),
    "egress": (
        "A URL base não é permitida: o operador deve incluí-la em TENAZ_ALLOWED_PLATFORM_URLS.",
        "The base URL is not allowed: the operator must add it to TENAZ_ALLOWED_PLATFORM_URLS.",
    ),
    "secrets": (
        "Os segredos guardados não podem ser lidos com TENAZ_SECRET_KEY: informe-os de novo.",
        "The stored secrets cannot be read with TENAZ_SECRET_KEY: set them again.",
    ),
    "too_large": (
        "Um evento é grande demais para um proxy no caminho: revise o proxy ou o evento.",
        "An event is too large for a proxy on the way: check the proxy or the event.",
    ),
    "platform": (
        "Esta versão do Tenaz não conhece a plataforma do destino: atualize o Tenaz.",
        "This version of Tenaz does not know the destination's platform: upgrade Tenaz.",
    ),
}


class OutcomeKind(enum.StrEnum):
    SUCCEEDED = "succeeded"
    EXTERNAL_PROBLEM = "external_problem"
    REJECTED = "rejected"


# OutgoingEvent and Outcome are not frozen: one of each per event of every attempt, and a
# frozen dataclass costs three times as much to build. Nothing changes one after it is built.
@dataclass(slots=True)
class OutgoingEvent:
    """One delivery's event, as the platform's wire format wants it."""

    delivery_id: int
    payload: dict[str, Any]


@dataclass(slots=True)
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
    # With needs_action: what the operator must do (one of ACTIONS).
    action: str = ""


@dataclass(frozen=True)
class Classification:
    """What a platform's answer (or its silence) means for the events it was about."""

    kind: OutcomeKind
    needs_action: bool = False
    code: int | None = None
    subcode: int | None = None
    message: str = ""
    # The classification rule that decided, for tests and logs.
    rule: str = ""
    # With needs_action: what the operator must do (one of ACTIONS); "" says nothing more
    # than the platform's message.
    action: str = ""

    def outcome(self, delivery_id: int, http_status: int | None, excerpt: str = "") -> Outcome:
        """This classification as one event's outcome (message and excerpt already scrubbed)."""
        return Outcome(
            delivery_id=delivery_id,
            kind=self.kind,
            http_status=http_status,
            platform_code=self.code,
            platform_subcode=self.subcode,
            message=self.message,
            response_excerpt=excerpt,
            needs_action=self.needs_action,
            action=self.action if self.needs_action else "",
        )


class AttemptScope:
    """What one attempt allows its requests, and what it has learnt so far.

    The engine gives each attempt a scope; every request the connector makes for the
    attempt (the first, the halves of a split batch, the halves of a batch too large for a
    proxy) passes `admit` right before it is sent, which counts it against the attempt's
    request bound and hands it to the attempt's `gate`, if any (the engine's, which waits
    for the destination's rate limit and counts the request as it goes). Outcomes are
    `record`ed as each answer comes, so that when the attempt's time budget runs out, what
    the platform already said is kept and only the rest waits for the next attempt.
    """

    def __init__(
        self,
        *,
        max_requests: int,
        gate: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self.max_requests = max_requests
        self.requests = 0
        self.outcomes: dict[int, Outcome] = {}
        # The smallest request that came back HTTP 413 (too large for something on the way).
        self.too_large: int | None = None
        self._gate = gate

    async def admit(self, events: int) -> bool:
        """Wait until a request of `events` events may go; False if the attempt may make no
        more requests."""
        if self.requests >= self.max_requests:
            return False
        self.requests += 1
        if self._gate is not None:
            await self._gate(events)
        return True

    @classmethod
    def for_batch(
        cls, events: int, *, gate: Callable[[int], Awaitable[None]] | None = None
    ) -> AttemptScope:
        """The scope of an attempt at `events` events: the batch's request, then at most one
        per event to split it, so isolating bad events never costs more than sending every
        event alone would (a full bisection of an all-bad batch takes twice that; what it
        has not isolated by then goes again at the next attempt)."""
        return cls(max_requests=events + 1, gate=gate)

    def record(self, outcomes: Sequence[Outcome]) -> None:
        for outcome in outcomes:
            self.outcomes[outcome.delivery_id] = outcome

    def saw_too_large(self, events: int) -> None:
        self.too_large = events if self.too_large is None else min(self.too_large, events)


class Connector(Protocol):
    """Sends batches to one destination of one platform."""

    @property
    def max_batch_size(self) -> int:
        """The most events one request may carry."""
        ...

    @property
    def endpoint(self) -> str:
        """Where requests go (scheme, host and port): the destinations behind one endpoint
        share its worker slots (jobs/slots.py)."""
        ...

    async def send(
        self, batch: Sequence[OutgoingEvent], scope: AttemptScope | None = None
    ) -> list[Outcome]:
        """Deliver `batch`; one outcome per event, in the batch's order.

        Every request goes through `scope.admit`, and every answer into `scope.record`
        (a connector called without a scope gets one with the default bounds). Never
        raises for platform or network failures: those are outcomes.
        """
        ...


class WrappedConnector:
    """A connector that sends through another (the sandbox's demo switches, a test's hooks):
    the same batches to the same endpoint; a subclass changes `send` alone."""

    def __init__(self, inner: Connector) -> None:
        self._inner = inner

    @property
    def max_batch_size(self) -> int:
        return self._inner.max_batch_size

    @property
    def endpoint(self) -> str:
        return self._inner.endpoint
