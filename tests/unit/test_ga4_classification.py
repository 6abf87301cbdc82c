"""GA4 answers -> outcomes (HTTP statuses of both endpoints, the validation server's messages),
the Measurement Protocol request made of a stored event, its event names, what the platform
can take, and the api secret kept out of httpx's log lines."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.canonical import CanonicalEvent
from jobs.pii import hashed_for, normalise_user_data
from jobs.platforms import ga4
from jobs.platforms.base import OutcomeKind
from jobs.platforms.ga4 import CLASSIFICATION_RULES, classify, validation_verdicts

SUCCEEDED = OutcomeKind.SUCCEEDED
EXTERNAL = OutcomeKind.EXTERNAL_PROBLEM
REJECTED = OutcomeKind.REJECTED

(OK, HTTP_5XX, HTTP_408_429, TOO_LARGE, NOT_GA4, UNEXPECTED) = (
    rule.name for rule in CLASSIFICATION_RULES
)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(
    ("status", "kind", "needs_action", "rule"),
    [
        (204, SUCCEEDED, False, OK),
        (200, SUCCEEDED, False, OK),
        (500, EXTERNAL, False, HTTP_5XX),
        (503, EXTERNAL, False, HTTP_5XX),
        (408, EXTERNAL, False, HTTP_408_429),
        (429, EXTERNAL, False, HTTP_408_429),
        (413, EXTERNAL, True, TOO_LARGE),
        (400, EXTERNAL, True, NOT_GA4),
        (403, EXTERNAL, True, NOT_GA4),
        (404, EXTERNAL, True, NOT_GA4),
        (302, EXTERNAL, True, NOT_GA4),
        (600, EXTERNAL, False, UNEXPECTED),
    ],
)
def test_http_answers(status: int, kind: OutcomeKind, needs_action: bool, rule: str) -> None:
    verdict = classify(status)
    assert (verdict.kind, verdict.needs_action, verdict.rule) == (kind, needs_action, rule)
    assert bool(verdict.message) is (kind is not SUCCEEDED)


def messages(*listed: tuple[str, str, str]) -> bytes:
    return json.dumps(
        {
            "validationMessages": [
                {"fieldPath": f, "description": d, "validationCode": c} for f, d, c in listed
            ]
        }
    ).encode()


def test_no_validation_messages_means_every_event_is_valid() -> None:
    assert validation_verdicts(messages(), 3) == [None, None, None]


def test_messages_refuse_the_events_they_name() -> None:
    body = messages(
        # Google's documented example.
        (
            "events",
            "Event at index: [0] has invalid name [_badEventName]. Names must start with an"
            " alphabetic character.",
            "NAME_INVALID",
        ),
        ("events[2].params.currency", "Currency is invalid.", "VALUE_INVALID"),
    )
    verdicts = validation_verdicts(body, 3)
    assert verdicts[1] is None
    assert verdicts[0] is not None and verdicts[2] is not None
    assert (verdicts[0].kind, verdicts[0].needs_action) == (REJECTED, False)
    assert verdicts[0].message.startswith("NAME_INVALID: Event at index: [0] has invalid name")
    assert verdicts[2].message == "VALUE_INVALID: Currency is invalid."


def test_a_message_about_the_request_refuses_all_its_events() -> None:
    verdicts = validation_verdicts(
        messages(("client_id", "client_id is required.", "VALUE_REQUIRED")), 2
    )
    assert [v.kind if v else None for v in verdicts] == [REJECTED, REJECTED]


@pytest.mark.parametrize("field", ["measurement_id", "api_secret"])
def test_a_message_about_the_stream_needs_the_operator(field: str) -> None:
    body = messages((field, "It is invalid.", "VALUE_INVALID"), ("events", "index: [0] x", "X"))
    verdicts = validation_verdicts(body, 2)
    assert {(v.kind, v.needs_action) for v in verdicts if v} == {(EXTERNAL, True)}
    assert len([v for v in verdicts if v]) == 2


@pytest.mark.parametrize("body", [b"", b"<html>hi</html>", b'{"ok": true}', b"[1]"])
def test_an_answer_that_is_not_the_validation_servers(body: bytes) -> None:
    verdicts = validation_verdicts(body, 2)
    assert {(v.kind, v.needs_action) for v in verdicts if v} == {(EXTERNAL, True)}


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=300), count=st.integers(1, 5))
def test_validation_parsing_is_total(body: bytes, count: int) -> None:
    assert len(validation_verdicts(body, count)) == count


# -- the request made of a stored event ------------------------------------------------------

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def stored(
    name: str = "Purchase",
    *,
    identifiers: dict[str, str] | None = None,
    user: dict[str, str] | None = None,
    custom: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "event_name": name,
        "event_time": int(NOW.timestamp()),
        "event_id": "evt-9",
        "action_source": "website",
        "identifiers": {"ga_client_id": "123456.7654321", **(identifiers or {})},
        "hashed": {"google": hashed_for("google", normalise_user_data(user or {}))},
        "custom_data": custom or {},
    }


def test_a_purchase_as_ga4_sees_it() -> None:
    payload = stored(
        custom={
            "value": 59.8,
            "currency": "BRL",
            "order_id": "pedido-3",
            "contents": [{"id": "sku-1", "quantity": 2, "item_price": 29.9}],
            "session_id": "1700000000",
            "engagement_time_msec": 100,
            "nested": {"not": "a param"},
        }
    )
    assert ga4.ga4_event(payload, ga4.EVENT_NAMES) == {
        "name": "purchase",
        "params": {
            "session_id": "1700000000",
            "engagement_time_msec": 100,
            "value": 59.8,
            "currency": "BRL",
            "transaction_id": "pedido-3",
            "items": [{"item_id": "sku-1", "quantity": 2, "price": 29.9}],
        },
    }


def test_a_purchase_without_an_order_id_uses_the_event_id_as_transaction_id() -> None:
    assert ga4.ga4_event(stored(), ga4.EVENT_NAMES)["params"] == {"transaction_id": "evt-9"}
    assert ga4.ga4_event(stored("Lead"), ga4.EVENT_NAMES) == {
        "name": "generate_lead",
        "params": {},
    }


def test_request_fields_and_user_data_only_with_a_user_id() -> None:
    user = {"email": "Ana.Souza@gmail.com", "phone": "+55 11 91234-5678"}
    anonymous = CanonicalEvent(stored(user=user))
    assert ga4.request_fields(anonymous) == {
        "client_id": "123456.7654321",
        "timestamp_micros": int(NOW.timestamp()) * 1_000_000,
    }
    known = CanonicalEvent(stored(user=user, custom={"user_id": "cliente-42"}))
    assert ga4.request_fields(known) == {
        "client_id": "123456.7654321",
        "user_id": "cliente-42",
        "timestamp_micros": int(NOW.timestamp()) * 1_000_000,
        "user_data": {
            "sha256_email_address": [sha256("anasouza@gmail.com")],
            "sha256_phone_number": [sha256("+5511912345678")],
        },
    }
    assert "user_id" not in ga4.ga4_event(known.payload, ga4.EVENT_NAMES)["params"]


def test_the_ga_cookie_value_gives_its_client_id() -> None:
    event = CanonicalEvent(stored(identifiers={"ga_client_id": "GA1.1.987654321.1700000000"}))
    assert ga4.client_id(event) == "987654321.1700000000"


def test_default_event_names() -> None:
    assert ga4.PLATFORM.default_event_names == {
        "Purchase": "purchase",
        "AddToCart": "add_to_cart",
        "InitiateCheckout": "begin_checkout",
        "Lead": "generate_lead",
        "CompleteRegistration": "sign_up",
        "ViewContent": "view_item",
        "Search": "search",
        "AddPaymentInfo": "add_payment_info",
        "AddToWishlist": "add_to_wishlist",
    }


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("Subscribe", "subscribe"),
        ("StartTrial", "start_trial"),
        ("SubmitApplication", "submit_application"),
        ("custom event-2!", "custom_event_2"),
        ("42Answers", "answers"),
        ("Inscrição Concluída", "inscricao_concluida"),
        ("HTTPRequestDone", "http_request_done"),
        ("x" * 60, "x" * 40),
        ("___", "custom_event"),
    ],
)
def test_other_names_are_made_ga4_safe(name: str, safe: str) -> None:
    assert ga4.safe_event_name(name) == safe
    assert ga4.ga4_event(stored(name), ga4.EVENT_NAMES)["name"] == safe


def test_a_destinations_own_name_wins() -> None:
    names = {**ga4.EVENT_NAMES, "Purchase": "compra_aprovada"}
    assert ga4.ga4_event(stored(), names)["name"] == "compra_aprovada"


def test_eligibility_needs_the_ga_client_id() -> None:
    assert ga4.eligible(CanonicalEvent(stored()), {}) is None
    without = stored()
    without["identifiers"] = {"gclid": "abc"}
    assert "ga_client_id" in str(ga4.eligible(CanonicalEvent(without), {}))


def test_ga4_declaration() -> None:
    platform = ga4.PLATFORM
    assert (platform.kind, platform.max_batch_size, platform.hash_family) == ("ga4", 25, "google")
    assert platform.deadline({}, NOW) == NOW + dt.timedelta(hours=72)
    base_url = platform.setting("base_url")
    assert base_url is not None and base_url.official_urls == (
        "https://www.google-analytics.com",
        "https://region1.google-analytics.com",
    )


def test_httpx_log_lines_do_not_show_the_api_secret(caplog: pytest.LogCaptureFixture) -> None:
    import httpx

    ga4.Ga4Connector(httpx.AsyncClient(), measurement_id="G-ABCD1234", api_secret="s3cr3t-v4lue")
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").info(
        'HTTP Request: %s %s "%s %d %s"',
        "POST",
        httpx.URL(
            "https://www.google-analytics.com/mp/collect?measurement_id=G-A&api_secret=s3cr3t-v4lue"
        ),
        "HTTP/1.1",
        204,
        "No Content",
    )
    [record] = caplog.records
    assert "s3cr3t-v4lue" not in record.getMessage()
    assert "/mp/collect?[hidden]" in record.getMessage()
