"""Snapchat Conversions API v3: batches of web and offline events for one Snap pixel.

`POST {base_url}/v3/{pixel_id}/events?access_token=<token>` (`/events/validate` when the
destination only validates). Snapchat's documentation and its official SDK pass the token
as that query parameter only, so Tenaz does too: the URL with the token stays inside this
module (`url` and `repr` show it without), the token is scrubbed from anything returned, and
httpx's request log lines show no query (jobs/platforms/url_secrets.py).

Snapchat answers a request as a whole (`{"status": "VALID" | "INVALID", "reason": ...}` in its
SDK's schema), and documents no error codes. So a refused request of several events is split
to isolate the event Snapchat did not take, as for Meta [unverified: whether Snapchat took
the valid events of a refused request; resending them is safe, Snapchat deduplicates by
event_id]. Failures are translated here into outcome kinds (jobs/platforms/base.py):

    no answer, timeout, network error          -> EXTERNAL_PROBLEM
    HTTP 5xx, 408, 429                         -> EXTERNAL_PROBLEM
    HTTP 401, 403                              -> EXTERNAL_PROBLEM, needs_action (the token)
    HTTP 2xx                                   -> SUCCEEDED (unless its status is INVALID)
    HTTP 2xx or 4xx with status INVALID        -> REJECTED (the request; split to isolate)
    404/405/410, 413, other 3xx/4xx            -> EXTERNAL_PROBLEM, needs_action

Snapchat refuses a PURCHASE without value and currency; such an event is refused here, alone,
before it can make Snapchat refuse its neighbours.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final
from urllib.parse import quote, urlencode

import httpx

from jobs.canonical import CanonicalEvent
from jobs.platforms.base import AttemptScope, Classification, Outcome, OutcomeKind, OutgoingEvent
from jobs.platforms.http_connector import UrlConnector, parse_json
from jobs.platforms.json_events import (
    Encoded,
    decimal_text,
    hashed_lists,
    json_body,
    number,
    send_in_chunks,
)
from jobs.platforms.registry import ConnectorContext, Platform, SandboxRecipe, Setting
from jobs.platforms.rules import (
    REJECTED,
    HttpAnswer,
    Naming,
    Rule,
    access_refused,
    anything_else,
    decide,
    no_answer,
    no_such_endpoint,
    not_the_platform,
    server_error,
    status_is,
    timed_out_or_throttled,
    too_large,
)
from jobs.platforms.url_secrets import hide_queries_in_http_logs

DEFAULT_BASE_URL: Final = "https://tr.snapchat.com"
# From an API catalog's schema, not from Snapchat [unverified]; a request Snapchat finds too
# big is refused as a whole and so split like any refused request.
MAX_BATCH_SIZE: Final = 2000
# Snapchat: events at most 37 days old are eligible for reporting.
MAX_EVENT_AGE: Final = dt.timedelta(days=37)

PURCHASE: Final = "PURCHASE"
DEFAULT_EVENT_NAMES: Final[Mapping[str, str]] = {
    "Purchase": PURCHASE,
    "AddToCart": "ADD_CART",
    "AddToWishlist": "ADD_TO_WISHLIST",
    "AddPaymentInfo": "ADD_BILLING",
    "InitiateCheckout": "START_CHECKOUT",
    "CompleteRegistration": "SIGN_UP",
    # Snapchat has no lead event; a sign-up is the nearest (a person left their details).
    "Lead": "SIGN_UP",
    "ViewContent": "VIEW_CONTENT",
    "PageView": "PAGE_VIEW",
    "Search": "SEARCH",
    "Subscribe": "SUBSCRIBE",
    "StartTrial": "START_TRIAL",
    "Schedule": "RESERVE",
}

# user_data keys Snapchat takes as lists of SHA-256 hashes (its documentation names no date of
# birth, so `db` is not sent).
HASHED_KEYS: Final = ("em", "ph", "fn", "ln", "ge", "ct", "st", "zp", "country", "external_id")
# Tenaz identifiers Snapchat takes as they are, under the same names.
CLEAR_KEYS: Final = ("client_ip_address", "client_user_agent", "sc_click_id", "sc_cookie1")
# Snapchat's action_source for Tenaz's (Meta's vocabulary): web, else offline; app events
# are not taken (see `eligible`).
WEB: Final = "WEB"
OFFLINE: Final = "OFFLINE"


def eligible(event: CanonicalEvent, _settings: Mapping[str, Any]) -> str | None:
    """Why Snapchat cannot take `event` (None: it can)."""
    hashed, ids = event.hashed("meta"), event.identifiers
    if not (
        "em" in hashed
        or "ph" in hashed
        or (ids.get("client_ip_address") and ids.get("client_user_agent"))
    ):
        return (
            "Snapchat needs the customer's email or phone, or both the IP address and the user"
            " agent (client_ip_address and client_user_agent)"
        )
    if event.action_source == "app":
        return (
            "Snapchat takes app events under a Snap App ID with the app's data (app_data);"
            " this destination sends web and offline events to a pixel"
        )
    if event.action_source == "website" and not event.event_source_url:
        return "Snapchat needs event_source_url for website events"
    return None


def _contents(event: CanonicalEvent) -> list[dict[str, Any]]:
    contents = []
    for item in event.contents:
        entry: dict[str, Any] = {"id": str(item.get("id", ""))}
        for key in ("quantity", "item_price"):
            amount = number(item.get(key))
            if amount is not None:
                entry[key] = decimal_text(amount)
        contents.append(entry)
    return contents


def custom_data(event: CanonicalEvent) -> dict[str, Any]:
    """Snapchat's custom_data: Tenaz's fields, contents with text amounts (as Snapchat's
    schema has them), and the caller's own keys as they came (Snapchat documents many)."""
    data: dict[str, Any] = dict(event.extra)
    if event.value is not None:
        data["value"] = event.value
    if event.currency:
        data["currency"] = event.currency
    if event.order_id:
        data["order_id"] = event.order_id
    if event.content_type:
        data["content_type"] = event.content_type
    content_ids = event.custom_data.get("content_ids")
    if isinstance(content_ids, list) and content_ids:
        data["content_ids"] = [str(item) for item in content_ids]
    contents = _contents(event)
    if contents:
        data["contents"] = contents
    return data


def wire_event(payload: Mapping[str, Any], event_name: Callable[[str], str]) -> dict[str, Any]:
    """A stored event as Snapchat's server event, named for the destination."""
    event = CanonicalEvent(payload)
    ids = event.identifiers
    user_data: dict[str, Any] = hashed_lists(event.hashed("meta"), HASHED_KEYS)
    user_data.update({key: str(ids[key]) for key in CLEAR_KEYS if ids.get(key)})
    wire: dict[str, Any] = {
        "event_name": event_name(event.event_name),
        "event_time": event.event_time,
        "event_id": event.event_id,
        "action_source": WEB if event.action_source == "website" else OFFLINE,
        "user_data": user_data,
    }
    if event.event_source_url:
        wire["event_source_url"] = event.event_source_url
    data = custom_data(event)
    if data:
        wire["custom_data"] = data
    return wire


def refusal(wire: Mapping[str, Any]) -> str | None:
    """What Snapchat refuses for sure in an event Tenaz took, before it refuses the request."""
    if wire["event_name"] == PURCHASE:
        custom = wire.get("custom_data", {})
        if custom.get("value") is None or not custom.get("currency"):
            return "Snapchat refuses PURCHASE events without value and currency"
    return None


# -- Snapchat's answers -----------------------------------------------------------------------

VALID: Final = "VALID"
INVALID: Final = "INVALID"


@dataclass(frozen=True)
class Answer(HttpAnswer):
    """Snapchat's answer: its `status` (VALID/INVALID) when the body is Snapchat's."""

    verdict: str | None = None
    reason: str = ""
    codes: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()

    NAMES_RULE: ClassVar[Naming] = "needing_action"

    @property
    def invalid(self) -> bool:
        return self.verdict == INVALID

    @property
    def error_text(self) -> str:
        return ": ".join(part for part in (self.reason, "; ".join(self.messages)) if part)

    @property
    def error_code(self) -> int | None:
        """Snapchat's first numeric code, if any."""
        return next((int(c) for c in self.codes if c.isascii() and c.isdigit()), None)


def _texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(v).strip() for v in value if isinstance(v, str | int) and str(v).strip())


def read_answer(status: int | None, body: bytes) -> Answer:
    """What Snapchat's answer says (never raises). Only a JSON object whose `status` is VALID
    or INVALID is Snapchat talking."""
    document = parse_json(body) if status is not None else None
    if not isinstance(document, dict) or document.get("status") not in (VALID, INVALID):
        return Answer(status)
    errors = document.get("errors")
    errors = errors if isinstance(errors, dict) else {}
    reason = document.get("reason")
    return Answer(
        status,
        str(document["status"]),
        reason.strip() if isinstance(reason, str) else "",
        _texts(errors.get("codes")),
        _texts(errors.get("error_msgs")),
    )


CLASSIFICATION_RULES: Final[tuple[Rule[Answer], ...]] = (
    Rule("accepted", lambda a: a.status_in(200, 299) and not a.invalid, OutcomeKind.SUCCEEDED),
    Rule("refused by the platform", lambda a: a.status_in(200, 299), REJECTED),
    no_answer(),
    server_error(),
    timed_out_or_throttled(),
    *access_refused(
        "the access token was refused: check it, and that it belongs to the pixel's organisation",
        token=status_is(401),
        permission=status_is(403),
    ),
    no_such_endpoint("the base URL and the pixel id"),
    too_large(),
    Rule("refused by the platform", lambda a: a.status_in(400, 499) and a.invalid, REJECTED),
    not_the_platform(),
    anything_else(),
)


def classify(http_status: int | None, body: bytes) -> Classification:
    """What Snapchat's answer means for the events of the request; total, never raises."""
    return decide(CLASSIFICATION_RULES, read_answer(http_status, body))


# -- the connector ----------------------------------------------------------------------------


class SnapchatConnector(UrlConnector):
    """Sends batches to one Snap pixel through the Conversions API v3."""

    max_batch_size: int = MAX_BATCH_SIZE

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        pixel_id: str,
        access_token: str,
        validate_only: bool = False,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        event_names: Mapping[str, str] | None = None,
    ) -> None:
        # The id quoted so that "/" or "?" in it cannot change the request's path.
        path = f"/v3/{quote(pixel_id, safe='')}/events" + ("/validate" if validate_only else "")
        super().__init__(
            client,
            base_url.rstrip("/") + path,
            secrets=[access_token],
            timeout=timeout,
            event_names=event_names,
        )
        self._url_with_token = f"{self._url}?{urlencode({'access_token': access_token})}"
        # httpx logs the URLs it requests, and this one holds the token.
        hide_queries_in_http_logs()

    def _wire(self, event: OutgoingEvent) -> dict[str, Any] | Classification:
        """The event in Snapchat's format, or why Snapchat would refuse it."""
        problem = eligible(CanonicalEvent(event.payload), {})
        wire = wire_event(event.payload, self.event_name)
        problem = problem or refusal(wire)
        return wire if problem is None else Classification(REJECTED, message=problem)

    async def send(
        self, batch: Sequence[OutgoingEvent], scope: AttemptScope | None = None
    ) -> list[Outcome]:
        return await send_in_chunks(
            batch,
            scope,
            prepare=self._wire,
            send_request=self._send_request,
            max_batch_size=self.max_batch_size,
        )

    async def _send_request(self, batch: Sequence[Encoded]) -> list[Outcome]:
        """One POST for `batch`; every event gets the outcome of the whole request."""
        return await self.post(
            self._url_with_token,
            batch,
            json_body(b"data", batch),
            {"content-type": "application/json"},
            lambda reply: [classify(reply.status, reply.body)] * len(batch),
        )


# -- the platform, as the registry knows it -----------------------------------------------------

# Snap pixel ids are UUIDs.
_PIXEL_ID: Final = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII | re.IGNORECASE
)


def _build(context: ConnectorContext) -> SnapchatConnector:
    settings = context.settings
    return SnapchatConnector(
        context.client,
        pixel_id=str(settings["pixel_id"]),
        access_token=context.secrets["access_token"],
        validate_only=bool(settings.get("validate_only")),
        base_url=str(settings.get("base_url") or DEFAULT_BASE_URL),
        timeout=context.timeout,
        event_names=context.event_names,
    )


PLATFORM: Final = Platform(
    kind="snapchat",
    display_name="Snapchat",
    settings=(
        Setting(
            "pixel_id",
            "the Snap pixel id (Events Manager), a UUID",
            required=True,
            locates_secrets=True,
            pattern=_PIXEL_ID,
            pattern_help="required: the pixel's id, a UUID such as"
            " 1ec32188-754e-4be2-8e55-c949a984a39f",
        ),
        Setting(
            "access_token",
            "the Conversions API token (Business Manager > Business Details)",
            required=True,
            secret=True,
        ),
        Setting(
            "validate_only",
            "send to the validation endpoint: Snapchat checks the events and records none",
            type="flag",
        ),
        Setting(
            "base_url",
            "base URL of the Conversions API",
            locates_secrets=True,
            official_urls=(DEFAULT_BASE_URL,),
        ),
    ),
    max_batch_size=MAX_BATCH_SIZE,
    max_event_age=MAX_EVENT_AGE,
    build=_build,
    classification_tables=(CLASSIFICATION_RULES,),
    hash_family="meta",
    default_event_names=DEFAULT_EVENT_NAMES,
    unverified=(
        "the batch size of 2,000 events, Snapchat's answers to errors (it documents no error"
        " codes) and whether it refuses a whole request for one bad event"
    ),
    eligible=eligible,
    sandbox=SandboxRecipe(
        fake="jobs.platforms.fake_snapchat:FakeSnapchat",
        settings={"pixel_id": "00000000-0000-4000-8000-000000000000"},
        secrets={"access_token": "sandbox-token"},
    ),
)
