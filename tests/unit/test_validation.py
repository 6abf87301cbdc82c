"""Submission's checks of one event, without a database: every rule, the field path each
violation names, and the stored payload (personal data hashed, nothing raw)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from typing import Any

import pytest

from jobs.errors import FailedPrecondition, FieldViolation
from jobs.model import Destination
from jobs.settings import Settings
from jobs.validation import (
    MAX_ID_LENGTH,
    ContentInput,
    DestinationChoice,
    EventInput,
    Prepared,
)
from tests.unit.rows import prepare_event, row

NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
SETTINGS = Settings()
EMAIL = "Maria.Silva@Example.com"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


META = row(Destination, id=1, name="meta", kind="meta", enabled=True)
SANDBOX = row(Destination, id=2, name="sandbox", kind="sandbox", enabled=True)
PAUSED = row(Destination, id=3, name="paused", kind="meta", enabled=False)
CHOICE = DestinationChoice([META, SANDBOX, PAUSED])


def event(**changes: Any) -> EventInput:
    """A valid Purchase with an email, changed by `changes`."""
    valid = EventInput(
        event_id="order-1",
        event_name="Purchase",
        event_time=NOW - dt.timedelta(minutes=5),
        user_data={"email": EMAIL},
        value=197.0,
        currency="BRL",
    )
    return dataclasses.replace(valid, **changes)


def prepare(
    candidate: EventInput,
    *,
    path: str = "event",
    choice: DestinationChoice = CHOICE,
    settings: Settings = SETTINGS,
) -> tuple[Prepared | None, list[FieldViolation]]:
    violations: list[FieldViolation] = []
    return prepare_event(candidate, path, NOW, choice, settings, violations), violations


def refused(candidate: EventInput, **options: Any) -> dict[str, str]:
    """The violations of an event that must be refused, field -> description."""
    prepared, violations = prepare(candidate, **options)
    assert prepared is None
    assert violations
    return {v.field: v.description for v in violations}


# What is stored


def test_a_valid_event_is_stored_in_tenaz_shape_with_personal_data_hashed() -> None:
    prepared, violations = prepare(
        event(
            event_source_url="https://loja.example/obrigado",
            order_id="pedido-9",
            content_type="product",
            contents=[ContentInput(id="curso-1", quantity=2, item_price=98.5)],
            extra={"coupon": "BLACK"},
        )
    )

    assert violations == []
    assert prepared is not None
    assert prepared.new.payload == {
        "event_name": "Purchase",
        "event_time": int((NOW - dt.timedelta(minutes=5)).timestamp()),
        "event_id": "order-1",
        "action_source": "other",
        "identifiers": {},
        # The hashes of the Meta family: the destination is Meta's.
        "hashed": {"meta": {"em": sha256("maria.silva@example.com")}},
        "event_source_url": "https://loja.example/obrigado",
        "custom_data": {
            "coupon": "BLACK",
            "value": 197.0,
            "currency": "BRL",
            "order_id": "pedido-9",
            "content_type": "product",
            "contents": [{"id": "curso-1", "quantity": 2, "item_price": 98.5}],
            "content_ids": ["curso-1"],
        },
    }
    assert (prepared.new.event_id, prepared.new.event_name, prepared.new.order_id) == (
        "order-1",
        "Purchase",
        "pedido-9",
    )
    assert prepared.new.event_time == NOW - dt.timedelta(minutes=5)
    assert EMAIL.lower() not in repr(prepared)


def test_optional_parts_are_left_out_of_the_payload_rather_than_empty() -> None:
    prepared, _ = prepare(event(value=None, currency=""))

    assert prepared is not None
    assert "custom_data" not in prepared.new.payload
    assert "event_source_url" not in prepared.new.payload


def test_contents_keep_only_the_numbers_given_and_content_ids_from_the_caller_win() -> None:
    prepared, _ = prepare(
        event(contents=[ContentInput(id="a"), ContentInput(id="b")], extra={"content_ids": ["x"]})
    )

    assert prepared is not None
    custom = prepared.new.payload["custom_data"]
    assert custom["contents"] == [{"id": "a"}, {"id": "b"}]
    assert custom["content_ids"] == ["x"]


def test_a_currency_is_stored_in_capitals() -> None:
    prepared, _ = prepare(event(currency="brl"))

    assert prepared is not None
    assert prepared.new.payload["custom_data"]["currency"] == "BRL"


def test_the_callers_own_hashes_pass_through_and_browser_ids_stay_clear() -> None:
    digest = sha256("someone@example.com").upper()
    prepared, _ = prepare(
        event(user_data={"email": digest, "fbp": " fb.1.1596403881668.1116446470 "})
    )

    assert prepared is not None
    assert prepared.new.payload["hashed"] == {"meta": {"em": digest.lower()}}
    assert prepared.new.payload["identifiers"] == {"fbp": "fb.1.1596403881668.1116446470"}


def test_the_phone_gets_the_configured_country_code_before_hashing() -> None:
    settings = dataclasses.replace(SETTINGS, default_phone_country_code="1")
    prepared, _ = prepare(event(user_data={"phone": "(415) 555-0123"}), settings=settings)

    assert prepared is not None
    assert prepared.new.payload["hashed"] == {"meta": {"ph": sha256("14155550123")}}


# Where it goes


def test_without_destinations_an_event_goes_to_every_enabled_one() -> None:
    prepared, _ = prepare(event())

    assert prepared is not None
    assert prepared.destinations == [META, SANDBOX]


def test_named_destinations_are_taken_once_each_in_the_callers_order() -> None:
    prepared, _ = prepare(event(destinations=["sandbox", "meta", "sandbox"]))

    assert prepared is not None
    assert prepared.destinations == [SANDBOX, META]


def test_a_disabled_or_unknown_destination_is_named_by_its_index() -> None:
    assert refused(event(destinations=["meta", "paused", "nowhere"])) == {
        "event.destinations[1]": "destination 'paused' is disabled",
        "event.destinations[2]": "no destination named 'nowhere'",
    }


def test_a_workspace_with_nothing_enabled_refuses_the_call_not_the_field() -> None:
    with pytest.raises(FailedPrecondition, match="no enabled destination"):
        prepare(event(), choice=DestinationChoice([PAUSED]))


# Identifiers


@pytest.mark.parametrize("field", ["event_id", "event_name"])
@pytest.mark.parametrize(
    ("value", "description"),
    [
        ("", "required"),
        ("   ", "required"),
        ("a\x00b", "must not contain NUL characters"),
        (" order-1", "must not start or end with spaces"),
        ("order-1\n", "must not start or end with spaces"),
    ],
)
def test_identifiers_must_be_plain_text(field: str, value: str, description: str) -> None:
    assert refused(event(**{field: value})) == {f"event.{field}": description}


@pytest.mark.parametrize(("field", "limit"), [("event_id", MAX_ID_LENGTH), ("event_name", 128)])
def test_identifiers_have_a_length_limit(field: str, limit: int) -> None:
    prepared, _ = prepare(event(**{field: "x" * limit}))
    assert prepared is not None

    assert refused(event(**{field: "x" * (limit + 1)})) == {
        f"event.{field}": f"at most {limit} characters"
    }


# Time


def test_an_event_without_a_time_is_refused() -> None:
    assert refused(event(event_time=None)) == {"event.event_time": "required"}


def test_an_event_time_may_run_ahead_by_the_allowed_skew_and_no_more() -> None:
    skew = SETTINGS.max_future_skew
    prepared, _ = prepare(event(event_time=NOW + skew))
    assert prepared is not None

    assert refused(event(event_time=NOW + skew + dt.timedelta(seconds=1))) == {
        "event.event_time": "is in the future; send the time the conversion happened"
    }


def test_an_event_too_old_for_a_whole_attempt_before_metas_deadline_is_refused() -> None:
    # Meta takes events up to 7 days old; an attempt may take TENAZ_ATTEMPT_BUDGET, and
    # must end 30 s before the deadline.
    last_chance = NOW - dt.timedelta(days=7) + SETTINGS.attempt_budget + dt.timedelta(seconds=31)
    prepared, _ = prepare(event(event_time=last_chance))
    assert prepared is not None

    assert refused(event(event_time=last_chance - dt.timedelta(seconds=1))) == {
        "event.event_time": "is older than the platform accepts (Meta: 7 days)"
    }


# Where it happened


def test_an_event_with_its_page_and_a_user_agent_is_a_website_event_by_default() -> None:
    browser = {"email": EMAIL, "client_user_agent": "Mozilla/5.0"}
    prepared, _ = prepare(
        event(user_data=browser, event_source_url="https://loja.example/", action_source="")
    )
    assert prepared is not None
    assert prepared.new.payload["action_source"] == "website"
    # Without its page Meta would refuse it as a website event: it is "other".
    prepared, _ = prepare(event(user_data=browser, action_source=""))
    assert prepared is not None
    assert prepared.new.payload["action_source"] == "other"


def test_a_website_event_needs_the_buyers_user_agent_and_its_page() -> None:
    violations = refused(event(action_source="website"))

    assert sorted(violations) == ["event.event_source_url", "event.user_data.client_user_agent"]
    assert violations["event.user_data.client_user_agent"].startswith("required for website events")
    assert violations["event.event_source_url"].startswith("required for website events")


def test_extra_may_not_carry_a_field_tenaz_checks() -> None:
    violations = refused(event(extra={"currency": "ZZZ", "num_items": 2}))

    assert list(violations) == ["event.custom_data.extra.currency"]


def test_an_action_source_meta_does_not_know_is_refused() -> None:
    violations = refused(event(action_source="billboard"))

    assert list(violations) == ["event.action_source"]
    assert violations["event.action_source"].startswith("must be one of app, business_messaging")


@pytest.mark.parametrize(
    "url", ["ftp://loja.example/", "loja.example/obrigado", "https://x/\x00", "https://x/" * 300]
)
def test_the_source_url_must_be_a_short_http_url(url: str) -> None:
    assert refused(event(event_source_url=url)) == {
        "event.event_source_url": "must be an http(s) URL of at most 2048 characters"
    }


# Customer data


def test_personal_data_that_cannot_be_normalised_is_named_by_its_field_not_its_value() -> None:
    violations = refused(event(user_data={"email": "maria@"}))

    assert list(violations) == ["event.user_data.email"]
    assert "maria" not in violations["event.user_data.email"]


def test_an_event_needs_at_least_one_customer_parameter() -> None:
    violations = refused(event(user_data={"email": "  "}))

    assert list(violations) == ["event.user_data"]
    assert violations["event.user_data"].startswith("at least one customer parameter")


def test_missing_customer_data_is_not_reported_beside_another_problem() -> None:
    # The other problem may be why nothing was usable (a bad email): one message, the cause.
    assert list(refused(event(event_id="", user_data={}))) == ["event.event_id"]


# custom_data


@pytest.mark.parametrize(
    ("changes", "field", "description"),
    [
        ({"value": -1.0}, "value", "must be a non-negative number"),
        ({"value": float("nan")}, "value", "must be a non-negative number"),
        ({"value": float("inf")}, "value", "must be a non-negative number"),
        ({"currency": ""}, "currency", "required when value is set (ISO 4217, e.g. BRL)"),
        ({"currency": "REAIS"}, "currency", "must be an ISO 4217 code such as BRL or USD"),
        ({"order_id": "a\x00b"}, "order_id", f"at most {MAX_ID_LENGTH} characters, no NUL"),
        ({"order_id": "x" * 257}, "order_id", f"at most {MAX_ID_LENGTH} characters, no NUL"),
        ({"extra": {"score": float("nan")}}, "extra.score", "numbers must be finite"),
        ({"extra": {"s": [1.0, {"t": float("-inf")}]}}, "extra.s", "numbers must be finite"),
    ],
)
def test_custom_data_rules(changes: dict[str, Any], field: str, description: str) -> None:
    violations = refused(event(**changes))

    assert list(violations) == [f"event.custom_data.{field}"]
    assert violations[f"event.custom_data.{field}"].startswith(description)


def test_each_bad_content_is_named_by_its_index() -> None:
    contents = [
        ContentInput(id="ok", quantity=1),
        ContentInput(id=""),
        ContentInput(id="c", quantity=-1),
        ContentInput(id="d", item_price=float("nan")),
    ]

    assert refused(event(contents=contents)) == {
        "event.custom_data.contents[1].id": "required",
        "event.custom_data.contents[2]": "quantity and item_price must be >= 0",
        "event.custom_data.contents[3]": "quantity and item_price must be >= 0",
    }


# Reporting


def test_every_problem_of_an_event_is_reported_at_once_under_its_path() -> None:
    violations = refused(
        event(
            event_name="",
            event_time=NOW + dt.timedelta(hours=1),
            destinations=["nowhere"],
            user_data={"phone": "call me"},
            currency="XYZ",
        ),
        path="events[3]",
    )

    # Where it goes is checked once the event is valid on its own (that needs the database).
    assert sorted(violations) == [
        "events[3].custom_data.currency",
        "events[3].event_name",
        "events[3].event_time",
        "events[3].user_data.phone",
    ]


def test_violations_add_to_those_of_the_events_before() -> None:
    earlier = FieldViolation("events[0].event_id", "required")
    violations = [earlier]

    prepared = prepare_event(event(), "events[1]", NOW, CHOICE, SETTINGS, violations)
    refused_one = prepare_event(event(user_data={}), "events[2]", NOW, CHOICE, SETTINGS, violations)

    assert prepared is not None
    assert refused_one is None
    assert [v.field for v in violations] == ["events[0].event_id", "events[2].user_data"]
