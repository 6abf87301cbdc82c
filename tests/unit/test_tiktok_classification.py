"""TikTok's answers -> outcome kinds (every code of the platform notes' table, and answers that
are not TikTok's), the wire format from a stored event, event names, hashing and eligibility."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tenaz.v1 import destinations_pb2

from jobs.canonical import CanonicalEvent
from jobs.pii import hashed_for, normalise_user_data
from jobs.platforms import registry
from jobs.platforms.base import OutcomeKind
from jobs.platforms.tiktok import (
    CLASSIFICATION_RULES,
    PLATFORM,
    classify,
    event_source,
    wire_event,
)

SUCCEEDED = OutcomeKind.SUCCEEDED
EXTERNAL = OutcomeKind.EXTERNAL_PROBLEM
REJECTED = OutcomeKind.REJECTED


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def tiktok(code: Any, message: Any = "TikTok says so", **extra: Any) -> bytes:
    return json.dumps(
        {"code": code, "message": message, "request_id": "2026010112000001", "data": {}, **extra}
    ).encode()


# The rules in table order; unpacking fails loudly if a rule is added or removed.
(
    NO_RESPONSE,
    HTTP_5XX,
    TOO_LARGE,
    OK,
    PARTIAL,
    THROTTLED,
    PLATFORM_SIDE,
    CREDENTIALS,
    PERMISSION,  # the same name: one refusal, with an action for a token and one for a grant
    VERSION,
    REFUSED,
    HTTP_408_429,
    UNDOCUMENTED_SERVER,
    UNDOCUMENTED,
    NO_ENDPOINT,
    NOT_TIKTOK,
    UNEXPECTED,
) = (rule.name for rule in CLASSIFICATION_RULES)

# (http status, body, kind, needs_action, rule): every code of the notes' table, and more.
CASES = [
    pytest.param(200, tiktok(0, "OK"), SUCCEEDED, False, OK, id="0-ok"),
    pytest.param(None, b"", EXTERNAL, False, NO_RESPONSE, id="no-response-timeout"),
    pytest.param(500, b"Internal Server Error", EXTERNAL, False, HTTP_5XX, id="500-text"),
    pytest.param(503, tiktok(40002), EXTERNAL, False, HTTP_5XX, id="503-with-a-refusal-code"),
    pytest.param(504, b"", EXTERNAL, False, HTTP_5XX, id="504-empty"),
    pytest.param(200, tiktok(20001, "Partial OK"), REJECTED, False, PARTIAL, id="20001"),
    pytest.param(200, tiktok(40100), EXTERNAL, False, THROTTLED, id="40100-too-frequent"),
    pytest.param(200, tiktok(40132), EXTERNAL, False, THROTTLED, id="40132-frequency"),
    pytest.param(429, tiktok(40100), EXTERNAL, False, THROTTLED, id="429-40100"),
    pytest.param(200, tiktok(50000), EXTERNAL, False, PLATFORM_SIDE, id="50000-system"),
    pytest.param(200, tiktok(50002), EXTERNAL, False, PLATFORM_SIDE, id="50002-timeout"),
    pytest.param(200, tiktok(51000), EXTERNAL, False, PLATFORM_SIDE, id="51000-rpc"),
    pytest.param(200, tiktok(51099), EXTERNAL, False, PLATFORM_SIDE, id="51099"),
    pytest.param(200, tiktok(52000), EXTERNAL, False, PLATFORM_SIDE, id="52000-db"),
    pytest.param(200, tiktok(52203), EXTERNAL, False, PLATFORM_SIDE, id="52203-storage"),
    pytest.param(200, tiktok(40001), EXTERNAL, True, CREDENTIALS, id="40001-permission"),
    pytest.param(200, tiktok(40102), EXTERNAL, True, CREDENTIALS, id="40102-token-expired"),
    pytest.param(200, tiktok(40104), EXTERNAL, True, CREDENTIALS, id="40104-empty-token"),
    pytest.param(200, tiktok(40105), EXTERNAL, True, CREDENTIALS, id="40105-invalid-token"),
    pytest.param(401, tiktok(40105), EXTERNAL, True, CREDENTIALS, id="401-40105"),
    pytest.param(200, tiktok(40006), EXTERNAL, True, VERSION, id="40006-version"),
    pytest.param(200, tiktok(40000), REJECTED, False, REFUSED, id="40000-invalid-params"),
    pytest.param(200, tiktok(40002), REJECTED, False, REFUSED, id="40002-param-error"),
    pytest.param(400, tiktok(40002), REJECTED, False, REFUSED, id="400-40002"),
    pytest.param(200, tiktok(40061), REJECTED, False, REFUSED, id="40061-batch-size"),
    pytest.param(200, tiktok(40062), REJECTED, False, REFUSED, id="40062-pii-not-hashed"),
    pytest.param(200, tiktok(40063), REJECTED, False, REFUSED, id="40063-partner-name"),
    pytest.param(200, tiktok(41000), REJECTED, False, REFUSED, id="41000-blocked"),
    pytest.param(408, b"", EXTERNAL, False, HTTP_408_429, id="408"),
    pytest.param(429, b"Too Many Requests", EXTERNAL, False, HTTP_408_429, id="429-text"),
    pytest.param(429, tiktok(12345), EXTERNAL, False, HTTP_408_429, id="429-unknown-code"),
    pytest.param(200, tiktok(60001), EXTERNAL, False, UNDOCUMENTED_SERVER, id="60001-maintenance"),
    pytest.param(200, tiktok(53102), EXTERNAL, False, UNDOCUMENTED_SERVER, id="53102"),
    pytest.param(200, tiktok(40007), EXTERNAL, True, UNDOCUMENTED, id="40007-not-in-table"),
    pytest.param(200, tiktok(40130), EXTERNAL, True, UNDOCUMENTED, id="40130-scope"),
    pytest.param(200, tiktok(-1), EXTERNAL, True, UNDOCUMENTED, id="negative-code"),
    # Code 0 is success only with a 2xx: a 4xx saying OK is not a platform that took events.
    pytest.param(400, tiktok(0, "OK"), EXTERNAL, True, UNDOCUMENTED, id="400-code-0"),
    pytest.param(404, b"<html>Not Found</html>", EXTERNAL, True, NO_ENDPOINT, id="404-html"),
    pytest.param(405, b"", EXTERNAL, True, NO_ENDPOINT, id="405"),
    pytest.param(410, b"Gone", EXTERNAL, True, NO_ENDPOINT, id="410"),
    # 413 is about the request's size, whoever says it; it is split, not a verdict on events.
    pytest.param(413, tiktok(40002), EXTERNAL, True, TOO_LARGE, id="413-tiktok-body"),
    pytest.param(413, b"", EXTERNAL, True, TOO_LARGE, id="413-empty"),
    # HTTP 200 without TikTok's body is not a success: TikTok says success in the body.
    pytest.param(200, b"", EXTERNAL, True, NOT_TIKTOK, id="200-empty"),
    pytest.param(200, b"<html>Wi-Fi login</html>", EXTERNAL, True, NOT_TIKTOK, id="200-portal"),
    pytest.param(200, b'{"ok": true}', EXTERNAL, True, NOT_TIKTOK, id="200-other-json"),
    pytest.param(200, tiktok("0"), EXTERNAL, True, NOT_TIKTOK, id="200-code-as-text"),
    pytest.param(200, tiktok(True), EXTERNAL, True, NOT_TIKTOK, id="200-code-true"),
    pytest.param(200, tiktok(0, None), EXTERNAL, True, NOT_TIKTOK, id="200-no-message"),
    pytest.param(200, tiktok(0.0), EXTERNAL, True, NOT_TIKTOK, id="200-code-float"),
    # A 4xx without TikTok's body is a proxy or firewall talking, never TikTok refusing data.
    pytest.param(400, b"Bad Request", EXTERNAL, True, NOT_TIKTOK, id="400-text"),
    pytest.param(401, b"Unauthorized", EXTERNAL, True, NOT_TIKTOK, id="401-text"),
    pytest.param(
        403,
        b'{"error":{"code":403,"message":"Request blocked by WAF"}}',
        EXTERNAL,
        True,
        NOT_TIKTOK,
        id="403-gateway-json",
    ),
    pytest.param(301, b"", EXTERNAL, True, NOT_TIKTOK, id="301-redirect"),
    pytest.param(100, b"", EXTERNAL, False, UNEXPECTED, id="1xx"),
    pytest.param(600, b"", EXTERNAL, False, UNEXPECTED, id="600"),
]


@pytest.mark.parametrize(("status", "body", "kind", "needs_action", "rule"), CASES)
def test_classification_table(
    status: int | None, body: bytes, kind: OutcomeKind, needs_action: bool, rule: str
) -> None:
    result = classify(status, body)
    assert (result.kind, result.needs_action, result.rule) == (kind, needs_action, rule)


def test_every_rule_of_the_table_is_exercised() -> None:
    exercised = {case.values[4] for case in CASES}
    assert exercised == {rule.name for rule in CLASSIFICATION_RULES}


def test_tiktok_code_and_message_are_reported() -> None:
    result = classify(200, tiktok(40062, "PII is not hashed."))
    assert (result.code, result.message, result.subcode) == (40062, "PII is not hashed.", None)
    assert classify(200, tiktok(0, "OK")).message == ""


def test_messages_that_need_a_word_of_explanation() -> None:
    assert classify(200, tiktok(20001, "Partial OK")).message == (
        "some events of the request refused (PARTIAL_OK): Partial OK"
    )
    assert classify(200, tiktok(40007, "Not exist")).message == (
        "undocumented answer code: check the destination: Not exist"
    )
    assert classify(200, tiktok(40006, "")).message == (
        "HTTP 200: API version refused: check the base URL"
    )
    assert classify(None, b"").message == "no response from the platform"
    assert classify(503, b"").message == "HTTP 503: platform error (HTTP 5xx)"


def test_pathological_bodies() -> None:
    assert classify(200, b"[" * 200_000).rule == NOT_TIKTOK
    assert classify(200, b'{"code":1' + b"0" * 10_000 + b',"message":""}').rule == NOT_TIKTOK
    assert classify(200, b"\xff\xfe\x00{").rule == NOT_TIKTOK
    huge = b'{"code":0,"message":"' + b"x" * (2 << 20) + b'"}'
    assert classify(200, huge).rule == NOT_TIKTOK
    assert len(classify(200, tiktok(40002, "m" * 100_000)).message) <= 1000


STATUSES = st.none() | st.integers(min_value=0, max_value=1000)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(database=None, deadline=None)
@given(status=STATUSES, body=st.binary(max_size=512))
def test_random_bytes_never_crash(status: int | None, body: bytes) -> None:
    assert isinstance(classify(status, body).kind, OutcomeKind)


@settings(database=None, deadline=None)
@given(status=STATUSES, code=JSON_VALUES, message=JSON_VALUES)
def test_random_answers_never_crash_nor_succeed_without_code_0(
    status: int | None, code: Any, message: Any
) -> None:
    result = classify(status, tiktok(code, message))
    assert isinstance(result.kind, OutcomeKind)
    if result.kind is SUCCEEDED:
        assert code == 0
        assert type(code) is int


# -- the wire format --------------------------------------------------------------------------


CUSTOMER = {
    "email": " Maria@Example.com ",
    "phone": "(11) 98765-4321",
    "external_id": " Cliente-42 ",
    "first_name": "Mary Ann",
    "last_name": "D'Ávila",
    "zip": "01310 100",
    "city": "São Paulo",
    "state": "SP",
    "country": "BR",
    "ttclid": "E.C.P.v3RlY2xpZA",
    "ttp": "2F7h37YkS1j57AYSKTI7IHhJPYH",
    "client_ip_address": "203.0.113.7",
    "client_user_agent": "Mozilla/5.0",
    "fbc": "fb.1.1700000000000.IwAR",
}


def stored(customer: dict[str, str] = CUSTOMER, **changes: Any) -> dict[str, Any]:
    """An event as Tenaz stores it for a TikTok destination (jobs/canonical.py)."""
    personal = normalise_user_data(customer)
    payload: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": 1_760_000_000,
        "event_id": "pedido-1",
        "action_source": "website",
        "event_source_url": "https://loja.example.com/obrigado",
        "identifiers": dict(personal.clear),
        "hashed": {"tiktok": hashed_for("tiktok", personal), "meta": {"em": "x" * 64}},
        "custom_data": {
            "value": 199.8,
            "currency": "BRL",
            "order_id": "pedido-1",
            "contents": [{"id": "sku-1", "quantity": 2, "item_price": 99.9}],
            "content_ids": ["sku-1"],
            "coupon": "BEMVINDO",
        },
    }
    payload.update(changes)
    return payload


def test_the_wire_format_of_a_stored_event() -> None:
    names = PLATFORM.event_names({})
    assert wire_event(stored(), lambda name: names.get(name, name)) == {
        "event": "CompletePayment",
        "event_time": 1_760_000_000,
        "event_id": "pedido-1",
        "user": {
            "email": sha256("maria@example.com"),
            "phone": sha256("+5511987654321"),
            "external_id": sha256("cliente-42"),
            "first_name": sha256("maryann"),
            "last_name": sha256("dávila"),
            "zip_code": sha256("01310100"),
            "ttclid": "E.C.P.v3RlY2xpZA",
            "ttp": "2F7h37YkS1j57AYSKTI7IHhJPYH",
            "ip": "203.0.113.7",
            "user_agent": "Mozilla/5.0",
        },
        "page": {"url": "https://loja.example.com/obrigado"},
        "properties": {
            "coupon": "BEMVINDO",
            "contents": [{"content_id": "sku-1", "quantity": 2, "price": 99.9}],
            "content_type": "product",
            "currency": "BRL",
            "value": 199.8,
            "order_id": "pedido-1",
        },
    }


def test_no_raw_personal_data_and_nothing_of_other_platforms_goes_out() -> None:
    wire = json.dumps(wire_event(stored(), str))
    for raw in ("maria", "98765", "Cliente", "Mary", "01310", "Paulo", "fb.1.", "x" * 64):
        assert raw not in wire
    assert set(json.loads(wire)["user"]) >= {"email", "phone", "ip"}
    assert not {"city", "state", "country"} & set(json.loads(wire)["user"])


def test_a_minimal_event_and_the_optional_parts() -> None:
    payload = stored(
        {"email": "a@example.com"},
        event_name="Lead",
        event_source_url="",
        custom_data={"content_ids": ["plan-1"], "content_type": "product_group"},
    )
    assert wire_event(payload, lambda name: "SubmitForm") == {
        "event": "SubmitForm",
        "event_time": 1_760_000_000,
        "event_id": "pedido-1",
        "user": {"email": sha256("a@example.com")},
        "properties": {"content_ids": ["plan-1"], "content_type": "product_group"},
    }
    bare = stored({"ttclid": "E.C.P.x"}, custom_data={}, event_source_url="")
    assert set(wire_event(bare, str)) == {"event", "event_time", "event_id", "user"}


@pytest.mark.parametrize(
    ("action_source", "pixel_code", "expected"),
    [
        ("website", "C4A1B2C3D4E5F6G7H8I9", "web"),
        ("physical_store", "C4A1B2C3D4E5F6G7H8I9", "web"),
        ("system_generated", "C4A1B2C3D4E5F6G7H8I9", "web"),
        ("app", "D17TA5JC77UDOT6CA5FG", "web"),
        ("other", "D17TA5JC77UDOT6CA5FG", "web"),
        ("physical_store", "7654321098765432109", "offline"),
        ("website", "7654321098765432109", "crm"),
        ("phone_call", "7654321098765432109", "crm"),
        ("other", "7654321098765432109", "crm"),
        # Other scripts' digits are not an event set ID.
        ("physical_store", "٧٦٥٤٣٢١", "web"),
    ],
)
def test_the_event_source_follows_the_kind_of_id(
    action_source: str, pixel_code: str, expected: str
) -> None:
    assert event_source(action_source, pixel_code) == expected


# -- event names ------------------------------------------------------------------------------


def test_default_event_names() -> None:
    assert PLATFORM.event_names({}) == {
        "Purchase": "CompletePayment",
        "Lead": "SubmitForm",
        "CompleteRegistration": "CompleteRegistration",
        "AddToCart": "AddToCart",
        "AddToWishlist": "AddToWishlist",
        "InitiateCheckout": "InitiateCheckout",
        "AddPaymentInfo": "AddPaymentInfo",
        "ViewContent": "ViewContent",
        "Search": "Search",
        "Subscribe": "Subscribe",
        "Contact": "Contact",
    }
    # A destination's own names come first (TikTok's newer list calls a purchase Purchase).
    assert PLATFORM.event_names({"Purchase": "Purchase"})["Purchase"] == "Purchase"


# -- hashing (the "tiktok" family of jobs/pii.py) -----------------------------------------------


def tiktok_hashes(**customer: str) -> dict[str, str]:
    return hashed_for("tiktok", normalise_user_data(customer))


def test_hashing_vectors_of_tiktoks_own_server_side_template() -> None:
    # tiktok/gtm-template-eapi, TestPIIHashAndCleaning: email trimmed and lowercased.
    assert tiktok_hashes(email="test@TEST.com\n") == {
        "email": "f660ab912ec121d1b1e928a0bb4bc61b15f5ad44d5efdc4e1c92a25e99b8e44a"
    }
    # TestPIIHashed: digests pass as they came.
    digest = "065f45b37b5dad20b5a67158468161cdf35b1ae3cda2a666e7852feab7424897"
    assert tiktok_hashes(phone=digest, email=digest.upper()) == {"phone": digest, "email": digest}


@pytest.mark.parametrize(
    ("customer", "expected"),
    [
        # E.164 with the "+": TikTok's customer-file rules, unlike Meta's digits only.
        ({"phone": "+55 11 98765-4321"}, {"phone": "+5511987654321"}),
        ({"phone": "(11) 98765-4321"}, {"phone": "+5511987654321"}),
        ({"phone": "0055 11 98765 4321"}, {"phone": "+5511987654321"}),
        ({"phone": "+1 (650) 555-1234"}, {"phone": "+16505551234"}),
        ({"first_name": " Mary Ann "}, {"first_name": "maryann"}),
        ({"last_name": "Dos Santos-Silva"}, {"last_name": "dossantossilva"}),
        ({"first_name": "JOSÉ"}, {"first_name": "josé"}),
        ({"zip": "01310 100"}, {"zip_code": "01310100"}),
        ({"zip": "SW1A 1AA"}, {"zip_code": "sw1a1aa"}),
        ({"external_id": " Cliente-42 "}, {"external_id": "cliente-42"}),
        ({"email": "Maria.Silva+loja@Gmail.com"}, {"email": "maria.silva+loja@gmail.com"}),
        # Not sent to TikTok: kept nowhere for it.
        ({"city": "São Paulo", "state": "SP", "country": "BR", "gender": "f"}, {}),
        ({"date_of_birth": "1990-01-02", "client_ip_address": "203.0.113.7"}, {}),
    ],
)
def test_hashing_by_the_documented_rules(
    customer: dict[str, str], expected: dict[str, str]
) -> None:
    assert tiktok_hashes(**customer) == {key: sha256(value) for key, value in expected.items()}


# -- eligibility ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("customer", "can_match"),
    [
        ({"ttclid": "E.C.P.x"}, True),
        ({"ttp": "2F7h37"}, True),
        ({"email": "a@example.com"}, True),
        ({"phone": "11987654321"}, True),
        ({"external_id": "42"}, True),
        ({"client_ip_address": "203.0.113.7", "client_user_agent": "Mozilla/5.0"}, True),
        ({"client_ip_address": "203.0.113.7"}, False),
        ({"client_user_agent": "Mozilla/5.0"}, False),
        ({"fbc": "fb.1.1.x", "fbp": "fb.1.1.y"}, False),
        ({"first_name": "Maria", "last_name": "Silva", "zip": "01310100"}, False),
        ({"gclid": "Cj0"}, False),
    ],
)
def test_tiktok_takes_only_events_it_can_match(customer: dict[str, str], can_match: bool) -> None:
    assert PLATFORM.eligible is not None
    reason = PLATFORM.eligible(CanonicalEvent(stored(customer)), {})
    assert (reason is None) is can_match
    if reason is not None:
        assert "ttclid" in reason
        assert "Maria" not in reason


# -- the declaration --------------------------------------------------------------------------


def test_settings_are_the_proto_fields() -> None:
    fields = set(destinations_pb2.TikTokSettings.DESCRIPTOR.fields_by_name)
    names = {s.name for s in PLATFORM.settings}
    secrets = {f"{s.name}_set" for s in PLATFORM.secret_settings}
    assert names | secrets == fields
    assert secrets == {"access_token_set"}
    assert destinations_pb2.Destination.DESCRIPTOR.fields_by_name[PLATFORM.kind]


def test_the_declaration() -> None:
    assert registry.platform("tiktok") is PLATFORM
    assert (PLATFORM.max_batch_size, PLATFORM.max_event_age.days) == (1000, 7)
    assert PLATFORM.hash_family == "tiktok"
    assert PLATFORM.unverified
    base_url = PLATFORM.setting("base_url")
    pixel_code = PLATFORM.setting("pixel_code")
    assert base_url is not None
    assert pixel_code is not None
    assert base_url.official_urls == ("https://business-api.tiktok.com",)
    assert base_url.locates_secrets
    assert pixel_code.locates_secrets
    assert pixel_code.required
    assert pixel_code.pattern is not None
    assert pixel_code.pattern.fullmatch("C4A1B2C3D4E5F6G7H8I9")
    assert not pixel_code.pattern.fullmatch("C4A1/../x")
    assert PLATFORM.sandbox is not None
