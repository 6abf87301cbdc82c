"""What the Google Ads API's answers to `uploadClickConversions` mean, conversion by conversion.

Google answers for each conversion on its own (`partialFailure: true`): an HTTP 200 whose
`partialFailureError` lists `GoogleAdsFailure` errors, each naming its conversion by
`location.fieldPathElements[{fieldName: "conversions", index: i}]`. A conversion no error
names was taken. Errors are strings (`{"errorCode": {"conversionUploadError":
"TOO_RECENT_EVENT"}}`): they go in the outcome's message; its `platform_code` stays empty.

One conversion's errors (`ROW_RULES`, the first rule that applies decides each error; a
conversion with several takes the gravest: refused, then external, then taken):

    *_ALREADY_EXISTS, ORDER_ID_ALREADY_IN_USE -> SUCCEEDED (an earlier attempt was taken)
    CLICK_NOT_FOUND                           -> SUCCEEDED (see below)
    TOO_RECENT_EVENT, TOO_RECENT_CONVERSION_ACTION, TOO_RECENT_CALL
                                              -> EXTERNAL_PROBLEM (Google takes it later)
    internalError.*, quotaError.*             -> EXTERNAL_PROBLEM
    anything else (UNPARSEABLE_GCLID, EXPIRED_EVENT, EVENT_NOT_FOUND, INVALID_USER_IDENTIFIER,
      NO_CONVERSION_ACTION_FOUND, ...)        -> REJECTED

EVENT_NOT_FOUND ("could not be attributed to a click ... may be because the event did not come
from a Google Ads campaign") is REJECTED: a click Google has not processed yet is answered
with TOO_RECENT_EVENT instead, so retrying for the rest of the lookback window would not change
the answer. CLICK_NOT_FOUND ("the email address or phone number can't be matched to a click
... you can safely ignore this warning") is SUCCEEDED with its message kept: Google asks for
every conversion to be uploaded for enhanced conversions for leads, expects this answer for
those that came from elsewhere, and without `debugEnabled` (Tenaz does not set it) answers
them as taken.

A whole request refused (`REQUEST_RULES`, on the HTTP status and the `google.rpc.Status` body
`{"error": {"code", "message", "status", "details": [GoogleAdsFailure]}}`):

    authenticationError.*, authorizationError.*, HTTP 401/403 from Google
                                              -> EXTERNAL_PROBLEM, needs_action
    quotaError.* (RESOURCE_EXHAUSTED), HTTP 429 -> EXTERNAL_PROBLEM
    internalError.* (INTERNAL_ERROR, TRANSIENT_ERROR), HTTP 5xx, UNAVAILABLE,
      DEADLINE_EXCEEDED, HTTP 408             -> EXTERNAL_PROBLEM
    headerError.* (login-customer-id)          -> EXTERNAL_PROBLEM, needs_action
    HTTP 413 (a proxy on the way)              -> EXTERNAL_PROBLEM, needs_action (split)
    errors that name conversions               -> those REJECTED by ROW_RULES, the others
                                                  EXTERNAL_PROBLEM (not looked at)
    any other error from Google                -> EXTERNAL_PROBLEM, needs_action (the request
                                                  as configured is wrong, not the events)
    a 3xx/4xx without Google's error body      -> EXTERNAL_PROBLEM, needs_action (not Google)
    anything else                              -> EXTERNAL_PROBLEM
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from jobs.platforms.base import Classification
from jobs.platforms.http_connector import MAX_MESSAGE_CHARS, parse_json
from jobs.platforms.rules import (
    EXTERNAL,
    REJECTED,
    SUCCEEDED,
    HttpAnswer,
    Rule,
    access_refused,
    always,
    anything_else,
    classification,
    first_rule,
    not_the_platform,
    status_is,
    too_large,
)

RETRY_LATER_CODES: Final = frozenset(
    {"TOO_RECENT_EVENT", "TOO_RECENT_CONVERSION_ACTION", "TOO_RECENT_CALL"}
)
DUPLICATE_CODES: Final = frozenset(
    {"CLICK_CONVERSION_ALREADY_EXISTS", "CALL_CONVERSION_ALREADY_EXISTS", "ORDER_ID_ALREADY_IN_USE"}
)
NO_CLICK_MATCHED: Final = "CLICK_NOT_FOUND"
# The platform notes' permanent list (ConversionUploadError, v21); the rules refuse any code
# they do not know as well, so this is what the tests and the docs hold the table to.
PERMANENT_CODES: Final = frozenset(
    {
        *("UNPARSEABLE_GCLID", "UNPARSEABLE_GBRAID", "UNPARSEABLE_WBRAID"),
        *("GBRAID_WBRAID_BOTH_SET", "CONVERSION_PRECEDES_EVENT", "EXPIRED_EVENT"),
        *("EVENT_NOT_FOUND", "UNAUTHORIZED_CUSTOMER", "INVALID_CUSTOMER_FOR_CLICK"),
        *("DUPLICATE_CLICK_CONVERSION_IN_REQUEST", "DUPLICATE_ORDER_ID"),
        *("NO_CONVERSION_ACTION_FOUND", "INVALID_CONVERSION_ACTION_TYPE"),
        "CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS",
        "CUSTOMER_DATA_POLICY_PROHIBITS_ENHANCED_CONVERSIONS",
        "CUSTOMER_NOT_ENABLED_ENHANCED_CONVERSIONS_FOR_LEADS",
        *("INVALID_USER_IDENTIFIER", "UNSUPPORTED_USER_IDENTIFIER"),
        *("CUSTOM_VARIABLE_NOT_ENABLED", "CUSTOM_VARIABLE_VALUE_CONTAINS_PII"),
        *("ORDER_ID_CONTAINS_PII", "CONVERSION_NOT_COMPLIANT_WITH_ATT_POLICY"),
        *("INVALID_JOB_ID", "TOO_MANY_CONVERSIONS_IN_REQUEST"),
        "CONVERSION_TRACKING_NOT_ENABLED_AT_IMPRESSION_TIME",
        "ONE_PER_CLICK_CONVERSION_ACTION_NOT_PERMITTED_WITH_BRAID",
    }
)
# The token (or the OAuth client) is refused; the token may not act on this customer.
AUTHENTICATION: Final = frozenset({"authenticationError"})
AUTHORIZATION: Final = frozenset({"authorizationError"})
TRANSIENT_CATEGORIES: Final = frozenset({"internalError", "quotaError"})
TRANSIENT_STATUSES: Final = frozenset({"INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED"})


@dataclass(frozen=True)
class AdsError:
    """One GoogleAdsError: its code's category and name, message, and the conversion it names."""

    category: str
    code: str
    message: str = ""
    # Index of the conversion in the request, when the error names one.
    row: int | None = None

    @property
    def text(self) -> str:
        return f"{self.code}: {self.message}" if self.message else self.code


@dataclass(frozen=True)
class RpcStatus:
    """A `google.rpc.Status` as JSON: Google's whole-request error, or `partialFailureError`."""

    code: int | None
    status: str
    message: str
    errors: tuple[AdsError, ...] = ()

    @property
    def categories(self) -> frozenset[str]:
        return frozenset(error.category for error in self.errors)

    @property
    def text(self) -> str:
        texts = [error.text for error in self.errors] or [self.message]
        return "; ".join(text for text in texts if text)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _row(location: Any) -> int | None:
    """The conversion an error's location names, if it names one."""
    elements = location.get("fieldPathElements") if isinstance(location, Mapping) else None
    for element in elements if isinstance(elements, list) else []:
        if isinstance(element, Mapping) and element.get("fieldName") == "conversions":
            index = element.get("index")
            if isinstance(index, int) and not isinstance(index, bool) and index >= 0:
                return index
    return None


def _ads_error(raw: Any) -> AdsError | None:
    if not isinstance(raw, Mapping):
        return None
    error_code = raw.get("errorCode")
    if not isinstance(error_code, Mapping) or not error_code:
        return None
    category, code = next(iter(error_code.items()))
    if not isinstance(category, str) or not isinstance(code, str):
        return None
    return AdsError(category, code, _text(raw.get("message")), _row(raw.get("location")))


def parse_status(document: Any) -> RpcStatus | None:
    """A `google.rpc.Status` JSON object (with its GoogleAdsFailure details), or None."""
    if not isinstance(document, Mapping):
        return None
    code = document.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    errors: list[AdsError] = []
    details = document.get("details")
    for detail in details if isinstance(details, list) else []:
        raw_errors = detail.get("errors") if isinstance(detail, Mapping) else None
        for raw in raw_errors if isinstance(raw_errors, list) else []:
            error = _ads_error(raw)
            if error is not None:
                errors.append(error)
    return RpcStatus(
        code, _text(document.get("status")), _text(document.get("message")), tuple(errors)
    )


def parse_error_body(body: bytes) -> RpcStatus | None:
    """Google's error answer `{"error": {status}}`, or None when the body is not one."""
    document = parse_json(body)
    error = document.get("error") if isinstance(document, Mapping) else None
    status = parse_status(error)
    # Google's errors carry a status name or details; a bare {"code", "message"} is not enough
    # to tell Google from a gateway speaking the same shape.
    if status is None or not (status.status or status.errors):
        return None
    return status


# -- one conversion ------------------------------------------------------------------------


def _is_duplicate(error: AdsError) -> bool:
    return error.code in DUPLICATE_CODES or error.code.endswith("_ALREADY_EXISTS")


ROW_RULES: Final[tuple[Rule[AdsError], ...]] = (
    Rule("already taken by an earlier attempt", _is_duplicate, SUCCEEDED),
    Rule(
        "taken; no click matched the customer data (Google: safe to ignore)",
        lambda e: e.code == NO_CLICK_MATCHED,
        SUCCEEDED,
    ),
    Rule(
        "too recent: Google takes it 6 hours after the click or the action's creation",
        lambda e: e.code in RETRY_LATER_CODES,
        EXTERNAL,
    ),
    Rule("temporary platform error", lambda e: e.category in TRANSIENT_CATEGORIES, EXTERNAL),
    Rule("refused by the platform", always, REJECTED),
)
_GRAVITY: Final = (REJECTED, EXTERNAL, SUCCEEDED)


def classify_row(errors: Sequence[AdsError]) -> Classification:
    """One conversion's outcome from the errors that name it (none: taken)."""
    if not errors:
        return Classification(SUCCEEDED, rule="accepted")
    rules = [first_rule(ROW_RULES, error) for error in errors]
    gravest = min(rules, key=lambda rule: _GRAVITY.index(rule.kind))
    message = "; ".join(error.text for error in errors)
    return Classification(gravest.kind, message=message[:MAX_MESSAGE_CHARS], rule=gravest.name)


def _not_named(status: RpcStatus) -> Classification:
    return Classification(
        EXTERNAL,
        message=(
            "Google reported errors without saying which conversion they are about; this one"
            f" goes again: {status.text}"
        )[:MAX_MESSAGE_CHARS],
        rule="errors not naming a conversion",
    )


def classify_accepted(body: bytes, count: int) -> list[Classification]:
    """The outcomes of the `count` conversions of a request Google answered with HTTP 2xx."""
    document = parse_json(body)
    if not isinstance(document, Mapping):
        unexpected = classification(_NOT_GOOGLE, Answer(200, None))
        return [unexpected] * count
    failure = parse_status(document.get("partialFailureError"))
    errors = failure.errors if failure is not None else ()
    by_row: dict[int, list[AdsError]] = {}
    unnamed = [error for error in errors if error.row is None or error.row >= count]
    for error in errors:
        if error.row is not None and error.row < count:
            by_row.setdefault(error.row, []).append(error)
    outcomes = []
    for row in range(count):
        if row in by_row:
            outcomes.append(classify_row(by_row[row]))
        elif unnamed and failure is not None:
            outcomes.append(_not_named(RpcStatus(None, "", "", tuple(unnamed))))
        else:
            outcomes.append(Classification(SUCCEEDED, rule="accepted"))
    return outcomes


# -- a whole request -------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer(HttpAnswer):
    """What a request rule looks at: the HTTP status and Google's error, if any."""

    error: RpcStatus | None = None

    def has(self, categories: frozenset[str]) -> bool:
        return self.error is not None and bool(self.error.categories & categories)

    @property
    def rpc_status(self) -> str:
        return self.error.status if self.error is not None else ""

    @property
    def error_text(self) -> str:
        return self.error.text if self.error is not None else ""


def _token_refused(answer: Answer) -> bool:
    return answer.has(AUTHENTICATION) or (answer.error is not None and answer.status == 401)


def _not_permitted(answer: Answer) -> bool:
    return answer.has(AUTHORIZATION) or (answer.error is not None and answer.status == 403)


_BY_ROW: Final[Rule[Answer]] = Rule(
    "refused for some of its conversions",
    lambda a: a.error is not None and any(e.row is not None for e in a.error.errors),
    REJECTED,
)
_NOT_GOOGLE: Final = not_the_platform(lowest=200)
REQUEST_RULES: Final[tuple[Rule[Answer], ...]] = (
    *access_refused(
        "credentials or permissions refused",
        token=_token_refused,
        permission=_not_permitted,
    ),
    Rule(
        "quota exhausted",
        lambda a: (
            a.has(frozenset({"quotaError"}))
            or a.rpc_status == "RESOURCE_EXHAUSTED"
            or a.status == 429
        ),
        EXTERNAL,
    ),
    Rule(
        "temporary platform error",
        lambda a: (
            a.status_in(500, 599)
            or a.has(frozenset({"internalError"}))
            or a.rpc_status in TRANSIENT_STATUSES
        ),
        EXTERNAL,
    ),
    Rule("timed out (HTTP 408)", status_is(408), EXTERNAL),
    Rule(
        "the destination's account headers are wrong (customer_id, login_customer_id)",
        lambda a: a.has(frozenset({"headerError"})),
        EXTERNAL,
        needs_action=True,
        action="configuration",
    ),
    too_large(),
    _BY_ROW,
    Rule(
        "refused as a whole: check customer_id, api_version and the conversion actions",
        lambda a: a.error is not None,
        EXTERNAL,
        needs_action=True,
        action="configuration",
    ),
    # A redirect, or a 4xx without Google's error body, is not Google talking: a proxy, a
    # wrong host. It says nothing about the conversions.
    _NOT_GOOGLE,
    anything_else(),
)


def classify_request(status: int, body: bytes) -> Rule[Answer]:
    """The rule that decides a refused request (an HTTP status outside 2xx)."""
    return first_rule(REQUEST_RULES, Answer(status, parse_error_body(body)))


def classify_refused(status: int, body: bytes, count: int) -> list[Classification]:
    """The outcomes of the `count` conversions of a request Google did not take as a whole."""
    answer = Answer(status, parse_error_body(body))
    rule = first_rule(REQUEST_RULES, answer)
    if rule is not _BY_ROW or answer.error is None:
        return [classification(rule, answer)] * count
    by_row: dict[int, list[AdsError]] = {}
    for error in answer.error.errors:
        if error.row is not None:
            by_row.setdefault(error.row, []).append(error)
    not_looked_at = Classification(
        EXTERNAL,
        message=(
            "Google refused the request for other conversions in it and did not look at this"
            " one; it goes again"
        ),
        rule="not looked at",
    )
    outcomes = []
    for row in range(count):
        errors = by_row.get(row)
        verdict = classify_row(errors) if errors else not_looked_at
        # Nothing of a refused request was recorded: a conversion goes again unless Google
        # says an earlier attempt has it.
        if verdict.kind is SUCCEEDED and not (errors and any(map(_is_duplicate, errors))):
            verdict = dataclasses.replace(verdict, kind=EXTERNAL)
        outcomes.append(verdict)
    return outcomes


def classify(status: int, body: bytes, count: int) -> list[Classification]:
    """The outcomes of a request of `count` conversions from Google's answer; total."""
    if 200 <= status <= 299:
        return classify_accepted(body, count)
    return classify_refused(status, body, count)
