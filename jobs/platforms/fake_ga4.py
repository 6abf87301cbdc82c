"""A fake GA4 Measurement Protocol: `/mp/collect` and the validation server `/debug/mp/collect`,
as Google documents them.

    POST /mp/collect?measurement_id=G-..&api_secret=..        -> 204, whatever the payload;
         valid events are recorded, invalid ones dropped without a word (as GA4 does), and so
         is everything sent with an api secret the stream does not have
    POST /debug/mp/collect?measurement_id=G-..&api_secret=..  -> 200 {"validationMessages":
         [{"fieldPath", "description", "validationCode"}]}; records nothing

Both apply the same rules (the protocol reference and its documented limits): a JSON object
with `client_id`; `user_data` only with a `user_id`, its values SHA-256 hex lists;
`timestamp_micros` no more than 72 hours back and not ahead; 1 to 25 events, each named
with letters, digits and underscores from a letter, at most 40 characters and not a reserved
name; at most 25 params, their names like event names and not starting with a reserved
prefix, text values of at most 100 characters; `currency` an ISO 4217 code, `value` a number,
each item with an `item_id` or `item_name`. A message about an event names it as Google's
example does: fieldPath "events", description "Event at index: [i] ...". Google does not
publish every code for every check; the fake's choices are marked.

Tests script failures (`fail_next` with a `Failure`: 5xx, 429, a hang) and read what the
stream recorded (`accepted`, `received_count` by (event name, transaction_id), or by (event
name, "client_id:timestamp_micros") for events without one).
"""

from __future__ import annotations

import collections
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Unpack

from jobs.currencies import ISO_4217
from jobs.platforms.fake_http import (
    FakeServer,
    FakeTransport,
    PlatformOptions,
    Reply,
    ScriptedReply,
)
from jobs.platforms.fake_json import JsonFake, is_number, json_object, json_reply

MAX_EVENTS: Final = 25
MAX_PARAMS: Final = 25
MAX_NAME: Final = 40
MAX_VALUE_TEXT: Final = 100
MAX_AGE_SECONDS: Final = 72 * 3600
MAX_FUTURE_SECONDS: Final = 15 * 60
# The Measurement Protocol's reserved event names (not exhaustive, as Google says of them).
RESERVED_EVENTS: Final = frozenset(
    {
        *("ad_activeview", "ad_click", "ad_exposure", "ad_impression", "ad_query", "ad_reward"),
        *("adunit_exposure", "app_clear_data", "app_exception", "app_install", "app_remove"),
        *("app_store_refund", "app_update", "app_upgrade", "dynamic_link_app_open"),
        *("dynamic_link_app_update", "dynamic_link_first_open", "error", "first_open"),
        *("first_visit", "in_app_purchase", "notification_dismiss", "notification_foreground"),
        *("notification_open", "notification_receive", "os_update", "session_start"),
        "user_engagement",
    }
)
RESERVED_PREFIXES: Final = ("google_", "ga_", "firebase_")
_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*", re.ASCII)
_MEASUREMENT_ID: Final = re.compile(r"G-[A-Z0-9]{4,20}", re.ASCII)
_HASH: Final = re.compile(r"[0-9a-f]{64}")
_USER_DATA_KEYS: Final = frozenset({"sha256_email_address", "sha256_phone_number", "address"})


@dataclass(frozen=True)
class Message:
    """One validation message."""

    field_path: str
    description: str
    code: str
    # The event it is about; None: the whole request.
    index: int | None = None

    def to_json(self) -> dict[str, str]:
        return {
            "fieldPath": self.field_path,
            "description": self.description,
            "validationCode": self.code,
        }


@dataclass(frozen=True)
class Failure(ScriptedReply):
    """A scripted answer for `FakeGa4.fail_next` (either endpoint): GA4 documents no error
    body, so every one is bare."""

    @classmethod
    def rate_limited(cls) -> Failure:
        return cls(429, b"Too Many Requests")

    @classmethod
    def custom(cls, status: int, body: bytes = b"", *, content_type: str = "text/html") -> Failure:
        """A page from something in front of GA4 (HTML unless said otherwise)."""
        return cls(status, body, content_type)


@dataclass(frozen=True)
class AcceptedEvent:
    """An event the stream recorded, with its request's fields."""

    measurement_id: str
    client_id: str
    user_id: str | None
    timestamp_micros: int | None
    user_data: Mapping[str, Any] | None
    name: str
    params: Mapping[str, Any]


def _event_problem(index: int, text: str, code: str, field: str = "events") -> Message:
    return Message(field, f"Event at index: [{index}] {text}", code, index)


class FakeGa4(JsonFake[Failure]):
    """The platform: its rules, what it recorded, and the failures a test scripted."""

    events_key = "events"

    def __init__(
        self,
        *,
        api_secrets: Mapping[str, str] | None = None,
        **options: Unpack[PlatformOptions],
    ) -> None:
        """`api_secrets`: measurement id -> its stream's api secret (None: any non-empty
        secret works). `options` are ScriptedPlatform's."""
        super().__init__(**options)
        self._api_secrets = dict(api_secrets) if api_secrets is not None else None
        self.accepted: collections.deque[AcceptedEvent] = collections.deque(
            maxlen=self.history_limit
        )
        # Events collect took without recording them (invalid, or a wrong api secret).
        self.dropped = 0
        self.validations = 0

    async def answer(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        route = path.rstrip("/")
        if route not in ("/mp/collect", "/debug/mp/collect"):
            return 404, {"content-type": "text/html"}, b"<html>Not Found</html>"
        if method.upper() != "POST":
            return 405, {"content-type": "text/html"}, b"<html>Method Not Allowed</html>"
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        document = self._document(body)
        messages = self._check(query, document)
        if route == "/debug/mp/collect":
            self.validations += 1
            listed = {"validationMessages": [m.to_json() for m in messages]}
            return json_reply(200, listed, content_type="application/json")
        self._collect(query, document, messages)
        return 204, {}, b""

    # -- collect -------------------------------------------------------------------------

    def _collect(
        self, query: Mapping[str, str], document: Mapping[str, Any], messages: list[Message]
    ) -> None:
        events = document.get("events")
        events = events if isinstance(events, list) else []
        measurement_id = query.get("measurement_id", "")
        secret = query.get("api_secret", "")
        known = self._api_secrets is None or self._api_secrets.get(measurement_id) == secret
        if not known or any(m.index is None for m in messages):
            self.dropped += len(events)
            return
        refused = {m.index for m in messages}
        for index, event in enumerate(events):
            if index in refused:
                self.dropped += 1
                continue
            self._record(measurement_id, document, event)

    def _record(
        self, measurement_id: str, document: Mapping[str, Any], event: Mapping[str, Any]
    ) -> None:
        params = event.get("params") or {}
        accepted = AcceptedEvent(
            measurement_id=measurement_id,
            client_id=str(document["client_id"]),
            user_id=document.get("user_id"),
            timestamp_micros=document.get("timestamp_micros"),
            user_data=document.get("user_data"),
            name=str(event["name"]),
            params=params,
        )
        self.accepted.append(accepted)
        transaction = params.get("transaction_id")
        key = (
            str(transaction) if transaction else f"{accepted.client_id}:{accepted.timestamp_micros}"
        )
        self.note_received([(accepted.name, key)])

    # -- the rules, shared by both endpoints -------------------------------------------------

    @staticmethod
    def _document(body: bytes) -> dict[str, Any]:
        return json_object(body) or {}

    def _check(self, query: Mapping[str, str], document: Mapping[str, Any]) -> list[Message]:
        messages: list[Message] = []
        if not _MEASUREMENT_ID.fullmatch(query.get("measurement_id", "")):
            messages.append(
                Message("measurement_id", "Measurement ID is invalid.", "VALUE_INVALID")
            )
        if not query.get("api_secret"):
            messages.append(Message("api_secret", "API secret is required.", "VALUE_REQUIRED"))
        if not document:
            messages.append(
                Message("", "Unable to parse Measurement Protocol JSON payload.", "VALUE_INVALID")
            )
            return messages
        client = document.get("client_id")
        if not isinstance(client, str) or not client.strip():
            messages.append(Message("client_id", "client_id is required.", "VALUE_REQUIRED"))
        messages += self._check_user(document)
        messages += self._check_time(document.get("timestamp_micros"))
        events = document.get("events")
        if not isinstance(events, list) or not events:
            messages.append(Message("events", "events is required.", "VALUE_REQUIRED"))
        elif len(events) > MAX_EVENTS:
            messages.append(
                Message(
                    "events",
                    f"A request can have at most {MAX_EVENTS} events.",
                    "EXCEEDED_MAX_ENTITIES",
                )
            )
        else:
            for index, event in enumerate(events):
                messages += self._check_event(index, event)
        return messages

    @staticmethod
    def _check_user(document: Mapping[str, Any]) -> list[Message]:
        user_data = document.get("user_data")
        if user_data is None:
            return []
        if not document.get("user_id"):
            # Google documents that user_id must come with user_data; the code is the fake's.
            return [Message("user_id", "user_id is required with user_data.", "VALUE_REQUIRED")]
        if not isinstance(user_data, dict) or set(user_data) - _USER_DATA_KEYS:
            return [Message("user_data", "user_data has an unknown field.", "VALUE_INVALID")]
        for key in ("sha256_email_address", "sha256_phone_number"):
            values = user_data.get(key, [])
            if not isinstance(values, list) or not all(
                isinstance(v, str) and _HASH.fullmatch(v) for v in values
            ):
                # Never echo the value: it may be someone's email address.
                return [
                    Message(
                        f"user_data.{key}", f"{key} must be SHA-256 hex strings.", "VALUE_INVALID"
                    )
                ]
        return []

    def _check_time(self, micros: Any) -> list[Message]:
        if micros is None:
            return []
        if not isinstance(micros, int) or isinstance(micros, bool):
            return [
                Message("timestamp_micros", "timestamp_micros must be an integer.", "VALUE_INVALID")
            ]
        age = self._now() - micros / 1_000_000
        if age > MAX_AGE_SECONDS or -age > MAX_FUTURE_SECONDS:
            # Google documents the 72 hours; the code is the fake's choice.
            return [
                Message(
                    "timestamp_micros",
                    "timestamp_micros must be at most 72 hours in the past and not in the future.",
                    "VALUE_OUT_OF_BOUNDS",
                )
            ]
        return []

    def _check_event(self, index: int, event: Any) -> list[Message]:
        if not isinstance(event, dict):
            return [_event_problem(index, "must be an object.", "VALUE_INVALID")]
        name = event.get("name")
        if not isinstance(name, str) or not name:
            return [_event_problem(index, "has no name.", "VALUE_REQUIRED")]
        if len(name) > MAX_NAME or not _NAME.fullmatch(name):
            return [
                _event_problem(
                    index,
                    f"has invalid name [{name[:80]}]. Names must start with an alphabetic character"
                    f" and have at most {MAX_NAME} letters, digits and underscores.",
                    "NAME_INVALID",
                )
            ]
        if name in RESERVED_EVENTS:
            return [_event_problem(index, f"has reserved name [{name}].", "NAME_RESERVED")]
        params = event.get("params", {})
        if not isinstance(params, dict):
            return [
                _event_problem(index, "params must be an object.", "VALUE_INVALID", "events.params")
            ]
        if len(params) > MAX_PARAMS:
            return [
                _event_problem(
                    index,
                    f"has more than {MAX_PARAMS} params.",
                    "EXCEEDED_MAX_ENTITIES",
                    "events.params",
                )
            ]
        return self._check_params(index, params)

    def _check_params(self, index: int, params: Mapping[str, Any]) -> list[Message]:
        where = "events.params"
        for key, value in params.items():
            if len(key) > MAX_NAME or not _NAME.fullmatch(key):
                return [
                    _event_problem(
                        index, f"has invalid param name [{key[:80]}].", "NAME_INVALID", where
                    )
                ]
            if key.startswith(RESERVED_PREFIXES):
                return [
                    _event_problem(
                        index, f"has reserved param name [{key}].", "NAME_RESERVED", where
                    )
                ]
            if isinstance(value, str) and len(value) > MAX_VALUE_TEXT:
                return [
                    _event_problem(
                        index,
                        f"param [{key}] has a value longer than {MAX_VALUE_TEXT} characters.",
                        "VALUE_OUT_OF_BOUNDS",
                        where,
                    )
                ]
        currency = params.get("currency")
        if currency is not None and (
            not isinstance(currency, str) or currency.upper() not in ISO_4217
        ):
            return [_event_problem(index, "has invalid currency.", "VALUE_INVALID", where)]
        if "value" in params and not is_number(params["value"]):
            return [_event_problem(index, "value must be a number.", "VALUE_INVALID", where)]
        items = params.get("items", [])
        if not isinstance(items, list) or not all(
            isinstance(item, dict) and (item.get("item_id") or item.get("item_name"))
            for item in items
        ):
            return [
                _event_problem(
                    index,
                    "each item needs an item_id or an item_name.",
                    "VALUE_REQUIRED",
                    "events.params.items",
                )
            ]
        return []


FakeGa4Server = FakeServer[FakeGa4]
FakeGa4Transport = FakeTransport[FakeGa4]
