"""WebhookConnector against the fake receiver over real HTTP on loopback.

The receiver checks what the Standard Webhooks specification tells a receiver to check (the
three headers, the v1 HMAC-SHA256 signature over `{id}.{timestamp}.{body}`, the timestamp's
tolerance), so a request it takes is one any conforming receiver takes.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from jobs.base_url import BaseUrl
from jobs.clock import FakeClock
from jobs.egress import EgressPolicy, platform_client
from jobs.platforms.base import OutcomeKind
from jobs.platforms.fake_webhook import (
    Failure,
    FakeWebhookReceiver,
    FakeWebhookServer,
    FakeWebhookTransport,
)
from jobs.platforms.standard_webhooks import decode_secret, verify
from jobs.platforms.webhook import WebhookConnector, message_id
from tests.integration.platform_helpers import (
    EXTERNAL,
    REJECTED,
    SUCCEEDED,
    ConnectorCase,
    batch_of,
    kinds,
)

NOW = 1_760_000_000.0
SECRET = "whsec_" + base64.b64encode(b"tenaz-tests-webhook-signing-key-1").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"tenaz-tests-webhook-signing-key-2").decode()
PATH = "/hooks/tenaz"


def stored(number: int, **changes: Any) -> dict[str, Any]:
    """A purchase as Tenaz stores it, with the Meta family's hashes."""
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": int(NOW) - 60,
        "event_id": f"order-{number}",
        "action_source": "website",
        "identifiers": {"client_user_agent": "Mozilla/5.0"},
        "hashed": {"meta": {"em": f"{number:064x}"}},
        "custom_data": {"value": 49.9, "currency": "BRL"},
    }
    event.update(changes)
    return event


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(dt.datetime.fromtimestamp(NOW, dt.UTC))


@pytest.fixture
def receiver(clock: FakeClock) -> FakeWebhookReceiver:
    return FakeWebhookReceiver(SECRET, now=lambda: clock.now().timestamp())


@pytest.fixture
async def served(receiver: FakeWebhookReceiver) -> AsyncIterator[FakeWebhookServer]:
    async with FakeWebhookServer(receiver) as server:
        yield server


def connector_for(
    http: httpx.AsyncClient, url: str, clock: FakeClock, **options: Any
) -> WebhookConnector:
    settings: dict[str, Any] = {"signing_secret": SECRET, "timeout": 5.0}
    return WebhookConnector(http, url=url, clock=clock, **(settings | options))


CASE = ConnectorCase(
    "webhook",
    fake=lambda: FakeWebhookReceiver(SECRET, now=lambda: NOW),
    failure=Failure,
    connect=lambda http, url, timeout: connector_for(
        http, url + PATH, FakeClock(dt.datetime.fromtimestamp(NOW, dt.UTC)), timeout=timeout
    ),
    event=stored,
    secrets=(SECRET,),
    max_batch_size=1,
)


@pytest.fixture
def connector(
    http: httpx.AsyncClient, served: FakeWebhookServer, clock: FakeClock
) -> WebhookConnector:
    return connector_for(http, served.base_url + PATH, clock)


# -- success and the shape of a request ---------------------------------------------------------


async def test_each_event_goes_signed_in_a_request_of_its_own(
    connector: WebhookConnector, receiver: FakeWebhookReceiver
) -> None:
    outcomes = await connector.send(batch_of(*(stored(n) for n in range(3))))

    assert kinds(outcomes) == [SUCCEEDED] * 3
    assert {o.http_status for o in outcomes} == {204}
    assert [r.event_count for r in receiver.requests] == [1, 1, 1]
    assert receiver.refused_signatures == 0
    assert [d.data["event_id"] for d in receiver.deliveries] == ["order-0", "order-1", "order-2"]
    assert [receiver.received_count("Purchase", f"order-{n}") for n in range(3)] == [1] * 3


async def test_request_shape_and_signature(
    connector: WebhookConnector, receiver: FakeWebhookReceiver
) -> None:
    [event] = batch_of(stored(1))
    await connector.send([event])

    [request] = receiver.requests
    assert (request.method, request.path, request.query) == ("POST", PATH, {})
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == message_id(event)
    assert headers["webhook-timestamp"] == str(int(NOW))
    assert headers["webhook-signature"].startswith("v1,")
    key = decode_secret(SECRET)
    assert verify(
        key, headers["webhook-id"], str(int(NOW)), request.body, headers["webhook-signature"]
    )
    # The secret itself never travels.
    assert SECRET.removeprefix("whsec_") not in repr(request)
    assert json.loads(request.body) == {
        "type": "conversion",
        "timestamp": "2025-10-09T08:52:20Z",
        "data": {
            "event_name": "Purchase",
            "event_id": "order-1",
            "event_time": int(NOW) - 60,
            "action_source": "website",
            "event_source_url": None,
            "identifiers": {"client_user_agent": "Mozilla/5.0"},
            "hashed": {"em": f"{1:064x}"},
            "custom_data": {"value": 49.9, "currency": "BRL"},
        },
    }


async def test_a_retry_keeps_the_webhook_id_with_a_new_timestamp(
    connector: WebhookConnector, receiver: FakeWebhookReceiver, clock: FakeClock
) -> None:
    receiver.fail_next(1, Failure.http_500())
    [first] = await connector.send(batch_of(stored(1)))
    clock.advance(dt.timedelta(minutes=30))
    [second] = await connector.send(batch_of(stored(1)))

    assert (first.kind, second.kind) == (EXTERNAL, SUCCEEDED)
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    stamps = [int(r.headers["webhook-timestamp"]) for r in receiver.requests]
    assert len(ids) == 1
    assert stamps == [int(NOW), int(NOW) + 1800]
    assert receiver.received_count("Purchase", "order-1") == 1


# -- per-event outcomes and failures ----------------------------------------------------------


async def test_a_refused_event_fails_alone(
    connector: WebhookConnector, receiver: FakeWebhookReceiver
) -> None:
    receiver.fail_next(1, Failure.bad_request())
    outcomes = await connector.send(batch_of(stored(1), stored(2), stored(3)))

    assert kinds(outcomes) == [REJECTED, SUCCEEDED, SUCCEEDED]
    refused = outcomes[0]
    assert (refused.http_status, refused.message) == (400, "HTTP 400: refused by the receiver")
    assert refused.response_excerpt == '{"error": "unknown product sku"}'
    assert receiver.request_count == 3


@pytest.mark.parametrize(
    ("failure", "status", "kind", "needs_action"),
    [
        pytest.param(Failure.http_500(), 500, EXTERNAL, False, id="500"),
        pytest.param(Failure.http_503(), 503, EXTERNAL, False, id="503"),
        pytest.param(Failure.throttled(), 429, EXTERNAL, False, id="429"),
        pytest.param(Failure.custom(408), 408, EXTERNAL, False, id="408"),
        pytest.param(Failure.moved(), 308, EXTERNAL, True, id="308-not-followed"),
        pytest.param(Failure.gone(), 410, EXTERNAL, True, id="410"),
        pytest.param(Failure.custom(403), 403, EXTERNAL, True, id="403"),
        pytest.param(Failure.custom(422), 422, REJECTED, False, id="422"),
    ],
)
async def test_receiver_failures(
    connector: WebhookConnector,
    receiver: FakeWebhookReceiver,
    failure: Failure,
    status: int,
    kind: OutcomeKind,
    needs_action: bool,
) -> None:
    receiver.fail_next(1, failure)
    [outcome] = await connector.send(batch_of(stored(1)))

    assert (outcome.kind, outcome.http_status, outcome.needs_action) == (kind, status, needs_action)
    assert outcome.message.startswith(f"HTTP {status}: ")
    # One request: a redirect is not followed.
    assert receiver.request_count == 1
    assert receiver.received_count("Purchase", "order-1") == 0


async def test_a_wrong_secret_is_refused_by_the_receiver_and_needs_action(
    http: httpx.AsyncClient,
    served: FakeWebhookServer,
    receiver: FakeWebhookReceiver,
    clock: FakeClock,
) -> None:
    connector = connector_for(http, served.base_url + PATH, clock, signing_secret=OTHER_SECRET)
    [outcome] = await connector.send(batch_of(stored(1)))

    assert (outcome.kind, outcome.http_status, outcome.needs_action) == (EXTERNAL, 401, True)
    assert outcome.response_excerpt == "no matching signature"
    assert receiver.refused_signatures == 1
    assert receiver.received_count("Purchase", "order-1") == 0


async def test_a_clock_far_from_the_receivers_is_refused(
    http: httpx.AsyncClient, clock: FakeClock
) -> None:
    # The receiver's clock is 6 minutes ahead of Tenaz's: past the 5 minutes it tolerates.
    ahead = FakeWebhookReceiver(SECRET, now=lambda: NOW + 360)
    async with FakeWebhookServer(ahead) as served:
        connector = connector_for(http, served.base_url + PATH, clock)
        [outcome] = await connector.send(batch_of(stored(1)))
    assert (outcome.kind, outcome.http_status, outcome.needs_action) == (EXTERNAL, 401, True)
    assert outcome.response_excerpt == "webhook-timestamp is too far from now"


async def test_an_echoed_secret_is_scrubbed(
    connector: WebhookConnector, receiver: FakeWebhookReceiver
) -> None:
    receiver.fail_next(1, Failure.custom(400, f"bad secret {SECRET}".encode()))
    [outcome] = await connector.send(batch_of(stored(1)))
    assert outcome.response_excerpt == "bad secret [secret]"
    assert SECRET not in repr(outcome)


# -- the way out ----------------------------------------------------------------------------------


async def test_an_internal_address_is_refused_unless_the_operator_allows_it(
    served: FakeWebhookServer, receiver: FakeWebhookReceiver, clock: FakeClock
) -> None:
    url = served.base_url + PATH
    async with platform_client(EgressPolicy(), timeout=2) as guarded:
        [outcome] = await connector_for(guarded, url, clock).send(batch_of(stored(1)))
    assert (outcome.kind, outcome.http_status, outcome.needs_action) == (EXTERNAL, None, True)
    assert "TENAZ_ALLOWED_PLATFORM_URLS" in outcome.message
    assert receiver.request_count == 0

    allowed = EgressPolicy([BaseUrl.parse(served.base_url)])
    async with platform_client(allowed, timeout=2) as guarded:
        [outcome] = await connector_for(guarded, url, clock).send(batch_of(stored(1)))
    assert outcome.kind is SUCCEEDED
    assert receiver.received_count("Purchase", "order-1") == 1


async def test_sandbox_transport_delivers_in_process(clock: FakeClock) -> None:
    receiver = FakeWebhookReceiver(SECRET, now=lambda: clock.now().timestamp())
    async with httpx.AsyncClient(transport=FakeWebhookTransport(receiver)) as client:
        connector = connector_for(client, "http://sandbox.invalid", clock)
        outcomes = await connector.send(batch_of(stored(1)))
    assert kinds(outcomes) == [SUCCEEDED]
    assert receiver.received_count("Purchase", "order-1") == 1
    assert receiver.deliveries[0].path == "/"
