"""The one table from domain errors to Graph API error answers, for the Conversions API endpoint.

The endpoint's equivalent of `server/errors.py`: handlers raise domain errors (or
`GraphError` for what only Graph has words for) and never build error answers themselves.
Every answer is Graph's error object, with the codes Meta's SDKs read
(`FacebookRequestError.api_error_code()`, `api_error_subcode()`, `api_error_type()`, ...):

    GraphError (no key, unknown pixel, a body Graph would not read)   as raised
    Unauthenticated        190 OAuthException, HTTP 400 (as Graph answers a bad token)
    PermissionDenied       200 OAuthException, HTTP 403
    InvalidArgument        100 OAuthException "Invalid parameter", HTTP 400, every field in
                           `error_user_msg` by Meta's paths, and in `error_data.blame_field_specs`
    FailedPrecondition     100, HTTP 400
    RateLimited            4 "Application request limit reached", HTTP 400, transient, Retry-After
    database unavailable   2 "Service temporarily unavailable", HTTP 503, transient
    anything else          1 "An unknown error occurred", HTTP 500 (the traceback is logged)

Each answer also carries the name of the gRPC code the same refusal gets over gRPC
(`server.errors.code_name`), which the metrics count it under, as they count every edge's.
"""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from jobs.errors import FailedPrecondition, InvalidArgument, PermissionDenied, Unauthenticated
from jobs.platforms.graph_request import error_object
from server.dashboard.errors import RETRY_AFTER_SECONDS, UNAVAILABLE
from server.errors import code_name
from server.ingest.meta_events import meta_path
from server.rate_limit import RateLimited

log = logging.getLogger(__name__)

OAUTH = "OAuthException"


@dataclass(eq=False)  # not frozen: raising sets attributes on an exception
class GraphError(Exception):
    """An answer in Graph's error shape."""

    status: int
    code: int
    message: str
    type: str = OAUTH
    subcode: int | None = None
    user_title: str = ""
    user_msg: str = ""
    is_transient: bool = False
    error_data: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    # What the same refusal is over gRPC, for the metrics: a body Graph would not read is a
    # request that does not decode there.
    grpc_code: str = "INVALID_ARGUMENT"

    def response(self, fbtrace_id: str) -> web.Response:
        document = error_object(
            code=self.code,
            message=self.message,
            type=self.type,
            fbtrace_id=fbtrace_id,
            subcode=self.subcode,
            user_title=self.user_title,
            user_msg=self.user_msg,
            is_transient=self.is_transient,
            error_data=self.error_data,
        )
        return web.json_response(
            document,
            status=self.status,
            headers={**self.headers, "x-fb-trace-id": fbtrace_id},
        )


def trace_id() -> str:
    """An id for one request, as Graph's `fbtrace_id`, to find its log line by."""
    return secrets.token_urlsafe(8)


def missing_token() -> GraphError:
    return GraphError(
        400,
        104,
        "An access token is required to request this resource.",
        grpc_code="UNAUTHENTICATED",
    )


def unknown_object(object_id: str, method: str = "post") -> GraphError:
    """Graph's answer to an id the token cannot reach: here, a pixel no Meta destination of
    the key's workspace has."""
    return GraphError(
        400,
        100,
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be"
        " loaded due to missing permissions, or does not support this operation. Please read"
        " the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        type="GraphMethodException",
        subcode=33,
        grpc_code="NOT_FOUND",
    )


def unknown_path() -> GraphError:
    return GraphError(
        400, 2500, "Unknown path components", type="OAuthException", grpc_code="NOT_FOUND"
    )


def invalid_request(message: str) -> GraphError:
    """A body or `data` Graph would not read (`jobs.platforms.graph_request`)."""
    return GraphError(400, 100, message)


def too_large(limit: int) -> GraphError:
    return GraphError(
        413,
        100,
        f"(#100) The request body is larger than {limit} bytes.",
        grpc_code="RESOURCE_EXHAUSTED",  # as gRPC refuses a message over its limit
    )


def _invalid_argument(exc: InvalidArgument) -> GraphError:
    violations = [(meta_path(v.field), v.description) for v in exc.violations]
    shown = "; ".join(f"{path}: {description}" for path, description in violations[:20])
    more = len(violations) - 20
    return GraphError(
        400,
        100,
        "Invalid parameter",
        user_title="Invalid parameter",
        user_msg=shown + (f" (and {more} more)" if more > 0 else ""),
        error_data={"blame_field_specs": [[path] for path, _ in violations]},
    )


def graph_error(exc: Exception) -> GraphError:
    """The Graph answer for `exc`, with the gRPC code the same error gets over gRPC."""
    if isinstance(exc, GraphError):
        return exc
    error = _translated(exc)
    error.grpc_code = code_name(exc)
    return error


def _translated(exc: Exception) -> GraphError:
    if isinstance(exc, Unauthenticated):
        message = "Invalid OAuth access token - Cannot parse access token"
        return GraphError(
            400,
            190,
            message,
            headers={"WWW-Authenticate": f'OAuth "Facebook Platform" "invalid_token" "{message}"'},
        )
    if isinstance(exc, PermissionDenied):
        return GraphError(403, 200, f"(#200) {exc}")
    if isinstance(exc, InvalidArgument):
        return _invalid_argument(exc)
    if isinstance(exc, FailedPrecondition):
        return GraphError(400, 100, f"(#100) {exc}")
    if isinstance(exc, RateLimited):
        return GraphError(
            400,
            4,
            f"(#4) Application request limit reached: {exc}",
            is_transient=True,
            headers={"Retry-After": str(math.ceil(exc.retry_after))},
        )
    if isinstance(exc, UNAVAILABLE):
        return GraphError(
            503,
            2,
            "Service temporarily unavailable",
            is_transient=True,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    log.error("ingest.request.error", exc_info=exc)
    return GraphError(500, 1, "An unknown error occurred", is_transient=True)
