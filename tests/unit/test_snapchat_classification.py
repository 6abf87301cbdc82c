"""Snapchat's answers -> outcome kinds (every row of the table, and answers that are not
Snapchat's), the wire format from a stored event, event names, eligibility, and the
hashing examples of Snapchat's own documentation."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tenaz.v1 import destinations_pb2

from jobs.canonical import CanonicalEvent
from jobs.pii import hashed_for, normalise_user_data
from jobs.platforms import fake_snapchat, registry, snapchat
from jobs.platforms.base import OutcomeKind
from jobs.platforms.snapchat import CLASSIFICATION_RULES, classify
from jobs.platforms.url_secrets import hide_queries_in_http_logs

SUCCEEDED = OutcomeKind.SUCCEEDED
EXTERNAL = OutcomeKind.EXTERNAL_PROBLEM
REJECTED = OutcomeKind.REJECTED

VALID = b'{"status":"VALID","reason":"Events have been processed successfully."}'


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def invalid(reason: str = "Invalid request", *codes: str) -> bytes:
    document: dict[str, Any] = {"status": "INVALID", "reason": reason}
    if codes:
        document["errors"] = {
            "codes": list(codes),
            "error_msgs": [f"{c} went wrong" for c in codes],
        }
    return json.dumps(document).encode()


# The rules in table order; unpacking fails loudly if a rule is added or removed.
(
    OK,
    REFUSED_2XX,
    NO_RESPONSE,
    HTTP_5XX,
    HTTP_408_429,
    TOKEN,
    PERMISSION,  # the same name: one refusal, with an action for 401 and one for 403
    NO_ENDPOINT,
    TOO_LARGE,
    REFUSED,
    NOT_SNAPCHAT,
    UNEXPECTED,
) = (rule.name for rule in CLASSIFICATION_RULES)

CASES = [
    pytest.param(200, VALID, SUCCEEDED, False, OK, id="200-valid"),
    pytest.param(200, b"", SUCCEEDED, False, OK, id="200-empty"),
    pytest.param(
        200,
        b'{"status":"VALID","test_event":true,"event_logs":[]}',
        SUCCEEDED,
        False,
        OK,
        id="validate",
    ),
    pytest.param(200, invalid(), REJECTED, False, REFUSED_2XX, id="200-invalid"),
    pytest.param(None, b"", EXTERNAL, False, NO_RESPONSE, id="no-response"),
    pytest.param(500, b"Internal Server Error", EXTERNAL, False, HTTP_5XX, id="500"),
    pytest.param(503, invalid(), EXTERNAL, False, HTTP_5XX, id="503-invalid-body"),
    pytest.param(429, b"", EXTERNAL, False, HTTP_408_429, id="429"),
    pytest.param(408, b"", EXTERNAL, False, HTTP_408_429, id="408"),
    pytest.param(401, invalid("Invalid access token"), EXTERNAL, True, TOKEN, id="401"),
    pytest.param(403, b"Forbidden", EXTERNAL, True, TOKEN, id="403-text"),
    pytest.param(404, b"<html>Not Found</html>", EXTERNAL, True, NO_ENDPOINT, id="404"),
    pytest.param(413, b"", EXTERNAL, True, TOO_LARGE, id="413"),
    pytest.param(400, invalid("Unhashed PII", "E1004"), REJECTED, False, REFUSED, id="400-invalid"),
    pytest.param(422, invalid(), REJECTED, False, REFUSED, id="422-invalid"),
    pytest.param(400, b"<html>Bad Request</html>", EXTERNAL, True, NOT_SNAPCHAT, id="400-html"),
    pytest.param(
        400, b'{"status":"ERROR","reason":"gateway"}', EXTERNAL, True, NOT_SNAPCHAT, id="400-other"
    ),
    pytest.param(
        400, invalid().replace(b"INVALID", b"VALID"), EXTERNAL, True, NOT_SNAPCHAT, id="400-valid"
    ),
    pytest.param(301, b"", EXTERNAL, True, NOT_SNAPCHAT, id="301"),
    pytest.param(100, b"", EXTERNAL, False, UNEXPECTED, id="100"),
]


@pytest.mark.parametrize(("status", "body", "kind", "needs_action", "rule"), CASES)
def test_classification_table(
    status: int | None, body: bytes, kind: OutcomeKind, needs_action: bool, rule: str
) -> None:
    verdict = classify(status, body)
    assert (verdict.kind, verdict.needs_action, verdict.rule) == (kind, needs_action, rule)
    if kind is not SUCCEEDED:
        assert verdict.message


def test_every_rule_has_a_case() -> None:
    assert {param.values[-1] for param in CASES} == {rule.name for rule in CLASSIFICATION_RULES}


def test_snapchat_reasons_and_codes_are_kept() -> None:
    verdict = classify(400, invalid("Invalid request", "1004", "E7"))
    assert verdict.message == "Invalid request: 1004 went wrong; E7 went wrong"
    assert verdict.code == 1004
    assert classify(400, invalid("Unhashed PII", "E1004")).code is None


@settings(max_examples=200, deadline=None)
@given(status=st.one_of(st.none(), st.integers(100, 599)), body=st.binary(max_size=300))
def test_classification_is_total(status: int | None, body: bytes) -> None:
    assert classify(status, body).kind in OutcomeKind


@settings(max_examples=100, deadline=None)
@given(
    errors=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=20,
    )
)
def test_odd_error_details_are_read_without_error(errors: Any) -> None:
    body = json.dumps({"status": "INVALID", "reason": errors, "errors": errors}).encode()
    assert classify(400, body).kind is REJECTED


# -- the wire format ----------------------------------------------------------------------


def stored(**changes: Any) -> dict[str, Any]:
    """An event as Tenaz stores it (jobs/canonical.py)."""
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": 1_760_000_000,
        "event_id": "order-1",
        "action_source": "website",
        "event_source_url": "https://shop.example.com/checkout",
        "identifiers": {
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0",
            "sc_click_id": "a3f4b5c6-click",
            "sc_cookie1": "cookie-1",
            "epik": "not-for-snapchat",
        },
        "hashed": {
            "meta": {
                "em": sha256("maria@example.com"),
                "ph": sha256("5511987654321"),
                "db": sha256("19900714"),
            }
        },
        "custom_data": {
            "value": 49.9,
            "currency": "BRL",
            "order_id": "A-1",
            "content_type": "product",
            "contents": [{"id": "sku-1", "quantity": 2, "item_price": 19.95}],
            "content_ids": ["sku-1"],
            "brands": "acme",
        },
    }
    event.update(changes)
    return event


def wire(payload: dict[str, Any], names: dict[str, str] | None = None) -> dict[str, Any]:
    mapping = {**snapchat.DEFAULT_EVENT_NAMES, **(names or {})}
    return snapchat.wire_event(payload, lambda n: mapping.get(n, n))


def test_wire_format_from_a_stored_event() -> None:
    assert wire(stored()) == {
        "event_name": "PURCHASE",
        "event_time": 1_760_000_000,
        "event_id": "order-1",
        "action_source": "WEB",
        "event_source_url": "https://shop.example.com/checkout",
        # No date of birth: Snapchat's user_data has none.
        "user_data": {
            "em": [sha256("maria@example.com")],
            "ph": [sha256("5511987654321")],
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0",
            "sc_click_id": "a3f4b5c6-click",
            "sc_cookie1": "cookie-1",
        },
        "custom_data": {
            "brands": "acme",
            "value": 49.9,
            "currency": "BRL",
            "order_id": "A-1",
            "content_type": "product",
            "content_ids": ["sku-1"],
            "contents": [{"id": "sku-1", "quantity": "2", "item_price": "19.95"}],
        },
    }


@pytest.mark.parametrize(
    ("tenaz", "expected"),
    [
        ("website", "WEB"),
        ("physical_store", "OFFLINE"),
        ("phone_call", "OFFLINE"),
        ("other", "OFFLINE"),
    ],
)
def test_action_sources(tenaz: str, expected: str) -> None:
    assert wire(stored(action_source=tenaz))["action_source"] == expected


def test_event_names() -> None:
    names = snapchat.DEFAULT_EVENT_NAMES
    assert names["Purchase"] == "PURCHASE"
    assert names["AddToCart"] == "ADD_CART"
    assert names["CompleteRegistration"] == "SIGN_UP"
    assert names["ViewContent"] == "VIEW_CONTENT"
    assert names["PageView"] == "PAGE_VIEW"
    assert names["InitiateCheckout"] == "START_CHECKOUT"
    assert names["AddPaymentInfo"] == "ADD_BILLING"
    assert names["Search"] == "SEARCH"
    assert names["Subscribe"] == "SUBSCRIBE"
    assert set(names.values()) <= fake_snapchat.EVENT_NAMES
    # A destination's own names win; names without one go as they are.
    assert wire(stored(event_name="Donate"), {"Donate": "CUSTOM_EVENT_1"})["event_name"] == (
        "CUSTOM_EVENT_1"
    )
    assert wire(stored(event_name="Donate"))["event_name"] == "Donate"


def test_a_purchase_without_value_is_refused_before_sending() -> None:
    assert snapchat.refusal(wire(stored())) is None
    no_value = wire(stored(custom_data={"currency": "BRL"}))
    assert (
        snapchat.refusal(no_value) == "Snapchat refuses PURCHASE events without value and currency"
    )
    assert snapchat.refusal(wire(stored(event_name="Lead", custom_data={}))) is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, None),
        ({"hashed": {"meta": {"ph": sha256("5511987654321")}}, "identifiers": {}}, None),
        (
            {
                "hashed": {},
                "identifiers": {"client_ip_address": "1.2.3.4", "client_user_agent": "UA"},
            },
            None,
        ),
        ({"hashed": {"meta": {"fn": sha256("maria")}}, "identifiers": {}}, "email or phone"),
        ({"action_source": "app"}, "Snap App ID"),
        ({"event_source_url": ""}, "event_source_url"),
        ({"event_source_url": "", "action_source": "physical_store"}, None),
    ],
)
def test_eligibility(changes: dict[str, Any], reason: str | None) -> None:
    problem = snapchat.eligible(CanonicalEvent(stored(**changes)), {})
    if reason is None:
        assert problem is None
    else:
        assert problem is not None and reason in problem


# -- hashing: the examples in Snapchat's Conversions API docs (Parameters) ------------------

# (Tenaz input field, the docs' input, Snapchat's key, the docs' hashed output).
VECTORS = [
    ("email", "Person@Example.com", "em",
     "542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345"),
    ("phone", "+44 844 412 4653", "ph",
     "dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383"),
    # "remove any double 0 in front of the country code"
    ("phone", "0044 844 412 4653", "ph",
     "dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383"),
    ("first_name", "John", "fn",
     "96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a"),
    ("first_name", "Raphaël", "fn",
     "e74bb89e718fe1e19c422a48382870399f8bf7ca8dfa008739e75b0be76627b7"),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value", "key", "digest"), VECTORS)
def test_hashing_matches_snapchat_docs(field: str, value: str, key: str, digest: str) -> None:
    hashed = hashed_for("meta", normalise_user_data({field: value}))
    assert hashed[key] == digest
    assert wire(stored(hashed={"meta": hashed}))["user_data"][key] == [digest]


def test_httpx_request_lines_hide_the_query(caplog: pytest.LogCaptureFixture) -> None:
    hide_queries_in_http_logs()
    hide_queries_in_http_logs()
    url = httpx.URL("https://tr.snapchat.com/v3/pixel/events?access_token=secret-token")
    with caplog.at_level(logging.INFO, logger="httpx"):
        logging.getLogger("httpx").info('HTTP Request: %s %s "%s"', "POST", url, "HTTP/1.1")
    [record] = caplog.records
    assert record.getMessage() == (
        'HTTP Request: POST https://tr.snapchat.com/v3/pixel/events?[hidden] "HTTP/1.1"'
    )


def test_the_declaration_matches_the_proto_and_the_notes() -> None:
    declared = snapchat.PLATFORM
    fields = {f.name for f in destinations_pb2.SnapchatSettings.DESCRIPTOR.fields}
    assert {s.name for s in declared.settings} == {f for f in fields if not f.endswith("_set")}
    assert [s.name for s in declared.secret_settings] == ["access_token"]
    assert (declared.max_batch_size, declared.hash_family) == (2000, "meta")
    assert declared.default_rate_limit is None
    assert declared.max_event_age == dt.timedelta(days=37)
    assert registry.platform("snapchat") is declared
