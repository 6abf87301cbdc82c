"""PinterestConnector against the fake Pinterest over real HTTP on loopback, and the fake
against Pinterest's API description (pinterest/api-description, v5)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from jobs.platforms.fake_http import FakeServer
from jobs.platforms.fake_pinterest import (
    Failure,
    FakePinterest,
    FakePinterestServer,
    FakePinterestTransport,
)
from jobs.platforms.pinterest import DEFAULT_EVENT_NAMES, PinterestConnector
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

NOW = 1_760_000_000
ACCOUNT = "549755885175"
TOKEN = "pina_fake-conversion-token-for-tests"


def stored(number: int, **changes: Any) -> dict[str, Any]:
    """A Purchase as Tenaz stores it (jobs/canonical.py)."""
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": NOW - 60,
        "event_id": f"order-{number}",
        "action_source": "website",
        "event_source_url": "https://shop.example.com/checkout",
        "identifiers": {"client_user_agent": "Mozilla/5.0", "epik": f"epik-{number}"},
        "hashed": {"meta": {"em": sha256(f"buyer{number}@example.com")}},
        "custom_data": {"value": 49.9, "currency": "BRL"},
    }
    event.update(changes)
    return event


def connect(http: httpx.AsyncClient, url: str, **kwargs: Any) -> PinterestConnector:
    options: dict[str, Any] = {
        "ad_account_id": ACCOUNT,
        "access_token": TOKEN,
        "base_url": url,
        "timeout": 5.0,
        "event_names": DEFAULT_EVENT_NAMES,
        **kwargs,
    }
    return PinterestConnector(http, **options)


CASE = ConnectorCase(
    "pinterest",
    fake=lambda: FakePinterest(now=lambda: NOW, access_tokens={ACCOUNT: TOKEN}),
    failure=Failure,
    connect=lambda http, url, timeout: connect(http, url, timeout=timeout),
    event=stored,
    secrets=(TOKEN,),
    max_batch_size=1000,
)


@pytest.fixture
def platform() -> FakePinterest:
    return CASE.fake()


@pytest.fixture
def connector(http: httpx.AsyncClient, served: FakeServer[FakePinterest]) -> PinterestConnector:
    return connect(http, served.base_url)


def test_the_token_never_goes_in_the_url(connector: PinterestConnector) -> None:
    assert TOKEN not in connector.url


# -- success and the shape of a request --------------------------------------------------


async def test_a_batch_is_delivered_in_one_request(
    connector: PinterestConnector, platform: FakePinterest, served: FakeServer[FakePinterest]
) -> None:
    outcomes = await connector.send(batch_of(*(stored(n) for n in range(3))))

    assert kinds(outcomes) == [SUCCEEDED] * 3
    assert [o.delivery_id for o in outcomes] == [100, 101, 102]
    assert all(o.http_status == 200 for o in outcomes)
    assert '"num_events_processed": 3' in outcomes[0].response_excerpt
    [request] = platform.requests
    assert (request.method, request.path, request.query) == (
        "POST",
        f"/v5/ad_accounts/{ACCOUNT}/events",
        {},
    )
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    [first, *_] = json.loads(request.body)["data"]
    assert first == {
        "event_name": "checkout",
        "action_source": "web",
        "event_time": NOW - 60,
        "event_id": "order-0",
        "event_source_url": "https://shop.example.com/checkout",
        "user_data": {
            "em": [sha256("buyer0@example.com")],
            "client_user_agent": "Mozilla/5.0",
            "click_id": "epik-0",
        },
        "custom_data": {"value": "49.9", "currency": "BRL"},
    }
    assert TOKEN not in request.body.decode()
    assert [platform.received_count("checkout", f"order-{n}") for n in range(3)] == [1, 1, 1]
    assert served.connections_opened == 1


async def test_test_mode_sends_test_true_and_nothing_is_recorded(
    http: httpx.AsyncClient, served: FakeServer[FakePinterest], platform: FakePinterest
) -> None:
    connector = connect(http, served.base_url + "/", test=True)
    assert kinds(await connector.send(batch_of(stored(1)))) == [SUCCEEDED]
    [request] = platform.requests
    assert request.query == {"test": "true"}
    assert platform.accepted[0].test
    assert platform.total_events_received == 0


# -- per-event outcomes ---------------------------------------------------------------------


@pytest.mark.parametrize("partial_failure_status", [200, 422])
async def test_a_bad_event_fails_alone_in_the_same_request(
    http: httpx.AsyncClient, partial_failure_status: int
) -> None:
    platform = FakePinterest(
        now=lambda: NOW,
        access_tokens={ACCOUNT: TOKEN},
        partial_failure_status=partial_failure_status,
    )
    async with FakePinterestServer(platform) as served:
        connector = connect(http, served.base_url)
        events = [stored(n) for n in range(4)]
        events[2]["custom_data"] = {"value": 10.0, "currency": "ZZZ"}
        outcomes = await connector.send(batch_of(*events))

    assert kinds(outcomes) == [SUCCEEDED, SUCCEEDED, REJECTED, SUCCEEDED]
    assert {o.http_status for o in outcomes} == {partial_failure_status}
    assert outcomes[2].message == "custom_data.currency must be an ISO-4217 currency code."
    assert not outcomes[2].needs_action
    assert platform.request_count == 1
    received = [platform.received_count("checkout", f"order-{n}") for n in range(4)]
    assert received == [1, 1, 0, 1]


async def test_events_all_failing_one_by_one_cost_one_request(
    connector: PinterestConnector, platform: FakePinterest
) -> None:
    stale = [stored(n, event_time=NOW - 8 * 86_400) for n in range(3)]
    outcomes = await connector.send(batch_of(*stale))
    assert kinds(outcomes) == [REJECTED] * 3
    assert platform.request_count == 1


async def test_a_request_refused_as_a_whole_is_split(
    connector: PinterestConnector, platform: FakePinterest
) -> None:
    platform.fail_next(1, Failure.invalid_request())
    outcomes = await connector.send(batch_of(*(stored(n) for n in range(4))))
    # The halves went through: the refusal was about the request, not these events.
    assert kinds(outcomes) == [SUCCEEDED] * 4
    assert [r.event_count for r in platform.requests] == [4, 2, 2]

    platform.fail_next(1, Failure.invalid_request())
    [outcome] = await connector.send(batch_of(stored(9)))
    assert (outcome.kind, outcome.http_status, outcome.platform_code) == (REJECTED, 400, 4196)
    assert outcome.message == "The request was invalid."


async def test_an_event_pinterest_cannot_take_fails_without_a_request(
    connector: PinterestConnector, platform: FakePinterest
) -> None:
    no_customer = stored(2, hashed={}, identifiers={"epik": "only-a-click"})
    outcomes = await connector.send(batch_of(stored(1), no_customer, stored(3)))
    assert kinds(outcomes) == [SUCCEEDED, REJECTED, SUCCEEDED]
    assert "email" in outcomes[1].message
    assert outcomes[1].http_status is None
    assert platform.request_count == 1


# -- external problems --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "status", "code", "needs_action"),
    [
        pytest.param(Failure.http_500(), 500, None, False, id="http-500"),
        pytest.param(Failure.ramped_down(), 503, 4197, False, id="503-ramped-down"),
        pytest.param(Failure.rate_limited(), 429, 8, False, id="429-rate-limit"),
        pytest.param(Failure.unauthorized(), 401, 2, True, id="401-authentication"),
        pytest.param(Failure.forbidden(), 403, 29, True, id="403-not-permitted"),
        pytest.param(Failure.custom(400, b"<html>proxy</html>", content_type="text/html"),
                     400, None, True, id="400-not-pinterest"),
    ],
)  # fmt: skip
async def test_platform_failures_are_external_problems_for_every_event(
    connector: PinterestConnector,
    platform: FakePinterest,
    failure: Failure,
    status: int,
    code: int | None,
    needs_action: bool,
) -> None:
    platform.fail_next(1, failure)
    outcomes = await connector.send(batch_of(stored(1), stored(2)))

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


async def test_an_outage_answers_that_the_endpoint_is_ramped_down(
    connector: PinterestConnector, platform: FakePinterest
) -> None:
    platform.set_down(True)
    [outcome] = await connector.send(batch_of(stored(1)))
    assert (outcome.kind, outcome.http_status, outcome.platform_code) == (EXTERNAL, 503, 4197)


async def test_a_wrong_token_or_account_needs_action(
    http: httpx.AsyncClient, served: FakeServer[FakePinterest]
) -> None:
    revoked = connect(http, served.base_url, access_token="pina_revoked")
    [outcome] = await revoked.send(batch_of(stored(1)))
    assert (outcome.kind, outcome.http_status, outcome.needs_action) == (EXTERNAL, 401, True)
    assert "pina_revoked" not in repr(outcome)

    elsewhere = connect(http, served.base_url, ad_account_id="111")
    [outcome] = await elsewhere.send(batch_of(stored(1)))
    assert (outcome.kind, outcome.http_status, outcome.needs_action) == (EXTERNAL, 403, True)


async def test_a_token_the_platform_echoes_is_scrubbed(
    connector: PinterestConnector, platform: FakePinterest
) -> None:
    echo = json.dumps({"code": 2, "message": f"Authentication failed for {TOKEN}"}).encode()
    platform.fail_next(1, Failure.custom(401, echo))
    [outcome] = await connector.send(batch_of(stored(1)))
    assert outcome.needs_action
    assert "[secret]" in outcome.message
    assert "[secret]" in outcome.response_excerpt
    assert_no_secret([outcome], TOKEN)


# -- the sandbox path: the same connector through an in-process transport ------------------


async def test_sandbox_transport_delivers_in_process() -> None:
    platform = FakePinterest(now=lambda: NOW)
    async with httpx.AsyncClient(transport=FakePinterestTransport(platform)) as client:
        connector = PinterestConnector(
            client,
            ad_account_id=ACCOUNT,
            access_token="sandbox",
            base_url="http://sandbox.invalid",
            event_names=DEFAULT_EVENT_NAMES,
        )
        outcomes = await connector.send(batch_of(stored(1)))
    assert kinds(outcomes) == [SUCCEEDED]
    assert platform.received_count("checkout", "order-1") == 1


# -- the fake follows Pinterest's API description -------------------------------------------


async def post(
    http: httpx.AsyncClient,
    served: FakeServer[FakePinterest],
    body: Any,
    *,
    token: str | None = TOKEN,
    account: str = ACCOUNT,
) -> tuple[int, dict[str, Any]]:
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    response = await http.post(
        f"{served.base_url}/v5/ad_accounts/{account}/events", json=body, headers=headers
    )
    return response.status_code, response.json()


def wire(number: int, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_name": "checkout",
        "action_source": "web",
        "event_time": NOW - 60,
        "event_id": f"order-{number}",
        "user_data": {"em": [sha256("a@example.com")]},
    }
    event.update(changes)
    return event


async def test_fake_checks_the_token_first(
    http: httpx.AsyncClient, served: FakeServer[FakePinterest]
) -> None:
    assert await post(http, served, {"data": "garbage"}, token=None) == (
        401,
        {"code": 2, "message": "Authentication failed."},
    )
    assert (await post(http, served, {"data": []}, token="pina_other"))[0] == 401
    status, document = await post(http, served, {"data": [wire(1)]}, account="999")
    assert (status, document["code"]) == (403, 29)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"data": []}, id="no-events"),
        pytest.param({"data": [wire(n) for n in range(1001)]}, id="over-1000"),
        pytest.param({"data": [wire(1)], "access_token": TOKEN}, id="unknown-top-level"),
        pytest.param({"data": [wire(1, user_data=None)]}, id="user-data-not-object"),
        pytest.param({"data": [{k: v for k, v in wire(1).items() if k != "event_id"}]},
                     id="no-event-id"),
        pytest.param({"data": [wire(1, event_time=str(NOW))]}, id="time-as-text"),
        pytest.param({"data": [wire(1, fbc="fb.1.2.3")]}, id="unknown-event-property"),
        pytest.param({"data": [wire(1, custom_data={"content_type": "product"})]},
                     id="unknown-custom-data-property"),
    ],
)  # fmt: skip
async def test_fake_refuses_a_malformed_request_as_a_whole(
    http: httpx.AsyncClient, served: FakeServer[FakePinterest], platform: FakePinterest, body: Any
) -> None:
    status, document = await post(http, served, body)
    assert (status, document["code"]) == (400, 4196)
    assert platform.total_events_received == 0


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (wire(1, event_name="Purchase"), "not a Pinterest event name"),
        (wire(1, action_source="website"), "action_source"),
        (wire(1, user_data={"ph": [sha256("5511987654321")]}), "user_data needs em"),
        (wire(1, user_data={"em": ["maria@example.com"]}), "SHA-256"),
        (wire(1, user_data={"em": sha256("a@example.com")}), "SHA-256"),
        (wire(1, custom_data={"value": 10.5}), "value must be a number written as a string"),
        (wire(1, custom_data={"currency": "REAL"}), "currency"),
        (wire(1, event_time=NOW + 3600), "future"),
        (wire(1, event_time=NOW - 8 * 86_400), "past"),
    ],
)
async def test_fake_fails_a_bad_event_alone(
    http: httpx.AsyncClient,
    served: FakeServer[FakePinterest],
    platform: FakePinterest,
    event: dict[str, Any],
    message: str,
) -> None:
    status, document = await post(http, served, {"data": [wire(0), event]})
    assert status == 200
    assert (document["num_events_received"], document["num_events_processed"]) == (2, 1)
    good, bad = document["events"]
    assert good["status"] == "processed"
    assert bad["status"] == "failed"
    assert message in bad["error_message"]
    assert "maria@example.com" not in bad["error_message"]
    assert platform.received_count("checkout", "order-0") == 1


async def test_fake_takes_ip_and_user_agent_instead_of_an_email(
    http: httpx.AsyncClient, served: FakeServer[FakePinterest]
) -> None:
    event = wire(1, user_data={"client_ip_address": "203.0.113.7", "client_user_agent": "UA"})
    status, document = await post(http, served, {"data": [event]})
    assert (status, document["events"][0]["status"]) == (200, "processed")
