"""The side-by-side table (stdout and docs/benchmarks.md) and the machine it ran on.

The ratio says how many times better Tenaz is: Tenaz / baseline for rates, baseline / Tenaz
for latencies and costs. The target column gives Tenaz's performance targets; "met" judges
Tenaz against them. When the drain ran for Tenaz at an older revision too, a second table
sets its cost per event beside Tenaz's now, the ratio saying how many times better now is.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped]

from bench.processes import REPO_ROOT
from bench.workloads import OTHERS_WARNING, Figures, median_figures, percentile


@dataclass(frozen=True)
class Metric:
    workload: str
    key: str
    label: str
    unit: str
    better: str | None = None  # "higher", "lower", or None (no ratio)
    target: str = ""
    # (Tenaz's value, the ratio, every figure of Tenaz's run) -> met?
    check: Callable[[float, float | None, Mapping[str, float]], bool] | None = None


METRICS: tuple[Metric, ...] = (
    Metric("drain", "events", "events delivered", "count"),
    Metric("drain", "accepted_rate", "events/s accepted", "rate", "higher"),
    Metric(
        "drain",
        "delivered_rate",
        "events/s delivered end to end",
        "rate",
        "higher",
        ">= 20,000/s and >= 40x baseline",
        lambda value, ratio, _: value >= 20_000 and ratio is not None and ratio >= 40,
    ),
    Metric("drain", "cpu_server", "CPU s / 1k events: server", "cpu", "lower"),
    Metric("drain", "cpu_workers", "CPU s / 1k events: workers", "cpu", "lower"),
    Metric("drain", "cpu_postgres", "CPU s / 1k events: PostgreSQL", "cpu", "lower"),
    Metric(
        "drain",
        "rss_server",
        "peak RSS: server",
        "mb",
        target="<= 300 MB",
        check=lambda value, _, __: value <= 300,
    ),
    Metric(
        "drain",
        "rss_workers",
        "peak RSS: largest worker",
        "mb",
        target="<= 300 MB",
        check=lambda value, _, __: value <= 300,
    ),
    Metric("drain", "rss_postgres", "peak RSS: largest PostgreSQL process", "mb"),
    Metric("drain", "cpu_total", "CPU s / 1k events: every process of the run", "cpu", "lower"),
    Metric("drain", "cpu_ceiling_rate", "events/s the machine's cores allow at that cost", "rate"),
    Metric("drain", "rows_written_per_event", "rows written / event delivered", "each", "lower"),
    Metric(
        "drain",
        "index_entries_per_event",
        "index entries written / event delivered (at most)",
        "each",
        "lower",
    ),
    Metric("drain", "wal_bytes_per_event", "WAL bytes / event delivered", "bytes", "lower"),
    Metric(
        "unary",
        "calls_rate",
        "calls/s (SubmitEvent)",
        "rate",
        "higher",
        ">= 2,000/s",
        lambda value, _, __: value >= 2_000,
    ),
    Metric("unary", "call_p50_ms", "call latency p50", "ms", "lower"),
    Metric(
        "unary",
        "call_p99_ms",
        "call latency p99",
        "ms",
        "lower",
        "< 50 ms",
        lambda value, _, __: value < 50,
    ),
    Metric("unary", "cpu_server", "CPU s / 1k calls: server", "cpu", "lower"),
    Metric("unary", "cpu_clients", "CPU s / 1k calls: load clients", "cpu", "lower"),
    Metric("unary", "cpu_total", "CPU s / 1k calls: every process of the run", "cpu", "lower"),
    Metric("unary", "cpu_ceiling_rate", "calls/s the machine's cores allow at that cost", "rate"),
    Metric(
        "noop",
        "calls_rate",
        "calls/s of an RPC that does nothing (health check)",
        "rate",
        "higher",
    ),
    Metric("noop", "call_p99_ms", "its latency p99", "ms", "lower"),
    Metric("noop", "cpu_total", "CPU s / 1k calls: every process of the run", "cpu", "lower"),
    Metric("latency", "offered_rate", "events/s submitted (SubmitEvent)", "rate"),
    Metric("latency", "first_attempt_p50_ms", "ack -> first attempt p50", "ms", "lower"),
    Metric(
        "latency",
        "first_attempt_p99_ms",
        "ack -> first attempt p99",
        "ms",
        "lower",
        "< 250 ms, at the steady rate",
        lambda value, _, run: value < 250 and run.get("rate_held", 0) == 1,
    ),
    Metric("retry", "retries", "retries measured", "count"),
    Metric("retry", "lateness_p50_ms", "retry lateness p50", "ms", "lower"),
    Metric(
        "retry",
        "lateness_p99_ms",
        "retry lateness p99",
        "ms",
        "lower",
        "< 1,000 ms",
        lambda value, _, __: value < 1_000,
    ),
    Metric("retry", "lateness_max_ms", "retry lateness max", "ms", "lower"),
    Metric(
        "retry",
        "early",
        "early retries",
        "count",
        target="0",
        check=lambda value, _, __: value == 0,
    ),
    Metric("recovery", "events", "deliveries waiting when the platform came back", "count"),
    Metric("recovery", "rate_limit", "rate limit configured", "rate"),
    Metric(
        "recovery",
        "busiest_second",
        "most events accepted in any 1 s",
        "count",
        target="<= the rate limit",
        check=lambda value, _, run: value <= run["rate_limit"],
    ),
    Metric("recovery", "drain_seconds", "drain time (platform back -> last accepted)", "s"),
    Metric(
        "recovery",
        "drain_rate",
        "events/s drained (steady rate)",
        "rate",
        target=">= 90% of the rate limit",
        check=lambda value, _, run: value >= 0.9 * run["rate_limit"],
    ),
    Metric("backlog", "rss_server_small", "peak RSS: server, small backlog", "mb"),
    Metric("backlog", "rss_server_large", "peak RSS: server, large backlog", "mb"),
    Metric(
        "backlog",
        "rss_growth_server",
        "RSS growth, small -> large: server",
        "mb",
        target="< 10% (does not grow)",
        check=lambda value, _, run: value < 0.1 * run["rss_server_small"],
    ),
    Metric("backlog", "rss_workers_small", "peak RSS: largest worker, small backlog", "mb"),
    Metric("backlog", "rss_workers_large", "peak RSS: largest worker, large backlog", "mb"),
    Metric(
        "backlog",
        "rss_growth_workers",
        "RSS growth, small -> large: largest worker",
        "mb",
        target="< 10% (does not grow)",
        check=lambda value, _, run: value < 0.1 * run["rss_workers_small"],
    ),
    Metric(
        "backlog",
        "rss_server_any_phase",
        "peak RSS: server, any phase",
        "mb",
        target="<= 300 MB",
        check=lambda value, _, __: value <= 300,
    ),
    Metric(
        "backlog",
        "rss_workers_any_phase",
        "peak RSS: largest worker, any phase",
        "mb",
        target="<= 300 MB",
        check=lambda value, _, __: value <= 300,
    ),
    Metric(
        "backlog", "delivered_rate_longer", "events/s delivered, large backlog (phase 3)", "rate"
    ),
    Metric("large", "history_deliveries", "deliveries in the workspace (a day's history)", "count"),
    *(
        Metric("large", f"{key}_idle_p99_ms", f"{label} p99, idle machine", "ms")
        for key, label in (
            ("stats", "GetStats (default window)"),
            ("list_newest", "ListEvents newest page"),
            ("list_status", "ListEvents filtered on FAILED"),
            ("list_event_id", "ListEvents by event id"),
            ("search_order_id", "search by order id (dashboard)"),
        )
    ),
    Metric("large", "drain_rate", "events/s delivered by a drain meanwhile", "rate"),
    Metric("large", "stats_p50_ms", "GetStats (default window) p50", "ms"),
    Metric(
        "large",
        "stats_p99_ms",
        "GetStats (default window) p99",
        "ms",
        target="< 100 ms",
        check=lambda value, _, __: value < 100,
    ),
    Metric("large", "list_newest_p50_ms", "ListEvents newest page p50", "ms"),
    Metric(
        "large",
        "list_newest_p99_ms",
        "ListEvents newest page p99",
        "ms",
        target="< 50 ms",
        check=lambda value, _, __: value < 50,
    ),
    Metric("large", "list_status_p50_ms", "ListEvents filtered on FAILED p50", "ms"),
    Metric(
        "large",
        "list_status_p99_ms",
        "ListEvents filtered on FAILED p99",
        "ms",
        target="< 50 ms",
        check=lambda value, _, __: value < 50,
    ),
    Metric("large", "list_event_id_p50_ms", "ListEvents by event id p50", "ms"),
    Metric(
        "large",
        "list_event_id_p99_ms",
        "ListEvents by event id p99",
        "ms",
        target="< 50 ms",
        check=lambda value, _, __: value < 50,
    ),
    Metric("large", "search_order_id_p50_ms", "search by order id (dashboard) p50", "ms"),
    Metric(
        "large",
        "search_order_id_p99_ms",
        "search by order id (dashboard) p99",
        "ms",
        target="< 50 ms",
        check=lambda value, _, __: value < 50,
    ),
)
HEADER = ("workload", "figure", "Tenaz", "baseline", "ratio", "target", "met")
# The drain's figures that the before-and-after table compares: its rate, what each event
# cost in CPU per process group, and what it wrote.
BEFORE_AFTER = (
    "delivered_rate",
    "cpu_server",
    "cpu_workers",
    "cpu_postgres",
    "cpu_total",
    "rows_written_per_event",
    "index_entries_per_event",
    "wal_bytes_per_event",
)


def _format(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "—"
    if unit == "rate":
        return f"{value:,.0f}/s"
    if unit == "ms":
        return f"{value:,.1f} ms"
    if unit == "cpu":
        return f"{value:.3f} s"
    if unit == "mb":
        return f"{value:,.0f} MB"
    if unit == "s":
        return f"{value:,.1f} s"
    if unit == "each":
        return f"{value:,.2f}"
    if unit == "bytes":
        return f"{value:,.0f} B"
    return f"{value:,.0f}"


def _ratio(metric: Metric, tenaz: float | None, baseline: float | None) -> float | None:
    """How many times better `tenaz` is than `baseline` (or Tenaz now than before)."""
    if metric.better is None or tenaz is None or baseline is None:
        return None
    if math.isnan(tenaz) or math.isnan(baseline) or tenaz <= 0 or baseline <= 0:
        return None
    return tenaz / baseline if metric.better == "higher" else baseline / tenaz


def _ratio_text(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:,.1f}x"


def table_rows(
    figures: Mapping[tuple[str, str], Figures], workloads: Sequence[str]
) -> list[tuple[str, ...]]:
    """One row per figure of each workload that ran, then the rows of what is not built."""
    rows: list[tuple[str, ...]] = []
    for metric in METRICS:
        if metric.workload not in workloads:
            continue
        tenaz_run = figures.get(("tenaz", metric.workload))
        baseline_run = figures.get(("baseline", metric.workload))
        tenaz = tenaz_run.values.get(metric.key) if tenaz_run else None
        baseline = baseline_run.values.get(metric.key) if baseline_run else None
        ratio = _ratio(metric, tenaz, baseline)
        met = ""
        if metric.check is not None and tenaz_run and tenaz is not None and not math.isnan(tenaz):
            met = "yes" if metric.check(tenaz, ratio, tenaz_run.values) else "no"
        rows.append(
            (
                metric.workload,
                metric.label,
                _format(tenaz, metric.unit) + _disturbed(tenaz_run, tenaz),
                _format(baseline, metric.unit) + _disturbed(baseline_run, baseline),
                _ratio_text(ratio),
                metric.target,
                met,
            )
        )
    return rows


def before_after_header(before: str, now: str) -> tuple[str, ...]:
    return ("drain, per event delivered", f"Tenaz {before} (before)", f"Tenaz {now} (now)", "ratio")


def before_after_rows(rounds: Sequence[tuple[Figures, Figures]]) -> list[tuple[str, ...]]:
    """The drain's cost per event, Tenaz before and now, from `rounds` of (before, now) runs:
    each figure's median over the rounds, and how many times better now is, as the median of
    the rounds' ratios with the lowest and highest when there are several; none without a
    round."""
    if not rounds:
        return []
    before_runs = [before for before, _ in rounds]
    now_runs = [now for _, now in rounds]
    before_median, now_median = median_figures(before_runs), median_figures(now_runs)
    rows: list[tuple[str, ...]] = []
    for metric in METRICS:
        if metric.workload != "drain" or metric.key not in BEFORE_AFTER:
            continue
        before = before_median.values.get(metric.key)
        now = now_median.values.get(metric.key)
        ratios = [
            _ratio(metric, n.values.get(metric.key), b.values.get(metric.key)) for b, n in rounds
        ]
        rows.append(
            (
                metric.label,
                _format(before, metric.unit) + _any_disturbed(before_runs, before),
                _format(now, metric.unit) + _any_disturbed(now_runs, now),
                _ratios_text(ratios),
            )
        )
    return rows


def _ratios_text(ratios: Sequence[float | None]) -> str:
    """The median ratio, and with several rounds, the lowest and highest: "1.2x (0.9-1.5x)"."""
    known = [r for r in ratios if r is not None]
    if not known:
        return "—"
    text = _ratio_text(percentile(known, 50))
    if len(known) > 1:
        text += f" ({min(known):,.1f}-{max(known):,.1f}x)"
    return text


def _any_disturbed(runs: Sequence[Figures], value: float | None) -> str:
    return " *" if any(_disturbed(run, value) for run in runs) else ""


def before_after_lines(rows: Sequence[tuple[str, ...]], before: str, rounds: int = 1) -> list[str]:
    """The report's section on the cost per event before and after (none without rows)."""
    if not rows:
        return []
    now = git_revision()
    if rounds > 1:
        how = (
            f"The drain ran {rounds} times for Tenaz at {before} and {rounds} times for Tenaz at"
            f" {now}, in the same run, in turns (now then before, before then now, and so on),"
            " with the same events, processes and platform (see how it ran). Each figure is the"
            " median of its runs. The ratio says how many times better now is (now / before for"
            " the rate, before / now for the costs): the median of the rounds' ratios, each"
            " between two runs one right after the other, with the lowest and the highest in"
            " brackets, which show how far this machine's drifting speed moves one comparison."
        )
    else:
        how = (
            f"The drain ran for Tenaz at {before} too, in the same run, right after Tenaz at"
            f" {now} and with the same events, processes and platform (see how it ran). The"
            " ratio says how many times better now is: now / before for the rate, before / now"
            " for the costs."
        )
    return [
        "## Cost per event: before and after",
        "",
        how,
        "",
        render_markdown(rows, before_after_header(before, now)),
        "",
    ]


def notes(rows: Sequence[tuple[str, ...]] = ()) -> list[str]:
    """What the table's marks stand for."""
    lines = []
    if any(cell.endswith(" *") for row in rows for cell in row):
        lines.append(
            f"*: other programs used more than {OTHERS_WARNING:.0%} of the machine's CPU during"
            " that run, so its figures are likely low."
        )
    return lines


def _disturbed(run: Figures | None, value: float | None) -> str:
    if run is None or value is None or math.isnan(value):
        return ""
    share = run.values.get("machine_share_of_other_programs", 0.0)
    return " *" if share > OTHERS_WARNING else ""


def _numeric(header: Sequence[str]) -> range:
    """The columns of figures, aligned right: those between the label(s) and the ratio."""
    first = header.index("figure") + 1 if "figure" in header else 1
    return range(first, header.index("ratio") + 1)


def render_text(rows: Sequence[tuple[str, ...]], header: Sequence[str] = HEADER) -> str:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    numeric = _numeric(header)
    lines = []
    for index, row in enumerate((header, *rows)):
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_markdown(rows: Sequence[tuple[str, ...]], header: Sequence[str] = HEADER) -> str:
    numeric = _numeric(header)
    align = "|".join("--:" if i in numeric else "---" for i in range(len(header)))
    lines = ["| " + " | ".join(header) + " |", f"|{align}|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _cpu_model() -> str:
    with Path("/proc/cpuinfo").open() as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    """git's output; the arguments are this module's own constants."""
    return subprocess.run(  # noqa: S603
        ["git", *args],  # noqa: S607 - git from PATH, fixed arguments
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout.strip()


def git_revision() -> str:
    """The working tree's commit, abbreviated, marked when it has uncommitted changes."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        # This report itself does not make the revision dirty.
        dirty = _git(
            "status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs/benchmarks.md"
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} (with uncommitted changes)" if dirty else head


def machine_lines(
    postgres_settings: Mapping[str, str], fdatasync_rate: float, speed_ms: tuple[float, float]
) -> list[str]:
    memory = psutil.virtual_memory().total / 1024**3
    return [
        f"- CPU: {_cpu_model()}, {os.cpu_count()} cores",
        f"- memory: {memory:.1f} GiB",
        f"- system: {platform.platform()}, Python {platform.python_version()}",
        f"- PostgreSQL {postgres_settings['server_version']} (the pgserver wheel's), private to"
        " the run, over a Unix socket: "
        + ", ".join(f"{k}={v}" for k, v in postgres_settings.items() if k != "server_version"),
        f"- the disk under PostgreSQL: {fdatasync_rate:,.0f} 8 kB write+fdatasync per second"
        " (one at a time)",
        f"- CPU speed check (a fixed pure-Python loop, best of 3; lower is faster):"
        f" {speed_ms[0]:.0f} ms before the runs, {speed_ms[1]:.0f} ms after. This machine is"
        " a virtual one whose speed changes with its neighbours' load (we saw the same"
        " workload vary twofold between runs): compare the two systems within one run, not"
        " figures across runs",
        f"- Tenaz revision: {git_revision()}",
    ]


def details_lines(
    results: Mapping[tuple[str, str], Figures], labels: Mapping[str, str]
) -> list[str]:
    """Per run: every figure measured, including those not in the table."""
    lines: list[str] = []
    for (system, workload), figures in results.items():
        values = ", ".join(
            f"{key}={_short(value)}" for key, value in sorted(figures.values.items())
        )
        lines.append(f"- {labels.get(system, system)} / {workload}: {values}")
        lines += [f"  - {remark}" for remark in figures.remarks]
    return lines


def _short(value: float) -> str:
    if math.isnan(value):
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def write_markdown(
    path: Path,
    *,
    rows: Sequence[tuple[str, ...]],
    machine: Sequence[str],
    setup: Sequence[str],
    limits: Sequence[str],
    details: Sequence[str],
    command: str,
    before_after: Sequence[str] = (),
) -> None:
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join(
        [
            "# Benchmarks",
            "",
            f"Written by `{command}` on {started}; every run overwrites this file.",
            "The baseline is the design card read literally: one procrastinate job per event,",
            "one HTTP request per event, procrastinate's RetryStrategy with a fixed wait",
            "(`bench/baseline/`). The ratio says how many times better Tenaz is (Tenaz/baseline",
            'for rates, baseline/Tenaz for latencies and costs); "met" judges Tenaz against',
            "its target.",
            "",
            render_markdown(rows),
            "",
            *(f"- {note}" for note in notes(rows)),
            "",
            *before_after,
            "## What limits the figures",
            "",
            *limits,
            "",
            "## The machine",
            "",
            *machine,
            "",
            "## How it ran",
            "",
            *setup,
            "",
            "## Every figure, per run",
            "",
            *details,
            "",
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
