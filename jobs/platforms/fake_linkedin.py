"""A fake LinkedIn Conversions API (`POST /rest/conversionEvents`, BATCH_CREATE) that follows
the platform notes.

Tests serve it over HTTP on loopback (`FakeServer`); the sandbox plugs it into an httpx client
in process (`FakeTransport`). The request as a whole is checked first, as Rest.li does: the
route, the Bearer token (401), the LinkedIn-Version (426 for one that is not active) and the
Rest.li headers (400), then the body (400). Then each element on its own, and the answer is
HTTP 200 with a status per element in request order: 201 for one it took, 400 for a malformed
one (conversion URN, time in epoch milliseconds, value as a decimal string with an ISO 4217
currency, user ids of LinkedIn's types, the email as a SHA-256 digest), 422 for one older than
90 days or in the future, or for a conversion rule it does not know. Errors are Rest.li's
ErrorResponse (`{"status", "serviceErrorCode", "code", "message"}`). LinkedIn documents the
batch answer's success shape, not which status each refusal carries: those are the fake's.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final, Unpack

from jobs.currencies import ISO_4217
from jobs.platforms.fake_http import PlatformOptions, Reply, ScriptedReply
from jobs.platforms.fake_json import JsonFake, json_reply

PATH: Final = "/rest/conversionEvents"
MAX_ELEMENTS: Final = 1000
MAX_EVENT_AGE: Final = dt.timedelta(days=90)
MAX_FUTURE_SKEW: Final = dt.timedelta(minutes=5)
# Versions are YYYYMM; LinkedIn keeps each active for about a year.
OLDEST_ACTIVE_VERSION: Final = "202501"
ID_TYPES: Final = frozenset(
    {
        *("SHA256_EMAIL", "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "ACXIOM_ID"),
        *("ORACLE_MOAT_ID", "PLAINTEXT_IP_ADDRESS", "SHA256_IP_ADDRESS", "GOOGLE_AID"),
    }
)

_CONVERSION: Final = re.compile(r"urn:lla:llaPartnerConversion:(\d+)")
_VERSION: Final = re.compile(r"\d{6}")
_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_AMOUNT: Final = re.compile(r"-?\d+(?:\.\d+)?")


def error_document(status: int, code: str, message: str, service_code: int) -> dict[str, Any]:
    return {"status": status, "serviceErrorCode": service_code, "code": code, "message": message}


@dataclass(frozen=True)
class Failure(ScriptedReply):
    """A scripted answer to a whole request, for `FakeLinkedIn.fail_next`."""

    @classmethod
    def error(cls, status: int, code: str, message: str, service_code: int = 0) -> Failure:
        body = json.dumps(error_document(status, code, message, service_code or status))
        return cls(status=status, body=body.encode(), content_type="application/json")

    @classmethod
    def token_expired(cls) -> Failure:
        return cls.error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired")

    @classmethod
    def token_revoked(cls) -> Failure:
        return cls.error(
            401,
            "REVOKED_ACCESS_TOKEN",
            "The token used in the request has been revoked by the user",
            65601,
        )

    @classmethod
    def forbidden(cls) -> Failure:
        """The token lacks rw_conversions, or its member a role in the ad account."""
        return cls.error(403, "ACCESS_DENIED", "Not enough permissions to access conversions", 100)

    @classmethod
    def throttled(cls) -> Failure:
        return cls.error(429, "TOO_MANY_REQUESTS", "Resource level throttle limit reached", 101)

    @classmethod
    def version_inactive(cls) -> Failure:
        return cls.error(426, "NONEXISTENT_VERSION", "Requested version 202001 is not active")

    @classmethod
    def bad_request(cls) -> Failure:
        """The request as a whole refused."""
        return cls.error(400, "INVALID_INPUT", "The request body is invalid")

    @classmethod
    def http_503(cls) -> Failure:
        """LinkedIn's 503 carries its error body."""
        return cls.error(503, "SERVICE_UNAVAILABLE", "Service Unavailable")


@dataclass(frozen=True)
class AcceptedRequest:
    """A BATCH_CREATE that reached the elements: `taken` are those answered 201."""

    api_version: str
    elements: tuple[Mapping[str, Any], ...]
    statuses: tuple[int, ...]

    @property
    def taken(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(e for e, s in zip(self.elements, self.statuses, strict=True) if s == 201)


class _Refused(Exception):
    """Stops validation with the answer to send; never leaves this module."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.document = error_document(status, code, message, status)
        self.status = status


class FakeLinkedIn(JsonFake[ScriptedReply]):
    """LinkedIn's conversionEvents endpoint, with its rules and scripted failures."""

    events_key = "elements"
    outage = Failure.http_503()

    def __init__(
        self,
        *,
        access_tokens: Collection[str] | None = None,
        conversion_rules: Collection[str] | None = None,
        max_elements: int = MAX_ELEMENTS,
        **options: Unpack[PlatformOptions],
    ) -> None:
        """`access_tokens` and `conversion_rules` (rule ids) are those LinkedIn knows (None:
        any); `options` are ScriptedPlatform's, whose `history_limit` also bounds `accepted`."""
        super().__init__(**options)
        self._access_tokens = frozenset(access_tokens) if access_tokens is not None else None
        self._rules = frozenset(conversion_rules) if conversion_rules is not None else None
        self._max_elements = max_elements
        self._refusals: dict[str, tuple[int, str]] = {}
        self.accepted: collections.deque[AcceptedRequest] = collections.deque(
            maxlen=self.history_limit
        )

    def refuse_event(self, event_id: str, status: int = 400, message: str = "Invalid") -> None:
        """Answer the next element with this eventId with `status` (a partial failure)."""
        self._refusals[event_id] = (status, message)

    async def answer(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        if path.rstrip("/") != PATH:
            return json_reply(404, error_document(404, "NOT_FOUND", "Not Found", 404))
        if method.upper() != "POST":
            return json_reply(405, error_document(405, "METHOD_NOT_ALLOWED", "Not allowed", 405))
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        try:
            self._authenticate(headers.get("authorization", ""))
            version = self._check_headers(headers)
            elements = self._elements(body)
        except _Refused as refused:
            return json_reply(refused.status, refused.document)
        now = self._now()
        results = [self._element(element, now) for element in elements]
        statuses = tuple(status for status, _ in results)
        self.accepted.append(AcceptedRequest(version, tuple(elements), statuses))
        self.note_received(
            _key(element)
            for element, status in zip(elements, statuses, strict=True)
            if status == 201
        )
        answered = [
            {"status": status} if status == 201 else {"status": status, "error": error}
            for status, error in results
        ]
        return json_reply(200, {"elements": answered})

    # -- the request -------------------------------------------------------------------------

    def _authenticate(self, authorization: str) -> None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Refused(401, "EMPTY_ACCESS_TOKEN", "Empty oauth2_access_token")
        if self._access_tokens is not None and token not in self._access_tokens:
            raise _Refused(401, "INVALID_ACCESS_TOKEN", "Invalid access token")

    @staticmethod
    def _check_headers(headers: Mapping[str, str]) -> str:
        version = headers.get("linkedin-version", "")
        if not _VERSION.fullmatch(version):
            raise _Refused(400, "VERSION_MISSING", "A LinkedIn-Version header is required")
        if version < OLDEST_ACTIVE_VERSION:
            raise _Refused(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active")
        if headers.get("x-restli-protocol-version") != "2.0.0":
            raise _Refused(400, "INVALID_PROTOCOL", "X-Restli-Protocol-Version must be 2.0.0")
        if headers.get("x-restli-method", "").upper() != "BATCH_CREATE":
            raise _Refused(400, "INVALID_INPUT", "A batch needs X-RestLi-Method: BATCH_CREATE")
        return version

    def _elements(self, body: bytes) -> list[Any]:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise _Refused(400, "INVALID_INPUT", "The request body is not JSON") from None
        elements = document.get("elements") if isinstance(document, dict) else None
        if not isinstance(elements, list) or not elements:
            raise _Refused(400, "INVALID_INPUT", "elements must be a non-empty array")
        if len(elements) > self._max_elements:
            raise _Refused(400, "INVALID_INPUT", "Too many elements in the batch")
        return elements

    # -- each element ------------------------------------------------------------------------

    def _element(self, element: object, now: float) -> tuple[int, dict[str, Any]]:
        """The element's status and, if refused, its error (never echoing its values)."""
        problem = _malformed(element)
        if problem:
            return 400, error_document(400, "INVALID_INPUT", problem, 400)
        assert isinstance(element, dict)
        match = _CONVERSION.fullmatch(element["conversion"])
        assert match is not None
        if self._rules is not None and match.group(1) not in self._rules:
            return 422, error_document(422, "NOT_FOUND", "Conversion rule not found", 422)
        happened = element["conversionHappenedAt"] / 1000
        if now - happened > MAX_EVENT_AGE.total_seconds():
            return 422, error_document(
                422, "INVALID_INPUT", "conversionHappenedAt is more than 90 days ago", 422
            )
        if happened - now > MAX_FUTURE_SKEW.total_seconds():
            return 422, error_document(
                422, "INVALID_INPUT", "conversionHappenedAt is in the future", 422
            )
        event_id = element.get("eventId")
        if isinstance(event_id, str) and event_id in self._refusals:
            status, message = self._refusals.pop(event_id)
            return status, error_document(status, "SCRIPTED", message, status)
        return 201, {}


def _malformed(element: object) -> str:
    if not isinstance(element, dict):
        return "an element must be an object"
    conversion = element.get("conversion")
    if not isinstance(conversion, str) or not _CONVERSION.fullmatch(conversion):
        return "conversion must be urn:lla:llaPartnerConversion:<rule id>"
    happened = element.get("conversionHappenedAt")
    if not isinstance(happened, int) or isinstance(happened, bool) or happened < 10**12:
        return "conversionHappenedAt must be epoch milliseconds"
    event_id = element.get("eventId")
    if event_id is not None and not isinstance(event_id, str):
        return "eventId must be a string"
    return _value_problem(element.get("conversionValue")) or _user_problem(element.get("user"))


def _value_problem(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, dict):
        return "conversionValue must be an object"
    if value.get("currencyCode") not in ISO_4217:
        return "conversionValue.currencyCode must be an ISO 4217 code"
    amount = value.get("amount")
    if not isinstance(amount, str) or not _AMOUNT.fullmatch(amount):
        return "conversionValue.amount must be a decimal number in a string"
    return ""


def _user_problem(user: object) -> str:
    ids = user.get("userIds") if isinstance(user, dict) else None
    if not isinstance(ids, list) or not ids:
        return "user.userIds must hold one user id at least"
    for user_id in ids:
        if not isinstance(user_id, dict) or user_id.get("idType") not in ID_TYPES:
            return "user.userIds[].idType must be one of " + ", ".join(sorted(ID_TYPES))
        value = user_id.get("idValue")
        if not isinstance(value, str) or not value:
            return "user.userIds[].idValue is required"
        if user_id["idType"].startswith("SHA256_") and not _SHA256.fullmatch(value):
            return f"{user_id['idType']} must be a SHA-256 digest (64 lowercase hex characters)"
    return ""


def _key(element: Mapping[str, Any]) -> tuple[str, str]:
    """(conversion rule id, eventId) as LinkedIn counts a conversion."""
    rule = str(element["conversion"]).removeprefix("urn:lla:llaPartnerConversion:")
    event_id = element.get("eventId")
    return rule, "" if event_id is None else str(event_id)
