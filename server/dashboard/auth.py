"""Who is calling the dashboard: a login session (cookie) or an API key (Bearer header).

The dashboard accepts the same API keys as the gRPC API and, like it, shows a
key only its own workspace. The login page posts a key once; the server
checks it, opens a session (`jobs.sessions`) and sets a cookie holding only
the session's random id: HttpOnly, so page scripts never hold it;
SameSite=Strict, so other sites cannot make the browser send it; Secure
whenever the dashboard listens beyond this machine, its public URL
(TENAZ_DASHBOARD_PUBLIC_URL, behind a proxy) is https, or the request came over
TLS. Every request looks its session up, so logout, expiry and revocation of
the key take effect at once; an open live stream checks again every
heartbeat. Scripts and tests may send `Authorization: Bearer <key>` instead
(checked through the `KeyCache`, so a revoked key stops within 10 seconds).
Neither keys nor session ids reach a log line.

Reading is open to every scope; every state-changing API call (retry,
cancel, a new access token, alert rules and channels) needs an admin key,
whatever the page shows, so a route added later is closed to submit keys
unless it says otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

from jobs.base_url import BaseUrl
from jobs.errors import InvalidArgument, Unauthenticated
from jobs.model import Caller, Workspace
from jobs.scopes import ADMIN, require_scope
from jobs.sessions import SessionService
from server.auth import KeyCache
from server.dashboard.errors import error_response
from server.dashboard.params import json_object

log = logging.getLogger(__name__)

COOKIE = "tenaz_session"
SESSION_PATH = "/api/session"
CALLER = web.RequestKey("caller", Caller)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def caller(request: web.Request) -> Caller:
    """The key that made this API call (set by `middleware`)."""
    return request[CALLER]


def workspace(request: web.Request) -> Workspace:
    """The workspace of the key that made this API call."""
    return request[CALLER].workspace


def _same_origin(request: web.Request, public_url: BaseUrl | None) -> bool:
    """Whether a state-changing request comes from a page of this dashboard.

    SameSite=Strict already keeps the cookie off cross-site requests; this
    refuses them outright as well, should a browser ignore the attribute.
    With a public URL the page's origin is that URL's: a proxy in front may
    rewrite Host (nginx does by default), so Host says nothing. Without one,
    only hosts are compared: behind a TLS proxy the scheme differs.
    """
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")
    if public_url is None:
        return urlsplit(origin).netloc == request.host
    try:
        return BaseUrl.parse(origin).origin == public_url.origin
    except ValueError:
        return False


def _needs_key(request: web.Request) -> bool:
    if not request.path.startswith("/api/"):
        return False
    # Logging in presents the key in the body; logging out must work with a stale cookie.
    return not (request.path == SESSION_PATH and request.method in ("POST", "DELETE"))


def middleware(sessions: Sessions, public_url: BaseUrl | None) -> Middleware:
    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in _SAFE_METHODS and not _same_origin(request, public_url):
            return error_response(403, "permission_denied", "cross-site request refused")
        if _needs_key(request):
            request[CALLER] = found = await sessions.caller_for(request)
            if request.method not in _SAFE_METHODS:
                require_scope(found, ADMIN, f"{request.method} {request.path}")
        return await handler(request)

    return authenticate


class Sessions:
    """Log in (check a key, open a session, set the cookie), say who is logged in, log out."""

    def __init__(self, keys: KeyCache, sessions: SessionService, *, secure_cookies: bool) -> None:
        self._keys = keys
        self._sessions = sessions
        self._secure_cookies = secure_cookies

    async def caller_for(self, request: web.Request) -> Caller:
        """The key behind the request's Bearer header or, without one, its session cookie."""
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return await self._keys.caller_for(token.strip())
            raise Unauthenticated("send the header 'Authorization: Bearer <api key>'")
        cookie = request.cookies.get(COOKIE, "")
        if cookie:
            return await self._sessions.caller_for(cookie)
        raise Unauthenticated("log in with an API key, or send 'Authorization: Bearer <api key>'")

    async def has_session(self, request: web.Request) -> bool:
        """Whether the request still opens the API (for the HTML pages and open streams)."""
        try:
            await self.caller_for(request)
        except Unauthenticated:
            return False
        return True

    async def current(self, request: web.Request) -> web.StreamResponse:
        """The page's first call: which workspace the cookie (or header) opens, with what scope."""
        return web.json_response(_session_body(caller(request)))

    async def login(self, request: web.Request) -> web.StreamResponse:
        body = await json_object(request)
        secret = body.get("api_key")
        if not isinstance(secret, str) or not secret.strip():
            raise InvalidArgument.one("api_key", "paste an API key (tenaz keys create)")
        try:
            session = await self._sessions.open(secret.strip())
        except Unauthenticated:
            log.info("dashboard.login.refused")
            raise
        found = session.caller
        log.info(
            "dashboard.login",
            extra={"workspace": found.workspace.id, "key": found.key_id, "scope": found.scope},
        )
        response = web.json_response(_session_body(found))
        response.set_cookie(
            COOKIE,
            session.id,
            # The browser forgets it when the server does.
            max_age=int(self._sessions.ttl.total_seconds()),
            httponly=True,
            samesite="Strict",
            secure=self._secure(request),
            path="/",
        )
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        await self._sessions.close(request.cookies.get(COOKIE, ""))
        response = web.json_response({})
        response.del_cookie(COOKIE, path="/", secure=self._secure(request), samesite="Strict")
        return response

    def _secure(self, request: web.Request) -> bool:
        return self._secure_cookies or request.secure


def _session_body(found: Caller) -> dict[str, str]:
    return {"workspace": found.workspace.name, "scope": found.scope}
