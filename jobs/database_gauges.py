"""The gauges that read the database, computed by one Tenaz process at a time.

Every process could read them, but N processes would run the same queries N times and
Prometheus would get N copies to deduplicate. So each process tries, at every interval, to
take a PostgreSQL session lock on its own connection (`jobs.store.gauges.GAUGES_LOCK`);
the one that holds it reads the database and serves the gauges, and every other process
serves none of them (only `tenaz_database_gauges_leader` 0). When the leader stops or
loses its connection, the lock goes with it and another process takes over within an
interval. A leader that cannot read serves nothing rather than stale figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from jobs.clock import Clock
from jobs.store import gauges

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """What one read of the database found."""

    unfinished: list[tuple[int, str, int]]
    oldest_due_age: dict[int, float]
    destinations: list[gauges.DestinationFlags]
    at: dt.datetime


class DatabaseGauges(Collector):
    """A collector of the database's gauges; `run()` keeps them fresh while this process
    holds the gauges' lock."""

    def __init__(self, database_url: str, clock: Clock, interval: dt.timedelta) -> None:
        self._url = database_url
        self._clock = clock
        self._interval = interval.total_seconds()
        self._conn: psycopg.AsyncConnection | None = None
        self._leader = False
        self._snapshot: Snapshot | None = None

    @property
    def leader(self) -> bool:
        return self._leader

    async def run(self) -> None:
        """Refresh every interval until cancelled."""
        try:
            while True:
                await self.refresh()
                await asyncio.sleep(self._interval)
        finally:
            await self.close()

    async def refresh(self) -> None:
        """Take the lock if it is free, and read the gauges if this process holds it."""
        try:
            if self._conn is None or self._conn.closed:
                self._leader = False
                self._conn = await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True, application_name="tenaz-gauges"
                )
            if not self._leader:
                self._leader = await gauges.try_gauges_lock(self._conn)
            self._snapshot = await self._read(self._conn) if self._leader else None
        except psycopg.Error as exc:
            log.warning("metrics.gauges.unavailable", extra={"error": type(exc).__name__})
            self._snapshot = None
            await self.close()

    async def close(self) -> None:
        """Let the lock go (another process takes over at its next interval)."""
        leader, self._leader = self._leader, False
        self._snapshot = None
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                if leader and not self._conn.closed:
                    await gauges.release_gauges_lock(self._conn)
                await self._conn.close()
            self._conn = None

    async def _read(self, conn: psycopg.AsyncConnection) -> Snapshot:
        now = self._clock.now()
        due = await gauges.oldest_due(conn, now=now)
        return Snapshot(
            unfinished=await gauges.unfinished_counts(conn),
            oldest_due_age={d: max(0.0, (now - at).total_seconds()) for d, at in due.items()},
            destinations=await gauges.destination_flags(conn),
            at=now,
        )

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(_families())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        leader, unfinished, oldest, needs_action, updated = _families()
        leader.add_metric([], 1.0 if self._leader else 0.0)
        yield leader
        snapshot = self._snapshot
        if snapshot is None:
            return
        for destination_id, status, n in snapshot.unfinished:
            unfinished.add_metric([str(destination_id), status], n)
        for destination in snapshot.destinations:
            oldest.add_metric(
                [str(destination.id), destination.platform],
                snapshot.oldest_due_age.get(destination.id, 0.0),
            )
            needs_action.add_metric(
                [str(destination.id), destination.platform], float(destination.needs_action)
            )
        updated.add_metric([], snapshot.at.timestamp())
        yield from (unfinished, oldest, needs_action, updated)


def _families() -> tuple[
    GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily
]:
    return (
        GaugeMetricFamily(
            "tenaz_database_gauges_leader",
            "1 in the one process that computes the database gauges, 0 in the others.",
        ),
        GaugeMetricFamily(
            "tenaz_deliveries_unfinished",
            "Deliveries not finished now (PENDING, SENDING, WAITING_RETRY, RESENDING), by"
            " destination and status.",
            labels=["destination", "status"],
        ),
        GaugeMetricFamily(
            "tenaz_oldest_due_delivery_age_seconds",
            "How long the oldest delivery due now has been due, per destination (0: none).",
            labels=["destination", "platform"],
        ),
        GaugeMetricFamily(
            "tenaz_destination_needs_action",
            "1 when a destination needs an operator's action (a credential, a setting), by"
            " destination and platform; one series per destination.",
            labels=["destination", "platform"],
        ),
        GaugeMetricFamily(
            "tenaz_database_gauges_updated_timestamp_seconds",
            "When the database gauges were last read (Unix time).",
        ),
    )
