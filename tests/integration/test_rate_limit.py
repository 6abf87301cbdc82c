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
from jobs.scopes import ADMIN
from jobs.settings import Settings
from server.app import start_server


async def test_a_key_over_its_rate_is_told_when_to_retry(settings: Settings) -> None:
    limited = dataclasses.replace(settings, submit_rate_limit=1.0, submit_burst=5)
    async with open_runtime(limited, limited.database_url) as runtime:
        key = (await keys.create_key(runtime.pool, workspace="acme", scope=ADMIN)).secret
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
