"""CPU seconds and peak RSS of process groups ("server", "workers", "postgres", ...).

A group is a set of root processes and all their descendants. CPU time is read from
psutil (`/proc/<pid>/stat`): user + system of every live process in the group, plus what
each has collected from children it already reaped (PostgreSQL's postmaster reaps the
backends of closed connections), so time spent by short-lived processes is not lost.
RSS is sampled every `interval` seconds by a thread; the peak is per process (and, for runs
in phases, per phase).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import psutil  # type: ignore[import-untyped]


@dataclass
class Peak:
    label: str
    rss: int = 0


@dataclass
class _Group:
    roots: list[psutil.Process] = field(default_factory=list)


def _family(roots: Iterable[psutil.Process]) -> list[psutil.Process]:
    members: list[psutil.Process] = []
    for root in roots:
        try:
            members.append(root)
            members.extend(root.children(recursive=True))
        except psutil.Error:
            continue
    return members


def _cpu_seconds(process: psutil.Process) -> float:
    try:
        t = process.cpu_times()
    except psutil.Error:
        return 0.0
    return float(t.user + t.system + t.children_user + t.children_system)


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy since boot, all cores together."""
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0))


def own_cpu_seconds() -> float:
    """CPU seconds of this process alone (not its children)."""
    t = psutil.Process().cpu_times()
    return float(t.user + t.system)


def cpu_speed_ms(repeat: int = 3) -> float:
    """Milliseconds a fixed pure-Python loop takes (best of `repeat`): a check of how fast
    the machine is right now, since a virtual machine's speed changes with its neighbours."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i * i
        best = min(best, time.perf_counter() - started)
    return best * 1000


class ResourceSampler:
    """Watches named groups; `cpu()` now, `peaks()` since `start()`."""

    def __init__(self, interval: float = 0.2) -> None:
        self._interval = interval
        self._groups: dict[str, _Group] = {}
        self._peaks: dict[int, Peak] = {}
        self._peak_group: dict[int, str] = {}
        # (time, group, RSS of the group's largest process) at each sample.
        self._timeline: list[tuple[float, str, int]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, group: str, pid: int) -> None:
        try:
            process = psutil.Process(pid)
        except psutil.Error:
            return
        with self._lock:
            self._groups.setdefault(group, _Group()).roots.append(process)

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each group's live processes and reaped children."""
        with self._lock:
            groups = {name: list(g.roots) for name, g in self._groups.items()}
        return {
            name: sum(_cpu_seconds(p) for p in _family(roots)) for name, roots in groups.items()
        }

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def peaks(self, *, restart: bool = False) -> dict[str, list[Peak]]:
        """Per group, each process's peak RSS, largest first; since `start()`, or since the
        last call with `restart=True`, which begins a new count."""
        with self._lock:
            result: dict[str, list[Peak]] = {}
            for pid, peak in self._peaks.items():
                result.setdefault(self._peak_group[pid], []).append(Peak(peak.label, peak.rss))
            if restart:
                self._peaks.clear()
        for peaks in result.values():
            peaks.sort(key=lambda p: p.rss, reverse=True)
        return result

    def largest_over_time(self, since: float, until: float) -> dict[str, list[tuple[float, int]]]:
        """Per group, (time, RSS of its largest process then) at each sample in the span."""
        with self._lock:
            samples = [s for s in self._timeline if since <= s[0] <= until]
        result: dict[str, list[tuple[float, int]]] = {}
        for at, group, rss in samples:
            result.setdefault(group, []).append((at, rss))
        return result

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)
        self._sample()

    def _sample(self) -> None:
        with self._lock:
            groups = {name: list(g.roots) for name, g in self._groups.items()}
        for name, roots in groups.items():
            largest = 0
            for process in _family(roots):
                try:
                    rss = process.memory_info().rss
                    known = self._peaks.get(process.pid)
                    label = known.label if known is not None else self._label(process)
                except psutil.Error:
                    continue
                largest = max(largest, rss)
                with self._lock:
                    peak = self._peaks.setdefault(process.pid, Peak(label))
                    self._peak_group[process.pid] = name
                    peak.rss = max(peak.rss, rss)
            with self._lock:
                self._timeline.append((time.time(), name, largest))

    @staticmethod
    def _label(process: psutil.Process) -> str:
        cmdline = process.cmdline()
        if cmdline and cmdline[0].endswith("postgres"):
            return "postmaster"
        if cmdline and cmdline[0].startswith("postgres:"):
            # "postgres: postgres bench_3 [local] idle" -> "backend"; helpers keep their name.
            words = cmdline[0].split()
            return "backend" if "[local]" in cmdline[0] else " ".join(words[1:3])
        return " ".join(cmdline[1:4]) if len(cmdline) > 1 else process.name()
