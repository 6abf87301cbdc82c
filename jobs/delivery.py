"""The delivery engine: claim what is due for a destination, send it, record the outcome.

One round is three steps, two of them transactions:

1. claim (tx): lock up to a batch of due deliveries (SKIP LOCKED), move each
   to SENDING or RESENDING with the attempt's start time, and give it a lease
   (with a rate limit, a short transaction first reserves the batch's share);
2. send: one connector call, outside any transaction (with a rate limit, each
   request passes the rate gate, a short transaction, right before it goes);
3. finish (tx): apply each outcome through the status model, write the
   attempt rows, the status changes, and defer the retry job.

If the worker dies between 1 and 3, the lease runs out and the sweeper makes
the delivery due again, recording the attempt as interrupted. A late finish
for a delivery whose lease was already recovered is ignored.

Step 2 has a time budget (TENAZ_ATTEMPT_BUDGET), at most half the lease, that
covers every request of the attempt (splits of a refused batch included) and
every wait for the destination's rate limit. When it runs out, what the platform
already answered is recorded as usual and the rest waits for the next attempt
(outcome `attempt_budget`): an attempt never outlives its lease, so the sweeper
never takes a slow attempt for a dead one and sends its events a second time.

A worker runs at most TENAZ_DESTINATION_CONCURRENCY jobs of one destination at
once, so a slow platform holds a few slots, never all of them.

A destination's rate limit (events per second) is kept where the platform counts: when
each request leaves. "Reserve at claim, pace at send":

- a claim sizes its batch from what was sent or reserved in the last CLAIM_WINDOW, so
  that concurrent claims never take more than the limit between them, and reserves the
  batch's share (jobs/store/rate_log.py);
- every request, the batch's first included, passes the rate gate right before it goes:
  it counts what was sent in the RATE_WINDOW ending now and, if the request fits, logs it
  at that moment (the first request turns the batch's reservation into it); otherwise it
  waits for the oldest send to leave the window and looks again.

However late a request leaves after its claim (the claim's commit, an event loop busy
with other jobs), it is counted when it goes. RATE_WINDOW is 1.08 s and not 1 s because
the way from the gate to the platform (the gate's commit, building the request's body,
writing it out, each perhaps after other jobs' turns on the event loop) varies too: from
5 to 50 ms once a drain runs, up to 70 ms for the first requests of a burst on a loaded
host (several gates at once). The 0.08 s covers that difference, so that the platform
never counts more than the limit in a second. The gate is short for the same reason: the
destination's lock, then one statement that counts and logs, and the commit. A pass whose
commit came back later than PASS_VALID_FOR after it was logged (a stall of the worker
between the gate and the request) goes back to the gate once rather than leave late,
bunched with requests let go after it. A share of the window is free again RATE_WINDOW
after its request went, so the drain of a backlog approaches 1/1.08 = 93% of the limit.

CLAIM_WINDOW is CLAIM_LEAD shorter than RATE_WINDOW, so that the next batch is claimed
while the share its request will use is still taken: the claim of a full batch and the
way to the gate (a few tenths of a second on a loaded host) are spent meanwhile, and the
gate lets the request go when the share is free. Were claims counted over RATE_WINDOW,
each share would stay idle that long after it came free, and the drain would fall under
90%. Claims run no further ahead: a batch holds its share of the claims' window from its
claim (its reservation) until CLAIM_WINDOW after its request went, so claims keep to the
pace of the sends. Gates count only what was sent: a reservation passes its own gate later
and counts this request then; counted here as well, a batch claimed ahead would count
twice (its reservation, and the send whose share it waits for) and hold the others back.
A claim reserves in a transaction of its own, so that gates never wait for the
destination's lock behind a claim's writes. A reservation never sent (every event of the
batch expired, the attempt's budget ran out first) holds its share of the claims' window
for one CLAIM_WINDOW, and no gate.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from jobs import decisions, queue
from jobs.clock import Clock
from jobs.connectors import ConnectorFactory, ConnectorUnavailable
from jobs.metrics import Metrics
from jobs.model import Destination
from jobs.moves import AttemptStart, Move, Writes, write
from jobs.platforms import registry
from jobs.platforms.base import AttemptScope, Connector, Outcome, OutcomeKind, OutgoingEvent
from jobs.retry_policy import DeadlineRule
from jobs.settings import Settings
from jobs.slots import SlotKeys, Slots, TurnedAway
from jobs.status import IN_PROGRESS, Status, as_status
from jobs.store import deliveries, destinations, rate_log
from jobs.tracing import OFF, Tracing

log = logging.getLogger(__name__)


# The window a destination's rate limit is kept over, at each request (see the docstring).
RATE_WINDOW = dt.timedelta(seconds=1.08)
# How long after the gate logged it a request may still leave. A pass older than that (the
# gate's commit answered late, the worker's event loop held by other jobs, its process not
# scheduled) goes back to the gate once: what it logged stays counted, which only holds the
# window fuller, and the request is logged again when it really goes.
PASS_VALID_FOR = dt.timedelta(seconds=0.05)
# How long before its request may go a batch may be claimed, and the claims' window.
CLAIM_LEAD = dt.timedelta(seconds=0.5)
CLAIM_WINDOW = RATE_WINDOW - CLAIM_LEAD
# When a job that its workspace's or endpoint's share of worker slots turned away comes again.
SHARED_SLOT_RETRY = dt.timedelta(seconds=2)
# How long a destination keeps to smaller batches after a proxy refused one as too large.
SMALLER_BATCHES_FOR = dt.timedelta(hours=1)
# Recording an attempt's outcome is tried this often, this many seconds apart.
FINISH_TRIES, FINISH_RETRY_WAIT = 3, 1.0
_NO_OUTCOME = "the connector gave no outcome"
_EXTERNAL = OutcomeKind.EXTERNAL_PROBLEM


# Not frozen: one per delivery of each attempt, and a frozen dataclass costs three times as
# much to build. Nothing changes one after it is built.
@dataclass(slots=True)
class Claimed:
    delivery_id: int
    attempt_number: int
    event: OutgoingEvent
    # The event's submission's trace context ('' unless traces are on).
    trace_context: str


class BatchLimits:
    """Smaller batch sizes that destinations keep to for a while, after HTTP 413."""

    def __init__(self) -> None:
        self._limits: dict[int, tuple[int, dt.datetime]] = {}

    def limit(self, destination_id: int, largest: int, now: dt.datetime) -> int:
        remembered = self._limits.get(destination_id)
        if remembered is None:
            return largest
        if remembered[1] <= now:
            del self._limits[destination_id]
            return largest
        return min(largest, remembered[0])

    def shrink(self, destination_id: int, size: int, until: dt.datetime) -> None:
        current = self._limits.get(destination_id)
        if current is None or size <= current[0]:
            self._limits[destination_id] = (max(1, size), until)


@dataclass(frozen=True)
class Sent:
    """The outcome of every claimed delivery, and which of them the time budget cut short."""

    outcomes: list[Outcome]
    out_of_time: frozenset[int]
    # The worker is being stopped: the attempt is recorded, then the stop goes on.
    cancelled: bool = False


@dataclass(frozen=True)
class Round:
    """One claim: what to send, how many rows it looked at out of `limit`,
    when to come back if the destination's rate limit held the rest, and the share of
    the limit reserved for what it claimed."""

    claimed: list[Claimed]
    locked: int
    limit: int
    held_until: dt.datetime | None
    reservation: int | None = None


class DeliveryEngine:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        clock: Clock,
        settings: Settings,
        connectors: ConnectorFactory,
        app: queue.App,
        tracing: Tracing = OFF,
        *,
        metrics: Metrics,
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        self._clock = clock
        self._settings = settings
        self._connectors = connectors
        self._app = app
        self._tracing = tracing
        # Destinations a job of this process is waiting on (for their rate limit).
        self._waiting: set[int] = set()
        self._slots = Slots(
            per_destination=settings.destination_concurrency,
            per_shared=settings.worker_concurrency // 2,
        )
        self._batch_limits = BatchLimits()
        self._rule = settings.deadline_rule

    def retry_interval(self, destination: Destination) -> dt.timedelta:
        return destination.retry_interval or self._settings.retry_interval

    async def deliver_due(self, destination_id: int) -> int:
        """Send everything due for the destination now; return how many were attempted."""
        async with self._pool.connection() as conn:
            destination = await destinations.get_destination_by_id(conn, destination_id)
        if destination is None or not destination.enabled:
            return 0
        destination = with_default_rate_limit(destination)
        try:
            connector = self._connectors.for_destination(destination)
        except ConnectorUnavailable as exc:
            await self._flag_unavailable(destination, str(exc), exc.action)
            return 0
        keys = SlotKeys(destination.id, destination.workspace_id, connector.endpoint)
        turned_away = self._slots.enter(keys)
        if turned_away is TurnedAway.BY_SHARED:
            await self._try_again_shortly(destination)
        if turned_away is not TurnedAway.NO:
            return 0
        try:
            return await self._deliver_due(destination, connector)
        finally:
            self._slots.leave(keys)

    async def _try_again_shortly(self, destination: Destination) -> None:
        """A job its workspace's or endpoint's share of slots turned away: another comes
        when a slot may be free (one waiting per destination), not after a sweep."""
        async with self._pool.connection() as conn, conn.transaction():
            await queue.defer_delivery(
                self._app,
                conn,
                destination_id=destination.id,
                at=self._clock.now() + SHARED_SLOT_RETRY,
                queueing_lock=f"{queue.DELIVER_TASK}:slots:{destination.id}",
            )

    async def _deliver_due(self, destination: Destination, connector: Connector) -> int:
        attempted = 0
        while True:
            limit = self._batch_limits.limit(
                destination.id, connector.max_batch_size, self._clock.now()
            )
            round_ = await self._claim(destination, limit)
            if round_.claimed:
                started = time.monotonic()
                with self._tracing.attempt(
                    destination.kind,
                    destination.id,
                    len(round_.claimed),
                    (c.trace_context for c in round_.claimed),
                ) as trace:
                    sent = await self._send(destination, connector, round_)
                    trace.record(await self._finish(destination, round_.claimed, sent, started))
                if sent.cancelled:
                    raise asyncio.CancelledError
                attempted += len(round_.claimed)
            if round_.held_until is not None:
                # Over the destination's rate: the rest waits, without using an attempt,
                # here rather than as a job found by the next poll, which keeps the drain
                # at the rate. One job per process waits for a destination; the others end.
                if destination.id in self._waiting:
                    return attempted
                self._waiting.add(destination.id)
                try:
                    # At most one window: another machine's clock may run ahead.
                    wake = min(round_.held_until, self._clock.now() + CLAIM_WINDOW)
                    await self._clock.sleep_until(wake)
                finally:
                    self._waiting.discard(destination.id)
                continue
            if round_.locked < round_.limit and not self._slots.take_turned_away(destination.id):
                return attempted

    async def _send(self, destination: Destination, connector: Connector, round_: Round) -> Sent:
        """One attempt's requests, within the attempt's time budget.

        However the attempt ends (its answers, its time budget running out, an error on the
        way such as a database outage in the rate gate, the worker being stopped), what the
        platform already answered is kept and the rest is an external problem, retried at
        the usual interval: never left in progress for the sweeper to take for interrupted
        and send again at once.
        """
        claimed = round_.claimed
        gate = self._rate_gate(destination, round_.reservation) if destination.rate_limit else None
        scope = AttemptScope.for_batch(len(claimed), gate=gate)
        events = [c.event for c in claimed]
        returned: list[Outcome] | None = None
        cut_short = ""
        timed_out = cancelled = False
        try:
            with self._metrics.requests_to(destination.kind, destination.id):
                async with asyncio.timeout(self._settings.attempt_budget.total_seconds()):
                    returned = await connector.send(events, scope)
        except TimeoutError:
            budget = self._settings.attempt_budget.total_seconds()
            cut_short, timed_out = f"the attempt's time budget ({budget:g} s) ran out", True
            log.warning(
                "delivery.attempt.budget_exhausted",
                extra={
                    "destination": destination.id,
                    "batch": len(claimed),
                    "requests": scope.requests,
                },
            )
        except asyncio.CancelledError:
            cut_short, cancelled = "the worker stopped during the attempt", True
        except Exception as exc:
            cut_short = f"the attempt stopped early ({type(exc).__name__})"
            log.exception("delivery.attempt.stopped", extra={"destination": destination.id})
        if scope.too_large is not None:
            self._batch_limits.shrink(
                destination.id, scope.too_large // 2, until=self._clock.now() + SMALLER_BATCHES_FOR
            )
        if returned is not None:
            by_id = {o.delivery_id: o for o in returned}
            return Sent([by_id.get(c.delivery_id) or _no_outcome(c) for c in claimed], frozenset())
        unanswered = [c for c in claimed if c.delivery_id not in scope.outcomes]
        message = f"{cut_short} before the platform answered for this event"
        outcomes = {
            **{
                c.delivery_id: Outcome(c.delivery_id, _EXTERNAL, message=message)
                for c in unanswered
            },
            **scope.outcomes,
        }
        return Sent(
            [outcomes[c.delivery_id] for c in claimed],
            # Only the time budget has an outcome of its own; the rest is an external problem.
            frozenset(c.delivery_id for c in unanswered) if timed_out else frozenset(),
            cancelled=cancelled,
        )

    def _rate_gate(
        self, destination: Destination, reservation: int | None
    ) -> Callable[[int], Awaitable[None]]:
        """Waits until a request of n events keeps within the destination's rate limit at
        the moment it goes, and logs it then: the first request of the attempt turns the
        claim's `reservation` into it, the halves of a split batch count like any other."""
        limit = destination.rate_limit
        assert limit is not None
        unused = reservation

        async def admit(events: int) -> None:
            nonlocal unused
            stale_passes = 0
            while True:
                async with self._pool.connection() as conn, conn.transaction():
                    await rate_log.lock_destination(conn, destination.id)
                    # Read once the lock is granted: what is logged is when the request leaves.
                    now = self._clock.now()
                    held_by = await rate_log.record_send(
                        conn,
                        destination.id,
                        now,
                        events,
                        limit=limit,
                        since=now - RATE_WINDOW,
                        reservation=unused,
                    )
                if held_by is None:
                    unused = None
                    # Once only: on a machine whose commits always take longer, every
                    # request would otherwise go back forever.
                    if self._clock.now() - now <= PASS_VALID_FOR or stale_passes:
                        return
                    stale_passes += 1
                    continue
                # At most one window: another machine's clock may run ahead.
                await self._clock.sleep_until(min(held_by + RATE_WINDOW, now + RATE_WINDOW))

        return admit

    async def _claim(self, destination: Destination, limit: int) -> Round:
        """Claim up to `limit` due deliveries, within the destination's rate limit.

        The limit's share is reserved in a transaction of its own before the deliveries are
        locked and moved, and what the claim did not take is given back in the claim's: the
        destination stays locked only for that moment, so that the rate gates of requests
        about to leave never wait behind a claim's writes."""
        now = self._clock.now()
        reservation = None
        if destination.rate_limit:
            async with self._pool.connection() as conn, conn.transaction():
                limit, held_until = await self._rate_allowance(conn, destination, now, limit)
                if held_until is not None:
                    return Round([], 0, limit, held_until)
                reservation = await rate_log.reserve(
                    conn, destination.id, now, limit, forget_before=now - RATE_WINDOW
                )
        async with self._pool.connection() as conn, conn.transaction():
            due = await deliveries.lock_due(
                conn, destination_id=destination.id, now=now, limit=limit
            )
            claim = claims(due, now=now, lease=self._settings.attempt_lease, rule=self._rule)
            claimed = claim.claimed
            if reservation is not None and len(claimed) < limit:
                await rate_log.trim_reservation(conn, reservation, len(claimed))
            writes = await write(conn, self._app, claim.moves, now=now)
        self._count(destination, writes)
        self._metrics.claimed(
            destination.kind, now, first_due=claim.first_due, retries_due=claim.retries_due
        )
        return Round(claimed, len(due), limit, None, reservation if claimed else None)

    def _count(self, destination: Destination, writes: Writes) -> None:
        """Count a committed write of this destination's deliveries and attempts."""
        self._metrics.written(writes)
        self._metrics.attempts_ended(destination.kind, destination.id, writes)

    async def _rate_allowance(
        self, conn: AsyncConnection, destination: Destination, now: dt.datetime, limit: int
    ) -> tuple[int, dt.datetime | None]:
        """How many events may be claimed now, or when to come back: the limit less what
        was sent or reserved in the CLAIM_WINDOW ending `now` (see the module docstring).
        The destination stays locked until the caller's reservation commits, so that
        concurrent claims see each other's."""
        assert destination.rate_limit is not None
        await rate_log.lock_destination(conn, destination.id)
        logged, oldest = await rate_log.logged_since(conn, destination.id, now - CLAIM_WINDOW)
        allowed = int(destination.rate_limit) - logged
        if allowed > 0:
            return min(limit, allowed), None
        assert oldest is not None
        return 0, oldest + CLAIM_WINDOW

    async def _finish(
        self,
        destination: Destination,
        claimed: Sequence[Claimed],
        sent: Sent,
        started: float,
    ) -> Counter[str]:
        """Record the attempt, trying again through a short database outage: given up, the
        lease would run out and the sweeper would have everything sent again. Returns where
        the deliveries went (`_record`)."""
        for _ in range(FINISH_TRIES - 1):
            try:
                return await self._record(destination, claimed, sent, started)
            except (psycopg.OperationalError, PoolTimeout) as exc:
                log.warning(
                    "delivery.attempt.finish_retried",
                    extra={"destination": destination.id, "error": type(exc).__name__},
                )
                await asyncio.sleep(FINISH_RETRY_WAIT)
        return await self._record(destination, claimed, sent, started)

    async def _record(
        self,
        destination: Destination,
        claimed: Sequence[Claimed],
        sent: Sent,
        started: float,
    ) -> Counter[str]:
        """Record the attempt; how many deliveries went where (SUCCEEDED, WAITING_RETRY,
        FAILED:<reason>, stale: taken back by the sweeper meanwhile)."""
        now = self._clock.now()
        interval = self.retry_interval(destination)
        async with self._pool.connection() as conn, conn.transaction():
            locked = await deliveries.lock_deliveries(conn, [c.delivery_id for c in claimed])
            moves, tally = ends(locked, claimed, sent, now=now, interval=interval, rule=self._rule)
            await self._flag_credentials(conn, destination, sent.outcomes, now)
            writes = await write(conn, self._app, moves, now=now)
        self._count(destination, writes)
        log.info(
            "delivery.attempt.finished",
            extra={
                "destination": destination.id,
                "batch": len(claimed),
                "latency_ms": round((time.monotonic() - started) * 1000),
                # How many went where: succeeded=40 waiting_retry=2 failed_rejected=1.
                **{k.lower().replace(":", "_"): v for k, v in sorted(tally.items())},
            },
        )
        return tally

    async def _flag_unavailable(self, destination: Destination, reason: str, code: str) -> None:
        """Nothing can be sent to the destination until the operator fixes it: say so where
        operators look (its health), and leave its deliveries to wait or expire."""
        async with self._pool.connection() as conn, conn.transaction():
            flagged = await destinations.set_needs_action(
                conn,
                destination_id=destination.id,
                needs_action=True,
                reason=reason,
                code=code,
                now=self._clock.now(),
            )
        if flagged:  # once, not at every job the sweeper queues for it
            log.warning("destination.unavailable", extra={"destination": destination.id})

    async def _flag_credentials(
        self,
        conn: AsyncConnection,
        destination: Destination,
        outcomes: Sequence[Outcome],
        now: dt.datetime,
    ) -> None:
        refused = next((o for o in outcomes if o.needs_action), None)
        if refused is not None:
            await destinations.set_needs_action(
                conn,
                destination_id=destination.id,
                needs_action=True,
                reason=refused.message,
                code=refused.action,
                now=now,
            )
            log.warning(
                "destination.needs_action",
                extra={"destination": destination.id, "code": refused.platform_code},
            )
        elif destination.needs_action and any(o.kind is OutcomeKind.SUCCEEDED for o in outcomes):
            await destinations.set_needs_action(
                conn, destination_id=destination.id, needs_action=False, reason="", now=now
            )


@dataclass(slots=True)
class Claims:
    """What a claim decided about the due deliveries it locked."""

    moves: list[Move] = field(default_factory=list)
    # Those whose attempt starts (the others expired).
    claimed: list[Claimed] = field(default_factory=list)
    # When each of those became due, first attempts and retries apart (jobs/metrics.py).
    first_due: list[dt.datetime] = field(default_factory=list)
    retries_due: list[dt.datetime] = field(default_factory=list)


def claims(
    due: Sequence[deliveries.DueDelivery],
    *,
    now: dt.datetime,
    lease: dt.timedelta,
    rule: DeadlineRule,
) -> Claims:
    """A claim's decisions for the `due` deliveries it locked: each attempt starts, unless the
    delivery expired."""
    decided = Claims()
    for row in due:
        moves = decisions.start_or_expire(row, now=now, lease=lease, rule=rule)
        decided.moves.extend(moves)
        start = moves[-1].attempt
        if isinstance(start, AttemptStart):
            decided.claimed.append(
                Claimed(row.id, start.number, OutgoingEvent(row.id, row.payload), row.trace_context)
            )
            waited = decided.first_due if row.status == Status.PENDING else decided.retries_due
            waited.append(row.next_attempt_at)
    return decided


def ends(
    locked: Sequence[deliveries.LockedDelivery],
    claimed: Sequence[Claimed],
    sent: Sent,
    *,
    now: dt.datetime,
    interval: dt.timedelta,
    rule: DeadlineRule,
) -> tuple[list[Move], Counter[str]]:
    """Where an attempt's outcomes take the `claimed` deliveries, `locked` as they are now,
    and how many went where (SUCCEEDED, WAITING_RETRY, FAILED:<reason>, stale: taken back by
    the sweeper meanwhile)."""
    expected = {c.delivery_id: c.attempt_number for c in claimed}
    by_id = {o.delivery_id: o for o in sent.outcomes}
    moves: list[Move] = []
    tally: Counter[str] = Counter()
    for row in locked:
        if as_status(row.status) not in IN_PROGRESS or row.attempt_count != expected[row.id]:
            # The lease ran out and the sweeper took the delivery back meanwhile.
            tally["stale"] += 1
            continue
        move = decisions.after_outcome(
            row,
            by_id[row.id],
            out_of_time=row.id in sent.out_of_time,
            now=now,
            interval=interval,
            rule=rule,
        )
        moves.append(move)
        tally[move.to if move.to != Status.FAILED else f"FAILED:{move.reason}"] += 1
    return moves, tally


def with_default_rate_limit(destination: Destination) -> Destination:
    """The destination with its platform's documented rate limit when it sets none (Pinterest:
    5,000 calls a minute), so that a backlog never drains faster than the platform takes."""
    if destination.rate_limit is not None:
        return destination
    platform = registry.platforms().get(destination.kind)
    if platform is None:
        return destination
    default = platform.rules(destination.settings).default_rate_limit
    return destination if default is None else dataclasses.replace(destination, rate_limit=default)


def _no_outcome(claimed: Claimed) -> Outcome:
    return Outcome(claimed.delivery_id, OutcomeKind.EXTERNAL_PROBLEM, message=_NO_OUTCOME)
