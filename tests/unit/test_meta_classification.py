"""Meta's answers -> outcome kinds: every row of the table, and garbage that must not crash it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.platforms.base import Classification, OutcomeKind
from jobs.platforms.meta import CLASSIFICATION_RULES, classify

SUCCEEDED = OutcomeKind.SUCCEEDED
EXTERNAL = OutcomeKind.EXTERNAL_PROBLEM
REJECTED = OutcomeKind.REJECTED


def graph_error(code: int | None = None, subcode: int | None = None, **extra: Any) -> bytes:
    error: dict[str, Any] = {"message": "Graph says no", "type": "OAuthException", **extra}
    if code is not None:
        error["code"] = code
    if subcode is not None:
        error["error_subcode"] = subcode
    return json.dumps({"error": {**error, "fbtrace_id": "AbC123"}}).encode()


# The rules in table order; unpacking fails loudly if a rule is added or removed.
(
    OK,
    NO_RESPONSE,
    HTTP_5XX,
    TRANSIENT,
    THROTTLED,
    TEMPORARY,
    CREDENTIALS,
    PERMISSION,
    UNREACHABLE_PIXEL,
    INVALID,
    HTTP_408_429,
    NO_ENDPOINT,
    TOO_LARGE,
    REFUSED,
    UNEXPECTED_4XX,
    UNEXPECTED,
) = (rule.name for rule in CLASSIFICATION_RULES)

# (http status, body, kind, needs_action, rule): one or more cases per row of the table.
CASES = [
    pytest.param(200, b'{"events_received":2,"messages":[]}', SUCCEEDED, False, OK, id="200"),
    pytest.param(204, b"", SUCCEEDED, False, OK, id="204-empty"),
    pytest.param(200, b"\x00garbage", SUCCEEDED, False, OK, id="200-garbage"),
    pytest.param(None, b"", EXTERNAL, False, NO_RESPONSE, id="no-response"),
    pytest.param(500, b"Internal Server Error", EXTERNAL, False, HTTP_5XX, id="500-text"),
    pytest.param(503, graph_error(2, is_transient=True), EXTERNAL, False, HTTP_5XX, id="503-graph"),
    pytest.param(502, graph_error(100), EXTERNAL, False, HTTP_5XX, id="502-code-100"),
    pytest.param(400, graph_error(100, is_transient=True), EXTERNAL, False, TRANSIENT, id="t-100"),
    pytest.param(400, graph_error(190, is_transient=True), EXTERNAL, False, TRANSIENT, id="t-190"),
    pytest.param(400, graph_error(4), EXTERNAL, False, THROTTLED, id="throttle-4"),
    pytest.param(400, graph_error(17, 2446079), EXTERNAL, False, THROTTLED, id="throttle-17"),
    pytest.param(400, graph_error(32), EXTERNAL, False, THROTTLED, id="throttle-32"),
    pytest.param(400, graph_error(341), EXTERNAL, False, THROTTLED, id="throttle-341"),
    pytest.param(400, graph_error(613, 1487742), EXTERNAL, False, THROTTLED, id="throttle-613"),
    pytest.param(400, graph_error(80000), EXTERNAL, False, THROTTLED, id="buc-80000"),
    pytest.param(
        400,
        graph_error(80004, 2446079, is_transient=False),
        EXTERNAL,
        False,
        THROTTLED,
        id="buc-80004",
    ),
    pytest.param(400, graph_error(80014), EXTERNAL, False, THROTTLED, id="buc-80014"),
    pytest.param(400, graph_error(1), EXTERNAL, False, TEMPORARY, id="code-1"),
    pytest.param(400, graph_error(2), EXTERNAL, False, TEMPORARY, id="code-2"),
    pytest.param(400, graph_error(368), EXTERNAL, False, TEMPORARY, id="code-368"),
    pytest.param(400, graph_error(190, 463), EXTERNAL, True, CREDENTIALS, id="190-463-expired"),
    pytest.param(401, graph_error(190, 467), EXTERNAL, True, CREDENTIALS, id="190-467-invalid"),
    pytest.param(400, graph_error(190), EXTERNAL, True, CREDENTIALS, id="190-no-subcode"),
    pytest.param(400, graph_error(102), EXTERNAL, True, CREDENTIALS, id="102-session"),
    pytest.param(400, graph_error(104), EXTERNAL, True, CREDENTIALS, id="104-no-token"),
    pytest.param(403, graph_error(10), EXTERNAL, True, PERMISSION, id="10-permission"),
    pytest.param(400, graph_error(3), EXTERNAL, True, PERMISSION, id="3-capability"),
    pytest.param(403, graph_error(200), EXTERNAL, True, PERMISSION, id="200-permission"),
    pytest.param(400, graph_error(299), EXTERNAL, True, PERMISSION, id="299-permission"),
    pytest.param(400, graph_error(100), REJECTED, False, INVALID, id="100"),
    pytest.param(400, graph_error(100, 2804003), REJECTED, False, INVALID, id="100-2804003"),
    pytest.param(400, graph_error(100, 33), EXTERNAL, True, UNREACHABLE_PIXEL, id="100-33"),
    pytest.param(408, b"", EXTERNAL, False, HTTP_408_429, id="408"),
    pytest.param(429, b"Too Many Requests", EXTERNAL, False, HTTP_408_429, id="429-text"),
    pytest.param(429, graph_error(12345), EXTERNAL, False, HTTP_408_429, id="429-unknown-code"),
    pytest.param(404, b"<html>Not Found</html>", EXTERNAL, True, NO_ENDPOINT, id="404-html"),
    pytest.param(404, graph_error(803), EXTERNAL, True, NO_ENDPOINT, id="404-803"),
    pytest.param(405, b"", EXTERNAL, True, NO_ENDPOINT, id="405"),
    pytest.param(400, graph_error(2500), REJECTED, False, REFUSED, id="400-unknown-code"),
    # An error object without Graph's shape is a gateway or firewall, never Meta refusing data.
    pytest.param(403, graph_error(), EXTERNAL, True, UNEXPECTED_4XX, id="403-error-without-code"),
    pytest.param(
        403,
        b'{"error":{"code":403,"message":"Request blocked by WAF","status":"PERMISSION_DENIED"}}',
        EXTERNAL,
        True,
        UNEXPECTED_4XX,
        id="403-gateway-json",
    ),
    pytest.param(
        400, b'{"error":{"code":100,"message":"bad"}}', EXTERNAL, True, UNEXPECTED_4XX, id="no-type"
    ),
    pytest.param(400, b'{"error":{}}', EXTERNAL, True, UNEXPECTED_4XX, id="empty-error"),
    # 413 is about the request's size, whoever says it; it is split, not a verdict on events.
    pytest.param(413, graph_error(12345), EXTERNAL, True, TOO_LARGE, id="413-graph"),
    pytest.param(413, b"", EXTERNAL, True, TOO_LARGE, id="413-empty"),
    # A 400 or 422 without a Graph error is a proxy or firewall talking, not Meta.
    pytest.param(400, b"Bad Request", EXTERNAL, True, UNEXPECTED_4XX, id="400-text"),
    pytest.param(422, b'{"detail":"nope"}', EXTERNAL, True, UNEXPECTED_4XX, id="422-no-error"),
    pytest.param(
        400, b'{"error":"invalid_request"}', EXTERNAL, True, UNEXPECTED_4XX, id="400-error-string"
    ),
    pytest.param(400, b"", EXTERNAL, True, UNEXPECTED_4XX, id="400-empty"),
    pytest.param(401, b"Unauthorized", EXTERNAL, True, UNEXPECTED_4XX, id="401-text"),
    pytest.param(
        403, b"<html>Forbidden by proxy</html>", EXTERNAL, True, UNEXPECTED_4XX, id="403-proxy"
    ),
    pytest.param(301, b"", EXTERNAL, True, UNEXPECTED_4XX, id="301-redirect"),
    pytest.param(100, b"", EXTERNAL, False, UNEXPECTED, id="1xx"),
    pytest.param(600, b"", EXTERNAL, False, UNEXPECTED, id="600"),
]


# What each rule that needs the operator asks of them.
ACTIONS_OF_RULES = {
    CREDENTIALS: "credentials",
    PERMISSION: "permission",
    UNREACHABLE_PIXEL: "configuration",
    NO_ENDPOINT: "configuration",
    TOO_LARGE: "too_large",
    UNEXPECTED_4XX: "configuration",
}


@pytest.mark.parametrize(("status", "body", "kind", "needs_action", "rule"), CASES)
def test_classification_table(
    status: int | None, body: bytes, kind: OutcomeKind, needs_action: bool, rule: str
) -> None:
    result = classify(status, body)
    assert (result.kind, result.needs_action, result.rule) == (kind, needs_action, rule)
    assert result.action == ACTIONS_OF_RULES.get(rule, "")


def test_every_rule_of_the_table_is_exercised() -> None:
    exercised = {case.values[4] for case in CASES}
    assert exercised == {rule.name for rule in CLASSIFICATION_RULES}


def test_graph_error_fields_are_reported() -> None:
    body = graph_error(
        100,
        2804003,
        message="Invalid parameter",
        error_user_title="Event Timestamp Too Old",
        error_user_msg="The timestamp for this event is too far in the past.",
    )
    assert classify(400, body) == Classification(
        kind=REJECTED,
        code=100,
        subcode=2804003,
        message=(
            "Invalid parameter: Event Timestamp Too Old: "
            "The timestamp for this event is too far in the past."
        ),
        rule="invalid parameter",
    )


def test_credential_errors_keep_code_subcode_and_message() -> None:
    result = classify(400, graph_error(190, 463, message="Session has expired."))
    assert (result.code, result.subcode, result.message) == (190, 463, "Session has expired.")


def test_a_message_is_made_up_when_the_platform_sends_none() -> None:
    assert classify(404, b"").message.startswith("HTTP 404: no such endpoint")
    assert classify(503, b"").message == "HTTP 503: platform error (HTTP 5xx)"
    assert classify(200, b"").message == ""


@pytest.mark.parametrize(
    "error",
    [
        {"code": "17"},
        {"code": "abc", "error_subcode": [1]},
        {"code": True},
        {"code": 17.0},
        {"code": None, "is_transient": "true"},
        {"message": 12, "error_user_msg": {"x": 1}},
    ],
)
def test_an_error_without_an_integer_code_is_not_metas(error: dict[str, Any]) -> None:
    body = {"error": {"type": "OAuthException", "fbtrace_id": "x", **error}}
    result = classify(400, json.dumps(body).encode())
    assert (result.kind, result.rule, result.code) == (EXTERNAL, UNEXPECTED_4XX, None)


def test_pathological_bodies() -> None:
    # None of these is a Graph error, so none is Meta refusing the events.
    assert classify(400, b"[" * 200_000).rule == UNEXPECTED_4XX
    assert classify(400, b'{"error":{"code":1' + b"0" * 10_000 + b"}}").rule == UNEXPECTED_4XX
    assert classify(400, b"\xff\xfe\x00{").rule == UNEXPECTED_4XX
    huge = b'{"error":{"code":17,"message":"' + b"x" * (2 << 20) + b'"}}'
    assert classify(400, huge).rule == UNEXPECTED_4XX
    long_message = graph_error(100, message="m" * 100_000)
    assert len(classify(400, long_message).message) <= 1000


STATUSES = st.none() | st.integers(min_value=0, max_value=1000)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
ERROR_OBJECTS = st.dictionaries(
    st.sampled_from(
        ["code", "error_subcode", "message", "error_user_title", "error_user_msg", "is_transient"]
    ),
    JSON_VALUES | st.integers(min_value=0, max_value=100_000),
)


def assert_valid(result: Classification) -> None:
    assert isinstance(result.kind, OutcomeKind)
    assert isinstance(result.message, str)
    assert result.code is None or isinstance(result.code, int)


@settings(database=None, deadline=None)
@given(status=STATUSES, body=st.binary(max_size=512))
def test_random_bytes_never_crash(status: int | None, body: bytes) -> None:
    assert_valid(classify(status, body))


@settings(database=None, deadline=None)
@given(status=STATUSES, document=JSON_VALUES)
def test_random_json_never_crashes(status: int | None, document: Any) -> None:
    assert_valid(classify(status, json.dumps(document).encode()))


@settings(database=None, deadline=None)
@given(status=STATUSES, error=ERROR_OBJECTS | JSON_VALUES)
def test_random_error_objects_never_crash(status: int | None, error: Any) -> None:
    assert_valid(classify(status, json.dumps({"error": error}).encode()))
