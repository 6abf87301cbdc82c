"""RetryDeliveries, CancelDeliveries and GetOperation over gRPC: manual retries are
recorded as such, bulk operations run in the background and report progress."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_meta import Failure, FakeMetaServer
from jobs.runtime import Runtime
from server.app import TenazServer
from tests.support import run_jobs, status_history

S = events_pb2


async def submit(client: TenazClient, clock: FakeClock, event_id: str, **extra: object) -> str:
    response = await client.submit_event(
        make_event(
            event_id=event_id,
            event_name="Purchase",
            event_time=clock.now() - dt.timedelta(minutes=1),
            email="a@example.com",
            **extra,  # type: ignore[arg-type]
        )
    )
    return response.event.deliveries[0].id


async def delivery(client: TenazClient, runtime: Runtime, delivery_id: str) -> events_pb2.Delivery:
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT event_id FROM tenaz_deliveries WHERE id = %s", (int(delivery_id),)
        )
        row = await cur.fetchone()
    assert row is not None
    [found] = [d for d in (await client.get_event(str(row[0]))).deliveries if d.id == delivery_id]
    return found


async def test_retrying_a_failed_delivery_sends_it_again_as_a_manual_attempt(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    fake_meta.fake.fail_next(1, Failure.graph_error(400, 100, "Invalid parameter"))
    delivery_id = await submit(client, clock, "o1")
    await run_jobs(runtime)
    assert (await delivery(client, runtime, delivery_id)).status == S.DELIVERY_STATUS_FAILED

    operation = await client.retry_deliveries([delivery_id])
    assert operation.state == S.OPERATION_STATE_DONE
    assert (operation.total, operation.changed, operation.skipped) == (1, 1, 0)
    await run_jobs(runtime)

    found = await delivery(client, runtime, delivery_id)
    assert found.status == S.DELIVERY_STATUS_SUCCEEDED
    assert [a.trigger for a in found.attempts] == ["automatic", "manual"]
    assert await status_history(runtime, delivery_id) == [
        "PENDING",
        "SENDING",
        "FAILED",
        "WAITING_RETRY",
        "RESENDING",
        "SUCCEEDED",
    ]


async def test_retrying_a_waiting_delivery_makes_it_due_now(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    fake_meta.fake.fail_next(1, Failure.http_503())
    delivery_id = await submit(client, clock, "o1")
    await run_jobs(runtime)
    clock.advance(dt.timedelta(minutes=3))
    await client.retry_deliveries([delivery_id])
    await run_jobs(runtime)
    found = await delivery(client, runtime, delivery_id)
    assert found.status == S.DELIVERY_STATUS_SUCCEEDED
    assert found.attempts[1].trigger == "manual"
    assert found.attempts[1].started_at.ToDatetime(tzinfo=dt.UTC) == clock.now()


async def test_cancel_stops_retries_and_skips_what_it_cannot_cancel(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    fake_meta.fake.fail_next(1, Failure.http_503())
    waiting = await submit(client, clock, "o1")
    await run_jobs(runtime)
    done = await submit(client, clock, "o2")
    await run_jobs(runtime)

    operation = await client.cancel_deliveries([waiting, done])
    assert (operation.changed, operation.skipped) == (1, 1)
    found = await delivery(client, runtime, waiting)
    assert found.status == S.DELIVERY_STATUS_FAILED
    assert found.failure_reason == S.FAILURE_REASON_CANCELLED
    assert (await delivery(client, runtime, done)).status == S.DELIVERY_STATUS_SUCCEEDED
    # A cancelled delivery can be retried by hand.
    await client.retry_deliveries([waiting])
    await run_jobs(runtime)
    assert (await delivery(client, runtime, waiting)).status == S.DELIVERY_STATUS_SUCCEEDED


async def test_bulk_cancel_and_replay_by_filter_run_in_the_background_with_progress(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    await client.create_sandbox_destination("sandbox")
    fake_meta.fake.set_down(True)
    for batch in range(2):
        await client.submit_events(
            make_event(
                event_id=f"o{batch}-{i}",
                event_name="Purchase",
                event_time=clock.now(),
                email="a@example.com",
                destinations=["meta"],
            )
            for i in range(600)
        )
    await submit(client, clock, "to-sandbox", destinations=["sandbox"])
    await run_jobs(runtime)

    by_filter = events_pb2.DeliveryFilter(
        statuses=[S.DELIVERY_STATUS_WAITING_RETRY], destination="meta"
    )
    cancel = await client.cancel_deliveries(filter=by_filter)
    assert cancel.state == S.OPERATION_STATE_RUNNING
    assert cancel.total == 1200
    await run_jobs(runtime)
    cancel = await client.get_operation(cancel.id)
    assert cancel.state == S.OPERATION_STATE_DONE
    assert (cancel.processed, cancel.changed, cancel.skipped) == (1200, 1200, 0)
    cancelled = await client.list_events(statuses=[S.DELIVERY_STATUS_FAILED], page_size=500)
    assert len(cancelled.events) == 500 and cancelled.next_page_token

    fake_meta.fake.set_down(False)
    replay = await client.retry_deliveries(
        filter=events_pb2.DeliveryFilter(
            statuses=[S.DELIVERY_STATUS_FAILED, S.DELIVERY_STATUS_SUCCEEDED]
        )
    )
    assert replay.total == 1201  # the sandbox delivery succeeded: matched, then skipped
    await run_jobs(runtime)  # the operation job, which queues the deliveries
    await run_jobs(runtime)  # the deliveries
    replay = await client.get_operation(replay.id)
    assert (replay.state, replay.changed, replay.skipped) == (S.OPERATION_STATE_DONE, 1200, 1)
    assert not (await client.list_events(statuses=[S.DELIVERY_STATUS_FAILED])).events
    assert fake_meta.fake.received_count("Purchase", "o1-599") == 1


async def test_bad_operation_requests_are_refused(client: TenazClient, meta: str) -> None:
    for call in (
        client.retry_deliveries(),
        client.retry_deliveries(["1"], filter=events_pb2.DeliveryFilter()),
        client.cancel_deliveries(["abc"]),
        client.retry_deliveries(filter=events_pb2.DeliveryFilter(destination="nowhere")),
    ):
        with pytest.raises(TenazError) as caught:
            await call
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(TenazError) as caught:
        await client.retry_deliveries(["999999"])
    assert caught.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(TenazError) as caught:
        await client.get_operation("424242")
    assert caught.value.code == grpc.StatusCode.NOT_FOUND


async def test_operations_stay_inside_their_workspace(
    client: TenazClient, server: TenazServer, clock: FakeClock, other_api_key: str, meta: str
) -> None:
    delivery_id = await submit(client, clock, "mine")
    operation = await client.cancel_deliveries([delivery_id])
    async with TenazClient(f"127.0.0.1:{server.port}", other_api_key) as other:
        with pytest.raises(TenazError) as caught:
            await other.retry_deliveries([delivery_id])
        assert caught.value.code == grpc.StatusCode.NOT_FOUND
        with pytest.raises(TenazError) as caught:
            await other.get_operation(operation.id)
        assert caught.value.code == grpc.StatusCode.NOT_FOUND
