"""What a Tenaz process counts for Prometheus: one registry per runtime, the metrics in it,
and the few ways the delivery path feeds them.

Labels stay bounded: a platform, a destination id, an outcome, a status, a gRPC code, a
task name, the edge a submission came through; never an event, a delivery or a workspace.
The hot path counts per batch (`inc(n)` once per destination and status of a write, not
once per event), and a histogram is observed once per claimed batch or request, never per
event.

Counters and histograms are this process's own; `jobs.database_gauges` adds the gauges
that read the database, which one process at a time computes. docs/operations.md lists
every metric with its meaning.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.registry import Collector

from jobs.moves import Writes

# Seconds: from a few milliseconds (a platform on the same network) to the request deadline.
_REQUEST_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Seconds late or waiting: from "at once" to hours (a backlog, a stopped worker).
_WAIT_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0)
# Calls in one group-committed transaction: from alone to a full batch.
_GROUP_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

Edge = Literal["grpc", "connect", "conversions_api", "webhook"]
"""Where a submission came in: the gRPC server, or on the ingest server EventService over the
Connect protocol, the Conversions API endpoint, or a checkout's webhook."""

# Set around one attempt's requests (`Metrics.requests_to`): where `HttpSender` records how
# long each request took, without every platform's connector carrying the histogram.
_request_timer: contextvars.ContextVar[Histogram | None] = contextvars.ContextVar(
    "tenaz_request_timer", default=None
)


def timed_request() -> contextlib.AbstractContextManager[object]:
    """Times one request to a platform, if an attempt of the delivery engine is sending it."""
    timer = _request_timer.get()
    return timer.time() if timer is not None else contextlib.nullcontext()


class Metrics:
    """The metrics of one Tenaz process (one runtime), in their own registry."""

    def __init__(self) -> None:
        # No `_created` series beside every counter and histogram: they would double the
        # series Prometheus stores and tell nothing the process start time does not.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus-client
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.submit_calls = Counter(
            "tenaz_submit_calls",
            "Calls that submit events, by the edge they came through, method and the gRPC"
            " code of the answer.",
            ["edge", "method", "code"],
            registry=registry,
        )
        self.submitted_events = Counter(
            "tenaz_submitted_events",
            "Events in calls that submit events, by edge and the gRPC code of the call's"
            " answer (OK: accepted, duplicates included).",
            ["edge", "code"],
            registry=registry,
        )
        self.group_commit_calls = Histogram(
            "tenaz_group_commit_calls",
            "SubmitEvent calls written together in one group-committed transaction.",
            buckets=_GROUP_BUCKETS,
            registry=registry,
        )
        self.attempts = Counter(
            "tenaz_delivery_attempts",
            "Delivery attempts a worker ended, by platform, destination and outcome.",
            ["platform", "destination", "outcome"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "tenaz_platform_request_duration_seconds",
            "How long one HTTP request to a platform took, answer read (or failure).",
            ["platform", "destination"],
            buckets=_REQUEST_BUCKETS,
            registry=registry,
        )
        self.entered = Counter(
            "tenaz_deliveries_entered",
            "Deliveries that entered a status, by destination and status.",
            ["destination", "status"],
            registry=registry,
        )
        self.retry_lateness = Histogram(
            "tenaz_retry_lateness_seconds",
            "How late the retries of a claimed batch started after they were due (the latest"
            " of the batch), by platform.",
            ["platform"],
            buckets=_WAIT_BUCKETS,
            registry=registry,
        )
        self.first_attempt_wait = Histogram(
            "tenaz_first_attempt_wait_seconds",
            "How long the new deliveries of a claimed batch waited for their first attempt"
            " (the longest of the batch), by platform.",
            ["platform"],
            buckets=_WAIT_BUCKETS,
            registry=registry,
        )
        self.job_wait = Histogram(
            "tenaz_job_queue_wait_seconds",
            "How long after its due time a queued job started, by task (jobs with a due"
            " time: scheduled retries and periodic tasks).",
            ["task"],
            buckets=_WAIT_BUCKETS,
            registry=registry,
        )

    def register(self, collector: Collector) -> None:
        self.registry.register(collector)

    def submitted(self, edge: Edge, method: str, code: str, events: int) -> None:
        """Count one call that submits events, answered with the gRPC code named `code`
        (or the code of the same refusal over gRPC, on the HTTP edges). Every edge counts
        through here; `method` must be bounded (an RPC's name, a checkout kind)."""
        self.submit_calls.labels(edge, method, code).inc()
        if events:
            self.submitted_events.labels(edge, code).inc(events)

    def written(self, writes: Writes) -> None:
        """Count what a committed write did: the statuses its deliveries entered."""
        tally = Tally((c.destination_id, c.to_status) for c in writes.changes)
        for (destination_id, status), n in tally.items():
            self.entered.labels(str(destination_id), status).inc(n)

    def attempts_ended(self, platform: str, destination_id: int, writes: Writes) -> None:
        """Count a worker's committed write's ended attempts (all of one destination)."""
        tally = Tally(a.end.outcome for a in writes.attempts)
        for outcome, n in tally.items():
            self.attempts.labels(platform, str(destination_id), outcome).inc(n)

    def claimed(
        self,
        platform: str,
        now: dt.datetime,
        *,
        first_due: Iterable[dt.datetime],
        retries_due: Iterable[dt.datetime],
    ) -> None:
        """Observe a claimed batch once: the longest wait of its new deliveries, and the
        lateness of its latest retry (a batch's rows are due at about the same time)."""
        oldest = min(first_due, default=None)
        if oldest is not None:
            self.first_attempt_wait.labels(platform).observe(_seconds(now - oldest))
        latest = min(retries_due, default=None)
        if latest is not None:
            self.retry_lateness.labels(platform).observe(_seconds(now - latest))

    def job_started(self, task: str, now: dt.datetime, due: dt.datetime | None) -> None:
        if due is not None:
            self.job_wait.labels(task).observe(_seconds(now - due))

    @contextlib.contextmanager
    def requests_to(self, platform: str, destination_id: int) -> Iterator[None]:
        """Within: each request `HttpSender` sends is timed for this destination."""
        token = _request_timer.set(self.request_seconds.labels(platform, str(destination_id)))
        try:
            yield
        finally:
            _request_timer.reset(token)


def _seconds(delta: dt.timedelta) -> float:
    return max(0.0, delta.total_seconds())
