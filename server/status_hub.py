"""Wakes status streams when changes commit: one LISTEN connection per server process.

NOTIFY is only a nudge. Streams read the changes from the table, so a
notification lost while the connection was down costs latency, not data:
after a reconnect every stream is woken, and streams also poll on a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg

from jobs.status_feed import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

_LIVENESS_TIMEOUT = 30.0
_RECONNECT_DELAY = 1.0


class StatusHub:
    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._changed = asyncio.Event()
        self.closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="status-hub")

    async def close(self) -> None:
        """Wake every stream so that it sees `closing` and ends."""
        self.closing.set()
        self._wake()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait(self, at_most: float) -> None:
        """Return when a change may have committed, on close, or after `at_most` seconds."""
        if self.closing.is_set():
            return
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(at_most):
                await changed.wait()

    def _wake(self) -> None:
        # Every waiter holds the current event; setting it wakes them all, and
        # the next waiters get a fresh one.
        self._changed.set()
        self._changed = asyncio.Event()

    async def _listen(self) -> None:
        while not self.closing.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self._wake()  # anything may have happened while disconnected
                    while not self.closing.is_set():
                        got = False
                        async for _ in conn.notifies(timeout=_LIVENESS_TIMEOUT, stop_after=1):
                            got = True
                        if got:
                            self._wake()
                        else:
                            await conn.execute("SELECT 1")
            except psycopg.OperationalError as exc:
                log.warning("status_hub.disconnected", extra={"error": type(exc).__name__})
                self._wake()
                await asyncio.sleep(_RECONNECT_DELAY)
