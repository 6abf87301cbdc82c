"""A tenant cannot aim Tenaz's workers anywhere: base URLs pass the egress policy when a
destination is created or changed and again when it is sent to, and a token only ever goes
where it was given for."""

from __future__ import annotations

import dataclasses

import grpc
import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import destinations_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime, open_runtime
from jobs.settings import Settings
from server.app import start_server
from tests.support import run_jobs

TOKEN = "EAAB-original-token"


async def refused(call: object) -> TenazError:
    with pytest.raises(TenazError) as caught:
        await call  # type: ignore[misc]
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    return caught.value


@pytest.mark.parametrize(
    "base_url",
    [
        "http://169.254.169.254/latest/meta-data#",
        "http://10.0.0.5:9200/_bulk?x=",
        "http://127.0.0.1:5432",
        "http://localhost:8080",
        "https://graph.facebook.com.evil.example",
        "https://token@graph.facebook.com",
        "https://graph.facebook.com/v25.0/../../admin",
        "https://graph.facebook.com:٤٤٣",  # Arabic-Indic digits, which int() reads as 443
        "file:///etc/passwd",
    ],
)
async def test_a_base_url_the_operator_did_not_allow_is_refused_on_create(
    client: TenazClient, base_url: str
) -> None:
    error = await refused(
        client.create_meta_destination(
            "meta", pixel_id="111", access_token=TOKEN, base_url=base_url
        )
    )
    assert [v.field for v in error.violations] == ["destination.meta.base_url"]
    assert await client.list_destinations() == []


async def test_the_official_and_the_allowed_urls_are_accepted(
    client: TenazClient, fake_meta: FakeMetaServer
) -> None:
    official = await client.create_meta_destination(
        "official", pixel_id="111", access_token=TOKEN, base_url="https://graph.facebook.com/"
    )
    assert official.meta.base_url == "https://graph.facebook.com"
    allowed = await client.create_meta_destination(
        "fake", pixel_id="111", access_token=TOKEN, base_url=fake_meta.base_url + "/"
    )
    assert allowed.meta.base_url == fake_meta.base_url


async def test_changing_where_the_token_goes_needs_the_token_again(
    client: TenazClient, meta: str, fake_meta: FakeMetaServer
) -> None:
    current = await client.get_destination(meta)

    moved = destinations_pb2.Destination()
    moved.CopyFrom(current)
    moved.meta.base_url = "https://graph.facebook.com"
    error = await refused(client.update_destination(moved, ["meta.base_url"]))
    assert [v.field for v in error.violations] == ["destination.meta.access_token"]

    moved.meta.pixel_id = "999"
    error = await refused(client.update_destination(moved, ["meta.pixel_id"]))
    assert [v.field for v in error.violations] == ["destination.meta.access_token"]

    # An unreachable target is refused whatever else comes with it.
    moved.meta.base_url = "http://169.254.169.254"
    moved.meta.access_token = "EAAB-new-token"
    error = await refused(client.update_destination(moved, ["meta.base_url", "meta.access_token"]))
    assert [v.field for v in error.violations] == ["destination.meta.base_url"]

    moved.meta.base_url = "https://graph.facebook.com"
    updated = await client.update_destination(
        moved, ["meta.base_url", "meta.pixel_id", "meta.access_token"]
    )
    assert (updated.meta.base_url, updated.meta.pixel_id) == ("https://graph.facebook.com", "999")

    # The same value again moves nothing, so it needs no token.
    again = await client.update_destination(updated, ["meta.base_url", "meta.test_event_code"])
    assert again.meta.base_url == "https://graph.facebook.com"


async def test_a_stored_url_the_policy_no_longer_allows_is_not_sent_to(
    client: TenazClient, settings: Settings, clock: FakeClock, meta: str, fake_meta: FakeMetaServer
) -> None:
    await client.submit_event(
        make_event(event_id="order-1", event_name="Purchase", email="a@example.com")
    )
    # The destination was made while the fake's URL was allowed; the operator then took it
    # off the list, and a worker started with the new list.
    narrower = dataclasses.replace(settings, allowed_platform_urls=())
    async with open_runtime(narrower, narrower.database_url, clock=clock) as restarted:
        await run_jobs(restarted)

    assert fake_meta.fake.request_count == 0
    destination = await client.get_destination(meta)
    assert destination.needs_action
    assert "TENAZ_ALLOWED_PLATFORM_URLS" in destination.needs_action_reason
    assert destination.needs_action_code == "egress"
    [event] = (await client.list_events()).events
    assert event.deliveries[0].status == 1  # still PENDING: it waits for the operator


async def test_a_token_that_cannot_be_decrypted_flags_the_destination(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str, fake_meta: FakeMetaServer
) -> None:
    async with runtime.pool.connection() as conn:
        # As if sealed with a key that TENAZ_SECRET_KEY no longer holds.
        await conn.execute(
            "UPDATE tenaz_destinations SET secret = 'v1.retired.AAAA' WHERE name = %s", (meta,)
        )
    await client.submit_event(
        make_event(event_id="order-1", event_name="Purchase", email="a@example.com")
    )
    await run_jobs(runtime)

    assert fake_meta.fake.request_count == 0
    destination = await client.get_destination(meta)
    assert destination.needs_action
    assert "TENAZ_SECRET_KEY" in destination.needs_action_reason
    assert destination.needs_action_code == "secrets"


async def test_a_destination_whose_url_was_taken_off_the_list_can_still_be_disabled(
    settings: Settings, clock: FakeClock, api_key: str, client: TenazClient, meta: str
) -> None:
    narrower = dataclasses.replace(settings, allowed_platform_urls=())
    async with open_runtime(narrower, narrower.database_url, clock=clock) as restarted:
        server = await start_server(restarted, "127.0.0.1:0")
        try:
            async with TenazClient(f"127.0.0.1:{server.port}", api_key) as operator:
                destination = await operator.get_destination(meta)
                destination.enabled = False
                assert not (await operator.update_destination(destination, ["enabled"])).enabled
                # The URL itself is still refused when it is set again.
                error = await refused(operator.update_destination(destination, ["meta.base_url"]))
                assert [v.field for v in error.violations] == ["destination.meta.base_url"]
        finally:
            await server.stop(grace=0.5)
