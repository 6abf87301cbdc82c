"""Connectors for platforms that take one event per request (Kwai, the webhook).

Such a platform answers for the one event it got, so there is nothing to split and nothing
to isolate: each event of a batch is its own request, sent one after the other through the
attempt's scope (its request bound and the destination's rate limit), and gets the outcome of
its own answer. A platform module says how an event becomes a body and headers, and what an
answer means; this module does the rest the same way for all of them:

    an event JSON cannot carry              -> REJECTED, no request (UNENCODABLE)
    no answer (timeout, refused, internal)  -> http_connector.transport_problem
    an answer                               -> the platform's `classify(status, body)`

Nothing it returns holds a secret: messages and excerpts pass through `HttpSender.scrub`.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from jobs.platforms.base import AttemptScope, Classification, Outcome, OutgoingEvent
from jobs.platforms.batching import send_in_requests
from jobs.platforms.http_connector import UNENCODABLE, HttpSender, SendError, transport_problem


@dataclass(frozen=True)
class Encoded:
    """One event's request body, encoded once for however many requests carry it."""

    event: OutgoingEvent
    body: bytes

    @property
    def delivery_id(self) -> int:
        return self.event.delivery_id


class PerEventConnector(abc.ABC):
    """Sends each event of a batch in a request of its own to one URL."""

    max_batch_size: int = 1

    def __init__(self, http: HttpSender, url: str) -> None:
        self._http = http
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

    # -- what a platform defines ---------------------------------------------------------------

    @abc.abstractmethod
    def encode(self, event: OutgoingEvent) -> bytes | None:
        """The request body for `event`, or None when JSON cannot carry it."""

    @abc.abstractmethod
    def headers(self, event: Encoded) -> Mapping[str, str]:
        """The headers of one request (computed for each request: a signature's timestamp)."""

    @abc.abstractmethod
    def classify(self, http_status: int, body: bytes) -> Classification:
        """What the platform's answer means for the event; total, never raises."""

    # -- the request cycle ---------------------------------------------------------------------

    async def send(
        self, batch: Sequence[OutgoingEvent], scope: AttemptScope | None = None
    ) -> list[Outcome]:
        if scope is None:
            scope = AttemptScope.for_batch(len(batch))
        outcomes: list[Outcome] = []
        for event in batch:
            body = self.encode(event)
            if body is None:
                refused = UNENCODABLE.outcome(event.delivery_id, None)
                scope.record([refused])
                outcomes.append(refused)
                continue
            outcomes += await send_in_requests(
                self._send_request, [Encoded(event, body)], scope, split_refused=False
            )
        return outcomes

    async def _send_request(self, batch: Sequence[Encoded]) -> list[Outcome]:
        """One POST per event (`send_in_requests` hands over one at a time; a batch of
        several, never made here, would go in requests of one each)."""
        return [await self._post(encoded) for encoded in batch]

    async def _post(self, encoded: Encoded) -> Outcome:
        try:
            reply = await self._http.post(self._url, encoded.body, self.headers(encoded))
        except SendError as exc:
            problem = transport_problem(exc, self._http.timeout)
            return problem.outcome(encoded.delivery_id, None)
        classification = self.classify(reply.status, reply.body)
        verdict = dataclasses.replace(
            classification, message=self._http.scrub(classification.message)
        )
        return verdict.outcome(encoded.delivery_id, reply.status, self._http.excerpt(reply.body))
