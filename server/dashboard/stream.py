"""The live status stream for the page: server-sent events read from the status-change log.

It works as `WatchStatus` does. The stream keeps a cursor (the last sequence
sent), reads the workspace's changes after it from the table, and between
reads waits on the `StatusHub` nudge or a short poll, so a lost notification
costs latency, never a change. Each browser pages through the log at its own
pace and holds no database connection while it writes, so a slow one stalls
only itself.

    retry: 2000
    id: 41                      the cursor the stream starts from
    event: ready                (the page reloads its list: nothing before 41 is missed)
    id: 42
    event: change
    data: {"sequence": 42, "delivery_id": "7", "to_status": "SUCCEEDED", ...}
    id: 42
    event: heartbeat            (when idle, so proxies keep the connection)
    id: 42
    event: error                (the stream fell behind a retention purge: it ends here,
    data: {"code": "out_of_range", "message": "..."}    and the page reloads afresh)

The SSE id is the status-change sequence: a browser that reconnects sends it
back as `Last-Event-ID` and resumes with no gap and no repeat. A stream is
authenticated as every API call is, and checks again every heartbeat
interval: when the session has ended (logout, expiry, a revoked key) the
stream ends, and the browser's reconnection is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

from aiohttp import web

from jobs.errors import InvalidArgument, OutOfRange
from jobs.runtime import Runtime
from server.dashboard import encode
from server.dashboard.auth import Sessions, workspace
from server.dashboard.errors import UNAVAILABLE, error_body
from server.status_hub import StatusHub

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT = 15.0
POLL_INTERVAL = 2.0  # in case a wake-up was lost
STREAM_PAGE = 500
RECONNECT_MS = 2000


def _frame(event: str, sequence: int, data: object) -> str:
    return f"id: {sequence}\nevent: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _resume_point(request: web.Request) -> int | None:
    raw = request.headers.get("Last-Event-ID", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise InvalidArgument.one("Last-Event-ID", "a sequence number sent by this stream")
    return int(raw)


class StatusStream:
    def __init__(
        self,
        runtime: Runtime,
        hub: StatusHub,
        stopping: asyncio.Event,
        heartbeat: float,
        sessions: Sessions,
    ) -> None:
        self._runtime = runtime
        self._hub = hub
        self._stopping = stopping
        self._heartbeat = heartbeat
        self._sessions = sessions

    def _ending(self) -> bool:
        return self._stopping.is_set() or self._hub.closing.is_set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        workspace_id = workspace(request).id
        feed = self._runtime.feed
        # Checked before the response starts, so a purged cursor is a 410, not a broken stream.
        where = await feed.filter(workspace_id)
        position = await feed.start(workspace_id, _resume_point(request))
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-store",
                # Tells nginx-like proxies to pass events through instead of buffering them.
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        try:
            await response.write(
                f"retry: {RECONNECT_MS}\n".encode()
                + _frame("ready", position.sequence, {"last_sequence": position.sequence}).encode()
            )
            last_sent = checked = time.monotonic()
            while not self._ending():
                if request.transport is None or request.transport.is_closing():
                    break  # the browser left; nothing to write to
                if time.monotonic() - checked >= self._heartbeat:
                    if not await self._sessions.has_session(request):
                        log.info("dashboard.stream.session_ended")
                        break
                    checked = time.monotonic()
                rows, position = await feed.read(workspace_id, position, where, STREAM_PAGE)
                if rows:
                    text = "".join(_frame("change", r.seq, encode.change(r)) for r in rows)
                    await response.write(text.encode())
                    last_sent = time.monotonic()
                    if len(rows) == STREAM_PAGE:
                        continue
                idle = time.monotonic() - last_sent
                if idle >= self._heartbeat:
                    at = encode.iso(self._runtime.clock.now())
                    heartbeat = {"last_sequence": position.sequence, "at": at}
                    await response.write(_frame("heartbeat", position.sequence, heartbeat).encode())
                    last_sent = time.monotonic()
                    continue
                await self._nap(min(self._heartbeat - idle, POLL_INTERVAL))
        except OutOfRange as exc:
            # Behind a retention purge: the page learns why, then starts afresh.
            known = error_body(exc)
            assert known is not None
            with contextlib.suppress(ConnectionResetError):
                await response.write(_frame("error", position.sequence, known[1]).encode())
        except ConnectionResetError:
            pass  # the browser left while we wrote
        except UNAVAILABLE as exc:
            # Ending the stream makes the browser reconnect from its Last-Event-ID.
            log.warning("dashboard.stream.unavailable %s", type(exc).__name__)
        return response

    async def _nap(self, seconds: float) -> None:
        """Wait until a change may have committed, the dashboard stops, or `seconds` pass."""
        waits = [
            asyncio.ensure_future(self._hub.wait(seconds)),
            asyncio.ensure_future(self._stopping.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
