"""The live status stream for the page: server-sent events read from the status-change log.

It is `WatchStatus`'s follow (`jobs.status_follower`) written as frames: the
changes of the workspace after a cursor (the last sequence sent), and a
heartbeat when idle. Each browser pages through the log at its own pace and
holds no database connection while it writes, so a slow one stalls only
itself.

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
interval (on the program's clock): when the session has ended (logout,
expiry, a revoked key) or the browser has left, the stream ends, and the
browser's reconnection is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging

from aiohttp import web

from jobs.digits import is_ascii_digits
from jobs.errors import InvalidArgument, OutOfRange
from jobs.runtime import Runtime
from jobs.status_follower import Follow, Followed, Heartbeat, StatusFollower
from server.dashboard import encode
from server.dashboard.auth import Sessions, workspace
from server.dashboard.errors import UNAVAILABLE, error_body
from server.status_hub import StatusHub

log = logging.getLogger(__name__)

RECONNECT_MS = 2000


def _frame(event: str, sequence: int, data: object) -> str:
    return f"id: {sequence}\nevent: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _item_frame(item: Followed) -> str:
    if isinstance(item, Heartbeat):
        heartbeat = {"last_sequence": item.last_sequence, "at": encode.iso(item.at)}
        return _frame("heartbeat", item.last_sequence, heartbeat)
    return _frame("change", item.seq, encode.change(item))


def _resume_point(request: web.Request) -> int | None:
    raw = request.headers.get("Last-Event-ID", "").strip()
    if not raw:
        return None
    if not is_ascii_digits(raw):
        raise InvalidArgument.one("Last-Event-ID", "a sequence number sent by this stream")
    return int(raw)


def _browser_left(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


class StatusStream:
    def __init__(
        self,
        runtime: Runtime,
        hub: StatusHub,
        stopping: asyncio.Event,
        heartbeat: float,
        sessions: Sessions,
    ) -> None:
        self._follower = StatusFollower(
            runtime.feed,
            runtime.clock,
            hub,
            ends=(stopping, hub.closing),
            per_workspace=runtime.settings.max_streams_per_workspace,
        )
        self._heartbeat = dt.timedelta(seconds=heartbeat)
        self._sessions = sessions

    async def handle(self, request: web.Request) -> web.StreamResponse:
        # Opened before the response starts, so a purged cursor is a 410, not a broken stream.
        follow = await self._follower.open(
            workspace(request).id,
            after=_resume_point(request),
            heartbeat=self._heartbeat,
            still_wanted=lambda: self._still_wanted(request),
        )
        async with contextlib.aclosing(follow):
            return await self._stream(request, follow)

    async def _stream(self, request: web.Request, follow: Follow) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-store",
                # Tells nginx-like proxies to pass events through instead of buffering them.
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        start = follow.position.sequence
        try:
            await response.write(
                f"retry: {RECONNECT_MS}\n".encode()
                + _frame("ready", start, {"last_sequence": start}).encode()
            )
            async for item in follow:
                if _browser_left(request):
                    break  # nothing to write to
                await response.write(_item_frame(item).encode())
        except OutOfRange as exc:
            # Behind a retention purge: the page learns why, then starts afresh.
            known = error_body(exc)
            assert known is not None
            with contextlib.suppress(ConnectionResetError):
                await response.write(_frame("error", follow.position.sequence, known[1]).encode())
        except ConnectionResetError:
            pass  # the browser left while we wrote
        except UNAVAILABLE as exc:
            # Ending the stream makes the browser reconnect from its Last-Event-ID.
            log.warning("dashboard.stream.unavailable", extra={"error": type(exc).__name__})
        return response

    async def _still_wanted(self, request: web.Request) -> bool:
        """Asked every heartbeat interval: a stream ends with its browser or its session."""
        if _browser_left(request):
            return False
        if not await self._sessions.has_session(request):
            log.info("dashboard.stream.session_ended")
            return False
        return True
