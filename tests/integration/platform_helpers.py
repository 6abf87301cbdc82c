"""What the tests of the JSON platforms (Reddit, LinkedIn) share: events in batches, the
kinds of their outcomes, a fake's URL allowed, and one delivery read back with its attempts."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

from tenaz.client import TenazClient
from tenaz.v1 import events_pb2

from jobs.base_url import BaseUrl
from jobs.platforms.base import Outcome, OutcomeKind, OutgoingEvent
from jobs.settings import Settings


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def batch_of(*payloads: dict[str, Any]) -> list[OutgoingEvent]:
    """Stored events as one batch, delivery ids from 100."""
    return [OutgoingEvent(delivery_id=100 + i, payload=p) for i, p in enumerate(payloads)]


def kinds(outcomes: Sequence[Outcome]) -> list[OutcomeKind]:
    return [outcome.kind for outcome in outcomes]


def allowing(settings: Settings, base_url: str) -> Settings:
    """`settings` with a fake platform's loopback URL allowed (the egress guard refuses it)."""
    allowed = (*settings.allowed_platform_urls, BaseUrl.parse(base_url))
    return dataclasses.replace(settings, allowed_platform_urls=allowed)


async def delivery(client: TenazClient, event_id: str) -> events_pb2.Delivery:
    """The one delivery of the event submitted with `event_id`, with its attempts."""
    page = await client.list_events(event_ids=[event_id])
    [found] = page.events
    [only] = (await client.get_event(found.id)).deliveries
    return only
