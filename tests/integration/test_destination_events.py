"""Which events a destination takes (its event filter) and what the platform calls them (its
event names), and destinations whose secret was stored before secrets were sealed together."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import destinations_pb2, events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime
from jobs.secrets import SecretBox
from jobs.settings import Settings
from jobs.store import destinations as destination_store
from tests.support import run_jobs

S = events_pb2


def meta_destination(
    name: str, base_url: str, *, only: tuple[str, ...] = (), names: dict[str, str] | None = None
) -> destinations_pb2.Destination:
    return destinations_pb2.Destination(
        name=name,
        enabled=True,
        meta=destinations_pb2.MetaSettings(
            pixel_id="111", access_token="good-token", base_url=base_url
        ),
        event_filter=list(only),
        event_names=names or {},
    )


def event(clock: FakeClock, event_id: str, name: str, *to: str) -> events_pb2.Event:
    return make_event(
        event_id=event_id,
        event_name=name,
        event_time=clock.now() - dt.timedelta(minutes=1),
        email="maria@example.com",
        destinations=list(to),
    )


async def test_a_destination_takes_only_the_events_its_filter_names(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer
) -> None:
    created = await client.create_destination(
        meta_destination("purchases", fake_meta.base_url, only=("Purchase",))
    )
    assert list(created.event_filter) == ["Purchase"]
    await client.create_sandbox_destination("everything")

    lead = await client.submit_event(event(clock, "l-1", "Lead"))
    purchase = await client.submit_event(event(clock, "p-1", "Purchase"))

    assert [d.destination for d in lead.event.deliveries] == ["everything"]
    assert sorted(d.destination for d in purchase.event.deliveries) == ["everything", "purchases"]
    # Naming the destination does not get an event past its filter: the caller hears why.
    with pytest.raises(TenazError) as caught:
        await client.submit_event(event(clock, "l-2", "Lead", "purchases"))
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    [violation] = caught.value.violations
    assert violation.field == "event.destinations[0]"
    assert "takes only: Purchase" in violation.description

    await run_jobs(runtime)
    assert fake_meta.fake.received_count("Purchase", "p-1") == 1
    assert fake_meta.fake.total_events_received == 1

    # The filter can be lifted: every event goes again.
    lifted = destinations_pb2.Destination(name="purchases")
    updated = await client.update_destination(lifted, ["event_filter"])
    assert list(updated.event_filter) == []
    again = await client.submit_event(event(clock, "l-3", "Lead"))
    assert len(again.event.deliveries) == 2


async def test_a_destination_sends_events_under_the_names_it_gives_them(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer
) -> None:
    await client.create_destination(
        meta_destination("renamed", fake_meta.base_url, names={"Purchase": "CompraAprovada"})
    )
    stored = await client.submit_event(event(clock, "p-1", "Purchase"))

    await run_jobs(runtime)

    assert fake_meta.fake.received_count("CompraAprovada", "p-1") == 1
    assert fake_meta.fake.received_count("Purchase", "p-1") == 0
    # Tenaz keeps its own name: only what the platform is sent changes.
    assert (await client.get_event(stored.event.id)).event.event_name == "Purchase"


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("destination.event_filter[0]", {"event_filter": [" Purchase"]}),
        ("destination.event_names['Purchase']", {"event_names": {"Purchase": ""}}),
    ],
)
async def test_filters_and_names_are_event_names(
    client: TenazClient, fake_meta: FakeMetaServer, field: str, change: dict[str, object]
) -> None:
    destination = meta_destination("bad", fake_meta.base_url)
    for key, value in change.items():
        target = getattr(destination, key)
        if isinstance(value, dict):
            target.update(value)
        else:
            target.extend(value)
    with pytest.raises(TenazError) as caught:
        await client.create_destination(destination)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in caught.value.violations] == [field]


async def test_a_token_stored_before_secrets_were_sealed_together_still_delivers(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    settings: Settings,
) -> None:
    async with runtime.pool.connection() as conn:
        created = await destination_store.insert_destination(
            conn,
            workspace_id=1,
            name="older",
            kind="meta",
            enabled=True,
            settings={"pixel_id": "111", "base_url": fake_meta.base_url},
            # What earlier versions stored: the token alone, encrypted.
            secret=SecretBox.from_setting(settings.secret_key).encrypt("good-token"),
            retry_interval=None,
            rate_limit=None,
            now=clock.now(),
        )
    assert created is not None
    await client.submit_event(event(clock, "p-1", "Purchase"))

    await run_jobs(runtime)

    assert fake_meta.fake.received_count("Purchase", "p-1") == 1
    # A new token replaces it, sealed as every secret now is.
    update = destinations_pb2.Destination(
        name="older", meta=destinations_pb2.MetaSettings(access_token="good-token")
    )
    await client.update_destination(update, ["meta.access_token"])
    await client.submit_event(event(clock, "p-2", "Purchase"))
    await run_jobs(runtime)
    assert fake_meta.fake.received_count("Purchase", "p-2") == 1
