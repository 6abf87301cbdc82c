"""A fake Reddit Conversions API (v2.0 `conversions/events`) that follows the platform notes.

Tests serve it over HTTP on loopback (`FakeServer`); the sandbox plugs it into an httpx client
in process (`FakeTransport`). What it checks, in Reddit's order as its documentation gives it:
the route, a user agent of the client's own (Reddit throttles default ones with HTTP 429), the
Bearer token and its access to the ad account (401/403), then the events, which it takes all or
none: at most 1,000; `event_at` in ISO 8601, at most 7 days old and not in the future; a
tracking type of Reddit's list (a custom event named, in 64 characters at most); email, phone,
external id and IP address as SHA-256 digests; an ISO 4217 currency with a value; one match key
at least. One invalid event refuses the request (HTTP 400, "There were N invalid conversion
events. None were processed."). Error bodies are `{"error": {"code", "message"}}`: Reddit
documents its messages, not the v2.0 body, so that shape is the fake's choice.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Unpack

from jobs.currencies import ISO_4217
from jobs.platforms.fake_http import PlatformOptions, Reply, ScriptedReply
from jobs.platforms.fake_json import UNAUTHORIZED, AccountPlatform, json_reply

MAX_EVENTS_PER_REQUEST: Final = 1000
MAX_EVENT_AGE: Final = dt.timedelta(days=7)
MAX_FUTURE_SKEW: Final = dt.timedelta(minutes=5)
MAX_CUSTOM_EVENT_NAME: Final = 64
TRACKING_TYPES: Final = frozenset(
    {"PageVisit", "ViewContent", "Search", "AddToCart", "AddToWishlist", "Purchase", "Lead"}
    | {"SignUp", "Custom"}
)
HASHED_USER_KEYS: Final = frozenset({"email", "phone_number", "external_id", "ip_address"})
CLEAR_USER_KEYS: Final = frozenset({"user_agent", "uuid"})
# Reddit throttles the user agents HTTP libraries send by default.
DEFAULT_USER_AGENTS: Final = ("python-httpx/", "python-requests/", "curl/", "Go-http-client/")

_EVENTS_PATH: Final = re.compile(r"/api/v2\.0/conversions/events/([^/]+)/?")
_SHA256: Final = re.compile(r"[0-9a-f]{64}")


def error_body(status: int, message: str) -> bytes:
    return json.dumps({"error": {"code": status, "message": message}}).encode()


@dataclass(frozen=True)
class Failure(ScriptedReply):
    """A scripted answer for `FakeReddit.fail_next`, one constructor per documented error."""

    @classmethod
    def error(cls, status: int, message: str) -> Failure:
        return cls(status=status, body=error_body(status, message), content_type="application/json")

    @classmethod
    def throttled(cls) -> Failure:
        return cls.error(429, "Too many requests/events within timeframe.")

    @classmethod
    def user_agent_throttled(cls) -> Failure:
        return cls.error(429, "Your user agent was automatically ratelimited.")

    @classmethod
    def unauthorized(cls) -> Failure:
        """An invalid or expired token."""
        return cls.error(401, "UNAUTHORIZED")

    @classmethod
    def forbidden(cls) -> Failure:
        return cls.error(403, "You're not authorized to post conversions to this account.")

    @classmethod
    def unavailable(cls) -> Failure:
        return cls.error(
            500, "The service is currently unavailable. No conversion events were processed."
        )

    @classmethod
    def http_503(cls) -> Failure:
        """Reddit's 503 carries its error body."""
        return cls.error(503, "Service Unavailable")

    @classmethod
    def invalid(cls) -> Failure:
        """The whole request refused for an invalid event."""
        return cls.error(400, "There were 1 invalid conversion events. None were processed.")


@dataclass(frozen=True)
class AcceptedRequest:
    """A request Reddit took: all its events count as received."""

    ad_account_id: str
    events: tuple[Mapping[str, Any], ...]
    test_mode: bool
    user_agent: str

    @property
    def event_count(self) -> int:
        return len(self.events)


class _Refused(Exception):
    """Stops validation with the answer to send; never leaves this module."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _seconds(value: float | dt.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class FakeReddit(AccountPlatform[ScriptedReply, AcceptedRequest]):
    """Reddit's conversion events endpoint, with its rules and scripted failures."""

    events_key = "events"
    outage = Failure.http_503()

    def __init__(
        self,
        *,
        access_tokens: Mapping[str, str] | None = None,
        max_future_skew: float | dt.timedelta = MAX_FUTURE_SKEW,
        **options: Unpack[PlatformOptions],
    ) -> None:
        """`access_tokens` maps ad account id -> its token (None: any non-empty token works);
        the rest as for `AccountPlatform`."""
        super().__init__(access_tokens=access_tokens, **options)
        self._max_future_skew = _seconds(max_future_skew)

    async def answer(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        route = _EVENTS_PATH.fullmatch(path)
        if route is None:
            return self._error(404, "Not Found")
        if method.upper() != "POST":
            return self._error(405, "Method Not Allowed")
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        account = route.group(1)
        user_agent = headers.get("user-agent", "")
        try:
            if not user_agent or user_agent.startswith(DEFAULT_USER_AGENTS):
                raise _Refused(429, "Your user agent was automatically ratelimited.")
            self._authenticate(account, headers.get("authorization", ""))
            document = self._document(body)
            events = self._events(document.get("events"))
        except _Refused as refused:
            return self._error(refused.status, refused.message)
        self.accepted.append(
            AcceptedRequest(account, tuple(events), document.get("test_mode") is True, user_agent)
        )
        self.note_received(_key(event) for event in events)
        return json_reply(
            200, {"message": f"Successfully processed {len(events)} conversion events."}
        )

    def _error(self, status: int, message: str) -> Reply:
        return Failure.error(status, message).reply()

    # -- validation --------------------------------------------------------------------------

    def _authenticate(self, account: str, authorization: str) -> None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Refused(401, "No bearer token provided")
        status = self.token_refusal(account, token)
        if status == UNAUTHORIZED:
            raise _Refused(status, "UNAUTHORIZED")
        if status is not None:
            raise _Refused(status, "You're not authorized to post conversions to this account.")

    @staticmethod
    def _document(body: bytes) -> dict[str, Any]:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise _Refused(400, "Bad Request: the body is not JSON") from None
        if not isinstance(document, dict):
            raise _Refused(400, "Bad Request: the body must be a JSON object")
        test_mode = document.get("test_mode", False)
        if not isinstance(test_mode, bool):
            raise _Refused(400, "Bad Request: test_mode must be true or false")
        return document

    def _events(self, events: object) -> list[dict[str, Any]]:
        if not isinstance(events, list) or not events:
            raise _Refused(400, "Bad Request: events must be a non-empty list")
        if len(events) > MAX_EVENTS_PER_REQUEST:
            raise _Refused(400, "Bad Request")
        now = self._now()
        problems = [self._problem(event, now) for event in events]
        invalid = [(i, p) for i, p in enumerate(problems) if p]
        if invalid:
            index, problem = invalid[0]
            raise _Refused(
                400,
                f"There were {len(invalid)} invalid conversion events. None were processed."
                f" (events[{index}]: {problem})",
            )
        return events

    def _problem(self, event: object, now: float) -> str:
        """What is wrong with one event ("" if nothing); never its values."""
        if not isinstance(event, dict):
            return "an event must be an object"
        checks = (
            self._time_problem(event.get("event_at"), now),
            _type_problem(event.get("event_type")),
            _user_problem(event.get("user"), event.get("click_id")),
            _metadata_problem(event.get("event_metadata")),
        )
        return next((problem for problem in checks if problem), "")

    def _time_problem(self, event_at: object, now: float) -> str:
        if not isinstance(event_at, str):
            return "event_at is required, in ISO 8601"
        try:
            at = dt.datetime.fromisoformat(event_at)
        except ValueError:
            return "event_at must be in ISO 8601"
        if at.tzinfo is None:
            return "event_at must have a time zone"
        moment = at.timestamp()
        if now - moment > MAX_EVENT_AGE.total_seconds():
            return "event_at is more than 7 days ago"
        if moment - now > self._max_future_skew:
            return "event_at is in the future"
        return ""


def _type_problem(event_type: object) -> str:
    if not isinstance(event_type, dict) or event_type.get("tracking_type") not in TRACKING_TYPES:
        return "event_type.tracking_type must be one of " + ", ".join(sorted(TRACKING_TYPES))
    if event_type["tracking_type"] == "Custom":
        name = event_type.get("custom_event_name")
        if not isinstance(name, str) or not 0 < len(name) <= MAX_CUSTOM_EVENT_NAME:
            return "a Custom event needs a custom_event_name of 1 to 64 characters"
    return ""


def _user_problem(user: object, click_id: object) -> str:
    if user is None:
        user = {}
    if not isinstance(user, dict):
        return "user must be an object"
    for key in HASHED_USER_KEYS & user.keys():
        value = user[key]
        if not isinstance(value, str) or not _SHA256.fullmatch(value):
            return f"user.{key} must be a SHA-256 digest (64 lowercase hex characters)"
    keys = (HASHED_USER_KEYS | CLEAR_USER_KEYS) & {k for k, v in user.items() if v}
    if not keys and not (isinstance(click_id, str) and click_id):
        return "the event needs a click_id or a user match key"
    return ""


def _metadata_problem(metadata: object) -> str:
    if metadata is None:
        return ""
    if not isinstance(metadata, dict):
        return "event_metadata must be an object"
    currency = metadata.get("currency")
    if currency is not None and (not isinstance(currency, str) or currency not in ISO_4217):
        return "event_metadata.currency must be an ISO 4217 code"
    value = metadata.get("value_decimal")
    if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
        return "event_metadata.value_decimal must be a number"
    if (currency is None) != (value is None):
        return "event_metadata.currency and value_decimal go together"
    count = metadata.get("item_count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
        return "event_metadata.item_count must be an integer"
    return ""


def _key(event: Mapping[str, Any]) -> tuple[str, str]:
    """(event name, conversion id) as Reddit counts an event."""
    event_type = event["event_type"]
    name = event_type.get("custom_event_name") or event_type["tracking_type"]
    conversion_id = (event.get("event_metadata") or {}).get("conversion_id")
    return str(name), "" if conversion_id is None else str(conversion_id)
