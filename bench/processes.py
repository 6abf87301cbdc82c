"""Every process the benchmark starts, by name, and a promise to stop them all.

`Supervisor` is an async context manager: leaving it (normally, on an error or on Ctrl-C)
sends SIGTERM to whatever still runs, waits a bounded time, then SIGKILLs the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO_ROOT = Path(__file__).resolve().parent.parent
STOP_TIMEOUT = 20.0


class BenchError(RuntimeError):
    """The benchmark could not run as asked (a process died, a condition never came)."""


@dataclass
class Child:
    name: str
    group: str
    process: asyncio.subprocess.Process
    log: Path | None

    @property
    def pid(self) -> int:
        return self.process.pid

    def tail(self, lines: int = 15) -> str:
        if self.log is None or not self.log.exists():
            return ""
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


class Supervisor:
    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self.children: dict[str, Child] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_all()

    async def start(
        self,
        name: str,
        group: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        pipes: bool = False,
        cwd: Path = REPO_ROOT,
    ) -> Child:
        """Start `python <argv>` in the repository (or `cwd`: `python -m` imports from there
        first); stdout and stderr go to a log file, or stdin and stdout are pipes
        (`pipes=True`, stderr still to the log)."""
        if name in self.children and self.children[name].process.returncode is None:
            raise BenchError(f"{name} is already running")
        log_path = self._log_dir / f"{name}.log"
        # The child keeps its own copy of the descriptor; ours closes at once.
        with log_path.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                *argv,
                cwd=cwd,
                env=dict(env),
                stdin=asyncio.subprocess.PIPE if pipes else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if pipes else log,
                stderr=log,
            )
        child = Child(name, group, process, log_path)
        self.children[name] = child
        return child

    def in_group(self, group: str) -> list[Child]:
        return [c for c in self.children.values() if c.group == group]

    def check_alive(self, names: Sequence[str] | None = None) -> None:
        """Raise if one of the named processes (default: all) has exited."""
        for child in self.children.values():
            if names is not None and child.name not in names:
                continue
            code = child.process.returncode
            if code is not None:
                raise BenchError(
                    f"{child.name} exited with status {code}; its log ends with:\n{child.tail()}"
                )

    async def stop(self, name: str, *, grace: float = STOP_TIMEOUT) -> int | None:
        child = self.children.pop(name, None)
        if child is None:
            return None
        return await _terminate(child.process, grace)

    async def stop_all(self) -> None:
        children = list(self.children.values())
        self.children.clear()
        await asyncio.gather(*(_terminate(c.process, STOP_TIMEOUT) for c in children))


async def _terminate(process: asyncio.subprocess.Process, grace: float) -> int | None:
    """SIGTERM, then SIGKILL if it has not exited after `grace` seconds."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(grace):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    return process.returncode


async def read_json_line(child: Child, *, within: float) -> dict[str, Any]:
    """The next line the child prints on stdout, as JSON, if it comes `within` seconds."""
    stream = child.process.stdout
    if stream is None:
        raise BenchError(f"{child.name} has no stdout pipe")
    try:
        async with asyncio.timeout(within):
            line = await stream.readline()
    except TimeoutError:
        raise BenchError(
            f"{child.name} said nothing within {within:.0f} s; its log ends with:\n{child.tail()}"
        ) from None
    if not line:
        await child.process.wait()
        raise BenchError(
            f"{child.name} exited (status {child.process.returncode}) before answering;"
            f" its log ends with:\n{child.tail()}"
        )
    try:
        document = json.loads(line)
    except ValueError:
        raise BenchError(f"{child.name} printed {line[:200]!r}, not JSON") from None
    if not isinstance(document, dict):
        raise BenchError(f"{child.name} printed {line[:200]!r}, not a JSON object")
    return document


async def wait_serving(
    supervisor: Supervisor, names: Sequence[str], address: str, *, within: float
) -> None:
    """Until the gRPC server at `address` answers its health check as SERVING, for at most
    `within` seconds; meanwhile the named processes must live."""
    deadline = time.monotonic() + within
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            supervisor.check_alive(names)
            with contextlib.suppress(grpc.aio.AioRpcError):
                answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            if time.monotonic() > deadline:
                raise BenchError(f"{address} not serving after {within:.0f} s")
            await asyncio.sleep(0.1)


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any TENAZ_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENAZ_")}
    env.update(extra)
    return env
