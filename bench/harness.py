"""One run: one workload against one system, from a fresh database to the figures.

    fresh database (from the system's template) -> fake platform process -> the system's
    server and workers -> load clients (connected, waiting) -> go -> clients finish ->
    every delivery settled -> read the figures from the database -> stop everything

CPU and database counters are read at "go" and when the last delivery settled; RSS is
sampled in between. Every process is stopped when the run ends, whatever happened. A plan
that asks for its write costs has the database's table counters read at "go" too, and again
once the system's server and workers have stopped (their backends report what they wrote as
they exit).

Two variations:

- with an `Outage`, the platform starts down; after the clients are done, once every
  delivery waits for a retry, the destination's rate limit is set and the platform comes back
  when the first retry is due; then as above (every delivery settled);
- with `Phase`s, there are no clients at "go": each phase writes a backlog (or a history of
  settled deliveries) straight into the system's tables and runs its own clients while the
  workers drain, until it has sent its number of deliveries or its time is up, and keeps its
  own RSS peaks; the run ends with the last phase, whether the backlog was drained or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import random
import signal
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bench.postgres import DatabaseCounters, PrivatePostgres
from bench.processes import (
    BenchError,
    Child,
    Supervisor,
    child_env,
    read_json_line,
    wait_serving,
)
from bench.sampler import Peak, ResourceSampler, machine_busy_seconds, own_cpu_seconds
from bench.systems import Options, System, Target, Waiting
from bench.writes import DatabaseWrites

log = logging.getLogger("bench")

READY_TIMEOUT = 90.0
POLL_INTERVAL = 0.5
GROUPS = ("server", "workers", "postgres", "platform", "clients")


@dataclass(frozen=True)
class ClientPlan:
    """One load client process: `python -m bench.load MODE ARGS...`."""

    mode: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class Outage:
    """The platform answers HTTP 503 to everything until every delivery waits for a retry;
    then the destination gets `rate_limit` (None: no limit set) and the platform comes back
    when the first retry is due."""

    rate_limit: float | None = None

    def limit_for(self, waiting: Waiting) -> float | None:
        """The limit to set once `waiting` waits: `rate_limit`, or less when the retries come
        due slower than it allows (a host slow to submit spreads them out): then 80% of the
        rate they come due at, in whole hundreds, so that the limit paces the drain and not
        their schedule, which is what the workload measures."""
        if self.rate_limit is None:
            return None
        spread = waiting.last_due - waiting.first_due
        if not spread > 0:
            return self.rate_limit
        due_rate = waiting.count / spread
        return min(self.rate_limit, max(100.0, math.floor(0.8 * due_rate / 100) * 100))


@dataclass(frozen=True)
class Phase:
    """A stretch of a run in phases: `backlog` deliveries are written into the system's tables
    (`System.seed_backlog`, due at once, or with `history`, `System.seed_history`: a day's
    worth, mostly settled; 0: none), then its workers drain what is due while `clients` run,
    until `deliveries` more have succeeded (None: no such end), for at most `seconds`. The
    clients are told to stop (a line "stop") when the phase ends."""

    label: str
    backlog: int
    seconds: float
    deliveries: int | None = None
    clients: tuple[ClientPlan, ...] = ()
    history: bool = False


@dataclass(frozen=True)
class RunPlan:
    workload: str
    clients: tuple[ClientPlan, ...]
    failure_rate: float = 0.0
    retry_interval: int = 5
    settle_timeout: float = 600.0
    first_attempts: bool = False
    retry_gaps: bool = False
    outage: Outage | None = None
    phases: tuple[Phase, ...] = ()
    # False when the clients' calls submit no events (the unary ceiling's health checks).
    submits: bool = True
    # Read what the run wrote to its database's tables (and WAL) from go until the system's
    # processes have stopped after the last delivery settled.
    write_costs: bool = False
    # The system's server serves its dashboard too (clients get its URL).
    dashboard: bool = False


@dataclass
class PhaseResult:
    label: str
    backlog: int
    seed_seconds: float
    started: float
    ended: float
    # Deliveries that succeeded during the phase.
    delivered: int
    peaks: dict[str, list[Peak]]
    # Per group, (time, RSS of its largest process then) through the phase.
    rss_over_time: dict[str, list[tuple[float, int]]]
    read_latencies_ms: dict[str, list[float]]
    client_errors: int
    # How long the longest-running client that read made its calls for.
    read_seconds: float = 0.0


@dataclass
class RunResult:
    system: str
    workload: str
    go: float
    clients_finished: float
    acknowledged: int
    client_errors: int
    error_samples: list[str]
    latencies_ms: list[float]
    acks: dict[str, float]
    sent: int
    planned: int
    settled_at: float
    deliveries: int = 0
    succeeded: int = 0
    failed: int = 0
    last_success: float | None = None
    cpu: dict[str, float] = field(default_factory=dict)
    # Since "go"; in a run in phases, those of the last phase.
    peaks: dict[str, list[Peak]] = field(default_factory=dict)
    database: DatabaseCounters | None = None
    platform: dict[str, Any] = field(default_factory=dict)
    first_attempts: dict[str, float] = field(default_factory=dict)
    retry_gaps: list[float] = field(default_factory=list)
    # With an outage: when the platform came back, and what waited for a retry then.
    platform_up: float | None = None
    waiting: Waiting | None = None
    # With an outage: the rate limit the destination got (Outage.limit_for).
    rate_limit: float | None = None
    phases: list[PhaseResult] = field(default_factory=list)
    writes: DatabaseWrites | None = None

    @property
    def accept_seconds(self) -> float:
        return self.clients_finished - self.go

    @property
    def deliver_seconds(self) -> float:
        end = self.last_success if self.last_success is not None else self.settled_at
        return end - self.go


# Below Linux's ephemeral range (32768-60999): a port picked here cannot be taken meanwhile
# by a program that asked the kernel for any free port (tests running on the same machine).
_PORTS = range(20_000, 32_000)


def free_address() -> str:
    """A loopback address free now, for a server we are about to start."""
    rng = random.Random()
    for _ in range(100):
        port = rng.choice(_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return f"127.0.0.1:{port}"
    raise BenchError("no free port found between 20000 and 32000")


class Harness:
    def __init__(
        self, postgres: PrivatePostgres, work_dir: Path, options: Options, profile_dir: Path | None
    ) -> None:
        self.postgres = postgres
        self.work_dir = work_dir
        self.options = options
        self.profile_dir = profile_dir
        self._templates: set[str] = set()
        self._runs = itertools.count(1)

    async def template(self, system: System) -> str:
        name = f"{system.key}_template"
        if name not in self._templates:
            url = await asyncio.to_thread(self.postgres.create_database, name)
            await system.make_template(url)
            self._templates.add(name)
        return name

    async def run(self, system: System, plan: RunPlan) -> RunResult:
        template = await self.template(system)
        number = next(self._runs)
        name = f"{system.key}_{plan.workload}_{number}"
        log_dir = self.work_dir / "logs" / f"{number:02d}-{system.key}-{plan.workload}"
        log_dir.mkdir(parents=True, exist_ok=True)
        url = await asyncio.to_thread(self.postgres.create_database, name, template=template)
        log.info("bench.run.database_created", extra={"run": name})
        try:
            async with Supervisor(log_dir) as supervisor:
                return await self._run(system, plan, supervisor, url, log_dir)
        finally:
            log.info("bench.run.stopped", extra={"run": name})
            await asyncio.to_thread(self.postgres.drop_database, name)

    async def _run(
        self,
        system: System,
        plan: RunPlan,
        supervisor: Supervisor,
        url: str,
        log_dir: Path,
    ) -> RunResult:
        platform = await supervisor.start(
            "platform",
            "platform",
            [
                *("-m", "bench.fake_platform", "--failure-rate", str(plan.failure_rate)),
                *(("--down",) if plan.outage is not None else ()),
            ],
            child_env({}),
            pipes=True,
        )
        platform_url = str((await read_json_line(platform, within=READY_TIMEOUT))["url"])
        log.info("bench.platform.listening", extra={"workload": plan.workload})
        address = free_address()
        dashboard = ""
        while plan.dashboard and dashboard in ("", address):
            dashboard = free_address()
        target = await system.start(
            supervisor,
            url,
            address,
            platform_url,
            plan.retry_interval,
            self.options,
            dashboard_address=dashboard,
        )
        log.info("bench.system.started", extra={"workload": plan.workload, "system": system.key})
        numbers = itertools.count()
        clients = await _start_clients(
            supervisor, plan.workload, plan.clients, target, log_dir, numbers
        )
        services = [c.name for c in supervisor.children.values() if c.group != "clients"]
        await _wait_ready(supervisor, services, target.address, url, self.options.workers)
        log.info("bench.system.ready", extra={"workload": plan.workload})
        for client in clients:
            await read_json_line(client, within=READY_TIMEOUT)
        log.info("bench.clients.ready", extra={"workload": plan.workload})

        sampler = ResourceSampler()
        for child in supervisor.children.values():
            sampler.watch(child.group, child.pid)
        sampler.watch("postgres", self.postgres.postmaster_pid)
        profilers = await self._start_profilers(supervisor, system, plan, log_dir)
        activity = _ActivitySampler(url) if profilers else None
        sampler.start()
        try:
            cpu_before = sampler.cpu()
            machine_before, own_before = machine_busy_seconds(), own_cpu_seconds()
            db_before = await asyncio.to_thread(self.postgres.counters)
            writes_before = (
                await asyncio.to_thread(self.postgres.writes, url) if plan.write_costs else None
            )
            go = time.time()
            deadline = go + plan.settle_timeout
            platform_up: float | None = None
            waiting: Waiting | None = None
            rate_limit: float | None = None
            phases: list[PhaseResult] = []
            if plan.phases:
                outputs = []
                for phase in plan.phases:
                    measured, phase_outputs = await self._phase(
                        supervisor, system, plan, phase, sampler, url, target, log_dir, numbers
                    )
                    phases.append(measured)
                    outputs += phase_outputs
                clients_finished = settled_at = time.time()
            else:
                await _go(clients)
                outputs = await _finish_clients(supervisor, clients, services, log_dir, deadline)
                clients_finished = max(o["finished"] for o in outputs)
                log.info("bench.clients.done", extra={"workload": plan.workload})
                if plan.outage is not None:
                    acknowledged = sum(int(o["acknowledged"]) for o in outputs)
                    platform_up, waiting, rate_limit = await _recover(
                        supervisor,
                        system,
                        plan.outage,
                        url,
                        target,
                        platform,
                        acknowledged,
                        deadline,
                    )
                    log.info("bench.platform.back", extra={"workload": plan.workload})
                settled_at = await _wait_settled(supervisor, system, url, services, deadline)
                log.info("bench.deliveries.settled", extra={"workload": plan.workload})
            cpu_after = sampler.cpu()
            machine_after, own_after = machine_busy_seconds(), own_cpu_seconds()
            db_after = await asyncio.to_thread(self.postgres.counters)
        finally:
            sampler.stop()
            if activity is not None:
                assert self.profile_dir is not None
                activity.stop(self.profile_dir / f"{plan.workload}-{system.key}-postgres.txt")
            # py-spy writes its file on SIGINT (Ctrl-C); SIGTERM would lose it.
            for profiler in profilers:
                with contextlib.suppress(ProcessLookupError):
                    profiler.process.send_signal(signal.SIGINT)
            for profiler in profilers:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(60):
                        await profiler.process.wait()
                await supervisor.stop(profiler.name)

        result = RunResult(
            system=system.key,
            workload=plan.workload,
            go=go,
            clients_finished=clients_finished,
            acknowledged=sum(int(o["acknowledged"]) for o in outputs),
            client_errors=sum(int(o["errors"]) for o in outputs),
            error_samples=[s for o in outputs for s in o["error_samples"]][:5],
            latencies_ms=[x for o in outputs for x in o["latencies_ms"]],
            acks={k: v for o in outputs for k, v in o["acks"].items()},
            sent=sum(int(o["sent"]) for o in outputs),
            planned=sum(int(o["planned"]) for o in outputs),
            settled_at=settled_at,
            cpu={g: cpu_after.get(g, 0.0) - cpu_before.get(g, 0.0) for g in GROUPS}
            # Clients exit before the last reading: they report their own CPU time.
            | {"clients": sum(float(o["cpu_seconds"]) for o in outputs)},
            peaks=sampler.peaks(),
            database=db_after.minus(db_before),
            platform_up=platform_up,
            waiting=waiting,
            rate_limit=rate_limit,
            phases=phases,
        )
        # What the rest of the machine did meanwhile: another program's load skews every figure.
        result.cpu["others"] = max(
            0.0,
            (machine_after - machine_before)
            - (own_after - own_before)
            - sum(v for g, v in result.cpu.items() if g != "others"),
        )
        async with await psycopg.AsyncConnection.connect(url) as conn:
            result.deliveries, result.succeeded, result.failed = await system.outcome_counts(conn)
            result.last_success = await system.last_success(conn)
            if plan.first_attempts:
                result.first_attempts = await system.first_attempt_starts(conn)
            if plan.retry_gaps:
                result.retry_gaps = await system.retry_gaps(conn)
        if writes_before is not None:
            # Their backends add what they wrote to the counters as they exit.
            for child in [*supervisor.in_group("server"), *supervisor.in_group("workers")]:
                await supervisor.stop(child.name)
            after = await asyncio.to_thread(self.postgres.writes_once_alone, url)
            result.writes = after.minus(writes_before)
        await supervisor.stop("platform")
        with contextlib.suppress(BenchError):
            result.platform = await read_json_line(platform, within=5)
        if result.platform.get("up_at") is not None:
            result.platform_up = float(result.platform["up_at"])
        if plan.submits and result.succeeded < result.acknowledged:
            raise BenchError(
                f"{system.label} {plan.workload}: {result.acknowledged} events acknowledged,"
                f" {result.succeeded} delivered, {result.failed} FAILED"
            )
        return result

    async def _phase(
        self,
        supervisor: Supervisor,
        system: System,
        plan: RunPlan,
        phase: Phase,
        sampler: ResourceSampler,
        url: str,
        target: Target,
        log_dir: Path,
        numbers: Iterator[int],
    ) -> tuple[PhaseResult, list[dict[str, Any]]]:
        """Seed the phase's backlog, then drain until the phase ends, with its clients."""
        services = [c.name for c in supervisor.children.values() if c.group != "clients"]
        # The clients wait while the backlog is written: the workers start on it at once.
        clients = await _start_clients(
            supervisor, f"{plan.workload}-{phase.label}", phase.clients, target, log_dir, numbers
        )
        for client in clients:
            await read_json_line(client, within=READY_TIMEOUT)
        began = time.time()
        if phase.backlog and phase.history:
            await system.seed_history(url, phase.backlog, prefix=f"{plan.workload}-{phase.label}-")
        elif phase.backlog:
            await system.seed_backlog(
                url,
                phase.backlog,
                prefix=f"{plan.workload}-{phase.label}-",
                jobs=self.options.workers * self.options.concurrency,
            )
        seeded = time.time()
        log.info(
            "bench.backlog.written",
            extra={
                "phase": phase.label,
                "deliveries": phase.backlog,
                "duration_s": round(seeded - began, 1),
            },
        )
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            sampler.peaks(restart=True)
            started = seeded  # no attempt of the new backlog can end before its commit
            await _go(clients)
            while (left := started + phase.seconds - time.time()) > 0:
                supervisor.check_alive(services)
                if (
                    phase.deliveries is not None
                    and await system.delivered_since(conn, started) >= phase.deliveries
                ):
                    break
                await asyncio.sleep(min(POLL_INTERVAL, left))
            ended = time.time()
            peaks = sampler.peaks(restart=True)
            delivered = await system.delivered_since(conn, started)
        await _tell(clients, b"stop\n")
        outputs = await _finish_clients(
            supervisor, clients, services, log_dir, time.time() + READY_TIMEOUT
        )
        log.info(
            "bench.backlog.delivered",
            extra={
                "phase": phase.label,
                "deliveries": delivered,
                "duration_s": round(ended - started, 1),
            },
        )
        latencies: dict[str, list[float]] = {}
        for output in outputs:
            for method, values in output["read_latencies_ms"].items():
                latencies.setdefault(method, []).extend(values)
        result = PhaseResult(
            label=phase.label,
            backlog=phase.backlog,
            seed_seconds=seeded - began,
            started=started,
            ended=ended,
            delivered=delivered,
            peaks=peaks,
            rss_over_time=sampler.largest_over_time(started, ended),
            read_latencies_ms=latencies,
            client_errors=sum(int(o["errors"]) for o in outputs),
            read_seconds=max(
                (o["finished"] - o["started"] for o in outputs if o["read_latencies_ms"]),
                default=0.0,
            ),
        )
        return result, outputs

    async def _start_profilers(
        self, supervisor: Supervisor, system: System, plan: RunPlan, log_dir: Path
    ) -> list[Child]:
        """py-spy on the system's server and workers, when `--profile DIR` asked for it."""
        if self.profile_dir is None:
            return []
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        py_spy = Path(sys.executable).parent / "py-spy"
        if not py_spy.exists():
            raise BenchError("--profile needs py-spy in the virtualenv: pip install py-spy")
        profilers: list[Child] = []
        for child in [*supervisor.in_group("server"), *supervisor.in_group("workers")]:
            output = self.profile_dir / f"{plan.workload}-{child.name}.txt"
            output.unlink(missing_ok=True)
            log_path = log_dir / f"py-spy-{child.name}.log"
            with log_path.open("ab") as spy_log:
                process = await asyncio.create_subprocess_exec(
                    str(py_spy),
                    *("record", "--pid", str(child.pid), "--rate", "100", "--format", "raw"),
                    *("--nonblocking", "--output", str(output)),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=spy_log,
                    stderr=spy_log,
                )
            profiler = Child(f"py-spy-{child.name}", "profilers", process, log_path)
            supervisor.children[profiler.name] = profiler
            profilers.append(profiler)
        return profilers


async def _start_clients(
    supervisor: Supervisor,
    prefix: str,
    plans: Sequence[ClientPlan],
    target: Target,
    log_dir: Path,
    numbers: Iterator[int],
) -> list[Child]:
    """Load client processes, connected and waiting for "go"; `numbers` names them, and
    their event ids start with `prefix` and that number."""
    clients = []
    for plan in plans:
        index = next(numbers)
        clients.append(
            await supervisor.start(
                f"client-{index}",
                "clients",
                [
                    *("-m", "bench.load", plan.mode, "--target", target.address),
                    *(f"--api-key={target.api_key}", "--prefix", f"{prefix}-{index}"),
                    *("--out", str(log_dir / f"client-{index}.json"), *plan.args),
                    *(("--dashboard", target.dashboard_url) if target.dashboard_url else ()),
                ],
                child_env({}),
                pipes=True,
            )
        )
    return clients


async def _go(clients: Sequence[Child]) -> None:
    await _tell(clients, b"go\n")


async def _tell(clients: Sequence[Child], line: bytes) -> None:
    """Write a line to each client's stdin (one that has already exited is skipped)."""
    for client in clients:
        assert client.process.stdin is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            client.process.stdin.write(line)
            await client.process.stdin.drain()


async def _recover(
    supervisor: Supervisor,
    system: System,
    outage: Outage,
    url: str,
    target: Target,
    platform: Child,
    deliveries: int,
    deadline: float,
) -> tuple[float, Waiting, float | None]:
    """Once all `deliveries` wait for a retry, set the rate limit (`Outage.limit_for`); bring
    the platform back (SIGUSR1) when the first retry is due. Returns when it came back, what
    waited, and the limit set."""
    services = [c.name for c in supervisor.children.values() if c.group != "clients"]
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        while (waiting := await system.waiting_for_retry(conn)).count < deliveries:
            supervisor.check_alive(services)
            if time.time() > deadline:
                unsettled = await system.unsettled(conn)
                raise BenchError(
                    f"{system.label}: {waiting.count} of {deliveries} deliveries waiting for a"
                    f" retry at the deadline ({unsettled} not settled)"
                )
            await asyncio.sleep(POLL_INTERVAL)
        rate_limit = outage.limit_for(waiting)
        if rate_limit is not None:
            await system.set_rate_limit(target, rate_limit)
    if waiting.first_due > time.time():
        if waiting.first_due > deadline:
            raise BenchError(f"{system.label}: the first retry is due after the deadline")
        await asyncio.sleep(waiting.first_due - time.time())
    platform.process.send_signal(signal.SIGUSR1)
    return time.time(), waiting, rate_limit


async def _wait_ready(
    supervisor: Supervisor, services: list[str], address: str, url: str, workers: int
) -> None:
    """Until the server answers health checks and every worker has registered (bounded)."""
    deadline = time.monotonic() + READY_TIMEOUT
    await wait_serving(supervisor, services, address, within=READY_TIMEOUT)
    while True:
        supervisor.check_alive(services)
        registered = 0
        with contextlib.suppress(psycopg.Error):
            async with await psycopg.AsyncConnection.connect(url) as conn:
                cursor = await conn.execute("SELECT count(*) FROM procrastinate_workers")
                row = await cursor.fetchone()
                registered = int(row[0]) if row else 0
        if registered >= workers:
            return
        if time.monotonic() > deadline:
            raise BenchError(
                f"not ready after {READY_TIMEOUT:.0f} s: workers registered {registered}/{workers}"
            )
        await asyncio.sleep(0.1)


async def _finish_clients(
    supervisor: Supervisor,
    clients: list[Child],
    services: list[str],
    log_dir: Path,
    deadline: float,
) -> list[dict[str, Any]]:
    """Each client's results once it says it is done; meanwhile the services must live."""
    waiting = {
        asyncio.create_task(read_json_line(c, within=max(deadline - time.time(), 1))): c
        for c in clients
    }
    outputs: list[dict[str, Any]] = []
    try:
        while waiting:
            done, _ = await asyncio.wait(waiting, timeout=POLL_INTERVAL)
            for task in done:
                task.result()  # a client that died or timed out raises here
                client = waiting.pop(task)
                outputs.append(json.loads((log_dir / f"{client.name}.json").read_text()))
                await supervisor.stop(client.name)
            supervisor.check_alive(services)
    finally:
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
    return outputs


async def _wait_settled(
    supervisor: Supervisor, system: System, url: str, services: list[str], deadline: float
) -> float:
    """Poll (bounded) until no delivery is left to do; return when that was seen."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        while True:
            supervisor.check_alive(services)
            left = await system.unsettled(conn)
            if left == 0:
                return time.time()
            if time.time() > deadline:
                raise BenchError(
                    f"{system.label}: {left} deliveries still unsettled at the deadline"
                )
            await asyncio.sleep(POLL_INTERVAL)


class _ActivitySampler:
    """What PostgreSQL's active client backends are doing, sampled every 0.1 s (profiling)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._counts: Counter[tuple[str, str]] = Counter()
        self._samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-activity", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with psycopg.connect(self._url, autocommit=True) as conn:
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'),"
                    " left(regexp_replace(query, '\\s+', ' ', 'g'), 90)"
                    " FROM pg_stat_activity WHERE state = 'active'"
                    " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                ).fetchall()
                self._samples += 1
                self._counts.update((str(w), str(q)) for w, q in rows)
                self._stop.wait(0.1)

    def stop(self, output: Path) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        waits: Counter[str] = Counter()
        for (wait, _), n in self._counts.items():
            waits[wait] += n
        lines = [f"{self._samples} samples; active backends per sample by wait event:"]
        lines += [f"  {n / max(self._samples, 1):6.2f}  {w}" for w, n in waits.most_common(15)]
        lines.append("by wait event and query:")
        lines += [
            f"  {n / max(self._samples, 1):6.2f}  {w:28} {q}"
            for (w, q), n in self._counts.most_common(40)
        ]
        output.write_text("\n".join(lines) + "\n")
