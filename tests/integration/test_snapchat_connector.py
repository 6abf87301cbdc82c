"""SnapchatConnector against the fake Snapchat over real HTTP on loopback, and the fake
against Snapchat's documentation (Conversions API v3)."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from jobs.platforms.fake_http import FakeServer
from jobs.platforms.fake_snapchat import (
    Code,
    Failure,
    FakeSnapchat,
    FakeSnapchatTransport,
)
from jobs.platforms.snapchat import DEFAULT_EVENT_NAMES, SnapchatConnector
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
from tests.support import logged

NOW = 1_760_000_000
DAY = 86_400
PIXEL = "1ec32188-754e-4be2-8e55-c949a984a39f"
TOKEN = "snap-fake-capi-token-for-tests"


def stored(number: int, **changes: Any) -> dict[str, Any]:
    """A Purchase as Tenaz stores it (jobs/canonical.py)."""
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": NOW - 60,
        "event_id": f"order-{number}",
        "action_source": "website",
        "event_source_url": "https://shop.example.com/checkout",
        "identifiers": {"sc_click_id": f"click-{number}"},
        "hashed": {"meta": {"em": sha256(f"buyer{number}@example.com")}},
        "custom_data": {"value": 49.9, "currency": "BRL"},
    }
    event.update(changes)
    return event


def connect(http: httpx.AsyncClient, url: str, **kwargs: Any) -> SnapchatConnector:
    options: dict[str, Any] = {
        "pixel_id": PIXEL,
        "access_token": TOKEN,
        "base_url": url,
        "timeout": 5.0,
        "event_names": DEFAULT_EVENT_NAMES,
        **kwargs,
    }
    return SnapchatConnector(http, **options)


CASE = ConnectorCase(
    "snapchat",
    fake=lambda: FakeSnapchat(now=lambda: NOW, access_tokens={PIXEL: TOKEN}),
    failure=Failure,
    connect=lambda http, url, timeout: connect(http, url, timeout=timeout),
    event=stored,
    secrets=(TOKEN,),
    max_batch_size=2000,
)


@pytest.fixture
def platform() -> FakeSnapchat:
    return CASE.fake()


@pytest.fixture
def connector(http: httpx.AsyncClient, served: FakeServer[FakeSnapchat]) -> SnapchatConnector:
    return connect(http, served.base_url)


def test_the_token_never_shows_in_the_url(connector: SnapchatConnector) -> None:
    assert TOKEN not in connector.url


# -- success and the shape of a request --------------------------------------------------


async def test_a_batch_is_delivered_in_one_request(
    connector: SnapchatConnector, platform: FakeSnapchat
) -> None:
    outcomes = await connector.send(batch_of(*(stored(n) for n in range(3))))

    assert kinds(outcomes) == [SUCCEEDED] * 3
    assert all(o.http_status == 200 for o in outcomes)
    assert '"status": "VALID"' in outcomes[0].response_excerpt
    [request] = platform.requests
    assert (request.method, request.path) == ("POST", f"/v3/{PIXEL}/events")
    # Snapchat documents the token as a query parameter only.
    assert request.query == {"access_token": TOKEN}
    assert "authorization" not in request.headers
    assert request.headers["content-type"] == "application/json"
    [first, *_] = json.loads(request.body)["data"]
    assert first == {
        "event_name": "PURCHASE",
        "event_time": NOW - 60,
        "event_id": "order-0",
        "action_source": "WEB",
        "event_source_url": "https://shop.example.com/checkout",
        "user_data": {"em": [sha256("buyer0@example.com")], "sc_click_id": "click-0"},
        "custom_data": {"value": 49.9, "currency": "BRL"},
    }
    assert [platform.received_count("PURCHASE", f"order-{n}") for n in range(3)] == [1, 1, 1]


async def test_validate_only_uses_the_validation_endpoint_and_records_nothing(
    http: httpx.AsyncClient, served: FakeServer[FakeSnapchat], platform: FakeSnapchat
) -> None:
    connector = connect(http, served.base_url + "/", validate_only=True)
    assert kinds(await connector.send(batch_of(stored(1)))) == [SUCCEEDED]
    [request] = platform.requests
    assert request.path == f"/v3/{PIXEL}/events/validate"
    assert platform.accepted[0].validate_only
    assert platform.total_events_received == 0


# -- refusals and their isolation -------------------------------------------------------------


async def test_one_invalid_event_in_ten_is_isolated(
    connector: SnapchatConnector, platform: FakeSnapchat
) -> None:
    events = [stored(n) for n in range(10)]
    events[6]["custom_data"]["currency"] = "ZZZ"

    outcomes = await connector.send(batch_of(*events))

    assert kinds(outcomes) == [SUCCEEDED] * 6 + [REJECTED] + [SUCCEEDED] * 3
    rejected = outcomes[6]
    assert (rejected.http_status, rejected.needs_action) == (400, False)
    assert "currency" in rejected.message
    received = [platform.received_count("PURCHASE", f"order-{n}") for n in range(10)]
    assert received == [1] * 6 + [0] + [1] * 3
    assert platform.request_count == 7


async def test_a_stale_event_fails_alone(
    connector: SnapchatConnector, platform: FakeSnapchat
) -> None:
    stale = stored(3, event_time=NOW - 38 * DAY)
    outcomes = await connector.send(batch_of(stored(1), stored(2), stale, stored(4)))
    assert kinds(outcomes) == [SUCCEEDED, SUCCEEDED, REJECTED, SUCCEEDED]
    assert "37 days" in outcomes[2].message
    assert platform.received_count("PURCHASE", "order-3") == 0


async def test_events_snapchat_refuses_for_sure_fail_without_a_request(
    connector: SnapchatConnector, platform: FakeSnapchat
) -> None:
    no_value = stored(2, custom_data={"currency": "BRL"})
    app = stored(3, action_source="app")
    outcomes = await connector.send(batch_of(stored(1), no_value, app, stored(4)))
    assert kinds(outcomes) == [SUCCEEDED, REJECTED, REJECTED, SUCCEEDED]
    assert outcomes[1].message == "Snapchat refuses PURCHASE events without value and currency"
    assert "Snap App ID" in outcomes[2].message
    assert outcomes[1].http_status is None
    assert platform.request_count == 1


# -- external problems --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "status", "needs_action"),
    [
        pytest.param(Failure.http_500(), 500, False, id="http-500"),
        pytest.param(Failure.http_503(), 503, False, id="http-503"),
        pytest.param(Failure.rate_limited(), 429, False, id="http-429"),
        pytest.param(Failure.unauthorized(), 401, True, id="http-401"),
        pytest.param(Failure.forbidden(), 403, True, id="http-403"),
        pytest.param(Failure.custom(400, b"<html>proxy</html>", content_type="text/html"), 400,
                     True, id="400-not-snapchat"),
    ],
)  # fmt: skip
async def test_platform_failures_are_external_problems_for_every_event(
    connector: SnapchatConnector,
    platform: FakeSnapchat,
    failure: Failure,
    status: int,
    needs_action: bool,
) -> None:
    platform.fail_next(1, failure)
    # A bad event in the batch must not lead to a split: the platform never looked at it.
    outcomes = await connector.send(batch_of(stored(1), stored(2, event_name="Nope")))

    assert kinds(outcomes) == [EXTERNAL, EXTERNAL]
    assert (outcomes[0].http_status, outcomes[0].needs_action) == (status, needs_action)
    assert outcomes[0].message
    assert platform.request_count == 1
    assert platform.total_events_received == 0
    assert_no_secret(outcomes, TOKEN)


async def test_a_wrong_token_or_pixel_needs_action(
    http: httpx.AsyncClient, served: FakeServer[FakeSnapchat]
) -> None:
    revoked = connect(http, served.base_url, access_token="snap-revoked")
    [outcome] = await revoked.send(batch_of(stored(1)))
    assert (outcome.kind, outcome.http_status, outcome.needs_action) == (EXTERNAL, 401, True)
    assert "snap-revoked" not in repr(outcome)

    elsewhere = connect(http, served.base_url, pixel_id="00000000-0000-4000-8000-000000000001")
    [outcome] = await elsewhere.send(batch_of(stored(1)))
    assert (outcome.kind, outcome.http_status, outcome.needs_action) == (EXTERNAL, 403, True)


async def test_the_token_in_the_url_never_shows_in_outcomes_or_logs(
    connector: SnapchatConnector, platform: FakeSnapchat, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # A platform (or a proxy) that echoes the URL it was asked for.
    echo = json.dumps(
        {"status": "INVALID", "reason": f"bad request to /v3/{PIXEL}/events?access_token={TOKEN}"}
    ).encode()
    platform.fail_next(1, Failure.custom(400, echo))
    platform.fail_next(1, Failure.custom(502, f"upstream {TOKEN} failed".encode()))
    outcomes = [(await connector.send(batch_of(stored(n))))[0] for n in range(2)]
    assert [o.kind for o in outcomes] == [REJECTED, EXTERNAL]
    assert "access_token=[secret]" in outcomes[0].message
    assert_no_secret(outcomes, TOKEN)
    assert TOKEN not in logged(caplog.records)


async def test_sandbox_transport_delivers_in_process() -> None:
    platform = FakeSnapchat(now=lambda: NOW)
    async with httpx.AsyncClient(transport=FakeSnapchatTransport(platform)) as client:
        connector = SnapchatConnector(
            client,
            pixel_id=PIXEL,
            access_token="sandbox",
            base_url="http://sandbox.invalid",
            event_names=DEFAULT_EVENT_NAMES,
        )
        outcomes = await connector.send(batch_of(stored(1)))
    assert kinds(outcomes) == [SUCCEEDED]
    assert platform.received_count("PURCHASE", "order-1") == 1


# -- the fake follows Snapchat's documentation ----------------------------------------------


async def post(
    http: httpx.AsyncClient,
    served: FakeServer[FakeSnapchat],
    body: Any,
    *,
    token: str | None = TOKEN,
    path: str = f"/v3/{PIXEL}/events",
) -> tuple[int, dict[str, Any]]:
    params = {} if token is None else {"access_token": token}
    response = await http.post(served.base_url + path, json=body, params=params)
    return response.status_code, response.json()


def wire(number: int, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_name": "PURCHASE",
        "event_time": NOW - 60,
        "event_id": f"order-{number}",
        "action_source": "WEB",
        "event_source_url": "https://shop.example.com/",
        "user_data": {"em": [sha256("a@example.com")]},
        "custom_data": {"currency": "USD", "value": "10"},
    }
    event.update(changes)
    return event


async def test_fake_checks_the_token_first(
    http: httpx.AsyncClient, served: FakeServer[FakeSnapchat]
) -> None:
    status, document = await post(http, served, {"data": "garbage"}, token=None)
    assert (status, document["status"]) == (401, "INVALID")
    assert (await post(http, served, {"data": [wire(1)]}, token="other"))[0] == 401
    other_pixel = "/v3/00000000-0000-4000-8000-000000000009/events"
    assert (await post(http, served, {"data": [wire(1)]}, path=other_pixel))[0] == 403


async def test_fake_answers_the_docs_example(
    http: httpx.AsyncClient, served: FakeServer[FakeSnapchat], platform: FakeSnapchat
) -> None:
    status, document = await post(http, served, {"data": [wire(1), wire(2)]})
    assert (status, document["status"]) == (200, "VALID")
    assert platform.received_count("PURCHASE", "order-2") == 1
    status, document = await post(
        http, served, {"data": [wire(3)]}, path=f"/v3/{PIXEL}/events/validate"
    )
    assert (status, document["test_event"], document["event_logs"]) == (
        200,
        True,
        [{"event": 0, "status": "VALID"}],
    )
    assert platform.received_count("PURCHASE", "order-3") == 0


@pytest.mark.parametrize(
    ("data", "code"),
    [
        pytest.param([], Code.INVALID_FIELD, id="no-events"),
        pytest.param([wire(n) for n in range(2001)], Code.INVALID_FIELD, id="over-2000"),
        pytest.param([wire(1, event_name=None)], Code.MISSING_FIELD, id="no-name"),
        pytest.param([wire(1, event_name="Purchase!")], Code.INVALID_FIELD, id="unknown-name"),
        pytest.param([wire(1, action_source="website")], Code.INVALID_FIELD, id="bad-source"),
        pytest.param([wire(1, event_source_url="")], Code.MISSING_FIELD, id="web-without-url"),
        pytest.param([wire(1, event_time=(NOW - 60) * 1000)], Code.TIMESTAMP, id="milliseconds"),
        pytest.param([wire(1, event_time=NOW - 38 * DAY)], Code.TIMESTAMP, id="38-days-old"),
        pytest.param([wire(1, user_data={"em": ["a@example.com"]})], Code.UNHASHED_PII,
                     id="unhashed"),
        pytest.param([wire(1, user_data={"fn": [sha256("maria")]})], Code.INSUFFICIENT_PII,
                     id="insufficient-pii"),
        pytest.param([wire(1, custom_data={"currency": "USD"})], Code.PURCHASE_VALUE,
                     id="purchase-without-value"),
        pytest.param([wire(0), wire(1, custom_data={"currency": "XX", "value": 1})],
                     Code.INVALID_FIELD, id="one-bad-currency"),
    ],
)  # fmt: skip
async def test_fake_refuses_the_whole_request_for_one_bad_event(
    http: httpx.AsyncClient,
    served: FakeServer[FakeSnapchat],
    platform: FakeSnapchat,
    data: list[dict[str, Any]],
    code: str,
) -> None:
    status, document = await post(http, served, {"data": data})
    assert (status, document["status"], document["errors"]["codes"]) == (400, "INVALID", [code])
    assert "a@example.com" not in json.dumps(document)
    assert platform.total_events_received == 0


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(wire(1, event_time=NOW - 36 * DAY), id="36-days-old"),
        pytest.param(wire(1, action_source="OFFLINE", event_source_url=None), id="offline"),
        pytest.param(
            wire(1, user_data={"client_ip_address": "203.0.113.7", "client_user_agent": "UA"}),
            id="ip-and-user-agent",
        ),
        pytest.param(wire(1, event_name="SIGN_UP", custom_data={}), id="sign-up-without-value"),
    ],
)
async def test_fake_accepts(
    http: httpx.AsyncClient, served: FakeServer[FakeSnapchat], event: dict[str, Any]
) -> None:
    assert (await post(http, served, {"data": [event]}))[0] == 200
