"""Sending a batch to a platform that takes a JSON request of several events: the batch in
requests of at most the platform's size, each event encoded once for however many requests
(the halves of a split batch) carry it, and the small conversions the platforms' wire formats
need (hashes as lists, amounts as decimal text).

An event the platform would refuse for sure (it cannot be encoded as JSON, or the platform
module knows the platform refuses it) is refused here, alone, without a request: it must not
make the platform refuse its neighbours. Events whose requests must carry different fields
besides the events (TikTok's event source; GA4's client id, time and user data) go in requests
of their own. per_event.py sends this way in requests of one event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from jobs.platforms.base import AttemptScope, Classification, Outcome, OutgoingEvent
from jobs.platforms.batching import send_in_requests
from jobs.platforms.http_connector import UNENCODABLE, encode_json


# Not frozen: one per event of every attempt, and a frozen dataclass costs three times as
# much to build. Nothing changes one after it is built.
@dataclass(slots=True)
class Encoded:
    """One event in the platform's wire format, as JSON."""

    event: OutgoingEvent
    json: bytes
    # The fields of the event's request besides its events, as a JSON object (b"": none);
    # events that share them share requests.
    shared: bytes = b""

    @property
    def delivery_id(self) -> int:
        return self.event.delivery_id


# An event -> its wire form, or why the platform would refuse it.
Prepare = Callable[[OutgoingEvent], dict[str, Any] | Classification]
# An event -> the fields of its request besides the events.
Shared = Callable[[OutgoingEvent], dict[str, Any]]
SendRequest = Callable[[Sequence[Encoded]], Awaitable[list[Outcome]]]


def _encoded(
    event: OutgoingEvent, prepare: Prepare, shared: Shared | None
) -> Encoded | Classification:
    wire = prepare(event)
    if isinstance(wire, Classification):
        return wire
    encoded = encode_json(wire)
    fields = b"" if shared is None else encode_json(shared(event))
    if encoded is None or fields is None:
        return UNENCODABLE
    return Encoded(event, encoded, fields)


async def send_in_chunks(
    batch: Sequence[OutgoingEvent],
    scope: AttemptScope | None,
    *,
    prepare: Prepare,
    send_request: SendRequest,
    max_batch_size: int,
    split_refused: bool | Callable[[Sequence[Outcome]], bool] = True,
    shared: Shared | None = None,
) -> list[Outcome]:
    """One outcome per event of `batch`, in order: the events refused here (`prepare` gives
    the event's wire form or a `Classification` refusing it), and the others sent by
    `send_request` in requests of at most `max_batch_size` events that share the fields
    `shared` gives (see `batching.send_in_requests` for `split_refused`)."""
    if scope is None:
        scope = AttemptScope.for_batch(len(batch))
    outcomes: dict[int, Outcome] = {}
    groups: dict[bytes, list[tuple[int, Encoded]]] = {}
    for index, event in enumerate(batch):
        encoded = _encoded(event, prepare, shared)
        if isinstance(encoded, Classification):
            outcomes[index] = encoded.outcome(event.delivery_id, None)
            scope.record([outcomes[index]])
        else:
            groups.setdefault(encoded.shared, []).append((index, encoded))
    for group in groups.values():
        for start in range(0, len(group), max_batch_size):
            chunk = group[start : start + max_batch_size]
            results = await send_in_requests(
                send_request, [e for _, e in chunk], scope, split_refused=split_refused
            )
            for (index, _), outcome in zip(chunk, results, strict=True):
                outcomes[index] = outcome
    return [outcomes[index] for index in range(len(batch))]


class RefusedWhole:
    """For a platform that answers for each event of a request but may also refuse a request as
    a whole: which events the last request that carried them was refused as a whole. As the
    `split_refused` of `send_in_chunks`, it splits only those requests, to isolate the event
    the platform did not take; events it refused one by one are not sent again."""

    def __init__(self) -> None:
        self._events: set[int] = set()

    def sending(self, events: Sequence[Encoded]) -> None:
        self._events.difference_update(e.delivery_id for e in events)

    def refused(self, events: Sequence[Encoded]) -> None:
        self._events.update(e.delivery_id for e in events)

    def __call__(self, outcomes: Sequence[Outcome]) -> bool:
        return all(o.delivery_id in self._events for o in outcomes)


def json_body(key: bytes, events: Sequence[Encoded], *, after: bytes = b"") -> bytes:
    """A request's body: a JSON object of the events' shared fields, the events as its array
    `key`, and the members `after` (JSON object members, without the braces)."""
    parts = [b"{"]
    shared = events[0].shared[1:-1] if events else b""
    if shared:
        parts += [shared, b","]
    parts += [b'"', key, b'":[', b",".join(e.json for e in events), b"]"]
    if after:
        parts += [b",", after]
    parts.append(b"}")
    return b"".join(parts)


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
