"""What the fakes of platforms with a JSON `{"data": [event, ...]}` body share: scripted
failures as JSON answers (or bytes, for the proxies and load balancers in front of them),
counting a request's events, and the small checks every such platform makes.

A platform's fake subclasses `DataPlatform` and its failures subclass `JsonFailure`, adding
one constructor per error the platform documents.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Self

from jobs.platforms.fake_http import Reply, ScriptedPlatform

SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class JsonFailure:
    """A scripted answer: the platform's JSON `document`, or raw `body` bytes.

    `hang` holds the request until the fake's `release()` (or the client gives up); a
    released request is then processed normally, as by a platform that was only slow.
    """

    status: int = 0
    document: Mapping[str, Any] | None = None
    body: bytes = b""
    content_type: str = "text/plain"
    hang: bool = False

    @classmethod
    def json(cls, status: int, document: Mapping[str, Any]) -> Self:
        return cls(status=status, document=document)

    @classmethod
    def http_500(cls) -> Self:
        """A bare 500 from the front end, without the platform's error body."""
        return cls(status=500, body=b"Internal Server Error")

    @classmethod
    def hanging(cls) -> Self:
        return cls(hang=True)

    @classmethod
    def custom(cls, status: int, body: bytes, *, content_type: str = "application/json") -> Self:
        return cls(status=status, body=body, content_type=content_type)

    def reply(self) -> Reply:
        if self.document is not None:
            return json_reply(self.status, self.document)
        return self.status, {"content-type": self.content_type}, self.body


def json_reply(status: int, document: Mapping[str, Any]) -> Reply:
    return (
        status,
        {"content-type": "application/json; charset=utf-8"},
        json.dumps(document).encode(),
    )


def json_object(body: bytes) -> dict[str, Any] | None:
    """The JSON object `body` holds, or None."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_decimal_text(value: object) -> bool:
    """A number written as text ("49.90"), as platforms that take amounts as strings want."""
    if not isinstance(value, str):
        return False
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def all_hashed(value: object) -> bool:
    """A SHA-256 hex digest, or a non-empty list of them."""
    values = value if isinstance(value, list) else [value]
    return bool(values) and all(isinstance(v, str) and SHA256_HEX.fullmatch(v) for v in values)


class DataPlatform(ScriptedPlatform[JsonFailure]):
    """A fake whose requests carry their events in `data`."""

    def count_events(self, body: bytes) -> int:
        document = json_object(body)
        data = document.get("data") if document is not None else None
        return len(data) if isinstance(data, list) else 0

    def failure_reply(self, failure: JsonFailure) -> Reply:
        return failure.reply()
