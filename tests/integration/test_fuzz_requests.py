"""Bad input everywhere, generated: random and malformed requests to every RPC always
get a clear gRPC error (never INTERNAL or UNKNOWN, never a crash), and a refused
submission stores nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor as pb_descriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import destinations_pb2, events_pb2

from jobs.clock import FakeClock
from jobs.runtime import Runtime
from server.app import TenazServer
from tests.support import count_rows

CLEAR_CODES = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
FD = pb_descriptor.FieldDescriptor
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=3000),
    st.sampled_from(["", " ", "\x00", "a\x00b", "Purchase", "maria@example.com", "ZZZ", "BRL"]),
)
_SCALARS: dict[int, st.SearchStrategy[Any]] = {
    FD.TYPE_STRING: text,
    FD.TYPE_BYTES: st.binary(max_size=64),
    FD.TYPE_BOOL: st.booleans(),
    FD.TYPE_DOUBLE: st.floats(allow_nan=True, allow_infinity=True),
    FD.TYPE_FLOAT: st.floats(width=32),
    FD.TYPE_INT32: st.integers(-(2**31), 2**31 - 1),
    FD.TYPE_INT64: st.integers(-(2**63), 2**63 - 1),
    FD.TYPE_UINT32: st.integers(0, 2**32 - 1),
    FD.TYPE_UINT64: st.integers(0, 2**64 - 1),
}


@st.composite
def messages(draw: st.DrawFn, cls: type[Message], depth: int = 0) -> Message:
    """Any message of `cls`, fields set or not at random, values from anywhere."""
    message = cls()
    for field in cls.DESCRIPTOR.fields:
        if not draw(st.booleans()):
            continue
        if field.message_type is not None:
            if depth > 3:
                continue
            sub_cls = type(getattr(message, field.name)) if not field.is_repeated else None
            if field.message_type.full_name == "google.protobuf.Timestamp":
                ts = getattr(message, field.name) if not field.is_repeated else None
                if ts is not None:
                    ts.seconds = draw(st.integers(-62135596800, 253402300799))
                continue
            if field.message_type.full_name in (
                "google.protobuf.Struct",
                "google.protobuf.Duration",
                "google.protobuf.FieldMask",
            ):
                continue
            if field.message_type.GetOptions().map_entry:
                # map<string, string>: the only maps in the API.
                getattr(message, field.name).update(
                    draw(st.dictionaries(_SCALARS[FD.TYPE_STRING], _SCALARS[FD.TYPE_STRING]))
                )
                continue
            if field.is_repeated:
                container = getattr(message, field.name)
                for _ in range(draw(st.integers(0, 3))):
                    container.add().CopyFrom(draw(messages(type(container.add()), depth + 1)))
            elif sub_cls is not None:
                getattr(message, field.name).CopyFrom(draw(messages(sub_cls, depth + 1)))
        elif field.enum_type is not None:
            values = [v.number for v in field.enum_type.values] + [99]
            value = draw(st.sampled_from(values))
            if field.is_repeated:
                getattr(message, field.name).extend([value])
            else:
                setattr(message, field.name, value)
        elif field.type in _SCALARS:
            strategy = _SCALARS[field.type]
            if field.is_repeated:
                getattr(message, field.name).extend(draw(st.lists(strategy, max_size=3)))
            else:
                setattr(message, field.name, draw(strategy))
    return message


def _method(channel: grpc.aio.Channel, service: str, name: str, *, stream: bool = False) -> Any:
    path = f"/tenaz.v1.{service}/{name}"
    if stream:
        return channel.unary_stream(path, request_serializer=None, response_deserializer=None)
    return channel.unary_unary(path, request_serializer=None, response_deserializer=None)


async def _code(call: Any, payload: bytes, key: str, *, stream: bool = False) -> grpc.StatusCode:
    metadata = (("authorization", f"Bearer {key}"),)
    try:
        if stream:
            responses = call(payload, metadata=metadata, timeout=2)
            async for _ in responses:
                break
            responses.cancel()
            return grpc.StatusCode.OK
        await call(payload, metadata=metadata, timeout=10)
    except grpc.aio.AioRpcError as exc:
        if stream and exc.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED):
            return grpc.StatusCode.OK
        return exc.code()
    return grpc.StatusCode.OK


RPCS = [
    ("EventService", "SubmitEvent", events_pb2.SubmitEventRequest, False),
    ("EventService", "SubmitEvents", events_pb2.SubmitEventsRequest, False),
    ("EventService", "GetEvent", events_pb2.GetEventRequest, False),
    ("EventService", "ListEvents", events_pb2.ListEventsRequest, False),
    ("EventService", "WatchStatus", events_pb2.WatchStatusRequest, True),
    ("EventService", "RetryDeliveries", events_pb2.RetryDeliveriesRequest, False),
    ("EventService", "CancelDeliveries", events_pb2.CancelDeliveriesRequest, False),
    ("EventService", "GetOperation", events_pb2.GetOperationRequest, False),
    ("EventService", "GetStats", events_pb2.GetStatsRequest, False),
    ("DestinationService", "CreateDestination", destinations_pb2.CreateDestinationRequest, False),
    ("DestinationService", "GetDestination", destinations_pb2.GetDestinationRequest, False),
    ("DestinationService", "UpdateDestination", destinations_pb2.UpdateDestinationRequest, False),
    ("DestinationService", "DeleteDestination", destinations_pb2.DeleteDestinationRequest, False),
]


@FUZZ
@given(
    rpc=st.sampled_from(RPCS),
    data=st.data(),
    garbage=st.one_of(st.none(), st.binary(max_size=200)),
)
async def test_any_request_to_any_rpc_gets_a_clear_answer(
    server: TenazServer,
    api_key: str,
    meta: str,
    rpc: Any,
    data: st.DataObject,
    garbage: bytes | None,
) -> None:
    service, name, cls, stream = rpc
    payload = garbage if garbage is not None else data.draw(messages(cls)).SerializeToString()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        code = await _code(
            _method(channel, service, name, stream=stream), payload, api_key, stream=stream
        )
    assert code in CLEAR_CODES, (name, code)


@FUZZ
@given(batch=st.lists(messages(events_pb2.Event), min_size=1, max_size=4))
async def test_random_events_are_stored_whole_or_not_at_all(
    server: TenazServer, api_key: str, runtime: Runtime, meta: str, batch: list[Message]
) -> None:
    before = await count_rows(runtime, "tenaz_events")
    request = events_pb2.SubmitEventsRequest(events=batch)  # type: ignore[arg-type]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        call = _method(channel, "EventService", "SubmitEvents")
        code = await _code(call, request.SerializeToString(), api_key)
    assert code in CLEAR_CODES
    after = await count_rows(runtime, "tenaz_events")
    if code != grpc.StatusCode.OK:
        assert after == before
    else:
        assert before <= after <= before + len(batch)


async def test_valid_looking_events_with_hostile_text_are_accepted_or_refused_cleanly(
    server: TenazServer, api_key: str, runtime: Runtime, meta: str
) -> None:
    now = dt.datetime.now(dt.UTC)
    hostile = ["\x00", "a\x00b", "\ud7ff", "x" * 100_000, "'; DROP TABLE tenaz_events; --"]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        call = _method(channel, "EventService", "SubmitEvent")
        for value in hostile:
            event = events_pb2.Event(event_id=value, event_name="Lead", action_source="website")
            event.event_time.FromDatetime(now)
            event.user_data.email = "a@example.com"
            event.custom_data.order_id = value
            code = await _code(
                call, events_pb2.SubmitEventRequest(event=event).SerializeToString(), api_key
            )
            assert code in (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT), value[:20]
        # Invalid UTF-8 where a string is expected, and a message over the size limit.
        assert await _code(call, b"\x0a\x03\x0a\x01\xff", api_key) == (
            grpc.StatusCode.INVALID_ARGUMENT
        )
        huge = events_pb2.SubmitEventRequest(
            event=events_pb2.Event(event_id="x" * (17 * 1024 * 1024))
        ).SerializeToString()
        assert await _code(call, huge, api_key) == grpc.StatusCode.RESOURCE_EXHAUSTED


@pytest.mark.parametrize("value", ["²", "٣", "١٢", "४२", "７"])
async def test_ids_written_in_other_digits_are_invalid_arguments(
    client: TenazClient, clock: FakeClock, meta: str, value: str
) -> None:
    """isdigit() takes superscripts and other scripts' digits, which int() refuses or reads
    as another number: events 3 and 12 exist here, and "٣" must not find the first."""
    for index in range(12):
        await client.submit_event(
            make_event(
                event_id=f"o{index}",
                event_name="Lead",
                event_time=clock.now() - dt.timedelta(minutes=1),
                email="a@example.com",
            )
        )
    calls = {
        "GetEvent": lambda: client.get_event(value),
        "GetOperation": lambda: client.get_operation(value),
        "RetryDeliveries": lambda: client.retry_deliveries(["1", value]),
        "CancelDeliveries": lambda: client.cancel_deliveries([value]),
    }
    for name, call in calls.items():
        with pytest.raises(TenazError) as caught:
            await call()
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT, (name, caught.value)
        assert "is a number" in caught.value.message, name
