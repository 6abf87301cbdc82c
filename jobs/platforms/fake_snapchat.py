"""A fake Snapchat Conversions API v3 (`POST /v3/{pixel_id}/events[/validate]`).

What it checks, as Snapchat documents it (developers.snap.com, Conversions API: Using the API,
Parameters, Verify Set Up) and as its official SDK's schema has it (Snapchat/business-sdk-v3-java):
- the `access_token` query parameter first (HTTP 401), then that it belongs to the pixel (403);
- a JSON object whose `data` holds the events;
- every event: event_name from Snapchat's list, event_time in Unix seconds at most 37 days
  old and not in the future, action_source WEB, MOBILE_APP or OFFLINE, event_source_url for
  WEB events, user_data with em, ph, both client_ip_address and client_user_agent, or a
  mobile ad id, contact data as SHA-256 digests ("Unhashed PII" is refused), and value and
  currency on PURCHASE events.
Any problem refuses the whole request: HTTP 400 with status INVALID. A good request gets
HTTP 200 `{"status": "VALID", "reason": ...}`; the validation endpoint answers the same way,
with `test_event` and one `event_logs` entry per event, and records nothing.

Snapchat documents no error codes, no error body for bad tokens and no batch limit: the
fake's codes and wording, its 401/403 bodies and its limit of 2,000 events (an API catalog's
figure) are its own choices.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from jobs.currencies import ISO_4217
from jobs.platforms.fake_http import FakeServer, FakeTransport, Reply
from jobs.platforms.fake_json import (
    UNAUTHORIZED,
    AccountPlatform,
    JsonFailure,
    all_hashed,
    is_decimal_text,
    is_number,
    json_object,
    json_reply,
)

MAX_EVENTS_PER_REQUEST: Final = 2000  # the fake's choice [unverified]
MAX_EVENT_AGE: Final = dt.timedelta(days=37)
DEFAULT_MAX_FUTURE_SKEW: Final = dt.timedelta(minutes=5)  # the fake's choice
EVENT_NAMES: Final = frozenset(
    {
        *("PAGE_VIEW", "VIEW_CONTENT", "ADD_CART", "ADD_TO_WISHLIST", "SIGN_UP", "SEARCH"),
        *("PURCHASE", "ADD_BILLING", "COMPLETE_TUTORIAL", "SUBSCRIBE", "AD_CLICK", "AD_VIEW"),
        *("START_CHECKOUT", "RATE", "LIST_VIEW", "LEVEL_COMPLETE", "ACHIEVEMENT_UNLOCKED"),
        *("SPENT_CREDITS", "SAVE", "SHARE", "INVITE", "LOGIN", "RESERVE", "START_TRIAL"),
        *("APP_INSTALL", "APP_OPEN"),
        *(f"CUSTOM_EVENT_{n}" for n in range(1, 6)),
    }
)
ACTION_SOURCES: Final = frozenset({"WEB", "MOBILE_APP", "OFFLINE"})
HASHED_KEYS: Final = frozenset(
    {"em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id"}
)
_EVENTS_PATH: Final = re.compile(r"/v3/([^/]+)/events(/validate)?/?")


class Code:
    """The fake's error codes (Snapchat documents none)."""

    MISSING_FIELD = "E1001"
    INVALID_FIELD = "E1002"
    TIMESTAMP = "E1003"
    UNHASHED_PII = "E1004"
    INSUFFICIENT_PII = "E1005"
    PURCHASE_VALUE = "E1006"


def invalid_document(reason: str, code: str = "", message: str = "") -> dict[str, Any]:
    document: dict[str, Any] = {"status": "INVALID", "reason": reason}
    if code:
        document["errors"] = {"codes": [code], "error_msgs": [message or reason]}
    return document


class Failure(JsonFailure):
    """A scripted answer for `FakeSnapchat.fail_next`: one constructor per way it fails."""

    @classmethod
    def invalid(cls, reason: str = "Invalid request") -> Failure:
        return cls.json(400, invalid_document(reason, Code.INVALID_FIELD))

    @classmethod
    def unauthorized(cls) -> Failure:
        return cls.json(401, invalid_document("Invalid access token"))

    @classmethod
    def forbidden(cls) -> Failure:
        return cls.json(403, invalid_document("The token cannot send events for this pixel"))

    @classmethod
    def rate_limited(cls) -> Failure:
        return cls.json(429, invalid_document("Too many requests"))


@dataclass(frozen=True)
class AcceptedRequest:
    """A request the platform found VALID."""

    pixel_id: str
    validate_only: bool
    events: tuple[Mapping[str, Any], ...]

    @property
    def event_count(self) -> int:
        return len(self.events)


class _Refused(Exception):
    """Stops checking with the answer to send; never leaves this module."""

    def __init__(self, status: int, document: dict[str, Any]) -> None:
        super().__init__(document["reason"])
        self.reply = json_reply(status, document)


def _invalid(where: str, code: str, message: str) -> _Refused:
    return _Refused(400, invalid_document("Invalid request", code, f"{where}: {message}"))


class FakeSnapchat(AccountPlatform[Failure, AcceptedRequest]):
    """The platform: its rules, what it took, and the failures a test scripted."""

    async def answer(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        route = _EVENTS_PATH.fullmatch(path)
        if route is None or method.upper() != "POST":
            return 404, {"content-type": "text/html"}, b"<html>Not Found</html>"
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        pixel_id, validate_only = route.group(1), route.group(2) is not None
        try:
            self._authenticate(pixel_id, query.get("access_token", ""))
            events = self._events(body)
        except _Refused as refused:
            return refused.reply
        self.accepted.append(AcceptedRequest(pixel_id, validate_only, tuple(events)))
        if validate_only:
            return json_reply(
                200,
                {
                    "status": "VALID",
                    "test_event": True,
                    "reason": "Events are valid.",
                    "event_logs": [{"event": i, "status": "VALID"} for i in range(len(events))],
                },
            )
        self.note_received((str(e["event_name"]), str(e.get("event_id", ""))) for e in events)
        return json_reply(
            200, {"status": "VALID", "reason": "Events have been processed successfully."}
        )

    def _authenticate(self, pixel_id: str, token: str) -> None:
        status = self.token_refusal(pixel_id, token)
        if status == UNAUTHORIZED:
            raise _Refused(status, invalid_document("Invalid access token"))
        if status is not None:
            raise _Refused(status, invalid_document("The token cannot send events for this pixel"))

    def _events(self, body: bytes) -> list[dict[str, Any]]:
        document = json_object(body)
        data = document.get("data") if document is not None else None
        if not isinstance(data, list) or not 1 <= len(data) <= MAX_EVENTS_PER_REQUEST:
            raise _invalid(
                "data", Code.INVALID_FIELD, f"must hold 1 to {MAX_EVENTS_PER_REQUEST} events"
            )
        now = self._now()
        for index, event in enumerate(data):
            self._check(f"data[{index}]", event, now)
        return data

    def _check(self, where: str, event: object, now: float) -> None:
        """One event; any problem refuses the whole request."""
        if not isinstance(event, dict):
            raise _invalid(where, Code.INVALID_FIELD, "must be an object")
        for key in ("event_name", "event_time", "action_source", "user_data"):
            if event.get(key) in (None, ""):
                raise _invalid(where, Code.MISSING_FIELD, f"{key} is required")
        if event["event_name"] not in EVENT_NAMES:
            raise _invalid(where, Code.INVALID_FIELD, "event_name is not a Snapchat event")
        if event["action_source"] not in ACTION_SOURCES:
            raise _invalid(
                where, Code.INVALID_FIELD, "action_source must be WEB, MOBILE_APP or OFFLINE"
            )
        if event["action_source"] == "WEB" and not event.get("event_source_url"):
            raise _invalid(where, Code.MISSING_FIELD, "event_source_url is required")
        self._check_time(where, event["event_time"], now)
        self._check_user_data(where, event["user_data"])
        self._check_custom_data(where, event["event_name"], event.get("custom_data", {}))

    @staticmethod
    def _check_time(where: str, event_time: object, now: float) -> None:
        if not isinstance(event_time, int) or isinstance(event_time, bool):
            raise _invalid(where, Code.TIMESTAMP, "event_time must be Unix seconds")
        if now - event_time > MAX_EVENT_AGE.total_seconds():
            raise _invalid(where, Code.TIMESTAMP, "event_time is more than 37 days in the past")
        if event_time - now > DEFAULT_MAX_FUTURE_SKEW.total_seconds():
            raise _invalid(where, Code.TIMESTAMP, "event_time is in the future")

    @staticmethod
    def _check_user_data(where: str, user: object) -> None:
        if not isinstance(user, dict):
            raise _invalid(where, Code.INVALID_FIELD, "user_data must be an object")
        for key in sorted(HASHED_KEYS & set(user)):
            if not all_hashed(user[key]):
                # Never echo the value: it may be someone's email address.
                raise _invalid(where, Code.UNHASHED_PII, f"user_data.{key} must be SHA-256 hashed")
        if not (
            user.get("em")
            or user.get("ph")
            or user.get("madid")
            or user.get("mobile_ad_id")
            or (user.get("client_ip_address") and user.get("client_user_agent"))
        ):
            raise _invalid(where, Code.INSUFFICIENT_PII, "user_data has too little to match on")

    @staticmethod
    def _check_custom_data(where: str, name: str, custom: object) -> None:
        if not isinstance(custom, dict):
            raise _invalid(where, Code.INVALID_FIELD, "custom_data must be an object")
        value, currency = custom.get("value"), custom.get("currency")
        if name == "PURCHASE" and (value is None or not currency):
            raise _invalid(where, Code.PURCHASE_VALUE, "PURCHASE events need value and currency")
        if value is not None and not (is_number(value) or is_decimal_text(value)):
            raise _invalid(where, Code.INVALID_FIELD, "custom_data.value must be a number")
        if currency is not None and (not isinstance(currency, str) or currency not in ISO_4217):
            raise _invalid(where, Code.INVALID_FIELD, "custom_data.currency must be ISO 4217")


FakeSnapchatServer = FakeServer[FakeSnapchat]
FakeSnapchatTransport = FakeTransport[FakeSnapchat]
