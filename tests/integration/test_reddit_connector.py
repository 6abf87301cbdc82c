"""RedditConnector against the fake Reddit over real HTTP on loopback, and the fake against the
platform notes (Reddit section): Bearer token, a user agent of Tenaz's own, at most 1,000
events, all or none taken, the 7-day rule, hashed match keys, ISO 4217 currencies."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from jobs.pii import hashed_for, normalise_user_data
from jobs.platforms.base import AttemptScope
from jobs.platforms.fake_http import FakeServer, FakeTransport
from jobs.platforms.fake_reddit import Failure, FakeReddit, error_body
from jobs.platforms.reddit import USER_AGENT, RedditConnector
from tests.integration.platform_helpers import (
    EXTERNAL,
    REJECTED,
    SUCCEEDED,
    ConnectorCase,
    batch_of,
    kinds,
    sha256,
)

NOW = 1_760_000_000.0
DAY = 86_400
ACCOUNT = "t2_abc123"
TOKEN = "reddit-fake-token-for-tests"


def stored(number: int, **changes: Any) -> dict[str, Any]:
    """A Purchase as Tenaz stores it for a Reddit destination (hashed by the reddit family)."""
    user = normalise_user_data(
        {
            "email": f"Buyer.{number}+shop@Example.com",
            "phone": "+55 11 98765-4321",
            "client_ip_address": "203.0.113.9",
            "client_user_agent": "Mozilla/5.0",
            "rdt_click_id": f"click-{number}",
        }
    )
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": int(NOW) - 60,
        "event_id": f"order-{number}",
        "action_source": "website",
        "identifiers": dict(user.clear),
        "hashed": {"reddit": hashed_for("reddit", user)},
        "custom_data": {"currency": "BRL", "value": 49.9},
    }
    event.update(changes)
    return event


def reddit(http: httpx.AsyncClient, base_url: str, **options: Any) -> RedditConnector:
    settings: dict[str, Any] = {"ad_account_id": ACCOUNT, "access_token": TOKEN, "timeout": 5.0}
    return RedditConnector(http, base_url=base_url, **(settings | options))


CASE = ConnectorCase(
    "reddit",
    fake=lambda: FakeReddit(now=lambda: NOW, access_tokens={ACCOUNT: TOKEN}),
    failure=Failure,
    connect=lambda http, url, timeout: reddit(http, url, timeout=timeout),
    event=stored,
    secrets=(TOKEN,),
    max_batch_size=1000,
)


@pytest.fixture
def platform() -> FakeReddit:
    return CASE.fake()


@pytest.fixture
def connector(http: httpx.AsyncClient, served: FakeServer[FakeReddit]) -> RedditConnector:
    return reddit(http, served.base_url)


# -- success and the shape of a request ----------------------------------------------------


async def test_a_batch_is_delivered_in_one_request(
    connector: RedditConnector, platform: FakeReddit
) -> None:
    outcomes = await connector.send(batch_of(*(stored(n) for n in range(3))))

    assert kinds(outcomes) == [SUCCEEDED] * 3
    assert [o.delivery_id for o in outcomes] == [100, 101, 102]
    assert all(o.http_status == 200 for o in outcomes)
    assert "Successfully processed 3 conversion events" in outcomes[0].response_excerpt
    [accepted] = platform.accepted
    assert (accepted.ad_account_id, accepted.event_count, accepted.test_mode) == (
        ACCOUNT,
        3,
        False,
    )
    assert [platform.received_count("Purchase", f"order-{n}") for n in range(3)] == [1, 1, 1]


async def test_request_shape_headers_and_hashing(
    http: httpx.AsyncClient, served: FakeServer[FakeReddit], platform: FakeReddit
) -> None:
    connector = reddit(http, served.base_url + "/", test_mode=True)
    assert connector.url == f"{served.base_url}/api/v2.0/conversions/events/{ACCOUNT}"
    await connector.send(batch_of(stored(1)))

    [request] = platform.requests
    assert (request.method, request.path, request.query) == (
        "POST",
        f"/api/v2.0/conversions/events/{ACCOUNT}",
        {},
    )
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == USER_AGENT
    assert TOKEN not in request.body.decode()
    body = json.loads(request.body)
    assert body["test_mode"] is True
    [event] = body["events"]
    assert event["event_type"] == {"tracking_type": "Purchase"}
    assert event["click_id"] == "click-1"
    assert event["event_metadata"] == {
        "conversion_id": "order-1",
        "currency": "BRL",
        "value_decimal": 49.9,
    }
    # Reddit's own canonical email: alias cut, only letters and digits in the local part.
    assert event["user"] == {
        "email": sha256("buyer1@example.com"),
        "phone_number": sha256("+5511987654321"),
        "ip_address": sha256("203.0.113.9"),
        "user_agent": "Mozilla/5.0",
    }
    assert platform.accepted[0].test_mode is True


# -- external problems ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "status", "needs_action"),
    [
        pytest.param(Failure.throttled(), 429, False, id="throttled"),
        pytest.param(Failure.user_agent_throttled(), 429, False, id="user-agent-throttled"),
        pytest.param(Failure.unavailable(), 500, False, id="unavailable"),
        pytest.param(Failure.http_500(), 500, False, id="bare-500"),
        pytest.param(Failure.http_503(), 503, False, id="503"),
        pytest.param(Failure.unauthorized(), 401, True, id="unauthorized"),
        pytest.param(Failure.forbidden(), 403, True, id="forbidden"),
        pytest.param(Failure.custom(400, b"Bad Request", content_type="text/plain"), 400, True,
                     id="proxy-400"),
    ],
)  # fmt: skip
async def test_platform_failures_are_external_problems_for_every_event(
    connector: RedditConnector,
    platform: FakeReddit,
    failure: Failure,
    status: int,
    needs_action: bool,
) -> None:
    platform.fail_next(1, failure)
    # A bad event in the batch must not lead to a split: Reddit never looked at it.
    stale = stored(2, event_time=int(NOW) - 8 * DAY)
    outcomes = await connector.send(batch_of(stored(1), stale))

    assert kinds(outcomes) == [EXTERNAL, EXTERNAL]
    assert {(o.http_status, o.needs_action) for o in outcomes} == {(status, needs_action)}
    assert outcomes[0].message
    assert platform.request_count == 1
    assert platform.total_events_received == 0


async def test_outage_then_recovery(connector: RedditConnector, platform: FakeReddit) -> None:
    platform.set_down(True)
    [outcome] = await connector.send(batch_of(stored(1)))
    assert (outcome.kind, outcome.http_status) == (EXTERNAL, 503)
    platform.set_down(False)
    assert kinds(await connector.send(batch_of(stored(1)))) == [SUCCEEDED]


async def test_a_wrong_token_or_account_needs_action(
    http: httpx.AsyncClient, served: FakeServer[FakeReddit]
) -> None:
    wrong_token = reddit(http, served.base_url, access_token="reddit-revoked")
    [outcome] = await wrong_token.send(batch_of(stored(1)))
    assert (outcome.kind, outcome.http_status, outcome.needs_action) == (EXTERNAL, 401, True)
    assert outcome.message == "UNAUTHORIZED"
    other_account = reddit(http, served.base_url, ad_account_id="t2_other")
    [outcome] = await other_account.send(batch_of(stored(1)))
    assert (outcome.kind, outcome.http_status, outcome.needs_action) == (EXTERNAL, 403, True)


# -- refusals and their isolation -------------------------------------------------------------


async def test_one_invalid_event_is_isolated_by_splitting(
    connector: RedditConnector, platform: FakeReddit
) -> None:
    events = [stored(n) for n in range(8)]
    events[5]["event_time"] = int(NOW) - 8 * DAY

    outcomes = await connector.send(batch_of(*events))

    assert kinds(outcomes) == [SUCCEEDED] * 5 + [REJECTED] + [SUCCEEDED] * 2
    rejected = outcomes[5]
    assert (rejected.http_status, rejected.platform_code, rejected.needs_action) == (
        400,
        400,
        False,
    )
    assert "None were processed" in rejected.message
    assert "7 days" in rejected.message
    received = [platform.received_count("Purchase", f"order-{n}") for n in range(8)]
    assert received == [1] * 5 + [0] + [1] * 2
    # All 8, halves 0-3 and 4-7, then 4-5 and 6-7, then 4 and 5: fewer than one per event.
    assert platform.request_count == 7


async def test_a_request_too_large_for_a_proxy_goes_in_halves(
    connector: RedditConnector, platform: FakeReddit
) -> None:
    platform.fail_next(
        1, Failure.custom(413, b"Request Entity Too Large", content_type="text/plain")
    )
    scope = AttemptScope.for_batch(4)
    outcomes = await connector.send(batch_of(*(stored(n) for n in range(4))), scope)
    assert kinds(outcomes) == [SUCCEEDED] * 4
    assert [r.event_count for r in platform.accepted] == [2, 2]
    assert scope.too_large == 4


async def test_secrets_never_reach_outcomes(
    connector: RedditConnector, platform: FakeReddit
) -> None:
    echo = error_body(400, f"token {TOKEN} is not allowed here")
    platform.fail_next(1, Failure.custom(400, echo, content_type="application/json"))
    [outcome] = await connector.send(batch_of(stored(1)))
    assert outcome.kind is REJECTED
    assert TOKEN not in repr(outcome)
    assert "[secret]" in outcome.message
    assert "[secret]" in outcome.response_excerpt


# -- the sandbox path ---------------------------------------------------------------------------


async def test_in_process_transport() -> None:
    platform = FakeReddit(now=lambda: NOW, access_tokens={ACCOUNT: TOKEN})
    async with httpx.AsyncClient(transport=FakeTransport(platform)) as client:
        connector = reddit(client, "http://sandbox.invalid")
        unhashed = stored(2)
        unhashed["hashed"] = {"reddit": {"email": "someone@example.com"}}
        outcomes = await connector.send(batch_of(stored(1), unhashed))
    assert kinds(outcomes) == [SUCCEEDED, REJECTED]
    assert "someone@example.com" not in outcomes[1].message
    assert platform.received_count("Purchase", "order-1") == 1


# -- the fake follows the platform notes ---------------------------------------------------------


def wire(number: int, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_at": "2025-10-09T08:52:20Z",
        "event_type": {"tracking_type": "Purchase"},
        "click_id": f"click-{number}",
        "event_metadata": {"conversion_id": f"order-{number}"},
        "user": {"email": sha256("a@example.com")},
    }
    event.update(changes)
    return event


async def post(
    http: httpx.AsyncClient,
    served: FakeServer[FakeReddit],
    events: Any,
    *,
    token: str = TOKEN,
    user_agent: str = USER_AGENT,
) -> tuple[int, dict[str, Any]]:
    response = await http.post(
        f"{served.base_url}/api/v2.0/conversions/events/{ACCOUNT}",
        json={"events": events, "test_mode": False},
        headers={"authorization": f"Bearer {token}", "user-agent": user_agent},
    )
    return response.status_code, response.json()


async def test_fake_takes_valid_events(
    http: httpx.AsyncClient, served: FakeServer[FakeReddit]
) -> None:
    assert await post(http, served, [wire(1), wire(2)]) == (
        200,
        {"message": "Successfully processed 2 conversion events."},
    )


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        pytest.param({"event_at": "2025-09-30T08:52:20Z"}, "7 days", id="too-old"),
        pytest.param({"event_at": "2025-10-09T09:52:20Z"}, "future", id="future"),
        pytest.param({"event_at": "2025-10-09T08:52:20"}, "time zone", id="naive-time"),
        pytest.param({"event_at": 1760000000}, "ISO 8601", id="unix-time"),
        pytest.param({"event_type": {"tracking_type": "Buy"}}, "tracking_type", id="bad-type"),
        pytest.param({"event_type": {"tracking_type": "Custom"}}, "custom_event_name",
                     id="custom-unnamed"),
        pytest.param({"event_type": {"tracking_type": "Custom", "custom_event_name": "x" * 65}},
                     "64", id="custom-name-too-long"),
        pytest.param({"user": {"email": "a@example.com"}}, "SHA-256", id="unhashed-email"),
        pytest.param({"user": {"ip_address": "203.0.113.9"}}, "SHA-256", id="unhashed-ip"),
        pytest.param({"user": {}, "click_id": ""}, "match key", id="no-match-key"),
        pytest.param({"event_metadata": {"currency": "ZZZ", "value_decimal": 1}}, "ISO 4217",
                     id="bad-currency"),
        pytest.param({"event_metadata": {"value_decimal": 1}}, "together", id="value-alone"),
        pytest.param({"event_metadata": {"item_count": "2"}}, "integer", id="item-count"),
    ],
)  # fmt: skip
async def test_fake_refuses_the_whole_request_for_one_invalid_event(
    http: httpx.AsyncClient,
    served: FakeServer[FakeReddit],
    platform: FakeReddit,
    changes: dict[str, Any],
    problem: str,
) -> None:
    status, document = await post(http, served, [wire(1), wire(2, **changes)])
    assert status == 400
    message = document["error"]["message"]
    assert message.startswith("There were 1 invalid conversion events. None were processed.")
    assert problem in message
    assert "a@example.com" not in message
    assert platform.total_events_received == 0


async def test_fake_limits_a_request_to_1000_events(
    http: httpx.AsyncClient, served: FakeServer[FakeReddit]
) -> None:
    status, document = await post(http, served, [wire(n) for n in range(1001)])
    assert (status, document) == (400, {"error": {"code": 400, "message": "Bad Request"}})


async def test_fake_checks_user_agent_then_token(
    http: httpx.AsyncClient, served: FakeServer[FakeReddit]
) -> None:
    status, document = await post(http, served, "garbage", user_agent="python-httpx/0.28")
    assert (status, document["error"]["message"]) == (
        429,
        "Your user agent was automatically ratelimited.",
    )
    status, document = await post(http, served, "garbage", token="someone-elses")
    assert (status, document["error"]["message"]) == (401, "UNAUTHORIZED")
    response = await http.post(
        f"{served.base_url}/api/v2.0/conversions/events/{ACCOUNT}",
        json={"events": [wire(1)]},
        headers={"user-agent": USER_AGENT},
    )
    assert (response.status_code, response.json()["error"]["message"]) == (
        401,
        "No bearer token provided",
    )
