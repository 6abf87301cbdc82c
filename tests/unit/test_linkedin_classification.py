"""LinkedIn's answers -> outcome kinds (the request as a whole, and each element of a
BATCH_CREATE), the wire format from a stored event, eligibility, and the "linkedin" hashing
family."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from jobs.canonical import CanonicalEvent
from jobs.pii import hashed_for, normalise_user_data
from jobs.platforms import registry
from jobs.platforms.base import OutcomeKind
from jobs.platforms.linkedin import (
    CLASSIFICATION_RULES,
    ELEMENT_RULES,
    classify_answer,
    element_answers,
    parse_linkedin_error,
    wire_event,
)
from jobs.platforms.rules import decide

SUCCEEDED = OutcomeKind.SUCCEEDED
EXTERNAL = OutcomeKind.EXTERNAL_PROBLEM
REJECTED = OutcomeKind.REJECTED
LINKEDIN = registry.platform("linkedin")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def linkedin_error(
    status: int, code: str = "", message: str = "LinkedIn says no", **extra: Any
) -> bytes:
    document: dict[str, Any] = {"status": status, "message": message, **extra}
    if code:
        document["code"] = code
    return json.dumps(document).encode()


(
    OK,
    NO_RESPONSE,
    HTTP_5XX,
    HTTP_408_429,
    CREDENTIALS,
    PERMISSION,  # the same name: one refusal, with an action for 401 and one for 403
    VERSION,
    NO_ENDPOINT,
    TOO_LARGE,
    REFUSED,
    UNEXPECTED_4XX,
    UNEXPECTED,
) = (rule.name for rule in CLASSIFICATION_RULES)

CASES = [
    pytest.param(200, b'{"elements":[{"status":201}]}', SUCCEEDED, False, OK, id="200"),
    pytest.param(None, b"", EXTERNAL, False, NO_RESPONSE, id="no-response"),
    pytest.param(500, b"Internal Server Error", EXTERNAL, False, HTTP_5XX, id="500-text"),
    pytest.param(503, linkedin_error(503, "SERVICE_UNAVAILABLE"), EXTERNAL, False, HTTP_5XX,
                 id="503-linkedin"),
    pytest.param(504, b"", EXTERNAL, False, HTTP_5XX, id="504"),
    pytest.param(408, b"", EXTERNAL, False, HTTP_408_429, id="408"),
    pytest.param(429, linkedin_error(429, "TOO_MANY_REQUESTS", serviceErrorCode=101), EXTERNAL,
                 False, HTTP_408_429, id="429"),
    pytest.param(401, linkedin_error(401, "REVOKED_ACCESS_TOKEN", serviceErrorCode=65601),
                 EXTERNAL, True, CREDENTIALS, id="401-revoked"),
    pytest.param(401, linkedin_error(401, message="Empty oauth2_access_token",
                                     serviceErrorCode=401),
                 EXTERNAL, True, CREDENTIALS, id="401-documented-sample"),
    pytest.param(403, linkedin_error(403, "ACCESS_DENIED", serviceErrorCode=100), EXTERNAL, True,
                 CREDENTIALS, id="403-access-denied"),
    pytest.param(403, b"<html>Forbidden</html>", EXTERNAL, True, CREDENTIALS, id="403-proxy"),
    pytest.param(426, linkedin_error(426, "NONEXISTENT_VERSION"), EXTERNAL, True, VERSION,
                 id="426-version"),
    pytest.param(404, linkedin_error(404, "NOT_FOUND"), EXTERNAL, True, NO_ENDPOINT, id="404"),
    pytest.param(405, b"", EXTERNAL, True, NO_ENDPOINT, id="405"),
    pytest.param(413, b"", EXTERNAL, True, TOO_LARGE, id="413"),
    pytest.param(400, linkedin_error(400, "INVALID_INPUT"), REJECTED, False, REFUSED, id="400"),
    pytest.param(422, linkedin_error(422, "UNPROCESSABLE_ENTITY"), REJECTED, False, REFUSED,
                 id="422"),
    pytest.param(409, linkedin_error(409, "CONFLICT"), REJECTED, False, REFUSED, id="409"),
    # Not LinkedIn's body: a proxy, a firewall, a wrong host; never a verdict on the events.
    pytest.param(400, b"Bad Request", EXTERNAL, True, UNEXPECTED_4XX, id="400-text"),
    pytest.param(400, b'{"status":400}', EXTERNAL, True, UNEXPECTED_4XX, id="no-message"),
    pytest.param(400, b'{"status":400,"message":"x"}', EXTERNAL, True, UNEXPECTED_4XX,
                 id="no-service-code"),
    pytest.param(400, b'{"status":"400","message":"x","code":"Y"}', EXTERNAL, True,
                 UNEXPECTED_4XX, id="status-as-text"),
    pytest.param(400, b'{"error":{"code":400,"message":"gateway"}}', EXTERNAL, True,
                 UNEXPECTED_4XX, id="gateway-json"),
    pytest.param(302, b"", EXTERNAL, True, UNEXPECTED_4XX, id="302"),
    pytest.param(100, b"", EXTERNAL, False, UNEXPECTED, id="1xx"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "kind", "needs_action", "rule"), CASES)
def test_request_classification_table(
    status: int | None, body: bytes, kind: OutcomeKind, needs_action: bool, rule: str
) -> None:
    result = classify_answer(status, body)
    assert (result.kind, result.needs_action, result.rule) == (kind, needs_action, rule)


def test_every_request_rule_is_exercised() -> None:
    assert {case.values[4] for case in CASES} == {rule.name for rule in CLASSIFICATION_RULES}


def test_linkedins_fields_are_reported() -> None:
    body = linkedin_error(401, "REVOKED_ACCESS_TOKEN", "The token has been revoked",
                          serviceErrorCode=65601)  # fmt: skip
    result = classify_answer(401, body)
    assert (result.code, result.message) == (
        65601,
        "REVOKED_ACCESS_TOKEN: The token has been revoked",
    )


ELEMENT_CASES = [
    pytest.param({"status": 201}, SUCCEEDED, False, "accepted", id="201"),
    pytest.param({"status": 200}, SUCCEEDED, False, "accepted", id="200"),
    pytest.param({"status": 409}, SUCCEEDED, False, "already recorded (same eventId)", id="409"),
    pytest.param({"status": 500}, EXTERNAL, False, "platform error (HTTP 5xx)", id="500"),
    pytest.param({"status": 429}, EXTERNAL, False, "timed out or rate limited (HTTP 408/429)",
                 id="429"),
    pytest.param({"status": 408}, EXTERNAL, False, "timed out or rate limited (HTTP 408/429)",
                 id="408"),
    pytest.param({"status": 401}, EXTERNAL, True, "credentials or permissions refused", id="401"),
    pytest.param({"status": 403, "error": {"status": 403, "message": "no role"}}, EXTERNAL, True,
                 "credentials or permissions refused", id="403"),
    pytest.param({"status": 400, "error": {"status": 400, "code": "INVALID_INPUT",
                                           "message": "bad amount"}},
                 REJECTED, False, "refused by the platform", id="400"),
    pytest.param({"status": 422}, REJECTED, False, "refused by the platform", id="422-bare"),
    pytest.param({"status": 302}, EXTERNAL, False, "unexpected status for the event", id="302"),
]  # fmt: skip


@pytest.mark.parametrize(("element", "kind", "needs_action", "rule"), ELEMENT_CASES)
def test_element_classification_table(
    element: dict[str, Any], kind: OutcomeKind, needs_action: bool, rule: str
) -> None:
    answers = element_answers(json.dumps({"elements": [element]}).encode(), 1)
    assert answers is not None
    result = decide(ELEMENT_RULES, answers[0])
    assert (result.kind, result.needs_action, result.rule) == (kind, needs_action, rule)


def test_every_element_rule_is_exercised() -> None:
    assert {case.values[3] for case in ELEMENT_CASES} == {rule.name for rule in ELEMENT_RULES}


def test_an_elements_message_is_linkedins() -> None:
    element = {"status": 400, "error": {"code": "INVALID_INPUT", "message": "bad amount"}}
    answers = element_answers(json.dumps({"elements": [element]}).encode(), 1)
    assert answers is not None
    assert decide(ELEMENT_RULES, answers[0]).message == "INVALID_INPUT: bad amount"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b'{"elements":[{"status":201}]}',  # one status for two events
        b'{"elements":[{"status":201},{"status":"201"}]}',
        b'{"elements":[{"status":201},null]}',
        b'{"elements":{"0":{"status":201}}}',
        b"[" * 100_000,
    ],
)
def test_a_batch_answer_without_a_status_per_event_is_not_read(body: bytes) -> None:
    assert element_answers(body, 2) is None


def test_pathological_error_bodies() -> None:
    assert parse_linkedin_error(b"\xff\xfe") is None
    assert (
        parse_linkedin_error(b'{"status":4' + b"0" * 10_000 + b',"message":"","code":"X"}') is None
    )
    long_message = linkedin_error(400, "INVALID_INPUT", "m" * 100_000)
    assert len(classify_answer(400, long_message).message) <= 1000


# -- the wire format ------------------------------------------------------------------------


def stored(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": 1_695_739_275,
        "event_id": "order-1",
        "action_source": "website",
        "identifiers": {"li_fat_id": "df5gf5-gh6t7", "client_ip_address": "203.0.113.9"},
        "hashed": {"linkedin": {"email": sha256("mike@example.com")}, "meta": {"fn": sha256("m")}},
        "custom_data": {"value": 1500.0, "currency": "usd"},
    }
    event.update(changes)
    return event


def test_a_stored_event_as_a_linkedin_element() -> None:
    assert wire_event(stored(), "104012") == {
        "conversion": "urn:lla:llaPartnerConversion:104012",
        "conversionHappenedAt": 1_695_739_275_000,
        "conversionValue": {"currencyCode": "USD", "amount": "1500.0"},
        "eventId": "order-1",
        "user": {
            "userIds": [
                {"idType": "SHA256_EMAIL", "idValue": sha256("mike@example.com")},
                {"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": "df5gf5-gh6t7"},
            ]
        },
    }


@pytest.mark.parametrize(
    ("value", "amount"), [(49.9, "49.9"), (0.1, "0.1"), (1e16, "10000000000000000"), (7, "7.0")]
)
def test_amounts_are_decimal_strings(value: float, amount: str) -> None:
    wire = wire_event(stored(custom_data={"value": value, "currency": "BRL"}), "1")
    assert wire["conversionValue"] == {"currencyCode": "BRL", "amount": amount}


def test_no_value_no_conversion_value_and_no_plain_text_user_info() -> None:
    wire = wire_event(stored(custom_data={}), "1")
    assert "conversionValue" not in wire
    assert wire["user"].keys() == {"userIds"}


def test_eligibility_needs_a_rule_and_an_email_or_li_fat_id() -> None:
    assert LINKEDIN.eligible is not None
    settings = {"conversion_rules": {"Purchase": "104012"}}
    assert LINKEDIN.eligible(CanonicalEvent(stored()), settings) is None
    only_fat_id = stored(hashed={}, identifiers={"li_fat_id": "x"})
    assert LINKEDIN.eligible(CanonicalEvent(only_fat_id), settings) is None
    only_email = stored(identifiers={})
    assert LINKEDIN.eligible(CanonicalEvent(only_email), settings) is None
    neither = stored(hashed={"meta": {"em": sha256("x")}}, identifiers={"fbc": "x"})
    assert "li_fat_id" in str(LINKEDIN.eligible(CanonicalEvent(neither), settings))
    lead = stored(event_name="Lead")
    assert "conversion rule for 'Lead'" in str(LINKEDIN.eligible(CanonicalEvent(lead), settings))


def test_the_platform_declaration() -> None:
    assert (LINKEDIN.max_batch_size, LINKEDIN.max_event_age.days, LINKEDIN.hash_family) == (
        1000,
        90,
        "linkedin",
    )
    assert [s.name for s in LINKEDIN.secret_settings] == ["access_token"]
    assert [s.name for s in LINKEDIN.plain_settings] == [
        "conversion_rules",
        "api_version",
        "base_url",
    ]
    version = LINKEDIN.setting("api_version")
    assert version is not None and version.default == "202603"
    assert LINKEDIN.default_event_names == {}
    assert LINKEDIN.unverified


def test_the_linkedin_family_hashes_the_email_only() -> None:
    # LinkedIn: the email lowercased and trimmed, then SHA-256; no dot or "+tag" removal.
    data = normalise_user_data(
        {"email": " Mike.Smith+ads@Example.com ", "phone": "+5511987654321", "first_name": "Mike"}
    )
    assert hashed_for("linkedin", data) == {"email": sha256("mike.smith+ads@example.com")}
