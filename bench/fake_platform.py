"""The fake Meta as a process of its own: `python -m bench.fake_platform --failure-rate 0.2`.

It serves Tenaz's `FakeMetaServer` (real HTTP/1.1 on loopback) so that the platform's CPU is
measured apart from the systems under test. It prints one JSON line when it listens
(`{"url": ...}`) and one when SIGTERM or SIGINT stops it (`{"requests": ..., "events": ...}`).
With `--failure-rate R`, a fraction R of the requests fail with HTTP 503 (a transient
problem), spread evenly and starting with the first (R=0.2: requests 1, 6, 11, ...), so that a
run with few requests (Tenaz sends up to 1,000 events in one) still sees failures, and every
run sees the same ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import signal
import sys

from jobs.platforms.fake_meta import FakeMeta, FakeMetaServer

PIXEL_ID = "424242"
ACCESS_TOKEN = "bench-token"  # noqa: S105 - the fake platform's, not a secret


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


async def serve(failure_rate: float) -> None:
    fake = FakeMeta(
        access_tokens={PIXEL_ID: ACCESS_TOKEN},
        transient_failure_rate=failure_rate,
        rng=EvenFailures(failure_rate),
        history_limit=4,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with FakeMetaServer(fake) as server:
        print(json.dumps({"url": server.base_url}), flush=True)
        await stop.wait()
    print(
        json.dumps({"requests": fake.request_count, "events": fake.total_events_received}),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--failure-rate", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(serve(args.failure_rate))
    sys.exit(0)


if __name__ == "__main__":
    main()
