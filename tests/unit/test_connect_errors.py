"""Connect's JSON errors from the gRPC edge's table: each code's HTTP status, as the protocol
maps it, for the errors no HTTP test can cause on demand (a database outage, a fault)."""

from __future__ import annotations

import json
import logging

import psycopg
import pytest
from google.rpc import code_pb2

from jobs.errors import AlreadyExists, FailedPrecondition, OutOfRange, TooManyStreams
from server.ingest.connect_errors import HTTP_STATUS, ConnectError, code_name, error_response


def answer(exc: Exception) -> tuple[int, dict[str, object], dict[str, str]]:
    code, response = error_response(exc)
    assert response.text is not None
    body = json.loads(response.text)
    assert body["code"] == code_name(code)
    return response.status, body, dict(response.headers)


def test_every_code_has_the_protocols_status_and_name() -> None:
    assert set(HTTP_STATUS) == set(code_pb2.Code.values()) - {code_pb2.OK}
    assert code_name(code_pb2.CANCELLED) == "canceled"  # Connect's spelling, not gRPC's
    assert code_name(code_pb2.DEADLINE_EXCEEDED) == "deadline_exceeded"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (AlreadyExists("destination 'meta' exists"), 409, "already_exists"),
        (FailedPrecondition("the destination is disabled"), 400, "failed_precondition"),
        (OutOfRange("cursor older than the retention"), 400, "out_of_range"),
        (TooManyStreams("too many streams"), 429, "resource_exhausted"),
    ],
)
def test_domain_errors_keep_their_message(error: Exception, status: int, code: str) -> None:
    got_status, body, _ = answer(error)
    assert (got_status, body) == (status, {"code": code, "message": str(error)})


def test_a_database_outage_is_unavailable_with_a_retry_after() -> None:
    status, body, headers = answer(psycopg.OperationalError("connection refused"))
    assert (status, body["code"]) == (503, "unavailable")
    assert "connection refused" not in str(body)
    assert int(headers["Retry-After"]) > 0


def test_a_fault_is_a_bare_internal_error_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    status, body, _ = answer(RuntimeError("secret detail"))
    assert (status, body) == (500, {"code": "internal", "message": "internal error"})
    [record] = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None


def test_a_protocol_refusal_keeps_its_own_status_and_headers() -> None:
    refusal = ConnectError(code_pb2.UNIMPLEMENTED, "use POST", 405, {"Allow": "POST"})
    status, body, headers = answer(refusal)
    assert (status, body, headers["Allow"]) == (
        405,
        {"code": "unimplemented", "message": "use POST"},
        "POST",
    )
