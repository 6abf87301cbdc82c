"""The recovery workload's rate limit: the configured one, unless the retries come due slower
than it allows, so that the limit and not their schedule paces the drain."""

from __future__ import annotations

from bench.harness import Outage
from bench.systems import Waiting


def waiting(count: int, spread: float) -> Waiting:
    return Waiting(count=count, first_due=1000.0, last_due=1000.0 + spread, most_attempts=1)


def test_retries_due_faster_than_the_limit_keep_the_configured_limit() -> None:
    # 100,000 due over 10 s: 10,000/s, faster than 5,000/s.
    assert Outage(rate_limit=5000.0).limit_for(waiting(100_000, 10.0)) == 5000.0


def test_retries_due_slower_than_the_limit_get_80_percent_of_their_rate() -> None:
    # 100,000 due over 21.1 s: 4,739/s; 80% is 3,791, in whole hundreds 3,700.
    assert Outage(rate_limit=5000.0).limit_for(waiting(100_000, 21.1)) == 3700.0


def test_no_limit_stays_none_and_retries_due_at_once_keep_the_limit() -> None:
    assert Outage().limit_for(waiting(100, 5.0)) is None
    assert Outage(rate_limit=300.0).limit_for(waiting(600, 0.0)) == 300.0
    # Never below 100/s, however slowly they came due.
    assert Outage(rate_limit=300.0).limit_for(waiting(10, 100.0)) == 100.0
