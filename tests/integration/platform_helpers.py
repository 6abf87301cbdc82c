"""What the tests of every ad platform share: events in batches, the kinds of their outcomes,
secrets kept out of them, a fake's URL allowed, one delivery read back with its attempts, and
`ConnectorCase` and `DeliveryCase`, a platform as the tests every connector and every
destination must pass see it (test_platform_connectors.py, test_platform_deliveries.py)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import httpx
from tenaz.client import TenazClient
from tenaz.v1 import destinations_pb2, events_pb2

from jobs.base_url import BaseUrl
from jobs.clock import FakeClock
from jobs.platforms.base import Connector, Outcome, OutcomeKind, OutgoingEvent
from jobs.platforms.fake_http import ScriptedPlatform, ScriptedReply
from jobs.settings import Settings
from tests.support import free_port

SUCCEEDED = OutcomeKind.SUCCEEDED
EXTERNAL = OutcomeKind.EXTERNAL_PROBLEM
REJECTED = OutcomeKind.REJECTED

P = TypeVar("P", bound=ScriptedPlatform[Any])


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def batch_of(*payloads: dict[str, Any]) -> list[OutgoingEvent]:
    """Stored events as one batch, delivery ids from 100."""
    return [OutgoingEvent(delivery_id=100 + i, payload=p) for i, p in enumerate(payloads)]


def kinds(outcomes: Sequence[Outcome]) -> list[OutcomeKind]:
    return [outcome.kind for outcome in outcomes]


def assert_no_secret(outcomes: Sequence[Outcome], *secrets: str) -> None:
    """No outcome carries any of `secrets`, in any of its fields."""
    for outcome in outcomes:
        for secret in secrets:
            assert secret not in repr(outcome)


def refused_url() -> str:
    """A loopback URL nothing listens on (the port was free a moment ago)."""
    return f"http://127.0.0.1:{free_port()}"


def allowing(settings: Settings, base_url: str) -> Settings:
    """`settings` with a fake platform's loopback URL allowed (the egress guard refuses it)."""
    allowed = (*settings.allowed_platform_urls, BaseUrl.parse(base_url))
    return dataclasses.replace(settings, allowed_platform_urls=allowed)


async def delivery(client: TenazClient, event_id: str) -> events_pb2.Delivery:
    """The one delivery of the event submitted with `event_id`, with its attempts."""
    page = await client.list_events(event_ids=[event_id])
    [found] = page.events
    return await only_delivery(client, found.id)


async def only_delivery(client: TenazClient, stored_id: str) -> events_pb2.Delivery:
    """The one delivery of the stored event `stored_id` (Tenaz's id), with its attempts."""
    [only] = (await client.get_event(stored_id)).deliveries
    return only


@dataclasses.dataclass(frozen=True)
class ConnectorCase(Generic[P]):
    """One platform as the tests every connector must pass see it: a fake that knows the
    case's credentials, its scripted failures, a connector for them at a base URL, a valid
    stored event, and the secrets no outcome may show."""

    name: str
    fake: Callable[[], P]
    # The fake's failures (for their bare answers: `custom`, `hanging`).
    failure: type[ScriptedReply]
    # (client, base URL, timeout in seconds) -> a connector with the case's credentials.
    connect: Callable[[httpx.AsyncClient, str, float], Connector]
    # Event number -> a valid event as Tenaz stores it, its own for each number.
    event: Callable[[int], dict[str, Any]]
    secrets: tuple[str, ...]
    # The most events the platform takes in one request.
    max_batch_size: int


@dataclasses.dataclass(frozen=True)
class DeliveryCase(Generic[P]):
    """One platform as the tests every destination must pass see it: a fake on the test's
    clock that knows the case's credentials, its scripted failures, the destination (named
    `name`) that sends to it at a base URL, and an event it takes, submitted."""

    name: str
    # The test clock's now -> the fake.
    fake: Callable[[Callable[[], float]], P]
    failure: type[ScriptedReply]
    # Base URL -> the destination, created over gRPC as an operator would.
    destination: Callable[[str], destinations_pb2.Destination]
    # (client, clock) -> an event the platform takes, submitted and stored.
    submit: Callable[[TenazClient, FakeClock], Awaitable[events_pb2.StoredEvent]]
    secrets: tuple[str, ...]


def submitting(
    event: Callable[[FakeClock], events_pb2.Event],
) -> Callable[[TenazClient, FakeClock], Awaitable[events_pb2.StoredEvent]]:
    """A `DeliveryCase.submit` that submits the event `event(clock)` builds."""

    async def submit(client: TenazClient, clock: FakeClock) -> events_pb2.StoredEvent:
        return (await client.submit_event(event(clock))).event

    return submit
