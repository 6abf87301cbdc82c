"""Reddit Conversions API (v2.0) connector: one POST per batch, Reddit's answers mapped to
outcomes.

    httpx errors (timeout, refused, DNS, ..) -> EXTERNAL_PROBLEM (http_connector.transport_problem)
    2xx                                      -> SUCCEEDED, every event of the request
    5xx, 408, 429                            -> EXTERNAL_PROBLEM
    401, 403                                 -> EXTERNAL_PROBLEM, needs_action (token, account)
    404, 405, 410                            -> EXTERNAL_PROBLEM, needs_action (URL, account id)
    413                                      -> split in halves (batching.send_in_requests)
    other 4xx with Reddit's error body       -> REJECTED, the request split to find the event
    3xx/4xx without it                       -> EXTERNAL_PROBLEM, needs_action (not Reddit)

Reddit refuses a whole request for invalid events ("There were N invalid conversion events.
None were processed.", in its v3 documentation), so a refused batch is split like Meta's. Its
v2.0 error body is not documented: Tenaz reads `{"error": {"code": <int>, "message": ...}}`,
the shape Reddit's Ads API answers with; anything else is not taken for a verdict on the
events. The token travels in the Authorization header only; requests carry a user agent of
their own, because Reddit throttles default ones.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

import httpx

from jobs.canonical import CanonicalEvent
from jobs.platforms.base import AttemptScope, Classification, Outcome, OutgoingEvent
from jobs.platforms.http_connector import UrlConnector, int_field, parse_json, str_field
from jobs.platforms.json_events import Encoded, json_body, send_in_chunks
from jobs.platforms.registry import ConnectorContext, Platform, SandboxRecipe, Setting
from jobs.platforms.rules import (
    ErrorAnswer,
    PlatformError,
    credentials_or_permissions,
    decide,
    error_answer_table,
)

DEFAULT_BASE_URL: Final = "https://ads-api.reddit.com"
# Reddit's v3 documentation: 1,000 events a request, events within 7 days of happening.
# Neither is documented for v2.0.
MAX_BATCH_SIZE: Final = 1000
MAX_EVENT_AGE: Final = dt.timedelta(days=7)
USER_AGENT: Final = "Tenaz/1 (server-side conversions)"

CUSTOM: Final = "Custom"
TRACKING_TYPES: Final = frozenset(
    {"PageVisit", "ViewContent", "Search", "AddToCart", "AddToWishlist", "Purchase", "Lead"}
    | {"SignUp", CUSTOM}
)
# Tracking types that take a value and currency, and those that take an item count too
# (Reddit drops them from the others).
VALUE_TYPES: Final = frozenset({"AddToCart", "AddToWishlist", "Purchase", "Lead", "SignUp", CUSTOM})
ITEM_COUNT_TYPES: Final = frozenset({"AddToCart", "AddToWishlist", "Purchase", CUSTOM})

# Tenaz's names (Meta's standard events) -> Reddit's tracking types; any other name goes as a
# custom event of that name.
DEFAULT_EVENT_NAMES: Final[Mapping[str, str]] = {
    "Purchase": "Purchase",
    "Lead": "Lead",
    "CompleteRegistration": "SignUp",
    "AddToCart": "AddToCart",
    "AddToWishlist": "AddToWishlist",
    "ViewContent": "ViewContent",
    "Search": "Search",
    "PageView": "PageVisit",
}

# The "reddit" hashing family's keys (jobs/pii.py) -> Reddit's user fields.
_HASHED_USER_FIELDS: Final[Mapping[str, str]] = {
    "email": "email",
    "phone": "phone_number",
    "external_id": "external_id",
    "ip_address": "ip_address",
}

CLASSIFICATION_RULES: Final = error_answer_table(*credentials_or_permissions())


def parse_reddit_error(body: bytes) -> PlatformError | None:
    """Reddit's `{"error": {"code": <int>, "message": <text>}}` in `body`, or None."""
    document = parse_json(body)
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return None
    code = int_field(error, "code")
    if code is None:
        return None
    return PlatformError(code=code, message=str_field(error, "message"))


def classify_answer(http_status: int | None, body: bytes) -> Classification:
    """What Reddit's answer (`http_status` None: none came) means; total, never raises."""
    is_success = http_status is not None and 200 <= http_status <= 299
    error = None if is_success else parse_reddit_error(body)
    return decide(CLASSIFICATION_RULES, ErrorAnswer(http_status, error))


def _event_at(event: CanonicalEvent) -> str:
    return event.event_datetime.isoformat().replace("+00:00", "Z")


def _metadata(event: CanonicalEvent, tracking_type: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"conversion_id": event.event_id}
    if tracking_type in VALUE_TYPES and event.value is not None and event.currency:
        metadata["currency"] = event.currency.upper()
        metadata["value_decimal"] = event.value
    contents = event.contents
    items = sum(
        c["quantity"] for c in contents if isinstance(c.get("quantity"), int) and c["quantity"] > 0
    )
    if tracking_type in ITEM_COUNT_TYPES and items:
        metadata["item_count"] = items
    products = [{"id": c["id"]} for c in contents if isinstance(c.get("id"), str) and c["id"]]
    if products:
        metadata["products"] = products
    return metadata


def wire_event(payload: Mapping[str, Any], event_name: Callable[[str], str]) -> dict[str, Any]:
    """A stored event (jobs/canonical.py) as one of Reddit's `events`: the event renamed for the
    destination (a name that is not a tracking type goes as a custom event), its "reddit"
    hashes and user agent in `user`, the Reddit click id, and the event id as the
    `conversion_id` Reddit deduplicates on."""
    event = CanonicalEvent(payload)
    name = event_name(event.event_name)
    tracking_type = name if name in TRACKING_TYPES and name != CUSTOM else CUSTOM
    event_type = {"tracking_type": tracking_type}
    if tracking_type == CUSTOM:
        event_type["custom_event_name"] = name
    hashed = event.hashed("reddit")
    user = {wire: hashed[key] for key, wire in _HASHED_USER_FIELDS.items() if key in hashed}
    user_agent = event.identifiers.get("client_user_agent")
    if user_agent:
        user["user_agent"] = user_agent
    wire: dict[str, Any] = {
        "event_at": _event_at(event),
        "event_type": event_type,
        "event_metadata": _metadata(event, tracking_type),
        "user": user,
    }
    click_id = event.identifiers.get("rdt_click_id")
    if click_id:
        wire["click_id"] = click_id
    return wire


def _eligible(event: CanonicalEvent, _settings: Mapping[str, Any]) -> str | None:
    """Reddit attributes an event by its click id or by matching the person: one of them."""
    if event.hashed("reddit") or event.identifiers.get("rdt_click_id"):
        return None
    if event.identifiers.get("client_user_agent"):
        return None
    return (
        "needs a Reddit click id (rdt_click_id), an email, a phone, an external_id,"
        " an IP address or a user agent"
    )


class RedditConnector(UrlConnector):
    """Sends batches to one Reddit ad account through the Conversions API v2.0."""

    max_batch_size: int = MAX_BATCH_SIZE

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        ad_account_id: str,
        access_token: str,
        test_mode: bool = False,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        event_names: Mapping[str, str] | None = None,
    ) -> None:
        # Quoted so that an account id with "/" or "?" cannot change the request's path.
        account = quote(ad_account_id, safe="")
        super().__init__(
            client,
            f"{base_url.rstrip('/')}/api/v2.0/conversions/events/{account}",
            timeout=timeout,
            secrets=[access_token],
            event_names=event_names,
        )
        self._headers = {
            "authorization": f"Bearer {access_token}",
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }
        self._test_mode = b'"test_mode":' + (b"true" if test_mode else b"false")

    async def send(
        self, batch: Sequence[OutgoingEvent], scope: AttemptScope | None = None
    ) -> list[Outcome]:
        return await send_in_chunks(
            batch,
            scope,
            prepare=lambda event: wire_event(event.payload, self.event_name),
            send_request=self._send_request,
            max_batch_size=self.max_batch_size,
        )

    async def _send_request(self, events: Sequence[Encoded]) -> list[Outcome]:
        """One POST for `events`; every event gets the outcome of the whole request."""
        return await self.post(
            self._url,
            events,
            json_body(b"events", events, after=self._test_mode),
            self._headers,
            lambda reply: [classify_answer(reply.status, reply.body)] * len(events),
        )


# -- the platform, as the registry knows it -----------------------------------------------------

# Reddit's account ids: "t2_" or "a2_" and base-36 characters (some integrations drop the prefix).
_AD_ACCOUNT_ID: Final = re.compile(r"[A-Za-z0-9_]{1,64}", re.ASCII)


def _build(context: ConnectorContext) -> RedditConnector:
    settings = context.settings
    return RedditConnector(
        context.client,
        ad_account_id=str(settings["ad_account_id"]),
        access_token=context.secrets["access_token"],
        test_mode=bool(settings.get("test_mode")),
        base_url=str(settings.get("base_url") or DEFAULT_BASE_URL),
        timeout=context.timeout,
        event_names=context.event_names,
    )


_SANDBOX_ACCOUNT: Final = "t2_sandbox"
_SANDBOX_SECRETS: Final = {"access_token": "sandbox-token"}

PLATFORM: Final = Platform(
    kind="reddit",
    display_name="Reddit",
    settings=(
        Setting(
            "ad_account_id",
            "the ad account id (Reddit Ads > Events Manager), e.g. t2_abc123",
            required=True,
            locates_secrets=True,
            pattern=_AD_ACCOUNT_ID,
            pattern_help="required: the ad account id, letters, digits and '_', e.g. t2_abc123",
        ),
        Setting("access_token", "the conversion access token", required=True, secret=True),
        Setting(
            "test_mode",
            "send with test_mode: Reddit checks the events and records none",
            type="flag",
        ),
        Setting(
            "base_url",
            "base URL of the Reddit Ads API",
            locates_secrets=True,
            official_urls=(DEFAULT_BASE_URL,),
        ),
    ),
    max_batch_size=MAX_BATCH_SIZE,
    max_event_age=MAX_EVENT_AGE,
    build=_build,
    classification_tables=(CLASSIFICATION_RULES,),
    hash_family="reddit",
    default_event_names=DEFAULT_EVENT_NAMES,
    unverified=(
        "Reddit documents the batch size (1,000 events), the 7-day event age and its errors for"
        " v3 only; Tenaz assumes the same for v2.0 and reads its error body as"
        ' {"error": {"code", "message"}}'
    ),
    eligible=_eligible,
    sandbox=SandboxRecipe(
        fake="jobs.platforms.fake_reddit:FakeReddit",
        settings={"ad_account_id": _SANDBOX_ACCOUNT},
        secrets=_SANDBOX_SECRETS,
        fake_options={"access_tokens": {_SANDBOX_ACCOUNT: _SANDBOX_SECRETS["access_token"]}},
    ),
)
