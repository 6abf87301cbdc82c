"""One event, two languages, one real server: what the TypeScript client submits the
Python client watches through every status, and the reverse."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from tenaz.client import TenazClient, make_event
from tenaz.v1 import events_pb2

from jobs.clock import FakeClock
from jobs.runtime import Runtime
from tests.interop.conftest import TYPESCRIPT, run, start
from tests.support import fire_due_retries, run_jobs

# Starts the client programs as subprocesses.
# The first test of a session builds its client (tsc, go build: up to 120 s each).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

S = events_pb2
RETRY = dt.timedelta(seconds=5)
# The sandbox refuses the first attempt (as an outage would), so the event goes through
# every status on its way to SUCCEEDED.
EXPECTED = [
    ("UNSPECIFIED", "PENDING"),
    ("PENDING", "SENDING"),
    ("SENDING", "WAITING_RETRY"),
    ("WAITING_RETRY", "RESENDING"),
    ("RESENDING", "SUCCEEDED"),
]


def interop_cli(typescript_build: Path) -> list[str]:
    node = shutil.which("node")
    assert node is not None
    return [node, str(typescript_build / "test" / "interop.js")]


def status_name(status: events_pb2.DeliveryStatus) -> str:
    return S.DeliveryStatus.Name(status).removeprefix("DELIVERY_STATUS_")


async def deliver_with_one_retry(runtime: Runtime, clock: FakeClock) -> None:
    await run_jobs(runtime)
    clock.advance(RETRY)
    assert await fire_due_retries(runtime) == 1


async def test_submitted_from_typescript_watched_from_python(
    typescript_build: Path,
    client_env: dict[str, str],
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
) -> None:
    await client.create_sandbox_destination("sandbox", retry_interval=RETRY)

    submit = await run(
        [*interop_cli(typescript_build), "submit", "ts-to-py-1", "1"],
        cwd=TYPESCRIPT,
        env=client_env,
    )
    assert submit.returncode == 0, submit.describe()
    submitted = json.loads(submit.stdout)
    assert submitted["duplicate"] is False
    assert [d["status"] for d in submitted["deliveries"]] == ["PENDING"]

    seen: list[events_pb2.StatusChange] = []

    async def watch() -> None:
        async for message in client.watch_status(after_sequence=0, event_ids=["ts-to-py-1"]):
            if message.HasField("change"):
                seen.append(message.change)
                if message.change.to_status == S.DELIVERY_STATUS_SUCCEEDED:
                    return

    watcher = asyncio.create_task(watch())
    await deliver_with_one_retry(runtime, clock)
    async with asyncio.timeout(10):
        await watcher

    assert [(status_name(c.from_status), status_name(c.to_status)) for c in seen] == EXPECTED
    assert {c.event_id for c in seen} == {submitted["id"]}
    assert [c.attempt_number for c in seen] == [0, 1, 1, 2, 2]
    stored = await client.get_event(submitted["id"])
    assert stored.event.event_id == "ts-to-py-1"
    assert [a.outcome for a in stored.deliveries[0].attempts] == [
        S.ATTEMPT_OUTCOME_EXTERNAL_PROBLEM,
        S.ATTEMPT_OUTCOME_SUCCEEDED,
    ]


async def test_submitted_from_python_watched_from_typescript(
    typescript_build: Path,
    client_env: dict[str, str],
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
) -> None:
    await client.create_sandbox_destination("sandbox", retry_interval=RETRY)
    watcher = await start(
        [*interop_cli(typescript_build), "watch", "py-to-ts-1", "SUCCEEDED"],
        cwd=TYPESCRIPT,
        env=client_env,
    )

    submitted = await client.submit_event(
        make_event(
            event_id="py-to-ts-1",
            event_name="Purchase",
            event_time=clock.now(),
            email="cliente@example.com",
            value=197.0,
            currency="BRL",
            extra={"sandbox_fail_attempts": 1},
        )
    )
    # The first change (PENDING) is replayed from sequence 0; the rest arrive live.
    await watcher.wait_for_line("{", seconds=20)
    await deliver_with_one_retry(runtime, clock)
    finished = await watcher.finish(seconds=20)

    assert finished.returncode == 0, finished.describe()
    changes = [json.loads(line) for line in finished.stdout.splitlines()]
    assert [(c["from"], c["to"]) for c in changes] == EXPECTED, finished.describe()
    assert {(c["event_id"], c["client_event_id"]) for c in changes} == {
        (submitted.event.id, "py-to-ts-1")
    }
    sequences = [int(c["sequence"]) for c in changes]
    assert sequences == sorted(set(sequences))
