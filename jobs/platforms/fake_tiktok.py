"""A fake TikTok Events API 2.0 (`/open_api/v1.3/event/track/`) that follows the platform notes.

Tests serve it over real HTTP/1.1 on loopback (`FakeTikTokServer`); the sandbox destination
plugs it into its httpx client (`FakeTikTokTransport`). Both wrap one `FakeTikTok`, which holds
the platform's rules and state and knows nothing about transport.

Like TikTok, it answers with HTTP 200 and a `code` in the body, 0 when it took the events. It
checks the `Access-Token` header first (40104 when there is none, 40105 when it does not know
it, 40001 when the token is not the pixel's), then the body, and refuses the whole request for
one bad event: more than 1,000 events (40061), contact data that is not a SHA-256 digest
(40062), a missing or malformed field, an event older than 7 days or in the future, a currency
that is not ISO 4217 (40002). Where TikTok's exact answer is not documented (which code a stale
event gets, the wording of messages), the fake's own choice is marked as such.

A partial failure (code 20001, PARTIAL_OK) happens for events the test told the fake to
`refuse`: a request holding them and others gets 20001 and the others are taken; a request
holding only refused events gets 40002, as any request whose events all fail.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import json
import re
from collections.abc import Iterable, Mapping
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
from jobs.platforms.fake_json import AccountPlatform, is_number, json_reply

MAX_EVENTS_PER_REQUEST: Final = 1000
# Not confirmed by TikTok (the platform notes): the age third parties assume.
MAX_EVENT_AGE: Final = dt.timedelta(days=7)
DEFAULT_MAX_FUTURE_SKEW: Final = dt.timedelta(minutes=5)

EVENT_SOURCES: Final = frozenset({"web", "app", "offline", "crm"})
# `user` keys TikTok wants as SHA-256 digests (platform notes, hashing table).
HASHED_KEYS: Final = frozenset(
    {"email", "phone", "external_id", "first_name", "last_name", "zip_code"}
)
_SHA256_HEX: Final = re.compile(r"[0-9a-fA-F]{64}")
_TRACK_PATH: Final = re.compile(r"/open_api/(v\d+\.\d+)/event/track/?")
SUPPORTED_VERSION: Final = "v1.3"


class Code(enum.IntEnum):
    """TikTok's answer codes the fake gives (the SDK's `tiktok_code.py` names)."""

    OK = 0
    PARTIAL_OK = 20001
    INVALID_PARAMS = 40000
    PERMISSION_ERROR = 40001
    PARAM_ERROR = 40002
    VERSION_ERROR = 40006
    INVALID_BATCH_SIZE = 40061
    PII_NOT_HASHED = 40062
    INVALID_PARTNER_NAME = 40063
    REQUEST_TOO_FREQUENT = 40100
    ACCESS_TOKEN_EXPIRE = 40102
    EMPTY_ACCESS_TOKEN = 40104
    INVALID_ACCESS_TOKEN = 40105
    REQUEST_FREQUENCY_LIMITED = 40132
    BLOCKED = 41000
    SYS_ERROR = 50000
    SYS_TIMEOUT = 50002
    RPC_ERROR = 51000
    DB_ERROR = 52000


@dataclass(frozen=True)
class Failure(ScriptedReply):
    """A scripted answer for `FakeTikTok.fail_next`: TikTok's own (HTTP `status`, usually 200,
    with `code` and `message` in its body), or a bare one (`code` None: `body` as it is)."""

    status: int = 200
    code: int | None = None
    message: str = ""

    @classmethod
    def answer(cls, code: int, message: str, *, status: int = 200) -> Failure:
        return cls(status=status, code=code, message=message)

    @classmethod
    def too_frequent(cls) -> Failure:
        return cls.answer(Code.REQUEST_TOO_FREQUENT, "Request too frequent. Please retry later.")

    @classmethod
    def frequency_limited(cls) -> Failure:
        return cls.answer(Code.REQUEST_FREQUENCY_LIMITED, "Request frequency limited.")

    @classmethod
    def token_expired(cls) -> Failure:
        return cls.answer(Code.ACCESS_TOKEN_EXPIRE, "Access token has expired.")

    @classmethod
    def empty_token(cls) -> Failure:
        return cls.answer(Code.EMPTY_ACCESS_TOKEN, "Access token is empty.")

    @classmethod
    def invalid_token(cls) -> Failure:
        return cls.answer(Code.INVALID_ACCESS_TOKEN, "Access token is incorrect or revoked.")

    @classmethod
    def permission(cls) -> Failure:
        return cls.answer(Code.PERMISSION_ERROR, "No permission to operate this pixel.")

    @classmethod
    def system_error(cls) -> Failure:
        return cls.answer(Code.SYS_ERROR, "System error. Please retry later.")

    @classmethod
    def system_timeout(cls) -> Failure:
        return cls.answer(Code.SYS_TIMEOUT, "System timeout. Please retry later.")

    @classmethod
    def internal(cls, code: int = Code.RPC_ERROR) -> Failure:
        """An internal service (51xxx) or storage (52xxx) error."""
        return cls.answer(code, "Internal service error. Please retry later.")

    @classmethod
    def blocked(cls) -> Failure:
        return cls.answer(Code.BLOCKED, "The request is blocked.")

    @classmethod
    def invalid_params(cls) -> Failure:
        return cls.answer(Code.INVALID_PARAMS, "Invalid params.")

    @classmethod
    def param_error(cls) -> Failure:
        return cls.answer(Code.PARAM_ERROR, "Param error.")

    @classmethod
    def version_error(cls) -> Failure:
        return cls.answer(Code.VERSION_ERROR, "API version error.")

    @classmethod
    def invalid_batch_size(cls) -> Failure:
        return cls.answer(Code.INVALID_BATCH_SIZE, "Invalid batch size.")

    @classmethod
    def pii_not_hashed(cls) -> Failure:
        return cls.answer(Code.PII_NOT_HASHED, "PII is not hashed.")

    @classmethod
    def invalid_partner_name(cls) -> Failure:
        return cls.answer(Code.INVALID_PARTNER_NAME, "Invalid partner name.")

    @classmethod
    def partial_ok(cls) -> Failure:
        """PARTIAL_OK for one request whatever it holds; nothing of it is taken. (`refuse`
        makes a partial failure that follows the refused events instead.)"""
        return cls.answer(Code.PARTIAL_OK, "Partial OK: some events failed.")


@dataclass(frozen=True)
class AcceptedRequest:
    """A request the platform took (all of it, or what a PARTIAL_OK answer left)."""

    event_source: str
    event_source_id: str
    events: tuple[dict[str, Any], ...]
    test_event_code: str | None = None

    @property
    def event_count(self) -> int:
        return len(self.events)


class _Refused(Exception):
    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FakeTikTok(AccountPlatform[Failure, AcceptedRequest]):
    """TikTok's Events API as the platform notes describe it, plus scripted failures."""

    def __init__(
        self,
        *,
        access_tokens: Mapping[str, str] | None = None,
        max_future_skew: dt.timedelta = DEFAULT_MAX_FUTURE_SKEW,
        **options: Unpack[PlatformOptions],
    ) -> None:
        """`access_tokens` maps pixel code -> its token (None: any non-empty token works);
        the rest as for `AccountPlatform`."""
        super().__init__(access_tokens=access_tokens, **options)
        self._max_future_skew = max_future_skew.total_seconds()
        self._max_event_age = MAX_EVENT_AGE.total_seconds()
        self._refused_ids: set[str] = set()
        self._request_ids = itertools.count(1)

    def refuse(self, event_ids: Iterable[str]) -> None:
        """Refuse the events with these ids whenever they come, as TikTok refuses events
        whose data it finds wrong in ways Tenaz cannot check (a partial failure)."""
        self._refused_ids.update(event_ids)

    # -- the platform ----------------------------------------------------------------------

    async def answer(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        route = _TRACK_PATH.fullmatch(path)
        if route is None:
            return 404, {"content-type": "text/plain"}, b"Not Found"
        if method.upper() != "POST":
            return 405, {"content-type": "text/plain"}, b"Method Not Allowed"
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        try:
            if route.group(1) != SUPPORTED_VERSION:
                raise _Refused(
                    Code.VERSION_ERROR, f"API version {route.group(1)} is not supported."
                )
            token = headers.get("access-token", "")
            self._authenticate(token)
            document = self._document(body)
            source_id = self._source(document)
            self._check_permission(token, source_id)
            events = self._events(document.get("data"))
        except _Refused as refused:
            return self._reply(refused.code, refused.message)
        taken = [e for e in events if str(e.get("event_id", "")) not in self._refused_ids]
        if not taken:
            return self._reply(Code.PARAM_ERROR, "All events failed: invalid event data.")
        test_event_code = document.get("test_event_code")
        self._record(
            AcceptedRequest(
                event_source=str(document["event_source"]),
                event_source_id=source_id,
                events=tuple(taken),
                test_event_code=test_event_code if isinstance(test_event_code, str) else None,
            )
        )
        if len(taken) < len(events):
            # TikTok does not say which events failed in any documented way: neither does this.
            return self._reply(Code.PARTIAL_OK, "Partial OK: some events failed.")
        return self._reply(Code.OK, "OK")

    def _record(self, request: AcceptedRequest) -> None:
        self.accepted.append(request)
        self.note_received(
            (str(event["event"]), str(event.get("event_id", ""))) for event in request.events
        )

    # -- validation, the token first -----------------------------------------------------------

    def _document(self, body: bytes) -> dict[str, Any]:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise _Refused(Code.INVALID_PARAMS, "The body is not valid JSON.") from None
        if not isinstance(document, dict):
            raise _Refused(Code.INVALID_PARAMS, "The body must be a JSON object.")
        return document

    def _source(self, document: Mapping[str, Any]) -> str:
        source, source_id = document.get("event_source"), document.get("event_source_id")
        if source not in EVENT_SOURCES:
            raise _Refused(Code.PARAM_ERROR, "event_source: must be one of app, crm, offline, web.")
        if not isinstance(source_id, str) or not source_id:
            raise _Refused(Code.PARAM_ERROR, "event_source_id: required.")
        partner = document.get("partner_name")
        if partner is not None and (not isinstance(partner, str) or not partner.strip()):
            raise _Refused(Code.INVALID_PARTNER_NAME, "partner_name is invalid.")
        test_event_code = document.get("test_event_code")
        if test_event_code is not None and not isinstance(test_event_code, str):
            raise _Refused(Code.PARAM_ERROR, "test_event_code: must be a string.")
        return source_id

    def _authenticate(self, token: str) -> None:
        if not token.strip():
            raise _Refused(Code.EMPTY_ACCESS_TOKEN, "Access token is empty.")
        if not self.knows(token):
            raise _Refused(Code.INVALID_ACCESS_TOKEN, "Access token is incorrect or revoked.")

    def _check_permission(self, token: str, source_id: str) -> None:
        """A token TikTok knows, for another pixel (or event set)."""
        if self.token_refusal(source_id, token) is not None:
            raise _Refused(Code.PERMISSION_ERROR, "No permission to operate this pixel.")

    def _events(self, data: object) -> list[dict[str, Any]]:
        if not isinstance(data, list) or not data:
            raise _Refused(Code.PARAM_ERROR, "data: must be a non-empty array of events.")
        if len(data) > MAX_EVENTS_PER_REQUEST:
            raise _Refused(
                Code.INVALID_BATCH_SIZE,
                f"data: at most {MAX_EVENTS_PER_REQUEST} events per request.",
            )
        now = self._now()
        return [self._event(f"data[{index}]", raw, now) for index, raw in enumerate(data)]

    def _event(self, where: str, raw: object, now: float) -> dict[str, Any]:
        """One event, checked; any problem refuses the whole request."""
        if not isinstance(raw, dict):
            raise _Refused(Code.PARAM_ERROR, f"{where}: must be an object.")
        name, event_time = raw.get("event"), raw.get("event_time")
        if not isinstance(name, str) or not name.strip():
            raise _Refused(Code.PARAM_ERROR, f"{where}.event: required.")
        if not isinstance(event_time, int) or isinstance(event_time, bool):
            raise _Refused(Code.PARAM_ERROR, f"{where}.event_time: a Unix time in seconds.")
        # The code for a stale or future event is not documented: the fake's choice.
        if now - event_time > self._max_event_age:
            raise _Refused(Code.PARAM_ERROR, f"{where}.event_time: more than 7 days ago.")
        if event_time - now > self._max_future_skew:
            raise _Refused(Code.PARAM_ERROR, f"{where}.event_time: in the future.")
        event_id = raw.get("event_id")
        if event_id is not None and not isinstance(event_id, str):
            raise _Refused(Code.PARAM_ERROR, f"{where}.event_id: must be a string.")
        self._check_user(where, raw.get("user", {}))
        page = raw.get("page", {})
        if not isinstance(page, dict) or not isinstance(page.get("url", ""), str):
            raise _Refused(Code.PARAM_ERROR, f"{where}.page: an object with a url string.")
        self._check_properties(where, raw.get("properties", {}))
        return raw

    def _check_user(self, where: str, user: object) -> None:
        if not isinstance(user, dict):
            raise _Refused(Code.PARAM_ERROR, f"{where}.user: must be an object.")
        for key in HASHED_KEYS & user.keys():
            value = user[key]
            values = value if isinstance(value, list) else [value]
            if not all(isinstance(v, str) and _SHA256_HEX.fullmatch(v) for v in values):
                # Never echo the value: it may be someone's email address.
                raise _Refused(
                    Code.PII_NOT_HASHED,
                    f"{where}.user.{key}: must be hashed with SHA-256 (64 hex characters).",
                )

    def _check_properties(self, where: str, properties: object) -> None:
        if not isinstance(properties, dict):
            raise _Refused(Code.PARAM_ERROR, f"{where}.properties: must be an object.")
        currency = properties.get("currency")
        if currency is not None and (not isinstance(currency, str) or currency not in ISO_4217):
            raise _Refused(
                Code.PARAM_ERROR, f"{where}.properties.currency: an ISO 4217 code such as USD."
            )
        if "value" in properties and not is_number(properties["value"]):
            raise _Refused(Code.PARAM_ERROR, f"{where}.properties.value: must be a number.")
        contents = properties.get("contents", [])
        if not isinstance(contents, list) or not all(
            isinstance(item, dict)
            and isinstance(item.get("content_id", ""), str)
            and is_number(item.get("price", 0))
            and is_number(item.get("quantity", 0))
            for item in contents
        ):
            raise _Refused(
                Code.PARAM_ERROR,
                f"{where}.properties.contents: objects with content_id, price and quantity.",
            )

    # -- answers ---------------------------------------------------------------------------

    def _request_id(self) -> str:
        return f"fake{next(self._request_ids):020d}"

    def _reply(self, code: int, message: str, *, status: int = 200) -> Reply:
        document = {"code": code, "message": message, "request_id": self._request_id(), "data": {}}
        return json_reply(status, document, content_type="application/json")

    def failure_reply(self, failure: Failure) -> Reply:
        if failure.code is not None:
            return self._reply(failure.code, failure.message, status=failure.status)
        return failure.reply()


FakeTikTokServer = FakeServer[FakeTikTok]
FakeTikTokTransport = FakeTransport[FakeTikTok]
