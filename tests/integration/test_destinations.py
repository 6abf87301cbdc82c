"""DestinationService over gRPC, and the sandbox destination kind end to end."""

from __future__ import annotations

import dataclasses
import datetime as dt

import grpc
import pytest
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import destinations_pb2, events_pb2

from jobs.clock import FakeClock
from jobs.platforms.base import OutcomeKind, OutgoingEvent
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime, open_runtime
from jobs.secrets import generate_key
from jobs.settings import Settings
from jobs.store import destinations as destination_store
from tests.support import META_REFUSES, fire_due_retries, run_jobs, status_history

S = events_pb2


async def test_create_get_list_update_delete(client: TenazClient) -> None:
    created = await client.create_meta_destination(
        "meta-loja", pixel_id="123456", access_token="secret-token", test_event_code="TEST1"
    )
    assert created.meta.access_token == ""  # secrets are write-only
    assert created.meta.access_token_set
    assert created.meta.pixel_id == "123456"
    assert created.enabled and not created.needs_action
    await client.create_sandbox_destination("sandbox", transient_failure_rate=0.25)
    assert [d.name for d in await client.list_destinations()] == ["meta-loja", "sandbox"]

    fetched = await client.get_destination("meta-loja")
    fetched.enabled = False
    fetched.meta.test_event_code = ""
    fetched.retry_interval.FromTimedelta(dt.timedelta(minutes=5))
    updated = await client.update_destination(
        fetched, ["enabled", "meta.test_event_code", "retry_interval"]
    )
    assert not updated.enabled
    assert updated.meta.test_event_code == ""
    assert updated.retry_interval.ToTimedelta() == dt.timedelta(minutes=5)
    assert updated.meta.access_token_set  # untouched

    await client.delete_destination("meta-loja")
    with pytest.raises(TenazError) as caught:
        await client.get_destination("meta-loja")
    assert caught.value.code == grpc.StatusCode.NOT_FOUND
    # The name can be used again.
    await client.create_sandbox_destination("meta-loja")


@pytest.mark.parametrize(
    ("destination", "field"),
    [
        (destinations_pb2.Destination(name="bad name!", sandbox={}), "destination.name"),
        # A trailing newline is not the end of the name (a regex's $ would let it through).
        (destinations_pb2.Destination(name="loja\n", sandbox={}), "destination.name"),
        (
            destinations_pb2.Destination(name="m", meta={"pixel_id": "111\n", "access_token": "t"}),
            "destination.meta.pixel_id",
        ),
        (
            destinations_pb2.Destination(name="m", meta={"access_token": "t"}),
            "destination.meta.pixel_id",
        ),
        (
            destinations_pb2.Destination(name="m", meta={"pixel_id": "1"}),
            "destination.meta.access_token",
        ),
        (
            destinations_pb2.Destination(name="m", meta={"pixel_id": "١٢٣", "access_token": "t"}),
            "destination.meta.pixel_id",
        ),
        (
            destinations_pb2.Destination(
                name="m", meta={"pixel_id": "1", "access_token": "t", "api_version": "v٢٥.0"}
            ),
            "destination.meta.api_version",
        ),
        (destinations_pb2.Destination(name="m"), "destination.platform"),
        (
            destinations_pb2.Destination(name="s", sandbox={"transient_failure_rate": 2}),
            "destination.sandbox.transient_failure_rate",
        ),
        (
            destinations_pb2.Destination(
                name="m", meta={"pixel_id": "1", "access_token": "t", "base_url": "ftp://x"}
            ),
            "destination.meta.base_url",
        ),
    ],
)
async def test_bad_destinations_are_refused_with_the_field(
    client: TenazClient, destination: destinations_pb2.Destination, field: str
) -> None:
    with pytest.raises(TenazError) as caught:
        await client.create_destination(destination)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert field in {v.field for v in caught.value.violations}
    assert await client.list_destinations() == []


async def test_names_are_unique_and_unknown_update_paths_are_refused(client: TenazClient) -> None:
    await client.create_sandbox_destination("sandbox")
    with pytest.raises(TenazError) as caught:
        await client.create_sandbox_destination("sandbox")
    assert caught.value.code == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(TenazError) as caught:
        await client.update_destination(destinations_pb2.Destination(name="sandbox"), ["name"])
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(TenazError) as caught:
        await client.update_destination(
            destinations_pb2.Destination(name="sandbox"), ["meta.pixel_id"]
        )
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_sandbox_shows_every_status_without_a_meta_account(
    client: TenazClient, runtime: Runtime, clock: FakeClock
) -> None:
    await client.create_sandbox_destination("sandbox", retry_interval=dt.timedelta(seconds=5))
    flaky = await client.submit_event(
        make_event(
            event_id="demo-1",
            event_name="Purchase",
            event_time=clock.now(),
            email="a@example.com",
            value=50.0,
            currency="BRL",
            extra={"sandbox_fail_attempts": 1},
        )
    )
    invalid = await client.submit_event(
        make_event(
            event_id="demo-2",
            event_name="Purchase",
            event_time=clock.now(),
            email="a@example.com",
            extra=META_REFUSES,
        )
    )
    await run_jobs(runtime)
    clock.advance(dt.timedelta(seconds=5))
    await fire_due_retries(runtime)

    [ok] = (await client.get_event(flaky.event.id)).deliveries
    assert await status_history(runtime, ok.id) == [
        "PENDING",
        "SENDING",
        "WAITING_RETRY",
        "RESENDING",
        "SUCCEEDED",
    ]
    [bad] = (await client.get_event(invalid.event.id)).deliveries
    assert bad.status == S.DELIVERY_STATUS_FAILED
    assert bad.failure_reason == S.FAILURE_REASON_REJECTED
    assert "custom_data.num_items must be an integer" in bad.last_error


async def test_a_sandbox_failing_every_request_keeps_events_waiting(
    client: TenazClient, runtime: Runtime, clock: FakeClock
) -> None:
    await client.create_sandbox_destination("sandbox", transient_failure_rate=1.0)
    stored = await client.submit_event(
        make_event(event_id="o", event_name="Lead", event_time=clock.now(), email="a@example.com")
    )
    await run_jobs(runtime)
    [delivery] = (await client.get_event(stored.event.id)).deliveries
    assert delivery.status == S.DELIVERY_STATUS_WAITING_RETRY
    assert delivery.attempts[0].http_status == 503


async def test_access_tokens_are_encrypted_at_rest_and_keys_rotate(
    client: TenazClient, runtime: Runtime, settings: Settings, fake_meta: FakeMetaServer
) -> None:
    await client.create_meta_destination(
        "meta", pixel_id="111", access_token="good-token", base_url=fake_meta.base_url
    )
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT secret FROM tenaz_destinations")
        [(stored,)] = await cur.fetchall()
    assert "good-token" not in stored

    new_key = generate_key()
    rotated = dataclasses.replace(settings, secret_key=f"{new_key},{settings.secret_key}")
    async with open_runtime(rotated, settings.database_url) as second:
        assert await second.destinations.rotate_secrets() == 1
        assert await second.destinations.rotate_secrets() == 0
    only_new = dataclasses.replace(settings, secret_key=new_key)
    async with open_runtime(only_new, settings.database_url, clock=runtime.clock) as third:
        async with third.pool.connection() as conn:
            [destination] = await destination_store.list_destinations(conn, workspace_id=1)
        connector = third.connectors.for_destination(destination)
        [outcome] = await connector.send(
            [
                OutgoingEvent(
                    1,
                    {
                        "event_name": "Lead",
                        "event_time": int(runtime.clock.now().timestamp()),
                        "action_source": "website",
                        "hashed": {"meta": {"external_id": "a" * 64}},
                    },
                )
            ]
        )
        assert outcome.kind is OutcomeKind.SUCCEEDED  # the fake accepts only "good-token"


async def test_input_is_checked_before_the_destination_is_looked_up(
    client: TenazClient,
) -> None:
    # A value wrong by itself is named as such, whether or not the destination exists.
    too_often = destinations_pb2.Destination(name="nowhere")
    too_often.retry_interval.FromTimedelta(dt.timedelta(milliseconds=10))
    with pytest.raises(TenazError) as caught:
        await client.update_destination(too_often, ["retry_interval"])
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in caught.value.violations] == ["destination.retry_interval"]

    for call in (
        client.get_destination(""),
        client.delete_destination(""),
        client.update_destination(destinations_pb2.Destination(), ["enabled"]),
    ):
        with pytest.raises(TenazError) as caught:
            await call
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
