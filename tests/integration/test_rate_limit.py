"""Over its submission rate, a key gets RESOURCE_EXHAUSTED with a retry hint."""

from __future__ import annotations

import dataclasses
import datetime as dt

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from tenaz.client import TenazClient, make_event
from tenaz.v1 import events_pb2, events_pb2_grpc

from jobs import keys
from jobs.runtime import open_runtime
from jobs.settings import Settings
from server.app import start_server


async def test_a_key_over_its_rate_is_told_when_to_retry(settings: Settings) -> None:
    limited = dataclasses.replace(settings, submit_rate_limit=1.0, submit_burst=5)
    async with open_runtime(limited, limited.database_url) as runtime:
        key = (await keys.create_key(runtime.pool, workspace="acme")).secret
        other = (await keys.create_key(runtime.pool, workspace="acme")).secret
        server = await start_server(runtime, "127.0.0.1:0")
        try:
            async with TenazClient(f"127.0.0.1:{server.port}", key) as tenaz:
                await tenaz.create_sandbox_destination("sandbox")
            now = dt.datetime.now(dt.UTC)
            events = [
                make_event(
                    event_id=f"e{i}", event_name="Lead", event_time=now, email="a@example.com"
                )
                for i in range(6)
            ]
            async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                stub = events_pb2_grpc.EventServiceStub(channel)

                def auth(secret: str) -> tuple[tuple[str, str]]:
                    return (("authorization", f"Bearer {secret}"),)

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
                assert 0 < info.retry_delay.ToTimedelta().total_seconds() <= 1.0
                # Another key is not held back by the first one's burst.
                await stub.SubmitEvent(
                    events_pb2.SubmitEventRequest(event=events[5]), metadata=auth(other)
                )
        finally:
            await server.stop(grace=0.5)


async def test_input_refused_for_its_shape_spends_none_of_the_keys_limit(
    settings: Settings,
) -> None:
    # Two events' worth of burst, refilled only after some twenty minutes.
    limited = dataclasses.replace(settings, submit_rate_limit=0.001, submit_burst=2)
    async with open_runtime(limited, limited.database_url) as runtime:
        key = (await keys.create_key(runtime.pool, workspace="acme")).secret
        server = await start_server(runtime, "127.0.0.1:0")
        try:
            async with TenazClient(f"127.0.0.1:{server.port}", key) as tenaz:
                await tenaz.create_sandbox_destination("sandbox")
            now = dt.datetime.now(dt.UTC)

            def event(event_id: str) -> events_pb2.Event:
                return make_event(
                    event_id=event_id, event_name="Lead", event_time=now, email="a@example.com"
                )

            unrepresentable = event("bad-time")
            unrepresentable.event_time.seconds = 10**12  # past the year 9999
            metadata = (("authorization", f"Bearer {key}"),)
            async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                stub = events_pb2_grpc.EventServiceStub(channel)
                refused = [
                    stub.SubmitEvents(
                        events_pb2.SubmitEventsRequest(
                            events=[event(f"e{i}") for i in range(1001)]
                        ),
                        metadata=metadata,
                    ),
                    stub.SubmitEvents(events_pb2.SubmitEventsRequest(), metadata=metadata),
                    stub.SubmitEvents(
                        events_pb2.SubmitEventsRequest(events=[event("ok"), unrepresentable]),
                        metadata=metadata,
                    ),
                    stub.SubmitEvent(
                        events_pb2.SubmitEventRequest(event=unrepresentable), metadata=metadata
                    ),
                    stub.SubmitEvent(events_pb2.SubmitEventRequest(), metadata=metadata),
                ]
                for call in refused:
                    with pytest.raises(grpc.aio.AioRpcError) as caught:
                        await call
                    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

                # The whole burst is still there, and the limit still holds after it.
                await stub.SubmitEvents(
                    events_pb2.SubmitEventsRequest(events=[event("a"), event("b")]),
                    metadata=metadata,
                )
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await stub.SubmitEvent(
                        events_pb2.SubmitEventRequest(event=event("c")), metadata=metadata
                    )
                assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        finally:
            await server.stop(grace=0.5)
