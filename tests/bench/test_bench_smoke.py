"""A tiny benchmark run inside `make test`, so that `make bench` does not rot.

It checks that every workload runs for Tenaz and for the baseline, that every acknowledged
event was delivered, and that the report is written; never how fast anything was.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.__main__ import parse_args, run
from bench.workloads import WORKLOADS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def test_a_quick_run_delivers_every_event_of_both_systems_and_writes_the_report(
    tmp_path: Path,
) -> None:
    output = tmp_path / "benchmarks.md"
    outcome = asyncio.run(run(parse_args(["--quick", "--output", str(output)])))

    assert set(outcome.results) == {(s, w) for s in ("tenaz", "baseline") for w in WORKLOADS}
    for (system, workload), result in outcome.results.items():
        where = f"{system} / {workload}"
        assert result.acknowledged > 0, where
        assert result.client_errors == 0, (where, result.error_samples)
        assert result.failed == 0, where
        assert result.succeeded == result.deliveries >= result.acknowledged, where
    assert outcome.results[("tenaz", "retry")].retry_gaps, "the retry workload made no retry"
    assert outcome.results[("baseline", "retry")].retry_gaps, "the retry workload made no retry"
    assert outcome.results[("tenaz", "latency")].first_attempts

    report = output.read_text()
    for heading in ("# Benchmarks", "## The machine", "## How it ran", "| workload |"):
        assert heading in report
    assert "fsync=on" in report and "synchronous_commit=on" in report
    assert "recovery" in report and "not implemented yet" in report
