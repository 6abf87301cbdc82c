"""The gRPC edge's translation between protobuf messages and the domain's objects, both
ways: what a call becomes, what a stored row shows (odd payloads included), and the
fields an error names."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.json_format import MessageToDict
from tenaz.v1 import destinations_pb2, events_pb2

from jobs import model
from jobs.errors import FieldViolation, InvalidArgument
from jobs.settings import Settings
from jobs.stats import DestinationStats, Stats
from jobs.status import FailureReason, Status
from jobs.validation import DestinationChoice
from server import mapping
from tests.unit.rows import prepare_event, row

E = events_pb2
NOW = dt.datetime(2026, 11, 20, 15, 0, 0, 123456, tzinfo=dt.UTC)


def violated(raised: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [v.field for v in raised.value.violations]


def stored(payload: dict[str, Any], *deliveries: model.Delivery) -> model.Event:
    return row(
        model.Event,
        id=42,
        event_name="Purchase",
        event_id="order-1",
        event_time=NOW,
        received_at=NOW,
        payload=payload,
        deliveries=deliveries,
    )


def delivery(**fields: Any) -> model.Delivery:
    return row(model.Delivery, **({"destination_name": "meta", "status": "PENDING"} | fields))


def shown_event(event: model.Event) -> events_pb2.StoredEvent:
    """`event` as the API shows it (the answers fill their messages in place)."""
    message = E.StoredEvent()
    mapping.fill_stored_event(message, event)
    return message


def shown_delivery(delivery: model.Delivery) -> events_pb2.Delivery:
    message = E.Delivery()
    mapping.fill_delivery(message, delivery)
    return message


# Times


@pytest.mark.parametrize(
    "when",
    [
        NOW,
        dt.datetime(1969, 7, 20, 20, 17, 40, 1, tzinfo=dt.UTC),  # before the epoch
        dt.datetime(1, 1, 1, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    ],
)
def test_times_go_to_protobuf_and_back_to_the_microsecond(when: dt.datetime) -> None:
    message = E.Event(event_time=mapping.timestamp(when))

    assert mapping.from_timestamp(message, "event_time") == when
    assert message.event_time.ToDatetime(dt.UTC) == when  # protobuf's own reading agrees


def test_a_naive_time_counts_as_utc_and_none_stays_unset() -> None:
    assert mapping.timestamp(NOW.replace(tzinfo=None)) == mapping.timestamp(NOW)
    assert mapping.timestamp(None) is None
    assert mapping.from_timestamp(E.Event(), "event_time") is None


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [(253_402_300_800, 0), (-62_135_596_801, 0), (0, -1), (0, 1_000_000_000)],
)
def test_a_time_protobuf_cannot_represent_is_named_under_its_path(seconds: int, nanos: int) -> None:
    message = E.Event(event_time=timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos))

    with pytest.raises(InvalidArgument) as caught:
        mapping.from_timestamp(message, "event_time", "events[2]")
    assert violated(caught) == ["events[2].event_time"]
    with pytest.raises(InvalidArgument) as caught:
        mapping.from_timestamp(message, "event_time")
    assert violated(caught) == ["event_time"]


# A call's event, into the domain


def full_event() -> events_pb2.Event:
    event = E.Event(
        event_id="order-1",
        event_name="Purchase",
        event_time=mapping.timestamp(NOW),
        action_source="website",
        event_source_url="https://loja.example/obrigado",
        user_data=E.UserData(email="maria@example.com", client_user_agent="Mozilla/5.0"),
        custom_data=E.CustomData(
            value=197.0,
            currency="BRL",
            order_id="pedido-9",
            content_type="product",
            contents=[E.Content(id="curso-1", quantity=2, item_price=98.5)],
        ),
        destinations=["meta", "sandbox"],
    )
    event.custom_data.extra.update({"coupon": "BLACK", "items": [1, 2]})
    return event


def test_an_event_message_becomes_the_domains_input() -> None:
    taken = mapping.event_input(full_event(), "event")

    assert (taken.event_id, taken.event_name, taken.event_time) == ("order-1", "Purchase", NOW)
    assert (taken.action_source, taken.event_source_url) == (
        "website",
        "https://loja.example/obrigado",
    )
    assert taken.user_data == {"email": "maria@example.com", "client_user_agent": "Mozilla/5.0"}
    assert (taken.value, taken.currency, taken.order_id, taken.content_type) == (
        197.0,
        "BRL",
        "pedido-9",
        "product",
    )
    assert [(c.id, c.quantity, c.item_price) for c in taken.contents] == [("curso-1", 2, 98.5)]
    assert taken.extra == {"coupon": "BLACK", "items": [1.0, 2.0]}  # Struct numbers are doubles
    assert list(taken.destinations) == ["meta", "sandbox"]


def test_a_value_of_zero_is_a_value_and_an_unset_one_is_none() -> None:
    zero = E.Event(custom_data=E.CustomData(value=0.0))

    assert mapping.event_input(zero, "event").value == 0.0
    assert mapping.event_input(E.Event(), "event").value is None
    assert mapping.event_input(E.Event(), "event").extra == {}


def test_a_number_json_cannot_carry_in_extra_is_named_under_the_events_path() -> None:
    event = E.Event()
    event.custom_data.extra.update({"score": float("nan")})

    with pytest.raises(InvalidArgument) as caught:
        mapping.event_input(event, "events[4]")
    assert violated(caught) == ["events[4].custom_data.extra"]


def test_an_event_reads_back_as_it_was_sent_but_for_hashed_customer_data() -> None:
    sent = full_event()
    sent.user_data.email = ""
    sent.user_data.fbp = "fb.1.1596403881668.1116446470"  # browser ids are stored clear
    sent.ClearField("destinations")
    violations: list[FieldViolation] = []
    prepared = prepare_event(
        mapping.event_input(sent, "event"),
        "event",
        NOW,
        DestinationChoice([row(model.Destination, kind="meta", enabled=True)]),
        Settings(),
        violations,
    )
    assert prepared is not None, violations

    assert shown_event(stored(prepared.new.payload)).event == sent


def test_hashed_customer_data_is_shown_under_the_fields_it_came_in() -> None:
    payload = {
        "identifiers": {"fbc": "fb.1.x"},
        "hashed": {"meta": {"em": "a" * 64, "ph": "b" * 64, "db": "c" * 64}},
    }

    shown = shown_event(stored(payload)).event.user_data

    assert shown == E.UserData(email="a" * 64, phone="b" * 64, date_of_birth="c" * 64, fbc="fb.1.x")


# Stored events whose payload is not what Tenaz writes today


def custom_of(custom: dict[str, Any]) -> tuple[events_pb2.CustomData, dict[str, Any]]:
    shown = shown_event(stored({"custom_data": custom})).event.custom_data
    return shown, MessageToDict(shown.extra)


def test_a_typed_field_stored_with_another_type_is_shown_in_extra() -> None:
    shown, extra = custom_of({"value": "197,00", "currency": 986, "order_id": None})

    assert not shown.HasField("value")
    assert (shown.currency, shown.order_id) == ("", "")
    assert extra == {"value": "197,00", "currency": 986.0, "order_id": None}


def test_a_true_value_is_not_a_number() -> None:
    shown, extra = custom_of({"value": True})

    assert not shown.HasField("value")
    assert extra == {"value": True}


def test_an_integer_value_is_shown_as_the_number_it_is() -> None:
    shown, extra = custom_of({"value": 197})

    assert shown.value == 197.0
    assert extra == {}


@pytest.mark.parametrize(
    "contents",
    [
        [{"id": "a"}, "b"],
        [{"id": 1}],
        [{"id": "a", "quantity": 1.5}],
        [{"id": "a", "quantity": True}],
        [{"id": "a", "item_price": "9.90"}],
    ],
)
def test_contents_with_any_item_contents_cannot_hold_are_shown_whole_in_extra(
    contents: list[Any],
) -> None:
    shown, extra = custom_of({"contents": contents})

    assert list(shown.contents) == []
    assert extra == {"contents": contents}


def test_content_ids_derived_from_contents_are_not_shown_but_odd_ones_are() -> None:
    _, derived = custom_of({"contents": [{"id": "a"}], "content_ids": ["a"]})
    _, odd = custom_of({"content_ids": "a,b"})

    assert derived == {}
    assert odd == {"content_ids": "a,b"}


def test_a_payload_without_user_or_custom_data_shows_empty_ones() -> None:
    shown = shown_event(stored({})).event

    assert shown.user_data == E.UserData()
    assert shown.custom_data == E.CustomData()
    # Present, though empty: the answer has always carried both.
    assert shown.HasField("user_data") and shown.HasField("custom_data")
    assert (shown.action_source, shown.event_source_url) == ("", "")


# Deliveries and their attempts


def test_a_stored_event_lists_its_deliveries_and_their_destinations() -> None:
    event = shown_event(stored({}, delivery(id=7), delivery(id=8, destination_name="s")))

    assert (event.id, event.received_at) == ("42", mapping.timestamp(NOW))
    assert list(event.event.destinations) == ["meta", "s"]
    assert [d.id for d in event.deliveries] == ["7", "8"]


@pytest.mark.parametrize("status", list(Status))
def test_every_status_has_its_protobuf_twin(status: Status) -> None:
    shown = shown_delivery(delivery(status=status.value))

    assert E.DeliveryStatus.Name(shown.status) == f"DELIVERY_STATUS_{status.value}"
    assert mapping.STATUS_FROM_PROTO[shown.status] is status


@pytest.mark.parametrize("reason", list(FailureReason))
def test_every_failure_reason_has_its_protobuf_twin(reason: FailureReason) -> None:
    shown = shown_delivery(delivery(status="FAILED", failure_reason=reason.value))

    assert E.FailureReason.Name(shown.failure_reason) == f"FAILURE_REASON_{reason.name}"


def test_a_delivery_shows_its_times_and_leaves_unset_what_it_has_not() -> None:
    retrying = delivery(
        status="WAITING_RETRY",
        attempt_count=1,
        next_attempt_at=NOW,
        deadline=NOW + dt.timedelta(days=7),
        last_error="HTTP 503",
    )

    waiting = shown_delivery(retrying)
    succeeded = shown_delivery(delivery(status="SUCCEEDED", next_attempt_at=None))

    assert waiting.next_attempt_at == mapping.timestamp(NOW)
    assert waiting.deadline == mapping.timestamp(NOW + dt.timedelta(days=7))
    assert (waiting.attempt_count, waiting.last_error, waiting.destination) == (
        1,
        "HTTP 503",
        "meta",
    )
    assert succeeded.failure_reason == E.FAILURE_REASON_UNSPECIFIED
    assert not succeeded.HasField("next_attempt_at")


def test_an_attempt_shows_missing_numbers_as_zero_and_an_unknown_outcome_as_unspecified() -> None:
    shown = mapping.attempt(row(model.Attempt, number=2, outcome="an outcome of a later version"))

    assert shown.outcome == E.ATTEMPT_OUTCOME_UNSPECIFIED
    assert (shown.http_status, shown.platform_code, shown.platform_subcode) == (0, 0, 0)
    assert not shown.HasField("finished_at")
    assert shown.number == 2


# Destinations


def test_a_meta_destination_message_becomes_a_spec_with_its_token_as_the_secret() -> None:
    message = destinations_pb2.Destination(
        name="loja",
        enabled=True,
        meta=destinations_pb2.MetaSettings(
            pixel_id="111", access_token="EAAB-token", api_version="v25.0", test_event_code="T1"
        ),
        retry_interval=duration_pb2.Duration(seconds=90),
        rate_limit=50.0,
    )

    spec = mapping.destination_spec(message)

    assert (spec.name, spec.kind, spec.enabled) == ("loja", "meta", True)
    assert spec.secrets == {"access_token": "EAAB-token"}
    # Unset fields are left out: the platform's defaults apply.
    assert spec.settings == {"pixel_id": "111", "test_event_code": "T1", "api_version": "v25.0"}
    assert (spec.retry_interval, spec.rate_limit) == (dt.timedelta(seconds=90), 50.0)


def test_a_destination_message_without_a_platform_or_limits_leaves_them_empty() -> None:
    spec = mapping.destination_spec(destinations_pb2.Destination(name="x"))

    assert (spec.kind, spec.settings, spec.secrets) == ("", {}, {})
    assert (spec.retry_interval, spec.rate_limit) == (None, None)  # 0: no limit


def test_a_stored_meta_destination_says_whether_it_has_a_token_never_which() -> None:
    stored_row = row(
        model.Destination,
        kind="meta",
        settings={"pixel_id": 111, "api_version": "v25.0"},
        secret="EAAB-token",
        retry_interval=dt.timedelta(minutes=5),
        rate_limit=20.0,
        needs_action=True,
        needs_action_reason="token expired",
    )

    shown = mapping.destination(stored_row)

    assert shown.meta == destinations_pb2.MetaSettings(
        pixel_id="111", access_token_set=True, api_version="v25.0"
    )
    assert "EAAB-token" not in str(shown)
    assert shown.retry_interval.ToTimedelta() == dt.timedelta(minutes=5)
    assert (shown.rate_limit, shown.needs_action, shown.needs_action_reason) == (
        20.0,
        True,
        "token expired",
    )


def test_a_stored_sandbox_shows_its_failure_rate_and_no_limits_it_has_not() -> None:
    shown = mapping.destination(
        row(model.Destination, kind="sandbox", settings={"transient_failure_rate": 0.25})
    )

    assert shown.sandbox.transient_failure_rate == 0.25
    assert not shown.HasField("retry_interval")
    assert shown.rate_limit == 0  # no limit
    assert (
        mapping.destination(row(model.Destination, kind="sandbox")).sandbox.transient_failure_rate
        == 0
    )


# Filters, the status stream, operations and stats


def test_a_delivery_filter_names_its_bad_status_by_index() -> None:
    message = E.DeliveryFilter(
        statuses=[E.DELIVERY_STATUS_FAILED, E.DELIVERY_STATUS_UNSPECIFIED],
        destination="meta",
    )

    with pytest.raises(InvalidArgument) as caught:
        mapping.delivery_filter(message)
    assert violated(caught) == ["filter.statuses[1]"]
    with pytest.raises(InvalidArgument) as caught:
        mapping.status_names([99], "statuses")
    assert violated(caught) == ["statuses[0]"]


def test_a_delivery_filter_becomes_the_domains() -> None:
    message = E.DeliveryFilter(
        statuses=[E.DELIVERY_STATUS_FAILED, E.DELIVERY_STATUS_WAITING_RETRY],
        destination="meta",
        event_name="Purchase",
        created_after=mapping.timestamp(NOW),
    )

    taken = mapping.delivery_filter(message)

    assert list(taken.statuses) == ["FAILED", "WAITING_RETRY"]
    # The destination is named apart, for the service to resolve.
    assert (taken.destination_id, taken.event_name) == (None, "Purchase")
    assert (taken.after, taken.before) == (NOW, None)


def test_a_first_status_change_comes_from_unspecified() -> None:
    change = row(
        model.ChangeView, seq=1, event_id=42, delivery_id=7, from_status=None, to_status="PENDING"
    )

    shown = mapping.status_change(change)

    assert (shown.from_status, shown.to_status) == (
        E.DELIVERY_STATUS_UNSPECIFIED,
        E.DELIVERY_STATUS_PENDING,
    )
    assert (shown.sequence, shown.event_id, shown.delivery_id) == (1, "42", "7")


@pytest.mark.parametrize(("kind", "state"), [("retry", "running"), ("cancel", "done")])
def test_an_operation_shows_its_kind_state_and_counts(kind: str, state: str) -> None:
    operation = row(
        model.OperationRow,
        id=5,
        kind=kind,
        state=state,
        total=10,
        processed=4,
        changed=3,
        skipped=1,
        finished_at=None,
    )

    shown = mapping.operation(operation)

    assert E.OperationKind.Name(shown.kind) == f"OPERATION_KIND_{kind.upper()}"
    assert E.OperationState.Name(shown.state) == f"OPERATION_STATE_{state.upper()}"
    assert (shown.id, shown.total, shown.processed, shown.changed, shown.skipped) == (
        "5",
        10,
        4,
        3,
        1,
    )
    assert not shown.HasField("finished_at")


def test_stats_buckets_start_one_bucket_apart_and_health_has_its_twin() -> None:
    result = Stats(
        since=NOW,
        until=NOW + dt.timedelta(hours=2),
        bucket=dt.timedelta(hours=1),
        counts=[("meta", "SUCCEEDED", 9), ("meta", "FAILED", 1)],
        success_rate=0.9,
        attempts=[{"succeeded": 5}, {"succeeded": 4, "rejected": 1}],
        destinations=[
            DestinationStats(
                name="meta",
                kind="meta",
                health="needs_action",
                reason="token expired",
                action="credentials",
                waiting_retry=2,
                success_rate=0.9,
                last_success_at=NOW,
                last_failure_at=None,
            )
        ],
    )

    shown = mapping.stats(result)

    assert [(c.destination, c.status, c.count) for c in shown.counts] == [
        ("meta", E.DELIVERY_STATUS_SUCCEEDED, 9),
        ("meta", E.DELIVERY_STATUS_FAILED, 1),
    ]
    assert [b.start for b in shown.attempts] == [
        mapping.timestamp(NOW),
        mapping.timestamp(NOW + dt.timedelta(hours=1)),
    ]
    assert [(b.succeeded, b.rejected) for b in shown.attempts] == [(5, 0), (4, 1)]
    (meta,) = shown.destinations
    assert (meta.health, meta.reason, meta.action, meta.waiting_retry) == (
        E.DESTINATION_HEALTH_NEEDS_ACTION,
        "token expired",
        "credentials",
        2,
    )
    assert not meta.HasField("last_failure_at")
