"""A fake webhook receiver: what a careful consumer of Tenaz's webhooks does.

It takes a POST on any path and checks it as the Standard Webhooks specification tells a
receiver to: the three `webhook-*` headers present, the timestamp within 5 minutes of its
clock, a v1 signature made with its secret over `{id}.{timestamp}.{body}`. A request that
fails any of these gets 401 and counts for nothing. A signed one must carry the envelope of
docs/platforms/webhook.md (else 400); it is recorded (`deliveries`), counted by (event name,
event id), and answered 204. Every signed arrival counts, a repeated `webhook-id` too (a real
receiver would use it to drop the repeat), so that tests see any event Tenaz sent twice.

Tests script the ways a receiver fails (`Failure`): 500, 503, 429, 400, a redirect, a hang.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeGuard, Unpack

from jobs.platforms.fake_http import (
    FakeServer,
    FakeTransport,
    PlatformOptions,
    Reply,
    ScriptedPlatform,
    ScriptedReply,
)
from jobs.platforms.http_connector import parse_json
from jobs.platforms.standard_webhooks import TOLERANCE_SECONDS, decode_secret, verify
from jobs.platforms.webhook import ENVELOPE_TYPE

_ENVELOPE_KEYS: Final = frozenset({"type", "timestamp", "data"})
_DATA_KEYS: Final = frozenset(
    {
        *("event_name", "event_id", "event_time", "action_source", "event_source_url"),
        *("identifiers", "hashed", "custom_data"),
    }
)


@dataclass(frozen=True)
class Failure(ScriptedReply):
    """A scripted answer for `FakeWebhookReceiver.fail_next`: a receiver's bare answer, with
    the `headers` (Retry-After, Location) it may add."""

    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def http_503(cls) -> Failure:
        return cls(status=503, body=b"Service Unavailable", headers=(("retry-after", "30"),))

    @classmethod
    def throttled(cls) -> Failure:
        return cls(status=429, body=b"Too Many Requests", headers=(("retry-after", "60"),))

    @classmethod
    def bad_request(cls) -> Failure:
        return cls(status=400, body=b'{"error": "unknown product sku"}')

    @classmethod
    def moved(cls) -> Failure:
        return cls(status=308, headers=(("location", "https://hooks.example.com/new"),))

    @classmethod
    def gone(cls) -> Failure:
        return cls(status=410, body=b"Gone")

    @classmethod
    def custom(cls, status: int, body: bytes = b"", *, content_type: str = "text/plain") -> Failure:
        return cls(status=status, body=body, content_type=content_type)

    def reply(self) -> Reply:
        status, headers, body = super().reply()
        return status, {**headers, **dict(self.headers)}, body


@dataclass(frozen=True)
class Delivery:
    """A signed request the receiver took."""

    message_id: str
    timestamp: int
    path: str
    envelope: Mapping[str, Any]

    @property
    def data(self) -> Mapping[str, Any]:
        data = self.envelope["data"]
        assert isinstance(data, dict)
        return data


def _text(status: int, message: str) -> Reply:
    return status, {"content-type": "text/plain; charset=utf-8"}, message.encode()


class FakeWebhookReceiver(ScriptedPlatform[Failure]):
    """The receiver: its secret, what it took, and the failures a test scripted."""

    outage = Failure.http_503()

    def __init__(self, secret: str, **options: Unpack[PlatformOptions]) -> None:
        """`options` are ScriptedPlatform's, whose `history_limit` also bounds `deliveries`."""
        super().__init__(**options)
        self._key = decode_secret(secret)
        self.deliveries: collections.deque[Delivery] = collections.deque(maxlen=self.history_limit)
        self.refused_signatures = 0

    async def answer(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        if method.upper() != "POST":
            return _text(405, "webhooks are POSTed")
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        problem = self._unsigned(headers, body)
        if problem:
            self.refused_signatures += 1
            return _text(401, problem)
        document = parse_json(body)
        if not _is_envelope(document):
            return _text(400, "not a Tenaz conversion envelope")
        delivery = Delivery(
            headers["webhook-id"], int(headers["webhook-timestamp"]), path, document
        )
        self.deliveries.append(delivery)
        self.note_received([(str(delivery.data["event_name"]), str(delivery.data["event_id"]))])
        return 204, {}, b""

    def _unsigned(self, headers: Mapping[str, str], body: bytes) -> str:
        """Why the request is not signed with the receiver's secret ("" when it is)."""
        message_id = headers.get("webhook-id", "")
        timestamp = headers.get("webhook-timestamp", "")
        signature = headers.get("webhook-signature", "")
        if not (message_id and timestamp and signature):
            return "missing webhook-id, webhook-timestamp or webhook-signature"
        if not verify(self._key, message_id, timestamp, body, signature):
            return "no matching signature"
        if abs(self._now() - int(timestamp)) > TOLERANCE_SECONDS:
            return "webhook-timestamp is too far from now"
        return ""

    def count_events(self, body: bytes) -> int:
        return 1 if _is_envelope(parse_json(body)) else 0


def _is_envelope(document: object) -> TypeGuard[dict[str, Any]]:
    if not isinstance(document, dict) or set(document) != _ENVELOPE_KEYS:
        return False
    data = document["data"]
    return (
        document["type"] == ENVELOPE_TYPE
        and isinstance(document["timestamp"], str)
        and isinstance(data, dict)
        and set(data) == _DATA_KEYS
        and isinstance(data["event_name"], str)
        and isinstance(data["event_id"], str)
        and isinstance(data["event_time"], int)
    )


FakeWebhookServer = FakeServer[FakeWebhookReceiver]
FakeWebhookTransport = FakeTransport[FakeWebhookReceiver]
