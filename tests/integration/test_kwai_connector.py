"""KwaiConnector against the fake Kwai over real HTTP on loopback.

What the fake checks comes from the community integrations of the platform notes (section 6):
a JSON body with the token and pixel id, the click id, Kwai's event names, `properties` as a
JSON string. Its answers are Tenaz's assumptions (jobs/platforms/fake_kwai.py).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from jobs.platforms.base import AttemptScope
from jobs.platforms.fake_http import FakeServer
from jobs.platforms.fake_kwai import Failure, FakeKwai, FakeKwaiTransport
from jobs.platforms.kwai import PLATFORM, KwaiConnector
from tests.integration.platform_helpers import (
    EXTERNAL,
    REJECTED,
    SUCCEEDED,
    ConnectorCase,
    assert_no_secret,
    batch_of,
    kinds,
)

NOW = 1_760_000_000.0
PIXEL = "276454450988322"
TOKEN = "kwai-fake-token-for-tests"


def stored(number: int, **changes: Any) -> dict[str, Any]:
    """A purchase as Tenaz stores it, with a Kwai click id of its own."""
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": int(NOW) - 60,
        "event_id": f"order-{number}",
        "action_source": "website",
        "identifiers": {"kwai_click_id": f"click-{number}"},
        "hashed": {},
        "custom_data": {"value": 49.9, "currency": "BRL", "contents": [{"id": f"sku-{number}"}]},
    }
    event.update(changes)
    return event


def connector_for(http: httpx.AsyncClient, url: str, **options: Any) -> KwaiConnector:
    settings: dict[str, Any] = {
        "pixel_id": PIXEL,
        "access_token": TOKEN,
        "base_url": url,
        "timeout": 5.0,
        "event_names": PLATFORM.event_names({}),
    }
    return KwaiConnector(http, **(settings | options))


CASE = ConnectorCase(
    "kwai",
    fake=lambda: FakeKwai(now=lambda: NOW, access_tokens={PIXEL: TOKEN}),
    failure=Failure,
    connect=lambda http, url, timeout: connector_for(http, url, timeout=timeout),
    event=stored,
    secrets=(TOKEN,),
    max_batch_size=1,
)


@pytest.fixture
def platform() -> FakeKwai:
    return CASE.fake()


@pytest.fixture
def connector(http: httpx.AsyncClient, served: FakeServer[FakeKwai]) -> KwaiConnector:
    return connector_for(http, served.base_url)


# -- success and the shape of a request ---------------------------------------------------------


async def test_each_event_goes_in_a_request_of_its_own(
    connector: KwaiConnector, platform: FakeKwai
) -> None:
    outcomes = await connector.send(batch_of(*(stored(n) for n in range(3))))

    assert kinds(outcomes) == [SUCCEEDED] * 3
    assert [o.delivery_id for o in outcomes] == [100, 101, 102]
    assert {o.http_status for o in outcomes} == {200}
    assert outcomes[0].response_excerpt == '{"result": 1}'
    assert platform.request_count == 3
    assert [r.event_count for r in platform.requests] == [1, 1, 1]
    assert [platform.received_count("EVENT_PURCHASE", f"click-{n}") for n in range(3)] == [1] * 3


async def test_request_shape_token_in_body_only(
    http: httpx.AsyncClient, served: FakeServer[FakeKwai], platform: FakeKwai
) -> None:
    connector = connector_for(http, served.base_url + "/", test=True)
    assert connector.url == f"{served.base_url}/log/common/api"
    await connector.send(batch_of(stored(1)))

    [request] = platform.requests
    assert (request.method, request.path, request.query) == ("POST", "/log/common/api", {})
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json;charset=utf-8"
    assert TOKEN not in request.path
    assert all(TOKEN not in value for value in request.headers.values())
    body = json.loads(request.body)
    assert body == {
        "access_token": TOKEN,
        "pixelId": PIXEL,
        "clickid": "click-1",
        "event_name": "EVENT_PURCHASE",
        "is_attributed": 1,
        "mmpcode": "PL",
        "pixelSdkVersion": "9.9.9",
        "properties": (
            '{"value":49.9,"currency":"BRL","content_id":"sku-1","content_type":"product"}'
        ),
        "testFlag": True,
        "trackFlag": False,
        "third_party": "tenaz",
    }
    [accepted] = platform.accepted
    assert (accepted.test_flag, accepted.track_flag) == (True, False)
    assert accepted.properties["value"] == 49.9


# -- per-event outcomes ----------------------------------------------------------------------


async def test_a_refused_event_fails_alone(connector: KwaiConnector, platform: FakeKwai) -> None:
    # Kwai has no name for Search: it goes as it is, and Kwai refuses it.
    events = [stored(1), stored(2, event_name="Search"), stored(3, identifiers={})]
    outcomes = await connector.send(batch_of(*events))

    assert kinds(outcomes) == [SUCCEEDED, REJECTED, REJECTED]
    assert (outcomes[1].http_status, outcomes[1].platform_code) == (200, 0)
    assert outcomes[1].message == "refused by Kwai: event_name invalid"
    assert outcomes[2].message == "refused by Kwai: clickid is empty"
    assert platform.request_count == 3
    assert platform.received_count("EVENT_PURCHASE", "click-1") == 1


async def test_the_attempts_request_bound_holds(
    connector: KwaiConnector, platform: FakeKwai
) -> None:
    scope = AttemptScope(max_requests=2)
    outcomes = await connector.send(batch_of(*(stored(n) for n in range(3))), scope)
    assert kinds(outcomes) == [SUCCEEDED, SUCCEEDED, EXTERNAL]
    assert "bound of 2 requests" in outcomes[2].message
    assert platform.request_count == 2
    assert set(scope.outcomes) == {100, 101, 102}


# -- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "status", "code", "needs_action"),
    [
        pytest.param(Failure.http_500(), 500, None, False, id="http-500"),
        pytest.param(Failure.http_502(), 502, None, False, id="http-502"),
        pytest.param(Failure.http_503(), 503, None, False, id="http-503"),
        pytest.param(Failure.throttled(), 429, None, False, id="http-429"),
        pytest.param(Failure.busy(), 200, 0, False, id="system-busy"),
        pytest.param(Failure.token_invalid(), 200, 0, True, id="token-invalid"),
        pytest.param(Failure.pixel_unknown(), 200, 0, True, id="pixel-unknown"),
        pytest.param(Failure.unauthorized(), 401, None, True, id="http-401"),
        pytest.param(Failure.forbidden(), 403, None, True, id="http-403"),
        pytest.param(Failure.proxy_not_found(), 404, None, True, id="proxy-404"),
        pytest.param(Failure.redirect(), 302, None, True, id="redirect"),
        pytest.param(Failure.not_json(), 200, None, True, id="captive-portal"),
    ],
)
async def test_platform_failures_are_external_problems(
    connector: KwaiConnector,
    platform: FakeKwai,
    failure: Failure,
    status: int,
    code: int | None,
    needs_action: bool,
) -> None:
    platform.fail_next(1, failure)
    outcomes = await connector.send(batch_of(stored(1), stored(2)))

    assert kinds(outcomes) == [EXTERNAL, SUCCEEDED]
    first = outcomes[0]
    assert (first.http_status, first.platform_code, first.needs_action) == (
        status,
        code,
        needs_action,
    )
    assert first.message
    assert platform.received_count("EVENT_PURCHASE", "click-1") == 0
    assert_no_secret(outcomes, TOKEN)


async def test_an_echoed_token_is_scrubbed(connector: KwaiConnector, platform: FakeKwai) -> None:
    platform.fail_next(1, Failure.refused(f"access_token {TOKEN} is expired"))
    [outcome] = await connector.send(batch_of(stored(1)))
    assert (outcome.kind, outcome.needs_action) == (EXTERNAL, True)
    assert (
        outcome.message
        == "Kwai refused the access token or pixel id: access_token [secret] is expired"
    )
    assert "[secret]" in outcome.response_excerpt
    assert_no_secret([outcome], TOKEN)


async def test_a_wrong_token_or_pixel_needs_action(
    http: httpx.AsyncClient, served: FakeServer[FakeKwai]
) -> None:
    wrong_token = connector_for(http, served.base_url, access_token="kwai-revoked")
    [outcome] = await wrong_token.send(batch_of(stored(1)))
    assert (outcome.kind, outcome.needs_action) == (EXTERNAL, True)
    assert "access_token invalid" in outcome.message
    assert_no_secret([outcome], "kwai-revoked")

    other_pixel = connector_for(http, served.base_url, pixel_id="999")
    [outcome] = await other_pixel.send(batch_of(stored(1)))
    assert (outcome.kind, outcome.needs_action) == (EXTERNAL, True)
    assert "pixelId" in outcome.message


async def test_outage_then_recovery(connector: KwaiConnector, platform: FakeKwai) -> None:
    platform.set_down(True)
    [outcome] = await connector.send(batch_of(stored(1)))
    assert (outcome.kind, outcome.http_status) == (EXTERNAL, 503)
    platform.set_down(False)
    assert kinds(await connector.send(batch_of(stored(1)))) == [SUCCEEDED]


async def test_sandbox_transport_delivers_in_process() -> None:
    platform = FakeKwai(now=lambda: NOW, access_tokens={"1": "sandbox"})
    async with httpx.AsyncClient(transport=FakeKwaiTransport(platform)) as client:
        connector = KwaiConnector(
            client,
            pixel_id="1",
            access_token="sandbox",
            base_url="http://sandbox.invalid",
            event_names=PLATFORM.event_names({}),
        )
        outcomes = await connector.send(batch_of(stored(1), stored(2, identifiers={})))
    assert kinds(outcomes) == [SUCCEEDED, REJECTED]
    assert platform.received_count("EVENT_PURCHASE", "click-1") == 1
