"""The web dashboard: an aiohttp application on its own HTTP port, in the gRPC server's loop.

    GET  /                   the dashboard page (to /login without a working session)
    GET  /login              the login page
    GET  /static/...         the page's HTML, CSS and JavaScript (committed, no build step)
    POST /api/session        log in: {"api_key": ...} -> HttpOnly cookie with a session id
    GET  /api/session        who is logged in, with what scope
    DELETE /api/session      log out: the session ends
    GET  /api/stream         live status changes (server-sent events)
    the rest of /api/        see `server.dashboard.api`

`start_dashboard` binds the port (server/http_site.py) and returns a
`DashboardServer`; its `stop()` ends the live streams cleanly, then closes the
port. It serves HTTPS with the settings' dashboard pair (by default the gRPC
server's).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import web

from jobs import keys
from jobs.base_url import BaseUrl
from jobs.runtime import Runtime
from jobs.settings import is_loopback
from jobs.status_follower import DEFAULT_HEARTBEAT
from jobs.turns import reading
from server.auth import KeyCache
from server.dashboard import auth
from server.dashboard.api import DashboardApi
from server.dashboard.auth import Handler, Sessions
from server.dashboard.errors import error_response, to_response
from server.dashboard.stream import StatusStream
from server.http_site import Site, start_site
from server.status_hub import StatusHub
from server.tls import dashboard_ssl_context

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
STOP_GRACE = 5.0  # seconds handlers get to finish at stop

# The page loads nothing from elsewhere and runs no inline code.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
        " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class DashboardServer:
    """A started dashboard bound to `port`; `stop()` ends streams, then closes the port."""

    def __init__(self, site: Site, stopping: asyncio.Event) -> None:
        self._runner = site.runner
        self._stopping = stopping
        self.port = site.port
        self.url = site.url

    async def stop(self) -> None:
        self._stopping.set()
        await self._runner.cleanup()
        log.info("dashboard.stopped", extra={"port": self.port})


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every API error is JSON from the one table; pages keep aiohttp's own answers."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if not request.path.startswith("/api/"):
            raise
        return error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
    except Exception as exc:
        return to_response(exc)


STREAM_PATH = "/api/stream"


@web.middleware
async def _reads_first(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An operator waits for every request but the live stream (which lasts): batches
    submitted meanwhile to this process give way to it (jobs/turns.py)."""
    if request.path == STREAM_PATH:
        return await handler(request)
    with reading():
        return await handler(request)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(_SECURITY_HEADERS)
    # API answers are live data; pages and scripts are revalidated so an upgrade shows at once.
    cache = "no-store" if request.path.startswith("/api/") else "no-cache"
    response.headers.setdefault("Cache-Control", cache)


class _Pages:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def dashboard(self, request: web.Request) -> web.StreamResponse:
        if not await self._sessions.has_session(request):
            raise web.HTTPSeeOther("/login")
        return web.FileResponse(STATIC_DIR / "index.html")

    async def login(self, request: web.Request) -> web.StreamResponse:
        if await self._sessions.has_session(request):
            raise web.HTTPSeeOther("/")
        return web.FileResponse(STATIC_DIR / "login.html")


def build_application(
    runtime: Runtime,
    hub: StatusHub,
    stopping: asyncio.Event,
    *,
    heartbeat: float,
    secure_cookies: bool = False,
    public_url: BaseUrl | None = None,
) -> web.Application:
    """The dashboard's routes; `secure_cookies` marks the session cookie Secure on every login
    (else only on requests that came over TLS); with `public_url`, state-changing requests must
    come from that origin."""

    async def check_key(secret: str) -> keys.Caller:
        return await keys.authenticate(runtime.pool, secret)

    sessions = Sessions(KeyCache(check_key), runtime.sessions, secure_cookies=secure_cookies)
    pages = _Pages(sessions)
    stream = StatusStream(runtime, hub, stopping, heartbeat, sessions)

    app = web.Application(
        middlewares=[_reads_first, _json_errors, auth.middleware(sessions, public_url)]
    )
    app.on_response_prepare.append(_security_headers)

    async def end_streams(_: web.Application) -> None:
        stopping.set()

    app.on_shutdown.append(end_streams)
    app.add_routes(
        [
            web.get("/", pages.dashboard),
            web.get("/login", pages.login),
            web.post(auth.SESSION_PATH, sessions.login),
            web.get(auth.SESSION_PATH, sessions.current),
            web.delete(auth.SESSION_PATH, sessions.logout),
            web.get(STREAM_PATH, stream.handle),
            *DashboardApi(runtime).routes(),
            web.static("/static", STATIC_DIR),
        ]
    )
    return app


async def start_dashboard(
    runtime: Runtime,
    hub: StatusHub,
    address: str,
    *,
    heartbeat: float = DEFAULT_HEARTBEAT.total_seconds(),
) -> DashboardServer:
    """Serve the dashboard on `address` ("host:port"; port 0 picks a free one); `heartbeat` is
    the live stream's, in seconds."""
    ssl_context = dashboard_ssl_context(runtime.settings)
    stopping = asyncio.Event()
    # Beyond loopback the page is reached over the network, through TLS (here or at a proxy),
    # and so it is on loopback behind a proxy whose public URL is https: the session cookie
    # must never travel in clear.
    public_url = runtime.settings.dashboard_public_url
    behind_tls = public_url is not None and public_url.scheme == "https"
    app = build_application(
        runtime,
        hub,
        stopping,
        heartbeat=heartbeat,
        secure_cookies=behind_tls or not is_loopback(address),
        public_url=public_url,
    )
    site = await start_site(app, address, ssl_context, shutdown_timeout=STOP_GRACE)
    log.info("dashboard.started", extra={"address": address, "port": site.port})
    return DashboardServer(site, stopping)
