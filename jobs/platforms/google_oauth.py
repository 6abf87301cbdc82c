"""Google's OAuth2 refresh-token flow: an access token for a destination, kept until shortly
before it expires, fetched again when Google says it no longer holds.

The Google Ads API takes a short-lived access token (`Authorization: Bearer`), which a
destination's long-lived refresh token buys at Google's token endpoint:

    POST {token_base_url}/token
    grant_type=refresh_token&client_id=..&client_secret=..&refresh_token=..
    -> 200 {"access_token": "...", "expires_in": 3599, "token_type": "Bearer"}
    -> 400/401 {"error": "invalid_grant" | "invalid_client" | ..., "error_description": "..."}

A token is kept per destination (`ConnectorContext.keep`, under a key that changes with the
credentials) and used until `REFRESH_MARGIN` before its expiry by the injected clock; one
request refreshes it at a time, the others wait for its answer. What the endpoint's answer
means is decided here and raised as `TokenRefused`:

    an OAuth error (invalid_grant, invalid_client, ...) -> EXTERNAL_PROBLEM, needs_action
    HTTP 5xx, 408, 429                                  -> EXTERNAL_PROBLEM
    anything else (no token in a 2xx, a proxy's page)   -> EXTERNAL_PROBLEM, needs_action

A request that gets no answer raises one of `http_connector.SendError`, for the caller's
`transport_problem`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode

from jobs.clock import Clock
from jobs.platforms.base import Classification, OutcomeKind
from jobs.platforms.http_connector import MAX_MESSAGE_CHARS, HttpSender, parse_json

# Refresh this long before the token expires, so that no request starts with a token that
# runs out on the way (or half the token's life, for a token that lives less than twice it).
REFRESH_MARGIN: Final = dt.timedelta(minutes=5)
_FORM: Final = {"content-type": "application/x-www-form-urlencoded"}


class TokenRefused(Exception):
    """The token endpoint gave no access token: what that means for the events waiting on it."""

    def __init__(self, classification: Classification, http_status: int, excerpt: str) -> None:
        super().__init__(classification.message)
        self.classification = classification
        self.http_status = http_status
        self.excerpt = excerpt


@dataclass(frozen=True)
class AccessToken:
    value: str
    # When to stop using it and fetch another.
    refresh_at: dt.datetime


@dataclass
class TokenCache:
    """One destination's access token, across attempts; the lock lets one refresh run."""

    token: AccessToken | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def cache_key(token_url: str, client_id: str, client_secret: str, refresh_token: str) -> Hashable:
    """The key a destination's token is kept under: new credentials, a new token. A digest,
    so that the secrets themselves are not kept as a key."""
    credentials = "\x00".join((token_url, client_id, client_secret, refresh_token))
    return ("google-oauth", hashlib.sha256(credentials.encode()).hexdigest())


def _oauth_error(document: Any) -> str:
    """`error: error_description` of an RFC 6749 error answer, or "" when it is not one."""
    if not isinstance(document, dict) or not isinstance(document.get("error"), str):
        return ""
    description = document.get("error_description")
    code = str(document["error"]).strip()
    if isinstance(description, str) and description.strip():
        return f"{code}: {description.strip()}"
    return code


def classify_token_answer(status: int, body: bytes) -> Classification:
    """What a token endpoint answer other than a usable token means (see the module)."""
    external = OutcomeKind.EXTERNAL_PROBLEM
    error = _oauth_error(parse_json(body))
    if status >= 500 or status in (408, 429):
        text = error or "the token endpoint is unavailable"
        return Classification(external, message=f"HTTP {status}: {text}"[:MAX_MESSAGE_CHARS])
    if error and 400 <= status < 500:
        return Classification(
            external,
            needs_action=True,
            action="credentials",
            message=(
                f"Google refused the OAuth credentials ({error}): set a new refresh token,"
                " client id and client secret"
            )[:MAX_MESSAGE_CHARS],
        )
    return Classification(
        external,
        needs_action=True,
        action="configuration",
        message=(
            f"HTTP {status}: unexpected answer from the OAuth token endpoint: check the"
            " destination's token_base_url"
        ),
    )


class RefreshTokenFlow:
    """Access tokens for one destination's OAuth credentials."""

    def __init__(
        self,
        http: HttpSender,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        clock: Clock,
        cache: TokenCache,
    ) -> None:
        self._http = http
        self._url = token_url
        self._form = urlencode(
            {
                "grant_type": "refresh_token",
                "client_id": client_id,
                "client_secret": client_secret,
                "refresh_token": refresh_token,
            }
        ).encode()
        self._clock = clock
        self._cache = cache

    @property
    def current(self) -> str:
        """The access token in use ("" before the first): the caller scrubs it too."""
        token = self._cache.token
        return token.value if token is not None else ""

    async def access_token(self, *, refused: str = "") -> str:
        """A token to use now. `refused`: the token Google just refused; a new one is fetched
        unless another request has already replaced it. Raises `TokenRefused`, or a
        `SendError` when the endpoint did not answer."""
        async with self._cache.lock:
            token = self._cache.token
            fresh = token is not None and self._clock.now() < token.refresh_at
            if token is None or not fresh or token.value == refused:
                token = self._cache.token = await self._fetch()
            return token.value

    async def _fetch(self) -> AccessToken:
        reply = await self._http.post(self._url, self._form, _FORM)
        document = parse_json(reply.body) if 200 <= reply.status < 300 else None
        value = document.get("access_token") if isinstance(document, dict) else None
        lifetime = document.get("expires_in") if isinstance(document, dict) else None
        if (
            isinstance(value, str)
            and value
            and isinstance(lifetime, int)
            and not isinstance(lifetime, bool)
            and lifetime > 0
        ):
            seconds = dt.timedelta(seconds=lifetime)
            margin = min(REFRESH_MARGIN, seconds / 2)
            return AccessToken(value, self._clock.now() + seconds - margin)
        classification = classify_token_answer(reply.status, reply.body)
        # A 2xx without a usable token could still hold one: never keep its body.
        excerpt = "" if 200 <= reply.status < 300 else self._http.excerpt(reply.body)
        raise TokenRefused(classification, reply.status, excerpt)


def kept_cache(keep: Callable[[Hashable, Callable[[], Any]], Any], key: Hashable) -> TokenCache:
    """The destination's token cache from the connector factory's memory."""
    cache = keep(key, TokenCache)
    if not isinstance(cache, TokenCache):  # a key of someone else's: start afresh
        return TokenCache()
    return cache
