"""What the fakes of JSON platforms share beyond `fake_http`: failures scripted as the exact
answers the platform gives (`ScriptedReply`), events counted in the request's JSON list, and
JSON answers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from jobs.platforms.fake_http import Reply, ScriptedPlatform, ScriptedReply


def json_reply(status: int, document: Mapping[str, Any] | list[Any]) -> Reply:
    return status, {"content-type": "application/json"}, json.dumps(document).encode()


class JsonFake(ScriptedPlatform[ScriptedReply]):
    """A fake whose requests carry their events in the JSON body's list `events_key`, and
    whose scripted failures are `ScriptedReply`s in the platform's own format."""

    events_key: ClassVar[str]
    # The platform's answer while it is down.
    outage: ClassVar[ScriptedReply]

    def count_events(self, body: bytes) -> int:
        try:
            events = json.loads(body).get(self.events_key)
        except (ValueError, AttributeError, RecursionError):
            return 0
        return len(events) if isinstance(events, list) else 0

    def failure_reply(self, failure: ScriptedReply) -> Reply:
        return failure.reply()

    def outage_reply(self) -> Reply:
        return self.outage.reply()
