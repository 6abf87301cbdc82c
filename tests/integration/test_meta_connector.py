"""MetaConnector against the fake Meta over real HTTP on loopback, and the fake against the notes.

The fake's expectations below come from the platform notes (Meta CAPI section), not from the
fake's code: a JSON or form body, the token checked first (190), at most 1,000 events, the
7-day rule refusing the whole request, hashed contact data, ISO 4217 currencies.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import httpx
import pytest

from jobs.platforms.base import OutgoingEvent
from jobs.platforms.fake_http import FakeServer
from jobs.platforms.fake_meta import (
    Failure,
    FakeMeta,
    FakeMetaServer,
    FakeMetaTransport,
    Subcode,
)
from jobs.platforms.meta import MetaConnector
from tests.integration.platform_helpers import (
    EXTERNAL,
    REJECTED,
    SUCCEEDED,
    ConnectorCase,
    assert_no_secret,
    kinds,
    sha256,
)
from tests.support import stored_shape

NOW = 1_760_000_000.0
DAY = 86_400
PIXEL = "111222333"
TOKEN = "EAAB-fake-token-for-tests"


def meta_event(number: int, **changes: Any) -> dict[str, Any]:
    """A valid Meta server event, already in wire format (hashed contact data)."""
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": int(NOW) - 60,
        "event_id": f"order-{number}",
        "action_source": "website",
        "event_source_url": "https://shop.example.com/checkout",
        "user_data": {
            "em": sha256(f"buyer{number}@example.com"),
            "client_user_agent": "Mozilla/5.0",
        },
        "custom_data": {"currency": "BRL", "value": 49.9},
    }
    event.update(changes)
    return event


def batch_of(*events: dict[str, Any]) -> list[OutgoingEvent]:
    return [
        OutgoingEvent(delivery_id=100 + i, payload=stored_shape(e)) for i, e in enumerate(events)
    ]


CASE = ConnectorCase(
    "meta",
    fake=lambda: FakeMeta(now=lambda: NOW, access_tokens={PIXEL: TOKEN}),
    failure=Failure,
    connect=lambda http, url, timeout: MetaConnector(
        http, pixel_id=PIXEL, access_token=TOKEN, base_url=url, timeout=timeout
    ),
    event=lambda number: stored_shape(meta_event(number)),
    secrets=(TOKEN,),
    max_batch_size=1000,
)


@pytest.fixture
def platform() -> FakeMeta:
    return CASE.fake()


@pytest.fixture
def connector(http: httpx.AsyncClient, served: FakeServer[FakeMeta]) -> MetaConnector:
    return MetaConnector(
        http, pixel_id=PIXEL, access_token=TOKEN, base_url=served.base_url, timeout=5.0
    )


# -- success and the shape of a request --------------------------------------------------


async def test_a_batch_is_delivered_in_one_request(
    connector: MetaConnector, platform: FakeMeta
) -> None:
    outcomes = await connector.send(batch_of(*(meta_event(n) for n in range(3))))

    assert kinds(outcomes) == [SUCCEEDED] * 3
    assert [o.delivery_id for o in outcomes] == [100, 101, 102]
    assert all(o.http_status == 200 for o in outcomes)
    assert '"events_received": 3' in outcomes[0].response_excerpt
    [accepted] = platform.accepted
    assert (accepted.pixel_id, accepted.api_version, accepted.event_count) == (PIXEL, "v25.0", 3)
    assert [platform.received_count("Purchase", f"order-{n}") for n in range(3)] == [1, 1, 1]
    assert platform.total_events_received == 3


async def test_request_shape_token_in_body_not_in_url(
    http: httpx.AsyncClient, served: FakeServer[FakeMeta], platform: FakeMeta
) -> None:
    connector = MetaConnector(
        http,
        pixel_id=PIXEL,
        access_token=TOKEN,
        test_event_code="TEST4242",
        base_url=served.base_url + "/",
        api_version="v24.0",
    )
    assert connector.url == f"{served.base_url}/v24.0/{PIXEL}/events"
    await connector.send(batch_of(meta_event(1)))

    [request] = platform.requests
    assert (request.method, request.path, request.query) == ("POST", f"/v24.0/{PIXEL}/events", {})
    assert request.headers["content-type"] == "application/json"
    assert TOKEN not in request.path
    body = json.loads(request.body)
    assert body == {"data": [meta_event(1)], "access_token": TOKEN, "test_event_code": "TEST4242"}
    assert platform.accepted[0].test_event_code == "TEST4242"


async def test_events_with_their_own_test_event_code_go_in_requests_of_that_code(
    http: httpx.AsyncClient, served: FakeServer[FakeMeta], platform: FakeMeta
) -> None:
    connector = MetaConnector(
        http, pixel_id=PIXEL, access_token=TOKEN, test_event_code="DEST1", base_url=served.base_url
    )
    batch = batch_of(meta_event(0), meta_event(1), meta_event(2), meta_event(3))
    for event, code in zip(batch, ["OWN7", None, "OWN7", "OWN8"], strict=True):
        if code is not None:
            event.payload["test_event_code"] = code

    outcomes = await connector.send(batch)

    assert kinds(outcomes) == [SUCCEEDED] * 4
    sent = {
        request.test_event_code: [event["event_id"] for event in request.events]
        for request in platform.accepted
    }
    # The destination's code is for events without one of their own; the code is never an
    # event field on the wire.
    assert sent == {"OWN7": ["order-0", "order-2"], "DEST1": ["order-1"], "OWN8": ["order-3"]}
    assert all("test_event_code" not in e for r in platform.accepted for e in r.events)


async def test_test_event_code_is_left_out_when_unset(
    connector: MetaConnector, platform: FakeMeta
) -> None:
    await connector.send(batch_of(meta_event(1)))
    assert set(json.loads(platform.requests[0].body)) == {"data", "access_token"}


async def test_keep_alive_and_concurrent_requests(
    connector: MetaConnector, served: FakeServer[FakeMeta], platform: FakeMeta
) -> None:
    for n in range(3):
        await connector.send(batch_of(meta_event(n)))
    assert served.connections_opened == 1

    batches = [batch_of(meta_event(n)) for n in range(10, 18)]
    results = await asyncio.gather(*(connector.send(b) for b in batches))
    assert all(kinds(r) == [SUCCEEDED] for r in results)
    assert platform.total_events_received == 11


# -- external problems --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "status", "code", "subcode", "needs_action"),
    [
        pytest.param(Failure.http_500(), 500, None, None, False, id="http-500"),
        pytest.param(Failure.http_503(), 503, 2, None, False, id="http-503"),
        pytest.param(Failure.throttle(), 400, 17, 2446079, False, id="throttle-17"),
        pytest.param(Failure.buc_throttle(), 400, 80004, 2446079, False, id="buc-80004"),
        pytest.param(Failure.unavailable(), 400, 2, None, False, id="code-2"),
        pytest.param(Failure.unknown_error(), 400, 1, None, False, id="code-1"),
        pytest.param(Failure.transient(), 400, 100, None, False, id="is-transient"),
        pytest.param(Failure.token_expired(), 400, 190, 463, True, id="token-expired"),
        pytest.param(Failure.permission(), 403, 200, None, True, id="permission"),
    ],
)
async def test_platform_failures_are_external_problems_for_every_event(
    connector: MetaConnector,
    platform: FakeMeta,
    failure: Failure,
    status: int,
    code: int | None,
    subcode: int | None,
    needs_action: bool,
) -> None:
    platform.fail_next(1, failure)
    # A bad event in the batch must not lead to a split: the platform never looked at it.
    outcomes = await connector.send(batch_of(meta_event(1), meta_event(2, event_name=None)))

    assert kinds(outcomes) == [EXTERNAL, EXTERNAL]
    first = outcomes[0]
    assert (first.http_status, first.platform_code, first.platform_subcode) == (
        status,
        code,
        subcode,
    )
    assert first.needs_action is needs_action
    assert first.message
    assert platform.request_count == 1
    assert platform.total_events_received == 0
    assert_no_secret(outcomes, TOKEN)


async def test_scripted_failures_run_out(connector: MetaConnector, platform: FakeMeta) -> None:
    platform.fail_next(2, Failure.throttle())
    results = [kinds(await connector.send(batch_of(meta_event(1)))) for _ in range(3)]
    assert results == [[EXTERNAL], [EXTERNAL], [SUCCEEDED]]
    assert platform.received_count("Purchase", "order-1") == 1


async def test_a_custom_answer(connector: MetaConnector, platform: FakeMeta) -> None:
    platform.fail_next(1, Failure.custom(418, b'{"teapot": true}'))
    [outcome] = await connector.send(batch_of(meta_event(1)))
    assert (outcome.kind, outcome.needs_action, outcome.http_status) == (EXTERNAL, True, 418)
    assert outcome.response_excerpt == '{"teapot": true}'


async def test_a_long_answer_is_cut_to_an_excerpt(
    connector: MetaConnector, platform: FakeMeta
) -> None:
    platform.fail_next(1, Failure.custom(503, "é".encode() * 5000, content_type="text/plain"))
    [outcome] = await connector.send(batch_of(meta_event(1)))
    assert outcome.response_excerpt == "é" * 2000


async def test_a_released_request_is_processed(
    connector: MetaConnector, platform: FakeMeta
) -> None:
    platform.fail_next(1, Failure.hanging())
    sending = asyncio.create_task(connector.send(batch_of(meta_event(1))))
    await platform.wait_for_hang()
    platform.release()
    assert kinds(await sending) == [SUCCEEDED]
    assert platform.hanging == 0


async def test_a_base_url_that_is_not_http_needs_action(http: httpx.AsyncClient) -> None:
    broken = MetaConnector(http, pixel_id=PIXEL, access_token=TOKEN, base_url="ftp://example.com")
    [outcome] = await broken.send(batch_of(meta_event(1)))
    assert (outcome.kind, outcome.needs_action) == (EXTERNAL, True)


async def test_a_wrong_token_needs_action(
    http: httpx.AsyncClient, served: FakeServer[FakeMeta]
) -> None:
    connector = MetaConnector(
        http, pixel_id=PIXEL, access_token="EAAB-revoked", base_url=served.base_url
    )
    [outcome] = await connector.send(batch_of(meta_event(1)))
    assert (outcome.kind, outcome.platform_code, outcome.needs_action) == (EXTERNAL, 190, True)
    assert "EAAB-revoked" not in repr(outcome)


# -- rejections and their isolation -------------------------------------------------------


async def test_one_invalid_event_in_ten_is_isolated(
    connector: MetaConnector, platform: FakeMeta
) -> None:
    events = [meta_event(n) for n in range(10)]
    events[6]["custom_data"]["currency"] = "ZZZ"

    outcomes = await connector.send(batch_of(*events))

    assert kinds(outcomes) == [SUCCEEDED] * 6 + [REJECTED] + [SUCCEEDED] * 3
    rejected = outcomes[6]
    assert (rejected.delivery_id, rejected.http_status, rejected.platform_code) == (106, 400, 100)
    assert rejected.platform_subcode == Subcode.INVALID_CURRENCY
    assert "currency" in rejected.message
    received = [platform.received_count("Purchase", f"order-{n}") for n in range(10)]
    assert received == [1] * 6 + [0] + [1] * 3
    # All 10, halves 0-4 and 5-9, then 5-6 and 7-9, then 5 and 6: fewer than one per event.
    assert platform.request_count == 7


async def test_a_stale_event_fails_alone(connector: MetaConnector, platform: FakeMeta) -> None:
    stale = meta_event(3, event_time=int(NOW) - 8 * DAY)
    outcomes = await connector.send(batch_of(meta_event(1), meta_event(2), stale, meta_event(4)))

    assert kinds(outcomes) == [SUCCEEDED, SUCCEEDED, REJECTED, SUCCEEDED]
    assert outcomes[2].platform_subcode == Subcode.EVENT_TOO_OLD
    assert 2804000 <= (outcomes[2].platform_subcode or 0) <= 2804999
    assert "7 days" in outcomes[2].message
    assert platform.received_count("Purchase", "order-3") == 0


# -- the sandbox path: the same connector through an in-process transport ------------------


async def test_sandbox_transport_delivers_in_process() -> None:
    platform = FakeMeta(now=lambda: NOW)
    async with httpx.AsyncClient(transport=FakeMetaTransport(platform)) as client:
        connector = MetaConnector(
            client, pixel_id="1234567890", access_token="sandbox", base_url="http://sandbox.invalid"
        )
        events = [meta_event(1), meta_event(2, user_data={"em": "maria@example.com"})]
        outcomes = await connector.send(batch_of(*events))
    assert kinds(outcomes) == [SUCCEEDED, REJECTED]
    assert outcomes[1].platform_subcode == Subcode.UNHASHED_CUSTOMER_INFORMATION
    assert "maria@example.com" not in outcomes[1].message
    assert platform.received_count("Purchase", "order-1") == 1


async def test_sandbox_transport_honours_the_client_timeout() -> None:
    platform = FakeMeta(now=lambda: NOW)
    platform.fail_next(1, Failure.hanging())
    async with httpx.AsyncClient(transport=FakeMetaTransport(platform)) as client:
        connector = MetaConnector(
            client,
            pixel_id="1",
            access_token="sandbox",
            base_url="http://sandbox.invalid",
            timeout=0.1,
        )
        [outcome] = await connector.send(batch_of(meta_event(1)))
    assert (outcome.kind, outcome.message) == (EXTERNAL, "timed out after 0.1 s")
    assert platform.hanging == 0


async def test_transient_failure_rate_follows_the_seeded_rng() -> None:
    platform = FakeMeta(now=lambda: NOW, transient_failure_rate=0.3, rng=random.Random(20))
    expected_rng = random.Random(20)
    expected = [EXTERNAL if expected_rng.random() < 0.3 else SUCCEEDED for _ in range(40)]
    async with httpx.AsyncClient(transport=FakeMetaTransport(platform)) as client:
        connector = MetaConnector(
            client, pixel_id="1", access_token="sandbox", base_url="http://sandbox.invalid"
        )
        got = [(await connector.send(batch_of(meta_event(n))))[0] for n in range(40)]
    assert kinds(got) == expected
    assert EXTERNAL in expected
    assert SUCCEEDED in expected
    assert {o.http_status for o in got if o.kind is EXTERNAL} == {503}
    assert platform.total_events_received == expected.count(SUCCEEDED)


def test_transient_failure_rate_must_be_a_fraction() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        FakeMeta(transient_failure_rate=1.5)


# -- the fake follows the platform notes ---------------------------------------------------


async def post(
    http: httpx.AsyncClient,
    served: FakeServer[FakeMeta],
    path: str = f"/v25.0/{PIXEL}/events",
    **kwargs: Any,
) -> tuple[int, dict[str, Any]]:
    response = await http.post(served.base_url + path, **kwargs)
    return response.status_code, response.json()


def graph_code(document: dict[str, Any]) -> tuple[int, int | None, str]:
    error = document["error"]
    assert error["is_transient"] is False
    assert error["fbtrace_id"]
    return error["code"], error.get("error_subcode"), error["type"]


async def test_fake_success_answer(http: httpx.AsyncClient, served: FakeServer[FakeMeta]) -> None:
    status, document = await post(
        http, served, json={"data": [meta_event(1), meta_event(2)], "access_token": TOKEN}
    )
    assert status == 200
    assert document["events_received"] == 2
    assert document["messages"] == []
    assert isinstance(document["fbtrace_id"], str)


async def test_fake_accepts_the_docs_form_encoded_body(
    http: httpx.AsyncClient, served: FakeServer[FakeMeta], platform: FakeMeta
) -> None:
    form = {"data": json.dumps([meta_event(1)]), "access_token": TOKEN}
    status, document = await post(http, served, data=form)
    assert (status, document["events_received"]) == (200, 1)
    # The Python SDK's variant: each event a JSON string; the token as a query parameter.
    status, _ = await post(
        http,
        served,
        params={"access_token": TOKEN},
        data={"data": json.dumps([json.dumps(meta_event(2))])},
    )
    assert status == 200
    assert platform.total_events_received == 2


@pytest.mark.parametrize(
    ("token", "code"),
    [
        pytest.param(None, 190, id="missing"),
        pytest.param("", 190, id="empty"),
        pytest.param("EAAB-someone-elses", 190, id="unknown"),
    ],
)
async def test_fake_checks_the_token_first(
    http: httpx.AsyncClient, served: FakeServer[FakeMeta], token: str | None, code: int
) -> None:
    body: dict[str, Any] = {"data": "not even an array"}
    if token is not None:
        body["access_token"] = token
    status, document = await post(http, served, json=body)
    assert status == 400
    assert graph_code(document)[0::2] == (code, "OAuthException")


async def test_fake_refuses_a_token_of_another_pixel(http: httpx.AsyncClient) -> None:
    platform = FakeMeta(now=lambda: NOW, access_tokens={"1": "token-one", "2": "token-two"})
    async with FakeMetaServer(platform) as served:
        status, document = await post(
            http,
            served,
            "/v25.0/2/events",
            json={"data": [meta_event(1)], "access_token": "token-one"},
        )
    assert (status, graph_code(document)[:2]) == (400, (100, 33))


async def test_fake_routes_like_graph(
    http: httpx.AsyncClient, served: FakeServer[FakeMeta]
) -> None:
    response = await http.get(f"{served.base_url}/v25.0/{PIXEL}/events")
    assert (response.status_code, response.json()["error"]["code"]) == (400, 100)
    response = await http.post(f"{served.base_url}/v25.0/{PIXEL}/nope", json={})
    assert response.status_code == 404
    response = await http.post(f"{served.base_url}/{PIXEL}/events", json={})
    assert response.status_code == 404


def too_many() -> list[dict[str, Any]]:
    return [meta_event(n) for n in range(1001)]


@pytest.mark.parametrize(
    ("data", "subcode"),
    [
        pytest.param(None, None, id="no-data"),
        pytest.param([], None, id="empty-data"),
        pytest.param({"event_name": "Purchase"}, None, id="data-not-array"),
        pytest.param(too_many(), None, id="over-1000"),
        pytest.param(["garbage"], Subcode.INVALID_PARAMETER, id="event-not-object"),
        pytest.param([meta_event(1, event_name=None)], Subcode.MISSING_PARAMETER, id="no-name"),
        pytest.param([meta_event(1, event_time=None)], Subcode.MISSING_PARAMETER, id="no-time"),
        pytest.param([meta_event(1, user_data=None)], Subcode.MISSING_PARAMETER, id="no-user-data"),
        pytest.param(
            [meta_event(1, action_source=None)], Subcode.MISSING_PARAMETER, id="no-source"
        ),
        pytest.param([meta_event(1, event_name=7)], Subcode.INVALID_PARAMETER, id="name-not-text"),
        pytest.param(
            [meta_event(1, event_time=int(NOW * 1000))], Subcode.EVENT_IN_FUTURE, id="milliseconds"
        ),
        pytest.param(
            [meta_event(1, event_time="1759999940")], Subcode.INVALID_PARAMETER, id="time-text"
        ),
        pytest.param(
            [meta_event(1, action_source="web")], Subcode.INVALID_PARAMETER, id="bad-source"
        ),
        pytest.param(
            [meta_event(1, user_data={})], Subcode.NO_CUSTOMER_INFORMATION, id="no-customer"
        ),
        pytest.param(
            [meta_event(1, user_data={"ph": "5511987654321"})],
            Subcode.UNHASHED_CUSTOMER_INFORMATION,
            id="unhashed-phone",
        ),
        pytest.param(
            [meta_event(1, user_data={"em": [sha256("a@example.com"), "b@example.com"]})],
            Subcode.UNHASHED_CUSTOMER_INFORMATION,
            id="unhashed-in-array",
        ),
        pytest.param(
            [meta_event(1, user_data={"em": sha256("a@example.com").upper()})],
            Subcode.UNHASHED_CUSTOMER_INFORMATION,
            id="uppercase-hex",
        ),
        pytest.param(
            [meta_event(1, custom_data={"currency": "REAIS", "value": 1})],
            Subcode.INVALID_CURRENCY,
            id="bad-currency",
        ),
        pytest.param(
            [meta_event(1, custom_data={"currency": "BRL", "value": "ten"})],
            Subcode.INVALID_VALUE,
            id="value-not-number",
        ),
        pytest.param(
            [meta_event(1), meta_event(2, event_time=int(NOW) - 7 * DAY - 1)],
            Subcode.EVENT_TOO_OLD,
            id="one-stale-event",
        ),
        pytest.param(
            [meta_event(1, event_time=int(NOW) + 600)], Subcode.EVENT_IN_FUTURE, id="future"
        ),
    ],
)
async def test_fake_refuses_the_whole_request_for_one_bad_event(
    http: httpx.AsyncClient,
    served: FakeServer[FakeMeta],
    platform: FakeMeta,
    data: Any,
    subcode: int | None,
) -> None:
    body: dict[str, Any] = {"access_token": TOKEN}
    if data is not None:
        body["data"] = data
    status, document = await post(http, served, json=body)
    assert status == 400
    assert graph_code(document)[:2] == (100, subcode)
    assert platform.total_events_received == 0


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(meta_event(1, event_time=int(NOW) - 7 * DAY + 5), id="almost-7-days-old"),
        pytest.param(meta_event(1, event_time=int(NOW) + 120), id="2-minutes-ahead"),
        pytest.param(
            meta_event(1, user_data={"em": sha256("a@example.com") + ".AQQAAQEA"}),
            id="param-builder-appendix",
        ),
        pytest.param(
            meta_event(1, user_data={"em": [sha256("a@example.com"), sha256("b@example.com")]}),
            id="hashed-array",
        ),
        pytest.param(
            meta_event(1, user_data={"fbp": "fb.1.1596403881668.1116446470"}), id="fbp-only"
        ),
        pytest.param(
            meta_event(1, custom_data={"currency": "usd", "value": 10}), id="lower-currency"
        ),
        pytest.param(meta_event(1, custom_data={"content_ids": ["sku-1"]}), id="no-currency"),
        pytest.param(
            meta_event(1, event_id=None, action_source="physical_store"), id="no-event-id"
        ),
    ],
)
async def test_fake_accepts_what_meta_documents(
    http: httpx.AsyncClient, served: FakeServer[FakeMeta], event: dict[str, Any]
) -> None:
    status, document = await post(http, served, json={"data": [event], "access_token": TOKEN})
    assert (status, document.get("events_received")) == (200, 1)


async def test_fake_can_require_website_fields(http: httpx.AsyncClient) -> None:
    platform = FakeMeta(now=lambda: NOW, require_website_fields=True)
    event = meta_event(1)
    del event["event_source_url"]
    async with FakeMetaServer(platform) as served:
        status, document = await post(http, served, json={"data": [event], "access_token": "t"})
    assert (status, graph_code(document)[:2]) == (400, (100, Subcode.WEBSITE_FIELDS_MISSING))


async def test_fake_counts_duplicates(connector: MetaConnector, platform: FakeMeta) -> None:
    await connector.send(batch_of(meta_event(1)))
    await connector.send(batch_of(meta_event(1)))
    assert platform.received_count("Purchase", "order-1") == 2
    assert platform.received_count("Lead", "order-1") == 0


async def test_fake_survives_a_client_speaking_garbage(
    served: FakeServer[FakeMeta], connector: MetaConnector
) -> None:
    host, port = served.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    assert answer.startswith(b"HTTP/1.1 400")
    assert kinds(await connector.send(batch_of(meta_event(1)))) == [SUCCEEDED]


async def test_fake_answers_head_without_a_body(
    http: httpx.AsyncClient, served: FakeServer[FakeMeta]
) -> None:
    response = await http.head(f"{served.base_url}/v25.0/{PIXEL}/events")
    assert (response.status_code, response.content) == (400, b"")
    response = await http.head(f"{served.base_url}/")
    assert response.status_code == 404
