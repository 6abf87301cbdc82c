"""What every HTTP connector shares: sending one request with a total deadline through the
egress policy, naming network failures, and keeping secrets out of what is recorded.

A platform's connector is a `UrlConnector`: it turns a batch into requests (jobs/platforms/
json_events.py, or per_event.py for one event a request) and sends each with `post`, which
makes the platform's answer, read as one classification per event, into outcomes, or names
the network failure (`transport_problem`) when no answer came. Nothing it returns may hold a
secret: `scrub` replaces any secret the platform echoes back.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
import orjson

from jobs.egress import EgressRefused, Reply, send_bounded
from jobs.json_values import all_finite
from jobs.metrics import timed_request
from jobs.platforms.base import Classification, Outcome, OutcomeKind
from jobs.platforms.batching import HasDeliveryId

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
    # orjson writes NaN and infinity as null: JSON without a null had none, and needs no
    # walk through the document to find them.
    return encoded if b"null" not in encoded or all_finite(document) else None


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
        with timed_request():
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


class UrlConnector:
    """What a connector shows of itself and shares with every other: where it sends (never a
    credential), the destination's event names, and the `HttpSender` its requests and recorded
    texts go through."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        timeout: float,
        secrets: Sequence[str],
        event_names: Mapping[str, str] | None = None,
    ) -> None:
        self._http = HttpSender(client, timeout=timeout, secrets=secrets)
        self._url = url
        self._event_names = dict(event_names or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self._url!r})"

    @property
    def url(self) -> str:
        """Where requests go; it holds no credential."""
        return self._url

    @property
    def endpoint(self) -> str:
        """The scheme, host and port requests go to."""
        parts = urlsplit(self._url)
        return f"{parts.scheme}://{parts.netloc}"

    def event_name(self, name: str) -> str:
        """The destination's name for a Tenaz event name (unmapped: the name itself)."""
        return self._event_names.get(name, name)

    def scrub(self, text: str) -> str:
        """`text` without any of the destination's secrets."""
        return self._http.scrub(text)

    def scrubbed(self, classification: Classification) -> Classification:
        """`classification` with no secret of the destination in its message."""
        message = self.scrub(classification.message)
        if message == classification.message:
            return classification
        return dataclasses.replace(classification, message=message)

    def unanswered(self, events: Sequence[HasDeliveryId], exc: Exception) -> list[Outcome]:
        """Every event's outcome of a request that got no answer (`SendError`)."""
        problem = transport_problem(exc, self._http.timeout)
        return [problem.outcome(e.delivery_id, None) for e in events]

    def answered(
        self,
        events: Sequence[HasDeliveryId],
        verdicts: Sequence[Classification],
        reply: Reply,
    ) -> list[Outcome]:
        """Each event's outcome of a request the platform answered: `verdicts`, in order.

        A platform that answers for the request as a whole gives every event the same
        verdict: each distinct verdict is scrubbed once, not once per event.
        """
        shown = self.scrub(excerpt(reply.body))
        clean: dict[int, Classification] = {}
        outcomes = []
        for event, verdict in zip(events, verdicts, strict=True):
            scrubbed = clean.get(id(verdict))
            if scrubbed is None:
                scrubbed = clean[id(verdict)] = self.scrubbed(verdict)
            outcomes.append(scrubbed.outcome(event.delivery_id, reply.status, shown))
        return outcomes

    async def post(
        self,
        url: str,
        events: Sequence[HasDeliveryId],
        content: bytes,
        headers: Mapping[str, str],
        verdicts: Callable[[Reply], Sequence[Classification]],
    ) -> list[Outcome]:
        """One POST of `content`, which carries `events`: each event's outcome, from
        `verdicts` (the platform's answer read as one classification per event, in order) or
        from the network failure."""
        try:
            reply = await self._http.post(url, content, headers)
        except SendError as exc:
            return self.unanswered(events, exc)
        return self.answered(events, verdicts(reply), reply)
