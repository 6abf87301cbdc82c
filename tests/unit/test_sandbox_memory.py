"""What a sandbox remembers stays bounded however many events a key sends it: the requests it
keeps, the events it counts, its scripted failures, and the sandboxes a worker keeps."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from jobs.clock import FakeClock
from jobs.connectors import MAX_KEPT, ConnectorFactory
from jobs.egress import EgressPolicy
from jobs.lru import LruDict
from jobs.model import Destination
from jobs.platforms import meta
from jobs.platforms.base import OutcomeKind, OutgoingEvent
from jobs.platforms.fake_http import FakeTransport
from jobs.platforms.fake_meta import FakeMeta
from jobs.platforms.sandbox import (
    FAIL_ATTEMPTS_KEY,
    HISTORY,
    REMEMBERED,
    DemoSwitches,
    sandbox_fake,
)
from jobs.secrets import SecretBox, generate_key
from tests.support import stored_shape

EVENTS_URL = "http://sandbox.tenaz.invalid/v25.0/1234567890/events"
BATCH = 1000  # the most Meta takes in one request


def event(event_id: str, **custom: object) -> dict[str, Any]:
    return {
        "event_name": "Lead",
        "event_id": event_id,
        "event_time": int(time.time()),
        "action_source": "other",
        "user_data": {"external_id": "a" * 64},
        "custom_data": custom,
    }


@pytest.fixture
async def sandbox() -> AsyncIterator[tuple[FakeMeta, httpx.AsyncClient]]:
    assert meta.PLATFORM.sandbox is not None
    fake = sandbox_fake(meta.PLATFORM.sandbox, time.time, 0.0)
    assert isinstance(fake, FakeMeta)
    async with httpx.AsyncClient(transport=FakeTransport(fake)) as client:
        yield fake, client


async def send(client: httpx.AsyncClient, events: list[dict[str, Any]]) -> int:
    body = {"data": events, "access_token": "sandbox-token"}
    return (await client.post(EVENTS_URL, json=body)).status_code


async def send_many(
    client: httpx.AsyncClient, prefix: str, total: int, **custom: object
) -> set[int]:
    """Send `total` events with distinct ids in full batches; the statuses the sandbox answered."""
    statuses = set()
    for start in range(0, total, BATCH):
        batch = [event(f"{prefix}{index}", **custom) for index in range(start, start + BATCH)]
        statuses.add(await send(client, batch))
    return statuses


def test_an_lru_dict_keeps_the_most_recently_set_keys() -> None:
    recent: LruDict[int, str] = LruDict(3)
    for key in range(10):
        recent[key] = str(key)
    assert list(recent) == [7, 8, 9]
    recent.move_to_end(7)  # read, and kept
    recent[10] = "10"
    recent[9] = "nine"  # set again: the newest
    assert list(recent) == [7, 10, 9] and recent[9] == "nine"
    unbounded: LruDict[int, int] = LruDict(None)
    for key in range(5000):
        unbounded[key] = key
    assert len(unbounded) == 5000
    with pytest.raises(ValueError, match="at least 1"):
        LruDict(0)


def test_a_fake_meta_of_its_own_keeps_todays_defaults() -> None:
    fake = FakeMeta()
    assert fake.requests.maxlen == 1000 and fake.accepted.maxlen == 1000
    assert fake._received.limit is None  # tests count every event they sent


async def test_the_sandbox_keeps_a_few_requests_and_counts_the_latest_events(
    sandbox: tuple[FakeMeta, httpx.AsyncClient],
) -> None:
    fake, client = sandbox
    total = REMEMBERED + 2 * BATCH
    assert await send_many(client, "e", total) == {200}
    assert fake.total_events_received == total
    assert len(fake.requests) == len(fake.accepted) == HISTORY
    assert len(fake._received) == REMEMBERED
    assert fake.received_count("Lead", "e0") == 0  # the oldest, forgotten
    assert fake.received_count("Lead", f"e{total - 1}") == 1
    # Taking an event again makes it the newest: it outlives events received before it.
    assert await send(client, [event(f"e{total - REMEMBERED}")]) == 200
    assert await send(client, [event("new")]) == 200
    assert fake.received_count("Lead", f"e{total - REMEMBERED}") == 2
    assert fake.received_count("Lead", f"e{total - REMEMBERED + 1}") == 0


async def test_the_sandbox_remembers_scripted_failures_of_the_latest_events_only() -> None:
    async with httpx.AsyncClient() as platforms:
        factory = connector_factory(platforms)
        connector = factory.for_destination(sandbox_destination(1))
        assert isinstance(connector, DemoSwitches)
        total = REMEMBERED + 2 * BATCH
        for start in range(0, total, BATCH):
            batch = [
                OutgoingEvent(n, stored_shape(event(f"f{n}", **{FAIL_ATTEMPTS_KEY: 1})))
                for n in range(start, start + BATCH)
            ]
            outcomes = await connector.send(batch)
            assert {o.kind for o in outcomes} == {OutcomeKind.EXTERNAL_PROBLEM}
        assert len(connector._failed) == REMEMBERED
        # The latest failed once already: they go through now; the oldest are forgotten.
        latest = stored_shape(event(f"f{total - 1}", **{FAIL_ATTEMPTS_KEY: 1}))
        oldest = stored_shape(event("f0", **{FAIL_ATTEMPTS_KEY: 1}))
        outcomes = await connector.send([OutgoingEvent(1, latest), OutgoingEvent(2, oldest)])
        assert [o.kind for o in outcomes] == [OutcomeKind.SUCCEEDED, OutcomeKind.EXTERNAL_PROBLEM]
        await factory.aclose()


def connector_factory(platforms: httpx.AsyncClient) -> ConnectorFactory:
    """A worker's connector factory, with a clock, a key and the default egress policy."""
    return ConnectorFactory(
        platforms,
        FakeClock(dt.datetime.now(dt.UTC)),
        SecretBox.from_setting(generate_key()),
        EgressPolicy(),
        timeout=1.0,
    )


def sandbox_destination(destination_id: int) -> Destination:
    now = dt.datetime.now(dt.UTC)
    name = f"sandbox-{destination_id}"
    # Enabled, no settings or secret, the default retry interval, no rate limit, all well.
    return Destination(
        destination_id, 1, name, "sandbox", True, {}, "", None, None, False, "", now, now
    )


async def test_a_worker_keeps_the_sandboxes_it_used_last() -> None:
    async with httpx.AsyncClient() as platforms:
        factory = connector_factory(platforms)

        def client_of(destination_id: int) -> object:
            connector = factory.for_destination(sandbox_destination(destination_id))
            return connector._inner._http.client  # type: ignore[attr-defined]

        first, busy = client_of(1), client_of(2)
        for destination_id in range(3, 3 + 10 * MAX_KEPT):
            client_of(destination_id)
            assert client_of(2) is busy  # used all along: kept
            assert len(factory._kept) <= MAX_KEPT
        assert len(factory._kept) == MAX_KEPT
        assert client_of(1) is not first  # unused since: dropped, and built afresh
        await factory.aclose()
