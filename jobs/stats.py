"""Statistics for operators: what is where, how attempts went, which destination needs help."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from psycopg_pool import AsyncConnectionPool

from jobs.clock import Clock
from jobs.errors import InvalidArgument
from jobs.store import destinations, stats

DEFAULT_WINDOW = dt.timedelta(hours=24)
DEFAULT_BUCKET = dt.timedelta(hours=1)
MAX_BUCKETS = 500
OUTCOMES = ("succeeded", "external_problem", "rejected", "interrupted", "expired")
# Outcomes counted under another in the buckets: an attempt that ran out of time
# is an external problem to the operator (the platform was too slow).
_COUNTED_AS = {"attempt_budget": "external_problem"}


@dataclass(frozen=True)
class DestinationStats:
    name: str
    # The destination's platform (its kind).
    kind: str
    health: str  # healthy | failing | needs_action | disabled
    reason: str
    # With needs_action: what the operator must do (jobs/platforms/base.ACTIONS).
    action: str
    waiting_retry: int
    success_rate: float
    last_success_at: dt.datetime | None
    last_failure_at: dt.datetime | None


@dataclass(frozen=True)
class Stats:
    since: dt.datetime
    until: dt.datetime
    bucket: dt.timedelta
    counts: list[tuple[str, str, int]]  # (destination, status, count)
    success_rate: float
    # One dict per bucket, oldest first: outcome -> attempts.
    attempts: list[dict[str, int]] = field(default_factory=list)
    destinations: list[DestinationStats] = field(default_factory=list)


def whole_minute(moment: dt.datetime) -> dt.datetime:
    """The start of `moment`'s minute, as the database's counters (tenaz_minute) keep it."""
    return moment.astimezone(dt.UTC).replace(second=0, microsecond=0)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def on_a_bucket_edge(
    moment: dt.datetime, bucket: dt.timedelta, *, before: dt.datetime
) -> dt.datetime:
    """`moment` moved up to the first edge of a bucket at or after it (buckets counted from
    the Unix epoch), so that a chart's bars start on the hour and, with buckets of whole
    hours, each hour of the window falls in one bucket (the counters kept by the hour then
    answer for it); `moment` itself when no edge comes before `before`.

    Moving up keeps the window within what was asked ("the last 24 hours").
    """
    if bucket <= dt.timedelta(0):
        return moment  # the stats service refuses it with the right message
    ahead = (_EPOCH - moment) % bucket
    return moment + ahead if ahead < before - moment else moment


def _rate(succeeded: int, failed: int) -> float:
    return succeeded / (succeeded + failed) if succeeded + failed else 0.0


class StatsService:
    def __init__(self, pool: AsyncConnectionPool, clock: Clock) -> None:
        self._pool = pool
        self._clock = clock

    async def stats(
        self,
        workspace_id: int,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        bucket: dt.timedelta | None = None,
    ) -> Stats:
        until = until or self._clock.now()
        bucket = bucket or DEFAULT_BUCKET
        try:
            since = since or on_a_bucket_edge(until - DEFAULT_WINDOW, bucket, before=until)
        except OverflowError:
            raise InvalidArgument.one("until", "not a time Tenaz can count back from") from None
        if since >= until:
            raise InvalidArgument.one("since", "must be before until")
        # Counts are kept by the minute (jobs/store/stats.py): the window starts on one.
        since = whole_minute(since)
        if bucket <= dt.timedelta(0) or (until - since) / bucket > MAX_BUCKETS:
            raise InvalidArgument.one("bucket", f"positive, and at most {MAX_BUCKETS} buckets")
        async with self._pool.connection() as conn:
            listed = await destinations.list_destinations(conn, workspace_id=workspace_id)
            names = {d.id: d.name for d in listed}
            counts = await stats.status_counts(
                conn, workspace_id=workspace_id, since=since, until=until
            )
            buckets = await stats.attempt_buckets(
                conn, workspace_id=workspace_id, since=since, until=until, bucket=bucket
            )
            waiting = await stats.waiting_retry_counts(conn, workspace_id=workspace_id)
            last = await stats.last_attempts(
                conn, workspace_id=workspace_id, since=since, until=until
            )

        size = int((until - since) / bucket) + (1 if (until - since) % bucket else 0)
        attempts = [dict.fromkeys(OUTCOMES, 0) for _ in range(size)]
        for index, stored_outcome, count in buckets:
            outcome = _COUNTED_AS.get(stored_outcome, stored_outcome)
            if 0 <= index < size and outcome in OUTCOMES:
                attempts[index][outcome] += count

        finished: dict[int, tuple[int, int]] = {}
        for destination_id, status, count in counts:
            ok, failed = finished.get(destination_id, (0, 0))
            if status == "SUCCEEDED":
                ok += count
            elif status == "FAILED":
                failed += count
            finished[destination_id] = (ok, failed)

        per_destination = []
        for d in listed:
            last_attempt, last_success, last_failure = last.get(d.id, (None, None, None))
            waiting_now = waiting.get(d.id, 0)
            if not d.enabled:
                health, reason = "disabled", ""
            elif d.needs_action:
                health, reason = "needs_action", d.needs_action_reason
            elif (
                last_attempt is not None
                and last_attempt.outcome in ("external_problem", "interrupted", "attempt_budget")
                and waiting_now
            ):
                health, reason = "failing", last_attempt.message
            else:
                health, reason = "healthy", ""
            per_destination.append(
                DestinationStats(
                    name=d.name,
                    kind=d.kind,
                    health=health,
                    reason=reason,
                    action=d.needs_action_code if health == "needs_action" else "",
                    waiting_retry=waiting_now,
                    success_rate=_rate(*finished.get(d.id, (0, 0))),
                    last_success_at=last_success,
                    last_failure_at=last_failure,
                )
            )
        total_ok = sum(ok for ok, _ in finished.values())
        total_failed = sum(failed for _, failed in finished.values())
        return Stats(
            since=since,
            until=until,
            bucket=bucket,
            counts=[(names.get(i, f"#{i}"), status, count) for i, status, count in counts],
            success_rate=_rate(total_ok, total_failed),
            attempts=attempts,
            destinations=per_destination,
        )
