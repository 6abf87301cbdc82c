"""What the fakes of JSON platforms share beyond `fake_http`: scripted failures as the
platform's JSON answers (or bytes, for the proxies and load balancers in front of them),
counting a request's events in its JSON list, JSON answers, and the small checks every such
platform makes.

A platform's fake subclasses `JsonFake` (events in the body's list `events_key`; failures
given as the exact answers, `ScriptedReply`, or as `JsonFailure`s), or `AccountPlatform` for
the platforms with a token per account; its failures add one constructor per error the
platform documents to the bare ones every front end gives.
"""

from __future__ import annotations

import collections
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Generic, Self, TypeVar, Unpack

from jobs.platforms.fake_http import (
    PlatformOptions,
    Reply,
    Scripted,
    ScriptedPlatform,
    ScriptedReply,
)

SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class JsonFailure(ScriptedReply):
    """A scripted answer: the platform's JSON `document`, or raw `body` bytes (a
    `ScriptedReply`)."""

    document: Mapping[str, Any] | None = None

    @classmethod
    def json(cls, status: int, document: Mapping[str, Any]) -> Self:
        return cls(status=status, document=document)

    def reply(self) -> Reply:
        if self.document is not None:
            return json_reply(self.status, self.document)
        return super().reply()


def json_reply(
    status: int,
    document: Mapping[str, Any] | list[Any],
    *,
    content_type: str = "application/json; charset=utf-8",
) -> Reply:
    return status, {"content-type": content_type}, json.dumps(document).encode()


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


F = TypeVar("F", bound=Scripted)


class JsonFake(ScriptedPlatform[F], Generic[F]):
    """A fake whose requests carry their events in the JSON body's list `events_key`."""

    events_key: ClassVar[str] = "data"

    def count_events(self, body: bytes) -> int:
        document = json_object(body)
        events = document.get(self.events_key) if document is not None else None
        return len(events) if isinstance(events, list) else 0


# What a fake keeps of each request (or event) it took.
R = TypeVar("R")

UNAUTHORIZED: Final = 401
FORBIDDEN: Final = 403


class AccountPlatform(JsonFake[F], Generic[F, R]):
    """A fake with a token per account (a pixel, an ad account) and a bounded history of the
    requests, or events, it took (`accepted`)."""

    def __init__(
        self,
        *,
        access_tokens: Mapping[str, str] | None = None,
        **options: Unpack[PlatformOptions],
    ) -> None:
        """`access_tokens` maps account id -> its token (None: any non-empty token works);
        `options` are ScriptedPlatform's, whose `history_limit` also bounds `accepted`."""
        super().__init__(**options)
        self._access_tokens = dict(access_tokens) if access_tokens is not None else None
        self.accepted: collections.deque[R] = collections.deque(maxlen=self.history_limit)

    def knows(self, token: str) -> bool:
        """Whether `token` is one the platform issued, for any account."""
        tokens = self._access_tokens
        return bool(token) and (tokens is None or token in tokens.values())

    def token_refusal(self, account: str, token: str) -> int | None:
        """The HTTP status a platform answers `token` with for `account`: 401 for no token or
        an unknown one, 403 for a good token of another account; None when it may."""
        if not self.knows(token):
            return UNAUTHORIZED
        if self._access_tokens is not None and self._access_tokens.get(account) != token:
            return FORBIDDEN
        return None
