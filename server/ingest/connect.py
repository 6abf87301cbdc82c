"""EventService over plain HTTP: the Connect protocol's unary calls, in JSON.

    POST /tenaz.v1.EventService/SubmitEvent
    Content-Type: application/json
    Authorization: Bearer <api key>

    {"event": {"eventId": "pedido-1001", "eventName": "Purchase", ...}}

For the tools that cannot speak gRPC (n8n, Make, a browser, curl). The body is the request
message in protobuf's JSON mapping (field names as in the .proto or in lowerCamelCase), the
answer the response message in the same mapping; `Content-Type: application/proto` sends and
gets binary protobuf instead, as Connect's generated clients may. Errors are Connect's JSON
error (server/ingest/connect_errors.py).

A call goes through what the same call goes through over gRPC, in the same order: the body
must decode, then the key must be live and its scope cover the method (`server.auth`), then
the servicer checks the request, spends the key's submission limit (the one the gRPC server
and the Conversions API endpoint share) and does the work (`EventCalls`). Nothing here looks
inside a request.

Served: every unary method of EventService. Not served: WatchStatus, a stream (gRPC and the
dashboard's event stream carry it); GET (no method is marked free of side effects in the
.proto); compressed bodies; `Connect-Timeout-Ms` (a call runs to its end, as one without the
header does). `Connect-Protocol-Version` may be left out, as curl users will, but when sent
it must be 1.

Why not the connect-python package: it is an ASGI application with stubs and servicer
signatures of its own, while this port already runs aiohttp and the servicers are gRPC's;
the unary part of the protocol is a path, two media types and an error shape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Final, cast

from aiohttp import web
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import DecodeError, Message
from google.rpc import code_pb2
from tenaz.v1 import events_pb2

from jobs.errors import InvalidArgument, Unauthenticated
from jobs.runtime import Runtime
from server.auth import SUBMITS, KeyCache, bearer_key, current_workspace, enter_call
from server.events_servicer import Context, EventCalls
from server.ingest.connect_errors import ConnectError, code_name, error_response
from server.rate_limit import SubmissionLimiter

log = logging.getLogger(__name__)

SERVICE: Final = events_pb2.DESCRIPTOR.services_by_name["EventService"]
JSON: Final = "application/json"
PROTO: Final = "application/proto"
# Any service of Tenaz's package, so that a call to one not served here is told so in
# Connect's words rather than in the Conversions API's.
ROUTE: Final = r"/{service:tenaz\.v1\.[A-Za-z]{1,64}}/{method}"


class _CallMetadata:
    """What a servicer reads of a gRPC call's context, taken from the HTTP request: its
    metadata (the headers, with gRPC's lower-case names), for the caller's trace context."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._metadata = tuple((name.lower(), value) for name, value in headers.items())

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata


class ConnectEndpoint:
    def __init__(self, runtime: Runtime, limiter: SubmissionLimiter) -> None:
        self._calls = EventCalls(runtime, limiter)
        self._keys = KeyCache.of(runtime.pool)
        self._metrics = runtime.metrics

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        service, method = request.match_info["service"], request.match_info["method"]
        outcome: dict[str, Any] = {"procedure": f"{service}/{method[:64]}"}
        code: int = code_pb2.OK
        try:
            response = await self._answer(request, service, method, outcome)
        except Exception as exc:
            code, response = error_response(exc)
            outcome["code"] = code_name(code)
        # Counted here, as the gRPC interceptor counts its calls (these do not pass it): every
        # answer, protocol refusals included; a body that did not decode carries no events.
        if f"/{service}/{method}" in SUBMITS:
            self._metrics.submitted(
                "connect", method, code_pb2.Code.Name(code), outcome.get("events", 0)
            )
        # One line per call; never a header (the key) or the body (personal data).
        log.info(
            "connect.request",
            extra={
                **outcome,
                "status": response.status,
                "latency_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return response

    async def _answer(
        self, request: web.Request, service: str, name: str, outcome: dict[str, Any]
    ) -> web.Response:
        method = _method(service, name)
        if request.method != "POST":
            raise ConnectError(
                code_pb2.UNIMPLEMENTED,
                f"{name} is called with POST",
                http_status=405,
                headers={"Allow": "POST"},
            )
        version = request.headers.get("Connect-Protocol-Version")
        if version is not None and version.strip() != "1":
            raise ConnectError(
                code_pb2.INVALID_ARGUMENT,
                f"Connect-Protocol-Version {version.strip()[:20]!r} is not supported: send 1",
            )
        codec = request.content_type
        if codec not in (JSON, PROTO):
            raise ConnectError(
                code_pb2.INVALID_ARGUMENT,
                f"the body must be {JSON} (or {PROTO}), not {codec[:80]!r}",
                http_status=415,
                headers={"Accept-Post": f"{JSON}, {PROTO}"},
            )
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise ConnectError(
                code_pb2.UNIMPLEMENTED,
                f"Content-Encoding {encoding[:20]!r} is not supported; supported: identity",
            )
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise ConnectError(
                code_pb2.RESOURCE_EXHAUSTED,
                "the body is larger than Tenaz takes (16 MiB, as over gRPC)",
            ) from None
        message = _decode(method, codec, body)
        path = f"/{SERVICE.full_name}/{method.name}"
        events_in = SUBMITS.get(path)
        if events_in is not None:
            outcome["events"] = events_in(message)
        secret = bearer_key(request.headers.get("Authorization"))
        if secret is None:
            raise Unauthenticated("missing API key: send the header 'Authorization: Bearer <key>'")
        await enter_call(self._keys, path, secret)
        outcome["workspace"] = current_workspace().id
        behaviour = getattr(self._calls, method.name)
        reply: Message = await behaviour(message, cast(Context, _CallMetadata(request.headers)))
        if codec == PROTO:
            return web.Response(body=reply.SerializeToString(), content_type=PROTO)
        return web.Response(text=json_format.MessageToJson(reply, indent=None), content_type=JSON)


def _method(service: str, name: str) -> MethodDescriptor:
    """EventService's unary method `name`; ConnectError for any other."""
    if service != SERVICE.full_name:
        raise ConnectError(
            code_pb2.UNIMPLEMENTED,
            f"{service} is not served over HTTP; {SERVICE.full_name} is (and every service"
            " over gRPC)",
            http_status=404,
        )
    method = SERVICE.methods_by_name.get(name)
    if method is None:
        raise ConnectError(
            code_pb2.UNIMPLEMENTED, f"{SERVICE.full_name} has no method {name[:64]!r}", 404
        )
    if method.server_streaming or method.client_streaming:
        raise ConnectError(
            code_pb2.UNIMPLEMENTED,
            f"{name} is a stream, served over gRPC only (and as the dashboard's event stream)",
        )
    return method


def _decode(method: MethodDescriptor, codec: str, body: bytes) -> Any:
    """The request message of `method` in `body`; InvalidArgument, as over gRPC, when it is
    not one."""
    message = message_factory.GetMessageClass(method.input_type)()
    try:
        if codec == PROTO:
            message.ParseFromString(body)
        elif body.strip():
            json_format.Parse(body, message)
    except (json_format.ParseError, DecodeError, ValueError, RecursionError) as exc:
        raise InvalidArgument.one(
            "request", f"not a valid {method.input_type.full_name} message ({codec}): {exc}"
        ) from None
    return message


def add_routes(router: web.UrlDispatcher, runtime: Runtime, limiter: SubmissionLimiter) -> None:
    """Serve EventService's unary calls at `/tenaz.v1.EventService/{method}`."""
    router.add_route("*", ROUTE, ConnectEndpoint(runtime, limiter).handle)
