"""GA4 Measurement Protocol: events of one web data stream, POSTed to `/mp/collect`, checked
first at the validation server `/debug/mp/collect` when the destination asks for it.

    POST {base_url}/mp/collect?measurement_id=G-...&api_secret=...
    {"client_id": "...", "user_id": "...", "timestamp_micros": ...,
     "user_data": {"sha256_email_address": [...], "sha256_phone_number": [...]},
     "events": [{"name": "purchase", "params": {...}}, ...]}

The collect endpoint answers 2xx whatever it thinks of the events (it drops invalid ones
silently), so its answer only tells whether it was reached. With `validate_first`, a batch
goes to the validation server first; the events its `validationMessages` name are REJECTED
with the message, and the rest go on to collect. Translation at the boundary:

    httpx.TimeoutException, the total deadline -> EXTERNAL_PROBLEM  "timed out after 10.0 s"
    egress.EgressRefused (internal address)     -> EXTERNAL_PROBLEM, needs_action
    httpx.TransportError (refused, DNS, ...)    -> EXTERNAL_PROBLEM
    an HTTP answer                              -> CLASSIFICATION_RULES (2xx taken; 5xx, 408,
                                                   429 external; any other: not GA4 talking)
    a validation message naming an event       -> REJECTED, that event
    one naming no event                         -> REJECTED, every event of the request (they
                                                   share what it is about: client_id, ...)
    one about measurement_id or api_secret      -> EXTERNAL_PROBLEM, needs_action

Client id, user id, time and user data belong to the request, not the event, so a batch goes
as one request per (client id, user id, time, user data), of at most 25 events. Google takes
`user_data` only with a `user_id`: Tenaz sends the customer's hashed email and phone (the
"google" hashing family of jobs/pii.py) when the event's custom data carries `user_id`.

The api secret is a query parameter by design of the protocol. It is scrubbed from every
message and excerpt this module returns, and from httpx's request log lines (which name the
URL) by a filter on the "httpx" logger, whatever level that logger is set to.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlencode

import httpx

from jobs.canonical import CanonicalEvent
from jobs.egress import Reply
from jobs.platforms.base import AttemptScope, Classification, Outcome, OutcomeKind, OutgoingEvent
from jobs.platforms.http_connector import MAX_MESSAGE_CHARS, UrlConnector, parse_json
from jobs.platforms.json_events import Encoded, json_body, send_in_chunks
from jobs.platforms.registry import ConnectorContext, Platform, SandboxRecipe, Setting
from jobs.platforms.rules import (
    EXTERNAL,
    HttpAnswer,
    Rule,
    accepted,
    anything_else,
    decide,
    not_the_platform,
    server_error,
    timed_out_or_throttled,
    too_large,
)
from jobs.platforms.url_secrets import hide_queries_in_http_logs

DEFAULT_BASE_URL: Final = "https://www.google-analytics.com"
# Collects in the EU.
EU_BASE_URL: Final = "https://region1.google-analytics.com"
MAX_EVENTS_PER_REQUEST: Final = 25
# Events can be backdated by up to 72 hours (three calendar days in the property's time zone).
MAX_EVENT_AGE: Final = dt.timedelta(hours=72)
MAX_NAME_LENGTH: Final = 40
# Tenaz's standard names -> GA4's recommended events.
EVENT_NAMES: Final[Mapping[str, str]] = {
    "Purchase": "purchase",
    "AddToCart": "add_to_cart",
    "InitiateCheckout": "begin_checkout",
    "Lead": "generate_lead",
    "CompleteRegistration": "sign_up",
    "ViewContent": "view_item",
    "Search": "search",
    "AddPaymentInfo": "add_payment_info",
    "AddToWishlist": "add_to_wishlist",
}
# GA4 wants a transaction id on these; the event id stands in when the order has none.
TRANSACTION_EVENTS: Final = frozenset({"purchase", "refund"})
# The validation server's messages about the stream, not the events.
DESTINATION_FIELDS: Final = frozenset({"measurement_id", "api_secret", "firebase_app_id"})

_CAMEL_BOUNDARY: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_NAME: Final = re.compile(r"[^A-Za-z0-9_]+")
# The client id in a `_ga` cookie value: GA1.1.<client id>.
_GA_COOKIE: Final = re.compile(r"GA\d\.\d+\.(\d+\.\d+)", re.ASCII)
_EVENT_INDEX: Final = re.compile(r"events\[(\d+)\]|index: \[(\d+)\]")


def safe_event_name(name: str) -> str:
    """A name GA4 takes for an event it has no recommended name for: snake case, letters,
    digits and underscores, starting with a letter, at most 40 characters. Accents go
    ("Inscrição" is "inscricao"): GA4 names are ASCII."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    snake = _NOT_NAME.sub("_", _CAMEL_BOUNDARY.sub("_", ascii_name.strip())).lower()
    snake = re.sub(r"_+", "_", snake).lstrip("_0123456789")
    return snake[:MAX_NAME_LENGTH].rstrip("_") or "custom_event"


def client_id(event: CanonicalEvent) -> str:
    """The GA client id of the event ("" if none); the `_ga` cookie's value also works."""
    value = str(event.identifiers.get("ga_client_id", "")).strip()
    cookie = _GA_COOKIE.fullmatch(value)
    return cookie.group(1) if cookie else value


def user_id(event: CanonicalEvent) -> str:
    value = event.extra.get("user_id")
    return value.strip() if isinstance(value, str) else ""


def _items(event: CanonicalEvent) -> list[dict[str, Any]]:
    items = []
    for content in event.contents:
        item: dict[str, Any] = {}
        if content.get("id") not in (None, ""):
            item["item_id"] = str(content["id"])
        quantity = content.get("quantity")
        if isinstance(quantity, int) and not isinstance(quantity, bool):
            item["quantity"] = quantity
        price = content.get("item_price")
        if isinstance(price, int | float) and not isinstance(price, bool):
            item["price"] = price
        if item:
            items.append(item)
    return items


def event_params(event: CanonicalEvent, name: str) -> dict[str, Any]:
    """The GA4 event's params: the caller's own custom data keys (session_id,
    engagement_time_msec, ...), value, currency, transaction_id and items."""
    params: dict[str, Any] = {
        key: value
        for key, value in event.extra.items()
        if key != "user_id" and isinstance(value, str | int | float) and not isinstance(value, bool)
    }
    if event.value is not None:
        params["value"] = event.value
    if event.currency:
        params["currency"] = event.currency
    transaction = event.order_id or (event.event_id if name in TRANSACTION_EVENTS else "")
    if transaction:
        params["transaction_id"] = transaction
    items = _items(event)
    if items:
        params["items"] = items
    return params


def request_fields(event: CanonicalEvent) -> dict[str, Any]:
    """What the event's request carries besides its events (see the module)."""
    fields: dict[str, Any] = {"client_id": client_id(event)}
    user = user_id(event)
    if user:
        fields["user_id"] = user
    fields["timestamp_micros"] = event.event_time * 1_000_000
    hashed = event.hashed("google")
    user_data = {
        key: [hashed[field]]
        for field, key in (("email", "sha256_email_address"), ("phone", "sha256_phone_number"))
        if hashed.get(field)
    }
    if user and user_data:
        fields["user_data"] = user_data
    return fields


def ga4_event(payload: Mapping[str, Any], event_names: Mapping[str, str]) -> dict[str, Any]:
    """The stored event as a Measurement Protocol event: named by the destination's names,
    then GA4's recommended ones, then a GA4-safe form of its own."""
    event = CanonicalEvent(payload)
    name = event_names.get(event.event_name) or safe_event_name(event.event_name)
    return {"name": name, "params": event_params(event, name)}


# -- answers ---------------------------------------------------------------------------------


CLASSIFICATION_RULES: Final[tuple[Rule[HttpAnswer], ...]] = (
    accepted(),
    server_error(),
    timed_out_or_throttled(),
    too_large(),
    # The Measurement Protocol answers 2xx to anything it receives: a redirect or a 4xx comes
    # from something else (a proxy, a wrong host) and says nothing about the events.
    not_the_platform("unexpected answer: the Measurement Protocol answers 2xx; check the base URL"),
    anything_else(),
)


def classify(http_status: int) -> Classification:
    """What an HTTP answer of either endpoint means for the events of its request."""
    return decide(CLASSIFICATION_RULES, HttpAnswer(http_status))


def _message_index(message: Mapping[str, Any]) -> int | None:
    for text in (message.get("fieldPath"), message.get("description")):
        found = _EVENT_INDEX.search(text) if isinstance(text, str) else None
        if found:
            return int(found.group(1) or found.group(2))
    return None


def validation_verdicts(body: bytes, count: int) -> list[Classification | None]:
    """The validation server's verdict on each of the `count` events of a request (None:
    valid), from its HTTP 2xx answer (see the module)."""
    document = parse_json(body)
    messages = document.get("validationMessages") if isinstance(document, dict) else None
    if not isinstance(messages, list):
        unexpected = Classification(
            EXTERNAL,
            needs_action=True,
            action="configuration",
            message="unexpected answer from the validation server: check the base URL",
            rule="not the validation server",
        )
        return [unexpected] * count
    named: dict[int, list[str]] = {}
    shared: list[str] = []
    about_destination: list[str] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        code, description = message.get("validationCode"), message.get("description")
        text = ": ".join(str(part) for part in (code, description) if part)
        index = _message_index(message)
        field = str(message.get("fieldPath") or "").strip()
        if index is not None and index < count:
            named.setdefault(index, []).append(text)
        elif field in DESTINATION_FIELDS:
            about_destination.append(text)
        else:
            shared.append(text)
    if about_destination:
        problem = Classification(
            EXTERNAL,
            needs_action=True,
            action="configuration",
            message="; ".join(about_destination)[:MAX_MESSAGE_CHARS],
            rule="the destination's stream settings are invalid",
        )
        return [problem] * count
    verdicts: list[Classification | None] = []
    for index in range(count):
        texts = named.get(index, []) + shared
        verdicts.append(
            Classification(
                OutcomeKind.REJECTED,
                message="; ".join(texts)[:MAX_MESSAGE_CHARS],
                rule="refused by the validation server",
            )
            if texts
            else None
        )
    return verdicts


# -- the connector ---------------------------------------------------------------------------


_JSON: Final = {"content-type": "application/json"}
# What the validation server said of an event it found nothing wrong with.
_VALID: Final = Classification(OutcomeKind.SUCCEEDED, rule="valid")


def _validated(reply: Reply, count: int) -> list[Classification]:
    """Each event's verdict from the validation server's answer (`_VALID`: go on to collect)."""
    answer = classify(reply.status)
    if answer.kind is not OutcomeKind.SUCCEEDED:
        return [answer] * count
    return [verdict or _VALID for verdict in validation_verdicts(reply.body, count)]


class Ga4Connector(UrlConnector):
    """Sends events to one GA4 web data stream."""

    max_batch_size: int = MAX_EVENTS_PER_REQUEST

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        measurement_id: str,
        api_secret: str,
        base_url: str = DEFAULT_BASE_URL,
        validate_first: bool = False,
        timeout: float = 10.0,
        event_names: Mapping[str, str] | None = None,
    ) -> None:
        base = base_url.rstrip("/")
        # What `url` and `repr` show: the collect URL without the api secret.
        super().__init__(
            client,
            f"{base}/mp/collect?measurement_id={measurement_id}",
            timeout=timeout,
            secrets=[api_secret],
            event_names=EVENT_NAMES if event_names is None else event_names,
        )
        self._validate_first = validate_first
        query = urlencode({"measurement_id": measurement_id, "api_secret": api_secret})
        self._collect_url = f"{base}/mp/collect?{query}"
        self._debug_url = f"{base}/debug/mp/collect?{query}"
        hide_queries_in_http_logs()

    async def send(
        self, batch: Sequence[OutgoingEvent], scope: AttemptScope | None = None
    ) -> list[Outcome]:
        # GA4 answers for no event on its own: a refused request is never split.
        return await send_in_chunks(
            batch,
            scope,
            prepare=self._wire,
            send_request=self._send_request,
            max_batch_size=MAX_EVENTS_PER_REQUEST,
            split_refused=False,
            shared=lambda event: request_fields(CanonicalEvent(event.payload)),
        )

    def _wire(self, event: OutgoingEvent) -> dict[str, Any] | Classification:
        if not client_id(CanonicalEvent(event.payload)):
            return Classification(
                OutcomeKind.REJECTED, message="no ga_client_id: GA4 needs the _ga client id"
            )
        return ga4_event(event.payload, self._event_names)

    async def _send_request(self, batch: Sequence[Encoded]) -> list[Outcome]:
        """The validation request, when asked for, then the collect request for what passed;
        counted as one request: the validation server records nothing."""
        decided: dict[int, Outcome] = {}
        if self._validate_first:
            validated = await self.post(
                self._debug_url,
                batch,
                json_body(b"events", batch),
                _JSON,
                lambda reply: _validated(reply, len(batch)),
            )
            decided = {o.delivery_id: o for o in validated if o.kind is not OutcomeKind.SUCCEEDED}
        passing = [e for e in batch if e.delivery_id not in decided]
        if passing:
            collected = await self.post(
                self._collect_url,
                passing,
                json_body(b"events", passing),
                _JSON,
                lambda reply: [classify(reply.status)] * len(passing),
            )
            decided.update((o.delivery_id, o) for o in collected)
        return [decided[e.delivery_id] for e in batch]


# -- the platform, as the registry knows it -----------------------------------------------------

_MEASUREMENT_ID: Final = re.compile(r"G-[A-Z0-9]{4,20}", re.ASCII)


def _build(context: ConnectorContext) -> Ga4Connector:
    settings = context.settings
    return Ga4Connector(
        context.client,
        measurement_id=str(settings["measurement_id"]),
        api_secret=context.secrets["api_secret"],
        base_url=str(settings.get("base_url") or DEFAULT_BASE_URL),
        validate_first=bool(settings.get("validate_first")),
        timeout=context.timeout,
        event_names=context.event_names,
    )


def eligible(event: CanonicalEvent, settings: Mapping[str, Any]) -> str | None:
    """Why GA4 cannot take `event` (None: it can)."""
    if not client_id(event):
        return "needs user_data.ga_client_id (the client id of the _ga cookie)"
    return None


PLATFORM: Final = Platform(
    kind="ga4",
    display_name="Google Analytics 4",
    settings=(
        Setting(
            "measurement_id",
            "the web data stream's measurement id",
            required=True,
            locates_secrets=True,
            pattern=_MEASUREMENT_ID,
            pattern_help="required: the measurement id, e.g. G-ABC123DEF4",
        ),
        Setting("api_secret", "Measurement Protocol API secret", required=True, secret=True),
        Setting(
            "base_url",
            "base URL of the Measurement Protocol",
            locates_secrets=True,
            official_urls=(DEFAULT_BASE_URL, EU_BASE_URL),
        ),
        Setting(
            "validate_first",
            "check each batch at the validation server before sending it",
            type="flag",
            default=False,
        ),
    ),
    max_batch_size=MAX_EVENTS_PER_REQUEST,
    max_event_age=MAX_EVENT_AGE,
    build=_build,
    classification_tables=(CLASSIFICATION_RULES,),
    hash_family="google",
    default_event_names=EVENT_NAMES,
    unverified=(
        "GA4 drops invalid events without saying so: only validate_first finds them; the"
        " limits and reserved names the validation server applies are taken from Google's docs"
    ),
    eligible=eligible,
    sandbox=SandboxRecipe(
        fake="jobs.platforms.fake_ga4:FakeGa4",
        settings={"measurement_id": "G-SANDBOX123", "validate_first": True},
        secrets={"api_secret": "sandbox-api-secret"},
    ),
)
