"""Checkout webhooks on the ingest server: a checkout calls Tenaz on each sale.

    POST /webhooks/{kind}/{route}      kind: hotmart, kiwify, eduzz, generic

`route` names a webhook source (jobs/webhook_sources.py), which holds the checkout's token or
signing key, its event names and its destinations. The request is verified against that
secret before anything is read or stored; then the sale goes through the submission path.
Answers are JSON:

    200  {"status": "accepted" | "duplicate" | "ignored", "event_type", ...}
    400  the body is not what the checkout sends (the message says what is wrong)
    401  the token or signature does not match the source's secret: nothing stored
    404  no source of that checkout at that route
    422  the sale is readable but Tenaz cannot take it (its field violations are listed)
    429  over the source's share of the submission limit (`Retry-After`)
    503  the database is unreachable (`Retry-After`): the checkout's retry will do

An event type the source does not send (a refund, a type Tenaz does not know) is answered 200
and counted, so the checkout does not retry it for days.

Each call to a checkout Tenaz knows is counted in the metrics (`webhook` edge, the checkout's
kind as method) with the gRPC code the same refusal gets over gRPC, and one event; a call
acknowledged for a type the source does not send is `OK` with no event, as nothing was
submitted.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Final

import psycopg
import psycopg_pool
from aiohttp import web

from jobs.checkouts import CHECKOUTS, BadPayload, SignedRequest
from jobs.errors import FailedPrecondition, InvalidArgument
from jobs.runtime import Runtime
from jobs.webhook_sources import Received, Unauthorized, UnknownRoute
from server.errors import code_name
from server.rate_limit import RateLimited, SubmissionLimiter

log = logging.getLogger(__name__)

PATH: Final = "/webhooks/{kind}/{route}"
_RETRY_AFTER_UNAVAILABLE: Final = "30"


def _error(status: int, message: str, **more: Any) -> web.Response:
    return web.json_response({"error": message, **more}, status=status)


class _Webhooks:
    def __init__(self, runtime: Runtime, limiter: SubmissionLimiter) -> None:
        self._runtime = runtime
        self._limiter = limiter
        self._metrics = runtime.metrics

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        kind, route = request.match_info["kind"], request.match_info["route"]
        outcome: dict[str, Any] = {"kind": kind, "route": route}
        signed = SignedRequest(
            headers={k.lower(): v for k, v in request.headers.items()},
            query=dict(request.query),
            body=await request.read(),
            now=self._runtime.clock.now(),
        )
        try:
            received = await self._receive(signed, kind, route, outcome)
        except Exception as exc:
            refusal = _refusal(exc, kind)
            self._count(kind, refusal[0] if refusal else code_name(exc), events=1)
            if refusal is None:
                raise
            response = refusal[1]
        else:
            self._count(kind, "OK", events=1 if received.sent else 0)
            response = _answer(received, outcome)
        # One line per call; never the body, the query (Kiwify's signature) or a header.
        log.info(
            "ingest.webhook",
            extra={
                **outcome,
                "status": response.status,
                "latency_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return response

    def _count(self, kind: str, code: str, *, events: int) -> None:
        # `kind` is a path segment: only the checkouts Tenaz has are counted, so that the
        # label stays bounded (a call to another is a 404 like any unknown path).
        if kind in CHECKOUTS:
            self._metrics.submitted("webhook", kind, code, events)

    async def _receive(
        self, signed: SignedRequest, kind: str, route: str, outcome: dict[str, Any]
    ) -> Received:
        """The source at `route` verifies the call, the key's limit allows it, and its sale
        is stored; refusals raise (`_refusal` answers them)."""
        sources = self._runtime.webhook_sources
        source = await sources.find(kind, route)
        outcome["workspace"] = source.workspace_id
        sources.verify(source, signed)
        self._limiter.take(f"webhook-source:{source.id}", 1)
        return await sources.receive(source, signed)


def _answer(received: Received, outcome: dict[str, Any]) -> web.Response:
    status = "ignored" if not received.sent else ("duplicate" if received.duplicate else "accepted")
    outcome.update(event_type=received.event_type, outcome=status)
    answer = {"status": status, "event_type": received.event_type}
    if received.sent:
        answer |= {"event_name": received.event_name, "event_id": received.event_id}
    return web.json_response(answer)


def _refusal(exc: Exception, kind: str) -> tuple[str, web.Response] | None:
    """The answer to a refused call, with the name of the gRPC code the same refusal gets
    over gRPC (for the metrics); None for an unexpected error."""
    if isinstance(exc, UnknownRoute):
        return "NOT_FOUND", _error(404, f"no {kind} webhook source at this route")
    if isinstance(exc, Unauthorized):
        return "UNAUTHENTICATED", _error(
            401, "the token or signature does not match the source's secret"
        )
    if isinstance(exc, BadPayload):
        return "INVALID_ARGUMENT", _error(400, str(exc))
    if isinstance(exc, InvalidArgument):
        fields = [{"field": v.field, "description": v.description} for v in exc.violations]
        response = _error(422, "Tenaz cannot take this sale", fields=fields)
    elif isinstance(exc, FailedPrecondition):
        response = _error(422, str(exc))
    elif isinstance(exc, RateLimited):
        response = _error(429, "too many calls; retry later")
        response.headers["Retry-After"] = str(math.ceil(exc.retry_after))
    elif isinstance(exc, psycopg.OperationalError | psycopg_pool.PoolTimeout):
        response = _error(503, "Tenaz is unavailable; retry later")
        response.headers["Retry-After"] = _RETRY_AFTER_UNAVAILABLE
    else:
        return None
    return code_name(exc), response


def add_routes(app: web.Application, runtime: Runtime, limiter: SubmissionLimiter) -> None:
    """Serve the checkout webhooks on `app` (before any catch-all route)."""
    app.router.add_post(PATH, _Webhooks(runtime, limiter).handle)
