"""The sandbox destination kind: the fake Meta, in process, plus a demo switch.

The sandbox behaves like Meta: it accepts valid events, rejects invalid data
with Meta's errors, and fails transiently at the destination's configured
rate. So that a newcomer (or a client library's test) can watch every status
on purpose, an event may also carry in its custom data:

- `sandbox_fail_attempts: N`: its first N attempts fail with Meta's transient
  "service unavailable" error, and the next one goes through;
- `sandbox_reject: true`: the sandbox refuses it as Meta refuses invalid data
  (code 100, the whole request), so it ends *Falha* while its neighbours in the
  batch go through.

A sandbox lives as long as the worker and any submit key can feed it, so what it
remembers is bounded: a few requests of history, and the last `REMEMBERED` events
for deduplication and scripted failures (the oldest forgotten first).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import httpx

from jobs.lru import LruDict
from jobs.platforms.fake_meta import FakeMeta, FakeMetaTransport

FAIL_ATTEMPTS_KEY = "sandbox_fail_attempts"
REJECT_KEY = "sandbox_reject"
HISTORY = 10  # requests kept to look at; nothing in Tenaz reads them
REMEMBERED = 10_000  # events counted (deliveries, scripted failures), oldest forgotten first
_INVALID = {
    "error": {
        "message": "Invalid parameter",
        "type": "OAuthException",
        "code": 100,
        "error_subcode": 2804002,
        "error_user_title": "Invalid parameter (sandbox_reject)",
        "error_user_msg": "The sandbox refuses events marked sandbox_reject, as Meta refuses"
        " invalid data.",
        "is_transient": False,
        "fbtrace_id": "sandbox",
    }
}
_UNAVAILABLE = {
    "error": {
        "message": "Service temporarily unavailable (sandbox_fail_attempts)",
        "type": "OAuthException",
        "code": 2,
        "is_transient": True,
        "fbtrace_id": "sandbox",
    }
}


def sandbox_platform(now: Callable[[], float], transient_failure_rate: float) -> FakeMeta:
    """The fake Meta behind one sandbox destination, with its memory bounded."""
    return FakeMeta(
        now=now,
        transient_failure_rate=transient_failure_rate,
        rng=random.Random(),
        history_limit=HISTORY,
        received_limit=REMEMBERED,
    )


class SandboxTransport(httpx.AsyncBaseTransport):
    def __init__(self, fake: FakeMeta) -> None:
        self.fake = fake
        self._platform = FakeMetaTransport(fake)
        self._failed: LruDict[tuple[str, str], int] = LruDict(REMEMBERED)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        events = self._events(await request.aread())
        if any(_custom(event).get(REJECT_KEY) is True for event in events):
            return httpx.Response(400, json=_INVALID, request=request)
        scripted = [
            key for key, wanted in self._scripted(events) if self._failed.get(key, 0) < wanted
        ]
        if not scripted:
            return await self._platform.handle_async_request(request)
        for key in scripted:
            self._failed[key] = self._failed.get(key, 0) + 1
        return httpx.Response(503, json=_UNAVAILABLE, request=request)

    @staticmethod
    def _events(body: bytes) -> list[dict[str, Any]]:
        try:
            events: Any = json.loads(body).get("data", [])
        except (ValueError, AttributeError):
            return []
        return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []

    @staticmethod
    def _scripted(events: list[dict[str, Any]]) -> list[tuple[tuple[str, str], int]]:
        found = []
        for event in events:
            wanted = _custom(event).get(FAIL_ATTEMPTS_KEY)
            if isinstance(wanted, int | float) and wanted > 0:
                key = (str(event.get("event_name")), str(event.get("event_id")))
                found.append((key, int(wanted)))
        return found


def _custom(event: dict[str, Any]) -> dict[str, Any]:
    custom = event.get("custom_data")
    return custom if isinstance(custom, dict) else {}
