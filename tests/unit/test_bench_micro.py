"""`python -m bench.micro` runs the server's and the workers' hot paths as they run in Tenaz,
and says what each step cost per event."""

from __future__ import annotations

import asyncio
import re

import pytest

from bench import micro

_LINE = re.compile(r"(server|worker): +([0-9.]+) µs/event  \((.*)\)")


def test_it_prints_the_cost_per_event_of_each_path_and_of_each_step(
    capsys: pytest.CaptureFixture[str],
) -> None:
    micro.main(["--events", "4", "--rounds", "1", "--repeat", "1"])

    lines = capsys.readouterr().out.splitlines()
    matches = [_LINE.fullmatch(line) for line in lines]
    assert all(matches), lines
    found = {m.group(1): m for m in matches if m is not None}
    assert list(found) == ["server", "worker"]
    steps = {
        path: [part.split(" ")[0] for part in m.group(3).split("  ")] for path, m in found.items()
    }
    assert steps == {
        "server": ["decode", "check", "choose", "births", "answer"],
        "worker": ["load", "claim", "encode", "finish"],
    }
    for m in found.values():
        parts = [float(part.split(" ")[1]) for part in m.group(3).split("  ")]
        assert float(m.group(2)) == pytest.approx(sum(parts), abs=0.1 * len(parts))


def test_the_server_path_answers_for_every_event_and_the_worker_path_sends_each_once() -> None:
    now = micro.dt.datetime.now(micro.dt.UTC)  # the events happen now (bench.load)
    value = None
    with asyncio.Runner() as runner:
        for _, step in micro.server_steps(3, now, runner):
            value = step(value)
        assert [len(r.deliveries) for r in value.results] == [1, 1, 1]
        assert {r.deliveries[0].destination for r in value.results} == {"meta"}

        value = None
        for _, step in micro.worker_steps(3, now, runner):
            value = step(value)
    assert value == {"SUCCEEDED": 3}
