"""One run: one workload against one system, from a fresh database to the figures.

    fresh database (from the system's template) -> fake platform process -> the system's
    server and workers -> load clients (connected, waiting) -> go -> clients finish ->
    every delivery settled -> read the figures from the database -> stop everything

CPU and database counters are read at "go" and when the last delivery settled; RSS is
sampled in between. Every process is stopped when the run ends, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import signal
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.postgres import DatabaseCounters, PrivatePostgres
from bench.processes import BenchError, Child, Supervisor, child_env, read_json_line
from bench.sampler import Peak, ResourceSampler, machine_busy_seconds, own_cpu_seconds
from bench.systems import Options, System

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
class RunPlan:
    workload: str
    clients: tuple[ClientPlan, ...]
    failure_rate: float = 0.0
    retry_interval: int = 5
    settle_timeout: float = 600.0
    first_attempts: bool = False
    retry_gaps: bool = False


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
    peaks: dict[str, list[Peak]] = field(default_factory=dict)
    database: DatabaseCounters | None = None
    platform: dict[str, Any] = field(default_factory=dict)
    first_attempts: dict[str, float] = field(default_factory=dict)
    retry_gaps: list[float] = field(default_factory=list)

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
        log.info("%s: database %s made", name, name)
        try:
            async with Supervisor(log_dir) as supervisor:
                return await self._run(system, plan, supervisor, url, log_dir)
        finally:
            log.info("%s: every process stopped", name)
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
            ["-m", "bench.fake_platform", "--failure-rate", str(plan.failure_rate)],
            child_env({}),
            pipes=True,
        )
        platform_url = str((await read_json_line(platform, within=READY_TIMEOUT))["url"])
        log.info("%s: platform listening", plan.workload)
        address = free_address()
        target = await system.start(
            supervisor, url, address, platform_url, plan.retry_interval, self.options
        )
        log.info("%s: %s set up, processes started", plan.workload, system.label)
        clients = [
            await supervisor.start(
                f"client-{index}",
                "clients",
                [
                    *("-m", "bench.load", client.mode, "--target", target.address),
                    *(f"--api-key={target.api_key}", "--prefix", f"{plan.workload}-{index}"),
                    *("--out", str(log_dir / f"client-{index}.json"), *client.args),
                ],
                child_env({}),
                pipes=True,
            )
            for index, client in enumerate(plan.clients)
        ]
        services = [c.name for c in supervisor.children.values() if c.group != "clients"]
        await _wait_ready(supervisor, services, target.address, url, self.options.workers)
        log.info("%s: server and workers ready", plan.workload)
        for client in clients:
            await read_json_line(client, within=READY_TIMEOUT)
        log.info("%s: clients ready", plan.workload)

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
            go = time.time()
            for client in clients:
                assert client.process.stdin is not None
                client.process.stdin.write(b"go\n")
                await client.process.stdin.drain()
            outputs = await _finish_clients(
                supervisor, clients, services, log_dir, go + plan.settle_timeout
            )
            clients_finished = max(o["finished"] for o in outputs)
            log.info("%s: clients done", plan.workload)
            settled_at = await _wait_settled(
                supervisor, system, url, services, go + plan.settle_timeout
            )
            log.info("%s: every delivery settled", plan.workload)
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
        await supervisor.stop("platform")
        with contextlib.suppress(BenchError):
            result.platform = await read_json_line(platform, within=5)
        if result.succeeded < result.acknowledged:
            raise BenchError(
                f"{system.label} {plan.workload}: {result.acknowledged} events acknowledged,"
                f" {result.succeeded} delivered, {result.failed} FAILED"
            )
        return result

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


async def _wait_ready(
    supervisor: Supervisor, services: list[str], address: str, url: str, workers: int
) -> None:
    """Until the server answers health checks and every worker has registered (bounded)."""
    deadline = time.monotonic() + READY_TIMEOUT
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            supervisor.check_alive(services)
            serving = False
            with contextlib.suppress(grpc.aio.AioRpcError):
                answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                serving = answer.status == health_pb2.HealthCheckResponse.SERVING
            registered = 0
            with contextlib.suppress(psycopg.Error):
                async with await psycopg.AsyncConnection.connect(url) as conn:
                    cursor = await conn.execute("SELECT count(*) FROM procrastinate_workers")
                    row = await cursor.fetchone()
                    registered = int(row[0]) if row else 0
            if serving and registered >= workers:
                return
            if time.monotonic() > deadline:
                raise BenchError(
                    f"not ready after {READY_TIMEOUT:.0f} s: serving={serving},"
                    f" workers registered={registered}/{workers}"
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
