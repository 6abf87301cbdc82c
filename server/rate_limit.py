"""A per-API-key limit on submitted events: a token bucket per key, in each server process.

A client over its rate gets RESOURCE_EXHAUSTED with a `google.rpc.RetryInfo`
saying when to try again, instead of an overloaded database for everyone.
With several server processes the limit applies in each of them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


class RateLimited(Exception):
    def __init__(self, retry_after: float, limit: float) -> None:
        super().__init__(
            f"over the submission limit of {limit:g} events per second for this API key;"
            f" retry in {retry_after:.1f} s"
        )
        self.retry_after = retry_after


@dataclass
class _Bucket:
    tokens: float
    updated: float


class SubmissionLimiter:
    """`rate` events per second per key, with bursts up to `burst` events."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = max(burst, 1.0)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, events: int) -> None:
        """Spend `events` tokens of `key`'s bucket, or raise RateLimited."""
        if self._rate <= 0:
            return
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) > 100_000:
                self._buckets.clear()
            bucket = self._buckets[key] = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if events <= bucket.tokens:
            bucket.tokens -= events
            return
        # A call bigger than the burst can never pass: ask for what the bucket can hold.
        wanted = min(events, self._burst)
        retry_after = max((wanted - bucket.tokens) / self._rate, 0.001)
        raise RateLimited(math.ceil(retry_after * 1000) / 1000, self._rate)
