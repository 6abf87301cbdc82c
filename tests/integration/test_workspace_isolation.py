"""Every RPC, called with a key of another workspace, sees and touches nothing of ours."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import destinations_pb2, events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_meta import Failure, FakeMetaServer
from jobs.runtime import Runtime
from server.app import TenazServer
from tests.support import run_jobs, status_history

S = events_pb2


async def refused(call: object, code: grpc.StatusCode = grpc.StatusCode.NOT_FOUND) -> None:
    with pytest.raises(TenazError) as caught:
        await call  # type: ignore[misc]
    assert caught.value.code == code


async def test_another_workspace_cannot_read_change_or_watch_ours(
    client: TenazClient,
    server: TenazServer,
    other_api_key: str,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    meta: str,
) -> None:
    fake_meta.fake.fail_next(1, Failure.http_503())
    mine = await client.submit_event(
        make_event(
            event_id="ours", event_name="Purchase", event_time=clock.now(), email="a@example.com"
        )
    )
    await run_jobs(runtime)
    delivery_id = mine.event.deliveries[0].id
    operation = await client.retry_deliveries([delivery_id])
    before = await status_history(runtime, delivery_id)

    async with TenazClient(f"127.0.0.1:{server.port}", other_api_key) as other:
        # Events
        await refused(other.get_event(mine.event.id))
        assert not (await other.list_events()).events
        assert not (await other.list_events(event_ids=["ours"])).events
        await refused(other.retry_deliveries([delivery_id]))
        await refused(other.cancel_deliveries([delivery_id]))
        await refused(other.get_operation(operation.id))
        stats = await other.get_stats()
        assert not stats.counts and not stats.destinations
        stream = other.watch_status(after_sequence=0, heartbeat_interval=dt.timedelta(seconds=1))
        first = await anext(stream)
        await stream.aclose()
        assert first.HasField("heartbeat")  # nothing of ours, only a heartbeat
        # Destinations
        assert await other.list_destinations() == []
        await refused(other.get_destination("meta"))
        await refused(
            other.update_destination(
                destinations_pb2.Destination(name="meta", enabled=False), ["enabled"]
            )
        )
        await refused(other.delete_destination("meta"))
        await refused(
            other.submit_event(
                make_event(
                    event_id="x",
                    event_name="Lead",
                    event_time=clock.now(),
                    email="a@example.com",
                    destinations=["meta"],
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        # The same name is free in another workspace, and stays apart.
        await other.create_sandbox_destination("meta")

    assert (await client.get_destination("meta")).WhichOneof("platform") == "meta"
    assert (await client.get_destination("meta")).enabled
    assert await status_history(runtime, delivery_id) == before
    [delivery] = (await client.get_event(mine.event.id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY
