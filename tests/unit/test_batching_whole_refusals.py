"""A platform that answers per event but may refuse a whole request: only the whole-request
refusals are split (send_in_requests with a predicate)."""

from __future__ import annotations

from collections.abc import Sequence

from jobs.platforms.base import AttemptScope, Outcome, OutcomeKind, OutgoingEvent
from jobs.platforms.batching import send_in_requests

SUCCEEDED = OutcomeKind.SUCCEEDED
REJECTED = OutcomeKind.REJECTED


class PerEventPlatform:
    """Refuses a request holding `poison` as a whole (HTTP 400), and fails `bad` events one by
    one in an answer that names each event's fate (HTTP 200)."""

    def __init__(self, *, poison: set[int], bad: set[int]) -> None:
        self.poison, self.bad = poison, bad
        self.calls: list[list[int]] = []
        self.refused_whole: set[int] = set()

    async def __call__(self, batch: Sequence[OutgoingEvent]) -> list[Outcome]:
        ids = [e.delivery_id for e in batch]
        self.calls.append(ids)
        self.refused_whole.difference_update(ids)
        if self.poison & set(ids):
            self.refused_whole.update(ids)
            return [Outcome(i, REJECTED, http_status=400) for i in ids]
        return [Outcome(i, REJECTED if i in self.bad else SUCCEEDED, http_status=200) for i in ids]

    def whole(self, outcomes: Sequence[Outcome]) -> bool:
        return all(o.delivery_id in self.refused_whole for o in outcomes)


def numbered(count: int) -> list[OutgoingEvent]:
    return [OutgoingEvent(delivery_id=n, payload={}) for n in range(count)]


async def test_a_whole_request_refusal_is_split_and_per_event_failures_are_not() -> None:
    platform = PerEventPlatform(poison={2}, bad={0, 1})
    outcomes = await send_in_requests(
        platform, numbered(4), AttemptScope(max_requests=10), split_refused=platform.whole
    )
    assert [o.kind for o in outcomes] == [REJECTED, REJECTED, REJECTED, SUCCEEDED]
    assert [o.http_status for o in outcomes] == [200, 200, 400, 200]
    # 0 and 1 failed one by one in the half's answer: that half is not split further.
    assert platform.calls == [[0, 1, 2, 3], [0, 1], [2, 3], [2], [3]]


async def test_events_all_failing_one_by_one_cost_one_request() -> None:
    platform = PerEventPlatform(poison=set(), bad={0, 1, 2})
    outcomes = await send_in_requests(
        platform, numbered(3), AttemptScope(max_requests=10), split_refused=platform.whole
    )
    assert [o.kind for o in outcomes] == [REJECTED] * 3
    assert platform.calls == [[0, 1, 2]]
