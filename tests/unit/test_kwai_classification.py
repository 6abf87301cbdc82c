"""Kwai: its answers -> outcome kinds (every row of the table, and garbage that must not crash
it), the request body from a stored event, the event names, eligibility and the declaration.

Kwai documents none of this: the cases follow the community integrations of the platform
notes (section 6) and the choices jobs/platforms/kwai.py states.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tenaz.v1 import destinations_pb2

from jobs.canonical import CanonicalEvent
from jobs.platforms import registry
from jobs.platforms.base import OutcomeKind
from jobs.platforms.kwai import (
    CLASSIFICATION_RULES,
    DEFAULT_BASE_URL,
    PLATFORM,
    classify,
    properties,
    wire_event,
)

SUCCEEDED = OutcomeKind.SUCCEEDED
EXTERNAL = OutcomeKind.EXTERNAL_PROBLEM
REJECTED = OutcomeKind.REJECTED


def kwai(result: Any, error_msg: str | None = None, **extra: Any) -> bytes:
    document: dict[str, Any] = {"result": result, **extra}
    if error_msg is not None:
        document["error_msg"] = error_msg
    return json.dumps(document).encode()


# The rules in table order; unpacking fails loudly if a rule is added or removed.
(
    OK,
    HTTP_5XX,
    HTTP_408_429,
    CREDENTIALS_HTTP,
    TRY_AGAIN,
    CREDENTIALS_SAID,
    REFUSED,
    NO_ENDPOINT,
    TOO_LARGE,
    NOT_KWAI,
    UNEXPECTED,
) = (rule.name for rule in CLASSIFICATION_RULES)

HTML = b"<html><body>Bad Gateway</body></html>"

# (http status, body, kind, needs_action, rule): one or more cases per row of the table.
CASES = [
    pytest.param(200, kwai(1), SUCCEEDED, False, OK, id="result-1"),
    pytest.param(200, kwai(1, "success", host="x"), SUCCEEDED, False, OK, id="result-1-msg"),
    pytest.param(500, kwai(1), EXTERNAL, False, HTTP_5XX, id="500-result-1"),
    pytest.param(500, b"Internal Server Error", EXTERNAL, False, HTTP_5XX, id="500-text"),
    pytest.param(502, HTML, EXTERNAL, False, HTTP_5XX, id="502-html"),
    pytest.param(503, kwai(0, "clickid is empty"), EXTERNAL, False, HTTP_5XX, id="503-refusal"),
    pytest.param(408, b"", EXTERNAL, False, HTTP_408_429, id="408"),
    pytest.param(429, kwai(0, "clickid is empty"), EXTERNAL, False, HTTP_408_429, id="429"),
    pytest.param(401, b"Unauthorized", EXTERNAL, True, CREDENTIALS_HTTP, id="401"),
    pytest.param(403, HTML, EXTERNAL, True, CREDENTIALS_HTTP, id="403"),
    pytest.param(
        200, kwai(0, "system busy, please try again later"), EXTERNAL, False, TRY_AGAIN, id="busy"
    ),
    pytest.param(200, kwai(5, "Request too frequent"), EXTERNAL, False, TRY_AGAIN, id="frequent"),
    pytest.param(400, kwai(0, "timeout"), EXTERNAL, False, TRY_AGAIN, id="400-timeout"),
    pytest.param(
        200, kwai(0, "access_token invalid"), EXTERNAL, True, CREDENTIALS_SAID, id="token"
    ),
    pytest.param(
        200,
        kwai(0, "pixelId not exist or no permission"),
        EXTERNAL,
        True,
        CREDENTIALS_SAID,
        id="pixel",
    ),
    pytest.param(200, kwai(0, msg="unauthorized"), EXTERNAL, True, CREDENTIALS_SAID, id="msg"),
    pytest.param(200, kwai(0, "clickid is empty"), REJECTED, False, REFUSED, id="result-0"),
    pytest.param(200, kwai(0), REJECTED, False, REFUSED, id="result-0-silent"),
    pytest.param(200, kwai(-1, "event_name invalid"), REJECTED, False, REFUSED, id="result--1"),
    pytest.param(200, kwai(2, message="param invalid"), REJECTED, False, REFUSED, id="result-2"),
    pytest.param(400, kwai(0, "properties invalid"), REJECTED, False, REFUSED, id="400-kwai"),
    pytest.param(404, HTML, EXTERNAL, True, NO_ENDPOINT, id="404"),
    pytest.param(405, b"", EXTERNAL, True, NO_ENDPOINT, id="405"),
    pytest.param(410, b"", EXTERNAL, True, NO_ENDPOINT, id="410"),
    pytest.param(413, HTML, EXTERNAL, True, TOO_LARGE, id="413"),
    pytest.param(200, HTML, EXTERNAL, True, NOT_KWAI, id="200-html"),
    pytest.param(200, b"", EXTERNAL, True, NOT_KWAI, id="200-empty"),
    pytest.param(204, b"", EXTERNAL, True, NOT_KWAI, id="204"),
    pytest.param(200, kwai(True), EXTERNAL, True, NOT_KWAI, id="result-true"),
    pytest.param(200, kwai("1"), EXTERNAL, True, NOT_KWAI, id="result-text"),
    pytest.param(200, kwai(1.0), EXTERNAL, True, NOT_KWAI, id="result-float"),
    pytest.param(200, b"[1]", EXTERNAL, True, NOT_KWAI, id="array"),
    pytest.param(302, b"", EXTERNAL, True, NOT_KWAI, id="302"),
    pytest.param(400, b"Bad Request", EXTERNAL, True, NOT_KWAI, id="400-proxy"),
    pytest.param(422, b'{"error": "x"}', EXTERNAL, True, NOT_KWAI, id="422-proxy"),
    pytest.param(100, kwai(1), EXTERNAL, False, UNEXPECTED, id="1xx"),
    pytest.param(600, b"", EXTERNAL, False, UNEXPECTED, id="600"),
]


@pytest.mark.parametrize(("status", "body", "kind", "needs_action", "rule"), CASES)
def test_classification_table(
    status: int, body: bytes, kind: OutcomeKind, needs_action: bool, rule: str
) -> None:
    result = classify(status, body)
    assert (result.kind, result.needs_action, result.rule) == (kind, needs_action, rule)


def test_every_rule_of_the_table_is_exercised() -> None:
    exercised = {case.values[4] for case in CASES}
    assert exercised == {rule.name for rule in CLASSIFICATION_RULES}


def test_kwais_result_and_message_are_reported() -> None:
    refused = classify(200, kwai(0, "clickid is empty"))
    assert (refused.code, refused.message) == (0, "refused by Kwai: clickid is empty")
    assert classify(200, kwai(0)).message == "HTTP 200: refused by Kwai"
    assert classify(404, HTML).message.startswith("HTTP 404: no such endpoint")
    assert classify(200, HTML).code is None
    accepted = classify(200, kwai(1))
    assert (accepted.message, accepted.code) == ("", None)


def test_pathological_bodies() -> None:
    assert classify(200, b"[" * 200_000).rule == NOT_KWAI
    assert classify(200, b'{"result":1' + b"0" * 10_000 + b"}").rule == NOT_KWAI
    assert classify(200, b"\xff\xfe\x00{").rule == NOT_KWAI
    huge = b'{"result":1,"error_msg":"' + b"x" * (2 << 20) + b'"}'
    assert classify(200, huge).rule == NOT_KWAI
    assert len(classify(200, kwai(0, "m" * 100_000)).message) <= 1000


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(database=None, deadline=None)
@given(status=st.integers(min_value=0, max_value=1000), body=st.binary(max_size=512))
def test_random_bytes_never_crash(status: int, body: bytes) -> None:
    assert isinstance(classify(status, body).kind, OutcomeKind)


@settings(database=None, deadline=None)
@given(
    status=st.integers(min_value=0, max_value=1000),
    result=JSON_VALUES,
    message=JSON_VALUES,
)
def test_random_answers_never_crash(status: int, result: Any, message: Any) -> None:
    body = json.dumps({"result": result, "error_msg": message}).encode()
    assert isinstance(classify(status, body).message, str)


# -- the request --------------------------------------------------------------------------------


def stored(**changes: Any) -> dict[str, Any]:
    """A purchase as Tenaz stores it (jobs/canonical.py), with a Kwai click id."""
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": 1_760_000_000,
        "event_id": "order-1",
        "action_source": "website",
        "identifiers": {"kwai_click_id": "kwai-click-1", "client_ip_address": "203.0.113.9"},
        "hashed": {"meta": {"em": "a" * 64}},
        "custom_data": {
            "value": 197.5,
            "currency": "BRL",
            "order_id": "order-1",
            "contents": [{"id": "sku-1", "quantity": 1}, {"id": "sku-2", "quantity": 2}],
            "content_ids": ["sku-1", "sku-2"],
            "content_name": "Curso de violão",
        },
    }
    event.update(changes)
    return event


def kwai_name(name: str) -> str:
    return PLATFORM.event_names({}).get(name, name)


def test_the_request_body_from_a_stored_event() -> None:
    body = wire_event(stored(), kwai_name, pixel_id="276454450988322", test=True)
    assert body is not None
    assert body == {
        "pixelId": "276454450988322",
        "clickid": "kwai-click-1",
        "event_name": "EVENT_PURCHASE",
        "is_attributed": 1,
        "mmpcode": "PL",
        "pixelSdkVersion": "9.9.9",
        "properties": body["properties"],
        "testFlag": True,
        "trackFlag": False,
        "third_party": "tenaz",
    }
    # A JSON string, as Kwai wants it; no personal data (Kwai matches by click id only).
    assert isinstance(body["properties"], str)
    assert json.loads(body["properties"]) == {
        "content_name": "Curso de violão",
        "value": 197.5,
        "currency": "BRL",
        "content_id": "sku-1,sku-2",
        "content_type": "product",
    }
    assert "a" * 64 not in json.dumps(body)
    assert "203.0.113.9" not in json.dumps(body)


def test_properties_hold_only_what_the_event_has() -> None:
    bare = CanonicalEvent(stored(custom_data={}))
    assert properties(bare) == {}
    typed = CanonicalEvent(
        stored(custom_data={"content_type": "product_group", "contents": [{"id": "g-1"}]})
    )
    assert properties(typed) == {"content_id": "g-1", "content_type": "product_group"}
    # The caller's own content_id stands when the event has no contents.
    own = CanonicalEvent(stored(custom_data={"content_id": "curso-1", "value": 10}))
    assert properties(own) == {"content_id": "curso-1", "value": 10.0}


def test_an_event_json_cannot_carry_has_no_body() -> None:
    nan = stored(custom_data={"installments": float("nan")})
    assert wire_event(nan, kwai_name, pixel_id="1", test=False) is None


def test_default_event_names_and_a_destinations_own() -> None:
    names = PLATFORM.event_names({})
    assert names == {
        "Purchase": "EVENT_PURCHASE",
        "AddToCart": "EVENT_ADD_TO_CART",
        "ViewContent": "EVENT_CONTENT_VIEW",
        "CompleteRegistration": "EVENT_COMPLETE_REGISTRATION",
        "Lead": "EVENT_FORM_SUBMIT",
        "InitiateCheckout": "EVENT_INITIATED_CHECKOUT",
        "AddPaymentInfo": "EVENT_ADD_PAYMENT_INFO",
    }
    assert PLATFORM.event_names({"Lead": "EVENT_CONTACT"})["Lead"] == "EVENT_CONTACT"


def test_only_events_with_a_kwai_click_id_are_eligible() -> None:
    assert PLATFORM.eligible is not None
    assert PLATFORM.eligible(CanonicalEvent(stored()), {}) is None
    without = CanonicalEvent(stored(identifiers={"fbc": "fb.1.1.x"}))
    reason = PLATFORM.eligible(without, {})
    assert reason is not None
    assert "kwai_click_id" in reason


def test_the_declaration_matches_the_contract() -> None:
    assert registry.platform("kwai") is PLATFORM
    proto_fields = {f.name for f in destinations_pb2.KwaiSettings.DESCRIPTOR.fields}
    names = {s.name for s in PLATFORM.settings}
    assert proto_fields == names | {f"{s.name}_set" for s in PLATFORM.secret_settings}
    assert [s.name for s in PLATFORM.secret_settings] == ["access_token"]
    base_url = PLATFORM.setting("base_url")
    assert base_url is not None
    assert base_url.official_urls == (DEFAULT_BASE_URL,) == ("https://www.adsnebula.com",)
    assert (PLATFORM.max_batch_size, PLATFORM.hash_family) == (1, None)
    assert PLATFORM.max_event_age.days == 7
    assert "community" in PLATFORM.unverified
