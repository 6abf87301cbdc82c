"""The one deadline rule: the 30-minute retry, the last call before the deadline, and when an
attempt may still start, to the second."""

from __future__ import annotations

import datetime as dt

from jobs.retry_policy import SEND_GUARD, DeadlineRule

T0 = dt.datetime(2026, 11, 20, 12, 0, 0, tzinfo=dt.UTC)
HALF_HOUR = dt.timedelta(minutes=30)
MARGIN = dt.timedelta(minutes=10)
BUDGET = dt.timedelta(minutes=2)
WEEK = dt.timedelta(days=7)
RULE = DeadlineRule(margin=MARGIN, budget=BUDGET)


def test_next_attempt_is_end_of_last_attempt_plus_interval() -> None:
    finished = T0 + dt.timedelta(seconds=7.25)
    next_at = RULE.next_attempt(finished_at=finished, interval=HALF_HOUR, deadline=T0 + WEEK)
    assert next_at == finished + HALF_HOUR


def test_when_the_regular_retry_would_miss_the_deadline_the_last_call_is_used() -> None:
    deadline = T0 + dt.timedelta(minutes=35)
    # Regular retry at 12:30 is after the last call 12:25: retry at the last call.
    assert RULE.next_attempt(finished_at=T0, interval=HALF_HOUR, deadline=deadline) == (
        deadline - MARGIN
    )


def test_after_the_last_call_there_is_no_next_attempt() -> None:
    deadline = T0 + dt.timedelta(minutes=35)
    last_call = deadline - MARGIN
    for finished in (last_call, last_call + dt.timedelta(seconds=3)):
        assert (
            RULE.next_attempt(finished_at=finished, interval=HALF_HOUR, deadline=deadline) is None
        )


def test_a_retry_exactly_at_the_last_call_is_regular() -> None:
    deadline = T0 + HALF_HOUR + MARGIN
    next_at = RULE.next_attempt(finished_at=T0, interval=HALF_HOUR, deadline=deadline)
    assert next_at == T0 + HALF_HOUR


def test_an_attempt_starts_only_if_its_whole_budget_ends_before_the_guard() -> None:
    deadline = T0 + WEEK
    last_start = deadline - SEND_GUARD - BUDGET
    assert RULE.last_start(deadline) == last_start
    assert RULE.can_start(last_start - dt.timedelta(seconds=1), deadline)
    assert not RULE.can_start(last_start, deadline)
    assert not RULE.can_start(deadline + dt.timedelta(days=1), deadline)
    # The sweeper's cut-off is the same line seen from the other side.
    assert RULE.expiry_cutoff(last_start) == deadline


def test_the_last_call_leaves_time_to_start_it() -> None:
    deadline = T0 + WEEK
    assert RULE.can_start(deadline - MARGIN, deadline)
    no_budget = DeadlineRule(margin=MARGIN, budget=dt.timedelta(0))
    assert no_budget.can_start(deadline - SEND_GUARD - dt.timedelta(seconds=1), deadline)
    assert not no_budget.can_start(deadline - SEND_GUARD, deadline)
