"""The Conversions API endpoint: Meta's `events` edge of the Graph API, served by Tenaz.

    POST /{api-version}/{pixel-id}/events

A service that sends its conversions to Meta with Meta's own SDK points the SDK's Graph URL
at this server and gives a Tenaz API key as the access token; nothing else changes. The
request is read as Graph reads it (jobs/platforms/graph_request.py): a form or JSON body,
`data` an array of server events, `access_token` in the body or the query (or an
`Authorization: Bearer` header), `test_event_code`. The pixel id names a Meta destination of
the key's workspace. The events are stored through the same submission path as
SubmitEvents, all or none, and go to that destination and, unless they are test events, to
the workspace's other destinations that take them. The answer is Graph's:
`{"events_received", "messages", "fbtrace_id"}`, or Graph's error object
(`server.ingest.graph_errors`).

It runs on its own port, in the gRPC server's loop, with the dashboard's stack (aiohttp),
the gRPC server's TLS pair and its per-key submission limit. Its checks run cheapest first,
as the gRPC edge's do: the body's size and shape, then the key (cached for seconds), the
pixel, the events' own fields, the key's limit, and only then the database write.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any, Final

from aiohttp import web

from jobs import keys
from jobs.model import Caller, Destination
from jobs.platforms.graph_request import (
    MAX_EVENTS_PER_REQUEST,
    GraphRequestError,
    request_events,
    request_parameters,
)
from jobs.runtime import Runtime
from jobs.scopes import SUBMIT, require_scope
from jobs.submission import check_batch_size
from server.auth import KeyCache
from server.http_site import Site, start_site
from server.ingest import connect, graph_errors, webhooks
from server.ingest.meta_events import event_inputs
from server.rate_limit import SubmissionLimiter
from server.tls import ingest_ssl_context

log = logging.getLogger(__name__)

# Meta documents no byte limit, only 1,000 events a request; this is the gRPC server's
# limit for the same 1,000 events (server/app.py), far above what they need.
MAX_BODY_BYTES: Final = 16 * 1024 * 1024
STOP_GRACE: Final = 5.0  # seconds requests in flight get to finish at stop
_EVENTS_PATH: Final = re.compile(r"/(v\d{1,3}\.\d{1,3})/([^/]{1,64})/events/?", re.ASCII)
_PIXEL_ID: Final = re.compile(r"\d{1,32}", re.ASCII)


class IngestServer:
    """A started endpoint bound to `port`; `stop()` lets requests in flight finish, then
    closes the port."""

    def __init__(self, site: Site) -> None:
        self._runner = site.runner
        self.port = site.port
        # The base URL to give Meta's SDKs as their Graph URL (without the trailing "/").
        self.url = site.url.rstrip("/")

    async def stop(self) -> None:
        await self._runner.cleanup()
        log.info("ingest.stopped", extra={"port": self.port})


def _token(request: web.Request, params: dict[str, Any]) -> str:
    """The access token, from the parameters (body, then query) or a Bearer header."""
    given = params.get("access_token")
    if isinstance(given, str) and given.strip():
        return given.strip()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    raise graph_errors.missing_token()


class _Endpoint:
    def __init__(self, runtime: Runtime, limiter: SubmissionLimiter) -> None:
        self._runtime = runtime
        self._limiter = limiter
        self._metrics = runtime.metrics

        async def check_key(secret: str) -> Caller:
            return await keys.authenticate(runtime.pool, secret)

        self._keys = KeyCache(check_key)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        trace = graph_errors.trace_id()
        started = time.monotonic()
        outcome: dict[str, Any] = {}
        route = _EVENTS_PATH.fullmatch(request.path)
        try:
            response = await self._answer(request, route, trace, outcome)
        except Exception as exc:
            error = graph_errors.graph_error(exc)
            outcome.update(status=error.status, code=error.code)
            response = error.response(trace)
            grpc_code = error.grpc_code
        else:
            outcome["status"] = response.status
            grpc_code = "OK"
        # A POST to the `events` edge submits; any other path or method of this catch-all is
        # not a submission. Its events count once `data` is read (after the key and pixel).
        if route is not None and request.method == "POST":
            self._metrics.submitted(
                "conversions_api", "events", grpc_code, outcome.get("events", 0)
            )
        # One line per request; never the token, the body or the query (it may hold the token).
        log.info(
            "ingest.request",
            extra={
                **outcome,
                "fbtrace_id": trace,
                "latency_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return response

    async def _answer(
        self,
        request: web.Request,
        route: re.Match[str] | None,
        trace: str,
        outcome: dict[str, Any],
    ) -> web.StreamResponse:
        if route is None:
            raise graph_errors.unknown_path()
        pixel_id = route.group(2)
        if request.method != "POST":
            raise graph_errors.unknown_object(pixel_id, request.method.lower())
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise graph_errors.too_large(MAX_BODY_BYTES) from None
        try:
            params = request_parameters(
                dict(request.query), request.headers.get("Content-Type", ""), body
            )
        except GraphRequestError as exc:
            raise graph_errors.invalid_request(exc.message) from None
        token = _token(request, params)
        caller = await self._keys.caller_for(token)
        require_scope(caller, SUBMIT, "sending events")
        outcome["workspace"] = caller.workspace.id
        destination = await self._destination(caller.workspace.id, pixel_id)
        outcome["destination"] = destination.name
        try:
            events = request_events(params.get("data"), max_events=MAX_EVENTS_PER_REQUEST)
        except GraphRequestError as exc:
            raise graph_errors.invalid_request(exc.message) from None
        outcome["events"] = len(events)
        test_event_code = params.get("test_event_code") or ""
        if not isinstance(test_event_code, str):
            raise graph_errors.invalid_request("(#100) param test_event_code must be a string.")
        check_batch_size(len(events))
        submissions = self._runtime.submissions
        call = await submissions.check_in_turns(
            event_inputs(events, destination=destination.name, test_event_code=test_event_code)
        )
        # The key's limit, shared with the gRPC edge (server/auth.py names keys the same way).
        self._limiter.take(keys.hash_key(token).hex()[:16], len(events))
        results = await submissions.submit_checked(caller.workspace.id, call)
        outcome.update(
            duplicates=sum(r.duplicate for r in results),
            test=bool(test_event_code),
        )
        return web.json_response(
            {"events_received": len(results), "messages": [], "fbtrace_id": trace},
            headers={"x-fb-trace-id": trace},
        )

    async def _destination(self, workspace_id: int, pixel_id: str) -> Destination:
        """The workspace's Meta destination of `pixel_id` (an enabled one first)."""
        if _PIXEL_ID.fullmatch(pixel_id):
            found = [
                d
                for d in await self._runtime.destinations.list_all(workspace_id)
                if d.kind == "meta" and str(d.settings.get("pixel_id", "")) == pixel_id
            ]
            found.sort(key=lambda d: (not d.enabled, d.name))
            if found:
                return found[0]
        raise graph_errors.unknown_object(pixel_id)


def build_application(runtime: Runtime, limiter: SubmissionLimiter) -> web.Application:
    """Paths of Tenaz's own services go to EventService in the Connect protocol, /webhooks/
    to the checkout webhooks, every other to the endpoint, which answers Graph's way for
    paths it does not serve."""
    endpoint = _Endpoint(runtime, limiter)
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    connect.add_routes(app.router, runtime, limiter)  # EventService over plain HTTP
    webhooks.add_routes(app, runtime, limiter)
    app.router.add_route("*", "/{path:.*}", endpoint.handle)
    return app


async def start_ingest(runtime: Runtime, limiter: SubmissionLimiter, address: str) -> IngestServer:
    """Serve the endpoint on `address` ("host:port"; port 0 picks a free one)."""
    app = build_application(runtime, limiter)
    site = await start_site(
        app, address, ingest_ssl_context(runtime.settings), shutdown_timeout=STOP_GRACE
    )
    log.info("ingest.started", extra={"address": address, "port": site.port})
    return IngestServer(site)
