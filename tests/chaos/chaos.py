"""The chaos run: Tenaz under faults, then a check that nothing was lost.

Two gRPC servers (sharing one address with SO_REUSEPORT, the kernel spreading
connections among them) and three workers run as separate processes against a private
PostgreSQL; this process hosts the fake Meta, submits the events, watches the
status stream, and meanwhile kills servers and workers with SIGKILL at random
moments (restarting them), takes Meta down for a while, and restarts
PostgreSQL once. When every delivery has settled it checks and prints:

- every acknowledged submission is stored;
- every event is in the right state: SUCCEEDED, or FAILED `rejected` for the
  invalid ones; nothing stuck in SENDING or RESENDING, nothing lost;
- how many events the platform received twice (only where an attempt got no
  answer: a kill interrupted its request, its time budget ran out while the
  request was in flight, the request timed out or the exchange broke; the same
  event_id, which the platform deduplicates);
- a status-stream consumer (the Python client's `follow_status`, which
  reconnects after every server kill) saw every change exactly once, in order;
- the stats counters say what counting the rows says.

`make chaos` runs the full size; `make test` runs a short one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import itertools
import os
import random
import signal
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from tenaz.client import Reconnecting, ReconnectPolicy, TenazClient, TenazError, make_event

from jobs import keys
from jobs.base_url import BaseUrl
from jobs.destinations import DestinationSpec
from jobs.migrate import migrate
from jobs.platforms.fake_meta import FakeMeta, FakeMetaServer
from jobs.runtime import open_runtime
from jobs.secrets import generate_key
from jobs.settings import Settings
from tests.support import META_REFUSES, counters_that_differ, free_port

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pgserver warns at import when XDG_RUNTIME_DIR is unset
    import pgserver

PIXEL, TOKEN = "111", "chaos-token"


@dataclasses.dataclass(frozen=True)
class ChaosConfig:
    events: int = 20_000
    batch: int = 250
    servers: int = 2
    workers: int = 3
    kills: int = 24
    kill_every: float = 1.0  # seconds between kills, on average
    invalid_every: int = 40  # every Nth event carries data Meta refuses
    transient_rate: float = 0.05
    outage: float = 6.0  # seconds Meta is down
    timeout: float = 900.0
    seed: int = 20261126


@dataclasses.dataclass
class Report:
    config: ChaosConfig
    acknowledged: int = 0
    stored: int = 0
    succeeded: int = 0
    failed_rejected: int = 0
    wrong_state: int = 0
    stuck: int = 0
    platform_duplicates: int = 0
    unexplained_duplicates: int = 0
    kills: Counter[str] = dataclasses.field(default_factory=Counter)
    postgres_restarts: int = 0
    # Processes that exited by themselves (one starting while PostgreSQL restarts gives up),
    # started again as a supervisor (systemd's Restart=on-failure) would.
    self_exits: int = 0
    changes_in_database: int = 0
    changes_seen: int = 0
    changes_missed: int = 0
    changes_repeated: int = 0
    out_of_order: int = 0
    stream_reconnects: int = 0
    counters_differ: list[str] = dataclasses.field(default_factory=list)
    # The attempts of a few events sent twice though every attempt got its answer.
    unexplained: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        c = self.config
        rows = [
            ("events submitted", f"{c.events} in batches of {c.batch}"),
            ("acknowledged / stored", f"{self.acknowledged} / {self.stored}"),
            ("SUCCEEDED", str(self.succeeded)),
            ("FAILED rejected (invalid on purpose)", str(self.failed_rejected)),
            (
                "in a wrong state / stuck / lost",
                f"{self.wrong_state} / {self.stuck} / {self.acknowledged - self.stored}",
            ),
            (
                "received twice by the platform",
                f"{self.platform_duplicates} (all after an attempt that got no answer,"
                f" interrupted or out of time: {self.unexplained_duplicates == 0})",
            ),
            (
                "SIGKILLs",
                ", ".join(f"{k} {v}" for k, v in sorted(self.kills.items()))
                + f" (total {sum(self.kills.values())})",
            ),
            ("PostgreSQL restarts", str(self.postgres_restarts)),
            ("processes that exited by themselves, restarted", str(self.self_exits)),
            ("Meta outage", f"{c.outage:.0f} s, transient failures {c.transient_rate:.0%}"),
            (
                "status changes in the database / seen by the watcher",
                f"{self.changes_in_database} / {self.changes_seen}",
            ),
            (
                "missed / repeated / out of order",
                f"{self.changes_missed} / {self.changes_repeated} / {self.out_of_order}",
            ),
            ("stream reconnects", str(self.stream_reconnects)),
            ("stats counters equal to the rows", "no" if self.counters_differ else "yes"),
            ("duration", f"{self.seconds:.1f} s"),
            ("result", "PASS" if self.ok else "FAIL: " + "; ".join(self.problems)),
        ]
        width = max(len(name) for name, _ in rows)
        return [f"{name.ljust(width)}  {value}" for name, value in rows]


class Processes:
    """The Tenaz processes under test: started, killed and restarted by name, and started
    again when one exits by itself (`supervise`), as a production supervisor would."""

    def __init__(self, env: dict[str, str], servers: int, workers: int, log_dir: Path) -> None:
        self._env = env
        self._log_dir = log_dir
        self.commands = {
            **{f"server-{i}": "serve" for i in range(servers)},
            **{f"worker-{i}": "worker" for i in range(workers)},
        }
        self.running: dict[str, asyncio.subprocess.Process] = {}
        # Killed on purpose and not started again yet: not the supervisor's to restart.
        self._down: set[str] = set()

    async def start(self, name: str) -> None:
        self._down.discard(name)
        # The child keeps its own copy of the descriptor; ours closes at once.
        with (self._log_dir / f"{name}.log").open("ab") as log:
            self.running[name] = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "server.cli",
                self.commands[name],
                env=self._env,
                stdout=log,
                stderr=log,
            )

    async def kill(self, name: str) -> None:
        self._down.add(name)
        process = self.running[name]
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        await process.wait()

    async def supervise(self, report: Report) -> None:
        """Start again every process that exited without being killed, until cancelled."""
        while True:
            await asyncio.sleep(0.5)
            for name, process in list(self.running.items()):
                if name not in self._down and process.returncode is not None:
                    report.self_exits += 1
                    await self.start(name)

    async def stop_all(self) -> None:
        for process in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        for process in self.running.values():
            try:
                async with asyncio.timeout(30):
                    await process.wait()
            except TimeoutError:
                process.kill()


async def run_chaos(config: ChaosConfig, *, out: Any = sys.stdout) -> Report:
    report = Report(config)
    rng = random.Random(config.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tenaz-chaos-") as tmp:
        root = Path(tmp)
        postgres = pgserver.get_server(root / "pg", cleanup_mode="stop")
        try:
            await _run(config, report, rng, root, postgres)
        finally:
            postgres.cleanup()
    report.seconds = time.monotonic() - started
    for line in report.lines():
        print(line, file=out)
    return report


async def _run(
    config: ChaosConfig,
    report: Report,
    rng: random.Random,
    root: Path,
    postgres: Any,
) -> None:
    url = str(postgres.get_uri())
    await migrate(url)
    secret_key = generate_key()
    port = free_port()
    fake = FakeMeta(
        access_tokens={PIXEL: TOKEN},
        transient_failure_rate=config.transient_rate,
        rng=random.Random(config.seed),
        history_limit=10,
    )
    async with (
        FakeMetaServer(fake) as meta,
        open_runtime(
            Settings(
                database_url=url,
                secret_key=secret_key,
                pool_max_size=4,
                allowed_platform_urls=(BaseUrl.parse(meta.base_url),),
            ),
            url,
        ) as runtime,
    ):
        new_key = await keys.create_key(runtime.pool, workspace="chaos")
        api_key = new_key.secret
        await runtime.destinations.create(
            new_key.workspace.id,
            DestinationSpec(
                name="meta",
                kind="meta",
                settings={"pixel_id": PIXEL, "base_url": meta.base_url},
                secrets={"access_token": TOKEN},
            ),
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("TENAZ_")} | {
            "TENAZ_DATABASE_URL": url,
            "TENAZ_SECRET_KEY": secret_key,
            "TENAZ_LISTEN_ADDRESS": f"127.0.0.1:{port}",
            "TENAZ_DASHBOARD_ADDRESS": "",
            "TENAZ_INGEST_ADDRESS": "",
            # Several workers at once: each /metrics would need a port of its own.
            "TENAZ_METRICS_ADDRESS": "",
            "TENAZ_SUBMIT_RATE_LIMIT": "0",
            "TENAZ_RETRY_INTERVAL": "2s",
            # Long enough for a batch of 1,000 on a loaded machine; short enough that
            # a killed worker's deliveries come back within the run.
            "TENAZ_ATTEMPT_LEASE": "20s",
            "TENAZ_SWEEP_INTERVAL": "1s",
            "TENAZ_HTTP_TIMEOUT": "1s",
            "TENAZ_ATTEMPT_BUDGET": "5s",
            "TENAZ_ALLOWED_PLATFORM_URLS": meta.base_url,
            "TENAZ_WORKER_CONCURRENCY": "8",
            "TENAZ_POOL_MAX_SIZE": "6",
            "TENAZ_LOG_LEVEL": "WARNING",
        }
        processes = Processes(env, config.servers, config.workers, root)
        for name in processes.commands:
            await processes.start(name)

        acknowledged: dict[str, bool] = {}  # event_id -> invalid on purpose
        seen: list[int] = []
        submitting = asyncio.Event()
        settled = asyncio.Event()
        async with TenazClient(f"127.0.0.1:{port}", api_key, timeout=10) as client:
            tasks = [
                asyncio.create_task(_submit(client, config, acknowledged, submitting)),
                asyncio.create_task(_watch(client, seen, settled, report)),
                asyncio.create_task(
                    _chaos(config, rng, processes, postgres, fake, submitting, report)
                ),
                asyncio.create_task(processes.supervise(report)),
            ]
            try:
                async with asyncio.timeout(config.timeout):
                    await tasks[0]
                    await tasks[2]
                    await _settle(runtime, report)
                    settled.set()
                    await tasks[1]
            except TimeoutError:
                report.problems.append(f"did not settle within {config.timeout:.0f} s")
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await processes.stop_all()
        await _check(runtime, fake, acknowledged, seen, report)


async def _submit(
    client: TenazClient,
    config: ChaosConfig,
    acknowledged: dict[str, bool],
    submitting: asyncio.Event,
) -> None:
    submitting.set()
    for start in range(0, config.events, config.batch):
        batch = []
        for i in range(start, min(start + config.batch, config.events)):
            invalid = i % config.invalid_every == config.invalid_every - 1
            batch.append(
                (
                    f"order-{i}",
                    invalid,
                    make_event(
                        event_id=f"order-{i}",
                        event_name="Purchase",
                        event_time=dt.datetime.now(dt.UTC),
                        external_id=f"customer-{i}",
                        value=None if invalid else 10.0,
                        currency="BRL",
                        extra=META_REFUSES if invalid else None,
                    ),
                )
            )
        while True:  # the server may be down: try again until acknowledged
            try:
                await client.submit_events([event for _, _, event in batch])
                break
            except TenazError:
                await asyncio.sleep(0.2)
        acknowledged.update({event_id: invalid for event_id, invalid, _ in batch})
    submitting.clear()


async def _watch(
    client: TenazClient, seen: list[int], settled: asyncio.Event, report: Report
) -> None:
    """Follow the stream from the start, through every server kill (the client reconnects)."""

    def reconnecting(_: Reconnecting) -> None:
        report.stream_reconnects += 1

    follow = client.follow_status(
        after_sequence=0,
        heartbeat_interval=dt.timedelta(seconds=1),
        # The server may not be up yet when the run starts.
        reconnect=ReconnectPolicy(backoff=(0.2,), wait_for_server=True),
        on_reconnect=reconnecting,
    )
    async with contextlib.aclosing(follow):
        async for message in follow:
            if message.HasField("change"):
                seen.append(message.change.sequence)
            elif settled.is_set() and message.heartbeat.last_sequence >= report.changes_in_database:
                return


async def _chaos(
    config: ChaosConfig,
    rng: random.Random,
    processes: Processes,
    postgres: Any,
    fake: FakeMeta,
    submitting: asyncio.Event,
    report: Report,
) -> None:
    outage_at = config.kills // 3
    restart_at = config.kills // 2
    for round_ in range(config.kills):
        await asyncio.sleep(rng.uniform(0.3, 1.7) * config.kill_every)
        name = rng.choice(sorted(processes.commands))
        await processes.kill(name)
        report.kills[name.split("-")[0]] += 1
        if round_ == outage_at:
            fake.set_down(True)
            asyncio.get_running_loop().call_later(config.outage, fake.set_down, False)
        if round_ == restart_at:
            await asyncio.to_thread(_restart_postgres, postgres)
            report.postgres_restarts += 1
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        await processes.start(name)


def _restart_postgres(postgres: Any) -> None:
    """An immediate (crash-like) restart: committed data must survive it."""
    from pgserver import _commands

    kwargs: dict[str, Any] = {"timeout": 60}
    if postgres.system_user is not None:
        kwargs["user"] = postgres.system_user
    _commands.pg_ctl(["-w", "-m", "immediate", "restart"], pgdata=postgres.pgdata, **kwargs)


async def _settle(runtime: Any, report: Report) -> None:
    """Wait until no delivery is pending, in progress or waiting for a retry."""
    while True:
        async with runtime.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) FILTER (WHERE status <> 'SUCCEEDED' AND status <> 'FAILED'),"
                " (SELECT coalesce(max(seq), 0) FROM tenaz_status_changes)"
                " FROM tenaz_deliveries"
            )
            row = await cur.fetchone()
        assert row is not None
        if row[0] == 0:
            report.changes_in_database = int(row[1])
            return
        await asyncio.sleep(0.5)


async def _check(
    runtime: Any,
    fake: FakeMeta,
    acknowledged: dict[str, bool],
    seen: list[int],
    report: Report,
) -> None:
    report.acknowledged = len(acknowledged)
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT e.event_id, d.status, d.failure_reason,"
            # Attempts that ended without the platform's answer: it may have taken them.
            " bool_or(a.outcome IN ('interrupted', 'attempt_budget')"
            "   OR a.message LIKE '%timed out after%'"
            "   OR a.message LIKE '%the platform broke the HTTP exchange%'),"
            " string_agg(a.outcome || ' ' || coalesce(a.http_status::text, '-') || ' '"
            "   || left(a.message, 80), '; ' ORDER BY a.number)"
            " FROM tenaz_events e JOIN tenaz_deliveries d ON d.event_id = e.id"
            " LEFT JOIN tenaz_attempts a ON a.delivery_id = d.id"
            " GROUP BY e.event_id, d.status, d.failure_reason"
        )
        rows = await cur.fetchall()
        cur = await conn.execute("SELECT seq FROM tenaz_status_changes ORDER BY seq")
        in_database = [r[0] for r in await cur.fetchall()]
    stored = {r[0]: r for r in rows}
    report.stored = sum(1 for event_id in acknowledged if event_id in stored)
    for event_id, invalid in acknowledged.items():
        row = stored.get(event_id)
        if row is None:
            continue
        _, status, reason, unanswered, attempts = row
        if status in ("SENDING", "RESENDING", "PENDING", "WAITING_RETRY"):
            report.stuck += 1
        elif invalid and (status, reason) == ("FAILED", "rejected"):
            report.failed_rejected += 1
        elif not invalid and status == "SUCCEEDED":
            report.succeeded += 1
        else:
            report.wrong_state += 1
        received = fake.received_count("Purchase", event_id)
        if received > 1:
            report.platform_duplicates += 1
            if not unanswered:
                report.unexplained_duplicates += 1
                if len(report.unexplained) < 5:
                    report.unexplained.append(f"{event_id}: {attempts}")
    report.changes_in_database = len(in_database)
    report.changes_seen = len(seen)
    counts = Counter(seen)
    report.changes_repeated = sum(n - 1 for n in counts.values() if n > 1)
    report.changes_missed = len(set(in_database) - set(seen))
    report.out_of_order = sum(1 for a, b in itertools.pairwise(seen) if b <= a)

    if report.stored != report.acknowledged:
        report.problems.append(f"{report.acknowledged - report.stored} acknowledged events lost")
    if report.stuck or report.wrong_state:
        report.problems.append(f"{report.stuck} stuck, {report.wrong_state} in a wrong state")
    if report.unexplained_duplicates:
        report.problems.append(
            f"{report.unexplained_duplicates} events sent twice though every attempt was answered"
            f" (attempts: {' / '.join(report.unexplained)})"
        )
    if report.changes_missed or report.changes_repeated or report.out_of_order:
        report.problems.append("the status stream missed, repeated or reordered changes")
    if sum(report.kills.values()) < report.config.kills:
        report.problems.append("fewer kills than configured")
    report.counters_differ = await counters_that_differ(runtime.settings.database_url)
    if report.counters_differ:
        differ = ", ".join(report.counters_differ)
        report.problems.append(f"stats counters differ from the rows: {differ}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=ChaosConfig.events)
    parser.add_argument("--kills", type=int, default=ChaosConfig.kills)
    parser.add_argument("--servers", type=int, default=ChaosConfig.servers)
    parser.add_argument("--workers", type=int, default=ChaosConfig.workers)
    parser.add_argument("--seed", type=int, default=ChaosConfig.seed)
    args = parser.parse_args()
    config = ChaosConfig(
        events=args.events,
        kills=args.kills,
        servers=args.servers,
        workers=args.workers,
        seed=args.seed,
    )
    report = asyncio.run(run_chaos(config))
    raise SystemExit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
