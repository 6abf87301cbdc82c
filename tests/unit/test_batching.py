"""Sending a batch as requests: bisecting refusals, halving what is too large, within bounds."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import pytest

from jobs.platforms.base import AttemptScope, Outcome, OutcomeKind, OutgoingEvent
from jobs.platforms.batching import send_in_requests

SUCCEEDED = OutcomeKind.SUCCEEDED
EXTERNAL = OutcomeKind.EXTERNAL_PROBLEM
REJECTED = OutcomeKind.REJECTED


class ScriptedPlatform:
    """One request to an all-or-nothing platform; some events are bad, some calls fail,
    requests above `largest` events are refused as too large (HTTP 413)."""

    def __init__(
        self,
        bad: Collection[int] = (),
        failing_calls: Collection[int] = (),
        largest: int | None = None,
    ) -> None:
        self.bad = set(bad)
        self.failing_calls = set(failing_calls)
        self.largest = largest
        self.calls: list[list[int]] = []

    async def __call__(self, batch: Sequence[OutgoingEvent]) -> list[Outcome]:
        self.calls.append([e.delivery_id for e in batch])
        status = 200
        if self.largest is not None and len(batch) > self.largest:
            kind, status = EXTERNAL, 413
        elif len(self.calls) in self.failing_calls:
            kind, status = EXTERNAL, 503
        elif any(e.delivery_id in self.bad for e in batch):
            kind, status = REJECTED, 400
        else:
            kind = SUCCEEDED
        return [Outcome(delivery_id=e.delivery_id, kind=kind, http_status=status) for e in batch]


def numbered(count: int) -> list[OutgoingEvent]:
    return [OutgoingEvent(delivery_id=n, payload={}) for n in range(count)]


def kinds(outcomes: Sequence[Outcome]) -> list[OutcomeKind]:
    return [o.kind for o in outcomes]


def scope(max_requests: int = 100) -> AttemptScope:
    return AttemptScope(max_requests=max_requests)


async def test_bisection_isolates_several_bad_events() -> None:
    send = ScriptedPlatform(bad={0, 5, 7})
    outcomes = await send_in_requests(send, numbered(8), scope())
    assert [o.delivery_id for o in outcomes] == list(range(8))
    assert {o.delivery_id for o in outcomes if o.kind is REJECTED} == {0, 5, 7}
    assert all(o.kind is SUCCEEDED for o in outcomes if o.delivery_id not in {0, 5, 7})


async def test_bisection_keeps_an_external_problem_met_on_the_way() -> None:
    # Call 1 (all 4) is refused; call 2 (events 0-1) meets a platform failure.
    send = ScriptedPlatform(bad={3}, failing_calls={2})
    outcomes = await send_in_requests(send, numbered(4), scope())
    assert kinds(outcomes) == [EXTERNAL, EXTERNAL, SUCCEEDED, REJECTED]
    assert send.calls == [[0, 1, 2, 3], [0, 1], [2, 3], [2], [3]]


async def test_bisection_does_not_split_an_external_problem() -> None:
    send = ScriptedPlatform(bad={1}, failing_calls={1})
    outcomes = await send_in_requests(send, numbered(4), scope())
    assert kinds(outcomes) == [EXTERNAL] * 4
    assert len(send.calls) == 1


async def test_bisection_rejects_a_send_request_that_loses_events() -> None:
    async def lossy(batch: Sequence[OutgoingEvent]) -> list[Outcome]:
        return []

    with pytest.raises(ValueError, match="0 outcomes for a batch of 2"):
        await send_in_requests(lossy, numbered(2), scope())


async def test_a_split_makes_no_more_requests_than_the_attempt_allows() -> None:
    # Every event bad: a full bisection of 64 would take 127 requests.
    send = ScriptedPlatform(bad=range(64))
    attempt = scope(max_requests=10)
    outcomes = await send_in_requests(send, numbered(64), attempt)

    assert len(send.calls) == 10 == attempt.requests
    isolated = {o.delivery_id for o in outcomes if o.kind is REJECTED}
    assert isolated, "the requests it could make isolated some events"
    rest = [o for o in outcomes if o.delivery_id not in isolated]
    # The others are not blamed for a neighbour: they go again at the next attempt.
    assert rest and all(o.kind is EXTERNAL for o in rest)
    assert "bound of 10 requests" in rest[0].message
    assert attempt.outcomes == {o.delivery_id: o for o in outcomes}


async def test_only_final_answers_are_recorded_while_a_split_runs() -> None:
    send = ScriptedPlatform(bad={0})
    attempt = scope(max_requests=3)  # all 4, then 0-1, then 0: 1 is never sent alone
    outcomes = await send_in_requests(send, numbered(4), attempt)

    assert send.calls == [[0, 1, 2, 3], [0, 1], [0]]
    assert attempt.outcomes[0].kind is REJECTED
    assert kinds(outcomes) == [REJECTED, EXTERNAL, EXTERNAL, EXTERNAL]


async def test_too_large_is_halved_at_once_and_reported() -> None:
    send = ScriptedPlatform(largest=3)
    attempt = scope()
    outcomes = await send_in_requests(send, numbered(10), attempt)

    assert kinds(outcomes) == [SUCCEEDED] * 10
    # 10, 0-4, 0-1, 2-4, 5-9, 5-6, 7-9: the halves of what was too large, at once.
    halves = [[0, 1, 2, 3, 4], [0, 1], [2, 3, 4], [5, 6, 7, 8, 9], [5, 6], [7, 8, 9]]
    assert send.calls == [list(range(10)), *halves]
    assert attempt.too_large == 5


async def test_one_event_too_large_keeps_its_answer() -> None:
    send = ScriptedPlatform(largest=0)
    attempt = scope()
    outcomes = await send_in_requests(send, numbered(2), attempt)

    assert [o.http_status for o in outcomes] == [413, 413]
    assert kinds(outcomes) == [EXTERNAL, EXTERNAL]
    assert attempt.too_large == 1


async def test_every_request_passes_the_gate_right_before_it_goes() -> None:
    happened: list[tuple[str, int]] = []
    platform = ScriptedPlatform(bad={0})

    async def gate(events: int) -> None:
        happened.append(("admitted", events))

    async def send(batch: Sequence[OutgoingEvent]) -> list[Outcome]:
        happened.append(("sent", len(batch)))
        return await platform(batch)

    await send_in_requests(send, numbered(8), AttemptScope(max_requests=100, gate=gate))

    # The first request too: the rate limit counts each request when it leaves.
    sizes = [8, 4, 2, 1, 1, 2, 4]
    assert happened == [step for n in sizes for step in (("admitted", n), ("sent", n))]


async def test_an_attempt_costs_at_most_one_request_more_than_its_events() -> None:
    # Bisecting 64 bad events would take 127 requests; sending each alone, 64.
    send = ScriptedPlatform(bad=range(64))
    await send_in_requests(send, numbered(64), AttemptScope.for_batch(64))
    assert len(send.calls) == 65
    # A few bad events among many are all isolated within it.
    send = ScriptedPlatform(bad={3, 200, 777})
    outcomes = await send_in_requests(send, numbered(1000), AttemptScope.for_batch(1000))
    assert {o.delivery_id for o in outcomes if o.kind is REJECTED} == {3, 200, 777}
    assert len(send.calls) < 70


async def test_a_platform_that_answers_per_event_is_split_only_when_too_large() -> None:
    everything_bad = ScriptedPlatform(bad=set(range(4)))
    outcomes = await send_in_requests(everything_bad, numbered(4), scope(), split_refused=False)
    assert kinds(outcomes) == [REJECTED] * 4
    assert everything_bad.calls == [[0, 1, 2, 3]]
    too_large = ScriptedPlatform(largest=2)
    outcomes = await send_in_requests(too_large, numbered(4), scope(), split_refused=False)
    assert kinds(outcomes) == [SUCCEEDED] * 4
    assert too_large.calls == [[0, 1, 2, 3], [0, 1], [2, 3]]
