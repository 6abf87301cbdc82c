"""Pinterest's answers -> outcome kinds (every row of the table, and answers that are not
Pinterest's), the wire format from a stored event, event names, eligibility, and hashing
by Pinterest's documented rules."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tenaz.v1 import destinations_pb2

from jobs.canonical import CanonicalEvent
from jobs.pii import hashed_for, normalise_user_data
from jobs.platforms import fake_pinterest, pinterest, registry
from jobs.platforms.base import OutcomeKind
from jobs.platforms.pinterest import CLASSIFICATION_RULES, classify, per_event, read_answer

SUCCEEDED = OutcomeKind.SUCCEEDED
EXTERNAL = OutcomeKind.EXTERNAL_PROBLEM
REJECTED = OutcomeKind.REJECTED


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def error(code: int, message: str = "Pinterest says no") -> bytes:
    return json.dumps({"code": code, "message": message}).encode()


def events(*statuses: str) -> bytes:
    return json.dumps(
        {
            "num_events_received": len(statuses),
            "num_events_processed": statuses.count("processed"),
            "events": [
                {"status": s, "error_message": "bad" if s == "failed" else None} for s in statuses
            ],
        }
    ).encode()


# The rules in table order; unpacking fails loudly if a rule is added or removed.
(
    OK,
    OK_UNCLEAR,
    NO_RESPONSE,
    HTTP_5XX,
    HTTP_408_429,
    UNAUTHORIZED,
    FORBIDDEN,
    NO_ENDPOINT,
    TOO_LARGE,
    REFUSED,
    NOT_PINTEREST,
    UNEXPECTED,
) = (rule.name for rule in CLASSIFICATION_RULES)

# (http status, body, kind, needs_action, code, rule): the fact sheet's table, row by row.
CASES = [
    pytest.param(200, events("processed"), SUCCEEDED, False, None, OK, id="200"),
    pytest.param(
        200,
        b'{"num_events_received":2,"num_events_processed":2}',
        SUCCEEDED,
        False,
        None,
        OK,
        id="200-counts-only",
    ),
    pytest.param(200, b"", EXTERNAL, False, None, OK_UNCLEAR, id="200-empty"),
    # events[] of another length than the request's: only "all processed" can be trusted.
    pytest.param(
        200, events("processed", "failed"), EXTERNAL, False, None, OK_UNCLEAR, id="200-some-failed"
    ),
    pytest.param(
        200,
        events("processed", "processed")[:-1] + b', "num_events_received": 3}',
        SUCCEEDED,
        False,
        None,
        OK,
        id="200-all-listed-processed",
    ),
    pytest.param(
        200,
        b'{"num_events_received":2,"num_events_processed":1}',
        EXTERNAL,
        False,
        None,
        OK_UNCLEAR,
        id="200-which-unclear",
    ),
    pytest.param(None, b"", EXTERNAL, False, None, NO_RESPONSE, id="no-response"),
    pytest.param(503, error(4197), EXTERNAL, False, 4197, HTTP_5XX, id="503-4197-ramped-down"),
    pytest.param(500, b"Internal Server Error", EXTERNAL, False, None, HTTP_5XX, id="500-text"),
    pytest.param(429, error(8), EXTERNAL, False, 8, HTTP_408_429, id="429-8-rate-limit"),
    pytest.param(408, b"", EXTERNAL, False, None, HTTP_408_429, id="408"),
    pytest.param(401, error(2), EXTERNAL, True, 2, UNAUTHORIZED, id="401-2-authentication"),
    pytest.param(401, b"Unauthorized", EXTERNAL, True, None, UNAUTHORIZED, id="401-text"),
    pytest.param(403, error(29), EXTERNAL, True, 29, FORBIDDEN, id="403-29-not-permitted"),
    pytest.param(404, error(404), EXTERNAL, True, 404, NO_ENDPOINT, id="404"),
    pytest.param(405, b"", EXTERNAL, True, None, NO_ENDPOINT, id="405"),
    pytest.param(413, b"Request Entity Too Large", EXTERNAL, True, None, TOO_LARGE, id="413"),
    pytest.param(400, error(4196), REJECTED, False, 4196, REFUSED, id="400-4196-invalid"),
    pytest.param(
        422,
        b'{"code":422,"message":"Not all events were processed","details":{}}',
        REJECTED,
        False,
        422,
        REFUSED,
        id="422-without-events",
    ),
    pytest.param(
        400, b"<html>Bad Request</html>", EXTERNAL, True, None, NOT_PINTEREST, id="400-html"
    ),
    pytest.param(
        400,
        b'{"error":{"code":400,"message":"bad gateway config"}}',
        EXTERNAL,
        True,
        None,
        NOT_PINTEREST,
        id="400-gateway-json",
    ),
    pytest.param(422, b"{}", EXTERNAL, True, None, NOT_PINTEREST, id="422-empty-object"),
    pytest.param(302, b"", EXTERNAL, True, None, NOT_PINTEREST, id="302"),
    pytest.param(101, b"", EXTERNAL, False, None, UNEXPECTED, id="101"),
]


@pytest.mark.parametrize(("status", "body", "kind", "needs_action", "code", "rule"), CASES)
def test_classification_table(
    status: int | None,
    body: bytes,
    kind: OutcomeKind,
    needs_action: bool,
    code: int | None,
    rule: str,
) -> None:
    verdict = classify(status, body)
    assert (verdict.kind, verdict.needs_action, verdict.code, verdict.rule) == (
        kind,
        needs_action,
        code,
        rule,
    )
    if kind is not SUCCEEDED:
        assert verdict.message


def test_every_rule_has_a_case() -> None:
    covered = {param.values[-1] for param in CASES}
    assert covered == {rule.name for rule in CLASSIFICATION_RULES}


def test_pinterest_messages_are_kept() -> None:
    assert classify(400, error(4196, "The request was invalid.")).message == (
        "The request was invalid."
    )
    assert classify(429, b"").message == "HTTP 429: timed out or rate limited (HTTP 408/429)"


@pytest.mark.parametrize("status", [200, 422])
def test_answers_naming_each_event_are_read_event_by_event(status: int) -> None:
    document = json.loads(events("processed", "failed", "processed"))
    if status == 422:
        document = {"code": 2700, "message": "Not all events were processed", "details": document}
    answer = read_answer(status, json.dumps(document).encode())
    verdicts = per_event(answer, 3)
    assert verdicts is not None
    assert [v.kind for v in verdicts] == [SUCCEEDED, REJECTED, SUCCEEDED]
    assert verdicts[1].message == "bad"
    # A list that does not match the request is not read event by event.
    assert per_event(answer, 2) is None


def test_event_statuses() -> None:
    body = json.dumps(
        {
            "num_events_received": 3,
            "num_events_processed": 1,
            "events": [
                {"status": "processed", "warning_message": "currency missing"},
                {"status": "failed"},
                {"status": "queued"},
            ],
        }
    ).encode()
    verdicts = per_event(read_answer(200, body), 3)
    assert verdicts is not None
    assert [(v.kind, v.message) for v in verdicts] == [
        (SUCCEEDED, "currency missing"),
        (REJECTED, "failed: Pinterest gave no reason"),
        (EXTERNAL, "Pinterest's answer has an unknown event status 'queued'"),
    ]
    assert per_event(read_answer(500, body), 3) is None


@settings(max_examples=200, deadline=None)
@given(status=st.one_of(st.none(), st.integers(100, 599)), body=st.binary(max_size=300))
def test_classification_is_total(status: int | None, body: bytes) -> None:
    assert classify(status, body).kind in OutcomeKind
    per_event(read_answer(status, body), 1)


@settings(max_examples=100, deadline=None)
@given(
    document=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=20,
    )
)
def test_any_json_is_read_without_error(document: Any) -> None:
    body = json.dumps(document).encode()
    for status in (200, 400, 422):
        classify(status, body)
        per_event(read_answer(status, body), 2)


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
            "epik": "dj0yJnU9-epik",
            "fbc": "fb.1.1700000000000.abc",
        },
        "hashed": {"meta": {"em": sha256("maria@example.com"), "ph": sha256("5511987654321")}},
        "custom_data": {
            "value": 49.9,
            "currency": "BRL",
            "order_id": "A-1",
            "content_type": "product",
            "contents": [{"id": "sku-1", "quantity": 2, "item_price": 19.95}, {"id": "sku-2"}],
            "content_ids": ["sku-1", "sku-2"],
            "search_string": "tênis",
            "not_in_pinterest_schema": "dropped",
        },
    }
    event.update(changes)
    return event


def wire(payload: dict[str, Any], names: dict[str, str] | None = None) -> dict[str, Any]:
    mapping = {**pinterest.DEFAULT_EVENT_NAMES, **(names or {})}
    return pinterest.wire_event(payload, lambda n: mapping.get(n, n))


def test_wire_format_from_a_stored_event() -> None:
    assert wire(stored()) == {
        "event_name": "checkout",
        "action_source": "web",
        "event_time": 1_760_000_000,
        "event_id": "order-1",
        "event_source_url": "https://shop.example.com/checkout",
        "user_data": {
            "em": [sha256("maria@example.com")],
            "ph": [sha256("5511987654321")],
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0",
            "click_id": "dj0yJnU9-epik",
        },
        "custom_data": {
            "value": "49.9",
            "currency": "BRL",
            "order_id": "A-1",
            "content_ids": ["sku-1", "sku-2"],
            "contents": [{"id": "sku-1", "quantity": 2, "item_price": "19.95"}, {"id": "sku-2"}],
            "search_string": "tênis",
            "num_items": 2,
        },
    }


def test_a_minimal_event_has_only_what_pinterest_requires() -> None:
    payload = {
        "event_name": "Lead",
        "event_time": 1_760_000_000,
        "event_id": "lead-1",
        "action_source": "physical_store",
        "hashed": {"meta": {"em": sha256("a@example.com")}},
    }
    assert wire(payload) == {
        "event_name": "lead",
        "action_source": "offline",
        "event_time": 1_760_000_000,
        "event_id": "lead-1",
        "user_data": {"em": [sha256("a@example.com")]},
    }


def test_amounts_are_decimal_text() -> None:
    custom = {"value": 1e-7, "currency": "USD", "contents": [{"id": "x", "item_price": 1e16}]}
    data = wire(stored(custom_data=custom))["custom_data"]
    assert (data["value"], data["contents"][0]["item_price"]) == ("0.0000001", "10000000000000000")
    assert wire(stored(custom_data={"value": 100.0, "currency": "BRL"}))["custom_data"] == {
        "value": "100",
        "currency": "BRL",
    }


def test_extra_fields_keep_to_pinterest_schema() -> None:
    custom = {"num_items": 7, "predicted_ltv": 120.5, "content_name": 3, "opt_out_type": "LDP"}
    assert wire(stored(custom_data=custom))["custom_data"] == {
        "num_items": 7,
        "predicted_ltv": "120.5",
        "opt_out_type": "LDP",
    }


@pytest.mark.parametrize(
    ("tenaz", "expected"),
    [
        ("website", "web"),
        ("physical_store", "offline"),
        ("phone_call", "offline"),
        ("email", "offline"),
        ("chat", "offline"),
        ("system_generated", "offline"),
        ("other", "offline"),
    ],
)
def test_action_sources(tenaz: str, expected: str) -> None:
    assert wire(stored(action_source=tenaz))["action_source"] == expected


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36", "app_android"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)", "app_ios"),
        ("Loja/7.1 CFNetwork/1485 Darwin/23.1.0", "app_ios"),
        ("okhttp/4.12.0", None),
    ],
)
def test_app_events_by_user_agent(user_agent: str, expected: str | None) -> None:
    event = CanonicalEvent(
        stored(action_source="app", identifiers={"client_user_agent": user_agent})
    )
    assert pinterest.action_source(event) == expected
    assert (pinterest.eligible(event, {}) is None) is (expected is not None)


def test_event_names() -> None:
    names = pinterest.DEFAULT_EVENT_NAMES
    assert names["Purchase"] == "checkout"
    assert names["AddToCart"] == "add_to_cart"
    assert names["Lead"] == "lead"
    assert names["CompleteRegistration"] == "signup"
    assert names["ViewContent"] == "page_visit"
    assert names["InitiateCheckout"] == "initiate_checkout"
    assert names["AddPaymentInfo"] == "add_payment_info"
    assert names["Search"] == "search"
    assert set(names.values()) <= pinterest.EVENT_NAMES
    # The module's list is the one the fake (written from Pinterest's docs) accepts.
    assert pinterest.EVENT_NAMES == fake_pinterest.EVENT_NAMES


def test_names_pinterest_lacks_go_as_custom() -> None:
    assert wire(stored(event_name="Donate"))["event_name"] == "custom"
    # A destination's own name, if it is Pinterest's, goes as it is.
    assert wire(stored(event_name="Donate"), {"Donate": "view_category"})["event_name"] == (
        "view_category"
    )
    assert wire(stored(event_name="Purchase"), {"Purchase": "Compra"})["event_name"] == "custom"


@pytest.mark.parametrize(
    ("hashed", "identifiers", "eligible"),
    [
        ({"em": sha256("a@example.com")}, {}, True),
        ({}, {"client_ip_address": "203.0.113.7", "client_user_agent": "Mozilla/5.0"}, True),
        ({"ph": sha256("5511987654321")}, {"client_ip_address": "203.0.113.7"}, False),
        ({}, {"epik": "click"}, False),
    ],
)
def test_eligibility(hashed: dict[str, str], identifiers: dict[str, str], eligible: bool) -> None:
    event = CanonicalEvent(stored(hashed={"meta": hashed}, identifiers=identifiers))
    reason = pinterest.eligible(event, {})
    assert (reason is None) is eligible
    if reason is not None:
        assert "email" in reason


# -- hashing: the Meta family's hashes are what Pinterest's rules give ----------------------

# (Tenaz input field, value, Pinterest's key, the value normalised by Pinterest's documented
# rule, its SHA-256 worked out from that rule).
VECTORS = [
    ("email", " Maria@Example.COM ", "em", "maria@example.com",
     "10ef04a5a1acd81d18a0c61fdd354a063da07223720a1d8760aa5c2afa5e8ee0"),
    # Digits only, with the country code, no leading zeros.
    ("phone", "+55 (11) 98765-4321", "ph", "5511987654321",
     "029c7290f14c4516673508635f0519db95f7daf42057fd0e4ad1de84c5408a66"),
    # Zip: digits only (a Brazilian CEP).
    ("zip", "12400-000", "zp", "12400000",
     "870c9880f061224b2e9db01b0b86bc253b3458a8a4403b4c96a1bb3d225fbf0d"),
    # City: lowercase, no spaces or punctuation.
    ("city", "São Paulo", "ct", "sãopaulo",
     "3eda1428ae1aece064071f8d40f08fe2bc59ffa66c171a163caf15122ec4d7f0"),
    # State: two-letter code, lowercase.
    ("state", "SP", "st", "sp",
     "be18b85f77fc024db379acf19e8a1ce62307ab7bb1bca395389ecfc2dafaf741"),
    ("country", "BR", "country", "br",
     "885036a0da3dff3c3e05bc79bf49382b12bc5098514ed57ce0875aba1aa2c40d"),
    ("gender", "female", "ge", "f",
     "252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111"),
    # Date of birth: year, month, day.
    ("date_of_birth", "1990-07-14", "db", "19900714",
     "e19ab734439d915638a3d692f95d19df0b36bc9e6f931cfa4bda0bc905040a97"),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value", "key", "normalised", "digest"), VECTORS)
def test_hashing_follows_pinterest_rules(
    field: str, value: str, key: str, normalised: str, digest: str
) -> None:
    assert sha256(normalised) == digest
    hashed = hashed_for("meta", normalise_user_data({field: value}))
    assert hashed[key] == digest
    payload = stored(hashed={"meta": hashed}, identifiers={"client_ip_address": "1.2.3.4"})
    assert wire(payload)["user_data"][key] == [digest]


def test_the_declaration_matches_the_proto_and_the_notes() -> None:
    declared = pinterest.PLATFORM
    fields = {f.name for f in destinations_pb2.PinterestSettings.DESCRIPTOR.fields}
    assert {s.name for s in declared.settings} == {f for f in fields if not f.endswith("_set")}
    assert [s.name for s in declared.secret_settings] == ["access_token"]
    assert (declared.max_batch_size, declared.hash_family) == (1000, "meta")
    # 5,000 calls a minute: at one event a call at the least, 83 events a second keep within.
    assert declared.default_rate_limit == 83 and 83 * 60 <= 5000
    assert declared.max_event_age == dt.timedelta(days=7)
    assert registry.platform("pinterest") is declared
