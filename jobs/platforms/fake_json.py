"""What the fakes of JSON platforms share beyond `fake_http`: scripted failures as the
platform's JSON answers (or bytes, for the proxies and load balancers in front of them),
counting a request's events in its JSON list, JSON answers, and the small checks every such
platform makes.

A platform's fake subclasses `JsonFake` (events in the body's list `events_key`; failures
given as the exact answers, `ScriptedReply`, or as `JsonFailure`s), or `DataPlatform` for the
platforms whose body is `{"data": [event, ...]}` with a token per account; its failures add
one constructor per error the platform documents.
"""

from __future__ import annotations

import collections
import json
import math
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Generic, Protocol, Self, TypeVar

from jobs.platforms.fake_http import Reply, ScriptedPlatform, ScriptedReply

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


def json_reply(status: int, document: Mapping[str, Any] | list[Any]) -> Reply:
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


class _Answer(Protocol):
    """A scripted failure that is an answer of its own (or a hang)."""

    @property
    def hang(self) -> bool: ...

    def reply(self) -> Reply: ...


F = TypeVar("F", bound=_Answer)


class JsonFake(ScriptedPlatform[F], Generic[F]):
    """A fake whose requests carry their events in the JSON body's list `events_key`, and
    whose scripted failures are answers in the platform's own format."""

    events_key: ClassVar[str] = "data"
    # The platform's answer while it is down.
    outage: ClassVar[_Answer] = ScriptedReply.of(503, b"Service Unavailable")

    def count_events(self, body: bytes) -> int:
        document = json_object(body)
        events = document.get(self.events_key) if document is not None else None
        return len(events) if isinstance(events, list) else 0

    def failure_reply(self, failure: F) -> Reply:
        return failure.reply()

    def outage_reply(self) -> Reply:
        return self.outage.reply()


# What a fake keeps of each request it took.
R = TypeVar("R")

UNAUTHORIZED: Final = 401
FORBIDDEN: Final = 403


class DataPlatform(JsonFake[JsonFailure], Generic[R]):
    """A fake whose requests carry their events in `data`, with a token per account (a pixel,
    an ad account) and a bounded history of the requests it took (`accepted`)."""

    def __init__(
        self,
        *,
        now: Callable[[], float] = time.time,
        access_tokens: Mapping[str, str] | None = None,
        transient_failure_rate: float = 0.0,
        rng: random.Random | None = None,
        history_limit: int | None = 1000,
        received_limit: int | None = None,
    ) -> None:
        """`access_tokens` maps account id -> its token (None: any non-empty token works);
        `history_limit` bounds `requests` and `accepted`, `received_limit` what
        `received_count` remembers (see ScriptedPlatform)."""
        super().__init__(
            now=now,
            transient_failure_rate=transient_failure_rate,
            rng=rng,
            history_limit=history_limit,
            received_limit=received_limit,
        )
        self._access_tokens = dict(access_tokens) if access_tokens is not None else None
        self.accepted: collections.deque[R] = collections.deque(maxlen=history_limit)

    def token_refusal(self, account: str, token: str) -> int | None:
        """The HTTP status a platform answers `token` with for `account`: 401 for no token or
        an unknown one, 403 for a good token of another account; None when it may."""
        tokens = self._access_tokens
        if not token or (tokens is not None and token not in tokens.values()):
            return UNAUTHORIZED
        if tokens is not None and tokens.get(account) != token:
            return FORBIDDEN
        return None
