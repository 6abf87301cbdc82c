"""A fake Google Ads API (`uploadClickConversions` over REST) with Google's OAuth2 token
endpoint, as the platform notes and the v21 protos describe them.

Both endpoints are served by one `FakeGoogleAds`, so a connector whose base URL and token base
URL point at one server (a test's `FakeServer`, the sandbox's in-process transport) meets both:

    POST /token                                     refresh token -> access token (3599 s)
    POST /{version}/customers/{id}:uploadClickConversions

The upload checks what Google checks before it looks at a conversion (the access token, its
expiry by the fake's clock, the developer token, the customer and the manager account in
`login-customer-id`, `partialFailure: true`, 1 to 2,000 conversions), answering Google's
`google.rpc.Status` error; then each conversion on its own, answering HTTP 200 with
`results` (an empty object for a refused conversion) and a `partialFailureError` whose
errors name their conversion by index, as Google does with partial failure on:

    conversion action "customers/{id}/conversionActions/{action}", an action the customer has
    one click id at most (gclid, or gbraid or wbraid), each one parseable
    no click id: hashed email or phone (enhanced conversions for leads, if the account has them)
    conversionDateTime "yyyy-mm-dd hh:mm:ss+|-hh:mm", not older than 90 days
    currencyCode ISO 4217; conversionValue a number
    at most 5 user identifiers, each one hashedEmail or hashedPhoneNumber, 64 lowercase hex
    duplicates: the same order id or click + action + time in the request, or taken before

Where Google's exact code for a malformed field is not documented (a date it cannot parse, a
value that is not a number, no click id and no identifier) the fake's choice is marked so.
Tests script whole-request failures (`fail_next` with a `Failure`), token endpoint failures
(`fail_token_next` with a `TokenFailure`), and any documented per-conversion error for one
click id or order id (`refuse`).
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final, Unpack
from urllib.parse import parse_qsl

from jobs.currencies import ISO_4217
from jobs.lru import LruDict
from jobs.platforms.fake_http import (
    FakeServer,
    FakeTransport,
    PlatformOptions,
    Reply,
    ScriptedReply,
)
from jobs.platforms.fake_json import JsonFake, is_number, json_reply

MAX_CONVERSIONS: Final = 2000
MAX_USER_IDENTIFIERS: Final = 5
MAX_AGE: Final = dt.timedelta(days=90)
TOKEN_LIFETIME: Final = 3599
CLICK_IDS: Final = ("gclid", "gbraid", "wbraid")
USER_IDENTIFIER_FIELDS: Final = frozenset({"hashedEmail", "hashedPhoneNumber"})
# UserIdentifier fields Google has that click conversion uploads do not take.
OTHER_IDENTIFIER_FIELDS: Final = frozenset({"mobileId", "thirdPartyUserId", "addressInfo"})

_UPLOAD_PATH: Final = re.compile(r"/(v\d+)/customers/([^/:]+):uploadClickConversions")
_ACTION: Final = re.compile(r"customers/(\d+)/conversionActions/(\d+)")
_DATE_TIME: Final = re.compile(
    r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})([+-]\d{2}):(\d{2})", re.ASCII
)
# The fake's notion of a click id Google can decode.
_CLICK_ID: Final = re.compile(r"[A-Za-z0-9_-]{10,512}", re.ASCII)
_HASH: Final = re.compile(r"[0-9a-f]{64}")
_DIGITS: Final = re.compile(r"\d+", re.ASCII)
_UPLOAD_ERROR: Final = "conversionUploadError"

# (category, code, message) of one GoogleAdsError.
Problem = tuple[str, str, str]


@dataclass(frozen=True)
class AdsErrorReply:
    """A whole-request error: HTTP status, google.rpc status name, GoogleAdsFailure errors."""

    status: int
    rpc_status: str
    message: str
    errors: tuple[Problem, ...] = ()

    def to_json(self, version: str, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.status,
            "message": self.message,
            "status": self.rpc_status,
        }
        if self.errors:
            error["details"] = [_failure(version, request_id, [(p, None) for p in self.errors])]
        return {"error": error}


def _failure(
    version: str, request_id: str, errors: list[tuple[Problem, int | None]]
) -> dict[str, Any]:
    """A GoogleAdsFailure detail; each error names its conversion when it has an index."""
    listed = []
    for (category, code, message), index in errors:
        error: dict[str, Any] = {"errorCode": {category: code}, "message": message}
        if index is not None:
            error["location"] = {
                "fieldPathElements": [{"fieldName": "conversions", "index": index}]
            }
        listed.append(error)
    return {
        "@type": f"type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure",
        "errors": listed,
        "requestId": request_id,
    }


@dataclass(frozen=True)
class Failure(ScriptedReply):
    """A scripted answer of the upload endpoint, for `FakeGoogleAds.fail_next`: Google's
    `error`, or a bare answer."""

    error: AdsErrorReply | None = None

    @classmethod
    def ads_error(
        cls, status: int, rpc_status: str, category: str, code: str, message: str
    ) -> Failure:
        error = AdsErrorReply(status, rpc_status, message, ((category, code, message),))
        return cls(status=status, error=error)

    @classmethod
    def token_expired(cls) -> Failure:
        return cls.ads_error(
            401,
            "UNAUTHENTICATED",
            "authenticationError",
            "OAUTH_TOKEN_EXPIRED",
            "OAuth token in the header has expired.",
        )

    @classmethod
    def developer_token_invalid(cls) -> Failure:
        return cls.ads_error(
            401,
            "UNAUTHENTICATED",
            "authenticationError",
            "DEVELOPER_TOKEN_INVALID",
            "The developer token is not valid.",
        )

    @classmethod
    def permission_denied(cls) -> Failure:
        return cls.ads_error(
            403,
            "PERMISSION_DENIED",
            "authorizationError",
            "USER_PERMISSION_DENIED",
            "User doesn't have permission to access customer.",
        )

    @classmethod
    def developer_token_not_approved(cls) -> Failure:
        return cls.ads_error(
            403,
            "PERMISSION_DENIED",
            "authorizationError",
            "DEVELOPER_TOKEN_NOT_APPROVED",
            "The developer token is only approved for use with test accounts.",
        )

    @classmethod
    def quota_exhausted(cls) -> Failure:
        return cls.ads_error(
            429,
            "RESOURCE_EXHAUSTED",
            "quotaError",
            "RESOURCE_EXHAUSTED",
            "Too many requests. Retry in 30 seconds.",
        )

    @classmethod
    def internal_error(cls) -> Failure:
        return cls.ads_error(
            500,
            "INTERNAL",
            "internalError",
            "INTERNAL_ERROR",
            "An internal error has occurred.",
        )

    @classmethod
    def transient_error(cls) -> Failure:
        return cls.ads_error(
            503,
            "UNAVAILABLE",
            "internalError",
            "TRANSIENT_ERROR",
            "The request failed due to a transient error. Retry it.",
        )

    @classmethod
    def deadline_exceeded(cls) -> Failure:
        return cls.ads_error(
            504,
            "DEADLINE_EXCEEDED",
            "internalError",
            "DEADLINE_EXCEEDED",
            "The request took too long to respond.",
        )

    @classmethod
    def invalid_login_customer_id(cls) -> Failure:
        return cls.ads_error(
            400,
            "INVALID_ARGUMENT",
            "headerError",
            "INVALID_LOGIN_CUSTOMER_ID",
            "The login customer ID could not be validated.",
        )

    @classmethod
    def http_503(cls) -> Failure:
        """Google's 503 carries its error."""
        error = AdsErrorReply(503, "UNAVAILABLE", "The service is currently unavailable.")
        return cls(status=503, error=error)


@dataclass(frozen=True)
class TokenFailure:
    """A scripted answer of the token endpoint, for `FakeGoogleAds.fail_token_next`."""

    status: int
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def oauth_error(cls, status: int, error: str, description: str) -> TokenFailure:
        document = {"error": error, "error_description": description}
        return cls(status, json.dumps(document).encode())

    @classmethod
    def invalid_grant(cls) -> TokenFailure:
        return cls.oauth_error(400, "invalid_grant", "Token has been expired or revoked.")

    @classmethod
    def invalid_client(cls) -> TokenFailure:
        return cls.oauth_error(401, "invalid_client", "The OAuth client was not found.")

    @classmethod
    def unavailable(cls) -> TokenFailure:
        return cls(503, b"Service Unavailable", content_type="text/plain")

    @classmethod
    def rate_limited(cls) -> TokenFailure:
        return cls.oauth_error(429, "rate_limit_exceeded", "Rate limit exceeded.")


@dataclass(frozen=True)
class AcceptedConversion:
    """A conversion the platform took."""

    customer_id: str
    api_version: str
    login_customer_id: str
    conversion: Mapping[str, Any]

    @property
    def action_id(self) -> str:
        match = _ACTION.fullmatch(str(self.conversion.get("conversionAction", "")))
        return match.group(2) if match else ""


class _Refused(Exception):
    def __init__(self, reply: AdsErrorReply) -> None:
        super().__init__(reply.message)
        self.reply = reply


def _bad_request(category: str, code: str, message: str) -> _Refused:
    return _Refused(AdsErrorReply(400, "INVALID_ARGUMENT", message, ((category, code, message),)))


class FakeGoogleAds(JsonFake[Failure]):
    """The platform: its rules, the credentials it takes, what it took, scripted failures."""

    events_key = "conversions"

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id.apps.googleusercontent.com",
        client_secret: str = "fake-client-secret",  # noqa: S107 - a fake's test credential
        refresh_token: str = "1//fake-refresh-token",  # noqa: S107 - a fake's test credential
        developer_token: str = "fake-developer-token",  # noqa: S107 - a fake's test credential
        customers: Mapping[str, Collection[str]] | None = None,
        managers: Mapping[str, Collection[str]] | None = None,
        enhanced_conversions_for_leads: bool = True,
        token_lifetime: int = TOKEN_LIFETIME,
        **options: Unpack[PlatformOptions],
    ) -> None:
        """`customers`: customer id -> its conversion action ids (None: any customer, any
        action); `managers`: manager id -> the customers it may act for through
        `login-customer-id` (None: any manager for any customer). `options` are
        ScriptedPlatform's; its `received_limit` also bounds what is remembered for
        deduplication and the access tokens issued."""
        super().__init__(**options)
        received_limit = options.get("received_limit")
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.developer_token = developer_token
        self._customers = {k: frozenset(v) for k, v in customers.items()} if customers else None
        self._managers = {k: frozenset(v) for k, v in managers.items()} if managers else None
        self.enhanced_conversions_for_leads = enhanced_conversions_for_leads
        self._token_lifetime = token_lifetime
        # Access token -> when it expires, by the fake's clock.
        self._access_tokens: LruDict[str, float] = LruDict(received_limit)
        self.tokens_issued = 0
        self._token_failures: collections.deque[TokenFailure] = collections.deque()
        self._refusals: dict[str, Problem] = {}
        # The order ids and clicks of the conversions taken, for deduplication.
        self._taken: LruDict[tuple[str, ...], None] = LruDict(received_limit)
        self.accepted: collections.deque[AcceptedConversion] = collections.deque(
            maxlen=self.history_limit
        )
        self._ids = itertools.count(1)

    # -- scripting -------------------------------------------------------------------------

    def fail_token_next(self, count: int, failure: TokenFailure) -> None:
        """Answer the next `count` token requests with `failure`."""
        self._token_failures.extend([failure] * count)

    def refuse(self, key: str, code: str, *, category: str = _UPLOAD_ERROR) -> None:
        """Refuse every conversion with this click id or order id with `code` (any per
        conversion error: TOO_RECENT_EVENT, EVENT_NOT_FOUND, CLICK_NOT_FOUND, ...)."""
        self._refusals[key] = (category, code, f"Scripted {code} for this conversion.")

    def revoke_access_tokens(self) -> None:
        """Google stops taking the access tokens issued so far (the refresh token still works)."""
        self._access_tokens.clear()

    # -- the platform ------------------------------------------------------------------------

    async def answer(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        if path.rstrip("/") == "/token":
            return self._token(method, headers, body)
        route = _UPLOAD_PATH.fullmatch(path)
        if route is None:
            return 404, {"content-type": "text/html; charset=UTF-8"}, b"<html>Not Found</html>"
        if method.upper() != "POST":
            return 405, {"content-type": "text/plain"}, b"Method Not Allowed"
        version, customer_id = route.groups()
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        try:
            self._authorize(headers, customer_id)
            conversions = self._conversions(body)
        except _Refused as refused:
            return self._error_reply(version, refused.reply)
        return self._upload(version, customer_id, headers.get("login-customer-id", ""), conversions)

    def outage_reply(self) -> Reply:
        return self.failure_reply(Failure.http_503())

    def failure_reply(self, failure: Failure) -> Reply:
        if failure.error is not None:
            return self._error_reply("v21", failure.error)
        return failure.reply()

    # -- the token endpoint ------------------------------------------------------------------

    def _token(self, method: str, headers: Mapping[str, str], body: bytes) -> Reply:
        if method.upper() != "POST":
            return 405, {"content-type": "text/plain"}, b"Method Not Allowed"
        if self._token_failures:
            failure = self._token_failures.popleft()
            return failure.status, {"content-type": failure.content_type}, failure.body
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            form = {}
        if form.get("grant_type") != "refresh_token":
            return self._oauth_error(400, "unsupported_grant_type", "Invalid grant_type.")
        if form.get("client_id") != self.client_id or form.get("client_secret") != (
            self.client_secret
        ):
            return self._oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if not form.get("refresh_token") or form.get("refresh_token") != self.refresh_token:
            return self._oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        self.tokens_issued += 1
        token = f"ya29.fake-access-token-{self.tokens_issued}"
        self._access_tokens[token] = self._now() + self._token_lifetime
        document = {
            "access_token": token,
            "expires_in": self._token_lifetime,
            "scope": "https://www.googleapis.com/auth/adwords",
            "token_type": "Bearer",
        }
        return json_reply(200, document)

    @staticmethod
    def _oauth_error(status: int, error: str, description: str) -> Reply:
        return json_reply(status, {"error": error, "error_description": description})

    # -- what Google checks before the conversions --------------------------------------------

    def _authorize(self, headers: Mapping[str, str], customer_id: str) -> None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise self._unauthenticated(
                "OAUTH_TOKEN_HEADER_INVALID", "OAuth token HTTP header is malformed."
            )
        expires = self._access_tokens.get(token)
        if expires is None:
            raise self._unauthenticated(
                "OAUTH_TOKEN_INVALID", "OAuth token in the header is not valid."
            )
        if self._now() >= expires:
            raise self._unauthenticated(
                "OAUTH_TOKEN_EXPIRED", "OAuth token in the header has expired."
            )
        if headers.get("developer-token") != self.developer_token:
            raise self._unauthenticated(
                "DEVELOPER_TOKEN_INVALID", "The developer token is not valid."
            )
        if not _DIGITS.fullmatch(customer_id):
            raise _bad_request(
                "authenticationError",
                "CLIENT_CUSTOMER_ID_INVALID",
                "Client customer ID is not a number.",
            )
        login = headers.get("login-customer-id")
        if login is not None and not _DIGITS.fullmatch(login):
            raise _bad_request(
                "headerError",
                "INVALID_LOGIN_CUSTOMER_ID",
                "The login customer ID could not be validated.",
            )
        denied = self._customers is not None and customer_id not in self._customers
        if login is not None and self._managers is not None:
            denied = denied or customer_id not in self._managers.get(login, frozenset())
        if denied:
            message = "User doesn't have permission to access customer."
            raise _Refused(
                AdsErrorReply(
                    403,
                    "PERMISSION_DENIED",
                    message,
                    (("authorizationError", "USER_PERMISSION_DENIED", message),),
                )
            )

    @staticmethod
    def _unauthenticated(code: str, message: str) -> _Refused:
        return _Refused(
            AdsErrorReply(
                401, "UNAUTHENTICATED", message, (("authenticationError", code, message),)
            )
        )

    def _conversions(self, body: bytes) -> list[Any]:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise _Refused(
                AdsErrorReply(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
            ) from None
        if not isinstance(document, dict):
            raise _Refused(AdsErrorReply(400, "INVALID_ARGUMENT", "Invalid JSON payload received."))
        if document.get("partialFailure") is not True:
            raise _bad_request("fieldError", "REQUIRED", "partial_failure must be true.")
        conversions = document.get("conversions")
        if not isinstance(conversions, list) or not conversions:
            raise _bad_request("fieldError", "REQUIRED", "The conversions are required.")
        if len(conversions) > MAX_CONVERSIONS:
            raise _bad_request(
                _UPLOAD_ERROR,
                "TOO_MANY_CONVERSIONS_IN_REQUEST",
                "Upload fewer than 2001 events in a single request.",
            )
        return conversions

    # -- each conversion on its own ----------------------------------------------------------

    def _upload(self, version: str, customer_id: str, login: str, conversions: list[Any]) -> Reply:
        results: list[dict[str, Any]] = []
        errors: list[tuple[Problem, int | None]] = []
        in_request: set[tuple[str, ...]] = set()
        for index, raw in enumerate(conversions):
            problem = self._check(customer_id, raw, in_request)
            if problem is not None:
                errors.append((problem, index))
                results.append({})
                continue
            results.append(self._take(AcceptedConversion(customer_id, version, login, raw)))
        request_id = f"fake-request-{next(self._ids)}"
        document: dict[str, Any] = {"results": results, "jobId": str(next(self._ids))}
        if errors:
            document["partialFailureError"] = {
                "code": 3,
                "message": "; ".join(problem[2] for problem, _ in errors),
                "details": [_failure(version, request_id, errors)],
            }
        return json_reply(200, document, content_type="application/json; charset=UTF-8")

    def _check(
        self, customer_id: str, raw: Any, in_request: set[tuple[str, ...]]
    ) -> Problem | None:
        """The first problem Google would report for one conversion, or None."""
        if not isinstance(raw, dict):
            return (
                "fieldError",
                "INVALID_VALUE",
                "The conversion must be an object.",
            )  # fake's choice
        conversion: dict[str, Any] = raw
        return (
            self._check_action(customer_id, conversion)
            or self._check_click(conversion)
            or self._check_values(conversion)
            or self._check_identifiers(conversion)
            or self._refusals.get(self._key(conversion))
            or self._check_duplicates(conversion, in_request)
        )

    def _check_action(self, customer_id: str, conversion: Mapping[str, Any]) -> Problem | None:
        action = conversion.get("conversionAction")
        if not isinstance(action, str) or not action:
            return ("fieldError", "REQUIRED", "The conversion action is required.")
        match = _ACTION.fullmatch(action)
        if match is None:
            return ("requestError", "RESOURCE_NAME_MALFORMED", "The resource name is malformed.")
        # Google reads the action id alone; the customer in the name is not checked.
        known = self._customers.get(customer_id) if self._customers is not None else None
        if known is not None and match.group(2) not in known:
            return (
                _UPLOAD_ERROR,
                "NO_CONVERSION_ACTION_FOUND",
                "The conversion action specified in the upload request cannot be found.",
            )
        return None

    def _check_click(self, conversion: Mapping[str, Any]) -> Problem | None:
        given = [name for name in CLICK_IDS if conversion.get(name) not in (None, "")]
        if "gbraid" in given and "wbraid" in given:
            return (_UPLOAD_ERROR, "GBRAID_WBRAID_BOTH_SET", "Can't use both gbraid and wbraid.")
        if len(given) > 1:
            return ("fieldError", "VALUE_MUST_BE_UNSET", "Set one click id only.")  # fake's choice
        for name in given:
            value = conversion[name]
            if not isinstance(value, str) or not _CLICK_ID.fullmatch(value):
                return (
                    _UPLOAD_ERROR,
                    f"UNPARSEABLE_{name.upper()}",
                    f"The {name} could not be decoded.",
                )
        if given:
            return None
        if not conversion.get("userIdentifiers"):
            # The fake's choice: a click conversion with nothing to attribute it by.
            return ("fieldError", "REQUIRED", "A click id or a user identifier is required.")
        if not self.enhanced_conversions_for_leads:
            return (
                _UPLOAD_ERROR,
                "CUSTOMER_NOT_ENABLED_ENHANCED_CONVERSIONS_FOR_LEADS",
                "Turn on enhanced conversions for leads in conversion settings and try again.",
            )
        return None

    def _check_values(self, conversion: Mapping[str, Any]) -> Problem | None:
        when = conversion.get("conversionDateTime")
        if not isinstance(when, str) or not when:
            return ("fieldError", "REQUIRED", "The conversion date time is required.")
        match = _DATE_TIME.fullmatch(when)
        moment = None
        if match is not None:
            try:
                moment = dt.datetime.fromisoformat(f"{match[1]}{match[2]}:{match[3]}")
            except ValueError:
                moment = None
        if moment is None:
            # The fake's choice of code for a time Google cannot parse.
            return (
                "dateError",
                "INVALID_FIELD_VALUES_IN_DATE_TIME",
                "Invalid conversion date time.",
            )
        if self._now() - moment.timestamp() > MAX_AGE.total_seconds():
            return (
                _UPLOAD_ERROR,
                "EXPIRED_EVENT",
                "The imported event's click occurred before this conversion's click-through"
                " window.",
            )
        if "conversionValue" in conversion and not is_number(conversion["conversionValue"]):
            return (
                "fieldError",
                "INVALID_VALUE",
                "The conversion value must be a number.",
            )  # fake's choice
        currency = conversion.get("currencyCode")
        if currency is not None and (not isinstance(currency, str) or currency not in ISO_4217):
            return ("currencyCodeError", "UNSUPPORTED", "The currency code is not supported.")
        return None

    @staticmethod
    def _check_identifiers(conversion: Mapping[str, Any]) -> Problem | None:
        identifiers = conversion.get("userIdentifiers", [])
        if not isinstance(identifiers, list):
            return (
                "fieldError",
                "INVALID_VALUE",
                "userIdentifiers must be a list.",
            )  # fake's choice
        if len(identifiers) > MAX_USER_IDENTIFIERS:
            return ("collectionSizeError", "TOO_MANY", "At most 5 user identifiers.")
        for identifier in identifiers:
            fields = (
                set(identifier) - {"userIdentifierSource"}
                if isinstance(identifier, dict)
                else set()
            )
            if fields & OTHER_IDENTIFIER_FIELDS:
                return (
                    _UPLOAD_ERROR,
                    "UNSUPPORTED_USER_IDENTIFIER",
                    "The provided user identifiers are not supported.",
                )
            valid = (
                len(fields) == 1
                and fields <= USER_IDENTIFIER_FIELDS
                and isinstance(value := identifier[next(iter(fields))], str)
                and _HASH.fullmatch(value) is not None
            )
            if not valid:
                # Never echo the value: it may be someone's email address.
                return (
                    _UPLOAD_ERROR,
                    "INVALID_USER_IDENTIFIER",
                    "Make sure you hash user provided data using SHA-256 and normalize it.",
                )
        return None

    @staticmethod
    def _click(conversion: Mapping[str, Any]) -> str:
        return next((str(conversion[n]) for n in CLICK_IDS if conversion.get(n)), "")

    def _key(self, conversion: Mapping[str, Any]) -> str:
        """What a scripted refusal is keyed by: the click id, else the order id."""
        return self._click(conversion) or str(conversion.get("orderId", ""))

    def _dedupe_keys(self, conversion: Mapping[str, Any]) -> list[tuple[str, ...]]:
        """What makes a conversion the same as another: its order id for its action, and its
        click, action and time."""
        action = str(conversion["conversionAction"])
        keys: list[tuple[str, ...]] = []
        if conversion.get("orderId"):
            keys.append(("order", action, str(conversion["orderId"])))
        if click := self._click(conversion):
            keys.append(("click", click, action, str(conversion["conversionDateTime"])))
        return keys

    def _check_duplicates(
        self, conversion: Mapping[str, Any], in_request: set[tuple[str, ...]]
    ) -> Problem | None:
        keys = self._dedupe_keys(conversion)
        for key in keys:
            by_order = key[0] == "order"
            if key in in_request:
                if by_order:
                    return (
                        _UPLOAD_ERROR,
                        "DUPLICATE_ORDER_ID",
                        "Multiple conversions have this order ID.",
                    )
                return (
                    _UPLOAD_ERROR,
                    "DUPLICATE_CLICK_CONVERSION_IN_REQUEST",
                    "Multiple events have the same click and conversion_date_time.",
                )
            if key in self._taken:
                if by_order:
                    return (
                        _UPLOAD_ERROR,
                        "ORDER_ID_ALREADY_IN_USE",
                        "The order ID was already recorded.",
                    )
                return (
                    _UPLOAD_ERROR,
                    "CLICK_CONVERSION_ALREADY_EXISTS",
                    "A conversion with the same click and conversion_date_time exists.",
                )
        in_request.update(keys)
        return None

    def _take(self, accepted: AcceptedConversion) -> dict[str, Any]:
        conversion = accepted.conversion
        for key in self._dedupe_keys(conversion):
            self._taken[key] = None
        self.accepted.append(accepted)
        self.note_received(
            [(accepted.action_id, str(conversion.get("orderId") or self._click(conversion)))]
        )
        shown = (*CLICK_IDS, "conversionAction", "conversionDateTime", "userIdentifiers")
        return {k: conversion[k] for k in shown if k in conversion}

    def _error_reply(self, version: str, reply: AdsErrorReply) -> Reply:
        document = reply.to_json(version, f"fake-request-{next(self._ids)}")
        return json_reply(reply.status, document, content_type="application/json; charset=UTF-8")


FakeGoogleAdsServer = FakeServer[FakeGoogleAds]
FakeGoogleAdsTransport = FakeTransport[FakeGoogleAds]
