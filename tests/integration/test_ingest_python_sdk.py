"""Meta's own Python SDK (facebook-business), pointed at Tenaz's Conversions API endpoint with
nothing changed but its Graph URL, over real HTTP: its answers and errors read as they do
against Meta, and the events reach the fake Meta through a worker, hashed, with the request's
test_event_code. Raw requests (form and JSON bodies, a Bearer header, malformed bodies) go
with httpx, as a tool that is not the SDK would send them."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from facebook_business.adobjects.serverside.action_source import ActionSource
from facebook_business.adobjects.serverside.content import Content
from facebook_business.adobjects.serverside.custom_data import CustomData
from facebook_business.adobjects.serverside.event import Event
from facebook_business.adobjects.serverside.event_request import EventRequest
from facebook_business.adobjects.serverside.event_response import EventResponse
from facebook_business.adobjects.serverside.user_data import UserData
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession

from jobs import keys
from jobs.clock import FakeClock
from jobs.destinations import DestinationSpec
from jobs.model import DeliveryFilter
from jobs.platforms.fake_meta import AcceptedRequest, FakeMetaServer
from jobs.runtime import Runtime
from server.ingest import IngestServer, start_ingest
from server.rate_limit import SubmissionLimiter
from tests.ingest_payloads import graph_event
from tests.support import logged, run_jobs

PIXEL = "111"
EMAIL = "cliente@example.com"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def _workspace(runtime: Runtime, key: str) -> int:
    return (await keys.authenticate(runtime.pool, key)).workspace.id


@pytest.fixture
def graph_api(ingest: IngestServer, submit_api_key: str) -> Iterator[FacebookAdsApi]:
    """The SDK set up as its users set it up, with Tenaz's URL as the Graph URL and a Tenaz
    submit key as the access token."""
    session = FacebookSession(access_token=submit_api_key)
    session.GRAPH = ingest.url
    api = FacebookAdsApi(session, api_version="v25.0")
    before = FacebookAdsApi.get_default_api()
    FacebookAdsApi.set_default_api(api)
    yield api
    FacebookAdsApi.set_default_api(before)


def sdk_event(clock: FakeClock, event_id: str, *, currency: str = "BRL") -> Event:
    return Event(
        event_name="Purchase",
        event_time=int(clock.now().timestamp()),
        event_id=event_id,
        action_source=ActionSource.SYSTEM_GENERATED,
        user_data=UserData(emails=[EMAIL], phones=["+55 11 98765-4321"], external_id="c-1"),
        custom_data=CustomData(
            value=197.0,
            currency=currency,
            order_id=event_id,
            contents=[Content(product_id="sku-1", quantity=1, item_price=197.0)],
        ),
    )


def send(events: list[Event], *, pixel_id: str = PIXEL, test_event_code: str | None = None) -> Any:
    """What the SDK's `EventRequest.execute()` returns, or the error it raises (a thread: the
    SDK blocks, and the server runs in this loop)."""

    def execute() -> Any:
        request = EventRequest(pixel_id=pixel_id, events=events, test_event_code=test_event_code)
        try:
            return request.execute()
        except FacebookRequestError as exc:
            return exc

    return asyncio.to_thread(execute)


def only_request(fake_meta: FakeMetaServer) -> AcceptedRequest:
    [request] = fake_meta.fake.accepted
    return request


async def test_the_sdk_sends_through_tenaz_and_the_events_reach_meta_hashed(
    runtime: Runtime,
    graph_api: FacebookAdsApi,
    meta: str,
    fake_meta: FakeMetaServer,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    response = await send(
        [sdk_event(clock, "pedido-1"), sdk_event(clock, "pedido-2")], test_event_code="TEST123"
    )

    assert isinstance(response, EventResponse)
    assert response.events_received == 2
    assert response.messages == []
    assert response.fbtrace_id
    assert fake_meta.fake.accepted == type(fake_meta.fake.accepted)()  # stored, not yet sent

    await run_jobs(runtime)

    request = only_request(fake_meta)
    assert request.pixel_id == PIXEL and request.test_event_code == "TEST123"
    sent = {event["event_id"]: event for event in request.events}
    assert set(sent) == {"pedido-1", "pedido-2"}
    user = sent["pedido-1"]["user_data"]
    # The SDK hashed the email and phone itself: Tenaz passed its digests through. The
    # external id the SDK sends in clear, Tenaz hashes as it hashes SubmitEvent's.
    assert user["em"] == sha256(EMAIL)
    assert user["ph"] == sha256("5511987654321")
    assert user["external_id"] == sha256("c-1")
    assert sent["pedido-1"]["custom_data"]["currency"] == "BRL"
    assert sent["pedido-1"]["custom_data"]["contents"] == [
        {"id": "sku-1", "quantity": 1, "item_price": 197.0}
    ]
    text = logged(caplog.records)
    assert "ingest.request" in text
    assert response.fbtrace_id in text
    for secret in (graph_api._session.access_token, EMAIL):
        assert secret not in text


async def test_a_test_event_goes_only_to_the_pixel_and_a_live_one_to_every_destination(
    runtime: Runtime,
    api_key: str,
    graph_api: FacebookAdsApi,
    meta: str,
    clock: FakeClock,
) -> None:
    await runtime.destinations.create(
        await _workspace(runtime, api_key), DestinationSpec(name="sandbox", kind="sandbox")
    )
    assert isinstance(await send([sdk_event(clock, "t-1")], test_event_code="T1"), EventResponse)
    assert isinstance(await send([sdk_event(clock, "live-1")]), EventResponse)

    workspace = await _workspace(runtime, api_key)
    went = {}
    for event_id in ("t-1", "live-1"):
        [event], _ = await runtime.reads.list(
            workspace,
            DeliveryFilter(event_ids=[event_id]),
            destination_name="",
            page_size=10,
            page_token="",
        )
        went[event_id] = [d.destination_name for d in event.deliveries]
    assert went == {"t-1": ["meta"], "live-1": ["meta", "sandbox"]}


async def test_the_sdk_reads_tenazs_refusals_as_meta_errors(
    graph_api: FacebookAdsApi, meta: str, clock: FakeClock, ingest: IngestServer
) -> None:
    unknown_pixel = await send([sdk_event(clock, "p-1")], pixel_id="999")
    assert isinstance(unknown_pixel, FacebookRequestError)
    assert unknown_pixel.http_status() == 400
    assert (unknown_pixel.api_error_code(), unknown_pixel.api_error_subcode()) == (100, 33)
    assert unknown_pixel.api_error_type() == "GraphMethodException"
    assert "Object with ID '999' does not exist" in unknown_pixel.api_error_message()

    invalid = await send([sdk_event(clock, "p-2"), sdk_event(clock, "p-3", currency="ZZZ")])
    assert isinstance(invalid, FacebookRequestError)
    assert (invalid.http_status(), invalid.api_error_code()) == (400, 100)
    assert invalid.api_error_message() == "Invalid parameter"
    assert invalid.api_error_type() == "OAuthException"
    assert invalid.api_transient_error() is False
    assert invalid.body()["error"]["error_user_msg"].startswith(
        "data[1].custom_data.currency: must be an ISO 4217 code"
    )
    assert invalid.api_blame_field_specs() == [["data[1].custom_data.currency"]]

    too_many = await send([sdk_event(clock, f"many-{i}") for i in range(1001)])
    assert isinstance(too_many, FacebookRequestError)
    assert (too_many.http_status(), too_many.api_error_code()) == (400, 100)
    assert too_many.api_error_message() == "(#100) param data must have at most 1000 events."

    graph_api._session.requests.params["access_token"] = "tz_not-a-key"
    bad_token = await send([sdk_event(clock, "p-4")])
    assert isinstance(bad_token, FacebookRequestError)
    assert (bad_token.http_status(), bad_token.api_error_code()) == (400, 190)
    assert bad_token.api_error_type() == "OAuthException"


# --- raw requests, as tools that are not the SDK send them -----------------------------------


@pytest.fixture
async def raw(ingest: IngestServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ingest.url, trust_env=False) as client:
        yield client


async def test_a_form_body_with_the_token_in_the_query_and_raw_data_hashed_by_tenaz(
    runtime: Runtime,
    raw: httpx.AsyncClient,
    submit_api_key: str,
    meta: str,
    fake_meta: FakeMetaServer,
    clock: FakeClock,
) -> None:
    data = json.dumps([graph_event(clock, "f-1", em=" Cliente@Example.com ", ph="(11) 98765-4321")])
    answer = await raw.post(
        f"/v25.0/{PIXEL}/events",
        params={"access_token": submit_api_key},
        data={"data": data, "test_event_code": "TEST9"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["events_received"] == 1
    assert answer.headers["x-fb-trace-id"] == answer.json()["fbtrace_id"]

    await run_jobs(runtime)
    request = only_request(fake_meta)
    [event] = request.events
    assert request.test_event_code == "TEST9"
    assert event["user_data"] == {"em": sha256(EMAIL), "ph": sha256("5511987654321")}


async def test_a_json_body_with_a_bearer_key_and_a_duplicate(
    raw: httpx.AsyncClient, submit_api_key: str, meta: str, clock: FakeClock
) -> None:
    body = {"data": [graph_event(clock, "j-1")]}
    headers = {"Authorization": f"Bearer {submit_api_key}"}
    first = await raw.post(f"/v25.0/{PIXEL}/events", json=body, headers=headers)
    again = await raw.post(f"/v25.0/{PIXEL}/events", json=body, headers=headers)
    assert first.status_code == again.status_code == 200, again.text
    # Meta counts a duplicate as received (it deduplicates by event_id); so does Tenaz.
    assert again.json()["events_received"] == 1


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("application/json", b"{not json", "(#100) The request body is not valid JSON."),
        ("application/json", b"[1, 2]", "(#100) The request body must be a JSON object."),
        ("application/json", b'{"data": {"a": 1}}', "(#100) param data must be an array."),
        ("application/json", b'{"data": []}', "(#100) param data must not be empty."),
        ("application/json", b"{}", "(#100) The parameter data is required"),
        ("application/x-www-form-urlencoded", b"data=%FF", "(#100) The request body is not UTF-8."),
        ("application/x-www-form-urlencoded", b"data=[{", "(#100) param data must be an array."),
    ],
)
async def test_malformed_bodies_are_clear_400s(
    raw: httpx.AsyncClient,
    submit_api_key: str,
    meta: str,
    content_type: str,
    body: bytes,
    message: str,
) -> None:
    answer = await raw.post(
        f"/v25.0/{PIXEL}/events",
        content=body,
        headers={"Content-Type": content_type, "Authorization": f"Bearer {submit_api_key}"},
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["message"]) == (100, message)


async def test_what_tenaz_cannot_carry_is_refused_by_meta_path(
    raw: httpx.AsyncClient, submit_api_key: str, meta: str, clock: FakeClock
) -> None:
    bad = graph_event(clock, "x-1", em=["a@example.com", "b@example.com"], madid="abc")
    bad["data_processing_options"] = ["LDU"]
    answer = await raw.post(
        f"/v25.0/{PIXEL}/events",
        json={"data": [graph_event(clock, "x-0"), bad]},
        headers={"Authorization": f"Bearer {submit_api_key}"},
    )
    assert answer.status_code == 400
    fields = [spec[0] for spec in answer.json()["error"]["error_data"]["blame_field_specs"]]
    assert fields == [
        "data[1].data_processing_options",
        "data[1].user_data.em",
        "data[1].user_data.madid",
    ]


async def test_no_token_a_wrong_path_and_a_body_too_large(
    raw: httpx.AsyncClient, submit_api_key: str, meta: str
) -> None:
    missing = await raw.post(f"/v25.0/{PIXEL}/events", json={"data": []})
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, 104)

    wrong_path = await raw.post("/v25.0/111/other", json={})
    assert wrong_path.status_code == 400
    assert wrong_path.json()["error"]["code"] == 2500

    large = await raw.post(
        f"/v25.0/{PIXEL}/events",
        content=b"x" * (16 * 1024 * 1024 + 1),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {submit_api_key}"},
    )
    assert large.status_code == 413
    assert large.json()["error"]["code"] == 100


async def test_the_pixels_destination_must_take_the_event(
    runtime: Runtime, raw: httpx.AsyncClient, api_key: str, submit_api_key: str, clock: FakeClock
) -> None:
    await runtime.destinations.create(
        await _workspace(runtime, api_key),
        DestinationSpec(
            name="meta-purchases",
            kind="meta",
            settings={"pixel_id": "222"},
            secrets={"access_token": "good-token"},
            event_filter=["Purchase"],
        ),
    )
    answer = await raw.post(
        "/v25.0/222/events",
        json={"data": [graph_event(clock, "lead-1")]},
        headers={"Authorization": f"Bearer {submit_api_key}"},
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == 100
    assert error["error_user_msg"] == "data[0]: destination 'meta-purchases' takes only: Purchase"


async def test_the_keys_submission_limit_is_graphs_throttling_answer(
    runtime: Runtime, submit_api_key: str, meta: str, clock: FakeClock
) -> None:
    # A stopped clock: the bucket refills by none while the calls take their time.
    limiter = SubmissionLimiter(1, 2, clock=lambda: 0.0)
    limited = await start_ingest(runtime, limiter, "127.0.0.1:0")
    try:
        async with httpx.AsyncClient(base_url=limited.url, trust_env=False) as client:
            headers = {"Authorization": f"Bearer {submit_api_key}"}
            events = [graph_event(clock, "r-1"), graph_event(clock, "r-2")]
            first = await client.post(
                f"/v25.0/{PIXEL}/events", json={"data": events}, headers=headers
            )
            over = await client.post(
                f"/v25.0/{PIXEL}/events",
                json={"data": [graph_event(clock, "r-3")]},
                headers=headers,
            )
    finally:
        await limited.stop()
    assert first.status_code == 200, first.text
    assert over.status_code == 400
    error = over.json()["error"]
    assert (error["code"], error["is_transient"]) == (4, True)
    assert int(over.headers["Retry-After"]) >= 1
