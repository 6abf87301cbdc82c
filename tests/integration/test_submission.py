"""SubmitEvent(s) over real gRPC: duplicates, bad input, personal data, workspaces."""

from __future__ import annotations

import datetime as dt
import hashlib

import grpc
import pytest
from google.rpc import error_details_pb2
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import events_pb2

from jobs import keys
from jobs.clock import FakeClock
from jobs.errors import InvalidArgument
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime
from jobs.submission import EventInput
from server.app import TenazServer
from tests.support import count_rows, run_jobs

S = events_pb2


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def test_the_same_event_submitted_twice_is_stored_and_sent_once(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    event = make_event(
        event_id="order-9", event_name="Purchase", event_time=clock.now(), email="a@example.com"
    )
    first = await client.submit_event(event)
    await run_jobs(runtime)
    second = await client.submit_event(event)
    batch = await client.submit_events([event, event])
    await run_jobs(runtime)

    assert not first.duplicate and second.duplicate
    assert second.event.id == first.event.id
    assert [(r.id, r.duplicate) for r in batch.results] == [(first.event.id, True)] * 2
    assert await count_rows(runtime, "tenaz_deliveries") == 1
    assert fake_meta.fake.received_count("Purchase", "order-9") == 1
    # Another event_name with the same id is another event.
    lead = await client.submit_event(
        make_event(
            event_id="order-9", event_name="Lead", event_time=clock.now(), phone="11 98765-4321"
        )
    )
    assert not lead.duplicate and lead.event.id != first.event.id


async def test_a_duplicate_inside_one_batch_is_stored_once(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    event = make_event(
        event_id="x", event_name="Lead", event_time=clock.now(), email="a@example.com"
    )
    batch = await client.submit_events([event, event])
    assert [r.duplicate for r in batch.results] == [False, True]
    assert batch.results[0].id == batch.results[1].id
    assert await count_rows(runtime, "tenaz_events") == 1


async def test_personal_data_is_stored_hashed_and_never_raw(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    response = await client.submit_event(
        make_event(
            event_id="order-1",
            event_name="Purchase",
            event_time=clock.now(),
            email=" Maria.Silva@Example.COM ",
            phone="(11) 98765-4321",
            first_name="Maria",
            client_ip_address="203.0.113.9",
            fbp="fb.1.1700000000000.123",
        )
    )
    user = response.event.event.user_data
    assert user.email == sha("maria.silva@example.com")
    assert user.phone == sha("5511987654321")
    assert user.first_name == sha("maria")
    assert user.client_ip_address == "203.0.113.9"  # not hashed, as Meta requires
    assert user.fbp == "fb.1.1700000000000.123"
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT payload::text FROM tenaz_events")
        row = await cur.fetchone()
    assert row is not None
    for raw in ("Maria", "maria.silva", "98765", "Silva"):
        assert raw not in row[0]


def violations(error: TenazError) -> dict[str, str]:
    return {v.field: v.description for v in error.violations}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"event_id": ""}, "event.event_id"),
        ({"event_name": ""}, "event.event_name"),
        ({"email": "not-an-email"}, "event.user_data.email"),
        ({"phone": "call me"}, "event.user_data.phone"),
        ({"event_time": "future"}, "event.event_time"),
        ({"event_time": "old"}, "event.event_time"),
        ({"destinations": ["nowhere"]}, "event.destinations[0]"),
        ({"action_source": "telepathy"}, "event.action_source"),
        ({"value": 10.0, "currency": ""}, "event.custom_data.currency"),
        ({"email": "", "external_id": ""}, "event.user_data"),
    ],
)
async def test_bad_input_is_invalid_argument_naming_the_field_and_stores_nothing(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str, fields: dict, field: str
) -> None:
    values = {"event_id": "e-1", "event_name": "Purchase", "email": "a@example.com"}
    values.update(fields)
    when = values.pop("event_time", None)
    event_time = {
        None: clock.now(),
        "future": clock.now() + dt.timedelta(hours=1),
        "old": clock.now() - dt.timedelta(days=8),
    }[when]
    user = {k: v for k, v in values.items() if k in ("email", "phone", "external_id") and v}
    other = {k: v for k, v in values.items() if k not in ("email", "phone", "external_id")}
    with pytest.raises(TenazError) as caught:
        await client.submit_event(make_event(event_time=event_time, **other, **user))
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(caught.value)
    assert await count_rows(runtime, "tenaz_events") == 0
    assert await count_rows(runtime, "tenaz_deliveries") == 0


async def test_a_batch_with_one_bad_event_names_its_index_and_stores_nothing(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    good = [
        make_event(
            event_id=f"e{i}", event_name="Lead", event_time=clock.now(), email="a@example.com"
        )
        for i in range(5)
    ]
    good[3].user_data.email = "broken@"
    with pytest.raises(TenazError) as caught:
        await client.submit_events(good)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert list(violations(caught.value)) == ["events[3].user_data.email"]
    assert "broken" not in str(caught.value)  # no personal data echoed back
    assert await count_rows(runtime, "tenaz_events") == 0


async def test_more_than_1000_events_is_invalid(
    client: TenazClient, clock: FakeClock, meta: str
) -> None:
    event = make_event(
        event_id="e", event_name="Lead", event_time=clock.now(), email="a@example.com"
    )
    with pytest.raises(TenazError) as caught:
        await client.submit_events([event] * 1001)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "events" in violations(caught.value)


async def test_without_any_destination_submission_is_refused(
    client: TenazClient, clock: FakeClock
) -> None:
    with pytest.raises(TenazError) as caught:
        await client.submit_event(
            make_event(
                event_id="e", event_name="Lead", event_time=clock.now(), email="a@example.com"
            )
        )
    assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize("key", ["", "tz_not-a-real-key", "garbage"])
async def test_a_missing_or_unknown_key_is_unauthenticated(server: TenazServer, key: str) -> None:
    async with TenazClient(f"127.0.0.1:{server.port}", key) as anonymous:
        with pytest.raises(TenazError) as caught:
            await anonymous.list_destinations()
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED


async def test_health_needs_no_key(server: TenazServer) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="tenaz.v1.EventService")
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_workspaces_see_only_their_own_events_and_destinations(
    client: TenazClient,
    server: TenazServer,
    other_api_key: str,
    runtime: Runtime,
    clock: FakeClock,
    meta: str,
) -> None:
    mine = await client.submit_event(
        make_event(
            event_id="secret-order",
            event_name="Purchase",
            event_time=clock.now(),
            email="a@example.com",
        )
    )
    async with TenazClient(f"127.0.0.1:{server.port}", other_api_key) as other:
        assert await other.list_destinations() == []
        with pytest.raises(TenazError) as caught:
            await other.get_event(mine.event.id)
        assert caught.value.code == grpc.StatusCode.NOT_FOUND
        assert len((await other.list_events()).events) == 0
        assert len((await other.list_events(event_ids=["secret-order"])).events) == 0
        with pytest.raises(TenazError) as caught:
            await other.get_destination("meta")
        assert caught.value.code == grpc.StatusCode.NOT_FOUND
        with pytest.raises(TenazError) as caught:
            await other.submit_event(
                make_event(
                    event_id="x",
                    event_name="Lead",
                    event_time=clock.now(),
                    email="a@example.com",
                    destinations=["meta"],
                )
            )
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "event.destinations[0]" in violations(caught.value)
        # The same event id in another workspace is another event.
        await other.create_sandbox_destination("sandbox")
        theirs = await other.submit_event(
            make_event(
                event_id="secret-order",
                event_name="Purchase",
                event_time=clock.now(),
                email="b@example.com",
            )
        )
        assert not theirs.duplicate and theirs.event.id != mine.event.id
    assert len((await client.list_events()).events) == 1


async def test_listing_filters_and_pages(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    await client.create_sandbox_destination("sandbox")
    for i in range(7):
        await client.submit_event(
            make_event(
                event_id=f"o{i}",
                event_name="Purchase" if i % 2 else "Lead",
                event_time=clock.now(),
                email="a@example.com",
                destinations=["meta"] if i < 5 else ["sandbox"],
            )
        )
    seen = [e.event.event_id async for e in client.iter_events(page_size=2)]
    assert seen == [f"o{i}" for i in reversed(range(7))]
    leads = await client.list_events(event_name="Lead")
    assert {e.event.event_id for e in leads.events} == {"o0", "o2", "o4", "o6"}
    to_sandbox = await client.list_events(destination="sandbox")
    assert {e.event.event_id for e in to_sandbox.events} == {"o5", "o6"}
    pending = await client.list_events(statuses=[S.DELIVERY_STATUS_PENDING])
    assert len(pending.events) == 7
    await run_jobs(runtime)
    assert len((await client.list_events(statuses=[S.DELIVERY_STATUS_PENDING])).events) == 0
    done = await client.list_events(statuses=[S.DELIVERY_STATUS_SUCCEEDED], event_ids=["o1", "o3"])
    assert {e.event.event_id for e in done.events} == {"o1", "o3"}
    with pytest.raises(TenazError) as caught:
        await client.list_events(page_token="bogus")
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(("seconds", "nanos"), [(10**12, 0), (-(10**12), 0), (5, -3), (5, 10**9)])
async def test_a_time_protobuf_cannot_represent_is_invalid_argument(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str, seconds: int, nanos: int
) -> None:
    events = [
        make_event(event_id=f"e{i}", event_name="Lead", event_time=clock.now(), email="a@x.com")
        for i in range(3)
    ]
    events[2].event_time.seconds, events[2].event_time.nanos = seconds, nanos
    with pytest.raises(TenazError) as caught:
        await client.submit_events(events)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert list(violations(caught.value)) == ["events[2].event_time"]
    with pytest.raises(TenazError) as caught:
        await client.submit_event(events[2])
    assert list(violations(caught.value)) == ["event.event_time"]
    assert await count_rows(runtime, "tenaz_events") == 0


async def test_a_number_json_cannot_carry_in_extra_is_invalid_argument(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str, api_key: str
) -> None:
    event = make_event(event_id="e1", event_name="Lead", event_time=clock.now(), email="a@x.com")
    event.custom_data.extra.update({"score": float("nan")})
    with pytest.raises(TenazError) as caught:
        await client.submit_event(event)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert list(violations(caught.value)) == ["event.custom_data.extra"]
    # Callers inside Tenaz get the same answer from validation, naming the key.
    workspace = (await keys.authenticate(runtime.pool, api_key)).workspace.id
    with pytest.raises(InvalidArgument) as refused:
        await runtime.submissions.submit(
            workspace,
            [
                EventInput(
                    event_id="e2",
                    event_name="Lead",
                    event_time=clock.now(),
                    user_data={"email": "a@x.com"},
                    extra={"scores": [1.0, float("inf")]},
                )
            ],
            batch=True,
        )
    assert [v.field for v in refused.value.violations] == ["events[0].custom_data.extra.scores"]
    assert await count_rows(runtime, "tenaz_events") == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"action_source": "website", "event_source_url": "https://loja.example/obrigado"},
            "event.user_data.client_user_agent",
        ),
        (
            {"action_source": "website", "client_user_agent": "Mozilla/5.0"},
            "event.event_source_url",
        ),
        ({"action_source": "shop"}, "event.action_source"),
        # Around the checks through the free-form fields: refused too.
        ({"extra": {"currency": "ZZZ", "value": 1}}, "event.custom_data.extra.currency"),
        ({"value": 10.0, "currency": "ZZZ"}, "event.custom_data.currency"),
        ({"value": 10.0, "currency": "XTS"}, "event.custom_data.currency"),
    ],
)
async def test_what_meta_refuses_for_sure_is_refused_at_submission(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str, changes: dict, field: str
) -> None:
    """Meta would refuse the whole batch such an event comes in, and splitting it out costs
    requests: the caller hears at once instead."""
    fields: dict = {"event_time": clock.now(), "email": "a@example.com", **changes}
    with pytest.raises(TenazError) as caught:
        await client.submit_event(make_event(event_id="e", event_name="Purchase", **fields))
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert field in [v.field for v in caught.value.violations]
    assert await count_rows(runtime, "tenaz_events") == 0


async def test_an_event_that_does_not_say_where_it_happened_is_website_only_with_its_page_and_agent(
    client: TenazClient, clock: FakeClock, meta: str
) -> None:
    browser = await client.submit_event(
        make_event(
            event_id="a",
            event_name="Purchase",
            event_time=clock.now(),
            email="a@example.com",
            client_user_agent="Mozilla/5.0",
            event_source_url="https://loja.example/obrigado",
        )
    )
    no_page = await client.submit_event(
        make_event(
            event_id="a2",
            event_name="Purchase",
            event_time=clock.now(),
            email="a@example.com",
            client_user_agent="Mozilla/5.0",
        )
    )
    assert no_page.event.event.action_source == "other"
    server_side = await client.submit_event(
        make_event(event_id="b", event_name="Purchase", event_time=clock.now(), email="b@x.com")
    )
    assert browser.event.event.action_source == "website"
    assert server_side.event.event.action_source == "other"
    ok = await client.submit_event(
        make_event(
            event_id="c",
            event_name="Purchase",
            event_time=clock.now(),
            email="c@example.com",
            value=5.0,
            currency="brl",
            action_source="system_generated",
        )
    )
    assert ok.event.event.custom_data.currency == "BRL"


async def test_a_thousand_bad_events_are_listed_within_what_clients_accept(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    """Every bad event of the batch is a field violation; their details must not outgrow the
    16 KiB of trailers gRPC clients take, or the caller would get RESOURCE_EXHAUSTED."""
    events = [
        make_event(
            event_id=f"e{i}",
            event_name="Purchase",
            event_time=clock.now(),
            email="a@example.com",
            action_source="website",
        )
        for i in range(1000)
    ]
    with pytest.raises(TenazError) as caught:
        await client.submit_events(events)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    listed = caught.value.violations
    assert 10 < len(listed) < 1000
    # Under gRPC's 8 KiB soft limit once base64-encoded, so no client drops it at random.
    details = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in listed
        ]
    )
    assert details.ByteSize() * 4 / 3 < 6 * 1024
    assert listed[0].field == "events[0].user_data.client_user_agent"
    # Two each: no user agent and no page for a website event.
    assert listed[-1].description.startswith(f"and {2001 - len(listed)} more violations")
    assert await count_rows(runtime, "tenaz_events") == 0
