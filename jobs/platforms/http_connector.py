"""What every HTTP connector shares: sending one request with a total deadline through the
egress policy, naming network failures, and keeping secrets out of what is recorded.

A platform module turns a batch into requests and an answer into per-event outcomes; it sends
with `HttpSender.post` and asks `transport_problem` what an httpx exception means. Nothing it
returns may hold a secret: `HttpSender.scrub` replaces any secret the platform echoes back.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from typing import Any, Final

import httpx
import orjson

from jobs.egress import EgressRefused, Reply, send_bounded
from jobs.json_values import all_finite
from jobs.platforms.base import Classification, OutcomeKind

EXCERPT_CHARS: Final = 2000
# Platform answers are small; a bigger body is not one, and is not worth parsing or keeping.
MAX_BODY_BYTES: Final = 1 << 20
MAX_MESSAGE_CHARS: Final = 1000

UNENCODABLE: Final = Classification(
    OutcomeKind.REJECTED,
    message="the event cannot be encoded as JSON (NaN, infinity or a non-text key)",
)


def encode_json(document: Any) -> bytes | None:
    """`document` as JSON, or None if JSON cannot carry it (the event is refused here, alone,
    instead of making the platform refuse the whole request)."""
    try:
        encoded = orjson.dumps(document)
    except (TypeError, orjson.JSONEncodeError):
        return None
    return encoded if all_finite(document) else None


def excerpt(body: bytes) -> str:
    """The start of an answer, to show operators (before scrubbing)."""
    # A UTF-8 character has at most 4 bytes, so this prefix holds EXCERPT_CHARS characters.
    return body[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:EXCERPT_CHARS]


def parse_json(body: bytes) -> Any:
    """The JSON document in `body`, or None when there is none (never raises)."""
    if not body or len(body) >= MAX_BODY_BYTES:  # cut at the cap: not a platform's answer
        return None
    try:
        return orjson.loads(body)
    except (orjson.JSONDecodeError, RecursionError):
        return None


def int_field(document: Mapping[str, Any], key: str) -> int | None:
    """`document[key]` if it is an integer (`"code": true` is garbage, not code 1), else None."""
    value = document.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def str_field(document: Mapping[str, Any], key: str) -> str:
    """`document[key]` stripped if it is text, else ""."""
    value = document.get(key)
    return value.strip() if isinstance(value, str) else ""


def transport_problem(exc: Exception, timeout: float) -> Classification:
    """Name a network failure without echoing exception text (it could carry request data)."""
    external = OutcomeKind.EXTERNAL_PROBLEM
    if isinstance(exc, httpx.TimeoutException):
        return Classification(external, message=f"timed out after {timeout:g} s")
    if isinstance(exc.__cause__, EgressRefused):
        return Classification(
            external,
            needs_action=True,
            action="egress",
            message="the base URL's host is an internal address that"
            " TENAZ_ALLOWED_PLATFORM_URLS does not allow",
        )
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return Classification(
            external,
            needs_action=True,
            action="configuration",
            message="the destination's base URL is not a valid URL",
        )
    if isinstance(exc, httpx.ConnectError):
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, ConnectionRefusedError):
                return Classification(external, message="connection refused")
            if isinstance(cause, socket.gaierror):
                return Classification(external, message="could not resolve the platform's host")
            cause = cause.__cause__ or cause.__context__
        return Classification(external, message="could not connect to the platform")
    if isinstance(exc, httpx.RemoteProtocolError):
        return Classification(external, message="the platform broke the HTTP exchange")
    return Classification(external, message=f"network error ({type(exc).__name__})")


# What `HttpSender.post` raises for a request that got no answer: `transport_problem` names it.
SendError = (httpx.HTTPError, httpx.InvalidURL)


class HttpSender:
    """One destination's way out: the shared client, the total deadline of a request, and
    the secrets that must never show up in what Tenaz records."""

    def __init__(
        self, client: httpx.AsyncClient, *, timeout: float, secrets: Sequence[str] = ()
    ) -> None:
        self.client = client
        self.timeout = timeout
        # Longest first, so that a secret holding another is replaced whole.
        self._secrets = sorted((s for s in secrets if s), key=len, reverse=True)

    async def post(
        self,
        url: str,
        content: bytes,
        headers: Mapping[str, str],
    ) -> Reply:
        """One POST, bounded in time as a whole; raises one of `SendError` without an answer."""
        return await send_bounded(
            self.client,
            "POST",
            url,
            content=content,
            headers=dict(headers),
            deadline=self.timeout,
            max_body=MAX_BODY_BYTES,
        )

    def scrub(self, text: str) -> str:
        """`text` without any of the destination's secrets."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "[secret]")
        return text

    def excerpt(self, body: bytes) -> str:
        return self.scrub(excerpt(body))
