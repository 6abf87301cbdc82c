"""The fake platform's busiest second: the figure that proves a rate limit held."""

from __future__ import annotations

import math

import httpx
import pytest

from bench.fake_platform import Arrivals, busiest_window, steady_rate
from jobs.platforms import fake_http


def test_the_busiest_window_counts_the_events_that_arrived_less_than_a_second_apart() -> None:
    arrivals = [(10.0, 300), (10.5, 200), (10.99, 100), (11.0, 400), (12.5, 50)]

    assert busiest_window(arrivals) == (700, 10.5)


def test_events_a_full_second_apart_are_in_different_windows() -> None:
    assert busiest_window([(1.0, 5000), (2.0, 5000), (3.0, 5000)]) == (5000, 1.0)


def test_no_arrivals_make_an_empty_window() -> None:
    events, _ = busiest_window([])

    assert events == 0


def test_the_summary_counts_each_second_from_the_first_accepted_request() -> None:
    arrivals = Arrivals()
    arrivals.up_at = 99.5
    arrivals.accepted = [(101.2, 10), (100.0, 5), (100.9, 1), (103.0, 2)]

    summary = arrivals.summary()

    assert summary["first_accepted"] == 100.0
    assert summary["last_accepted"] == 103.0
    assert summary["per_second"] == [6, 10, 0, 2]
    assert summary["busiest_second_events"] == 11


def test_the_steady_rate_of_bursts_is_the_burst_over_the_period() -> None:
    # 5,000 events every 1.1 s, in five requests each: the first burst is not instant.
    arrivals = [(k * 1.1 + r * 0.01, 1000) for k in range(20) for r in range(5)]

    assert steady_rate(arrivals) == pytest.approx(5000 / 1.1, rel=0.01)


def test_a_steady_rate_needs_two_arrivals() -> None:
    assert math.isnan(steady_rate([(1.0, 10)]))


class _Ticks:
    """A clock that moves one second at each reading."""

    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        self.now += 1.0
        return self.now


async def test_a_request_arrives_when_its_head_is_read_not_when_its_handler_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticks = _Ticks()
    monkeypatch.setattr(fake_http, "time", ticks)
    seen: list[tuple[float | None, float]] = []

    class Noting:
        async def handle(self, *_: object) -> fake_http.Reply:
            seen.append((fake_http.REQUEST_ARRIVED.get(None), ticks.time()))
            return 200, {"content-type": "text/plain"}, b"ok"

    async with (
        fake_http.FakeServer(Noting()) as server,
        httpx.AsyncClient(base_url=server.base_url) as client,
    ):
        for _ in range(2):  # two requests on one kept-alive connection
            assert (await client.post("/", content=b"x" * 100_000)).status_code == 200

    # Each request's arrival is the reading taken as its head came in, before its handler
    # ran, and the second request's is its own, not the first one's.
    (first_arrived, first_handled), (second_arrived, second_handled) = seen
    assert first_arrived is not None and second_arrived is not None
    assert first_arrived < first_handled < second_arrived < second_handled
