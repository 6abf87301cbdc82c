"""The fake Meta as a process of its own: `python -m bench.fake_platform --failure-rate 0.2`.

It serves Tenaz's `FakeMetaServer` (real HTTP/1.1 on loopback) so that the platform's CPU is
measured apart from the systems under test. It prints one JSON line when it listens
(`{"url": ...}`) and one when SIGTERM or SIGINT stops it (`{"requests": ..., "events": ...}`,
with what it accepted and when: see `Arrivals.summary`).

With `--failure-rate R`, a fraction R of the requests fail with HTTP 503 (a transient
problem), spread evenly and starting with the first (R=0.2: requests 1, 6, 11, ...), so that a
run with few requests (Tenaz sends up to 1,000 events in one) still sees failures, and every
run sees the same ones. With `--down`, it starts in an outage (every request gets HTTP 503,
`FakeMeta.set_down`) and comes back on SIGUSR1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import signal
import sys
import time
from collections.abc import Mapping
from typing import Any

from jobs.platforms.fake_http import REQUEST_ARRIVED, Reply
from jobs.platforms.fake_meta import FakeMeta, FakeMetaServer

PIXEL_ID = "424242"
ACCESS_TOKEN = "bench-token"  # noqa: S105 - the fake platform's, not a secret
# Seconds after the first accepted request whose counts the summary lists one by one.
PER_SECOND_LISTED = 600


class EvenFailures(random.Random):
    """Stands in for FakeMeta's random source, which it draws once per request when it has a
    failure rate: returns 0.0 (fail) for the requests whose turn it is, 1.0 (pass) otherwise."""

    def __init__(self, rate: float) -> None:
        super().__init__(0)
        self._rate = rate
        self._draws = 0

    def random(self) -> float:
        self._draws += 1
        due = math.ceil(self._draws * self._rate - 1e-9) > math.ceil(
            (self._draws - 1) * self._rate - 1e-9
        )
        return 0.0 if due else 1.0


def busiest_window(arrivals: list[tuple[float, int]], width: float = 1.0) -> tuple[int, float]:
    """The most events that arrived less than `width` seconds apart from first to last, and
    when the first of them arrived; `arrivals` are (time, events), sorted by time."""
    best, best_start, inside, first = 0, math.nan, 0, 0
    for at, events in arrivals:
        inside += events
        while arrivals[first][0] <= at - width:
            inside -= arrivals[first][1]
            first += 1
        if inside > best:
            best, best_start = inside, arrivals[first][0]
    return best, best_start


def steady_rate(arrivals: list[tuple[float, int]]) -> float:
    """Events per second: the slope of the least-squares line through (arrival time, events
    accepted so far) of every request (so far = before it plus half its own), sorted by time.

    Unlike events / (last - first), it does not count the first burst as instant: a limiter
    that sends its allowance in bursts at the start of each window scores the limit."""
    if len(arrivals) < 2:
        return math.nan
    points = []
    accepted = 0
    for at, events in arrivals:
        points.append((at, accepted + events / 2))
        accepted += events
    mean_t = sum(t for t, _ in points) / len(points)
    mean_n = sum(n for _, n in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return math.nan
    return sum((t - mean_t) * (n - mean_n) for t, n in points) / spread


class Arrivals:
    """When each accepted request arrived and how many events it carried."""

    def __init__(self) -> None:
        self.accepted: list[tuple[float, int]] = []
        self.up_at: float | None = None

    def summary(self) -> dict[str, Any]:
        """The busiest second, the steady rate, the first and last accepted arrivals, and the
        events accepted in each whole second from the first (at most PER_SECOND_LISTED)."""
        if not self.accepted:
            return {"up_at": self.up_at}
        accepted = sorted(self.accepted)
        first, last = accepted[0][0], accepted[-1][0]
        busiest, busiest_start = busiest_window(accepted)
        per_second = [0] * min(int(last - first) + 1, PER_SECOND_LISTED)
        for at, events in accepted:
            second = int(at - first)
            if second < len(per_second):
                per_second[second] += events
        return {
            "up_at": self.up_at,
            "first_accepted": first,
            "last_accepted": last,
            "last_request_events": accepted[-1][1],
            "busiest_second_events": busiest,
            "busiest_second_start": busiest_start,
            "steady_rate": steady_rate(accepted),
            "per_second": per_second,
        }


class RecordingFakeMeta(FakeMeta):
    """FakeMeta that also notes the arrival time of every request it accepts."""

    def __init__(self, arrivals: Arrivals, **options: Any) -> None:
        super().__init__(**options)
        self._arrivals = arrivals

    async def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        arrived = REQUEST_ARRIVED.get(time.time())
        reply = await super().handle(method, path, query, headers, body)
        status, _, answer = reply
        if status == 200:
            self._arrivals.accepted.append((arrived, json.loads(answer)["events_received"]))
        return reply


async def serve(failure_rate: float, *, down: bool) -> None:
    arrivals = Arrivals()
    fake = RecordingFakeMeta(
        arrivals,
        access_tokens={PIXEL_ID: ACCESS_TOKEN},
        transient_failure_rate=failure_rate,
        rng=EvenFailures(failure_rate),
        history_limit=4,
    )
    fake.set_down(down)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def come_back() -> None:
        arrivals.up_at = time.time()
        fake.set_down(False)

    loop.add_signal_handler(signal.SIGUSR1, come_back)
    async with FakeMetaServer(fake) as server:
        print(json.dumps({"url": server.base_url}), flush=True)
        await stop.wait()
    print(
        json.dumps(
            {"requests": fake.request_count, "events": fake.total_events_received}
            | arrivals.summary()
        ),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument(
        "--down", action="store_true", help="start in an outage (HTTP 503); SIGUSR1 ends it"
    )
    args = parser.parse_args()
    asyncio.run(serve(args.failure_rate, down=args.down))
    sys.exit(0)


if __name__ == "__main__":
    main()
