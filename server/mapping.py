"""Translation between the protobuf contract and the domain's plain objects.

Kept apart from the servicers so each servicer reads as decode, call, encode.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.json_format import MessageToDict
from tenaz.v1 import destinations_pb2, events_pb2

from jobs import model, pii
from jobs.canonical import CanonicalEvent
from jobs.destinations import DestinationSpec
from jobs.errors import InvalidArgument
from jobs.model import ChangeView, OperationRow
from jobs.platforms import registry
from jobs.stats import Stats
from jobs.status import FailureReason, Status, as_status
from jobs.status_follower import Followed, Heartbeat
from jobs.submission import ContentInput, EventInput, SubmitResult
from jobs.turns import in_turns

# The proto's UserData fields: personal data (hashed) and identifiers (clear).
_USER_FIELDS = frozenset((*pii.HASHED_FIELDS, *pii.CLEAR_FIELDS))

STATUS_TO_PROTO = {
    Status.PENDING: events_pb2.DELIVERY_STATUS_PENDING,
    Status.SENDING: events_pb2.DELIVERY_STATUS_SENDING,
    Status.WAITING_RETRY: events_pb2.DELIVERY_STATUS_WAITING_RETRY,
    Status.RESENDING: events_pb2.DELIVERY_STATUS_RESENDING,
    Status.SUCCEEDED: events_pb2.DELIVERY_STATUS_SUCCEEDED,
    Status.FAILED: events_pb2.DELIVERY_STATUS_FAILED,
}
STATUS_FROM_PROTO = {v: k for k, v in STATUS_TO_PROTO.items()}
_REASON = {
    FailureReason.REJECTED: events_pb2.FAILURE_REASON_REJECTED,
    FailureReason.EXPIRED: events_pb2.FAILURE_REASON_EXPIRED,
    FailureReason.CANCELLED: events_pb2.FAILURE_REASON_CANCELLED,
    FailureReason.DESTINATION_DELETED: events_pb2.FAILURE_REASON_DESTINATION_DELETED,
}
_OUTCOME = {
    "in_progress": events_pb2.ATTEMPT_OUTCOME_IN_PROGRESS,
    "succeeded": events_pb2.ATTEMPT_OUTCOME_SUCCEEDED,
    "external_problem": events_pb2.ATTEMPT_OUTCOME_EXTERNAL_PROBLEM,
    "rejected": events_pb2.ATTEMPT_OUTCOME_REJECTED,
    "interrupted": events_pb2.ATTEMPT_OUTCOME_INTERRUPTED,
    "expired": events_pb2.ATTEMPT_OUTCOME_EXPIRED,
    "attempt_budget": events_pb2.ATTEMPT_OUTCOME_ATTEMPT_BUDGET,
}


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# What protobuf's Timestamp allows: 0001-01-01 to 9999-12-31.
_MIN_SECONDS, _MAX_SECONDS = -62_135_596_800, 253_402_300_799


# Timestamp.FromDatetime and ToDatetime are pure Python and show in profiles of big
# batches; the arithmetic below is the same conversion (naive times count as UTC).
def timestamp(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    since = value - _EPOCH
    return timestamp_pb2.Timestamp(
        seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000
    )


class Timestamps:
    """`timestamp`, converting each time once: an answer about many deliveries made in one
    transaction holds the same few times (when they were made, when their first attempt is
    due) over and over."""

    def __init__(self) -> None:
        self._done: dict[dt.datetime, timestamp_pb2.Timestamp] = {}

    def __call__(self, value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
        if value is None:
            return None
        done = self._done.get(value)
        if done is None:
            done = self._done[value] = timestamp(value)  # type: ignore[assignment]
        return done


def from_timestamp(message: Any, field: str, path: str = "") -> dt.datetime | None:
    """The time in `message.<field>`, or None if unset; `path` prefixes the field in errors."""
    if not message.HasField(field):
        return None
    value = getattr(message, field)
    if not (_MIN_SECONDS <= value.seconds <= _MAX_SECONDS and 0 <= value.nanos < 1_000_000_000):
        raise InvalidArgument.one(
            f"{path}.{field}" if path else field,
            "not a valid time: seconds from 0001-01-01 to 9999-12-31, nanos from 0 to 999,999,999",
        )
    return _EPOCH + dt.timedelta(seconds=value.seconds, microseconds=value.nanos // 1000)


def event_input(event: events_pb2.Event, path: str) -> EventInput:
    """The event as the domain takes it; `path` (`event`, `events[3]`) prefixes errors."""
    custom = event.custom_data
    return EventInput(
        event_id=event.event_id,
        event_name=event.event_name,
        event_time=from_timestamp(event, "event_time", path),
        action_source=event.action_source,
        event_source_url=event.event_source_url,
        # ListFields gives only the fields that are set, without a lookup per field.
        user_data={
            field.name: value
            for field, value in event.user_data.ListFields()
            if field.name in _USER_FIELDS
        },
        value=custom.value if custom.HasField("value") else None,
        currency=custom.currency,
        order_id=custom.order_id,
        contents=[
            ContentInput(id=c.id, quantity=c.quantity, item_price=c.item_price)
            for c in custom.contents
        ],
        content_type=custom.content_type,
        extra=_extra(custom, path),
        destinations=list(event.destinations),
    )


def _extra(custom: events_pb2.CustomData, path: str) -> dict[str, Any]:
    if not custom.HasField("extra"):
        return {}
    try:
        return MessageToDict(custom.extra)
    except ValueError:  # NaN or infinity, which JSON cannot carry
        raise InvalidArgument.one(
            f"{path}.custom_data.extra", "numbers must be finite (JSON has no NaN or infinity)"
        ) from None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _content(item: object) -> events_pb2.Content | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return None
    quantity, price = item.get("quantity", 0), item.get("item_price", 0.0)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not _is_number(price):
        return None
    return events_pb2.Content(id=item["id"], quantity=quantity, item_price=float(price))


def _fill_custom_data(proto: events_pb2.CustomData, custom: dict[str, Any]) -> None:
    """Set an empty `proto` (marked present) to custom_data as stored, in its typed fields
    where it has their types.

    A caller's `extra` may carry a key of a typed field with another type (a text
    `value`); it was sent to the platform as given, and is shown back in `extra`.
    """
    proto.SetInParent()
    extra: dict[str, Any] = {}
    for key, value in custom.items():
        if key in ("currency", "order_id", "content_type") and isinstance(value, str):
            setattr(proto, key, value)
        elif key == "value" and _is_number(value):
            proto.value = float(value)
        elif key == "contents" and isinstance(value, list):
            contents = [_content(item) for item in value]
            if all(c is not None for c in contents):
                proto.contents.extend(c for c in contents if c is not None)
            else:
                extra[key] = value
        elif key != "content_ids" or not isinstance(value, list):
            extra[key] = value
    if extra:
        proto.extra.update(extra)


def fill_stored_event(
    message: events_pb2.StoredEvent,
    event: model.Event,
    stamps: Callable[[dt.datetime | None], Any] = timestamp,
) -> None:
    """Set an empty `message` to `event` as the API shows it, in place (a message given to
    a constructor is copied into it); `stamps` converts its times (a `Timestamps` shared by
    the events of one page converts each once)."""
    payload = event.payload
    message.id = str(event.id)
    proto = message.event
    proto.event_id = event.event_id
    proto.event_name = event.event_name
    proto.event_time.CopyFrom(stamps(event.event_time))
    proto.action_source = payload.get("action_source", "")
    proto.event_source_url = payload.get("event_source_url", "")
    user_data = proto.user_data
    user_data.SetInParent()
    for name, value in CanonicalEvent(payload).customer_data().items():
        setattr(user_data, name, value)
    _fill_custom_data(proto.custom_data, payload.get("custom_data", {}))
    proto.destinations.extend(d.destination_name for d in event.deliveries)
    message.received_at.CopyFrom(stamps(event.received_at))
    for row in event.deliveries:
        fill_delivery(message.deliveries.add(), row, stamps)


async def submit_events_response(
    results: Sequence[SubmitResult],
) -> events_pb2.SubmitEventsResponse:
    """SubmitEvents' answer: each event's id and deliveries, in the order they were sent;
    the event loop gets turns meanwhile (jobs/turns.py).

    Built in place: a message given to its parent (a constructor's list, `append`) is copied
    into it, which for a batch costs as much again as building it.
    """
    stamps = Timestamps()
    response = events_pb2.SubmitEventsResponse()

    def add(index: int, result: SubmitResult) -> None:
        item = response.results.add(
            index=index, id=str(result.event.id), duplicate=result.duplicate
        )
        for row in result.event.deliveries:
            fill_delivery(item.deliveries.add(), row, stamps)

    await in_turns(enumerate(results), lambda pair: add(*pair))
    return response


# The times of a delivery, by the same name in the model and the proto.
_DELIVERY_TIMES = ("next_attempt_at", "deadline", "created_at", "updated_at")


def fill_delivery(
    message: events_pb2.Delivery,
    row: model.Delivery,
    stamps: Callable[[dt.datetime | None], Any] = timestamp,
) -> None:
    """Set an empty `message` to `row` as the API shows it; `stamps` converts its times (a
    `Timestamps` shared by the deliveries of one answer converts each once)."""
    message.id = str(row.id)
    message.destination = row.destination_name
    message.platform = row.destination_kind
    message.status = STATUS_TO_PROTO[as_status(row.status)]
    if row.failure_reason:
        message.failure_reason = _REASON[FailureReason(row.failure_reason)]
    message.attempt_count = row.attempt_count
    message.last_error = row.last_error
    for name in _DELIVERY_TIMES:
        value = getattr(row, name)
        if value is not None:
            getattr(message, name).CopyFrom(stamps(value))
    message.attempts.extend(attempt(a, stamps) for a in row.attempts)


def attempt(
    row: model.Attempt, stamps: Callable[[dt.datetime | None], Any] = timestamp
) -> events_pb2.Attempt:
    return events_pb2.Attempt(
        number=row.number,
        trigger=row.trigger,
        started_at=stamps(row.started_at),
        finished_at=stamps(row.finished_at),
        outcome=_OUTCOME.get(row.outcome, events_pb2.ATTEMPT_OUTCOME_UNSPECIFIED),
        http_status=row.http_status or 0,
        platform_code=row.platform_code or 0,
        platform_subcode=row.platform_subcode or 0,
        message=row.message,
        response_excerpt=row.response_excerpt,
    )


# A stored setting as its proto field's type (older rows may hold a pixel id as a number).
_AS_PROTO: dict[str, Callable[[Any], Any]] = {
    "text": str,
    "number": float,
    "integer": int,
    "flag": bool,
}


def _is_unset(value: Any) -> bool:
    """Proto3 gives unset fields their zero value; a zero setting is an unset one."""
    return value is None or value in ("", 0, False) or (isinstance(value, dict) and not value)


def destination_spec(message: destinations_pb2.Destination) -> DestinationSpec:
    """A destination as given: the platform's settings by its declaration, unset ones left
    out (defaults apply), secrets apart."""
    kind = message.WhichOneof("platform") or ""
    settings: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    platform = registry.platforms().get(kind)
    if platform is not None:
        given = getattr(message, kind)
        for setting in platform.settings:
            value: Any = getattr(given, setting.name)
            if setting.type == "names":
                value = dict(value)
            if setting.secret:
                secrets[setting.name] = value
            elif not _is_unset(value):
                settings[setting.name] = value
    interval = message.retry_interval.ToTimedelta() if message.HasField("retry_interval") else None
    return DestinationSpec(
        name=message.name,
        kind=kind,
        enabled=message.enabled,
        settings=settings,
        secrets=secrets,
        retry_interval=interval,
        rate_limit=message.rate_limit or None,
        event_filter=list(message.event_filter),
        event_names=dict(message.event_names),
    )


def destination(row: model.Destination) -> destinations_pb2.Destination:
    message = destinations_pb2.Destination(
        name=row.name,
        enabled=row.enabled,
        needs_action=row.needs_action,
        needs_action_reason=row.needs_action_reason,
        needs_action_code=row.needs_action_code,
        created_at=timestamp(row.created_at),
        updated_at=timestamp(row.updated_at),
        event_filter=list(row.event_filter),
        event_names=dict(row.event_names),
    )
    platform = registry.platforms().get(row.kind)
    if platform is not None:
        shown = getattr(message, row.kind)
        shown.SetInParent()
        for setting in platform.settings:
            if setting.secret:
                # Secrets are write-only: only whether they are stored shows.
                setattr(shown, f"{setting.name}_set", bool(row.secret))
                continue
            value = row.settings.get(setting.name)
            if _is_unset(value):
                continue
            if setting.type == "names":
                getattr(shown, setting.name).update(value)
            else:
                setattr(shown, setting.name, _AS_PROTO[setting.type](value))
    if row.rate_limit is not None:
        message.rate_limit = row.rate_limit
    if row.retry_interval is not None:
        interval = duration_pb2.Duration()
        interval.FromTimedelta(row.retry_interval)
        message.retry_interval.CopyFrom(interval)
    return message


def status_or_unspecified(value: str | None) -> Any:
    return STATUS_TO_PROTO[as_status(value)] if value else events_pb2.DELIVERY_STATUS_UNSPECIFIED


def status_names(values: Iterable[Any], field: str) -> list[str]:
    """Proto statuses of a filter as domain names; UNSPECIFIED and unknown are errors."""
    names = []
    for index, value in enumerate(values):
        if value not in STATUS_FROM_PROTO:
            raise InvalidArgument.one(f"{field}[{index}]", "not a delivery status")
        names.append(str(STATUS_FROM_PROTO[value]))
    return names


def status_change(row: ChangeView) -> events_pb2.StatusChange:
    return events_pb2.StatusChange(
        sequence=row.seq,
        event_id=str(row.event_id),
        client_event_id=row.client_event_id,
        event_name=row.event_name,
        delivery_id=str(row.delivery_id),
        destination=row.destination,
        from_status=status_or_unspecified(row.from_status),
        to_status=STATUS_TO_PROTO[as_status(row.to_status)],
        at=timestamp(row.at),
        attempt_number=row.attempt_number,
        error=row.error,
    )


def watch_status_response(item: Followed) -> events_pb2.WatchStatusResponse:
    if isinstance(item, Heartbeat):
        return events_pb2.WatchStatusResponse(
            heartbeat=events_pb2.Heartbeat(last_sequence=item.last_sequence, at=timestamp(item.at))
        )
    return events_pb2.WatchStatusResponse(change=status_change(item))


def delivery_filter(message: events_pb2.DeliveryFilter) -> model.DeliveryFilter:
    """The filter of a bulk retry or cancel; its destination, by name, is resolved apart."""
    return model.DeliveryFilter(
        statuses=status_names(message.statuses, "filter.statuses"),
        event_name=message.event_name,
        after=from_timestamp(message, "created_after"),
        before=from_timestamp(message, "created_before"),
    )


_OPERATION_KIND = {
    "retry": events_pb2.OPERATION_KIND_RETRY,
    "cancel": events_pb2.OPERATION_KIND_CANCEL,
}
_OPERATION_STATE = {
    "running": events_pb2.OPERATION_STATE_RUNNING,
    "done": events_pb2.OPERATION_STATE_DONE,
    "failed": events_pb2.OPERATION_STATE_FAILED,
}


def operation(row: OperationRow) -> events_pb2.Operation:
    return events_pb2.Operation(
        id=str(row.id),
        kind=_OPERATION_KIND[row.kind],
        state=_OPERATION_STATE[row.state],
        total=row.total,
        processed=row.processed,
        changed=row.changed,
        skipped=row.skipped,
        created_at=timestamp(row.created_at),
        finished_at=timestamp(row.finished_at),
        error=row.error,
    )


_HEALTH = {
    "healthy": events_pb2.DESTINATION_HEALTH_HEALTHY,
    "failing": events_pb2.DESTINATION_HEALTH_FAILING,
    "needs_action": events_pb2.DESTINATION_HEALTH_NEEDS_ACTION,
    "disabled": events_pb2.DESTINATION_HEALTH_DISABLED,
}


def stats(result: Stats) -> events_pb2.GetStatsResponse:
    return events_pb2.GetStatsResponse(
        counts=[
            events_pb2.StatusCount(
                destination=name, status=STATUS_TO_PROTO[as_status(status)], count=count
            )
            for name, status, count in result.counts
        ],
        success_rate=result.success_rate,
        attempts=[
            events_pb2.AttemptBucket(
                start=timestamp(result.since + index * result.bucket), **bucket
            )
            for index, bucket in enumerate(result.attempts)
        ],
        destinations=[
            events_pb2.DestinationStats(
                destination=d.name,
                health=_HEALTH[d.health],
                reason=d.reason,
                action=d.action,
                waiting_retry=d.waiting_retry,
                success_rate=d.success_rate,
                last_success_at=timestamp(d.last_success_at),
                last_failure_at=timestamp(d.last_failure_at),
            )
            for d in result.destinations
        ],
        since=timestamp(result.since),
        until=timestamp(result.until),
    )
