"""The Connect protocol's JSON errors, made from the gRPC edge's one table (server/errors.py).

    HTTP/1.1 400 Bad Request
    Content-Type: application/json

    {"code": "invalid_argument", "message": "...",
     "details": [{"type": "google.rpc.BadRequest", "value": "<base64 of the message>",
                  "debug": {"fieldViolations": [{"field": "event.event_id", ...}]}}]}

A call over HTTP fails with the code, message and `google.rpc` details that the same call over
gRPC gets, since both take them from `server.errors.status_for`; each code goes with the HTTP
status the protocol gives it (connectrpc.com/docs/protocol, "Error Codes"). Details carry the
binary message in `value`, as Connect's clients read it, and its JSON in `debug`, for people
and for tools that know no protobuf. What only the protocol refuses (a media type, an HTTP
method, a protocol version) is a `ConnectError`, raised before the call reaches a servicer.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web
from google.protobuf import any_pb2, json_format
from google.rpc import code_pb2, status_pb2

from server.dashboard.errors import RETRY_AFTER_SECONDS
from server.errors import status_for
from server.rate_limit import RateLimited

HTTP_STATUS: Final = {
    code_pb2.CANCELLED: 499,
    code_pb2.UNKNOWN: 500,
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.DEADLINE_EXCEEDED: 504,
    code_pb2.NOT_FOUND: 404,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.PERMISSION_DENIED: 403,
    code_pb2.RESOURCE_EXHAUSTED: 429,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.ABORTED: 409,
    code_pb2.OUT_OF_RANGE: 400,
    code_pb2.UNIMPLEMENTED: 501,
    code_pb2.INTERNAL: 500,
    code_pb2.UNAVAILABLE: 503,
    code_pb2.DATA_LOSS: 500,
    code_pb2.UNAUTHENTICATED: 401,
}
"""The HTTP status of each code, as the protocol maps them."""


@dataclass(eq=False)  # not frozen: raising sets attributes on an exception
class ConnectError(Exception):
    """A refusal by the protocol itself, with a `google.rpc.Code`; `http_status` when the
    protocol asks for another status than the code's (415 for a media type, 405 for a method)."""

    code: int
    message: str
    http_status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


def code_name(code: int) -> str:
    """The protocol's name of a `google.rpc.Code` ("invalid_argument"); it spells one
    differently from gRPC."""
    return "canceled" if code == code_pb2.CANCELLED else code_pb2.Code.Name(code).lower()


def _detail(packed: any_pb2.Any) -> dict[str, Any]:
    shown = json_format.MessageToDict(packed)
    shown.pop("@type", None)
    return {
        "type": packed.TypeName(),
        "value": base64.b64encode(packed.value).decode().rstrip("="),
        "debug": shown,
    }


def error_response(exc: Exception) -> tuple[int, web.Response]:
    """The `google.rpc.Code` and the answer for an error raised by a call: the protocol's, or
    the table's."""
    headers: dict[str, str] = {}
    if isinstance(exc, ConnectError):
        status = status_pb2.Status(code=exc.code, message=exc.message)
        http_status = exc.http_status or HTTP_STATUS[exc.code]
        headers.update(exc.headers)
    else:
        status = status_for(exc)
        http_status = HTTP_STATUS.get(status.code, 500)
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(math.ceil(exc.retry_after))
    elif status.code == code_pb2.UNAVAILABLE:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    body: dict[str, Any] = {"code": code_name(status.code)}
    if status.message:
        body["message"] = status.message
    if status.details:
        body["details"] = [_detail(packed) for packed in status.details]
    return status.code, web.json_response(body, status=http_status, headers=headers)
