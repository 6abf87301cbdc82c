"""Google Ads answers -> outcomes (every code of the platform notes' table, per conversion and per
request, and answers that are not Google's), the ClickConversion made of a stored event, what
the platform can take, and the "google" hashing family against Google's documented rules."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.canonical import CanonicalEvent
from jobs.pii import hashed_for, normalise_user_data
from jobs.platforms import google_ads
from jobs.platforms.base import Classification, OutcomeKind
from jobs.platforms.google_ads_errors import (
    PERMANENT_CODES,
    REQUEST_RULES,
    classify,
    classify_request,
)
from jobs.platforms.google_oauth import classify_token_answer

SUCCEEDED = OutcomeKind.SUCCEEDED
EXTERNAL = OutcomeKind.EXTERNAL_PROBLEM
REJECTED = OutcomeKind.REJECTED
UPLOAD = "conversionUploadError"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def ads_error(category: str, code: str, row: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"errorCode": {category: code}, "message": f"{code} happened."}
    if row is not None:
        error["location"] = {
            "fieldPathElements": [
                {"fieldName": "conversions", "index": row},
                {"fieldName": "gclid"},
            ]
        }
    return error


def partial(*errors: dict[str, Any], results: int = 0) -> bytes:
    """A 200 answer with `partialFailureError` holding `errors`."""
    document: dict[str, Any] = {"results": [{} for _ in range(results)], "jobId": "42"}
    if errors:
        document["partialFailureError"] = {
            "code": 3,
            "message": "Errors in conversions.",
            "details": [
                {
                    "@type": "type.googleapis.com/google.ads.googleads.v21.errors.GoogleAdsFailure",
                    "errors": list(errors),
                    "requestId": "r1",
                }
            ],
        }
    return json.dumps(document).encode()


def rpc_error(status: int, name: str, *errors: dict[str, Any]) -> bytes:
    error: dict[str, Any] = {"code": status, "message": f"{name} says no", "status": name}
    if errors:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.ads.googleads.v21.errors.GoogleAdsFailure",
                "errors": list(errors),
            }
        ]
    return json.dumps({"error": error}).encode()


def one(status: int, body: bytes) -> Classification:
    [verdict] = classify(status, body, 1)
    return verdict


# -- one conversion's errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    "code", ["TOO_RECENT_EVENT", "TOO_RECENT_CONVERSION_ACTION", "TOO_RECENT_CALL"]
)
def test_too_recent_conversions_wait_for_google(code: str) -> None:
    verdict = one(200, partial(ads_error(UPLOAD, code, 0)))
    assert (verdict.kind, verdict.needs_action) == (EXTERNAL, False)
    assert verdict.message.startswith(f"{code}: ")


@pytest.mark.parametrize(
    "code",
    [
        "CLICK_CONVERSION_ALREADY_EXISTS",
        "CALL_CONVERSION_ALREADY_EXISTS",
        "ORDER_ID_ALREADY_IN_USE",
    ],
)
def test_duplicates_mean_an_earlier_attempt_was_taken(code: str) -> None:
    verdict = one(200, partial(ads_error(UPLOAD, code, 0)))
    assert verdict.kind is SUCCEEDED
    assert code in verdict.message


def test_any_already_exists_code_is_a_duplicate() -> None:
    assert one(200, partial(ads_error(UPLOAD, "SOMETHING_ALREADY_EXISTS", 0))).kind is SUCCEEDED


def test_click_not_found_is_taken_with_googles_warning_kept() -> None:
    verdict = one(200, partial(ads_error(UPLOAD, "CLICK_NOT_FOUND", 0)))
    assert verdict.kind is SUCCEEDED
    assert verdict.message.startswith("CLICK_NOT_FOUND: ")


def test_event_not_found_is_final() -> None:
    assert one(200, partial(ads_error(UPLOAD, "EVENT_NOT_FOUND", 0))).kind is REJECTED


@pytest.mark.parametrize("code", sorted(PERMANENT_CODES))
def test_the_permanent_codes_refuse_the_conversion(code: str) -> None:
    verdict = one(200, partial(ads_error(UPLOAD, code, 0)))
    assert (verdict.kind, verdict.needs_action) == (REJECTED, False)
    assert verdict.message == f"{code}: {code} happened."
    assert verdict.code is None  # codes are strings: they live in the message


@pytest.mark.parametrize(
    ("category", "code", "kind"),
    [
        ("internalError", "INTERNAL_ERROR", EXTERNAL),
        ("quotaError", "RESOURCE_TEMPORARILY_EXHAUSTED", EXTERNAL),
        ("fieldError", "REQUIRED", REJECTED),
        ("dateError", "INVALID_FIELD_VALUES_IN_DATE_TIME", REJECTED),
        ("collectionSizeError", "TOO_MANY", REJECTED),
        (UPLOAD, "A_CODE_OF_A_LATER_VERSION", REJECTED),
    ],
)
def test_other_errors_of_a_conversion(category: str, code: str, kind: OutcomeKind) -> None:
    assert one(200, partial(ads_error(category, code, 0))).kind is kind


@pytest.mark.parametrize(
    ("codes", "kind"),
    [
        (["CLICK_CONVERSION_ALREADY_EXISTS", "TOO_RECENT_EVENT"], EXTERNAL),
        (["TOO_RECENT_EVENT", "UNPARSEABLE_GCLID"], REJECTED),
        (["ORDER_ID_ALREADY_IN_USE", "CLICK_CONVERSION_ALREADY_EXISTS"], SUCCEEDED),
    ],
)
def test_a_conversion_with_several_errors_takes_the_gravest(
    codes: list[str], kind: OutcomeKind
) -> None:
    verdict = one(200, partial(*(ads_error(UPLOAD, c, 0) for c in codes)))
    assert verdict.kind is kind
    assert all(code in verdict.message for code in codes)


def test_errors_go_to_the_conversions_they_name() -> None:
    body = partial(
        ads_error(UPLOAD, "UNPARSEABLE_GCLID", 0),
        ads_error(UPLOAD, "TOO_RECENT_EVENT", 2),
        results=4,
    )
    verdicts = classify(200, body, 4)
    assert [v.kind for v in verdicts] == [REJECTED, SUCCEEDED, EXTERNAL, SUCCEEDED]
    assert "UNPARSEABLE_GCLID" in verdicts[0].message
    assert verdicts[1].message == ""


def test_errors_naming_no_conversion_send_the_others_again() -> None:
    # Without a conversion index (or with one past the request's end) Google has not said
    # which conversion failed: the ones no error names go again rather than count as taken.
    for unnamed in (ads_error(UPLOAD, "EXPIRED_EVENT"), ads_error(UPLOAD, "EXPIRED_EVENT", 9)):
        verdicts = classify(200, partial(ads_error(UPLOAD, "UNPARSEABLE_GCLID", 1), unnamed), 2)
        assert [v.kind for v in verdicts] == [EXTERNAL, REJECTED]
        assert "EXPIRED_EVENT" in verdicts[0].message


@pytest.mark.parametrize(
    ("body", "kind", "needs_action"),
    [
        pytest.param(partial(results=2), SUCCEEDED, False, id="results-only"),
        pytest.param(b"{}", SUCCEEDED, False, id="empty-object"),
        pytest.param(b"<html>OK</html>", EXTERNAL, True, id="not-json"),
        pytest.param(b"[]", EXTERNAL, True, id="json-array"),
    ],
)
def test_2xx_answers(body: bytes, kind: OutcomeKind, needs_action: bool) -> None:
    verdicts = classify(200, body, 2)
    assert {(v.kind, v.needs_action) for v in verdicts} == {(kind, needs_action)}


# -- a whole request ------------------------------------------------------------------------

# The rules in table order; unpacking fails loudly if a rule is added or removed.
(
    CREDENTIALS,
    PERMISSION,  # the same name: one refusal, with an action for a token and one for a grant
    QUOTA,
    TEMPORARY,
    TIMEOUT,
    HEADERS,
    TOO_LARGE,
    BY_ROW,
    WHOLE,
    NOT_GOOGLE,
    UNEXPECTED,
) = (rule.name for rule in REQUEST_RULES)

REQUEST_CASES = [
    pytest.param(
        401,
        rpc_error(401, "UNAUTHENTICATED", ads_error("authenticationError", "OAUTH_TOKEN_INVALID")),
        EXTERNAL,
        True,
        CREDENTIALS,
        id="oauth-token-invalid",
    ),
    pytest.param(
        401,
        rpc_error(
            401, "UNAUTHENTICATED", ads_error("authenticationError", "DEVELOPER_TOKEN_INVALID")
        ),
        EXTERNAL,
        True,
        CREDENTIALS,
        id="developer-token-invalid",
    ),
    pytest.param(
        401,
        rpc_error(401, "UNAUTHENTICATED"),
        EXTERNAL,
        True,
        CREDENTIALS,
        id="401-without-details",
    ),
    pytest.param(
        403,
        rpc_error(
            403, "PERMISSION_DENIED", ads_error("authorizationError", "USER_PERMISSION_DENIED")
        ),
        EXTERNAL,
        True,
        CREDENTIALS,
        id="user-permission-denied",
    ),
    pytest.param(
        403,
        rpc_error(
            403,
            "PERMISSION_DENIED",
            ads_error("authorizationError", "DEVELOPER_TOKEN_NOT_APPROVED"),
        ),
        EXTERNAL,
        True,
        CREDENTIALS,
        id="developer-token-not-approved",
    ),
    pytest.param(
        429,
        rpc_error(429, "RESOURCE_EXHAUSTED", ads_error("quotaError", "RESOURCE_EXHAUSTED")),
        EXTERNAL,
        False,
        QUOTA,
        id="resource-exhausted",
    ),
    pytest.param(
        429,
        rpc_error(
            429, "RESOURCE_EXHAUSTED", ads_error("quotaError", "RESOURCE_TEMPORARILY_EXHAUSTED")
        ),
        EXTERNAL,
        False,
        QUOTA,
        id="resource-temporarily-exhausted",
    ),
    pytest.param(429, b"Too Many Requests", EXTERNAL, False, QUOTA, id="429-bare"),
    pytest.param(
        500,
        rpc_error(500, "INTERNAL", ads_error("internalError", "INTERNAL_ERROR")),
        EXTERNAL,
        False,
        TEMPORARY,
        id="internal-error",
    ),
    pytest.param(
        503,
        rpc_error(503, "UNAVAILABLE", ads_error("internalError", "TRANSIENT_ERROR")),
        EXTERNAL,
        False,
        TEMPORARY,
        id="transient-error",
    ),
    pytest.param(
        504, rpc_error(504, "DEADLINE_EXCEEDED"), EXTERNAL, False, TEMPORARY, id="deadline-exceeded"
    ),
    pytest.param(502, b"<html>Bad Gateway</html>", EXTERNAL, False, TEMPORARY, id="502-html"),
    pytest.param(408, b"", EXTERNAL, False, TIMEOUT, id="408"),
    pytest.param(
        400,
        rpc_error(400, "INVALID_ARGUMENT", ads_error("headerError", "INVALID_LOGIN_CUSTOMER_ID")),
        EXTERNAL,
        True,
        HEADERS,
        id="invalid-login-customer-id",
    ),
    pytest.param(413, b"Request Entity Too Large", EXTERNAL, True, TOO_LARGE, id="413"),
    pytest.param(
        400,
        rpc_error(400, "INVALID_ARGUMENT", ads_error(UPLOAD, "TOO_MANY_CONVERSIONS_IN_REQUEST")),
        EXTERNAL,
        True,
        WHOLE,
        id="too-many-conversions",
    ),
    pytest.param(
        400,
        rpc_error(400, "INVALID_ARGUMENT"),
        EXTERNAL,
        True,
        WHOLE,
        id="invalid-json-payload",
    ),
    pytest.param(404, b"<html>Not Found</html>", EXTERNAL, True, NOT_GOOGLE, id="404-html"),
    pytest.param(
        403,
        b'{"error": {"code": 403, "message": "RBAC: access denied"}}',
        EXTERNAL,
        True,
        NOT_GOOGLE,
        id="gateway-403",
    ),
    pytest.param(302, b"", EXTERNAL, True, NOT_GOOGLE, id="redirect"),
    pytest.param(600, b"", EXTERNAL, False, UNEXPECTED, id="600"),
]


@pytest.mark.parametrize(("status", "body", "kind", "needs_action", "rule"), REQUEST_CASES)
def test_whole_request_answers(
    status: int, body: bytes, kind: OutcomeKind, needs_action: bool, rule: str
) -> None:
    assert classify_request(status, body).name == rule
    verdicts = classify(status, body, 3)
    assert {(v.kind, v.needs_action, v.rule) for v in verdicts} == {(kind, needs_action, rule)}
    assert verdicts[0].message


def test_a_code_goes_in_the_message() -> None:
    body = rpc_error(
        401, "UNAUTHENTICATED", ads_error("authenticationError", "OAUTH_TOKEN_REVOKED")
    )
    assert one(401, body).message == "OAUTH_TOKEN_REVOKED: OAUTH_TOKEN_REVOKED happened."


def test_a_request_refused_for_some_conversions() -> None:
    body = rpc_error(
        400,
        "INVALID_ARGUMENT",
        ads_error(UPLOAD, "UNPARSEABLE_GCLID", 1),
        ads_error(UPLOAD, "CLICK_CONVERSION_ALREADY_EXISTS", 2),
        ads_error(UPLOAD, "CLICK_NOT_FOUND", 3),
    )
    verdicts = classify(400, body, 4)
    # Nothing of a refused request was recorded: the unnamed conversion and the one Google
    # only warned about go again; a duplicate was taken earlier.
    assert [v.kind for v in verdicts] == [EXTERNAL, REJECTED, SUCCEEDED, EXTERNAL]
    assert classify_request(400, body).name == BY_ROW


@settings(max_examples=300, deadline=None)
@given(status=st.integers(100, 999), body=st.binary(max_size=300), count=st.integers(1, 4))
def test_classification_is_total(status: int, body: bytes, count: int) -> None:
    assert len(classify(status, body, count)) == count


@settings(max_examples=200, deadline=None)
@given(
    document=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_classification_survives_any_json(document: Any) -> None:
    for status in (200, 400, 401):
        body = json.dumps({"partialFailureError": document, "error": document}).encode()
        assert len(classify(status, body, 2)) == 2


# -- the token endpoint ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "needs_action", "text"),
    [
        (
            400,
            b'{"error": "invalid_grant",'
            b' "error_description": "Token has been expired or revoked."}',
            True,
            "invalid_grant: Token has been expired or revoked.",
        ),
        (
            401,
            b'{"error": "invalid_client", "error_description": "The OAuth client was not found."}',
            True,
            "invalid_client",
        ),
        (400, b'{"error": "unauthorized_client"}', True, "unauthorized_client"),
        (503, b"Service Unavailable", False, "HTTP 503"),
        (429, b'{"error": "rate_limit_exceeded"}', False, "rate_limit_exceeded"),
        (404, b"<html>Not Found</html>", True, "token_base_url"),
        (200, b'{"token_type": "Bearer"}', True, "token_base_url"),
    ],
)
def test_token_endpoint_answers(status: int, body: bytes, needs_action: bool, text: str) -> None:
    verdict = classify_token_answer(status, body)
    assert (verdict.kind, verdict.needs_action) == (EXTERNAL, needs_action)
    assert text in verdict.message


# -- the conversion made of a stored event -------------------------------------------------

NOW = dt.datetime(2026, 3, 1, 12, 30, 15, tzinfo=dt.UTC)


def stored(
    *,
    identifiers: dict[str, str] | None = None,
    user: dict[str, str] | None = None,
    custom: dict[str, Any] | None = None,
    name: str = "Purchase",
) -> dict[str, Any]:
    """An event as Tenaz stores it, hashed by the google family like submission does."""
    personal = normalise_user_data(user or {})
    return {
        "event_name": name,
        "event_time": int(NOW.timestamp()),
        "event_id": "evt-1",
        "action_source": "website",
        "identifiers": identifiers or {},
        "hashed": {"google": hashed_for("google", personal)},
        "custom_data": custom or {},
    }


def test_a_click_conversion_from_a_stored_event() -> None:
    payload = stored(
        identifiers={"gclid": "Cj0KCQiA-fake-gclid", "fbp": "fb.1.2.3"},
        user={"email": " Maria.Silva@GMAIL.com ", "phone": "+55 (11) 98765-4321"},
        custom={"value": 99.9, "currency": "BRL", "order_id": "pedido-7"},
    )
    conversion = google_ads.click_conversion(payload, customer_id="1234567890", action_id="555")
    assert conversion == {
        "gclid": "Cj0KCQiA-fake-gclid",
        "conversionAction": "customers/1234567890/conversionActions/555",
        "conversionDateTime": "2026-03-01 12:30:15+00:00",
        "conversionValue": 99.9,
        "currencyCode": "BRL",
        "orderId": "pedido-7",
        "userIdentifiers": [
            {"hashedEmail": sha256("mariasilva@gmail.com")},
            {"hashedPhoneNumber": sha256("+5511987654321")},
        ],
    }


def test_the_event_id_stands_in_for_a_missing_order_id_and_one_click_id_goes() -> None:
    payload = stored(identifiers={"gbraid": "gbraid-value-1", "wbraid": "wbraid-value-1"})
    conversion = google_ads.click_conversion(payload, customer_id="1", action_id="2")
    assert conversion["orderId"] == "evt-1"
    assert (conversion.get("gbraid"), "wbraid" in conversion) == ("gbraid-value-1", False)
    assert "userIdentifiers" not in conversion and "conversionValue" not in conversion


def test_conversion_date_time_is_utc_with_its_offset() -> None:
    sao_paulo = dt.timezone(dt.timedelta(hours=-3))
    when = dt.datetime(2026, 1, 2, 21, 0, 0, tzinfo=sao_paulo)
    assert google_ads.conversion_date_time(when) == "2026-01-03 00:00:00+00:00"


# -- what the platform can take ------------------------------------------------------------

ACTIONS = {"conversion_actions": {"Purchase": "555"}}


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (stored(identifiers={"gclid": "abc"}), None),
        (stored(identifiers={"wbraid": "abc"}), None),
        (stored(user={"phone": "+1 800 555 0100"}), None),
        (stored(user={"city": "Recife"}), "needs a Google click id"),
        (stored(identifiers={"gclid": "abc"}, name="Lead"), "no conversion action for 'Lead'"),
    ],
)
def test_eligibility(payload: dict[str, Any], problem: str | None) -> None:
    found = google_ads.eligible(CanonicalEvent(payload), ACTIONS)
    assert found is None if problem is None else problem in str(found)


def test_google_ads_has_no_event_names_its_conversion_actions_name_the_events() -> None:
    assert google_ads.PLATFORM.default_event_names == {}
    assert google_ads.PLATFORM.hash_family == "google"
    assert google_ads.PLATFORM.max_batch_size == 2000


def test_the_deadline_is_the_lookback_window() -> None:
    platform = google_ads.PLATFORM
    assert platform.deadline({}, NOW) == NOW + dt.timedelta(days=90)
    assert platform.deadline({"lookback_days": 30}, NOW) == NOW + dt.timedelta(days=30)


# -- the google hashing family, against Google's documented normalisation -------------------

# Google's docs (Google Ads enhanced conversions, GA4 user-provided data, Data Manager API):
# trim, lowercase, remove the dots before the domain of gmail.com and googlemail.com
# addresses only; phones in E.164 with "+". The official google-ads-python tests of
# normalize_and_hash_email_address agree: "user.name+alias@gmail.com" becomes
# "username+alias@gmail.com" and "first.last@otherdomain.com" keeps its dots.
EMAILS = [
    ("  Jane.Doe@Gmail.com ", "janedoe@gmail.com"),
    ("first.last@googlemail.com", "firstlast@googlemail.com"),
    ("user.name+alias@gmail.com", "username+alias@gmail.com"),
    ("first.last@otherdomain.com", "first.last@otherdomain.com"),
    ("alex.2@example.com", "alex.2@example.com"),
    ("Someone@Mail.Gmail.com", "someone@mail.gmail.com"),
]
PHONES = [
    ("+1 (800) 555-0100", "+18005550100"),  # Data Manager API's example
    ("+1 800 5550102", "+18005550102"),  # google-ads-python's example record
    ("(11) 98765-4321", "+5511987654321"),  # no country code: Tenaz's default (55)
    ("+44 20 7031 3000", "+442070313000"),
]


@pytest.mark.parametrize(("given", "normalised"), EMAILS)
def test_google_email_hashing(given: str, normalised: str) -> None:
    assert hashed_for("google", normalise_user_data({"email": given})) == {
        "email": sha256(normalised)
    }


@pytest.mark.parametrize(("given", "normalised"), PHONES)
def test_google_phone_hashing(given: str, normalised: str) -> None:
    assert hashed_for("google", normalise_user_data({"phone": given})) == {
        "phone": sha256(normalised)
    }


def test_known_digests() -> None:
    # Fixed values, so that a change in the hashing itself (not only in the normalisation
    # the tests above spell out) shows: SHA-256 hex of the normalised text.
    data = normalise_user_data({"email": "Jane.Doe@gmail.com", "phone": "+1 (800) 555-0100"})
    assert hashed_for("google", data) == {
        "email": "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69",
        "phone": "fb4f73a6ec5fdb7077d564cdd22c3554b43ce49168550c3b12c547b78c517b30",
    }
