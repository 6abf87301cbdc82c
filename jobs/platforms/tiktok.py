"""TikTok Events API 2.0 connector: one POST per batch and event source, TikTok's answer codes
mapped to outcomes.

TikTok answers almost everything with HTTP 200 and says what happened in the body's `code`
(0: taken); so success is code 0 in TikTok's own answer, never the HTTP status alone. Every
failure is translated here into the outcome kinds of `base`:

    httpx.TimeoutException, network errors  -> EXTERNAL_PROBLEM (http_connector.transport_problem)
    HTTP 5xx, 408, 429                      -> EXTERNAL_PROBLEM
    code 40100, 40132 (throttled), 50000,
      50002, 51xxx, 52xxx (TikTok's side)   -> EXTERNAL_PROBLEM
    code 40001, 40102, 40104, 40105
      (permission, token), 40006 (version)  -> EXTERNAL_PROBLEM, needs_action
    code 40000, 40002, 40061, 40062, 40063,
      41000 (the request's events refused)  -> REJECTED, split by send_in_requests
    code 20001 (PARTIAL_OK)                 -> REJECTED, split by send_in_requests
    any other code: 50000 and up            -> EXTERNAL_PROBLEM
                    below                   -> EXTERNAL_PROBLEM, needs_action
    HTTP 413                                -> split at once; alone, needs_action
    an answer that is not TikTok's (a 200
      included), HTTP 404/405/410           -> EXTERNAL_PROBLEM, needs_action

A refused request of several events is sent again in halves (batching.send_in_requests):
TikTok refuses a whole request for one bad event. PARTIAL_OK says that some events of the
request failed without saying which in any documented way, so it is split the same way; the
halves carry events TikTok already took, which is safe because TikTok deduplicates by event
and event_id within 48 hours, and the halves go out within the same attempt.

The access token travels in the `Access-Token` header only, and is scrubbed from anything
this module returns.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx

from jobs.canonical import CanonicalEvent
from jobs.digits import is_ascii_digits
from jobs.platforms.base import AttemptScope, Classification, Outcome, OutcomeKind, OutgoingEvent
from jobs.platforms.http_connector import UrlConnector, int_field, parse_json
from jobs.platforms.json_events import Encoded, json_body, send_in_chunks
from jobs.platforms.registry import ConnectorContext, Platform, SandboxRecipe, Setting
from jobs.platforms.rules import (
    EXTERNAL,
    REJECTED,
    HttpAnswer,
    Rule,
    access_refused,
    anything_else,
    decide,
    no_answer,
    no_such_endpoint,
    not_the_platform,
    server_error,
    timed_out_or_throttled,
    too_large,
)

DEFAULT_BASE_URL: Final = "https://business-api.tiktok.com"
TRACK_PATH: Final = "/open_api/v1.3/event/track/"
MAX_BATCH_SIZE: Final = 1000
# Not confirmed by TikTok: the age third parties assume (see docs/platforms/tiktok.md).
MAX_EVENT_AGE: Final = dt.timedelta(days=7)

OK_CODE: Final = 0
PARTIAL_OK_CODE: Final = 20001
THROTTLING_CODES: Final = frozenset({40100, 40132})
# System error and timeout, internal RPC and storage errors: TikTok's side, retried.
PLATFORM_SIDE_CODES: Final = frozenset({50000, 50002, *range(51000, 51100), *range(52000, 52300)})
# The event is fine; the token (invalid, expired, revoked) or its permission on the pixel is not.
TOKEN_CODES: Final = frozenset({40102, 40104, 40105})
PERMISSION_CODE: Final = 40001
VERSION_ERROR_CODE: Final = 40006
# Invalid params, param error, batch size, PII not hashed, partner name, blocked.
REFUSAL_CODES: Final = frozenset({40000, 40002, 40061, 40062, 40063, 41000})
# TikTok's codes from here on are its servers' (the SDK's table: 5xxxx, 6xxxx maintenance).
FIRST_SERVER_CODE: Final = 50000


@dataclass(frozen=True)
class Answer(HttpAnswer):
    """What a rule looks at: the HTTP status (None: no response) and, when the body is
    TikTok's answer (`{"code": 0, "message": "OK", "request_id": "...", "data": {}}`), its
    code and message; `code` None: the body is not TikTok talking."""

    code: int | None = None
    message: str = ""

    @classmethod
    def of(cls, status: int | None, body: bytes) -> Answer:
        """Never raises. An integer `code` and a text `message` are what every TikTok answer
        has; a proxy's page, an empty body or any other JSON is not TikTok's."""
        document = parse_json(body)
        if not isinstance(document, dict):
            return cls(status)
        code, message = int_field(document, "code"), document.get("message")
        if code is None or not isinstance(message, str):
            return cls(status)
        return cls(status, code, message.strip())

    @property
    def error_text(self) -> str:
        return self.message

    @property
    def error_code(self) -> int | None:
        return self.code


def _code_in(codes: frozenset[int]) -> Callable[[Answer], bool]:
    return lambda answer: answer.code in codes


# The first rule that applies decides. TikTok's codes come before most HTTP statuses because
# TikTok answers its errors with HTTP 200.
CLASSIFICATION_RULES: Final[tuple[Rule[Answer], ...]] = (
    no_answer(),
    server_error(),
    too_large(),
    Rule(
        "accepted",
        lambda r: r.status_in(200, 299) and r.code == OK_CODE,
        OutcomeKind.SUCCEEDED,
    ),
    # Some events of the request failed, TikTok does not say which: split like a refusal.
    Rule(
        "some events of the request refused (PARTIAL_OK)",
        lambda r: r.code == PARTIAL_OK_CODE,
        REJECTED,
        explain=True,
    ),
    Rule("throttled", _code_in(THROTTLING_CODES), EXTERNAL),
    Rule("temporary platform error", _code_in(PLATFORM_SIDE_CODES), EXTERNAL),
    *access_refused(
        "access token or permission on the pixel refused",
        token=_code_in(TOKEN_CODES),
        permission=lambda r: r.code == PERMISSION_CODE,
    ),
    # The events are fine; the API version in the URL is not one TikTok serves.
    Rule(
        "API version refused: check the base URL",
        lambda r: r.code == VERSION_ERROR_CODE,
        EXTERNAL,
        needs_action=True,
        action="configuration",
        explain=True,
    ),
    Rule("refused by the platform", _code_in(REFUSAL_CODES), REJECTED),
    timed_out_or_throttled(),
    Rule(
        "undocumented platform-side error",
        lambda r: r.code is not None and r.code >= FIRST_SERVER_CODE,
        EXTERNAL,
        explain=True,
    ),
    # A code TikTok does not document: nothing says the events are at fault, so they wait
    # while the operator looks (and expire at the deadline if nothing changes).
    Rule(
        "undocumented answer code: check the destination",
        lambda r: r.code is not None,
        EXTERNAL,
        needs_action=True,
        action="configuration",
        explain=True,
    ),
    no_such_endpoint(),
    # An answer without TikTok's body (a 200 included) is not TikTok talking: a proxy, a
    # captive portal, a wrong host. It says nothing about the events.
    not_the_platform(lowest=200),
    anything_else(),
)


def classify(http_status: int | None, body: bytes) -> Classification:
    """What TikTok's answer (`http_status` None: none came) means; total, never raises."""
    return decide(CLASSIFICATION_RULES, Answer.of(http_status, body))


# -- the wire format -----------------------------------------------------------------------------

# Tenaz's clear identifier -> the key of TikTok's `user` object.
_CLEAR_KEYS: Final[Mapping[str, str]] = {
    "ttclid": "ttclid",
    "ttp": "ttp",
    "client_ip_address": "ip",
    "client_user_agent": "user_agent",
}
# The hashed keys (jobs/pii.py, family "tiktok") TikTok matches a person on by themselves.
_MATCHING_HASHES: Final = ("email", "phone", "external_id")


def event_source(action_source: str, source_id: str) -> str:
    """TikTok's `event_source` for an event of `action_source` sent to `source_id`.

    The event source names the kind of ID the events go to: "web" for a pixel code, "app"
    for an app ID, "offline" and "crm" for the event sets of those names. A destination has
    one ID: a pixel code (letters and digits) takes web events only, whatever the event's
    action_source; an event set ID (all digits) takes store events as "offline" and the rest
    as "crm". App events need an app ID, which a destination does not have.
    """
    if not is_ascii_digits(source_id):
        return "web"
    return "offline" if action_source == "physical_store" else "crm"


def _content(item: Mapping[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {"content_id": str(item.get("id", ""))}
    if item.get("quantity") is not None:
        content["quantity"] = item["quantity"]
    if item.get("item_price") is not None:
        content["price"] = item["item_price"]
    return content


def _properties(event: CanonicalEvent) -> dict[str, Any]:
    """The event's custom data as TikTok's `properties`: the caller's own keys as they came,
    then Tenaz's fields under TikTok's names."""
    properties: dict[str, Any] = dict(event.extra)
    contents = [_content(item) for item in event.contents]
    content_ids = event.custom_data.get("content_ids")
    if contents:
        # TikTok wants either contents or content_ids; contents say more.
        properties["contents"] = contents
    elif isinstance(content_ids, list) and content_ids:
        properties["content_ids"] = content_ids
    if event.content_type:
        properties["content_type"] = event.content_type
    elif contents:
        properties["content_type"] = "product"
    if event.currency:
        properties["currency"] = event.currency
    if event.value is not None:
        properties["value"] = event.value
    if event.order_id:
        properties["order_id"] = event.order_id
    return properties


def wire_event(payload: Mapping[str, Any], event_name: Callable[[str], str]) -> dict[str, Any]:
    """A stored event (jobs/canonical.py) as one element of TikTok's `data`: the hashes of the
    TikTok family and TikTok's clear identifiers in `user`, the page in `page`, the custom
    data in `properties`, the event renamed for the destination."""
    event = CanonicalEvent(payload)
    user: dict[str, Any] = dict(event.hashed("tiktok"))
    for ours, theirs in _CLEAR_KEYS.items():
        value = event.identifiers.get(ours)
        if value:
            user[theirs] = value
    wire: dict[str, Any] = {
        "event": event_name(event.event_name),
        "event_time": event.event_time,
        "event_id": event.event_id,
        "user": user,
    }
    if event.event_source_url:
        wire["page"] = {"url": event.event_source_url}
    properties = _properties(event)
    if properties:
        wire["properties"] = properties
    return wire


def cannot_match(event: CanonicalEvent, _settings: Mapping[str, Any]) -> str | None:
    """Why TikTok could not tie `event` to anyone (None: it can): it matches on its click id
    and cookie, hashed email, phone and external id, or the IP address with the user agent."""
    identifiers = event.identifiers
    hashed = event.hashed("tiktok")
    if identifiers.get("ttclid") or identifiers.get("ttp"):
        return None
    if any(hashed.get(key) for key in _MATCHING_HASHES):
        return None
    if identifiers.get("client_ip_address") and identifiers.get("client_user_agent"):
        return None
    return (
        "TikTok matches events on ttclid, ttp, email, phone, external_id, or client_ip_address"
        " with client_user_agent: the event has none of them"
    )


# -- the connector -------------------------------------------------------------------------------


class TikTokConnector(UrlConnector):
    """Sends batches to one TikTok pixel (or event set) through the Events API 2.0."""

    max_batch_size: int = MAX_BATCH_SIZE

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        pixel_code: str,
        access_token: str,
        test_event_code: str = "",
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        event_names: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            client,
            base_url.rstrip("/") + TRACK_PATH,
            timeout=timeout,
            secrets=[access_token],
            event_names=event_names,
        )
        self._pixel_code = pixel_code
        self._body_head: dict[str, str] = {"event_source_id": pixel_code}
        if test_event_code:
            self._body_head["test_event_code"] = test_event_code
        self._headers = {"content-type": "application/json", "access-token": access_token}

    def __repr__(self) -> str:
        return f"TikTokConnector(url={self.url!r}, pixel_code={self._pixel_code!r})"

    async def send(
        self, batch: Sequence[OutgoingEvent], scope: AttemptScope | None = None
    ) -> list[Outcome]:
        # An event JSON cannot carry is refused alone: TikTok would refuse the whole request.
        return await send_in_chunks(
            batch,
            scope,
            prepare=lambda event: wire_event(event.payload, self.event_name),
            send_request=self._send_request,
            max_batch_size=self.max_batch_size,
            shared=self._request_fields,
        )

    def _request_fields(self, event: OutgoingEvent) -> dict[str, str]:
        """What the event's request carries besides its events: one event source a request."""
        source = event_source(CanonicalEvent(event.payload).action_source, self._pixel_code)
        return {"event_source": source, **self._body_head}

    async def _send_request(self, events: Sequence[Encoded]) -> list[Outcome]:
        """One POST of `events`; each gets the outcome of the whole request."""
        return await self.post(
            self._url,
            events,
            json_body(b"data", events),
            self._headers,
            lambda reply: [classify(reply.status, reply.body)] * len(events),
        )


# -- the platform, as the registry knows it -----------------------------------------------------

# re.ASCII: \w alone matches every script's letters, which TikTok's codes are not.
_PIXEL_CODE: Final = re.compile(r"[A-Za-z0-9]{1,64}", re.ASCII)

# Tenaz's names (Meta's standard events) -> TikTok's standard events. CompletePayment is the
# name TikTok's own server-side integrations send for a purchase; TikTok's newer event list
# calls it Purchase and maps CompletePayment onto it.
DEFAULT_EVENT_NAMES: Final[Mapping[str, str]] = {
    "Purchase": "CompletePayment",
    "Lead": "SubmitForm",
    **{
        name: name
        for name in (
            "CompleteRegistration",
            "AddToCart",
            "AddToWishlist",
            "InitiateCheckout",
            "AddPaymentInfo",
            "ViewContent",
            "Search",
            "Subscribe",
            "Contact",
        )
    },
}

UNVERIFIED: Final = (
    "the 1,000-event batch and the 7-day event age come from third parties; TikTok does not"
    " say which events a PARTIAL_OK answer (20001) left out; an all-digit pixel_code is taken"
    " for an offline or CRM event set ID"
)


def _build(context: ConnectorContext) -> TikTokConnector:
    settings = context.settings
    return TikTokConnector(
        context.client,
        pixel_code=str(settings["pixel_code"]),
        access_token=context.secrets["access_token"],
        test_event_code=str(settings.get("test_event_code") or ""),
        base_url=str(settings.get("base_url") or DEFAULT_BASE_URL),
        timeout=context.timeout,
        event_names=context.event_names,
    )


PLATFORM: Final = Platform(
    kind="tiktok",
    display_name="TikTok",
    settings=(
        Setting(
            "pixel_code",
            "the pixel code (or the ID of an offline or CRM event set) from Events Manager",
            required=True,
            locates_secrets=True,
            pattern=_PIXEL_CODE,
            pattern_help="required: the pixel code's letters and digits, e.g. C4A1B2C3D4E5F6G7H8I9",
        ),
        Setting(
            "access_token",
            "the Events API access token (Events Manager, the pixel's Settings)",
            required=True,
            secret=True,
        ),
        Setting("test_event_code", "test code from Events Manager (Test Events)", max_length=64),
        Setting(
            "base_url",
            "base URL of the TikTok Business API",
            locates_secrets=True,
            official_urls=(DEFAULT_BASE_URL,),
        ),
    ),
    max_batch_size=MAX_BATCH_SIZE,
    max_event_age=MAX_EVENT_AGE,
    build=_build,
    classification_tables=(CLASSIFICATION_RULES,),
    hash_family="tiktok",
    default_event_names=DEFAULT_EVENT_NAMES,
    unverified=UNVERIFIED,
    eligible=cannot_match,
    sandbox=SandboxRecipe(
        fake="jobs.platforms.fake_tiktok:FakeTikTok",
        settings={"pixel_code": "CSANDBOX0PIXEL0CODE0"},
        secrets={"access_token": "sandbox-token"},
    ),
)
