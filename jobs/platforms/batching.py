"""Find the bad events of an all-or-nothing batch by splitting it in halves.

Some platforms (Meta) refuse a whole request when one of its events is invalid, and say little
about which one. Resending each half of a refused batch, recursively, lets the valid neighbours
through and leaves only the bad events REJECTED: with b bad events among n that costs about
2·b·log2(n) extra requests, instead of n if every event went alone from the start.

Only whole-request refusals are split. An external problem (timeout, 5xx, throttling, expired
token) says nothing about the events, so every event keeps that outcome and waits for the next
attempt as one batch; splitting would only hit a struggling platform harder.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from jobs.platforms.base import Outcome, OutcomeKind

# What a batch holds: the connector's events, in whatever form it sends them.
Item = TypeVar("Item")


async def isolate_rejections(
    send_request: Callable[[Sequence[Item]], Awaitable[list[Outcome]]], batch: Sequence[Item]
) -> list[Outcome]:
    """Send `batch` with `send_request`; bisect it while the platform refuses all of it.

    `send_request` sends exactly one request and returns one outcome per event, in order.
    The halves go one after the other: a platform that just refused a request is not sent
    two at once, and the order of requests stays reproducible in tests.
    """
    if not batch:
        return []
    outcomes = await send_request(batch)
    if len(outcomes) != len(batch):
        raise ValueError(
            f"send_request returned {len(outcomes)} outcomes for a batch of {len(batch)} events"
        )
    if len(batch) == 1 or any(outcome.kind is not OutcomeKind.REJECTED for outcome in outcomes):
        return outcomes
    middle = len(batch) // 2
    first = await isolate_rejections(send_request, batch[:middle])
    second = await isolate_rejections(send_request, batch[middle:])
    return first + second
