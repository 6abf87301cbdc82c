"""Pinterest Conversions API (API v5): batches of up to 1,000 events, answered event by event.

`POST {base_url}/v5/ad_accounts/{ad_account_id}/events` with `Authorization: Bearer <token>`
(the conversion access token from Ads Manager), `?test=true` in test mode. Pinterest answers
for each event in request order (`events[].status` processed/failed), so one bad event fails
alone and its neighbours go through: a batch is split only when Pinterest refuses the request
as a whole (HTTP 400, or 422 without saying which events), which Tenaz's own checks make rare.

Failures are translated here into outcome kinds (jobs/platforms/base.py):

    no answer, timeout, network error         -> EXTERNAL_PROBLEM (http_connector.transport_problem)
    HTTP 5xx (503/4197: endpoint ramped down) -> EXTERNAL_PROBLEM
    HTTP 429 (code 8: rate limit), 408        -> EXTERNAL_PROBLEM
    HTTP 401 (code 2), 403 (code 29)          -> EXTERNAL_PROBLEM, needs_action (the token)
    HTTP 2xx/422 with events[]                -> per event: processed -> SUCCEEDED,
                                                 failed -> REJECTED with Pinterest's message
    HTTP 400 (code 4196), 422 without events  -> REJECTED (the request; split to isolate)
    404/405/410, 413, other 3xx/4xx            -> EXTERNAL_PROBLEM, needs_action

An answer without Pinterest's error body (`{"code": int, "message": str}`) is not Pinterest
talking (a proxy, a firewall) and never REJECTED. The token travels in the Authorization
header only and is scrubbed from anything this module returns.

The wire format is built from the stored event (jobs/canonical.py) with the Meta family's
hashes (Pinterest documents the same keys, as lists) and only the fields Pinterest's schema
has: its OpenAPI description refuses unknown properties (`additionalProperties: false`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Final
from urllib.parse import quote

import httpx

from jobs.canonical import CanonicalEvent
from jobs.egress import Reply
from jobs.platforms.base import AttemptScope, Classification, Outcome, OutcomeKind, OutgoingEvent
from jobs.platforms.http_connector import MAX_MESSAGE_CHARS, UrlConnector, parse_json
from jobs.platforms.json_events import (
    Encoded,
    RefusedWhole,
    decimal_text,
    hashed_lists,
    json_body,
    number,
    send_in_chunks,
)
from jobs.platforms.registry import ConnectorContext, Platform, SandboxRecipe, Setting
from jobs.platforms.rules import (
    EXTERNAL,
    REJECTED,
    HttpAnswer,
    Naming,
    Rule,
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

DEFAULT_BASE_URL: Final = "https://api.pinterest.com"
MAX_BATCH_SIZE: Final = 1000
# Not in Pinterest's API description [unverified]: see docs/platforms/pinterest.md.
MAX_EVENT_AGE: Final = dt.timedelta(days=7)
# 5,000 calls a minute per ad account; a call carries at least one event, so this many events
# a second keep within it whatever the batch size.
RATE_LIMIT_EVENTS_PER_SECOND: Final = 5000 // 60

# Pinterest's event names (the API description's enum, plus `contact` and `app_open`, which
# its conversion guide lists as API names). Any other name goes as `custom`.
EVENT_NAMES: Final = frozenset(
    {
        *("add_payment_info", "add_to_cart", "add_to_wishlist", "app_install", "app_open"),
        *("checkout", "contact", "custom", "initiate_checkout", "lead", "page_visit"),
        *("search", "signup", "subscribe", "view_category", "view_content", "watch_video"),
    }
)
CUSTOM_EVENT: Final = "custom"
DEFAULT_EVENT_NAMES: Final[Mapping[str, str]] = {
    "Purchase": "checkout",
    "AddToCart": "add_to_cart",
    "AddToWishlist": "add_to_wishlist",
    "AddPaymentInfo": "add_payment_info",
    "InitiateCheckout": "initiate_checkout",
    "Lead": "lead",
    "CompleteRegistration": "signup",
    # Product pages: the event Pinterest's catalog features read content_ids from.
    "ViewContent": "page_visit",
    "PageView": "page_visit",
    "Search": "search",
    "Subscribe": "subscribe",
    "Contact": "contact",
}

# user_data keys Pinterest takes as lists of SHA-256 hashes; the Meta family has them all.
HASHED_KEYS: Final = (
    *("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id"),
)
# Tenaz identifier -> Pinterest's user_data key, sent as it is.
CLEAR_KEYS: Final[Mapping[str, str]] = {
    "client_ip_address": "client_ip_address",
    "client_user_agent": "client_user_agent",
    "epik": "click_id",
}
# custom_data keys a caller may add (Tenaz's `extra`) that Pinterest's schema has, by type.
_EXTRA_TEXT: Final = frozenset(
    {"content_brand", "content_category", "content_name", "search_string", "opt_out_type"}
)

_ANDROID: Final = re.compile(r"android", re.IGNORECASE)
_IOS: Final = re.compile(r"iphone|ipad|ipod|\bios\b|cfnetwork|darwin", re.IGNORECASE)


def app_platform(user_agent: str) -> str | None:
    """Pinterest's action_source for an app event with this user agent, if it tells."""
    if _ANDROID.search(user_agent):
        return "app_android"
    if _IOS.search(user_agent):
        return "app_ios"
    return None


def action_source(event: CanonicalEvent) -> str | None:
    """Pinterest's action_source for Tenaz's (Meta's vocabulary): what happened on a website
    is `web`, in an app `app_android`/`app_ios` (None when the user agent does not say
    which), anything else (a store, a call, a chat, email) `offline`."""
    source = event.action_source
    if source == "website":
        return "web"
    if source == "app":
        return app_platform(str(event.identifiers.get("client_user_agent", "")))
    return "offline"


def eligible(event: CanonicalEvent, _settings: Mapping[str, Any]) -> str | None:
    """Why Pinterest cannot take `event` (None: it can)."""
    ids = event.identifiers
    if "em" not in event.hashed("meta") and not (
        ids.get("client_ip_address") and ids.get("client_user_agent")
    ):
        return (
            "Pinterest needs the customer's email, or both the IP address and the user agent"
            " (client_ip_address and client_user_agent)"
        )
    if action_source(event) is None:
        return (
            "Pinterest takes app events as Android or iOS ones, and the event's"
            " client_user_agent does not say which"
        )
    return None


def _contents(event: CanonicalEvent) -> list[dict[str, Any]]:
    contents = []
    for item in event.contents:
        entry: dict[str, Any] = {"id": str(item.get("id", ""))}
        quantity = number(item.get("quantity"))
        if quantity is not None:
            entry["quantity"] = int(quantity)
        price = number(item.get("item_price"))
        if price is not None:
            entry["item_price"] = decimal_text(price)
        contents.append(entry)
    return contents


def custom_data(event: CanonicalEvent) -> dict[str, Any]:
    """Pinterest's custom_data: amounts as decimal text, only the keys its schema has."""
    data: dict[str, Any] = {}
    if event.value is not None:
        data["value"] = decimal_text(event.value)
    if event.currency:
        data["currency"] = event.currency
    if event.order_id:
        data["order_id"] = event.order_id
    content_ids = event.custom_data.get("content_ids")
    if isinstance(content_ids, list) and content_ids:
        data["content_ids"] = [str(item) for item in content_ids]
    contents = _contents(event)
    if contents:
        data["contents"] = contents
    extra = event.extra
    data.update({k: v for k, v in extra.items() if k in _EXTRA_TEXT and isinstance(v, str)})
    num_items = number(extra.get("num_items"))
    if num_items is not None:
        data["num_items"] = int(num_items)
    elif any("quantity" in item for item in contents):
        data["num_items"] = sum(int(item.get("quantity", 0)) for item in contents)
    predicted_ltv = extra.get("predicted_ltv")
    ltv_number = number(predicted_ltv)
    if isinstance(predicted_ltv, str):
        data["predicted_ltv"] = predicted_ltv
    elif ltv_number is not None:
        data["predicted_ltv"] = decimal_text(ltv_number)
    return data


def wire_event(payload: Mapping[str, Any], event_name: Callable[[str], str]) -> dict[str, Any]:
    """A stored event as Pinterest's conversion event; `event_name` maps Tenaz's name to the
    destination's, and a name Pinterest does not have goes as `custom`."""
    event = CanonicalEvent(payload)
    name = event_name(event.event_name)
    ids = event.identifiers
    user_data: dict[str, Any] = hashed_lists(event.hashed("meta"), HASHED_KEYS)
    user_data.update({key: str(ids[tenaz]) for tenaz, key in CLEAR_KEYS.items() if ids.get(tenaz)})
    wire: dict[str, Any] = {
        "event_name": name if name in EVENT_NAMES else CUSTOM_EVENT,
        "action_source": action_source(event),
        "event_time": event.event_time,
        "event_id": event.event_id,
        "user_data": user_data,
    }
    if event.event_source_url:
        wire["event_source_url"] = event.event_source_url
    data = custom_data(event)
    if data:
        wire["custom_data"] = data
    return wire


# -- Pinterest's answers ----------------------------------------------------------------------


@dataclass(frozen=True)
class PinterestError:
    """Pinterest's error body: `{"code": int, "message": str}` (DetailedError adds details)."""

    code: int
    message: str


@dataclass(frozen=True)
class EventStatus:
    """One entry of `events[]`: Pinterest's verdict on the event at the same position."""

    status: str
    error_message: str = ""
    warning_message: str = ""


@dataclass(frozen=True)
class Answer(HttpAnswer):
    error: PinterestError | None = None
    # events[], when the answer has it (request order).
    events: tuple[EventStatus, ...] | None = None
    num_events_received: int | None = None
    num_events_processed: int | None = None

    NAMES_RULE: ClassVar[Naming] = "needing_action"

    @property
    def error_text(self) -> str:
        return self.error.message if self.error is not None else ""

    @property
    def error_code(self) -> int | None:
        return self.code

    @property
    def all_processed(self) -> bool:
        """Whether the answer says every event was processed (by its counts or its list)."""
        received, processed = self.num_events_received, self.num_events_processed
        if received is not None and received == processed:
            return True
        return bool(self.events) and all(e.status == "processed" for e in self.events or ())

    @property
    def code(self) -> int | None:
        return self.error.code if self.error else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _event_statuses(value: Any) -> tuple[EventStatus, ...] | None:
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        return None
    return tuple(
        EventStatus(
            _text(e.get("status")), _text(e.get("error_message")), _text(e.get("warning_message"))
        )
        for e in value
    )


def read_answer(status: int | None, body: bytes) -> Answer:
    """What Pinterest's answer says (never raises): its error, if the body is Pinterest's, and
    the per-event statuses, at the top (200) or in a 422's `details`."""
    document = parse_json(body) if status is not None else None
    if not isinstance(document, dict):
        return Answer(status)
    error = None
    code, message = _int(document.get("code")), document.get("message")
    if code is not None and isinstance(message, str):
        error = PinterestError(code, message.strip())
    details = document.get("details")
    source = details if isinstance(details, dict) and "events" in details else document
    return Answer(
        status,
        error,
        _event_statuses(source.get("events")),
        _int(source.get("num_events_received")),
        _int(source.get("num_events_processed")),
    )


AUTHENTICATION_FAILED: Final = 401
NOT_PERMITTED: Final = 403
NOT_ALL_PROCESSED: Final = 422

# The first rule that applies decides. Answers that name each event's fate (2xx, 422 with
# events[]) are read event by event before this table is asked about the request as a whole.
CLASSIFICATION_RULES: Final[tuple[Rule[Answer], ...]] = (
    Rule("accepted", lambda a: a.status_in(200, 299) and a.all_processed, OutcomeKind.SUCCEEDED),
    # Resending is safe: Pinterest deduplicates by event_id.
    Rule(
        "accepted without saying which events were processed",
        lambda a: a.status_in(200, 299),
        EXTERNAL,
    ),
    no_answer(),
    server_error(),
    timed_out_or_throttled(),
    Rule(
        "authentication failed: check the access token",
        status_is(AUTHENTICATION_FAILED),
        EXTERNAL,
        needs_action=True,
        action="credentials",
    ),
    Rule(
        "not permitted: the token's user needs a role on the ad account",
        status_is(NOT_PERMITTED),
        EXTERNAL,
        needs_action=True,
        action="permission",
    ),
    no_such_endpoint("the base URL and the ad account id"),
    too_large(),
    Rule(
        "refused by the platform",
        lambda a: a.status in (400, NOT_ALL_PROCESSED) and a.error is not None,
        REJECTED,
    ),
    not_the_platform(),
    anything_else(),
)


def classify(http_status: int | None, body: bytes) -> Classification:
    """What Pinterest's answer means for the request as a whole; total, never raises."""
    return classify_answer(read_answer(http_status, body))


def classify_answer(answer: Answer) -> Classification:
    return decide(CLASSIFICATION_RULES, answer)


def event_classification(status: EventStatus) -> Classification:
    """Pinterest's verdict on one event of an answer that names each event's fate."""
    if status.status == "processed":
        return Classification(OutcomeKind.SUCCEEDED, message=status.warning_message)
    if status.status == "failed":
        message = status.error_message or "failed: Pinterest gave no reason"
        return Classification(REJECTED, message=message[:MAX_MESSAGE_CHARS])
    return Classification(
        EXTERNAL, message=f"Pinterest's answer has an unknown event status {status.status!r}"
    )


def per_event(answer: Answer, count: int) -> list[Classification] | None:
    """Each event's classification, when the answer names the fate of all `count` events."""
    if answer.events is None or len(answer.events) != count:
        return None
    if not (answer.status_in(200, 299) or answer.status == NOT_ALL_PROCESSED):
        return None
    return [event_classification(status) for status in answer.events]


# -- the connector ----------------------------------------------------------------------------


class PinterestConnector(UrlConnector):
    """Sends batches to one Pinterest ad account through the Conversions API."""

    max_batch_size: int = MAX_BATCH_SIZE

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        ad_account_id: str,
        access_token: str,
        test: bool = False,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        event_names: Mapping[str, str] | None = None,
    ) -> None:
        # The id quoted so that "/" or "?" in it cannot change the request's path.
        path = f"/v5/ad_accounts/{quote(ad_account_id, safe='')}/events"
        super().__init__(
            client,
            base_url.rstrip("/") + path + ("?test=true" if test else ""),
            secrets=[access_token],
            timeout=timeout,
            event_names=event_names,
        )
        self._headers = {
            "content-type": "application/json",
            "authorization": f"Bearer {access_token}",
        }

    def _wire(self, event: OutgoingEvent) -> dict[str, Any] | Classification:
        """The event in Pinterest's format, or, for one Pinterest cannot take (checked at
        submission, so only an event stored before would be), why."""
        problem = eligible(CanonicalEvent(event.payload), {})
        if problem is not None:
            return Classification(REJECTED, message=problem)
        return wire_event(event.payload, self.event_name)

    async def send(
        self, batch: Sequence[OutgoingEvent], scope: AttemptScope | None = None
    ) -> list[Outcome]:
        # Requests Pinterest refused as a whole (not event by event) are split to isolate
        # the event it did not take.
        refused = RefusedWhole()
        return await send_in_chunks(
            batch,
            scope,
            prepare=self._wire,
            send_request=partial(self._send_request, refused),
            max_batch_size=self.max_batch_size,
            split_refused=refused,
        )

    async def _send_request(self, refused: RefusedWhole, batch: Sequence[Encoded]) -> list[Outcome]:
        """One POST for `batch`; each event's outcome, noting in `refused` the events of a
        request Pinterest refused as a whole."""
        refused.sending(batch)

        def verdicts(reply: Reply) -> list[Classification]:
            answer = read_answer(reply.status, reply.body)
            each = per_event(answer, len(batch))
            if each is not None:
                return each
            verdict = classify_answer(answer)
            if verdict.kind is REJECTED:
                refused.refused(batch)
            return [verdict] * len(batch)

        return await self.post(self._url, batch, json_body(b"data", batch), self._headers, verdicts)


# -- the platform, as the registry knows it -----------------------------------------------------

# Pinterest's own pattern for ad account ids; re.ASCII: \d alone matches every script's digits.
_AD_ACCOUNT_ID: Final = re.compile(r"\d{1,18}", re.ASCII)


def _build(context: ConnectorContext) -> PinterestConnector:
    settings = context.settings
    return PinterestConnector(
        context.client,
        ad_account_id=str(settings["ad_account_id"]),
        access_token=context.secrets["access_token"],
        test=bool(settings.get("test")),
        base_url=str(settings.get("base_url") or DEFAULT_BASE_URL),
        timeout=context.timeout,
        event_names=context.event_names,
    )


PLATFORM: Final = Platform(
    kind="pinterest",
    display_name="Pinterest",
    settings=(
        Setting(
            "ad_account_id",
            "the ad account id (Ads Manager, next to the account name)",
            required=True,
            locates_secrets=True,
            pattern=_AD_ACCOUNT_ID,
            pattern_help="required: the ad account's digits (at most 18)",
        ),
        Setting(
            "access_token",
            "the conversion access token (Ads Manager > Conversions)",
            required=True,
            secret=True,
        ),
        Setting(
            "test",
            "send with ?test=true: Pinterest answers as usual and records nothing",
            type="flag",
        ),
        Setting(
            "base_url",
            "base URL of the Pinterest API",
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
    default_rate_limit=float(RATE_LIMIT_EVENTS_PER_SECOND),
    unverified=(
        "the 7-day deadline (Pinterest documents no maximum event age) and the shape of"
        " HTTP 422 answers"
    ),
    eligible=eligible,
    sandbox=SandboxRecipe(
        fake="jobs.platforms.fake_pinterest:FakePinterest",
        settings={"ad_account_id": "549755885175"},
        secrets={"access_token": "pina_sandbox-token"},
    ),
)
