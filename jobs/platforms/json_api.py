"""What the connectors of JSON platforms share beyond `http_connector`: sending a batch as JSON
events in requests of the platform's size."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from jobs.egress import Reply
from jobs.platforms.base import AttemptScope, Classification, Outcome, OutgoingEvent
from jobs.platforms.batching import send_in_requests
from jobs.platforms.http_connector import (
    UNENCODABLE,
    HttpSender,
    encode_json,
    transport_problem,
)


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
