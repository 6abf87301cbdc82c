"""Google Ads click conversions: `ConversionUploadService.UploadClickConversions` over REST, one
POST per batch of up to 2,000 conversions, each answered on its own (partial failure).

    POST {base_url}/{api_version}/customers/{customer_id}:uploadClickConversions
    authorization: Bearer <access token>   developer-token: ..   login-customer-id: ..
    {"conversions": [ClickConversion, ...], "partialFailure": true}

The access token comes from the destination's refresh token (jobs/platforms/google_oauth.py),
is kept across attempts, and is fetched again once when Google answers HTTP 401. Failures are
translated here, at the boundary, into the outcome kinds of `base`:

    httpx.TimeoutException, the total deadline -> EXTERNAL_PROBLEM  "timed out after 10.0 s"
    egress.EgressRefused (internal address)     -> EXTERNAL_PROBLEM, needs_action
    httpx.TransportError (refused, DNS, ...)    -> EXTERNAL_PROBLEM
    the token endpoint's refusal                -> google_oauth.classify_token_answer
    an answer to the upload                     -> google_ads_errors.classify, per conversion

A conversion is the stored event (jobs/canonical.py) as Google wants it: its click id (gclid,
else gbraid, else wbraid: Google takes one), the conversion action the destination maps its
event name to, its time as "yyyy-mm-dd hh:mm:ss+00:00", value, currency, the order id (the
event id when there is none: Google keeps one conversion per order id and action, so a retry
after a timeout is never counted twice) and the customer's hashed email and phone (the
"google" family of jobs/pii.py) as user identifiers. Without a click id the hashed email or
phone alone make an enhanced conversion for leads, which Google takes when the account has
them turned on. The developer token, client secret, refresh token and access token go in
headers and the token request's body only, and are scrubbed from what this module returns.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

import httpx

from jobs.canonical import CanonicalEvent
from jobs.clock import Clock, SystemClock
from jobs.egress import Reply
from jobs.platforms.base import AttemptScope, Classification, Outcome, OutcomeKind, OutgoingEvent
from jobs.platforms.google_ads_errors import REQUEST_RULES, ROW_RULES, classify
from jobs.platforms.google_oauth import (
    RefreshTokenFlow,
    TokenCache,
    TokenRefused,
    cache_key,
    kept_cache,
)
from jobs.platforms.http_connector import SendError, UrlConnector
from jobs.platforms.json_events import Encoded, json_body, send_in_chunks
from jobs.platforms.registry import ConnectorContext, Platform, SandboxRecipe, Setting

DEFAULT_API_VERSION: Final = "v21"
DEFAULT_BASE_URL: Final = "https://googleads.googleapis.com"
DEFAULT_OAUTH_BASE_URL: Final = "https://oauth2.googleapis.com"
# "Upload fewer than 2001 events in a single request" (TOO_MANY_CONVERSIONS_IN_REQUEST).
MAX_BATCH_SIZE: Final = 2000
# The longest click-through window a conversion action can have.
MAX_LOOKBACK_DAYS: Final = 90
MAX_USER_IDENTIFIERS: Final = 5
CLICK_IDS: Final = ("gclid", "gbraid", "wbraid")
# The google family's keys (jobs/pii.py) -> Google's UserIdentifier fields.
USER_IDENTIFIERS: Final = {"email": "hashedEmail", "phone": "hashedPhoneNumber"}


def click_id(event: CanonicalEvent) -> tuple[str, str] | None:
    """(field, value) of the event's Google click id, if it has one."""
    for name in CLICK_IDS:
        value = event.identifiers.get(name)
        if isinstance(value, str) and value:
            return name, value
    return None


def user_identifiers(event: CanonicalEvent) -> list[dict[str, str]]:
    hashed = event.hashed("google")
    found = [{field: hashed[key]} for key, field in USER_IDENTIFIERS.items() if hashed.get(key)]
    return found[:MAX_USER_IDENTIFIERS]


def conversion_date_time(when: dt.datetime) -> str:
    """Google's "yyyy-mm-dd hh:mm:ss+|-hh:mm", in UTC."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")


def click_conversion(
    payload: Mapping[str, Any], *, customer_id: str, action_id: str
) -> dict[str, Any]:
    """A stored event as a ClickConversion (REST field names) for conversion action
    `action_id` of `customer_id` (see the module)."""
    event = CanonicalEvent(payload)
    conversion: dict[str, Any] = {}
    click = click_id(event)
    if click is not None:
        conversion[click[0]] = click[1]
    conversion["conversionAction"] = f"customers/{customer_id}/conversionActions/{action_id}"
    conversion["conversionDateTime"] = conversion_date_time(event.event_datetime)
    if event.value is not None:
        conversion["conversionValue"] = event.value
    if event.currency:
        conversion["currencyCode"] = event.currency
    conversion["orderId"] = event.order_id or event.event_id
    identifiers = user_identifiers(event)
    if identifiers:
        conversion["userIdentifiers"] = identifiers
    return conversion


def _no_action(name: str) -> Classification:
    return Classification(
        OutcomeKind.REJECTED,
        message=(
            f"the destination has no conversion action for {name!r} any more (conversion_actions)"
        ),
    )


def _digits(account_id: str) -> str:
    """An account id as Google takes it: "123-456-7890" is shown so in the UI."""
    return account_id.replace("-", "")


class GoogleAdsConnector(UrlConnector):
    """Uploads click conversions to one Google Ads customer."""

    max_batch_size: int = MAX_BATCH_SIZE

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        customer_id: str,
        developer_token: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        conversion_actions: Mapping[str, str],
        login_customer_id: str = "",
        api_version: str = DEFAULT_API_VERSION,
        base_url: str = DEFAULT_BASE_URL,
        token_base_url: str = DEFAULT_OAUTH_BASE_URL,
        timeout: float = 10.0,
        clock: Clock | None = None,
        tokens: TokenCache | None = None,
    ) -> None:
        self._customer_id = _digits(customer_id)
        # Quoted so that a version or id with "/" or "?" cannot change the request's path.
        super().__init__(
            client,
            f"{base_url.rstrip('/')}/{quote(api_version, safe='')}/customers/"
            f"{quote(self._customer_id, safe='')}:uploadClickConversions",
            timeout=timeout,
            secrets=[developer_token, client_secret, refresh_token],
        )
        self._actions = dict(conversion_actions)
        self._headers = {"content-type": "application/json", "developer-token": developer_token}
        if login_customer_id:
            self._headers["login-customer-id"] = _digits(login_customer_id)
        token_url = f"{token_base_url.rstrip('/')}/token"
        self._tokens = RefreshTokenFlow(
            self._http,
            token_url=token_url,
            client_id=client_id,
            client_secret=client_secret,
            refresh_token=refresh_token,
            clock=clock or SystemClock(),
            cache=tokens if tokens is not None else TokenCache(),
        )

    def scrub(self, text: str) -> str:
        """`text` without the destination's secrets, nor the access token in use."""
        text = super().scrub(text)
        token = self._tokens.current
        return text.replace(token, "[secret]") if token else text

    async def send(
        self, batch: Sequence[OutgoingEvent], scope: AttemptScope | None = None
    ) -> list[Outcome]:
        # Google answers for each conversion: a refusal is never split to find the bad one.
        return await send_in_chunks(
            batch,
            scope,
            prepare=self._conversion,
            send_request=self._send_request,
            max_batch_size=self.max_batch_size,
            split_refused=False,
        )

    def _conversion(self, event: OutgoingEvent) -> dict[str, Any] | Classification:
        name = CanonicalEvent(event.payload).event_name
        action = self._actions.get(name)
        if action is None:
            return _no_action(name)
        return click_conversion(event.payload, customer_id=self._customer_id, action_id=action)

    async def _send_request(self, batch: Sequence[Encoded]) -> list[Outcome]:
        """One upload of `batch` (and the token requests it needs); an outcome per conversion."""
        try:
            token = await self._tokens.access_token()
            reply = await self._upload(batch, token)
            if reply.status == 401:
                # Revoked or expired early: one new token, one more try.
                token = await self._tokens.access_token(refused=token)
                reply = await self._upload(batch, token)
        except TokenRefused as refused:
            verdict = self.scrubbed(refused.classification)
            shown = self.scrub(refused.excerpt)
            return [verdict.outcome(e.delivery_id, refused.http_status, shown) for e in batch]
        except SendError as exc:
            return self.unanswered(batch, exc)
        return self.answered(batch, classify(reply.status, reply.body, len(batch)), reply)

    async def _upload(self, batch: Sequence[Encoded], token: str) -> Reply:
        content = json_body(b"conversions", batch, after=b'"partialFailure":true')
        headers = {**self._headers, "authorization": f"Bearer {token}"}
        return await self._http.post(self._url, content, headers)


# -- the platform, as the registry knows it -----------------------------------------------------

# Customer ids are ten digits, shown as 123-456-7890 in Google Ads.
_CUSTOMER_ID: Final = re.compile(r"\d{3}-?\d{3}-?\d{4}", re.ASCII)
_ACTION_ID: Final = re.compile(r"\d{1,20}", re.ASCII)
_API_VERSION: Final = re.compile(r"v\d{1,3}", re.ASCII)


def _build(context: ConnectorContext) -> GoogleAdsConnector:
    settings, secrets = context.settings, context.secrets
    token_base_url = str(settings.get("token_base_url") or DEFAULT_OAUTH_BASE_URL)
    client_id = str(settings["client_id"])
    key = cache_key(token_base_url, client_id, secrets["client_secret"], secrets["refresh_token"])
    actions = settings.get("conversion_actions")
    return GoogleAdsConnector(
        context.client,
        customer_id=str(settings["customer_id"]),
        login_customer_id=str(settings.get("login_customer_id") or ""),
        developer_token=secrets["developer_token"],
        client_id=client_id,
        client_secret=secrets["client_secret"],
        refresh_token=secrets["refresh_token"],
        conversion_actions=actions if isinstance(actions, Mapping) else {},
        api_version=str(settings.get("api_version") or DEFAULT_API_VERSION),
        base_url=str(settings.get("base_url") or DEFAULT_BASE_URL),
        token_base_url=token_base_url,
        timeout=context.timeout,
        clock=context.clock,
        tokens=kept_cache(context.keep, key),
    )


def eligible(event: CanonicalEvent, settings: Mapping[str, Any]) -> str | None:
    """Why Google Ads cannot take `event` with these settings (None: it can)."""
    actions = settings.get("conversion_actions")
    if not isinstance(actions, Mapping) or event.event_name not in actions:
        return (
            f"no conversion action for {event.event_name!r} in the destination's conversion_actions"
        )
    if click_id(event) is None and not user_identifiers(event):
        return (
            "needs a Google click id (user_data.gclid, gbraid or wbraid), or an email or phone"
            " for enhanced conversions for leads"
        )
    return None


# Tenaz's standard event names, each with an action of its own, for the sandbox.
_SANDBOX_EVENTS: Final = (
    *("Purchase", "Lead", "CompleteRegistration", "AddToCart", "InitiateCheckout"),
    *("AddPaymentInfo", "AddToWishlist", "ViewContent", "Search", "Subscribe", "StartTrial"),
    *("Contact", "Schedule", "SubmitApplication", "CustomizeProduct", "Donate", "FindLocation"),
)
SANDBOX_SETTINGS: Final[Mapping[str, Any]] = {
    "customer_id": "1234567890",
    "client_id": "sandbox-client-id",
    "conversion_actions": {name: str(1000 + n) for n, name in enumerate(_SANDBOX_EVENTS)},
}
SANDBOX_SECRETS: Final[Mapping[str, str]] = {
    "developer_token": "sandbox-developer-token",
    "client_secret": "sandbox-client-secret",
    "refresh_token": "sandbox-refresh-token",
}


PLATFORM: Final = Platform(
    kind="google_ads",
    display_name="Google Ads",
    settings=(
        Setting(
            "customer_id",
            "the Google Ads customer id the conversions belong to",
            required=True,
            locates_secrets=True,
            pattern=_CUSTOMER_ID,
            pattern_help="required: the 10-digit customer id, e.g. 123-456-7890",
        ),
        Setting(
            "login_customer_id",
            "the manager account id, when the credentials act through one",
            locates_secrets=True,
            pattern=_CUSTOMER_ID,
            pattern_help="the manager account's 10-digit customer id, e.g. 123-456-7890",
        ),
        Setting("developer_token", "Google Ads API developer token", required=True, secret=True),
        Setting("client_id", "OAuth2 client id", required=True),
        Setting("client_secret", "OAuth2 client secret", required=True, secret=True),
        Setting("refresh_token", "OAuth2 refresh token", required=True, secret=True),
        Setting(
            "conversion_actions",
            "the conversion action id for an event name, e.g. Purchase=123456789",
            type="names",
            required=True,
            pattern=_ACTION_ID,
            pattern_help="a conversion action id (digits)",
        ),
        Setting(
            "lookback_days",
            "the conversion actions' click-through window, in days",
            type="integer",
            minimum=1,
            maximum=MAX_LOOKBACK_DAYS,
            default=MAX_LOOKBACK_DAYS,
        ),
        Setting(
            "api_version",
            "Google Ads API version",
            pattern=_API_VERSION,
            pattern_help="a version such as v21",
        ),
        Setting(
            "base_url",
            "base URL of the Google Ads API",
            locates_secrets=True,
            official_urls=(DEFAULT_BASE_URL,),
        ),
        Setting(
            "token_base_url",
            "base URL of Google's OAuth2 token endpoint",
            locates_secrets=True,
            official_urls=(DEFAULT_OAUTH_BASE_URL,),
        ),
    ),
    max_batch_size=MAX_BATCH_SIZE,
    max_event_age=dt.timedelta(days=MAX_LOOKBACK_DAYS),
    age_setting="lookback_days",
    build=_build,
    classification_tables=(REQUEST_RULES, ROW_RULES),
    hash_family="google",
    unverified=(
        "EVENT_NOT_FOUND is taken as final; the 90-day bound is the longest lookback window,"
        " not Google's text; answers to enhanced conversions for leads are not checked"
        " against Google"
    ),
    eligible=eligible,
    sandbox=SandboxRecipe(
        fake="jobs.platforms.fake_google_ads:FakeGoogleAds",
        settings=SANDBOX_SETTINGS,
        secrets=SANDBOX_SECRETS,
        fake_options={
            "client_id": SANDBOX_SETTINGS["client_id"],
            "client_secret": SANDBOX_SECRETS["client_secret"],
            "refresh_token": SANDBOX_SECRETS["refresh_token"],
            "developer_token": SANDBOX_SECRETS["developer_token"],
        },
    ),
)
