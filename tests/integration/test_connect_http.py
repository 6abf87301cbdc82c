"""EventService over plain HTTP in the Connect protocol, on the ingest server, called with
httpx over real HTTP as a tool without gRPC calls it: each unary call, and every way a call
is refused, with the codes, HTTP statuses and field violations the same call gets over gRPC."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2
from tenaz.client import make_event
from tenaz.v1 import events_pb2, events_pb2_grpc

from jobs.clock import FakeClock
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime
from server.app import TenazServer
from server.ingest import IngestServer, start_ingest
from server.rate_limit import SubmissionLimiter
from tests.ingest_payloads import EMAIL, connect_purchase
from tests.support import logged, run_jobs


@pytest.fixture
async def connect(ingest: IngestServer, submit_api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client of EventService with a submit key, as n8n or Make would call it."""
    async with httpx.AsyncClient(
        base_url=f"{ingest.url}/tenaz.v1.EventService/",
        headers={"Authorization": f"Bearer {submit_api_key}"},
        trust_env=False,
        timeout=10,
    ) as http:
        yield http


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    assert response.headers["content-type"].startswith("application/json")
    return response.status_code, body["code"], body.get("message", "")


def field_violations(response: httpx.Response) -> list[tuple[str, str]]:
    """The violations of a Connect error, read as Connect clients read them (the binary
    `value`), after checking that the readable `debug` copy says the same."""
    [detail] = response.json()["details"]
    assert detail["type"] == "google.rpc.BadRequest"
    value = detail["value"]
    assert "=" not in value  # unpadded, as the protocol has it
    parsed = error_details_pb2.BadRequest.FromString(
        base64.b64decode(value + "=" * (-len(value) % 4))
    )
    assert json_format.MessageToDict(parsed) == detail["debug"]
    return [(v.field, v.description) for v in parsed.field_violations]


async def test_an_event_submitted_as_json_is_stored_read_back_and_delivered(
    runtime: Runtime,
    connect: httpx.AsyncClient,
    meta: str,
    fake_meta: FakeMetaServer,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    submit_api_key: str,
) -> None:
    caplog.set_level(logging.INFO)
    sent = await connect.post(
        "SubmitEvent",
        json={
            "event": connect_purchase(
                clock, "pedido-1", customData={"value": 10, "currency": "BRL"}
            )
        },
        headers={"Connect-Protocol-Version": "1"},
    )

    assert sent.status_code == 200, sent.text
    assert sent.headers["content-type"].startswith("application/json")
    body = sent.json()
    assert "duplicate" not in body  # false: proto3's JSON leaves defaults out
    event = body["event"]
    assert event["event"]["eventId"] == "pedido-1"
    assert event["event"]["userData"]["email"] != EMAIL  # stored hashed, as over gRPC
    [delivery] = event["deliveries"]
    assert (delivery["destination"], delivery["status"]) == (meta, "DELIVERY_STATUS_PENDING")

    again = await connect.post("SubmitEvent", json={"event": connect_purchase(clock, "pedido-1")})
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["event"]["id"] == event["id"]

    await run_jobs(runtime)
    [request] = fake_meta.fake.accepted
    [delivered] = request.events
    assert delivered["event_id"] == "pedido-1"
    assert delivered["user_data"]["em"] == hashlib.sha256(EMAIL.encode()).hexdigest()
    assert delivered["custom_data"]["value"] == 10

    got = await connect.post("GetEvent", json={"id": event["id"]})
    assert got.status_code == 200
    [done] = got.json()["event"]["deliveries"]
    assert done["status"] == "DELIVERY_STATUS_SUCCEEDED"
    assert done["attempts"][0]["httpStatus"] == 200

    calls = [r for r in caplog.records if r.getMessage() == "connect.request"]
    assert [(r.procedure, r.status) for r in calls] == [  # type: ignore[attr-defined]
        ("tenaz.v1.EventService/SubmitEvent", 200),
        ("tenaz.v1.EventService/SubmitEvent", 200),
        ("tenaz.v1.EventService/GetEvent", 200),
    ]
    assert len({r.workspace for r in calls}) == 1  # type: ignore[attr-defined]
    text = logged(caplog.records)
    assert submit_api_key not in text and EMAIL not in text


async def test_a_batch_is_stored_whole_and_listed(
    connect: httpx.AsyncClient, meta: str, clock: FakeClock
) -> None:
    sent = await connect.post(
        "SubmitEvents",
        json={
            "events": [
                connect_purchase(clock, "lote-1"),
                connect_purchase(clock, "lote-2", eventName="Lead"),
            ]
        },
    )
    assert sent.status_code == 200, sent.text
    results = sent.json()["results"]
    assert [r.get("index", 0) for r in results] == [0, 1]
    assert all(r["deliveries"][0]["status"] == "DELIVERY_STATUS_PENDING" for r in results)

    listed = await connect.post("ListEvents", json={"event_name": "Lead"})  # proto names too
    assert listed.status_code == 200
    assert [e["event"]["eventId"] for e in listed.json()["events"]] == ["lote-2"]
    # An empty body is the empty request (curl -X POST with no data sends one).
    every = await connect.post(
        "ListEvents", content=b"", headers={"Content-Type": "application/json"}
    )
    assert {e["event"]["eventId"] for e in every.json()["events"]} == {"lote-1", "lote-2"}


async def test_invalid_events_get_the_field_violations_grpc_gives(
    connect: httpx.AsyncClient,
    server: TenazServer,
    submit_api_key: str,
    meta: str,
    clock: FakeClock,
) -> None:
    bad = connect_purchase(clock, "", customData={"value": 10, "currency": "ZZZ"})
    refused = await connect.post("SubmitEvent", json={"event": bad})

    assert error_of(refused)[:2] == (400, "invalid_argument")
    violations = field_violations(refused)
    assert {field for field, _ in violations} == {"event.event_id", "event.custom_data.currency"}

    request = events_pb2.SubmitEventRequest()
    json_format.ParseDict({"event": bad}, request)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await events_pb2_grpc.EventServiceStub(channel).SubmitEvent(
                request, metadata=(("authorization", f"Bearer {submit_api_key}"),)
            )
    trailer = dict(caught.value.trailing_metadata() or ())["grpc-status-details-bin"]
    over_grpc = error_details_pb2.BadRequest()
    assert status_pb2.Status.FromString(trailer).details[0].Unpack(over_grpc)
    assert violations == [(v.field, v.description) for v in over_grpc.field_violations]
    assert error_of(refused)[2] == caught.value.details()

    untimed = connect_purchase(clock, "ok-2")
    del untimed["eventTime"]
    batch = await connect.post(
        "SubmitEvents", json={"events": [connect_purchase(clock, "ok-1"), untimed]}
    )
    assert error_of(batch)[:2] == (400, "invalid_argument")
    assert [field for field, _ in field_violations(batch)] == ["events[1].event_time"]
    listed = await connect.post("ListEvents", json={})
    assert listed.json() == {}  # all or none: nothing was stored


async def test_a_body_that_is_not_the_request_message_is_invalid_argument(
    connect: httpx.AsyncClient,
) -> None:
    for body in (b"{not json", b'{"event": {"eventId": 5, "colour": "red"}}', b"\xff\xfe"):
        refused = await connect.post(
            "SubmitEvent", content=body, headers={"Content-Type": "application/json"}
        )
        assert error_of(refused)[:2] == (400, "invalid_argument")
        [(field, description)] = field_violations(refused)
        assert field == "request"
        assert "tenaz.v1.SubmitEventRequest" in description


async def test_keys_are_checked_as_over_grpc(
    connect: httpx.AsyncClient, ingest: IngestServer, meta: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient(base_url=connect.base_url, trust_env=False) as anonymous:
        missing = await anonymous.post("GetStats", json={})
        wrong = await anonymous.post(
            "GetStats", json={}, headers={"Authorization": "Bearer tz_not-a-key"}
        )
    assert error_of(missing) == (
        401,
        "unauthenticated",
        "missing API key: send the header 'Authorization: Bearer <key>'",
    )
    assert error_of(wrong)[:2] == (401, "unauthenticated")
    refusals = [r for r in caplog.records if r.getMessage() == "connect.request"]
    assert [(r.status, r.code) for r in refusals] == [  # type: ignore[attr-defined]
        (401, "unauthenticated"),
        (401, "unauthenticated"),
    ]
    assert "tz_not-a-key" not in logged(caplog.records)

    # A submit key may read stats, not retry deliveries: the gRPC scope table holds.
    assert (await connect.post("GetStats", json={})).status_code == 200
    denied = await connect.post("RetryDeliveries", json={"deliveryIds": ["1"]})
    assert error_of(denied) == (
        403,
        "permission_denied",
        "this API key has scope submit; RetryDeliveries needs an admin key",
    )


async def test_admin_calls_and_not_found(
    ingest: IngestServer, api_key: str, meta: str, clock: FakeClock
) -> None:
    async with httpx.AsyncClient(
        base_url=f"{ingest.url}/tenaz.v1.EventService/",
        headers={"Authorization": f"Bearer {api_key}"},
        trust_env=False,
    ) as admin:
        missing = await admin.post("GetEvent", json={"id": "987654"})
        assert error_of(missing)[:2] == (404, "not_found")
        unknown_operation = await admin.post("GetOperation", json={"id": "987654"})
        assert error_of(unknown_operation)[:2] == (404, "not_found")

        sent = await admin.post("SubmitEvent", json={"event": connect_purchase(clock, "pedido-9")})
        [delivery] = sent.json()["event"]["deliveries"]
        cancelled = await admin.post("CancelDeliveries", json={"deliveryIds": [delivery["id"]]})
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["operation"]["id"]


async def test_binary_protobuf_is_taken_and_answered(connect: httpx.AsyncClient, meta: str) -> None:
    event = make_event(
        event_id="proto-1", event_name="Purchase", email=EMAIL, value=1, currency="BRL"
    )
    sent = await connect.post(
        "SubmitEvent",
        content=events_pb2.SubmitEventRequest(event=event).SerializeToString(),
        headers={"Content-Type": "application/proto"},
    )
    assert sent.status_code == 200
    assert sent.headers["content-type"] == "application/proto"
    reply = events_pb2.SubmitEventResponse.FromString(sent.content)
    assert reply.event.event.event_id == "proto-1"

    broken = await connect.post(
        "SubmitEvent", content=b"\xff\xff\xff", headers={"Content-Type": "application/proto"}
    )
    assert error_of(broken)[:2] == (400, "invalid_argument")


async def test_what_the_protocol_itself_refuses(connect: httpx.AsyncClient) -> None:
    newer = await connect.post("GetStats", json={}, headers={"Connect-Protocol-Version": "2"})
    assert error_of(newer)[:2] == (400, "invalid_argument")
    assert "Connect-Protocol-Version" in error_of(newer)[2]

    form = await connect.post("GetStats", content=b"a=1", headers={"Content-Type": "text/plain"})
    assert form.status_code == 415
    assert form.headers["accept-post"] == "application/json, application/proto"

    zipped = await connect.post(
        "GetStats",
        content=b"x",
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert error_of(zipped)[:2] == (501, "unimplemented")

    fetched = await connect.get("GetEvent", params={"encoding": "json", "message": '{"id":"1"}'})
    assert error_of(fetched)[:2] == (405, "unimplemented")
    assert fetched.headers["allow"] == "POST"

    stream = await connect.post("WatchStatus", json={})
    assert error_of(stream)[:2] == (501, "unimplemented")
    assert "gRPC" in error_of(stream)[2]

    for path in ("EventService/NoSuchMethod", "DestinationService/ListDestinations"):
        absent = await connect.post(connect.base_url.join(f"/tenaz.v1.{path}"), json={})
        assert error_of(absent)[:2] == (404, "unimplemented")


async def test_the_keys_submission_limit_is_the_one_grpc_spends(
    runtime: Runtime, submit_api_key: str, meta: str, clock: FakeClock
) -> None:
    # A stopped clock: the bucket refills by none while the calls take their time.
    limiter = SubmissionLimiter(1, 2, clock=lambda: 0.0)
    ingest = await start_ingest(runtime, limiter, "127.0.0.1:0")
    try:
        limiter.take(hashlib.sha256(submit_api_key.encode()).hexdigest()[:16], 1)  # as gRPC
        async with httpx.AsyncClient(
            base_url=f"{ingest.url}/tenaz.v1.EventService/",
            headers={"Authorization": f"Bearer {submit_api_key}"},
            trust_env=False,
        ) as http:
            first = await http.post("SubmitEvent", json={"event": connect_purchase(clock, "l-1")})
            assert first.status_code == 200
            over = await http.post("SubmitEvent", json={"event": connect_purchase(clock, "l-2")})
    finally:
        await ingest.stop()

    assert error_of(over)[:2] == (429, "resource_exhausted")
    assert int(over.headers["retry-after"]) >= 1
    [detail] = over.json()["details"]
    assert detail["type"] == "google.rpc.RetryInfo"
    delay = dt.timedelta(seconds=float(detail["debug"]["retryDelay"].rstrip("s")))
    assert dt.timedelta(0) < delay <= dt.timedelta(seconds=1)


async def test_a_body_over_the_servers_limit_is_resource_exhausted(
    connect: httpx.AsyncClient,
) -> None:
    huge = b'{"events": [' + b" " * (16 * 1024 * 1024) + b"]}"
    refused = await connect.post(
        "SubmitEvents", content=huge, headers={"Content-Type": "application/json"}
    )
    assert error_of(refused)[:2] == (429, "resource_exhausted")
