"""What the platforms that take a JSON body `{"data": [event, ...]}` share: turning a batch
into requests of at most the platform's size, each event encoded once, and the small
conversions their wire formats need (hashes as lists, amounts as decimal text).

An event the platform would refuse for sure (it cannot be encoded as JSON, or the platform
module knows the platform refuses it) is refused here, alone, without a request: it must not
make the platform refuse its neighbours.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from jobs.egress import Reply
from jobs.platforms.base import AttemptScope, Classification, Outcome, OutgoingEvent
from jobs.platforms.batching import send_in_requests
from jobs.platforms.http_connector import (
    UNENCODABLE,
    HttpSender,
    SendError,
    encode_json,
    transport_problem,
)


@dataclass(frozen=True)
class Encoded:
    """One event in the platform's wire format, as JSON."""

    event: OutgoingEvent
    json: bytes

    @property
    def delivery_id(self) -> int:
        return self.event.delivery_id


# An event -> its wire form, or why the platform would refuse it.
Prepare = Callable[[OutgoingEvent], dict[str, Any] | Classification]
SendRequest = Callable[[Sequence[Encoded]], Awaitable[list[Outcome]]]


async def send_in_chunks(
    batch: Sequence[OutgoingEvent],
    scope: AttemptScope | None,
    *,
    prepare: Prepare,
    send_request: SendRequest,
    max_batch_size: int,
    split_refused: bool | Callable[[Sequence[Outcome]], bool] = True,
) -> list[Outcome]:
    """One outcome per event of `batch`, in order: the events refused here, and the others
    sent in requests of at most `max_batch_size` (see `batching.send_in_requests`)."""
    if scope is None:
        scope = AttemptScope.for_batch(len(batch))
    outcomes: dict[int, Outcome] = {}
    sendable: list[tuple[int, Encoded]] = []
    for index, event in enumerate(batch):
        wire = prepare(event)
        encoded = None if isinstance(wire, Classification) else encode_json(wire)
        if encoded is not None:
            sendable.append((index, Encoded(event, encoded)))
            continue
        refusal = wire if isinstance(wire, Classification) else UNENCODABLE
        outcomes[index] = refusal.outcome(event.delivery_id, None)
        scope.record([outcomes[index]])
    for start in range(0, len(sendable), max_batch_size):
        chunk = sendable[start : start + max_batch_size]
        results = await send_in_requests(
            send_request, [e for _, e in chunk], scope, split_refused=split_refused
        )
        for (index, _), outcome in zip(chunk, results, strict=True):
            outcomes[index] = outcome
    return [outcomes[index] for index in range(len(batch))]


class JsonConnector:
    """What the connectors of these platforms share: one destination's way out (the shared
    client, the request deadline, the secrets to scrub), where requests go, and its event
    names. A subclass sends with `send_in_chunks`."""

    max_batch_size: int

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        url: str,
        secrets: Sequence[str],
        timeout: float,
        event_names: Mapping[str, str] | None,
    ) -> None:
        self._http = HttpSender(client, timeout=timeout, secrets=secrets)
        self._url = url
        self._event_names = dict(event_names or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self._url!r})"

    @property
    def url(self) -> str:
        """Where requests go, without any credential."""
        return self._url

    @property
    def endpoint(self) -> str:
        """The scheme, host and port requests go to."""
        parts = urlsplit(self._url)
        return f"{parts.scheme}://{parts.netloc}"

    def event_name(self, name: str) -> str:
        """The destination's name for a Tenaz event name (unmapped: the name itself)."""
        return self._event_names.get(name, name)

    async def post_batch(
        self,
        url: str,
        batch: Sequence[Encoded],
        headers: Mapping[str, str],
        verdicts: Callable[[Reply], Sequence[Classification]],
    ) -> list[Outcome]:
        """One POST of `batch`: each event's outcome, from `verdicts` (the platform's answer
        read as one classification per event, in order) or from the network failure, with
        the destination's secrets scrubbed from messages and excerpts."""
        try:
            reply = await self._http.post(url, data_body(batch), headers)
        except SendError as exc:
            problem = transport_problem(exc, self._http.timeout)
            return [problem.outcome(e.delivery_id, None) for e in batch]
        excerpt = self._http.excerpt(reply.body)
        return [
            dataclasses.replace(v, message=self._http.scrub(v.message)).outcome(
                e.delivery_id, reply.status, excerpt
            )
            for e, v in zip(batch, verdicts(reply), strict=True)
        ]


def data_body(events: Sequence[Encoded]) -> bytes:
    """The request body `{"data": [...]}` from the events' JSON."""
    return b"".join((b'{"data":[', b",".join(e.json for e in events), b"]}"))


def hashed_lists(hashes: Mapping[str, Any], keys: Iterable[str]) -> dict[str, list[str]]:
    """The hashes of `keys` that are there, each as a one-item list (the platforms that take
    several values of a key, e.g. several emails, take lists)."""
    return {key: [str(hashes[key])] for key in keys if hashes.get(key)}


def decimal_text(value: float) -> str:
    """A number as plain decimal text ("49.9", "0.0000001", "10000000000000000"), never in
    exponent notation, for platforms that take amounts as strings."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = format(Decimal(repr(float(value))), "f")
    return text.removesuffix(".0") if text.endswith(".0") else text


def number(value: Any) -> float | int | None:
    """`value` if it is a finite JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if value == value and abs(value) != float("inf") else None
