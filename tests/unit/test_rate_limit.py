"""The per-key token bucket: bursts, refill, retry hints, keys apart."""

from __future__ import annotations

import pytest

from server.rate_limit import RateLimited, SubmissionLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_gets_its_burst_then_its_rate() -> None:
    clock = Clock()
    limiter = SubmissionLimiter(rate=10, burst=20, clock=clock)
    limiter.take("a", 20)
    with pytest.raises(RateLimited) as caught:
        limiter.take("a", 5)
    assert caught.value.retry_after == pytest.approx(0.5)
    limiter.take("b", 20)  # another key has its own bucket
    clock.now = 0.5
    limiter.take("a", 5)
    with pytest.raises(RateLimited):
        limiter.take("a", 1)


def test_a_call_bigger_than_the_burst_is_told_when_the_bucket_is_full() -> None:
    clock = Clock()
    limiter = SubmissionLimiter(rate=100, burst=50, clock=clock)
    limiter.take("a", 50)
    with pytest.raises(RateLimited) as caught:
        limiter.take("a", 1000)
    assert caught.value.retry_after == pytest.approx(0.5)


def test_zero_means_no_limit() -> None:
    limiter = SubmissionLimiter(rate=0, burst=0)
    for _ in range(100):
        limiter.take("a", 1_000_000)
