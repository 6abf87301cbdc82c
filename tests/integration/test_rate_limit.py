"""Over its submission rate, a key gets RESOURCE_EXHAUSTED with a retry hint; input refused
for its shape spends none of the rate."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from tenaz.client import TenazClient, make_event
from tenaz.v1 import events_pb2, events_pb2_grpc

from jobs import keys
from jobs.runtime import Runtime, open_runtime
from jobs.scopes import ADMIN
from jobs.settings import Settings
from server.app import start_server


@contextlib.asynccontextmanager
async def limited_server(
    settings: Settings, *, rate: float, burst: int
) -> AsyncIterator[tuple[Runtime, str, str]]:
    """A server whose keys may submit `rate` events a second in bursts of `burst`: its
    runtime, its address, and a key of a workspace with a sandbox destination."""
    limited = dataclasses.replace(settings, submit_rate_limit=rate, submit_burst=burst)
    async with open_runtime(limited, limited.database_url) as runtime:
        key = (await keys.create_key(runtime.pool, workspace="acme", scope=ADMIN)).secret
        server = await start_server(runtime, "127.0.0.1:0")
        address = f"127.0.0.1:{server.port}"
        try:
            async with TenazClient(address, key) as tenaz:
                await tenaz.create_sandbox_destination("sandbox")
            yield runtime, address, key
        finally:
            await server.stop(grace=0.5)


def lead(event_id: str) -> events_pb2.Event:
    return make_event(
        event_id=event_id, event_name="Lead", event_time=dt.datetime.now(dt.UTC), email="a@x.com"
    )


def auth(secret: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {secret}"),)


async def test_a_key_over_its_rate_is_told_when_to_retry(settings: Settings) -> None:
    # One event every 10 s: the sixth is over the limit however slowly the machine goes.
    async with limited_server(settings, rate=0.1, burst=5) as (runtime, address, key):
        other = (await keys.create_key(runtime.pool, workspace="acme")).secret
        events = [lead(f"e{i}") for i in range(6)]
        async with grpc.aio.insecure_channel(address) as channel:
            stub = events_pb2_grpc.EventServiceStub(channel)
            await stub.SubmitEvents(
                events_pb2.SubmitEventsRequest(events=events[:5]), metadata=auth(key)
            )
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.SubmitEvent(
                    events_pb2.SubmitEventRequest(event=events[5]), metadata=auth(key)
                )
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            details = dict(caught.value.trailing_metadata() or ())["grpc-status-details-bin"]
            status = status_pb2.Status.FromString(details)
            info = error_details_pb2.RetryInfo()
            assert status.details[0].Unpack(info)
            assert 0 < info.retry_delay.ToTimedelta().total_seconds() <= 10.0
            # Another key is not held back by the first one's burst.
            await stub.SubmitEvent(
                events_pb2.SubmitEventRequest(event=events[5]), metadata=auth(other)
            )


async def test_input_refused_for_its_shape_spends_none_of_the_keys_limit(
    settings: Settings,
) -> None:
    # Two events' worth of burst, refilled only after some twenty minutes.
    async with limited_server(settings, rate=0.001, burst=2) as (_, address, key):
        unrepresentable = lead("bad-time")
        unrepresentable.event_time.seconds = 10**12  # past the year 9999
        bad_currency = lead("bad-currency")
        bad_currency.custom_data.value = 10
        bad_currency.custom_data.currency = "ZZZ"
        no_customer = lead("nobody")
        no_customer.user_data.Clear()
        async with grpc.aio.insecure_channel(address) as channel:
            stub = events_pb2_grpc.EventServiceStub(channel)
            refused = [
                stub.SubmitEvents(
                    events_pb2.SubmitEventsRequest(events=[lead(f"e{i}") for i in range(1001)]),
                    metadata=auth(key),
                ),
                stub.SubmitEvents(events_pb2.SubmitEventsRequest(), metadata=auth(key)),
                stub.SubmitEvents(
                    events_pb2.SubmitEventsRequest(events=[lead("ok"), unrepresentable]),
                    metadata=auth(key),
                ),
                stub.SubmitEvent(
                    events_pb2.SubmitEventRequest(event=unrepresentable), metadata=auth(key)
                ),
                stub.SubmitEvent(events_pb2.SubmitEventRequest(), metadata=auth(key)),
                # Fields the event gets wrong on its own: checked before the limit too.
                stub.SubmitEvents(
                    events_pb2.SubmitEventsRequest(events=[lead("ok"), bad_currency]),
                    metadata=auth(key),
                ),
                stub.SubmitEvent(
                    events_pb2.SubmitEventRequest(event=no_customer), metadata=auth(key)
                ),
            ]
            for call in refused:
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await call
                assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

            # The whole burst is still there, and the limit still holds after it.
            await stub.SubmitEvents(
                events_pb2.SubmitEventsRequest(events=[lead("a"), lead("b")]), metadata=auth(key)
            )
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.SubmitEvent(
                    events_pb2.SubmitEventRequest(event=lead("c")), metadata=auth(key)
                )
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
