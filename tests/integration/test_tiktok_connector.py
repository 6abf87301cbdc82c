"""TikTokConnector against the fake TikTok over real HTTP on loopback, and the fake against the
platform notes.

The fake's expectations below come from the platform notes (TikTok section), not from the
fake's code: the Access-Token header, HTTP 200 with a `code` in the body, at most 1,000 events,
contact data as SHA-256 digests, one bad event refusing the whole request, PARTIAL_OK (20001).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from jobs.platforms.fake_http import FakeServer
from jobs.platforms.fake_tiktok import (
    Code,
    Failure,
    FakeTikTok,
    FakeTikTokServer,
    FakeTikTokTransport,
)
from jobs.platforms.tiktok import TikTokConnector
from tests.integration.platform_helpers import (
    EXTERNAL,
    REJECTED,
    SUCCEEDED,
    ConnectorCase,
    assert_no_secret,
    batch_of,
    kinds,
    sha256,
)

NOW = 1_760_000_000.0
DAY = 86_400
PIXEL = "C4A1B2C3D4E5F6G7H8I9"
EVENT_SET = "7654321098765432109"
TOKEN = "tt-fake-token-for-tests-0001"


def stored_event(number: int, **changes: Any) -> dict[str, Any]:
    """A valid event as Tenaz stores it for a TikTok destination (jobs/canonical.py)."""
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": int(NOW) - 60,
        "event_id": f"order-{number}",
        "action_source": "website",
        "event_source_url": "https://shop.example.com/checkout",
        "identifiers": {"ttclid": f"E.C.P.click{number}", "client_user_agent": "Mozilla/5.0"},
        "hashed": {"tiktok": {"email": sha256(f"buyer{number}@example.com")}},
        "custom_data": {"currency": "BRL", "value": 49.9},
    }
    event.update(changes)
    return event


def connector_for(http: httpx.AsyncClient, url: str, **options: Any) -> TikTokConnector:
    arguments: dict[str, Any] = {
        "pixel_code": PIXEL,
        "access_token": TOKEN,
        "base_url": url,
        "timeout": 5.0,
        "event_names": {"Purchase": "CompletePayment"},
    }
    return TikTokConnector(http, **(arguments | options))


CASE = ConnectorCase(
    "tiktok",
    fake=lambda: FakeTikTok(now=lambda: NOW, access_tokens={PIXEL: TOKEN}),
    failure=Failure,
    connect=lambda http, url, timeout: connector_for(http, url, timeout=timeout),
    event=stored_event,
    secrets=(TOKEN,),
    max_batch_size=1000,
)


@pytest.fixture
def platform() -> FakeTikTok:
    return CASE.fake()


@pytest.fixture
def connector(http: httpx.AsyncClient, served: FakeServer[FakeTikTok]) -> TikTokConnector:
    return connector_for(http, served.base_url)


def test_events_go_to_the_track_endpoint_of_v1_3(connector: TikTokConnector) -> None:
    assert connector.url.endswith("/open_api/v1.3/event/track/")


# -- success and the shape of a request --------------------------------------------------


async def test_a_batch_is_delivered_in_one_request(
    connector: TikTokConnector, platform: FakeTikTok
) -> None:
    outcomes = await connector.send(batch_of(*(stored_event(n) for n in range(3))))

    assert kinds(outcomes) == [SUCCEEDED] * 3
    assert [o.delivery_id for o in outcomes] == [100, 101, 102]
    assert {(o.http_status, o.platform_code) for o in outcomes} == {(200, 0)}
    assert '"code": 0' in outcomes[0].response_excerpt
    [accepted] = platform.accepted
    assert (accepted.event_source, accepted.event_source_id, accepted.event_count) == (
        "web",
        PIXEL,
        3,
    )
    received = [platform.received_count("CompletePayment", f"order-{n}") for n in range(3)]
    assert received == [1, 1, 1]


async def test_request_shape_token_in_the_header_only(
    http: httpx.AsyncClient, served: FakeServer[FakeTikTok], platform: FakeTikTok
) -> None:
    connector = connector_for(http, served.base_url + "/", test_event_code="TEST4242")
    await connector.send(batch_of(stored_event(1)))

    [request] = platform.requests
    assert (request.method, request.path, request.query) == (
        "POST",
        "/open_api/v1.3/event/track/",
        {},
    )
    assert request.headers["access-token"] == TOKEN
    assert request.headers["content-type"] == "application/json"
    assert TOKEN.encode() not in request.body
    assert json.loads(request.body) == {
        "event_source": "web",
        "event_source_id": PIXEL,
        "test_event_code": "TEST4242",
        "data": [
            {
                "event": "CompletePayment",
                "event_time": int(NOW) - 60,
                "event_id": "order-1",
                "user": {
                    "email": sha256("buyer1@example.com"),
                    "ttclid": "E.C.P.click1",
                    "user_agent": "Mozilla/5.0",
                },
                "page": {"url": "https://shop.example.com/checkout"},
                "properties": {"currency": "BRL", "value": 49.9},
            }
        ],
    }
    assert platform.accepted[0].test_event_code == "TEST4242"


async def test_test_event_code_is_left_out_when_unset(
    connector: TikTokConnector, platform: FakeTikTok
) -> None:
    await connector.send(batch_of(stored_event(1)))
    assert set(json.loads(platform.requests[0].body)) == {
        "event_source",
        "event_source_id",
        "data",
    }


async def test_an_event_set_gets_store_events_as_offline_and_the_rest_as_crm(
    http: httpx.AsyncClient,
) -> None:
    platform = FakeTikTok(now=lambda: NOW, access_tokens={EVENT_SET: TOKEN})
    async with FakeTikTokServer(platform) as served:
        connector = connector_for(http, served.base_url, pixel_code=EVENT_SET)
        events = [
            stored_event(1, action_source="physical_store"),
            stored_event(2, action_source="system_generated"),
            stored_event(3, action_source="physical_store"),
        ]
        outcomes = await connector.send(batch_of(*events))
    assert kinds(outcomes) == [SUCCEEDED] * 3
    sent = [(r.event_source, [e["event_id"] for e in r.events]) for r in platform.accepted]
    assert sorted(sent) == [("crm", ["order-2"]), ("offline", ["order-1", "order-3"])]


async def test_keep_alive_and_concurrent_requests(
    connector: TikTokConnector, served: FakeServer[FakeTikTok], platform: FakeTikTok
) -> None:
    for n in range(3):
        await connector.send(batch_of(stored_event(n)))
    assert served.connections_opened == 1
    results = await asyncio.gather(
        *(connector.send(batch_of(stored_event(n))) for n in range(10, 16))
    )
    assert all(kinds(r) == [SUCCEEDED] for r in results)
    assert platform.total_events_received == 9


# -- external problems --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "status", "code", "needs_action"),
    [
        pytest.param(Failure.http_500(), 500, None, False, id="http-500"),
        pytest.param(Failure.http_503(), 503, None, False, id="http-503"),
        pytest.param(Failure.too_frequent(), 200, 40100, False, id="40100-throttled"),
        pytest.param(Failure.frequency_limited(), 200, 40132, False, id="40132-throttled"),
        pytest.param(Failure.system_error(), 200, 50000, False, id="50000-system"),
        pytest.param(Failure.system_timeout(), 200, 50002, False, id="50002-timeout"),
        pytest.param(Failure.internal(), 200, 51000, False, id="51000-rpc"),
        pytest.param(Failure.internal(Code.DB_ERROR), 200, 52000, False, id="52000-db"),
        pytest.param(Failure.token_expired(), 200, 40102, True, id="40102-token-expired"),
        pytest.param(Failure.empty_token(), 200, 40104, True, id="40104-empty-token"),
        pytest.param(Failure.invalid_token(), 200, 40105, True, id="40105-invalid-token"),
        pytest.param(Failure.permission(), 200, 40001, True, id="40001-permission"),
        pytest.param(Failure.version_error(), 200, 40006, True, id="40006-version"),
    ],
)
async def test_platform_failures_are_external_problems_for_every_event(
    connector: TikTokConnector,
    platform: FakeTikTok,
    failure: Failure,
    status: int,
    code: int | None,
    needs_action: bool,
) -> None:
    platform.fail_next(1, failure)
    # A bad event in the batch must not lead to a split: the platform never looked at it.
    bad = stored_event(2, hashed={"tiktok": {"email": "not-hashed@example.com"}})
    outcomes = await connector.send(batch_of(stored_event(1), bad))

    assert kinds(outcomes) == [EXTERNAL, EXTERNAL]
    first = outcomes[0]
    assert (first.http_status, first.platform_code, first.needs_action) == (
        status,
        code,
        needs_action,
    )
    assert first.message
    assert platform.request_count == 1
    assert platform.total_events_received == 0
    assert_no_secret(outcomes, TOKEN)


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(Failure.invalid_params(), id="40000"),
        pytest.param(Failure.param_error(), id="40002"),
        pytest.param(Failure.invalid_batch_size(), id="40061"),
        pytest.param(Failure.pii_not_hashed(), id="40062"),
        pytest.param(Failure.invalid_partner_name(), id="40063"),
        pytest.param(Failure.blocked(), id="41000"),
        pytest.param(Failure.partial_ok(), id="20001"),
        pytest.param(Failure.custom(413, b"Request Entity Too Large"), id="http-413"),
    ],
)
async def test_a_refused_request_is_sent_again_in_halves(
    connector: TikTokConnector, platform: FakeTikTok, failure: Failure
) -> None:
    # Refused once (the script runs out): the halves go through.
    platform.fail_next(1, failure)
    outcomes = await connector.send(batch_of(*(stored_event(n) for n in range(4))))
    assert kinds(outcomes) == [SUCCEEDED] * 4
    assert [r.event_count for r in platform.requests] == [4, 2, 2]


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        pytest.param(Failure.param_error(), 40002, id="40002"),
        pytest.param(Failure.blocked(), 41000, id="41000"),
        pytest.param(Failure.partial_ok(), 20001, id="20001"),
    ],
)
async def test_an_event_refused_alone_fails(
    connector: TikTokConnector, platform: FakeTikTok, failure: Failure, code: int
) -> None:
    platform.fail_next(1, failure)
    [outcome] = await connector.send(batch_of(stored_event(1)))
    assert (outcome.kind, outcome.platform_code, outcome.http_status) == (REJECTED, code, 200)
    assert outcome.message


async def test_scripted_failures_run_out(connector: TikTokConnector, platform: FakeTikTok) -> None:
    platform.fail_next(2, Failure.too_frequent())
    results = [kinds(await connector.send(batch_of(stored_event(1)))) for _ in range(3)]
    assert results == [[EXTERNAL], [EXTERNAL], [SUCCEEDED]]
    assert platform.received_count("CompletePayment", "order-1") == 1


async def test_a_200_that_is_not_tiktoks_answer_is_no_success(
    connector: TikTokConnector, platform: FakeTikTok
) -> None:
    platform.fail_next(
        1, Failure.custom(200, b"<html>Wi-Fi login</html>", content_type="text/html")
    )
    [outcome] = await connector.send(batch_of(stored_event(1)))
    assert (outcome.kind, outcome.needs_action, outcome.http_status) == (EXTERNAL, True, 200)
    assert outcome.response_excerpt == "<html>Wi-Fi login</html>"


async def test_a_wrong_token_needs_action(
    http: httpx.AsyncClient, served: FakeServer[FakeTikTok]
) -> None:
    connector = connector_for(http, served.base_url, access_token="tt-revoked-token")
    [outcome] = await connector.send(batch_of(stored_event(1)))
    assert (outcome.kind, outcome.platform_code, outcome.needs_action) == (EXTERNAL, 40105, True)
    assert "tt-revoked-token" not in repr(outcome)


async def test_a_token_of_another_pixel_needs_action(http: httpx.AsyncClient) -> None:
    platform = FakeTikTok(now=lambda: NOW, access_tokens={PIXEL: TOKEN, "COTHERPIXEL": "other"})
    async with FakeTikTokServer(platform) as served:
        connector = connector_for(http, served.base_url, pixel_code="COTHERPIXEL")
        [outcome] = await connector.send(batch_of(stored_event(1)))
    assert (outcome.kind, outcome.platform_code, outcome.needs_action) == (EXTERNAL, 40001, True)


async def test_a_token_tiktok_echoes_in_its_answer_is_scrubbed(
    connector: TikTokConnector, platform: FakeTikTok
) -> None:
    platform.fail_next(1, Failure.answer(Code.INVALID_ACCESS_TOKEN, f"token {TOKEN} is revoked"))
    [outcome] = await connector.send(batch_of(stored_event(1)))
    assert_no_secret([outcome], TOKEN)
    assert outcome.message == "token [secret] is revoked"
    assert "[secret]" in outcome.response_excerpt


# -- refusals and their isolation -----------------------------------------------------------


async def test_one_invalid_event_in_ten_is_isolated(
    connector: TikTokConnector, platform: FakeTikTok
) -> None:
    events = [stored_event(n) for n in range(10)]
    events[6]["custom_data"]["currency"] = "ZZZ"

    outcomes = await connector.send(batch_of(*events))

    assert kinds(outcomes) == [SUCCEEDED] * 6 + [REJECTED] + [SUCCEEDED] * 3
    rejected = outcomes[6]
    assert (rejected.delivery_id, rejected.platform_code) == (106, Code.PARAM_ERROR)
    assert "currency" in rejected.message
    received = [platform.received_count("CompletePayment", f"order-{n}") for n in range(10)]
    assert received == [1] * 6 + [0] + [1] * 3
    # All 10, halves 0-4 and 5-9, then 5-6 and 7-9, then 5 and 6: fewer than one per event.
    assert platform.request_count == 7


@pytest.mark.parametrize(
    ("bad", "code", "says"),
    [
        pytest.param(
            stored_event(2, hashed={"tiktok": {"phone": "+5511987654321"}}),
            Code.PII_NOT_HASHED,
            "SHA-256",
            id="unhashed-phone",
        ),
        pytest.param(
            stored_event(2, event_time=int(NOW) - 8 * DAY),
            Code.PARAM_ERROR,
            "7 days",
            id="stale",
        ),
    ],
)
async def test_an_event_tiktok_refuses_fails_alone(
    connector: TikTokConnector, platform: FakeTikTok, bad: dict[str, Any], code: int, says: str
) -> None:
    outcomes = await connector.send(
        batch_of(stored_event(1), bad, stored_event(3), stored_event(4))
    )
    assert kinds(outcomes) == [SUCCEEDED, REJECTED, SUCCEEDED, SUCCEEDED]
    assert outcomes[1].platform_code == code
    assert says in outcomes[1].message
    assert "+5511987654321" not in outcomes[1].message + outcomes[1].response_excerpt
    assert platform.received_count("CompletePayment", "order-2") == 0


async def test_a_partial_failure_is_split_until_the_refused_event_is_found(
    connector: TikTokConnector, platform: FakeTikTok
) -> None:
    platform.refuse(["order-6"])
    outcomes = await connector.send(batch_of(*(stored_event(n) for n in range(10))))

    assert kinds(outcomes) == [SUCCEEDED] * 6 + [REJECTED] + [SUCCEEDED] * 3
    assert outcomes[6].platform_code == Code.PARAM_ERROR
    # The first request was PARTIAL_OK: split like a refusal, it took the same 7 requests.
    first = json.loads(platform.requests[0].body)
    assert len(first["data"]) == 10
    assert platform.request_count == 7
    # Halves carry events TikTok already took (it deduplicates them by event and event_id);
    # the refused one never got in.
    received = {n: platform.received_count("CompletePayment", f"order-{n}") for n in range(10)}
    assert received[6] == 0
    assert all(count >= 1 for n, count in received.items() if n != 6)


# -- the sandbox path: the same connector through an in-process transport ------------------


async def test_sandbox_transport_delivers_in_process() -> None:
    platform = FakeTikTok(now=lambda: NOW)
    async with httpx.AsyncClient(transport=FakeTikTokTransport(platform)) as client:
        connector = TikTokConnector(
            client,
            pixel_code="CSANDBOX",
            access_token="sandbox",
            base_url="http://sandbox.invalid",
        )
        unhashed = stored_event(2, hashed={"tiktok": {"email": "maria@example.com"}})
        outcomes = await connector.send(batch_of(stored_event(1), unhashed))
    assert kinds(outcomes) == [SUCCEEDED, REJECTED]
    assert outcomes[1].platform_code == Code.PII_NOT_HASHED
    assert "maria@example.com" not in outcomes[1].message
    assert platform.received_count("Purchase", "order-1") == 1


# -- the fake follows the platform notes ---------------------------------------------------


async def post(
    http: httpx.AsyncClient,
    served: FakeServer[FakeTikTok],
    body: Any,
    *,
    token: str | None = TOKEN,
    path: str = "/open_api/v1.3/event/track/",
) -> tuple[int, dict[str, Any]]:
    headers = {} if token is None else {"Access-Token": token}
    response = await http.post(served.base_url + path, json=body, headers=headers)
    return response.status_code, response.json()


def wire(number: int, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event": "CompletePayment",
        "event_time": int(NOW) - 60,
        "event_id": f"order-{number}",
        "user": {"email": sha256(f"buyer{number}@example.com"), "ip": "203.0.113.7"},
        "properties": {"currency": "BRL", "value": 49.9},
    }
    event.update(changes)
    return event


def request_body(*events: Any, **changes: Any) -> dict[str, Any]:
    return {"event_source": "web", "event_source_id": PIXEL, "data": list(events), **changes}


async def test_fake_success_answer(http: httpx.AsyncClient, served: FakeServer[FakeTikTok]) -> None:
    status, document = await post(http, served, request_body(wire(1), wire(2)))
    assert status == 200
    assert (document["code"], document["message"], document["data"]) == (0, "OK", {})
    assert isinstance(document["request_id"], str)


async def test_fake_takes_hashes_in_arrays_as_segment_sends_them(
    http: httpx.AsyncClient, served: FakeServer[FakeTikTok], platform: FakeTikTok
) -> None:
    event = wire(1, user={"email": [sha256("a@example.com")], "phone": [sha256("+55119")]})
    status, document = await post(http, served, request_body(event))
    assert (status, document["code"]) == (200, 0)
    assert platform.received_count("CompletePayment", "order-1") == 1


@pytest.mark.parametrize(
    ("token", "code"),
    [
        pytest.param(None, Code.EMPTY_ACCESS_TOKEN, id="missing"),
        pytest.param("", Code.EMPTY_ACCESS_TOKEN, id="empty"),
        pytest.param("tt-someone-elses", Code.INVALID_ACCESS_TOKEN, id="unknown"),
    ],
)
async def test_fake_checks_the_token_first(
    http: httpx.AsyncClient, served: FakeServer[FakeTikTok], token: str | None, code: int
) -> None:
    status, document = await post(http, served, "not even an object", token=token)
    assert (status, document["code"]) == (200, code)


async def test_fake_routes_like_tiktok(
    http: httpx.AsyncClient, served: FakeServer[FakeTikTok]
) -> None:
    status, document = await post(
        http, served, request_body(wire(1)), path="/open_api/v1.2/event/track/"
    )
    assert (status, document["code"]) == (200, Code.VERSION_ERROR)
    response = await http.get(served.base_url + "/open_api/v1.3/event/track/")
    assert response.status_code == 405
    response = await http.post(served.base_url + "/open_api/v1.3/pixel/track/", json={})
    assert response.status_code == 404


def too_many() -> list[dict[str, Any]]:
    return [wire(n) for n in range(1001)]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param("text", Code.INVALID_PARAMS, id="not-an-object"),
        pytest.param(request_body(wire(1), event_source="tv"), Code.PARAM_ERROR, id="bad-source"),
        pytest.param(request_body(wire(1), event_source_id=""), Code.PARAM_ERROR, id="no-pixel"),
        pytest.param(
            request_body(wire(1), partner_name=""), Code.INVALID_PARTNER_NAME, id="bad-partner"
        ),
        pytest.param(
            request_body(wire(1), test_event_code=7), Code.PARAM_ERROR, id="bad-test-code"
        ),
        pytest.param(
            {"event_source": "web", "event_source_id": PIXEL}, Code.PARAM_ERROR, id="no-data"
        ),
        pytest.param(request_body(), Code.PARAM_ERROR, id="empty-data"),
        pytest.param(request_body(*too_many()), Code.INVALID_BATCH_SIZE, id="over-1000"),
        pytest.param(request_body("garbage"), Code.PARAM_ERROR, id="event-not-object"),
        pytest.param(request_body(wire(1, event="")), Code.PARAM_ERROR, id="no-name"),
        pytest.param(
            request_body(wire(1, event_time="1759999940")), Code.PARAM_ERROR, id="time-text"
        ),
        pytest.param(
            request_body(wire(1, event_time=int(NOW * 1000))), Code.PARAM_ERROR, id="milliseconds"
        ),
        pytest.param(request_body(wire(1, event_id=7)), Code.PARAM_ERROR, id="id-not-text"),
        pytest.param(request_body(wire(1, user="x")), Code.PARAM_ERROR, id="user-not-object"),
        pytest.param(
            request_body(wire(1, user={"email": "a@example.com"})),
            Code.PII_NOT_HASHED,
            id="unhashed-email",
        ),
        pytest.param(
            request_body(wire(1, user={"phone": "+5511987654321"})),
            Code.PII_NOT_HASHED,
            id="unhashed-phone",
        ),
        pytest.param(
            request_body(wire(1, user={"zip_code": ["01310100"]})),
            Code.PII_NOT_HASHED,
            id="unhashed-in-array",
        ),
        pytest.param(request_body(wire(1, page={"url": 7})), Code.PARAM_ERROR, id="bad-page"),
        pytest.param(
            request_body(wire(1, properties={"currency": "REAIS"})),
            Code.PARAM_ERROR,
            id="bad-currency",
        ),
        pytest.param(
            request_body(wire(1, properties={"value": "ten"})), Code.PARAM_ERROR, id="bad-value"
        ),
        pytest.param(
            request_body(wire(1, properties={"contents": [{"content_id": 1}]})),
            Code.PARAM_ERROR,
            id="bad-contents",
        ),
        pytest.param(
            request_body(wire(1), wire(2, event_time=int(NOW) - 7 * DAY - 1)),
            Code.PARAM_ERROR,
            id="one-stale-event",
        ),
        pytest.param(
            request_body(wire(1, event_time=int(NOW) + 600)), Code.PARAM_ERROR, id="future"
        ),
    ],
)
async def test_fake_refuses_the_whole_request_for_one_bad_event(
    http: httpx.AsyncClient,
    served: FakeServer[FakeTikTok],
    platform: FakeTikTok,
    body: Any,
    code: int,
) -> None:
    status, document = await post(http, served, body)
    assert (status, document["code"]) == (200, code)
    assert document["message"]
    assert platform.total_events_received == 0


async def test_fake_partial_ok_takes_the_others(
    http: httpx.AsyncClient, served: FakeServer[FakeTikTok], platform: FakeTikTok
) -> None:
    platform.refuse(["order-2"])
    status, document = await post(http, served, request_body(wire(1), wire(2), wire(3)))
    assert (status, document["code"]) == (200, Code.PARTIAL_OK)
    assert [e["event_id"] for e in platform.accepted[0].events] == ["order-1", "order-3"]
    status, document = await post(http, served, request_body(wire(2)))
    assert (status, document["code"]) == (200, Code.PARAM_ERROR)
    assert platform.received_count("CompletePayment", "order-2") == 0
