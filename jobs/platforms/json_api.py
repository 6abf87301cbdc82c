"""What the connectors of JSON platforms share beyond `http_connector`: a classification table
read from the top (the first row that applies decides) over the HTTP status and the platform's
own error body, and sending a batch as JSON events in requests of the platform's size.

Every platform decides the same way about what is not its own: no answer, HTTP 5xx, 408 and
429 are external problems; HTTP 413 comes from something on the way and is split
(`batching.send_in_requests`); a 3xx or 4xx without the platform's error body is not the
platform talking (a proxy, a firewall, a wrong host) and needs the operator, never failing the
events. A platform module puts its own rows (credentials, refusals, ...) between `FIRST_RULES`
and `LAST_RULES`, and parses its error body into a `PlatformError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from jobs.egress import Reply
from jobs.platforms.base import AttemptScope, Classification, Outcome, OutcomeKind, OutgoingEvent
from jobs.platforms.batching import PAYLOAD_TOO_LARGE, send_in_requests
from jobs.platforms.http_connector import (
    MAX_MESSAGE_CHARS,
    UNENCODABLE,
    HttpSender,
    encode_json,
    transport_problem,
)


@dataclass(frozen=True)
class PlatformError:
    """The platform's own error body, as far as classification reads it."""

    # A numeric code (Reddit's `code`, LinkedIn's `serviceErrorCode`), if any.
    code: int | None = None
    # A symbolic code (LinkedIn's `code`, e.g. "REVOKED_ACCESS_TOKEN"), if any.
    name: str = ""
    message: str = ""


@dataclass(frozen=True)
class Answer:
    """What a rule looks at: the HTTP status (None: no response) and the platform's error."""

    status: int | None
    error: PlatformError | None = None

    def status_in(self, low: int, high: int) -> bool:
        return self.status is not None and low <= self.status <= high


@dataclass(frozen=True)
class Rule:
    """One row of a classification table; `name` also serves as the message of last resort."""

    name: str
    applies: Callable[[Answer], bool]
    kind: OutcomeKind
    needs_action: bool = False


_EXTERNAL = OutcomeKind.EXTERNAL_PROBLEM

ACCEPTED: Final = Rule("accepted", lambda a: a.status_in(200, 299), OutcomeKind.SUCCEEDED)
SERVER_ERROR: Final = Rule("platform error (HTTP 5xx)", lambda a: a.status_in(500, 599), _EXTERNAL)
TIMED_OUT_OR_THROTTLED: Final = Rule(
    "timed out or rate limited (HTTP 408/429)", lambda a: a.status in (408, 429), _EXTERNAL
)

FIRST_RULES: Final[tuple[Rule, ...]] = (
    ACCEPTED,
    Rule("no response from the platform", lambda a: a.status is None, _EXTERNAL),
    SERVER_ERROR,
    TIMED_OUT_OR_THROTTLED,
)

LAST_RULES: Final[tuple[Rule, ...]] = (
    # The platform never answers a well-formed request with these: the URL is wrong.
    Rule(
        "no such endpoint: check the base URL and the account settings",
        lambda a: a.status in (404, 405, 410),
        _EXTERNAL,
        needs_action=True,
    ),
    # Something between Tenaz and the platform took the request for too large; it is sent
    # again in halves at once. One event alone that big needs the operator.
    Rule(
        "too large for a proxy or gateway on the way (HTTP 413)",
        lambda a: a.status == PAYLOAD_TOO_LARGE,
        _EXTERNAL,
        needs_action=True,
    ),
    Rule(
        "refused by the platform",
        lambda a: a.status_in(400, 499) and a.error is not None,
        OutcomeKind.REJECTED,
    ),
    Rule(
        "unexpected answer: check the destination's base URL",
        lambda a: a.status_in(300, 499),
        _EXTERNAL,
        needs_action=True,
    ),
    Rule("unexpected answer from the platform", lambda a: True, _EXTERNAL),
)


def credentials_rule(statuses: Sequence[int] = (401, 403)) -> Rule:
    """The row every token-based platform has: the event is fine, the destination's token or
    its permissions are not (with or without the platform's body: either way the operator
    must look)."""
    return Rule(
        "credentials or permissions refused",
        lambda a: a.status in statuses,
        _EXTERNAL,
        needs_action=True,
    )


def classify(rules: Sequence[Rule], answer: Answer) -> Classification:
    """What `answer` means by the first rule of `rules` that applies (the table must end with a
    rule that always applies); never raises."""
    rule = next(rule for rule in rules if rule.applies(answer))
    error = answer.error
    message = ""
    if rule.kind is not OutcomeKind.SUCCEEDED:
        text = ": ".join(part for part in (error.name, error.message) if part) if error else ""
        if not text:
            text = rule.name if answer.status is None else f"HTTP {answer.status}: {rule.name}"
        message = text[:MAX_MESSAGE_CHARS]
    return Classification(
        kind=rule.kind,
        needs_action=rule.needs_action,
        code=error.code if error else None,
        message=message,
        rule=rule.name,
    )


def int_field(document: Mapping[str, Any], key: str) -> int | None:
    value = document.get(key)
    # bool is an int subclass; `"code": true` is garbage, not code 1.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def str_field(document: Mapping[str, Any], key: str) -> str:
    value = document.get(key)
    return value.strip() if isinstance(value, str) else ""


@dataclass(frozen=True)
class EncodedEvent:
    """One event as the JSON the platform takes, encoded once for however many requests (the
    halves of a split batch) carry it."""

    event: OutgoingEvent
    json: bytes

    @property
    def delivery_id(self) -> int:
        return self.event.delivery_id


async def send_as_json(
    batch: Sequence[OutgoingEvent],
    scope: AttemptScope | None,
    *,
    wire: Callable[[OutgoingEvent], Any],
    send_request: Callable[[Sequence[EncodedEvent], AttemptScope], Awaitable[list[Outcome]]],
    max_batch_size: int,
    split_refused: bool,
) -> list[Outcome]:
    """Deliver `batch`: each event as `wire` makes it, in requests of `max_batch_size` events
    at most, each sent by `send_request` (one request, one outcome per event) through
    `batching.send_in_requests`. An event JSON cannot carry is refused here, alone, rather
    than sent to make the platform refuse its neighbours."""
    if scope is None:
        scope = AttemptScope.for_batch(len(batch))
    outcomes: dict[int, Outcome] = {}
    sendable: list[tuple[int, EncodedEvent]] = []
    for index, event in enumerate(batch):
        encoded = encode_json(wire(event))
        if encoded is None:
            outcomes[index] = UNENCODABLE.outcome(event.delivery_id, None)
            scope.record([outcomes[index]])
        else:
            sendable.append((index, EncodedEvent(event, encoded)))
    bound = scope

    async def send_one(events: Sequence[EncodedEvent]) -> list[Outcome]:
        return await send_request(events, bound)

    for start in range(0, len(sendable), max_batch_size):
        chunk = sendable[start : start + max_batch_size]
        results = await send_in_requests(
            send_one, [e for _, e in chunk], scope, split_refused=split_refused
        )
        for (index, _), outcome in zip(chunk, results, strict=True):
            outcomes[index] = outcome
    return [outcomes[index] for index in range(len(batch))]


def join_events(events: Sequence[EncodedEvent]) -> bytes:
    """The events' JSON as the items of a JSON array (without the brackets)."""
    return b",".join(e.json for e in events)


class OneUrlConnector:
    """What a connector that posts every request to one URL shows of itself: where it sends
    (never a credential), and the `HttpSender` its requests and recorded texts go through."""

    def __init__(
        self, client: httpx.AsyncClient, url: str, *, timeout: float, secrets: Sequence[str]
    ) -> None:
        self._http = HttpSender(client, timeout=timeout, secrets=secrets)
        self._url = url

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

    def scrubbed(self, classification: Classification) -> Classification:
        """`classification` with no secret of the destination in its message."""
        return dataclasses.replace(classification, message=self._http.scrub(classification.message))

    def unanswered(self, events: Sequence[EncodedEvent], exc: Exception) -> list[Outcome]:
        """Every event's outcome of a request that got no answer (`SendError`)."""
        problem = transport_problem(exc, self._http.timeout)
        return [problem.outcome(e.delivery_id, None) for e in events]

    def for_each(
        self, events: Sequence[EncodedEvent], classification: Classification, reply: Reply
    ) -> list[Outcome]:
        """Every event's outcome of a request the platform answered as a whole."""
        verdict = self.scrubbed(classification)
        excerpt = self._http.excerpt(reply.body)
        return [verdict.outcome(e.delivery_id, reply.status, excerpt) for e in events]
