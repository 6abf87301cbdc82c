"""The webhook: the receiver's answers -> outcome kinds, Standard Webhooks signing (the
specification's own test vector), the signing secret's format, the body's envelope, the
webhook-id, and the declaration."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tenaz.v1 import destinations_pb2

from jobs.platforms import registry
from jobs.platforms.base import OutcomeKind, OutgoingEvent
from jobs.platforms.standard_webhooks import decode_secret, secret_problem, sign, verify
from jobs.platforms.webhook import (
    CLASSIFICATION_RULES,
    PLATFORM,
    SANDBOX_SECRET,
    classify,
    envelope,
    message_id,
)

SUCCEEDED = OutcomeKind.SUCCEEDED
EXTERNAL = OutcomeKind.EXTERNAL_PROBLEM
REJECTED = OutcomeKind.REJECTED

# The rules in table order; unpacking fails loudly if a rule is added or removed.
(
    OK,
    TIMEOUT_OR_THROTTLED,
    RECEIVER_ERROR,
    REDIRECTED,
    SIGNATURE_REFUSED,
    NO_WEBHOOK,
    TOO_LARGE,
    REFUSED,
    UNEXPECTED,
) = (rule.name for rule in CLASSIFICATION_RULES)

# (http status, kind, needs_action, rule): one or more cases per row of the table.
CASES = [
    pytest.param(200, SUCCEEDED, False, OK, id="200"),
    pytest.param(202, SUCCEEDED, False, OK, id="202"),
    pytest.param(204, SUCCEEDED, False, OK, id="204"),
    pytest.param(408, EXTERNAL, False, TIMEOUT_OR_THROTTLED, id="408"),
    pytest.param(429, EXTERNAL, False, TIMEOUT_OR_THROTTLED, id="429"),
    pytest.param(500, EXTERNAL, False, RECEIVER_ERROR, id="500"),
    pytest.param(502, EXTERNAL, False, RECEIVER_ERROR, id="502"),
    pytest.param(503, EXTERNAL, False, RECEIVER_ERROR, id="503"),
    pytest.param(504, EXTERNAL, False, RECEIVER_ERROR, id="504"),
    pytest.param(301, EXTERNAL, True, REDIRECTED, id="301"),
    pytest.param(302, EXTERNAL, True, REDIRECTED, id="302"),
    pytest.param(307, EXTERNAL, True, REDIRECTED, id="307"),
    pytest.param(308, EXTERNAL, True, REDIRECTED, id="308"),
    pytest.param(401, EXTERNAL, True, SIGNATURE_REFUSED, id="401"),
    pytest.param(403, EXTERNAL, True, SIGNATURE_REFUSED, id="403"),
    pytest.param(404, EXTERNAL, True, NO_WEBHOOK, id="404"),
    pytest.param(405, EXTERNAL, True, NO_WEBHOOK, id="405"),
    pytest.param(410, EXTERNAL, True, NO_WEBHOOK, id="410"),
    pytest.param(413, EXTERNAL, True, TOO_LARGE, id="413"),
    pytest.param(400, REJECTED, False, REFUSED, id="400"),
    pytest.param(409, REJECTED, False, REFUSED, id="409"),
    pytest.param(422, REJECTED, False, REFUSED, id="422"),
    pytest.param(451, REJECTED, False, REFUSED, id="451"),
    pytest.param(100, EXTERNAL, False, UNEXPECTED, id="1xx"),
    pytest.param(600, EXTERNAL, False, UNEXPECTED, id="600"),
]


@pytest.mark.parametrize(("status", "kind", "needs_action", "rule"), CASES)
def test_classification_table(
    status: int, kind: OutcomeKind, needs_action: bool, rule: str
) -> None:
    result = classify(status, b'{"error": "whatever the receiver says"}')
    assert (result.kind, result.needs_action, result.rule) == (kind, needs_action, rule)


def test_every_rule_of_the_table_is_exercised() -> None:
    exercised = {case.values[3] for case in CASES}
    assert exercised == {rule.name for rule in CLASSIFICATION_RULES}


def test_messages_name_the_status() -> None:
    assert classify(200).message == ""
    assert classify(400).message == "HTTP 400: refused by the receiver"
    assert classify(308).message.startswith("HTTP 308: redirected, which Tenaz does not follow")
    assert classify(401).message.endswith("check the signing secret")


@settings(database=None, deadline=None)
@given(status=st.integers(min_value=0, max_value=1000), body=st.binary(max_size=256))
def test_any_answer_is_classified(status: int, body: bytes) -> None:
    assert isinstance(classify(status, body).kind, OutcomeKind)


# -- signing -------------------------------------------------------------------------------------

# The test vector of the specification's reference libraries: TestWebhookSign in
# libraries/go/webhook_test.go of standard-webhooks/standard-webhooks (commit b2fa7b8), the
# same in its JavaScript, Java and C# tests.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_PAYLOAD = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specifications_test_vector() -> None:
    key = decode_secret(VECTOR_SECRET)
    assert len(key) == 24
    assert sign(key, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD) == VECTOR_SIGNATURE


def test_verification_takes_any_matching_v1_signature() -> None:
    key = decode_secret(VECTOR_SECRET)
    stamp = str(VECTOR_TIMESTAMP)
    assert verify(key, VECTOR_ID, stamp, VECTOR_PAYLOAD, VECTOR_SIGNATURE)
    # A rotation sends several; other schemes (v1a) are skipped.
    rotated = f"v1,b2xkIHNpZ25hdHVyZQ== v1a,aGVsbG8= {VECTOR_SIGNATURE}"
    assert verify(key, VECTOR_ID, stamp, VECTOR_PAYLOAD, rotated)


@pytest.mark.parametrize(
    ("message_id", "timestamp", "payload", "header"),
    [
        pytest.param(VECTOR_ID, "1614265330", b'{"test": 2432232315}', VECTOR_SIGNATURE, id="body"),
        pytest.param("msg_other", "1614265330", VECTOR_PAYLOAD, VECTOR_SIGNATURE, id="id"),
        pytest.param(VECTOR_ID, "1614265331", VECTOR_PAYLOAD, VECTOR_SIGNATURE, id="timestamp"),
        pytest.param(VECTOR_ID, "١٦١٤٢٦٥٣٣٠", VECTOR_PAYLOAD, VECTOR_SIGNATURE, id="not-ascii"),
        pytest.param(VECTOR_ID, "1614265330", VECTOR_PAYLOAD, VECTOR_SIGNATURE[3:], id="no-v1"),
        pytest.param(
            VECTOR_ID, "1614265330", VECTOR_PAYLOAD, "v1a" + VECTOR_SIGNATURE[2:], id="v1a"
        ),
        pytest.param(VECTOR_ID, "1614265330", VECTOR_PAYLOAD, "", id="empty"),
    ],
)
def test_a_changed_request_does_not_verify(
    message_id: str, timestamp: str, payload: bytes, header: str
) -> None:
    assert not verify(decode_secret(VECTOR_SECRET), message_id, timestamp, payload, header)


def whsec(size: int, *, padded: bool = True) -> str:
    encoded = base64.b64encode(bytes(range(size))).decode()
    return "whsec_" + (encoded if padded else encoded.rstrip("="))


@pytest.mark.parametrize(
    "secret",
    [whsec(24), whsec(25), whsec(26, padded=False), whsec(32), whsec(64), whsec(64, padded=False)],
)
def test_signing_secrets_of_24_to_64_bytes_are_taken(secret: str) -> None:
    assert secret_problem(secret) is None


@pytest.mark.parametrize(
    ("secret", "said"),
    [
        pytest.param(whsec(23), "it holds 23 bytes", id="23-bytes"),
        pytest.param(whsec(65), "it holds 65 bytes", id="65-bytes"),
        pytest.param("whsec_", "it holds 0 bytes", id="empty"),
        pytest.param(whsec(32)[6:], "must be", id="no-prefix"),
        pytest.param("whsk_" + whsec(32)[6:], "must be", id="asymmetric-prefix"),
        pytest.param("whsec_" + "a-b_" * 10, "not base64", id="url-safe"),
        pytest.param("whsec_" + "A" * 33, "not base64", id="bad-length"),
        pytest.param(whsec(32) + " ", "not base64", id="space"),
    ],
)
def test_other_signing_secrets_are_refused_without_being_repeated(secret: str, said: str) -> None:
    problem = secret_problem(secret)
    assert problem is not None
    assert said in problem
    assert secret.removeprefix("whsec_") not in problem or secret == "whsec_"


# -- the body and its id -------------------------------------------------------------------------

STORED: dict[str, Any] = {
    "event_name": "Purchase",
    "event_time": 1_760_000_000,
    "event_id": "order-1",
    "action_source": "website",
    "event_source_url": "https://shop.example.com/obrigado",
    "identifiers": {"fbc": "fb.1.1.abc", "kwai_click_id": "click-1"},
    "hashed": {"meta": {"em": "e" * 64, "ph": "f" * 64}, "tiktok": {"email": "0" * 64}},
    "custom_data": {"value": 197.5, "currency": "BRL", "order_id": "order-1", "coupon": "X"},
}


def test_the_envelope_of_a_stored_event() -> None:
    body = envelope(STORED, lambda name: {"Purchase": "order.paid"}.get(name, name))
    assert body == {
        "type": "conversion",
        "timestamp": "2025-10-09T08:53:20Z",
        "data": {
            "event_name": "order.paid",
            "event_id": "order-1",
            "event_time": 1_760_000_000,
            "action_source": "website",
            "event_source_url": "https://shop.example.com/obrigado",
            "identifiers": {"fbc": "fb.1.1.abc", "kwai_click_id": "click-1"},
            "hashed": {"em": "e" * 64, "ph": "f" * 64},
            "custom_data": {
                "value": 197.5,
                "currency": "BRL",
                "order_id": "order-1",
                "coupon": "X",
            },
        },
    }


def test_an_event_with_nothing_optional_has_every_key() -> None:
    bare = {"event_name": "Lead", "event_time": 0, "event_id": "l-1", "action_source": "other"}
    assert envelope(bare, str)["data"] == {
        "event_name": "Lead",
        "event_id": "l-1",
        "event_time": 0,
        "action_source": "other",
        "event_source_url": None,
        "identifiers": {},
        "hashed": {},
        "custom_data": {},
    }
    assert json.dumps(envelope(bare, str))  # plain JSON


def test_the_webhook_id_is_the_deliverys() -> None:
    first = message_id(OutgoingEvent(7, STORED))
    assert re.fullmatch(r"msg_[a-z2-7]{32}", first)
    assert message_id(OutgoingEvent(7, dict(STORED))) == first  # every attempt
    assert message_id(OutgoingEvent(8, STORED)) != first  # another destination's delivery
    assert message_id(OutgoingEvent(7, {**STORED, "event_id": "order-2"})) != first
    dotted = message_id(OutgoingEvent(7, {**STORED, "event_id": "a.b.c"}))
    assert "." not in dotted


# -- the declaration -----------------------------------------------------------------------------


def test_the_declaration_matches_the_contract() -> None:
    assert registry.platform("webhook") is PLATFORM
    proto_fields = {f.name for f in destinations_pb2.WebhookSettings.DESCRIPTOR.fields}
    names = {s.name for s in PLATFORM.settings}
    assert proto_fields == names | {f"{s.name}_set" for s in PLATFORM.secret_settings}
    url = PLATFORM.setting("url")
    assert url is not None
    assert (url.any_public_url, url.locates_secrets, url.required) == (True, True, True)
    secret = PLATFORM.setting("signing_secret")
    assert secret is not None
    assert (secret.secret, secret.required, secret.validate) == (True, True, secret_problem)
    assert (PLATFORM.max_batch_size, PLATFORM.hash_family) == (1, "meta")
    assert PLATFORM.max_event_age.days == 7
    assert PLATFORM.default_event_names == {}
    assert secret_problem(SANDBOX_SECRET) is None
