"""GoogleAdsConnector against the fake Google Ads over real HTTP on loopback, and the fake
against the platform notes.

The fake's expectations come from the notes and the v21 protos (Google Ads section), not from
the fake's code: an OAuth2 access token from the refresh token, the developer token, partial
failure with errors naming their conversion, at most 2,000 conversions, one click id, the
"yyyy-mm-dd hh:mm:ss+hh:mm" time, hashed user identifiers, duplicates by order id or click.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from jobs.clock import FakeClock
from jobs.pii import hashed_for, normalise_user_data
from jobs.platforms.fake_google_ads import (
    Failure,
    FakeGoogleAds,
    FakeGoogleAdsTransport,
    TokenFailure,
)
from jobs.platforms.fake_http import FakeServer
from jobs.platforms.google_ads import GoogleAdsConnector
from jobs.platforms.google_oauth import TokenCache
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

START = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
CUSTOMER = "1234567890"
MANAGER = "9999999999"
ACTIONS = {"Purchase": "555", "Lead": "556", "Signup": "999"}
CREDENTIALS = {
    "client_id": "test-client.apps.googleusercontent.com",
    "client_secret": "test-client-secret-7f3a",
    "refresh_token": "1//test-refresh-token-91bc",
}
DEVELOPER_TOKEN = "test-developer-token-55de"
SECRETS = (CREDENTIALS["client_secret"], CREDENTIALS["refresh_token"], DEVELOPER_TOKEN)


def stored(
    number: int,
    *,
    name: str = "Purchase",
    identifiers: dict[str, str] | None = None,
    user: dict[str, str] | None = None,
    custom: dict[str, Any] | None = None,
    age: dt.timedelta = dt.timedelta(minutes=5),
) -> dict[str, Any]:
    """An event as Tenaz stores it, hashed by the google family as submission does."""
    click = {"gclid": f"Cj0KCQiA-test-gclid-{number:04d}"} if identifiers is None else identifiers
    return {
        "event_name": name,
        "event_time": int((START - age).timestamp()),
        "event_id": f"evt-{number}",
        "action_source": "website",
        "identifiers": click,
        "hashed": {"google": hashed_for("google", normalise_user_data(user or {}))},
        "custom_data": {"value": 10.0 + number, "currency": "BRL", **(custom or {})},
    }


def uploads(platform: FakeGoogleAds) -> list[Any]:
    return [r for r in platform.requests if r.path.endswith(":uploadClickConversions")]


def token_requests(platform: FakeGoogleAds) -> list[Any]:
    return [r for r in platform.requests if r.path == "/token"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def google_ads(now: Callable[[], float]) -> FakeGoogleAds:
    """The fake Google Ads that knows this module's customer, manager and credentials."""
    return FakeGoogleAds(
        now=now,
        developer_token=DEVELOPER_TOKEN,
        customers={CUSTOMER: {"555", "556"}},
        managers={MANAGER: {CUSTOMER}},
        **CREDENTIALS,
    )


@pytest.fixture
def platform(clock: FakeClock) -> FakeGoogleAds:
    return google_ads(lambda: clock.now().timestamp())


@pytest.fixture
def tokens() -> TokenCache:
    return TokenCache()


def make(
    http: httpx.AsyncClient,
    url: str,
    clock: FakeClock,
    tokens: TokenCache | None = None,
    **changes: Any,
) -> GoogleAdsConnector:
    settings: dict[str, Any] = {
        "customer_id": "123-456-7890",
        "developer_token": DEVELOPER_TOKEN,
        "conversion_actions": ACTIONS,
        "base_url": url,
        "token_base_url": url,
        "timeout": 5.0,
        "clock": clock,
        "tokens": tokens,
        **CREDENTIALS,
    }
    settings.update(changes)
    return GoogleAdsConnector(http, **settings)


CASE = ConnectorCase(
    "google-ads",
    fake=lambda: google_ads(START.timestamp),
    failure=Failure,
    connect=lambda http, url, timeout: make(http, url, FakeClock(START), timeout=timeout),
    event=stored,
    secrets=SECRETS,
    max_batch_size=2000,
)


@pytest.fixture
def connector(
    http: httpx.AsyncClient, served: FakeServer[FakeGoogleAds], clock: FakeClock, tokens: TokenCache
) -> GoogleAdsConnector:
    return make(http, served.base_url, clock, tokens)


# -- success and the shape of a request --------------------------------------------------


async def test_a_batch_is_delivered_in_one_request_with_googles_shape(
    http: httpx.AsyncClient,
    served: FakeServer[FakeGoogleAds],
    clock: FakeClock,
    platform: FakeGoogleAds,
) -> None:
    connector = make(http, served.base_url, clock, login_customer_id="999-999-9999")
    user = {"email": "Maria.Silva@Gmail.com", "phone": "+55 11 98765-4321"}
    events = [stored(n, user=user if n == 0 else None) for n in range(3)]

    outcomes = await connector.send(batch_of(*events))

    assert kinds(outcomes) == [SUCCEEDED] * 3
    assert [o.http_status for o in outcomes] == [200] * 3
    [token_request] = token_requests(platform)
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    [upload] = uploads(platform)
    assert (upload.method, upload.path, upload.query) == (
        "POST",
        f"/v21/customers/{CUSTOMER}:uploadClickConversions",
        {},
    )
    assert upload.headers["authorization"] == "Bearer ya29.fake-access-token-1"
    assert upload.headers["developer-token"] == DEVELOPER_TOKEN
    assert upload.headers["login-customer-id"] == MANAGER
    body = json.loads(upload.body)
    assert body["partialFailure"] is True
    assert body["conversions"][0] == {
        "gclid": "Cj0KCQiA-test-gclid-0000",
        "conversionAction": f"customers/{CUSTOMER}/conversionActions/555",
        "conversionDateTime": "2026-03-01 11:55:00+00:00",
        "conversionValue": 10.0,
        "currencyCode": "BRL",
        "orderId": "evt-0",
        "userIdentifiers": [
            {"hashedEmail": sha256("mariasilva@gmail.com")},
            {"hashedPhoneNumber": sha256("+5511987654321")},
        ],
    }
    assert [platform.received_count("555", f"evt-{n}") for n in range(3)] == [1, 1, 1]
    assert [a.login_customer_id for a in platform.accepted] == [MANAGER] * 3


async def test_the_token_is_kept_until_shortly_before_it_expires(
    connector: GoogleAdsConnector, platform: FakeGoogleAds, clock: FakeClock
) -> None:
    for n in range(3):
        assert kinds(await connector.send(batch_of(stored(n)))) == [SUCCEEDED]
    assert platform.tokens_issued == 1
    # Google's token lives 3599 s; Tenaz stops using it 5 minutes before.
    clock.advance(dt.timedelta(seconds=3599 - 300 - 1))
    await connector.send(batch_of(stored(3)))
    assert platform.tokens_issued == 1
    clock.advance(dt.timedelta(seconds=2))
    await connector.send(batch_of(stored(4)))
    assert platform.tokens_issued == 2
    assert uploads(platform)[-1].headers["authorization"] == "Bearer ya29.fake-access-token-2"


async def test_connectors_of_one_destination_share_its_token(
    http: httpx.AsyncClient,
    served: FakeServer[FakeGoogleAds],
    clock: FakeClock,
    platform: FakeGoogleAds,
    tokens: TokenCache,
) -> None:
    # Each attempt builds its connector; the factory keeps the destination's token cache.
    # Concurrent attempts wait for one refresh instead of each making their own.
    sent = await asyncio.gather(
        *(make(http, served.base_url, clock, tokens).send(batch_of(stored(n))) for n in range(4))
    )
    assert all(kinds(outcomes) == [SUCCEEDED] for outcomes in sent)
    assert platform.tokens_issued == 1


async def test_a_refused_access_token_is_refreshed_once(
    connector: GoogleAdsConnector, platform: FakeGoogleAds
) -> None:
    await connector.send(batch_of(stored(1)))
    platform.revoke_access_tokens()

    outcomes = await connector.send(batch_of(stored(2)))

    assert kinds(outcomes) == [SUCCEEDED]
    assert platform.tokens_issued == 2
    paths = [r.path.rsplit(":", 1)[-1] for r in platform.requests]
    upload = "uploadClickConversions"
    assert paths == ["/token", upload, upload, "/token", upload]
    assert [r.headers.get("authorization") for r in uploads(platform)][1:] == [
        "Bearer ya29.fake-access-token-1",
        "Bearer ya29.fake-access-token-2",
    ]


async def test_a_second_401_needs_action(
    connector: GoogleAdsConnector, platform: FakeGoogleAds
) -> None:
    platform.fail_next(2, Failure.token_expired())
    [outcome] = await connector.send(batch_of(stored(1)))
    assert (outcome.kind, outcome.needs_action, outcome.http_status) == (EXTERNAL, True, 401)
    assert outcome.message.startswith("OAUTH_TOKEN_EXPIRED: ")
    assert len(uploads(platform)) == 2
    assert platform.tokens_issued == 2


# -- the token endpoint's refusals --------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "status", "needs_action", "text"),
    [
        pytest.param(TokenFailure.invalid_grant(), 400, True, "invalid_grant", id="invalid-grant"),
        pytest.param(
            TokenFailure.invalid_client(), 401, True, "invalid_client", id="invalid-client"
        ),
        pytest.param(TokenFailure.unavailable(), 503, False, "HTTP 503", id="unavailable"),
        pytest.param(TokenFailure.rate_limited(), 429, False, "rate_limit", id="rate-limited"),
    ],
)
async def test_token_endpoint_failures(
    connector: GoogleAdsConnector,
    platform: FakeGoogleAds,
    failure: TokenFailure,
    status: int,
    needs_action: bool,
    text: str,
) -> None:
    platform.fail_token_next(1, failure)
    outcomes = await connector.send(batch_of(stored(1), stored(2)))
    assert kinds(outcomes) == [EXTERNAL, EXTERNAL]
    assert {(o.http_status, o.needs_action) for o in outcomes} == {(status, needs_action)}
    assert text in outcomes[0].message
    assert uploads(platform) == []
    assert_no_secret(outcomes, *SECRETS)
    # The next attempt fetches a token again and goes through.
    assert kinds(await connector.send(batch_of(stored(1)))) == [SUCCEEDED]


async def test_credentials_google_does_not_know_need_action(
    http: httpx.AsyncClient,
    served: FakeServer[FakeGoogleAds],
    clock: FakeClock,
    platform: FakeGoogleAds,
) -> None:
    for changes in ({"refresh_token": "1//revoked"}, {"client_secret": "wrong-secret"}):
        [outcome] = await make(http, served.base_url, clock, **changes).send(batch_of(stored(1)))
        assert (outcome.kind, outcome.needs_action) == (EXTERNAL, True)
        assert "Google refused the OAuth credentials" in outcome.message
    wrong_developer_token = make(http, served.base_url, clock, developer_token="not-the-token")
    [outcome] = await wrong_developer_token.send(batch_of(stored(1)))
    assert (outcome.kind, outcome.needs_action, outcome.http_status) == (EXTERNAL, True, 401)
    assert "DEVELOPER_TOKEN_INVALID" in outcome.message
    assert "not-the-token" not in repr(outcome)
    assert platform.total_events_received == 0


# -- whole-request failures ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "status", "needs_action", "text"),
    [
        pytest.param(Failure.quota_exhausted(), 429, False, "RESOURCE_EXHAUSTED", id="quota"),
        pytest.param(Failure.internal_error(), 500, False, "INTERNAL_ERROR", id="internal"),
        pytest.param(Failure.transient_error(), 503, False, "TRANSIENT_ERROR", id="transient"),
        pytest.param(Failure.deadline_exceeded(), 504, False, "DEADLINE_EXCEEDED", id="deadline"),
        pytest.param(Failure.http_500(), 500, False, "HTTP 500", id="bare-500"),
        pytest.param(Failure.permission_denied(), 403, True, "USER_PERMISSION_DENIED", id="perm"),
        pytest.param(
            Failure.developer_token_not_approved(),
            403,
            True,
            "DEVELOPER_TOKEN_NOT_APPROVED",
            id="dev-token-not-approved",
        ),
        pytest.param(
            Failure.invalid_login_customer_id(),
            400,
            True,
            "INVALID_LOGIN_CUSTOMER_ID",
            id="login-customer-id",
        ),
        pytest.param(
            Failure.custom(404, b"<html>Not Found</html>", content_type="text/html"),
            404,
            True,
            "check the destination's base URL",
            id="not-google",
        ),
    ],
)
async def test_whole_request_failures_are_external_for_every_conversion(
    connector: GoogleAdsConnector,
    platform: FakeGoogleAds,
    failure: Failure,
    status: int,
    needs_action: bool,
    text: str,
) -> None:
    platform.fail_next(1, failure)
    # A bad conversion in the batch changes nothing: Google never looked at it.
    outcomes = await connector.send(batch_of(stored(1), stored(2, identifiers={"gclid": "bad!"})))
    assert kinds(outcomes) == [EXTERNAL, EXTERNAL]
    assert {(o.http_status, o.needs_action) for o in outcomes} == {(status, needs_action)}
    assert text in outcomes[0].message
    assert outcomes[0].platform_code is None
    assert len(uploads(platform)) == 1
    assert platform.total_events_received == 0
    assert_no_secret(outcomes, *SECRETS, "ya29.fake-access-token-1")


# -- per-conversion outcomes ---------------------------------------------------------------


async def test_each_conversion_gets_its_own_outcome_from_one_request(
    connector: GoogleAdsConnector, platform: FakeGoogleAds
) -> None:
    await connector.send(batch_of(stored(4)))  # taken earlier: a timeout made us send it again
    platform.refuse("Cj0KCQiA-test-gclid-0001", "TOO_RECENT_EVENT")
    platform.refuse("Cj0KCQiA-test-gclid-0002", "EVENT_NOT_FOUND")
    platform.refuse("Cj0KCQiA-test-gclid-0003", "CLICK_NOT_FOUND")
    events = [
        stored(0, identifiers={"gclid": "not a gclid!"}),
        stored(1),
        stored(2),
        stored(3),
        stored(4),
        stored(5),
    ]

    outcomes = await connector.send(batch_of(*events))

    assert kinds(outcomes) == [REJECTED, EXTERNAL, REJECTED, SUCCEEDED, SUCCEEDED, SUCCEEDED]
    assert len(uploads(platform)) == 2
    assert outcomes[0].message.startswith("UNPARSEABLE_GCLID: ")
    assert outcomes[1].message.startswith("TOO_RECENT_EVENT: ")
    assert outcomes[2].message.startswith("EVENT_NOT_FOUND: ")
    assert outcomes[3].message.startswith("CLICK_NOT_FOUND: ")
    assert outcomes[4].message.startswith("ORDER_ID_ALREADY_IN_USE: ")
    assert outcomes[5].message == ""
    assert all(o.http_status == 200 for o in outcomes)
    assert '"partialFailureError"' in outcomes[0].response_excerpt
    assert platform.received_count("555", "evt-4") == 1
    assert platform.received_count("555", "evt-5") == 1


async def test_a_retry_after_a_timeout_is_counted_once(
    connector: GoogleAdsConnector, platform: FakeGoogleAds
) -> None:
    events = batch_of(stored(1), stored(2, identifiers={}, user={"email": "lead@example.com"}))
    assert kinds(await connector.send(events)) == [SUCCEEDED, SUCCEEDED]
    again = await connector.send(events)
    assert kinds(again) == [SUCCEEDED, SUCCEEDED]
    assert all("ORDER_ID_ALREADY_IN_USE" in o.message for o in again)
    assert platform.total_events_received == 2


async def test_enhanced_conversions_for_leads(
    connector: GoogleAdsConnector, platform: FakeGoogleAds
) -> None:
    lead = stored(1, name="Lead", identifiers={}, user={"email": "Lead@Example.com"})
    assert kinds(await connector.send(batch_of(lead))) == [SUCCEEDED]
    [accepted] = platform.accepted
    assert accepted.conversion["userIdentifiers"] == [{"hashedEmail": sha256("lead@example.com")}]
    assert accepted.action_id == "556"

    platform.enhanced_conversions_for_leads = False
    [outcome] = await connector.send(
        batch_of(stored(2, name="Lead", identifiers={}, user={"phone": "+1 800 555 0100"}))
    )
    assert outcome.kind is REJECTED
    assert "CUSTOMER_NOT_ENABLED_ENHANCED_CONVERSIONS_FOR_LEADS" in outcome.message


async def test_events_without_a_conversion_action(
    connector: GoogleAdsConnector, platform: FakeGoogleAds
) -> None:
    outcomes = await connector.send(
        batch_of(stored(1, name="Contact"), stored(2, name="Signup"), stored(3))
    )
    assert kinds(outcomes) == [REJECTED, REJECTED, SUCCEEDED]
    # Tenaz's own check: no request carries it.
    assert "no conversion action for 'Contact'" in outcomes[0].message
    assert outcomes[0].http_status is None
    # Google's: an action id the account does not have.
    assert outcomes[1].message.startswith("NO_CONVERSION_ACTION_FOUND: ")
    assert platform.count_events(uploads(platform)[0].body) == 2


async def test_one_access_token_serves_every_request_of_a_batch(
    connector: GoogleAdsConnector, platform: FakeGoogleAds
) -> None:
    outcomes = await connector.send(batch_of(*(stored(n) for n in range(2001))))
    assert kinds(outcomes) == [SUCCEEDED] * 2001
    assert [r.event_count for r in uploads(platform)] == [2000, 1]
    assert platform.tokens_issued == 1


async def test_a_request_too_large_for_a_proxy_is_sent_in_halves(
    connector: GoogleAdsConnector, platform: FakeGoogleAds
) -> None:
    platform.fail_next(
        1, Failure.custom(413, b"Request Entity Too Large", content_type="text/plain")
    )
    outcomes = await connector.send(batch_of(*(stored(n) for n in range(4))))
    assert kinds(outcomes) == [SUCCEEDED] * 4
    assert [r.event_count for r in uploads(platform)] == [4, 2, 2]


# -- the network ----------------------------------------------------------------------------


async def test_secrets_echoed_back_are_scrubbed(
    connector: GoogleAdsConnector, platform: FakeGoogleAds
) -> None:
    echo = " ".join((*SECRETS, "ya29.fake-access-token-1")).encode()
    platform.fail_next(1, Failure.custom(502, b"upstream said: " + echo, content_type="text/plain"))
    [outcome] = await connector.send(batch_of(stored(1)))
    assert outcome.response_excerpt.startswith("upstream said: [secret]")
    # The access token Tenaz fetched is a secret too, not only those it was given.
    assert_no_secret([outcome], *SECRETS, "ya29.fake-access-token-1")

    platform.revoke_access_tokens()
    platform.fail_token_next(
        1, TokenFailure(400, b'{"error": "invalid_grant", "error_description": "' + echo + b'"}')
    )
    [outcome] = await connector.send(batch_of(stored(2)))
    assert outcome.needs_action
    assert_no_secret([outcome], *SECRETS, "ya29.fake-access-token-1")


async def test_sandbox_transport_delivers_in_process(clock: FakeClock) -> None:
    platform = FakeGoogleAds(now=lambda: clock.now().timestamp())
    async with httpx.AsyncClient(transport=FakeGoogleAdsTransport(platform)) as client:
        connector = GoogleAdsConnector(
            client,
            customer_id=CUSTOMER,
            developer_token=platform.developer_token,
            client_id=platform.client_id,
            client_secret=platform.client_secret,
            refresh_token=platform.refresh_token,
            conversion_actions=ACTIONS,
            base_url="http://sandbox.invalid",
            token_base_url="http://sandbox.invalid",
            clock=clock,
        )
        outcomes = await connector.send(batch_of(stored(1), stored(2, identifiers={"gclid": "?"})))
    assert kinds(outcomes) == [SUCCEEDED, REJECTED]
    assert platform.received_count("555", "evt-1") == 1


# -- the fake follows the platform notes ---------------------------------------------------


async def token(
    http: httpx.AsyncClient, served: FakeServer[FakeGoogleAds], **form: str
) -> httpx.Response:
    fields = {"grant_type": "refresh_token", **CREDENTIALS, **form}
    return await http.post(f"{served.base_url}/token", data=fields)


async def test_fake_token_endpoint(
    http: httpx.AsyncClient, served: FakeServer[FakeGoogleAds]
) -> None:
    response = await token(http, served)
    assert response.status_code == 200
    document = response.json()
    assert (document["token_type"], document["expires_in"]) == ("Bearer", 3599)
    for form, status, error in (
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"client_id": "someone-else"}, 401, "invalid_client"),
        ({"refresh_token": "1//old"}, 400, "invalid_grant"),
    ):
        response = await token(http, served, **form)
        assert (response.status_code, response.json()["error"]) == (status, error)


async def upload(
    http: httpx.AsyncClient,
    served: FakeServer[FakeGoogleAds],
    body: Any,
    *,
    customer: str = CUSTOMER,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    access = (await token(http, served)).json()["access_token"]
    sent = {
        "authorization": f"Bearer {access}",
        "developer-token": DEVELOPER_TOKEN,
        **(headers or {}),
    }
    response = await http.post(
        f"{served.base_url}/v21/customers/{customer}:uploadClickConversions",
        json=body,
        headers=sent,
    )
    return response.status_code, response.json()


def conversion(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "gclid": "Cj0KCQiA-fake-gclid-1",
        "conversionAction": f"customers/{CUSTOMER}/conversionActions/555",
        "conversionDateTime": "2026-03-01 08:55:00-03:00",
        "conversionValue": 10.5,
        "currencyCode": "USD",
        "orderId": "order-1",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def request_error(document: dict[str, Any]) -> tuple[str, str | None]:
    error = document["error"]
    details = error.get("details") or [{"errors": [{"errorCode": {"": None}}]}]
    [code] = details[0]["errors"][0]["errorCode"].values()
    return error["status"], code


@pytest.mark.parametrize(
    ("body", "headers", "customer", "status", "expected"),
    [
        pytest.param(
            {"conversions": [conversion()], "partialFailure": True},
            {"authorization": "Bearer nope"},
            CUSTOMER,
            401,
            ("UNAUTHENTICATED", "OAUTH_TOKEN_INVALID"),
            id="unknown-access-token",
        ),
        pytest.param(
            {"conversions": [conversion()], "partialFailure": True},
            {"developer-token": "other"},
            CUSTOMER,
            401,
            ("UNAUTHENTICATED", "DEVELOPER_TOKEN_INVALID"),
            id="developer-token",
        ),
        pytest.param(
            {"conversions": [conversion()], "partialFailure": True},
            {},
            "1111111111",
            403,
            ("PERMISSION_DENIED", "USER_PERMISSION_DENIED"),
            id="unknown-customer",
        ),
        pytest.param(
            {"conversions": [conversion()], "partialFailure": True},
            {"login-customer-id": "8888888888"},
            CUSTOMER,
            403,
            ("PERMISSION_DENIED", "USER_PERMISSION_DENIED"),
            id="not-the-manager",
        ),
        pytest.param(
            {"conversions": [conversion()], "partialFailure": True},
            {"login-customer-id": "999-999"},
            CUSTOMER,
            400,
            ("INVALID_ARGUMENT", "INVALID_LOGIN_CUSTOMER_ID"),
            id="login-customer-id-not-digits",
        ),
        pytest.param(
            {"conversions": [conversion()]},
            {},
            CUSTOMER,
            400,
            ("INVALID_ARGUMENT", "REQUIRED"),
            id="no-partial-failure",
        ),
        pytest.param(
            {"conversions": [], "partialFailure": True},
            {},
            CUSTOMER,
            400,
            ("INVALID_ARGUMENT", "REQUIRED"),
            id="no-conversions",
        ),
        pytest.param(
            {
                "conversions": [conversion(orderId=str(n)) for n in range(2001)],
                "partialFailure": True,
            },
            {},
            CUSTOMER,
            400,
            ("INVALID_ARGUMENT", "TOO_MANY_CONVERSIONS_IN_REQUEST"),
            id="over-2000",
        ),
    ],
)
async def test_fake_refuses_whole_requests_as_google_does(
    http: httpx.AsyncClient,
    served: FakeServer[FakeGoogleAds],
    platform: FakeGoogleAds,
    body: Any,
    headers: dict[str, str],
    customer: str,
    status: int,
    expected: tuple[str, str],
) -> None:
    got_status, document = await upload(http, served, body, customer=customer, headers=headers)
    assert (got_status, request_error(document)) == (status, expected)
    assert platform.total_events_received == 0


async def test_fake_expires_access_tokens_by_its_clock(
    http: httpx.AsyncClient, served: FakeServer[FakeGoogleAds], clock: FakeClock
) -> None:
    access = (await token(http, served)).json()["access_token"]
    clock.advance(dt.timedelta(seconds=3600))
    response = await http.post(
        f"{served.base_url}/v21/customers/{CUSTOMER}:uploadClickConversions",
        json={"conversions": [conversion()], "partialFailure": True},
        headers={"authorization": f"Bearer {access}", "developer-token": DEVELOPER_TOKEN},
    )
    assert (response.status_code, request_error(response.json())[1]) == (401, "OAUTH_TOKEN_EXPIRED")


HASH = sha256("someone@example.com")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        pytest.param({"conversionAction": None}, "REQUIRED", id="no-action"),
        pytest.param(
            {"conversionAction": "conversionActions/555"},
            "RESOURCE_NAME_MALFORMED",
            id="action-name",
        ),
        pytest.param(
            {"conversionAction": f"customers/{CUSTOMER}/conversionActions/1"},
            "NO_CONVERSION_ACTION_FOUND",
            id="unknown-action",
        ),
        pytest.param(
            {"gclid": None, "gbraid": "gbraid-1234567", "wbraid": "wbraid-1234567"},
            "GBRAID_WBRAID_BOTH_SET",
            id="both-braids",
        ),
        pytest.param({"gbraid": "gbraid-1234567"}, "VALUE_MUST_BE_UNSET", id="gclid-and-braid"),
        pytest.param({"gclid": "short"}, "UNPARSEABLE_GCLID", id="bad-gclid"),
        pytest.param({"gclid": None, "wbraid": "w b"}, "UNPARSEABLE_WBRAID", id="bad-wbraid"),
        pytest.param({"gclid": None}, "REQUIRED", id="nothing-to-attribute"),
        pytest.param(
            {"conversionDateTime": "2026-03-01T08:55:00Z"},
            "INVALID_FIELD_VALUES_IN_DATE_TIME",
            id="iso-time",
        ),
        pytest.param(
            {"conversionDateTime": "2026-03-01 08:55:00"},
            "INVALID_FIELD_VALUES_IN_DATE_TIME",
            id="no-zone",
        ),
        pytest.param(
            {"conversionDateTime": "2025-11-01 08:55:00+00:00"},
            "EXPIRED_EVENT",
            id="older-than-90-days",
        ),
        pytest.param({"currencyCode": "REAIS"}, "UNSUPPORTED", id="currency"),
        pytest.param({"conversionValue": "ten"}, "INVALID_VALUE", id="value-text"),
        pytest.param(
            {"userIdentifiers": [{"hashedEmail": HASH}] * 6}, "TOO_MANY", id="six-identifiers"
        ),
        pytest.param(
            {"userIdentifiers": [{"hashedEmail": "someone@example.com"}]},
            "INVALID_USER_IDENTIFIER",
            id="unhashed",
        ),
        pytest.param(
            {"userIdentifiers": [{"hashedEmail": HASH.upper()}]},
            "INVALID_USER_IDENTIFIER",
            id="uppercase-hex",
        ),
        pytest.param(
            {"userIdentifiers": [{"hashedEmail": HASH, "hashedPhoneNumber": HASH}]},
            "INVALID_USER_IDENTIFIER",
            id="two-in-one",
        ),
        pytest.param(
            {"userIdentifiers": [{"addressInfo": {"hashedFirstName": HASH}}]},
            "UNSUPPORTED_USER_IDENTIFIER",
            id="address",
        ),
    ],
)
async def test_fake_refuses_one_conversion_and_takes_its_neighbour(
    http: httpx.AsyncClient,
    served: FakeServer[FakeGoogleAds],
    platform: FakeGoogleAds,
    change: dict[str, Any],
    code: str,
) -> None:
    good = conversion(gclid="Cj0KCQiA-fake-gclid-2", orderId="order-2")
    status, document = await upload(
        http, served, {"conversions": [good, conversion(**change)], "partialFailure": True}
    )
    assert status == 200
    assert document["results"][1] == {}
    assert document["results"][0]["gclid"] == "Cj0KCQiA-fake-gclid-2"
    [detail] = document["partialFailureError"]["details"]
    [error] = detail["errors"]
    assert list(error["errorCode"].values()) == [code]
    assert error["location"]["fieldPathElements"][0] == {"fieldName": "conversions", "index": 1}
    assert "someone@example.com" not in json.dumps(document)
    assert platform.total_events_received == 1


@pytest.mark.parametrize(
    ("second", "code"),
    [
        pytest.param(conversion(gclid="Cj0KCQiA-fake-gclid-2"), "DUPLICATE_ORDER_ID", id="order"),
        pytest.param(
            conversion(orderId="order-2"), "DUPLICATE_CLICK_CONVERSION_IN_REQUEST", id="click"
        ),
    ],
)
async def test_fake_refuses_duplicates_in_one_request(
    http: httpx.AsyncClient, served: FakeServer[FakeGoogleAds], second: dict[str, Any], code: str
) -> None:
    status, document = await upload(
        http, served, {"conversions": [conversion(), second], "partialFailure": True}
    )
    [error] = document["partialFailureError"]["details"][0]["errors"]
    assert (status, list(error["errorCode"].values())) == (200, [code])


async def test_fake_answers_a_conversion_taken_before_as_existing(
    http: httpx.AsyncClient, served: FakeServer[FakeGoogleAds]
) -> None:
    body = {"conversions": [conversion(orderId=None)], "partialFailure": True}
    assert "partialFailureError" not in (await upload(http, served, body))[1]
    _, document = await upload(http, served, body)
    [error] = document["partialFailureError"]["details"][0]["errors"]
    assert error["errorCode"] == {"conversionUploadError": "CLICK_CONVERSION_ALREADY_EXISTS"}


async def test_fake_routes_like_google(
    http: httpx.AsyncClient, served: FakeServer[FakeGoogleAds]
) -> None:
    response = await http.get(f"{served.base_url}/v21/customers/{CUSTOMER}:uploadClickConversions")
    assert response.status_code == 405
    response = await http.post(
        f"{served.base_url}/v21/customers/{CUSTOMER}:uploadCallConversions", json={}
    )
    assert response.status_code == 404


def test_fake_failures_speak_googles_format() -> None:
    platform = FakeGoogleAds()
    status, headers, body = platform.failure_reply(Failure.quota_exhausted())
    error = json.loads(body)["error"]
    assert (status, error["code"], error["status"]) == (429, 429, "RESOURCE_EXHAUSTED")
    [detail] = error["details"]
    assert detail["@type"].endswith("errors.GoogleAdsFailure")
    assert detail["errors"][0]["errorCode"] == {"quotaError": "RESOURCE_EXHAUSTED"}
    assert headers["content-type"].startswith("application/json")
    assert dataclasses.replace(Failure.hanging()).hang
