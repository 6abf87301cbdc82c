"""Reddit's answers -> outcome kinds, the wire format from a stored event, event names, and the
"reddit" hashing family against vectors from Reddit's own guide and Segment's tests."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from jobs.canonical import CanonicalEvent
from jobs.pii import hashed_for, normalise_user_data
from jobs.platforms import registry
from jobs.platforms.base import OutcomeKind
from jobs.platforms.reddit import (
    CLASSIFICATION_RULES,
    DEFAULT_EVENT_NAMES,
    classify_answer,
    parse_reddit_error,
    wire_event,
)

SUCCEEDED = OutcomeKind.SUCCEEDED
EXTERNAL = OutcomeKind.EXTERNAL_PROBLEM
REJECTED = OutcomeKind.REJECTED
REDDIT = registry.platform("reddit")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def reddit_error(code: Any, message: Any = "Reddit says no") -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


# The rules in table order; unpacking fails loudly if a rule is added or removed.
(
    OK,
    NO_RESPONSE,
    HTTP_5XX,
    HTTP_408_429,
    CREDENTIALS,
    PERMISSION,  # the same name: one refusal, with an action for 401 and one for 403
    NO_ENDPOINT,
    TOO_LARGE,
    REFUSED,
    UNEXPECTED_4XX,
    UNEXPECTED,
) = (rule.name for rule in CLASSIFICATION_RULES)

INVALID = "There were 2 invalid conversion events. None were processed."

CASES = [
    pytest.param(200, b'{"message":"Successfully processed 2 conversion events."}', SUCCEEDED,
                 False, OK, id="200"),
    pytest.param(204, b"", SUCCEEDED, False, OK, id="204-empty"),
    pytest.param(200, b"\x00garbage", SUCCEEDED, False, OK, id="200-garbage"),
    pytest.param(None, b"", EXTERNAL, False, NO_RESPONSE, id="no-response"),
    pytest.param(500, reddit_error(500, "The service is currently unavailable."), EXTERNAL, False,
                 HTTP_5XX, id="500-reddit"),
    pytest.param(500, b"Internal Server Error", EXTERNAL, False, HTTP_5XX, id="500-text"),
    pytest.param(503, b"", EXTERNAL, False, HTTP_5XX, id="503-empty"),
    pytest.param(408, b"", EXTERNAL, False, HTTP_408_429, id="408"),
    pytest.param(429, reddit_error(429, "Too many requests/events within timeframe."), EXTERNAL,
                 False, HTTP_408_429, id="429-quota"),
    pytest.param(429, reddit_error(429, "Your user agent was automatically ratelimited."),
                 EXTERNAL, False, HTTP_408_429, id="429-user-agent"),
    pytest.param(401, reddit_error(401, "UNAUTHORIZED"), EXTERNAL, True, CREDENTIALS,
                 id="401-unauthorized"),
    pytest.param(401, reddit_error(401, "No bearer token provided"), EXTERNAL, True, CREDENTIALS,
                 id="401-no-token"),
    pytest.param(403, reddit_error(403, "You're not authorized to post conversions"), EXTERNAL,
                 True, CREDENTIALS, id="403-account"),
    pytest.param(403, reddit_error(403, "Missing adsconversions scope"), EXTERNAL, True,
                 CREDENTIALS, id="403-scope"),
    pytest.param(401, b"Unauthorized", EXTERNAL, True, CREDENTIALS, id="401-proxy"),
    pytest.param(404, reddit_error(404, "Not Found"), EXTERNAL, True, NO_ENDPOINT, id="404"),
    pytest.param(405, b"", EXTERNAL, True, NO_ENDPOINT, id="405"),
    pytest.param(410, b"", EXTERNAL, True, NO_ENDPOINT, id="410"),
    pytest.param(413, reddit_error(413, "too large"), EXTERNAL, True, TOO_LARGE, id="413"),
    pytest.param(400, reddit_error(400, INVALID), REJECTED, False, REFUSED, id="400-invalid"),
    pytest.param(400, reddit_error(400, "Bad Request"), REJECTED, False, REFUSED,
                 id="400-over-1000"),
    pytest.param(422, reddit_error(422, "bad"), REJECTED, False, REFUSED, id="422"),
    # Not Reddit's body: a proxy, a firewall, a wrong host; never a verdict on the events.
    pytest.param(400, b"Bad Request", EXTERNAL, True, UNEXPECTED_4XX, id="400-text"),
    pytest.param(400, b'{"error":"invalid_request"}', EXTERNAL, True, UNEXPECTED_4XX,
                 id="400-error-string"),
    pytest.param(400, reddit_error("400"), EXTERNAL, True, UNEXPECTED_4XX, id="code-as-text"),
    pytest.param(400, reddit_error(True), EXTERNAL, True, UNEXPECTED_4XX, id="code-true"),
    pytest.param(400, reddit_error(400, None), EXTERNAL, True, UNEXPECTED_4XX, id="no-message"),
    pytest.param(422, b'{"detail":"nope"}', EXTERNAL, True, UNEXPECTED_4XX, id="422-other-json"),
    pytest.param(301, b"", EXTERNAL, True, UNEXPECTED_4XX, id="301-redirect"),
    pytest.param(100, b"", EXTERNAL, False, UNEXPECTED, id="1xx"),
    pytest.param(600, b"", EXTERNAL, False, UNEXPECTED, id="600"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "kind", "needs_action", "rule"), CASES)
def test_classification_table(
    status: int | None, body: bytes, kind: OutcomeKind, needs_action: bool, rule: str
) -> None:
    result = classify_answer(status, body)
    assert (result.kind, result.needs_action, result.rule) == (kind, needs_action, rule)


def test_every_rule_of_the_table_is_exercised() -> None:
    assert {case.values[4] for case in CASES} == {rule.name for rule in CLASSIFICATION_RULES}


def test_reddits_message_and_code_are_reported() -> None:
    result = classify_answer(400, reddit_error(400, INVALID))
    assert (result.code, result.message) == (400, INVALID)
    assert classify_answer(404, b"").message.startswith("HTTP 404: no such endpoint")
    assert classify_answer(200, b"").message == ""


def test_pathological_bodies_are_not_reddits() -> None:
    assert parse_reddit_error(b"[" * 200_000) is None
    assert parse_reddit_error(b'{"error":{"code":1' + b"0" * 10_000 + b',"message":""}}') is None
    assert parse_reddit_error(b"\xff\xfe\x00{") is None
    huge = b'{"error":{"code":400,"message":"' + b"x" * (2 << 20) + b'"}}'
    assert parse_reddit_error(huge) is None
    assert len(classify_answer(400, reddit_error(400, "m" * 100_000)).message) <= 1000


# -- the wire format ------------------------------------------------------------------------


def stored(**changes: Any) -> dict[str, Any]:
    """A Purchase as Tenaz stores it for a Reddit destination."""
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": 1_704_721_970,
        "event_id": "order-1",
        "action_source": "website",
        "identifiers": {
            "client_user_agent": "Mozilla/5.0",
            "client_ip_address": "203.0.113.9",
            "rdt_click_id": "t2_click",
            "fbc": "fb.1.1.meta-only",
        },
        "hashed": {
            "reddit": {
                "email": sha256("a@example.com"),
                "phone": sha256("+5511987654321"),
                "ip_address": sha256("203.0.113.9"),
            },
            "meta": {"em": sha256("meta-only@example.com")},
        },
        "custom_data": {
            "value": 99.9,
            "currency": "brl",
            "contents": [{"id": "sku-1", "quantity": 2, "item_price": 10.0}, {"id": "sku-2"}],
        },
    }
    event.update(changes)
    return event


def rename(name: str) -> str:
    return REDDIT.event_names({}).get(name, name)


def test_a_stored_event_as_reddits_event() -> None:
    assert wire_event(stored(), rename) == {
        "event_at": "2024-01-08T13:52:50Z",
        "event_type": {"tracking_type": "Purchase"},
        "click_id": "t2_click",
        "event_metadata": {
            "conversion_id": "order-1",
            "currency": "BRL",
            "value_decimal": 99.9,
            "item_count": 2,
            "products": [{"id": "sku-1"}, {"id": "sku-2"}],
        },
        "user": {
            "email": sha256("a@example.com"),
            "phone_number": sha256("+5511987654321"),
            "ip_address": sha256("203.0.113.9"),
            "user_agent": "Mozilla/5.0",
        },
    }


def test_a_name_that_is_no_tracking_type_goes_as_a_custom_event() -> None:
    wire = wire_event(stored(event_name="InitiateCheckout"), rename)
    assert wire["event_type"] == {
        "tracking_type": "Custom",
        "custom_event_name": "InitiateCheckout",
    }
    # Custom events take a value and an item count.
    assert {"value_decimal", "item_count"} <= wire["event_metadata"].keys()


def test_tracking_types_without_value_or_item_count_get_none() -> None:
    search = wire_event(stored(event_name="Search"), rename)["event_metadata"]
    assert search.keys() == {"conversion_id", "products"}
    lead = wire_event(stored(event_name="Lead"), rename)["event_metadata"]
    assert lead.keys() == {"conversion_id", "currency", "value_decimal", "products"}


def test_an_event_with_nothing_but_its_id() -> None:
    bare = {"event_name": "Lead", "event_time": 1_704_721_970, "event_id": "lead-1"}
    assert wire_event(bare, rename) == {
        "event_at": "2024-01-08T13:52:50Z",
        "event_type": {"tracking_type": "Lead"},
        "event_metadata": {"conversion_id": "lead-1"},
        "user": {},
    }


def test_default_event_names() -> None:
    assert dict(DEFAULT_EVENT_NAMES) == {
        "Purchase": "Purchase",
        "Lead": "Lead",
        "CompleteRegistration": "SignUp",
        "AddToCart": "AddToCart",
        "AddToWishlist": "AddToWishlist",
        "ViewContent": "ViewContent",
        "Search": "Search",
        "PageView": "PageVisit",
    }
    names = REDDIT.event_names({"Contact": "Lead"})
    assert wire_event(stored(event_name="Contact"), names.get)["event_type"] == {
        "tracking_type": "Lead"
    }
    assert wire_event(stored(event_name="CompleteRegistration"), names.get)["event_type"] == {
        "tracking_type": "SignUp"
    }


def test_eligibility_needs_a_click_id_or_a_match_key() -> None:
    assert REDDIT.eligible is not None
    assert REDDIT.eligible(CanonicalEvent(stored()), {}) is None
    only_click = stored(identifiers={"rdt_click_id": "c"}, hashed={})
    assert REDDIT.eligible(CanonicalEvent(only_click), {}) is None
    only_agent = stored(identifiers={"client_user_agent": "Mozilla/5.0"}, hashed={})
    assert REDDIT.eligible(CanonicalEvent(only_agent), {}) is None
    meta_only = stored(identifiers={"fbc": "x"}, hashed={"meta": {"em": sha256("x")}})
    reason = REDDIT.eligible(CanonicalEvent(meta_only), {})
    assert reason is not None and "rdt_click_id" in reason


def test_the_platform_declaration() -> None:
    assert (REDDIT.max_batch_size, REDDIT.max_event_age.days, REDDIT.hash_family) == (
        1000,
        7,
        "reddit",
    )
    assert [s.name for s in REDDIT.secret_settings] == ["access_token"]
    assert [s.name for s in REDDIT.plain_settings] == ["ad_account_id", "test_mode", "base_url"]
    assert REDDIT.unverified


# -- the "reddit" hashing family --------------------------------------------------------------


def reddit_hashes(**user: str) -> dict[str, str]:
    return hashed_for("reddit", normalise_user_data(user))


def test_reddits_own_email_example() -> None:
    # Reddit's advanced-matching guide: both hash to ff8d98...d976.
    expected = "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976"
    assert reddit_hashes(email="alice@example.com")["email"] == expected
    assert reddit_hashes(email="Al.ice$+Apple@Example.Com")["email"] == expected


@pytest.mark.parametrize(
    ("email", "canonical"),
    [
        (" Maria.Silva+news@Example.COM ", "mariasilva@example.com"),
        ("first_last-2@mail.example.com", "firstlast2@mail.example.com"),
        ("a+b+c@x.io", "a@x.io"),
    ],
)
def test_email_keeps_letters_and_digits_of_the_local_part(email: str, canonical: str) -> None:
    assert reddit_hashes(email=email)["email"] == sha256(canonical)


def test_segments_vectors() -> None:
    # segmentio/action-destinations, reddit-conversions-api tests.
    hashes = reddit_hashes(
        email="test@test.com", external_id="user_id_1", client_ip_address="111.111.111.111"
    )
    assert hashes == {
        "email": "f660ab912ec121d1b1e928a0bb4bc61b15f5ad44d5efdc4e1c92a25e99b8e44a",
        "external_id": "3482ae91c8ec52c06e19d618d400b3985814bf705e00947a302ec849a6575c4c",
        "ip_address": "5feaf188de296cd3b17f7c66fd3a2aec9b694815f2b1180631f7b52f57029777",
    }


def test_phone_is_e164_with_plus() -> None:
    # Reddit's guide: "+15554441234" hashes to e5b124...994a.
    expected = "e5b124c58580eb16bd959b8d0cac12b12c952e2ceae0203d416cff94f10b994a"
    assert reddit_hashes(phone="+1 (555) 444-1234")["phone"] == expected


def test_a_prehashed_email_passes_as_it_came() -> None:
    digest = sha256("someone@example.com")
    assert reddit_hashes(email=digest.upper()) == {"email": digest}
