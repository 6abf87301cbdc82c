"""Sending one batch as requests: split it when the platform or something on the way refuses
all of it, within what the attempt allows.

Some platforms (Meta) refuse a whole request when one of its events is invalid, and say little
about which one. Resending each half of a refused batch, recursively, lets the valid neighbours
through and leaves only the bad events REJECTED: with b bad events among n that costs about
2·b·log2(n) extra requests, instead of n if every event went alone from the start. Tenaz checks
at submission what the platform refuses for sure, so a refused batch is rare; and an attempt
makes at most `AttemptScope.max_requests` requests (see `AttemptScope.for_batch`). Events
still in a refused group when that bound is reached go again at the next attempt (where the
split goes on), never REJECTED for a neighbour's fault.

HTTP 413 (the request is too large for a proxy or gateway on the way, not a verdict on the
events) is split the same way at once, and reported to the scope so that the engine sends that
destination smaller batches for a while.

Only whole-request refusals are split. A platform that answers for each event on its own
(Pinterest) says which events it refused, so a request whose events were all refused one by
one is not split; when it can also refuse a whole request for one event, it passes a
predicate that tells that refusal from its per-event answers.

An external problem (timeout, 5xx, throttling, expired
token) says nothing about the events, so every event keeps that outcome and waits for the next
attempt as one batch; splitting would only hit a struggling platform harder.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from jobs.platforms.base import AttemptScope, Outcome, OutcomeKind

PAYLOAD_TOO_LARGE = 413


class HasDeliveryId(Protocol):
    @property
    def delivery_id(self) -> int: ...


# What a batch holds: the connector's events, in whatever form it sends them.
Item = TypeVar("Item", bound=HasDeliveryId)


def _not_sent(item: HasDeliveryId, scope: AttemptScope) -> Outcome:
    return Outcome(
        item.delivery_id,
        OutcomeKind.EXTERNAL_PROBLEM,
        message=(
            "the platform refused a whole batch holding this event, and the attempt reached"
            f" its bound of {scope.max_requests} requests before finding which event it refused;"
            " it goes again at the next attempt"
        ),
    )


async def send_in_requests(
    send_request: Callable[[Sequence[Item]], Awaitable[list[Outcome]]],
    batch: Sequence[Item],
    scope: AttemptScope,
    *,
    split_refused: bool | Callable[[Sequence[Outcome]], bool] = True,
) -> list[Outcome]:
    """Send `batch` with `send_request`, splitting it in halves as the module says.

    `send_request` sends exactly one request and returns one outcome per event, in order.
    The halves go one after the other: a platform that just refused a request is not sent
    two at once, and the order of requests stays reproducible in tests. A platform that
    answers for each event on its own (`split_refused=False`) is never split for refusals,
    only for HTTP 413; one that answers per event but may also refuse a whole request
    passes a predicate, true of a request's outcomes when they are such a refusal.
    """
    if not batch:
        return []
    if not await scope.admit(len(batch)):
        unsent = [_not_sent(item, scope) for item in batch]
        scope.record(unsent)
        return unsent
    outcomes = await send_request(batch)
    if len(outcomes) != len(batch):
        raise ValueError(
            f"send_request returned {len(outcomes)} outcomes for a batch of {len(batch)} events"
        )
    too_large = all(outcome.http_status == PAYLOAD_TOO_LARGE for outcome in outcomes)
    if too_large:
        scope.saw_too_large(len(batch))
    if callable(split_refused):
        refused = split_refused(outcomes)
    else:
        refused = split_refused and all(o.kind is OutcomeKind.REJECTED for o in outcomes)
    if len(batch) == 1 or not (too_large or refused):
        scope.record(outcomes)
        return outcomes
    middle = len(batch) // 2
    halves = [batch[:middle], batch[middle:]]
    first, second = [
        await send_in_requests(send_request, half, scope, split_refused=split_refused)
        for half in halves
    ]
    return first + second
