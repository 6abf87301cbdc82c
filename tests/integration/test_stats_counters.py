"""The stats counters (migration 0017): whatever moves deliveries and attempts (submissions,
workers, retries, an operator's retry and cancel, a destination's deletion, retention), the
counters say what counting the rows says, and an upgrade counts what was already there."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest
from tenaz.client import TenazClient, make_event
from tenaz.v1 import events_pb2

import jobs.migrate
from jobs.clock import FakeClock
from jobs.migrate import migrate
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime
from tests.support import META_REFUSES, counters_that_differ, fire_due_retries, run_jobs

S = events_pb2


def event(clock: FakeClock, event_id: str, *to: str, **fields: Any) -> events_pb2.Event:
    return make_event(
        event_id=event_id,
        event_name="Purchase",
        event_time=clock.now(),
        email="a@example.com",
        destinations=list(to),
        **fields,
    )


async def test_every_writer_keeps_the_counters_equal_to_the_rows(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    url = runtime.settings.database_url
    await client.create_sandbox_destination("sandbox")
    await client.submit_events([event(clock, f"ok-{i}") for i in range(5)])
    await client.submit_event(event(clock, "refused", "sandbox", extra=META_REFUSES))
    assert await counters_that_differ(url) == []  # births
    await run_jobs(runtime)
    assert await counters_that_differ(url) == []  # claims, successes and a refusal

    clock.advance(dt.timedelta(minutes=3))  # another minute's rows
    fake_meta.fake.set_down(True)
    waiting = await client.submit_events([event(clock, f"late-{i}", "meta") for i in range(3)])
    await run_jobs(runtime)
    assert await counters_that_differ(url) == []  # waiting for a retry
    clock.advance(dt.timedelta(minutes=30))
    assert await fire_due_retries(runtime) == 1
    assert await counters_that_differ(url) == []  # resent, waiting again

    first, second, third = (r.deliveries[0].id for r in waiting.results)
    await client.cancel_deliveries([first])
    fake_meta.fake.set_down(False)
    await client.retry_deliveries([second])
    await run_jobs(runtime)
    assert await counters_that_differ(url) == []  # an operator's cancel and retry
    [still_waiting] = (await client.get_event(waiting.results[2].id)).deliveries
    assert (still_waiting.id, still_waiting.status) == (third, S.DELIVERY_STATUS_WAITING_RETRY)

    await client.delete_destination("meta")
    assert await counters_that_differ(url) == []  # a deletion ends what was open

    clock.advance(runtime.settings.retention + dt.timedelta(minutes=1))
    counts = await runtime.retention.purge()
    assert counts["events"] == 9
    assert counts["counters"] > 0
    assert await counters_that_differ(url) == []  # retention took everything out of the counts
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM tenaz_delivery_counts").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM tenaz_attempt_counts").fetchone() == (0,)


async def test_stats_windows_begin_on_a_whole_minute(
    client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    created = clock.now()
    await client.submit_event(event(clock, "o-1"))
    await run_jobs(runtime)
    clock.advance(dt.timedelta(minutes=5))

    # A window starting after the event, within the minute it was created in, counts it.
    since = created.replace(second=59, microsecond=999_000)
    stats = await client.get_stats(since=since, bucket=dt.timedelta(minutes=1))
    assert stats.since.ToDatetime(tzinfo=dt.UTC) == created.replace(second=0, microsecond=0)
    assert [(c.destination, c.status, c.count) for c in stats.counts] == [
        ("meta", S.DELIVERY_STATUS_SUCCEEDED, 1)
    ]
    assert stats.attempts[0].succeeded == 1
    # The next minute's window does not.
    later = await client.get_stats(since=since + dt.timedelta(seconds=1))
    assert list(later.counts) == []
    assert sum(bucket.succeeded for bucket in later.attempts) == 0


async def test_an_upgrade_counts_the_deliveries_and_attempts_already_stored(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = empty_database
    everything = list(jobs.migrate._migrations())
    monkeypatch.setattr(
        jobs.migrate, "_migrations", lambda: iter(m for m in everything if m[0] < "0017")
    )
    await migrate(url)
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO tenaz_workspaces (id, name) VALUES (1, 'acme');"
            " INSERT INTO tenaz_destinations (id, workspace_id, name, kind, created_at,"
            "  updated_at) VALUES (1, 1, 'meta', 'meta', now(), now());"
            " INSERT INTO tenaz_events (id, workspace_id, event_name, event_id, event_time,"
            "  payload, received_at)"
            " SELECT i, 1, 'Purchase', 'o-' || i, now(), '{}', now()"
            " FROM generate_series(1, 4) AS i;"
            " INSERT INTO tenaz_deliveries (id, workspace_id, event_id, destination_id, status,"
            "  attempt_count, next_attempt_at, deadline, created_at, updated_at)"
            " SELECT i, 1, i, 1, CASE WHEN i < 4 THEN 'SUCCEEDED' ELSE 'WAITING_RETRY' END, 1,"
            "  now(), now() + interval '7 days', now() - i * interval '1 minute', now()"
            " FROM generate_series(1, 4) AS i;"
            " INSERT INTO tenaz_attempts (delivery_id, number, trigger, started_at,"
            "  finished_at, outcome, message)"
            " SELECT i, 1, 'automatic', now(), now(),"
            "  CASE WHEN i < 4 THEN 'succeeded' ELSE 'external_problem' END, 'HTTP 503'"
            " FROM generate_series(1, 4) AS i"
        )
    monkeypatch.undo()
    assert "0017_stats_counters" in await migrate(url)

    assert await counters_that_differ(url) == []
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT status, n FROM tenaz_unfinished_counts").fetchall() == [
            ("WAITING_RETRY", 1)
        ]


async def test_a_destinations_last_success_and_failure_are_its_newest(
    client: TenazClient, runtime: Runtime, clock: FakeClock, fake_meta: FakeMetaServer, meta: str
) -> None:
    succeeded_at = clock.now()
    await client.submit_event(event(clock, "o-1"))
    await run_jobs(runtime)
    clock.advance(dt.timedelta(minutes=5))
    failed_at = clock.now()
    fake_meta.fake.set_down(True)
    await client.submit_event(event(clock, "o-2"))
    await run_jobs(runtime)
    clock.advance(dt.timedelta(minutes=1))

    [health] = (await client.get_stats()).destinations
    assert health.last_success_at.ToDatetime(tzinfo=dt.UTC) == succeeded_at
    assert health.last_failure_at.ToDatetime(tzinfo=dt.UTC) == failed_at
    assert health.health == S.DESTINATION_HEALTH_FAILING
    # A window that ends before the failure knows only the success.
    [earlier] = (await client.get_stats(until=failed_at - dt.timedelta(minutes=2))).destinations
    assert earlier.last_success_at.ToDatetime(tzinfo=dt.UTC) == succeeded_at
    assert not earlier.HasField("last_failure_at")
    assert earlier.health == S.DESTINATION_HEALTH_HEALTHY
