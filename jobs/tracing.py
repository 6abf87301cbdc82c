"""Traces: the hooks where Tenaz tells the operator's OpenTelemetry collector what it does.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set. Off,
every hook is `OFF`'s: a method call that does nothing, with no OpenTelemetry module
imported, no span made and nothing written to the database (an event's trace context stays
''). On, `open_tracing` loads jobs/otel.py, which holds everything that touches the SDK.

The spans, when on:

    tenaz.v1.EventService/SubmitEvent(s)   one per call (server); its context is stored
                                           with the call's events, once per call
    delivery.attempt                       one per attempt of a batch, in a trace of its own,
                                           linked to the submissions of the batch's events
      POST                                 one per request to the platform (client)

Spans carry ids, counts, platforms, outcomes and HTTP statuses: never an event's data, a
personal datum, a token, or a URL's path and query (where some platforms put secrets).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

if TYPE_CHECKING:
    import httpx

    from jobs.settings import Settings

__all__ = ["OFF", "AttemptTrace", "SubmissionTrace", "TraceScope", "Tracing", "open_tracing"]


class HasDuplicate(Protocol):
    @property
    def duplicate(self) -> bool: ...


class TraceScope:
    """A span's lifetime as a `with` block; this base does nothing (traces off)."""

    def __enter__(self) -> Self:
        self.opened()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.closed(kind)

    def opened(self) -> None:
        """The block starts."""

    def closed(self, error: type[BaseException] | None) -> None:
        """The block ends; `error` is the class of the exception that ended it, if any."""


class SubmissionTrace(TraceScope):
    """The span of one submission call."""

    # The call's trace context (W3C traceparent), stored with its events; '' for none.
    context = ""

    def record(self, results: Sequence[HasDuplicate]) -> None:
        """What the call stored: how many events, how many of them new."""


class AttemptTrace(TraceScope):
    """The span of one attempt of a batch."""

    def record(self, tally: Mapping[str, int]) -> None:
        """Where the attempt's deliveries went (`succeeded`, `waiting_retry`, ...: how many)."""


_NO_SUBMISSION = SubmissionTrace()
_NO_ATTEMPT = AttemptTrace()


class Tracing:
    """The hooks; this base does nothing (`OFF`), jobs/otel.py's `OtelTracing` makes spans."""

    enabled = False

    def submission(
        self,
        rpc: str,
        workspace_id: int,
        metadata: Callable[[], Iterable[tuple[str, Any]]] | None = None,
    ) -> SubmissionTrace:
        """A span for the submission call `rpc`: a child of the caller's span when the
        call's `metadata` (read only when on) carries a `traceparent`."""
        return _NO_SUBMISSION

    def attempt(
        self, platform: str, destination_id: int, batch: int, contexts: Iterable[str]
    ) -> AttemptTrace:
        """A span for an attempt of `batch` deliveries, linked to `contexts`, their
        submissions' trace contexts (read only when on: pass a generator)."""
        return _NO_ATTEMPT

    def wrap_transport(self, transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        """`transport`, making a span of each request to a platform when on."""
        return transport

    async def flush(self) -> None:
        """Export every span ended so far (tests, and before a stop)."""

    async def aclose(self) -> None:
        """Export what is left and stop the exporter."""


OFF = Tracing()


@contextlib.asynccontextmanager
async def open_tracing(settings: Settings) -> AsyncIterator[Tracing]:
    """`OFF` without a traces endpoint; else spans exported to it until the context ends."""
    if not settings.traces_endpoint:
        yield OFF
        return
    from jobs import otel  # the SDK is imported only when traces are on

    tracing = otel.OtelTracing(settings)
    try:
        yield tracing
    finally:
        await tracing.aclose()
