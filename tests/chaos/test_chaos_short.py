"""A short chaos run inside `make test`: kills, an outage and a PostgreSQL restart,
then every check of the full run (`make chaos`)."""

from __future__ import annotations

import io

import pytest

from tests.chaos.chaos import ChaosConfig, run_chaos

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def test_a_short_chaos_run_loses_nothing() -> None:
    out = io.StringIO()
    report = await run_chaos(
        ChaosConfig(events=1500, batch=100, kills=6, kill_every=0.8, outage=2.0, timeout=240),
        out=out,
    )
    print(out.getvalue())
    assert report.ok, out.getvalue()
    assert report.postgres_restarts == 1
    assert sum(report.kills.values()) >= 6
    assert report.succeeded + report.failed_rejected == report.acknowledged == 1500
    assert report.changes_seen == report.changes_in_database > 0
