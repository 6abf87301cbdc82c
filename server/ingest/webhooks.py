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
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Final

import psycopg
import psycopg_pool
from aiohttp import web

from jobs.checkouts import BadPayload, SignedRequest
from jobs.errors import FailedPrecondition, InvalidArgument
from jobs.runtime import Runtime
from jobs.webhook_sources import Unauthorized, UnknownRoute
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

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        kind, route = request.match_info["kind"], request.match_info["route"]
        outcome: dict[str, Any] = {"kind": kind, "route": route}
        response = await self._answer(request, kind, route, outcome)
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

    async def _answer(
        self, request: web.Request, kind: str, route: str, outcome: dict[str, Any]
    ) -> web.Response:
        signed = SignedRequest(
            headers={k.lower(): v for k, v in request.headers.items()},
            query=dict(request.query),
            body=await request.read(),
            now=self._runtime.clock.now(),
        )
        sources = self._runtime.webhook_sources
        try:
            source = await sources.find(kind, route)
            outcome["workspace"] = source.workspace_id
            sources.verify(source, signed)
            self._limiter.take(f"webhook-source:{source.id}", 1)
            received = await sources.receive(source, signed)
        except UnknownRoute:
            return _error(404, f"no {kind} webhook source at this route")
        except Unauthorized:
            return _error(401, "the token or signature does not match the source's secret")
        except BadPayload as exc:
            return _error(400, str(exc))
        except InvalidArgument as exc:
            fields = [{"field": v.field, "description": v.description} for v in exc.violations]
            return _error(422, "Tenaz cannot take this sale", fields=fields)
        except FailedPrecondition as exc:
            return _error(422, str(exc))
        except RateLimited as exc:
            response = _error(429, "too many calls; retry later")
            response.headers["Retry-After"] = str(math.ceil(exc.retry_after))
            return response
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout):
            response = _error(503, "Tenaz is unavailable; retry later")
            response.headers["Retry-After"] = _RETRY_AFTER_UNAVAILABLE
            return response
        status = (
            "ignored" if not received.sent else ("duplicate" if received.duplicate else "accepted")
        )
        outcome.update(event_type=received.event_type, outcome=status)
        answer = {"status": status, "event_type": received.event_type}
        if received.sent:
            answer |= {"event_name": received.event_name, "event_id": received.event_id}
        return web.json_response(answer)


def add_routes(app: web.Application, runtime: Runtime, limiter: SubmissionLimiter) -> None:
    """Serve the checkout webhooks on `app` (before any catch-all route)."""
    app.router.add_post(PATH, _Webhooks(runtime, limiter).handle)
