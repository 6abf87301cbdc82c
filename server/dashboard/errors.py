"""The one table from domain errors to HTTP statuses, and the JSON body every API error has.

    {"error": {"code": "invalid_argument", "message": "...",
               "violations": [{"field": "status", "description": "..."}]}}

The dashboard's equivalent of `server/errors.py`: handlers raise domain
errors and never build error responses themselves. A database outage is 503
with `Retry-After` (nothing was written: every write is one transaction); an
unexpected error is a bare 500 whose traceback stays in the server log.
"""

from __future__ import annotations

import logging

import psycopg
import psycopg_pool
from aiohttp import web

from jobs.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    TooManyStreams,
    Unauthenticated,
)

log = logging.getLogger(__name__)

_STATUSES: tuple[tuple[type[Exception], int, str], ...] = (
    (InvalidArgument, 400, "invalid_argument"),
    (Unauthenticated, 401, "unauthenticated"),
    (PermissionDenied, 403, "permission_denied"),
    (NotFound, 404, "not_found"),
    (AlreadyExists, 409, "already_exists"),
    (FailedPrecondition, 409, "failed_precondition"),
    # A stream cursor older than what is kept: the page reloads and watches from now.
    (OutOfRange, 410, "out_of_range"),
    (TooManyStreams, 429, "too_many_streams"),
)

UNAVAILABLE = (psycopg.OperationalError, psycopg_pool.PoolTimeout)
RETRY_AFTER_SECONDS = 5


def error_response(status: int, code: str, message: str, **extra: object) -> web.Response:
    body: dict[str, object] = {"code": code, "message": message, **extra}
    return web.json_response({"error": body}, status=status)


def error_body(exc: Exception) -> tuple[int, dict[str, object]] | None:
    """The HTTP status and the body's `error` for a domain error; None for any other."""
    for kind, status, code in _STATUSES:
        if isinstance(exc, kind):
            body: dict[str, object] = {"code": code, "message": str(exc)}
            if isinstance(exc, InvalidArgument):
                body["violations"] = [
                    {"field": v.field, "description": v.description} for v in exc.violations
                ]
            return status, body
    return None


def to_response(exc: Exception) -> web.Response:
    """The response for an error raised by a handler; logs what the caller cannot see."""
    known = error_body(exc)
    if known is not None:
        status, body = known
        return web.json_response({"error": body}, status=status)
    if isinstance(exc, UNAVAILABLE):
        log.warning("dashboard.unavailable", extra={"error": type(exc).__name__})
        response = error_response(
            503, "unavailable", "the database is unavailable; nothing was changed, retry later"
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    log.exception("dashboard.failed", exc_info=exc, extra={"error": type(exc).__name__})
    return error_response(500, "internal", "internal error")
