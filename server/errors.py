"""The one table from domain errors to gRPC status codes, and the only place that aborts.

The table makes `google.rpc.Status` messages; gRPC sends them as its status, and the Connect
protocol over HTTP (server/ingest/connect.py) as its JSON error, so both say the same.

Field violations travel as `google.rpc.BadRequest` in the standard
`grpc-status-details-bin` trailer, which every gRPC language can decode.
Database outages become UNAVAILABLE (retry later), never a half-done write:
every write is one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, NoReturn

import grpc
import psycopg
import psycopg_pool
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from jobs.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    TenazError,
    TooManyStreams,
    Unauthenticated,
)
from server.rate_limit import RateLimited

log = logging.getLogger(__name__)

_CODES: tuple[tuple[type[TenazError], int], ...] = (
    (InvalidArgument, code_pb2.INVALID_ARGUMENT),
    (NotFound, code_pb2.NOT_FOUND),
    (AlreadyExists, code_pb2.ALREADY_EXISTS),
    (FailedPrecondition, code_pb2.FAILED_PRECONDITION),
    (OutOfRange, code_pb2.OUT_OF_RANGE),
    (Unauthenticated, code_pb2.UNAUTHENTICATED),
    (PermissionDenied, code_pb2.PERMISSION_DENIED),
    (TooManyStreams, code_pb2.RESOURCE_EXHAUSTED),
)

_UNAVAILABLE = (psycopg.OperationalError, psycopg_pool.PoolTimeout)
# gRPC clients take trailers up to 8 KiB for sure (the default soft limit; between it and the
# 16 KiB hard limit they refuse a growing share at random): the field violations of a batch of
# 1,000 bad events would not fit, and the caller would get RESOURCE_EXHAUSTED instead of the
# list. They are listed up to 4 KiB, which base64 makes about 5.5 KiB, beside the message.
_DETAILS_BUDGET = 4 * 1024


def _bad_request(violations: list[FieldViolation]) -> error_details_pb2.BadRequest:
    """The violations as `google.rpc.BadRequest`, as many as fit, then a count of the rest."""
    detail = error_details_pb2.BadRequest()
    for index, violation in enumerate(violations):
        entry = error_details_pb2.BadRequest.FieldViolation(
            field=violation.field, description=violation.description
        )
        if detail.ByteSize() + entry.ByteSize() > _DETAILS_BUDGET:
            left = len(violations) - index
            detail.field_violations.add(
                field=violations[index].field,
                description=f"and {left} more violations not listed; fix these and resubmit",
            )
            break
        detail.field_violations.append(entry)
    return detail


def known_status(exc: BaseException) -> status_pb2.Status | None:
    """The `google.rpc.Status` for a known error; None for an unexpected one."""
    for kind, proto_code in _CODES:
        if isinstance(exc, kind):
            status = status_pb2.Status(code=proto_code, message=str(exc))
            if isinstance(exc, InvalidArgument):
                status.details.add().Pack(_bad_request(exc.violations))
            return status
    if isinstance(exc, RateLimited):
        status = status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=str(exc))
        delay = duration_pb2.Duration()
        delay.FromTimedelta(dt.timedelta(seconds=exc.retry_after))
        status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        return status
    if isinstance(exc, psycopg.DataError):
        # The database refused a value the request carried (a NUL character in a
        # text, a number out of range): the caller's input, and nothing was stored.
        return status_pb2.Status(
            code=code_pb2.INVALID_ARGUMENT,
            message="a value in the request cannot be stored (a NUL character in a text,"
            " or a number out of range)",
        )
    if isinstance(exc, _UNAVAILABLE):
        return status_pb2.Status(
            code=code_pb2.UNAVAILABLE,
            message="the database is unavailable; nothing was stored, retry later",
        )
    return None


def code_name(exc: BaseException) -> str:
    """The name of the gRPC code a caller gets for `exc` (INTERNAL for an unexpected one)."""
    status = known_status(exc)
    return str(code_pb2.Code.Name(status.code if status is not None else code_pb2.INTERNAL))


def status_for(exc: BaseException) -> status_pb2.Status:
    """The `google.rpc.Status` a caller gets for `exc`, whatever it is: an unexpected error
    is INTERNAL, its traceback logged. Every edge that speaks in these statuses (gRPC, and
    the Connect protocol over HTTP) answers through here."""
    status = known_status(exc)
    if status is None:
        # The traceback stays in the server log; the caller learns nothing internal.
        log.exception("rpc.failed", exc_info=exc, extra={"error": type(exc).__name__})
        return status_pb2.Status(code=code_pb2.INTERNAL, message="internal error")
    if isinstance(exc, _UNAVAILABLE):
        log.warning("rpc.unavailable", extra={"error": type(exc).__name__})
    return status


async def abort(context: grpc.aio.ServicerContext[Any, Any], exc: BaseException) -> NoReturn:
    await context.abort_with_status(rpc_status.to_status(status_for(exc)))
    raise AssertionError("abort_with_status returned")  # pragma: no cover
