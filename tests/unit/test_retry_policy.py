"""The 30-minute rule and the last attempt before the deadline, to the second."""

from __future__ import annotations

import datetime as dt

from jobs.retry_policy import SEND_GUARD, can_send, next_attempt_at

T0 = dt.datetime(2026, 11, 20, 12, 0, 0, tzinfo=dt.UTC)
HALF_HOUR = dt.timedelta(minutes=30)
MARGIN = dt.timedelta(minutes=10)
WEEK = dt.timedelta(days=7)


def test_next_attempt_is_end_of_last_attempt_plus_interval() -> None:
    finished = T0 + dt.timedelta(seconds=7.25)
    assert (
        next_attempt_at(finished_at=finished, interval=HALF_HOUR, deadline=T0 + WEEK, margin=MARGIN)
        == finished + HALF_HOUR
    )


def test_when_the_regular_retry_would_miss_the_deadline_the_last_call_is_used() -> None:
    deadline = T0 + dt.timedelta(minutes=35)
    # Regular retry at 12:30 is after the last call 12:25: retry at the last call.
    assert (
        next_attempt_at(finished_at=T0, interval=HALF_HOUR, deadline=deadline, margin=MARGIN)
        == deadline - MARGIN
    )


def test_after_the_last_call_there_is_no_next_attempt() -> None:
    deadline = T0 + dt.timedelta(minutes=35)
    last_call = deadline - MARGIN
    assert (
        next_attempt_at(finished_at=last_call, interval=HALF_HOUR, deadline=deadline, margin=MARGIN)
        is None
    )
    assert (
        next_attempt_at(
            finished_at=last_call + dt.timedelta(seconds=3),
            interval=HALF_HOUR,
            deadline=deadline,
            margin=MARGIN,
        )
        is None
    )


def test_a_retry_exactly_at_the_last_call_is_regular() -> None:
    deadline = T0 + HALF_HOUR + MARGIN
    assert (
        next_attempt_at(finished_at=T0, interval=HALF_HOUR, deadline=deadline, margin=MARGIN)
        == T0 + HALF_HOUR
    )


def test_nothing_is_sent_within_the_guard_of_the_deadline() -> None:
    deadline = T0 + WEEK
    none = dt.timedelta(0)
    assert can_send(deadline - SEND_GUARD - dt.timedelta(seconds=1), deadline, none)
    assert not can_send(deadline - SEND_GUARD, deadline, none)
    assert not can_send(deadline + dt.timedelta(days=1), deadline, none)


def test_an_attempt_starts_only_if_its_whole_budget_ends_before_the_guard() -> None:
    deadline = T0 + WEEK
    budget = dt.timedelta(minutes=2)
    last_start = deadline - SEND_GUARD - budget
    assert can_send(last_start - dt.timedelta(seconds=1), deadline, budget)
    assert not can_send(last_start, deadline, budget)
