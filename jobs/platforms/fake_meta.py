"""A fake Meta Graph API (the Conversions API `events` edge) that follows the platform notes.

Tests serve it over real HTTP/1.1 on loopback (`FakeMetaServer`), so the connector's HTTP layer,
timeouts and keep-alive run for real. Tenaz's "sandbox" destination plugs it into its httpx
client (`FakeMetaTransport`), so nothing leaves the machine. Both wrap one `FakeMeta`, which
holds the platform's rules and state and knows nothing about transport.

As Meta documents it, the fake refuses the whole request (HTTP 400, a Graph error with code 100)
when any event is invalid: no event_name, event_time or action_source; no customer parameter;
contact data that is not a SHA-256 digest; a currency that is not ISO 4217; an event older than
7 days or in the future. Tokens are checked first (code 190). Where Meta's exact answer is not
documented (the 2804xxx subcodes, the wording), the fake's own choice is marked as such.

Tests script failures (`fail_next`, `set_down`) and read what the platform received
(`accepted`, `received_count`).
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Unpack

from jobs.canonical import ACTION_SOURCES
from jobs.currencies import ISO_4217
from jobs.platforms.fake_http import (
    FakeServer,
    FakeTransport,
    PlatformOptions,
    Reply,
    ScriptedReply,
)
from jobs.platforms.fake_json import UNAUTHORIZED, AccountPlatform, is_number, json_reply
from jobs.platforms.graph_request import (
    MAX_EVENTS_PER_REQUEST,
    GraphRequestError,
    error_object,
    request_events,
    request_parameters,
)

MAX_EVENT_AGE: Final = dt.timedelta(days=7)
DEFAULT_MAX_FUTURE_SKEW: Final = dt.timedelta(minutes=5)

# Meta takes ISO 4217 codes.
CURRENCIES: Final = ISO_4217

# user_data keys Meta wants hashed, and those it wants in clear (platform notes, PII table).
HASHED_KEYS: Final = frozenset(
    {"em", "ph", "fn", "ln", "ct", "st", "zp", "country", "external_id", "ge", "db"}
)
CLEAR_KEYS: Final = frozenset(
    {
        *("client_ip_address", "client_user_agent", "fbc", "fbp", "subscription_id"),
        *("fb_login_id", "lead_id", "anon_id", "madid", "page_id", "ctwa_clid"),
    }
)
# A SHA-256 hex digest, optionally with the 8-character appendix Meta's ParamBuilder (used by
# the Node SDK since 2026-06) adds: the platform takes both.
_HASHED_VALUE: Final = re.compile(r"[0-9a-f]{64}(?:\.[A-Za-z0-9_-]{8})?")
_EVENTS_PATH: Final = re.compile(r"/(v\d+\.\d+)/([^/]+)/events/?")

_log = logging.getLogger(__name__)


class Subcode(enum.IntEnum):
    """Subcodes of the fake's code-100 refusals: in Meta's 2804xxx range, numbers invented."""

    MISSING_PARAMETER = 2804001
    INVALID_PARAMETER = 2804002
    EVENT_TOO_OLD = 2804003
    EVENT_IN_FUTURE = 2804004
    NO_CUSTOMER_INFORMATION = 2804005
    UNHASHED_CUSTOMER_INFORMATION = 2804006
    INVALID_CURRENCY = 2804007
    INVALID_VALUE = 2804008
    WEBSITE_FIELDS_MISSING = 2804009


@dataclass(frozen=True)
class ErrorReply:
    """A Graph API error answer; `fbtrace_id` is added when it is sent."""

    status: int
    code: int
    message: str
    subcode: int | None = None
    user_title: str = ""
    user_msg: str = ""
    is_transient: bool = False
    type: str = "OAuthException"

    def to_json(self, fbtrace_id: str) -> dict[str, Any]:
        return error_object(
            code=self.code,
            message=self.message,
            type=self.type,
            fbtrace_id=fbtrace_id,
            subcode=self.subcode,
            user_title=self.user_title,
            user_msg=self.user_msg,
            is_transient=self.is_transient,
        )


def _invalid(subcode: Subcode | None, title: str, detail: str) -> ErrorReply:
    return ErrorReply(400, 100, "Invalid parameter", subcode, title, detail)


@dataclass(frozen=True)
class Failure(ScriptedReply):
    """A scripted answer for `FakeMeta.fail_next`: a Graph API `error`, or a bare answer."""

    error: ErrorReply | None = None

    @classmethod
    def graph_error(
        cls,
        status: int,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        is_transient: bool = False,
    ) -> Failure:
        error = ErrorReply(status, code, message, subcode, is_transient=is_transient)
        return cls(status=status, error=error)

    @classmethod
    def http_503(cls) -> Failure:
        """Meta's 503 carries a Graph error."""
        return cls.graph_error(503, 2, "Service temporarily unavailable", is_transient=True)

    @classmethod
    def throttle(cls) -> Failure:
        """User request limit: HTTP 400 and no `is_transient`, as Meta sends it."""
        return cls.graph_error(400, 17, "(#17) User request limit reached", subcode=2446079)

    @classmethod
    def buc_throttle(cls) -> Failure:
        return cls.graph_error(
            400,
            80004,
            "There have been too many calls to this ad-account. Wait a bit and try again.",
            subcode=2446079,
        )

    @classmethod
    def unavailable(cls) -> Failure:
        """Code 2, which Meta documents as transient."""
        return cls.graph_error(400, 2, "An unexpected error has occurred. Please retry later.")

    @classmethod
    def unknown_error(cls) -> Failure:
        return cls.graph_error(400, 1, "An unknown error occurred")

    @classmethod
    def transient(cls, code: int = 100) -> Failure:
        """`is_transient: true` on a code that would otherwise be permanent."""
        return cls.graph_error(400, code, "Temporary problem", is_transient=True)

    @classmethod
    def token_expired(cls) -> Failure:
        return cls.graph_error(
            400,
            190,
            "Error validating access token: Session has expired.",
            subcode=463,
        )

    @classmethod
    def permission(cls) -> Failure:
        return cls.graph_error(403, 200, "(#200) Permissions error")


@dataclass(frozen=True)
class AcceptedRequest:
    """A request the platform took: all its events count as received."""

    pixel_id: str
    api_version: str
    events: tuple[Mapping[str, Any], ...]
    test_event_code: str | None

    @property
    def event_count(self) -> int:
        return len(self.events)


class _Refused(Exception):
    """Stops validation with the answer to send; never leaves this module."""

    def __init__(self, reply: ErrorReply) -> None:
        super().__init__(reply.message)
        self.reply = reply


def _seconds(value: float | dt.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class FakeMeta(AccountPlatform[Failure, AcceptedRequest]):
    """The platform: its rules, what it received, and the failures a test scripted."""

    def __init__(
        self,
        *,
        access_tokens: Mapping[str, str] | None = None,
        max_future_skew: float | dt.timedelta = DEFAULT_MAX_FUTURE_SKEW,
        require_website_fields: bool = False,
        **options: Unpack[PlatformOptions],
    ) -> None:
        """`access_tokens` maps pixel id -> its token (None: any non-empty token works).

        `require_website_fields` refuses website events without event_source_url and
        client_user_agent, which Meta documents as required for them; off by default because
        Tenaz accepts such events. The rest as for `AccountPlatform`.
        """
        super().__init__(access_tokens=access_tokens, **options)
        self._max_future_skew = _seconds(max_future_skew)
        self._max_event_age = MAX_EVENT_AGE.total_seconds()
        self._require_website_fields = require_website_fields
        self._trace_ids = itertools.count(1)

    # -- the platform ----------------------------------------------------------------------

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
            return self._error_reply(ErrorReply(404, 803, "(#803) Unknown path components"))
        api_version, pixel_id = route.groups()
        if method.upper() != "POST":
            return self._error_reply(
                ErrorReply(
                    400,
                    100,
                    f"Unsupported {method.lower()} request. Only POST is supported on /events.",
                    subcode=33,
                )
            )
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        try:
            try:
                params = request_parameters(query, headers.get("content-type", ""), body)
            except GraphRequestError as exc:
                raise _Refused(_invalid(None, "Bad request", exc.message)) from None
            self._authenticate(pixel_id, params.get("access_token"))
            events = self._events(params.get("data"))
        except _Refused as refused:
            return self._error_reply(refused.reply)
        test_event_code = params.get("test_event_code")
        self._record(
            AcceptedRequest(
                pixel_id=pixel_id,
                api_version=api_version,
                events=tuple(events),
                test_event_code=test_event_code if isinstance(test_event_code, str) else None,
            )
        )
        return self._json_reply(
            200, {"events_received": len(events), "messages": [], "fbtrace_id": self._trace()}
        )

    def outage_reply(self) -> Reply:
        return self.failure_reply(Failure.http_503())

    def _record(self, request: AcceptedRequest) -> None:
        self.accepted.append(request)
        self.note_received(
            (
                str(event["event_name"]),
                "" if event.get("event_id") is None else str(event["event_id"]),
            )
            for event in request.events
        )

    # -- validation, in the order Graph applies it -------------------------------------------

    def _authenticate(self, pixel_id: str, token: object) -> None:
        if not isinstance(token, str) or not token:
            raise _Refused(
                ErrorReply(400, 190, "An access token is required to request this resource.")
            )
        status = self.token_refusal(pixel_id, token)
        if status == UNAUTHORIZED:
            raise _Refused(
                ErrorReply(400, 190, "Invalid OAuth access token - Cannot parse access token")
            )
        if status is not None:
            # A good token without access to this pixel: Graph says the object does not exist.
            raise _Refused(
                ErrorReply(
                    400,
                    100,
                    f"Unsupported post request. Object with ID '{pixel_id}' does not exist,"
                    " cannot be loaded due to missing permissions, or does not support this"
                    " operation.",
                    subcode=33,
                )
            )

    def _events(self, data: object) -> list[dict[str, Any]]:
        try:
            events = request_events(data, max_events=MAX_EVENTS_PER_REQUEST)
        except GraphRequestError as exc:
            raise _Refused(ErrorReply(400, 100, exc.message)) from None
        now = self._now()
        return [self._event(index, raw, now) for index, raw in enumerate(events)]

    def _event(self, index: int, raw: object, now: float) -> dict[str, Any]:
        """One event, checked; any problem refuses the whole request."""
        where = f"Event {index}"
        if not isinstance(raw, dict):
            raise _Refused(
                _invalid(Subcode.INVALID_PARAMETER, "Invalid event", f"{where} is not an object.")
            )
        event: dict[str, Any] = raw
        self._check_required(where, event)
        self._check_time(where, event["event_time"], now)
        self._check_user_data(where, event["user_data"])
        if self._require_website_fields and event["action_source"] == "website":
            user_agent = event["user_data"].get("client_user_agent")
            if not event.get("event_source_url") or not user_agent:
                raise _Refused(
                    _invalid(
                        Subcode.WEBSITE_FIELDS_MISSING,
                        "Missing website parameters",
                        f"{where}: website events need event_source_url and"
                        " user_data.client_user_agent.",
                    )
                )
        if "custom_data" in event:
            self._check_custom_data(where, event["custom_data"])
        return event

    def _check_required(self, where: str, event: Mapping[str, Any]) -> None:
        missing = [
            name
            for name in ("event_name", "event_time", "action_source", "user_data")
            if event.get(name) in (None, "")
        ]
        if missing:
            raise _Refused(
                _invalid(
                    Subcode.MISSING_PARAMETER,
                    "Missing parameter",
                    f"{where}: the parameter {missing[0]} is required.",
                )
            )
        name, event_time, source = event["event_name"], event["event_time"], event["action_source"]
        problem = ""
        if not isinstance(name, str):
            problem = "event_name must be a string"
        elif not isinstance(event_time, int) or isinstance(event_time, bool):
            problem = "event_time must be a Unix time in whole seconds"
        elif source not in ACTION_SOURCES:
            problem = f"action_source must be one of {', '.join(sorted(ACTION_SOURCES))}"
        elif not isinstance(event["user_data"], dict):
            problem = "user_data must be an object"
        if problem:
            raise _Refused(
                _invalid(Subcode.INVALID_PARAMETER, "Invalid parameter", f"{where}: {problem}.")
            )

    def _check_time(self, where: str, event_time: int, now: float) -> None:
        if now - event_time > self._max_event_age:
            raise _Refused(
                _invalid(
                    Subcode.EVENT_TOO_OLD,
                    "Event Timestamp Too Old",
                    f"{where}: event_time is more than 7 days in the past. Events must be sent"
                    " within 7 days of when they happened.",
                )
            )
        if event_time - now > self._max_future_skew:
            raise _Refused(
                _invalid(
                    Subcode.EVENT_IN_FUTURE,
                    "Event Timestamp In The Future",
                    f"{where}: event_time is in the future.",
                )
            )

    def _check_user_data(self, where: str, user_data: Mapping[str, Any]) -> None:
        present = 0
        for key, value in user_data.items():
            if key in HASHED_KEYS:
                values = value if isinstance(value, list) else [value]
                if not all(isinstance(v, str) and _HASHED_VALUE.fullmatch(v) for v in values):
                    # Never echo the value: it may be someone's email address.
                    raise _Refused(
                        _invalid(
                            Subcode.UNHASHED_CUSTOMER_INFORMATION,
                            "Unhashed customer information",
                            f"{where}: user_data.{key} must be hashed with SHA-256 (64 lowercase"
                            " hex characters); contact information is not accepted in clear.",
                        )
                    )
                present += bool(values)
            elif key in CLEAR_KEYS and value not in (None, "", []):
                present += 1
        if not present:
            raise _Refused(
                _invalid(
                    Subcode.NO_CUSTOMER_INFORMATION,
                    "Missing customer information",
                    f"{where}: user_data needs at least one customer information parameter.",
                )
            )

    def _check_custom_data(self, where: str, custom_data: object) -> None:
        if not isinstance(custom_data, dict):
            raise _Refused(
                _invalid(
                    Subcode.INVALID_PARAMETER,
                    "Invalid parameter",
                    f"{where}: custom_data must be an object.",
                )
            )
        if "currency" in custom_data:
            currency = custom_data["currency"]
            if not isinstance(currency, str) or currency.upper() not in CURRENCIES:
                raise _Refused(
                    _invalid(
                        Subcode.INVALID_CURRENCY,
                        "Invalid currency",
                        f"{where}: custom_data.currency must be a valid ISO 4217 currency code.",
                    )
                )
        if "value" in custom_data and not is_number(custom_data["value"]):
            raise _Refused(
                _invalid(
                    Subcode.INVALID_VALUE,
                    "Invalid value",
                    f"{where}: custom_data.value must be a number.",
                )
            )
        items = custom_data.get("num_items")
        if items is not None and (not isinstance(items, int) or isinstance(items, bool)):
            raise _Refused(
                _invalid(
                    Subcode.INVALID_PARAMETER,
                    "Invalid parameter",
                    f"{where}: custom_data.num_items must be an integer.",
                )
            )

    # -- answers ---------------------------------------------------------------------------

    def _trace(self) -> str:
        return f"Fake{next(self._trace_ids):08d}"

    def _json_reply(self, status: int, document: Mapping[str, Any]) -> Reply:
        status, headers, body = json_reply(
            status, document, content_type="application/json; charset=UTF-8"
        )
        return status, {**headers, "x-fb-trace-id": self._trace()}, body

    def _error_reply(self, reply: ErrorReply) -> Reply:
        return self._json_reply(reply.status, reply.to_json(self._trace()))

    def failure_reply(self, failure: Failure) -> Reply:
        if failure.error is not None:
            return self._error_reply(failure.error)
        return failure.reply()


FakeMetaServer = FakeServer[FakeMeta]
FakeMetaTransport = FakeTransport[FakeMeta]
