"""The sandbox destination kind: the fake Meta, in process, plus a demo switch.

The sandbox behaves like Meta: it accepts valid events, rejects invalid data
with Meta's errors, and fails transiently at the destination's configured
rate. So that a newcomer (or a client library's test) can watch every status
on purpose, an event may also carry `sandbox_fail_attempts: N` in its custom
data: its first N attempts then fail with Meta's transient "service
unavailable" error, and the next one goes through.
"""

from __future__ import annotations

import collections
import json
from typing import Any

import httpx

from jobs.platforms.fake_meta import FakeMeta, FakeMetaTransport

FAIL_ATTEMPTS_KEY = "sandbox_fail_attempts"
_REMEMBERED = 100_000  # events whose scripted failures are counted, oldest forgotten first
_UNAVAILABLE = {
    "error": {
        "message": "Service temporarily unavailable (sandbox_fail_attempts)",
        "type": "OAuthException",
        "code": 2,
        "is_transient": True,
        "fbtrace_id": "sandbox",
    }
}


class SandboxTransport(httpx.AsyncBaseTransport):
    def __init__(self, fake: FakeMeta) -> None:
        self._platform = FakeMetaTransport(fake)
        self._failed: collections.OrderedDict[tuple[str, str], int] = collections.OrderedDict()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        scripted = [
            key
            for key, wanted in self._scripted(await request.aread())
            if self._failed.get(key, 0) < wanted
        ]
        if not scripted:
            return await self._platform.handle_async_request(request)
        for key in scripted:
            self._failed[key] = self._failed.get(key, 0) + 1
            self._failed.move_to_end(key)
        while len(self._failed) > _REMEMBERED:
            self._failed.popitem(last=False)
        return httpx.Response(503, json=_UNAVAILABLE, request=request)

    @staticmethod
    def _scripted(body: bytes) -> list[tuple[tuple[str, str], int]]:
        try:
            events: Any = json.loads(body).get("data", [])
        except (ValueError, AttributeError):
            return []
        found = []
        for event in events if isinstance(events, list) else []:
            custom = event.get("custom_data") if isinstance(event, dict) else None
            wanted = custom.get(FAIL_ATTEMPTS_KEY) if isinstance(custom, dict) else None
            if isinstance(wanted, int | float) and wanted > 0:
                key = (str(event.get("event_name")), str(event.get("event_id")))
                found.append((key, int(wanted)))
        return found
