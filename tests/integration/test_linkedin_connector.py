"""LinkedInConnector against the fake LinkedIn over real HTTP on loopback, and the fake against
the platform notes (LinkedIn section): Bearer token, LinkedIn-Version and Rest.li headers,
BATCH_CREATE answered with a status per element, the 90-day rule, hashed email."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from jobs.pii import hashed_for, normalise_user_data
from jobs.platforms.base import AttemptScope
from jobs.platforms.fake_http import FakeServer, FakeTransport
from jobs.platforms.fake_linkedin import Failure, FakeLinkedIn, error_document
from jobs.platforms.linkedin import LinkedInConnector
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
TOKEN = "linkedin-fake-token-for-tests"
RULES = {"Purchase": "104012", "Lead": "104013"}


def stored(number: int, **changes: Any) -> dict[str, Any]:
    """A Purchase as Tenaz stores it for a LinkedIn destination (hashed by the linkedin family)."""
    user = normalise_user_data(
        {"email": f" Buyer.{number}@Example.com", "li_fat_id": f"fat-{number}", "first_name": "Ana"}
    )
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": int(NOW) - 60,
        "event_id": f"order-{number}",
        "action_source": "website",
        "identifiers": dict(user.clear),
        "hashed": {"linkedin": hashed_for("linkedin", user)},
        "custom_data": {"currency": "BRL", "value": 49.9},
    }
    event.update(changes)
    return event


def linkedin(http: httpx.AsyncClient, base_url: str, **options: Any) -> LinkedInConnector:
    settings: dict[str, Any] = {"access_token": TOKEN, "conversion_rules": RULES, "timeout": 5.0}
    return LinkedInConnector(http, base_url=base_url, **(settings | options))


CASE = ConnectorCase(
    "linkedin",
    fake=lambda: FakeLinkedIn(
        now=lambda: NOW, access_tokens={TOKEN}, conversion_rules=RULES.values()
    ),
    failure=Failure,
    connect=lambda http, url, timeout: linkedin(http, url, timeout=timeout),
    event=stored,
    secrets=(TOKEN,),
    max_batch_size=1000,
)


@pytest.fixture
def platform() -> FakeLinkedIn:
    return CASE.fake()


@pytest.fixture
def connector(http: httpx.AsyncClient, served: FakeServer[FakeLinkedIn]) -> LinkedInConnector:
    return linkedin(http, served.base_url)


# -- success and the shape of a request ----------------------------------------------------


async def test_a_batch_is_delivered_in_one_request(
    connector: LinkedInConnector, platform: FakeLinkedIn
) -> None:
    lead = stored(2, event_name="Lead")
    outcomes = await connector.send(batch_of(stored(0), stored(1), lead))

    assert kinds(outcomes) == [SUCCEEDED] * 3
    assert [(o.delivery_id, o.http_status) for o in outcomes] == [
        (100, 201),
        (101, 201),
        (102, 201),
    ]
    assert '"status": 201' in outcomes[0].response_excerpt
    [accepted] = platform.accepted
    assert (accepted.api_version, len(accepted.taken)) == ("202603", 3)
    assert platform.received_count("104012", "order-0") == 1
    assert platform.received_count("104013", "order-2") == 1


async def test_request_shape_headers_and_hashing(
    http: httpx.AsyncClient, served: FakeServer[FakeLinkedIn], platform: FakeLinkedIn
) -> None:
    connector = linkedin(http, served.base_url + "/", api_version="202509")
    assert connector.url == f"{served.base_url}/rest/conversionEvents"
    await connector.send(batch_of(stored(1)))

    [request] = platform.requests
    assert (request.method, request.path, request.query) == ("POST", "/rest/conversionEvents", {})
    headers = request.headers
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["linkedin-version"] == "202509"
    assert headers["x-restli-protocol-version"] == "2.0.0"
    assert headers["x-restli-method"] == "BATCH_CREATE"
    assert headers["content-type"] == "application/json"
    assert TOKEN not in request.body.decode()
    [element] = json.loads(request.body)["elements"]
    assert element == {
        "conversion": "urn:lla:llaPartnerConversion:104012",
        "conversionHappenedAt": (int(NOW) - 60) * 1000,
        "conversionValue": {"currencyCode": "BRL", "amount": "49.9"},
        "eventId": "order-1",
        "user": {
            "userIds": [
                # LinkedIn: the email lowercased and trimmed, dots kept.
                {"idType": "SHA256_EMAIL", "idValue": sha256("buyer.1@example.com")},
                {"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": "fat-1"},
            ]
        },
    }
    # Plain-text names (userInfo) are never sent: Tenaz does not keep them.
    assert "userInfo" not in request.body.decode()


# -- per-event outcomes -----------------------------------------------------------------------


async def test_each_element_gets_its_own_outcome(
    connector: LinkedInConnector, platform: FakeLinkedIn
) -> None:
    platform.refuse_event("order-3", 429, "Slow down")
    platform.refuse_event("order-4", 403, "No role in the ad account")
    platform.refuse_event("order-5", 409, "Already exists")
    stale = stored(1, event_time=int(NOW) - 91 * DAY)
    bad_currency = stored(2, custom_data={"value": 10.0, "currency": "ZZZ"})
    events = [stored(0), stale, bad_currency, stored(3), stored(4), stored(5)]

    outcomes = await connector.send(batch_of(*events))

    assert kinds(outcomes) == [SUCCEEDED, REJECTED, REJECTED, EXTERNAL, EXTERNAL, SUCCEEDED]
    assert [o.http_status for o in outcomes] == [201, 422, 400, 429, 403, 409]
    assert [o.needs_action for o in outcomes] == [False, False, False, False, True, False]
    assert "90 days" in outcomes[1].message
    assert "currencyCode" in outcomes[2].message
    # One request: LinkedIn answered for each event, nothing to split.
    assert platform.request_count == 1
    assert platform.received_count("104012", "order-0") == 1
    assert platform.received_count("104012", "order-1") == 0


async def test_an_event_without_a_rule_waits_for_the_operator(
    http: httpx.AsyncClient, served: FakeServer[FakeLinkedIn], platform: FakeLinkedIn
) -> None:
    connector = linkedin(http, served.base_url, conversion_rules={"Purchase": "104012"})
    outcomes = await connector.send(batch_of(stored(0), stored(1, event_name="Lead"), stored(2)))
    assert kinds(outcomes) == [SUCCEEDED, EXTERNAL, SUCCEEDED]
    assert (outcomes[1].needs_action, outcomes[1].http_status) == (True, None)
    assert "conversion_rules" in outcomes[1].message
    assert [len(r.elements) for r in platform.accepted] == [2]


async def test_a_rule_linkedin_does_not_know_is_refused(
    http: httpx.AsyncClient, served: FakeServer[FakeLinkedIn]
) -> None:
    connector = linkedin(http, served.base_url, conversion_rules={"Purchase": "999"})
    [outcome] = await connector.send(batch_of(stored(0)))
    assert (outcome.kind, outcome.http_status) == (REJECTED, 422)


async def test_an_unreadable_batch_answer_sends_the_events_again(
    connector: LinkedInConnector, platform: FakeLinkedIn
) -> None:
    platform.fail_next(
        1, Failure.custom(200, b'{"elements":[{"status":201}]}', content_type="text/plain")
    )
    outcomes = await connector.send(batch_of(stored(0), stored(1)))
    assert kinds(outcomes) == [EXTERNAL, EXTERNAL]
    assert "eventId" in outcomes[0].message


# -- the request as a whole ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "status", "needs_action"),
    [
        pytest.param(Failure.throttled(), 429, False, id="throttled"),
        pytest.param(Failure.http_500(), 500, False, id="bare-500"),
        pytest.param(Failure.http_503(), 503, False, id="503"),
        pytest.param(Failure.token_expired(), 401, True, id="token-expired"),
        pytest.param(Failure.token_revoked(), 401, True, id="token-revoked"),
        pytest.param(Failure.forbidden(), 403, True, id="forbidden"),
        pytest.param(Failure.version_inactive(), 426, True, id="version-inactive"),
        pytest.param(Failure.custom(400, b"<html>blocked</html>", content_type="text/html"), 400,
                     True, id="proxy-400"),
    ],
)  # fmt: skip
async def test_platform_failures_are_external_problems_for_every_event(
    connector: LinkedInConnector,
    platform: FakeLinkedIn,
    failure: Failure,
    status: int,
    needs_action: bool,
) -> None:
    platform.fail_next(1, failure)
    outcomes = await connector.send(batch_of(stored(1), stored(2)))

    assert kinds(outcomes) == [EXTERNAL, EXTERNAL]
    assert {(o.http_status, o.needs_action) for o in outcomes} == {(status, needs_action)}
    assert outcomes[0].message
    assert platform.request_count == 1


async def test_a_wrong_token_needs_action(
    http: httpx.AsyncClient, served: FakeServer[FakeLinkedIn]
) -> None:
    [outcome] = await linkedin(http, served.base_url, access_token="revoked").send(
        batch_of(stored(1))
    )
    assert (outcome.kind, outcome.http_status, outcome.needs_action) == (EXTERNAL, 401, True)
    assert outcome.message == "INVALID_ACCESS_TOKEN: Invalid access token"


async def test_a_retired_version_needs_action(
    http: httpx.AsyncClient, served: FakeServer[FakeLinkedIn]
) -> None:
    [outcome] = await linkedin(http, served.base_url, api_version="202001").send(
        batch_of(stored(1))
    )
    assert (outcome.kind, outcome.http_status, outcome.needs_action) == (EXTERNAL, 426, True)
    assert "api_version" in outcome.message or "not active" in outcome.message


async def test_a_refused_request_is_split_so_good_events_go(
    connector: LinkedInConnector, platform: FakeLinkedIn
) -> None:
    # LinkedIn refuses the whole request of 4 for event 3, then each request holding it.
    took = [
        Failure.custom(
            200, json.dumps({"elements": [{"status": 201}] * n}).encode(), content_type="text/plain"
        )
        for n in (2, 1)
    ]
    for answer in (Failure.bad_request(), took[0], Failure.bad_request(), took[1]):
        platform.fail_next(1, answer)
    platform.fail_next(1, Failure.bad_request())
    outcomes = await connector.send(batch_of(*(stored(n) for n in range(4))))

    assert kinds(outcomes) == [SUCCEEDED, SUCCEEDED, SUCCEEDED, REJECTED]
    assert outcomes[3].message == "INVALID_INPUT: The request body is invalid"
    # All 4, then 0-1 and 2-3, then 2 and 3.
    assert [r.event_count for r in platform.requests] == [4, 2, 2, 1, 1]


async def test_splitting_stays_within_the_attempts_bound(
    connector: LinkedInConnector, platform: FakeLinkedIn
) -> None:
    platform.fail_next(100, Failure.bad_request())
    scope = AttemptScope.for_batch(4)
    outcomes = await connector.send(batch_of(*(stored(n) for n in range(4))), scope)
    assert platform.request_count <= scope.max_requests == 5
    assert REJECTED in kinds(outcomes)
    unsent = [o for o in outcomes if o.kind is EXTERNAL]
    assert all("bound" in o.message for o in unsent)


async def test_a_request_too_large_for_a_proxy_goes_in_halves(
    connector: LinkedInConnector, platform: FakeLinkedIn
) -> None:
    platform.fail_next(1, Failure.custom(413, b"Too Large", content_type="text/plain"))
    scope = AttemptScope.for_batch(4)
    outcomes = await connector.send(batch_of(*(stored(n) for n in range(4))), scope)
    assert kinds(outcomes) == [SUCCEEDED] * 4
    assert [len(r.elements) for r in platform.accepted] == [2, 2]
    assert scope.too_large == 4


async def test_secrets_never_reach_outcomes(
    connector: LinkedInConnector, platform: FakeLinkedIn
) -> None:
    echo = error_document(401, "INVALID_ACCESS_TOKEN", f"token {TOKEN} is invalid", 65600)
    platform.fail_next(1, Failure.custom(401, json.dumps(echo).encode(), content_type="text/plain"))
    [outcome] = await connector.send(batch_of(stored(1)))
    assert TOKEN not in repr(outcome)
    assert "[secret]" in outcome.message
    assert "[secret]" in outcome.response_excerpt


# -- the sandbox path and the fake -------------------------------------------------------------


async def test_in_process_transport() -> None:
    platform = FakeLinkedIn(now=lambda: NOW)
    async with httpx.AsyncClient(transport=FakeTransport(platform)) as client:
        connector = linkedin(client, "http://sandbox.invalid")
        unhashed = stored(2)
        unhashed["hashed"] = {"linkedin": {"email": "someone@example.com"}}
        outcomes = await connector.send(batch_of(stored(1), unhashed))
    assert kinds(outcomes) == [SUCCEEDED, REJECTED]
    assert "someone@example.com" not in outcomes[1].message


def element(number: int, **changes: Any) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "conversion": "urn:lla:llaPartnerConversion:104012",
        "conversionHappenedAt": int(NOW - 60) * 1000,
        "eventId": f"order-{number}",
        "user": {"userIds": [{"idType": "SHA256_EMAIL", "idValue": sha256("a@example.com")}]},
    }
    wire.update(changes)
    return wire


async def post(
    http: httpx.AsyncClient, served: FakeServer[FakeLinkedIn], body: Any, **headers: str
) -> tuple[int, dict[str, Any]]:
    sent = {
        "authorization": f"Bearer {TOKEN}",
        "linkedin-version": "202603",
        "x-restli-protocol-version": "2.0.0",
        "x-restli-method": "BATCH_CREATE",
    }
    response = await http.post(
        f"{served.base_url}/rest/conversionEvents", json=body, headers=sent | headers
    )
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("changes", "status", "problem"),
    [
        pytest.param({"conversion": "urn:li:conversion:1"}, 400, "conversion", id="bad-urn"),
        pytest.param({"conversionHappenedAt": int(NOW)}, 400, "milliseconds", id="seconds"),
        pytest.param({"conversionValue": {"currencyCode": "BRL", "amount": 10}}, 400, "string",
                     id="amount-number"),
        pytest.param({"user": {"userIds": []}}, 400, "userIds", id="no-user-ids"),
        pytest.param({"user": {"userIds": [{"idType": "EMAIL", "idValue": "x"}]}}, 400, "idType",
                     id="unknown-id-type"),
        pytest.param({"user": {"userIds": [{"idType": "SHA256_EMAIL", "idValue": "a@b.c"}]}},
                     400, "SHA-256", id="unhashed-email"),
        pytest.param({"conversionHappenedAt": int(NOW - 91 * DAY) * 1000}, 422, "90 days",
                     id="too-old"),
        pytest.param({"conversion": "urn:lla:llaPartnerConversion:5"}, 422, "rule",
                     id="unknown-rule"),
    ],
)  # fmt: skip
async def test_fake_answers_each_element(
    http: httpx.AsyncClient,
    served: FakeServer[FakeLinkedIn],
    changes: dict[str, Any],
    status: int,
    problem: str,
) -> None:
    code, document = await post(http, served, {"elements": [element(1), element(2, **changes)]})
    assert code == 200
    first, second = document["elements"]
    assert first == {"status": 201}
    assert second["status"] == status
    assert problem in second["error"]["message"]
    assert "a@b.c" not in json.dumps(second)


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        pytest.param({"authorization": ""}, 401, "EMPTY_ACCESS_TOKEN", id="no-token"),
        pytest.param({"linkedin-version": ""}, 400, "VERSION_MISSING", id="no-version"),
        pytest.param({"linkedin-version": "202312"}, 426, "NONEXISTENT_VERSION", id="old-version"),
        pytest.param({"x-restli-protocol-version": "1.0.0"}, 400, "INVALID_PROTOCOL",
                     id="protocol"),
        pytest.param({"x-restli-method": ""}, 400, "INVALID_INPUT", id="not-batch"),
    ],
)  # fmt: skip
async def test_fake_checks_the_request_first(
    http: httpx.AsyncClient,
    served: FakeServer[FakeLinkedIn],
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    answered, document = await post(http, served, {"elements": [element(1)]}, **headers)
    assert (answered, document["status"], document["code"]) == (status, status, code)
    assert isinstance(document["serviceErrorCode"], int)


async def test_fake_refuses_bodies_it_cannot_read(
    http: httpx.AsyncClient, served: FakeServer[FakeLinkedIn]
) -> None:
    assert (await post(http, served, {"elements": []}))[0] == 400
    assert (await post(http, served, [element(1)]))[0] == 400
    small = FakeLinkedIn(now=lambda: NOW, max_elements=2)
    async with FakeServer(small) as other:
        assert (await post(http, other, {"elements": [element(n) for n in range(3)]}))[0] == 400
