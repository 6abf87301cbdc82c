"""Connectors for platforms that take one event per request (Kwai, the webhook).

Such a platform answers for the one event it got, so there is nothing to split and nothing
to isolate: each event of a batch is its own request, sent one after the other through the
attempt's scope (its request bound and the destination's rate limit), and gets the outcome of
its own answer. It is the batch path of json_events.py with requests of one event; a platform
module says how an event becomes a body and headers, and what an answer means:

    an event JSON cannot carry              -> REJECTED, no request (UNENCODABLE)
    no answer (timeout, refused, internal)  -> http_connector.transport_problem
    an answer                               -> the platform's `classify(status, body)`

Nothing it returns holds a secret: messages and excerpts pass through `UrlConnector.scrub`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

from jobs.platforms.base import AttemptScope, Classification, Outcome, OutgoingEvent
from jobs.platforms.http_connector import UrlConnector
from jobs.platforms.json_events import Encoded, send_in_chunks


class PerEventConnector(UrlConnector, abc.ABC):
    """Sends each event of a batch in a request of its own to one URL."""

    max_batch_size: int = 1

    # -- what a platform defines ---------------------------------------------------------------

    @abc.abstractmethod
    def wire(self, event: OutgoingEvent) -> dict[str, Any] | Classification:
        """The request body for `event`, as a JSON document, or why the platform refuses it."""

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
        return await send_in_chunks(
            batch,
            scope,
            prepare=self.wire,
            send_request=self._send_request,
            max_batch_size=1,
            split_refused=False,
        )

    async def _send_request(self, batch: Sequence[Encoded]) -> list[Outcome]:
        """One POST per event (`send_in_chunks` hands over one at a time)."""
        outcomes: list[Outcome] = []
        for encoded in batch:
            outcomes += await self.post(
                self._url,
                [encoded],
                encoded.json,
                self.headers(encoded),
                lambda reply: [self.classify(reply.status, reply.body)],
            )
        return outcomes
