"""One destination's slow platform cannot starve the others: a worker runs only a few jobs
of one destination at once, and the jobs it turned away are not left for the sweeper."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from tenaz.client import TenazClient
from tenaz.v1 import events_pb2

from jobs.base_url import BaseUrl
from jobs.clock import FakeClock
from jobs.platforms.fake_meta import Failure, FakeMeta, FakeMetaServer
from jobs.runtime import Runtime, open_runtime
from jobs.settings import Settings
from server.app import TenazServer
from tests.integration.test_attempt_budget import deliveries, purchase
from tests.support import until

S = events_pb2


@contextlib.asynccontextmanager
async def running_worker(
    runtime: Runtime, concurrency: int, hanging: FakeMeta
) -> AsyncIterator[None]:
    """A worker beside the test; the hanging platform lets its requests go before it stops."""
    worker = asyncio.create_task(
        runtime.run_worker(install_signal_handlers=False, concurrency=concurrency)
    )
    try:
        yield
    finally:
        hanging.release()
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)


@pytest.fixture
async def other_meta(clock: FakeClock) -> AsyncIterator[FakeMetaServer]:
    fake = FakeMeta(now=lambda: clock.now().timestamp(), access_tokens={"222": "other-token"})
    async with FakeMetaServer(fake) as served:
        yield served


@pytest.fixture
def settings(settings: Settings, other_meta: FakeMetaServer) -> Settings:
    # Requests wait for as long as the test holds them.
    long = dt.timedelta(seconds=60)
    return dataclasses.replace(
        settings,
        http_timeout=long,
        attempt_budget=long,
        allowed_platform_urls=(
            *settings.allowed_platform_urls,
            BaseUrl.parse(other_meta.base_url),
        ),
    )


async def test_a_slow_destination_holds_a_few_worker_slots_not_all(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    other_meta: FakeMetaServer,
    settings: Settings,
) -> None:
    await client.create_meta_destination(
        "slow", pixel_id="111", access_token="good-token", base_url=fake_meta.base_url
    )
    await client.create_meta_destination(
        "fast", pixel_id="222", access_token="other-token", base_url=other_meta.base_url
    )
    slow = fake_meta.fake
    slots = runtime.settings.destination_concurrency
    slow.fail_next(100, Failure.hanging())
    async with running_worker(runtime, slots + 1, slow), asyncio.timeout(20):
        # Each event for the slow platform comes while the earlier ones hang: each is
        # sent by a job of its own, until the destination's slots are taken.
        for n in range(slots + 2):
            await client.submit_event(purchase(clock, n, to="slow"))
            if n < slots:
                await slow.wait_for_hang(n + 1)
        await client.submit_event(purchase(clock, 100, to="fast"))
        # The worker has one slot more than the slow destination may hold: the fast
        # one's event goes out while the slow platform still hangs.
        await until(lambda: other_meta.fake.total_events_received == 1)
        assert slow.hanging == slots
        slow.stop_failing()
        slow.release()
        # The turned-away events go with the jobs still running, not after a sweep.
        await until(lambda: slow.total_events_received == slots + 2)
    found = await deliveries(client)
    assert {d.status for d in found.values()} == {S.DELIVERY_STATUS_SUCCEEDED}


async def test_destinations_behind_one_slow_endpoint_share_half_the_slots(
    client: TenazClient,
    server: TenazServer,
    other_api_key: str,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    other_meta: FakeMetaServer,
    settings: Settings,
) -> None:
    # Two slots each, four in the worker: without a share per endpoint, two destinations on
    # one hanging proxy would hold every slot.
    narrow = dataclasses.replace(settings, worker_concurrency=4, destination_concurrency=2)
    async with (
        open_runtime(narrow, narrow.database_url, clock=clock) as worker_runtime,
        TenazClient(f"127.0.0.1:{server.port}", other_api_key) as other_workspace,
    ):
        for name in ("slow-1", "slow-2"):
            await client.create_meta_destination(
                name, pixel_id="111", access_token="good-token", base_url=fake_meta.base_url
            )
        # Another tenant's destination elsewhere.
        await other_workspace.create_meta_destination(
            "fast", pixel_id="222", access_token="other-token", base_url=other_meta.base_url
        )
        slow = fake_meta.fake
        slow.fail_next(100, Failure.hanging())
        async with running_worker(worker_runtime, 4, slow), asyncio.timeout(20):
            for n, name in enumerate(["slow-1", "slow-1"]):
                await client.submit_event(purchase(clock, n, to=name))
                await slow.wait_for_hang(n + 1)
            # The endpoint's share (half of four) is taken: these wait their turn, instead
            # of taking the last two slots.
            for n in (2, 3):
                await client.submit_event(purchase(clock, n, to="slow-2"))
            await other_workspace.submit_event(purchase(clock, 100, to="fast"))
            await until(lambda: other_meta.fake.total_events_received == 1)
            assert slow.hanging == 2
            slow.stop_failing()
            slow.release()
            await until(lambda: slow.total_events_received == 4)
    found = await deliveries(client)
    assert {d.status for d in found.values()} == {S.DELIVERY_STATUS_SUCCEEDED}
