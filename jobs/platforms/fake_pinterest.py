"""A fake Pinterest Conversions API (`POST /v5/ad_accounts/{id}/events`) that follows
Pinterest's OpenAPI description (pinterest/api-description, v5).

What it checks, as the description says:
- the `Authorization: Bearer` token first (401, code 2), then that it may reach the ad
  account (403, code 29);
- the request as a whole (400, code 4196): a JSON object whose `data` holds 1 to 1,000 events,
  each an object with event_name, action_source, event_time (integer), event_id and
  user_data, and no property the schema lacks (`additionalProperties: false` on the event,
  custom_data and contents);
- each event on its own (its entry in `events[]` is `failed` with a message, its neighbours
  go through): event_name and action_source from Pinterest's lists, user_data with `em`, or
  `hashed_maids`, or both client_ip_address and client_user_agent, hashed keys as lists of
  SHA-256 digests, an ISO 4217 currency, value and item_price as decimal text, and an
  event_time that is not in the future nor older than `max_event_age`.

Where the description says nothing, the fake makes a choice, marked as such: the maximum event
age (7 days by default), the wording of its messages, and how it answers a request with failed
events (HTTP 200 with `events[]` by default; `partial_failure_status=422` puts the same
document in a DetailedError's `details`). With `?test=true` it answers the same and records
nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Unpack

from jobs.currencies import ISO_4217
from jobs.platforms.fake_http import FakeServer, FakeTransport, PlatformOptions, Reply
from jobs.platforms.fake_json import (
    UNAUTHORIZED,
    AccountPlatform,
    JsonFailure,
    all_hashed,
    is_decimal_text,
    json_object,
    json_reply,
)

MAX_BATCH_SIZE: Final = 1000
# The API description's enum, and `contact` and `app_open` from Pinterest's conversion guide.
EVENT_NAMES: Final = frozenset(
    {
        *("add_payment_info", "add_to_cart", "add_to_wishlist", "app_install", "app_open"),
        *("checkout", "contact", "custom", "initiate_checkout", "lead", "page_visit"),
        *("search", "signup", "subscribe", "view_category", "view_content", "watch_video"),
    }
)
ACTION_SOURCES: Final = frozenset({"app_android", "app_ios", "web", "offline"})
HASHED_KEYS: Final = frozenset(
    {"em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id", "hashed_maids"}
)
# The schema's properties (additionalProperties: false).
EVENT_KEYS: Final = frozenset(
    {
        *("action_source", "app_id", "app_info", "app_name", "app_version", "custom_data"),
        *("device_brand", "device_carrier", "device_info", "device_model", "device_type"),
        *("event_id", "event_name", "event_source_url", "event_time", "language", "opt_out"),
        *("os_version", "partner_name", "user_data", "wifi"),
    }
)
USER_DATA_KEYS: Final = HASHED_KEYS | {
    "click_id",
    "client_ip_address",
    "client_user_agent",
    "partner_id",
}
CUSTOM_DATA_KEYS: Final = frozenset(
    {
        *("content_brand", "content_category", "content_ids", "content_name", "contents"),
        *("currency", "external_measurement_id", "external_measurement_vendor_id", "np"),
        *("num_items", "opt_out_type", "order_id", "predicted_ltv", "search_string", "value"),
    }
)
CONTENT_KEYS: Final = frozenset(
    {"id", "item_brand", "item_category", "item_name", "item_price", "quantity"}
)
REQUIRED: Final = ("event_name", "action_source", "event_time", "event_id", "user_data")
DEFAULT_MAX_EVENT_AGE: Final = dt.timedelta(days=7)  # the fake's choice: Pinterest says none
DEFAULT_MAX_FUTURE_SKEW: Final = dt.timedelta(minutes=5)  # the fake's choice

INVALID_REQUEST: Final = 4196
AUTHENTICATION_FAILED: Final = 2
NOT_PERMITTED: Final = 29
RATE_LIMITED: Final = 8
RAMPED_DOWN: Final = 4197
_EVENTS_PATH: Final = re.compile(r"/v5/ad_accounts/([^/]+)/events/?")


def error_document(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


class Failure(JsonFailure):
    """A scripted answer for `FakePinterest.fail_next`: one constructor per documented error."""

    @classmethod
    def invalid_request(cls) -> Failure:
        return cls.json(400, error_document(INVALID_REQUEST, "The request was invalid."))

    @classmethod
    def unauthorized(cls) -> Failure:
        return cls.json(401, error_document(AUTHENTICATION_FAILED, "Authentication failed."))

    @classmethod
    def forbidden(cls) -> Failure:
        return cls.json(
            403,
            error_document(NOT_PERMITTED, "You are not permitted to access that resource."),
        )

    @classmethod
    def rate_limited(cls) -> Failure:
        return cls.json(
            429,
            error_document(
                RATE_LIMITED,
                "This request exceeded a rate limit. This can happen if the client exceeds one"
                " of the published rate limits within a short time window.",
            ),
        )

    @classmethod
    def ramped_down(cls) -> Failure:
        return cls.json(
            503,
            error_document(
                RAMPED_DOWN,
                "The endpoint has been ramped down and is currently not accepting any traffic.",
            ),
        )


@dataclass(frozen=True)
class AcceptedRequest:
    """A request the platform answered event by event."""

    ad_account_id: str
    test: bool
    events: tuple[Mapping[str, Any], ...]
    statuses: tuple[str, ...]

    @property
    def event_count(self) -> int:
        return len(self.events)


class _Refused(Exception):
    """Stops checking with the answer to send; never leaves this module."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.reply = json_reply(status, error_document(code, message))


def _invalid(message: str) -> _Refused:
    return _Refused(400, INVALID_REQUEST, f"The request was invalid. {message}")


def _unknown_keys(where: str, value: Mapping[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(set(value) - known)
    if unknown:
        raise _invalid(f"{where}: unknown property {unknown[0]!r}.")


class FakePinterest(AccountPlatform[Failure, AcceptedRequest]):
    """The platform: its rules, what it took, and the failures a test scripted."""

    outage = Failure.ramped_down()

    def __init__(
        self,
        *,
        access_tokens: Mapping[str, str] | None = None,
        max_event_age: dt.timedelta = DEFAULT_MAX_EVENT_AGE,
        partial_failure_status: int = 200,
        **options: Unpack[PlatformOptions],
    ) -> None:
        """`max_event_age` and `partial_failure_status` are the fake's choices where Pinterest
        documents nothing (see the module); the rest as for `AccountPlatform`."""
        super().__init__(access_tokens=access_tokens, **options)
        self._max_event_age = max_event_age.total_seconds()
        self._partial_failure_status = partial_failure_status

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
            return json_reply(404, error_document(404, "Not found."))
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        ad_account_id = route.group(1)
        try:
            self._authenticate(ad_account_id, headers.get("authorization", ""))
            events = self._events(body)
        except _Refused as refused:
            return refused.reply
        test = query.get("test", "").lower() == "true"
        now = self._now()
        problems = [self._problem(event, now) for event in events]
        statuses = tuple("failed" if p else "processed" for p in problems)
        self.accepted.append(AcceptedRequest(ad_account_id, test, tuple(events), statuses))
        if not test:
            self.note_received(
                (str(e["event_name"]), str(e["event_id"]))
                for e, status in zip(events, statuses, strict=True)
                if status == "processed"
            )
        document = {
            "num_events_received": len(events),
            "num_events_processed": statuses.count("processed"),
            "events": [
                {"status": "failed", "error_message": p, "warning_message": None}
                if p
                else {"status": "processed", "error_message": None, "warning_message": None}
                for p in problems
            ],
        }
        if any(problems) and self._partial_failure_status != 200:
            return json_reply(
                self._partial_failure_status,
                {
                    "code": self._partial_failure_status,
                    "message": "Not all events were successfully processed.",
                    "details": document,
                },
            )
        return json_reply(200, document)

    # -- the request as a whole -------------------------------------------------------------

    def _authenticate(self, ad_account_id: str, authorization: str) -> None:
        scheme, _, token = authorization.partition(" ")
        status = self.token_refusal(
            ad_account_id, token.strip() if scheme.lower() == "bearer" else ""
        )
        if status == UNAUTHORIZED:
            raise _Refused(status, AUTHENTICATION_FAILED, "Authentication failed.")
        if status is not None:
            raise _Refused(status, NOT_PERMITTED, "You are not permitted to access that resource.")

    def _events(self, body: bytes) -> list[dict[str, Any]]:
        document = json_object(body)
        if document is None:
            raise _invalid("The body must be a JSON object.")
        _unknown_keys("body", document, frozenset({"data"}))
        data = document.get("data")
        if not isinstance(data, list) or not 1 <= len(data) <= MAX_BATCH_SIZE:
            raise _invalid(f"data must hold 1 to {MAX_BATCH_SIZE} events.")
        for index, event in enumerate(data):
            self._check_shape(f"data[{index}]", event)
        return data

    def _check_shape(self, where: str, event: object) -> None:
        """What the schema says of an event's shape; any problem refuses the whole request."""
        if not isinstance(event, dict):
            raise _invalid(f"{where} must be an object.")
        _unknown_keys(where, event, EVENT_KEYS)
        missing = [key for key in REQUIRED if key not in event]
        if missing:
            raise _invalid(f"{where}: {missing[0]} is required.")
        time_ = event["event_time"]
        if not isinstance(time_, int) or isinstance(time_, bool):
            raise _invalid(f"{where}.event_time must be an integer.")
        for key in ("event_name", "action_source", "event_id"):
            if not isinstance(event[key], str):
                raise _invalid(f"{where}.{key} must be a string.")
        user_data = event["user_data"]
        if not isinstance(user_data, dict):
            raise _invalid(f"{where}.user_data must be an object.")
        _unknown_keys(f"{where}.user_data", user_data, USER_DATA_KEYS)
        custom = event.get("custom_data", {})
        if not isinstance(custom, dict):
            raise _invalid(f"{where}.custom_data must be an object.")
        _unknown_keys(f"{where}.custom_data", custom, CUSTOM_DATA_KEYS)
        contents = custom.get("contents", [])
        if not isinstance(contents, list) or not all(isinstance(c, dict) for c in contents):
            raise _invalid(f"{where}.custom_data.contents must be a list of objects.")
        for item in contents:
            _unknown_keys(f"{where}.custom_data.contents[]", item, CONTENT_KEYS)

    # -- each event on its own ----------------------------------------------------------------

    def _problem(self, event: Mapping[str, Any], now: float) -> str:
        """Why Pinterest does not process this event ("": it does)."""
        if event["event_name"] not in EVENT_NAMES:
            return f"event_name {event['event_name']!r} is not a Pinterest event name."
        if event["action_source"] not in ACTION_SOURCES:
            return "action_source must be one of app_android, app_ios, web, offline."
        if now - event["event_time"] > self._max_event_age:
            return "event_time is too far in the past."
        if event["event_time"] - now > DEFAULT_MAX_FUTURE_SKEW.total_seconds():
            return "event_time is in the future."
        if not event["event_id"]:
            return "event_id must not be empty."
        return self._user_data_problem(event["user_data"]) or self._custom_data_problem(
            event.get("custom_data", {})
        )

    @staticmethod
    def _user_data_problem(user: Mapping[str, Any]) -> str:
        for key in sorted(HASHED_KEYS & set(user)):
            if not isinstance(user[key], list) or not all_hashed(user[key]):
                # Never echo the value: it may be someone's email address.
                return f"user_data.{key} must be a list of SHA-256 hashes."
        if not (
            user.get("em")
            or user.get("hashed_maids")
            or (user.get("client_ip_address") and user.get("client_user_agent"))
        ):
            return (
                "user_data needs em, hashed_maids, or both client_ip_address and client_user_agent."
            )
        return ""

    @staticmethod
    def _custom_data_problem(custom: Mapping[str, Any]) -> str:
        currency = custom.get("currency")
        if currency is not None and (not isinstance(currency, str) or currency not in ISO_4217):
            return "custom_data.currency must be an ISO-4217 currency code."
        if "value" in custom and not is_decimal_text(custom["value"]):
            return "custom_data.value must be a number written as a string."
        for item in custom.get("contents", []):
            if "item_price" in item and not is_decimal_text(item["item_price"]):
                return "custom_data.contents[].item_price must be a number written as a string."
        ids = custom.get("content_ids", [])
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return "custom_data.content_ids must be a list of strings."
        items = custom.get("num_items")
        if items is not None and (not isinstance(items, int) or isinstance(items, bool)):
            return "custom_data.num_items must be an integer."
        return ""


FakePinterestServer = FakeServer[FakePinterest]
FakePinterestTransport = FakeTransport[FakePinterest]
