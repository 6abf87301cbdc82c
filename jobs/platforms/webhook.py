"""The webhook destination: each event POSTed as Tenaz's own JSON to a URL of the tenant's,
signed as the Standard Webhooks specification says (jobs/platforms/standard_webhooks.py).

The body is a contract with the receiver, documented in docs/platforms/webhook.md:

    {"type": "conversion", "timestamp": "<event_time, ISO 8601 UTC>",
     "data": {"event_name", "event_id", "event_time", "action_source", "event_source_url",
              "identifiers", "hashed" (Meta's family), "custom_data"}}

`webhook-id` is derived from the delivery: the same on every attempt at one event for one
destination (the receiver's idempotency key), different for every other delivery.
`webhook-timestamp` is the attempt's time from Tenaz's clock.

How answers are read, after the specification's "delivery success and failure":

    2xx                          -> SUCCEEDED
    no answer (timeout, network) -> EXTERNAL_PROBLEM (an internal address the operator did
                                    not allow: needs_action)
    408, 429, 5xx                -> EXTERNAL_PROBLEM
    3xx (never followed)         -> EXTERNAL_PROBLEM, needs_action: the URL moved
    401, 403                     -> EXTERNAL_PROBLEM, needs_action: the receiver refused the
                                    signature (the secrets differ) or Tenaz itself
    404, 405, 410, 413           -> EXTERNAL_PROBLEM, needs_action: no webhook here (any
                                    more), or the receiver takes no body this size
    any other 4xx                -> REJECTED: the receiver refused this event
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Final

import httpx

from jobs.canonical import CanonicalEvent
from jobs.clock import Clock
from jobs.connectors import ConnectorUnavailable
from jobs.platforms.base import Classification, OutcomeKind, OutgoingEvent
from jobs.platforms.batching import PAYLOAD_TOO_LARGE
from jobs.platforms.json_events import Encoded
from jobs.platforms.per_event import PerEventConnector
from jobs.platforms.registry import ConnectorContext, Platform, SandboxRecipe, Setting
from jobs.platforms.rules import EXTERNAL, HttpAnswer, Rule, always, decide, timed_out_or_throttled
from jobs.platforms.standard_webhooks import SECRET_HELP, decode_secret, secret_problem, sign

ENVELOPE_TYPE: Final = "conversion"
HASH_FAMILY: Final = "meta"
# A receiver has no deadline of its own; after a week an event is old news to any system
# that acts on conversions, and the specification's own retry schedule ends after 3 days.
MAX_EVENT_AGE: Final = dt.timedelta(days=7)
MESSAGE_ID_PREFIX: Final = "msg_"


# The first rule that applies decides; only the HTTP status counts.
CLASSIFICATION_RULES: Final[tuple[Rule[HttpAnswer], ...]] = (
    Rule("accepted", lambda a: a.status_in(200, 299), OutcomeKind.SUCCEEDED),
    timed_out_or_throttled(),
    Rule("receiver error (HTTP 5xx)", lambda a: a.status_in(500, 599), EXTERNAL),
    Rule(
        "redirected, which Tenaz does not follow: set the destination's url to the new address",
        lambda a: a.status_in(300, 399),
        EXTERNAL,
        needs_action=True,
        action="configuration",
    ),
    Rule(
        "the receiver refused the request's signature or sender: check the signing secret",
        lambda a: a.status in (401, 403),
        EXTERNAL,
        needs_action=True,
        action="credentials",
    ),
    Rule(
        "no webhook at this URL (any more): check the destination's url",
        lambda a: a.status in (404, 405, 410),
        EXTERNAL,
        needs_action=True,
        action="configuration",
    ),
    Rule(
        "the receiver takes no request this large (HTTP 413)",
        lambda a: a.status == PAYLOAD_TOO_LARGE,
        EXTERNAL,
        needs_action=True,
        action="too_large",
    ),
    Rule("refused by the receiver", lambda a: a.status_in(400, 499), OutcomeKind.REJECTED),
    Rule("unexpected answer from the receiver", always, EXTERNAL),
)


def classify(http_status: int, body: bytes = b"") -> Classification:
    """What the receiver's answer means; total, never raises. The body does not count: a
    receiver's own words are kept in the attempt's excerpt."""
    return decide(CLASSIFICATION_RULES, HttpAnswer(http_status))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(payload: Mapping[str, Any], event_name: Callable[[str], str]) -> dict[str, Any]:
    """A stored event (jobs/canonical.py) as the webhook's body (see the module)."""
    event = CanonicalEvent(payload)
    return {
        "type": ENVELOPE_TYPE,
        "timestamp": _iso(event.event_datetime),
        "data": {
            "event_name": event_name(event.event_name),
            "event_id": event.event_id,
            "event_time": event.event_time,
            "action_source": event.action_source,
            "event_source_url": event.event_source_url or None,
            "identifiers": dict(event.identifiers),
            "hashed": dict(event.hashed(HASH_FAMILY)),
            "custom_data": dict(event.custom_data),
        },
    }


def message_id(event: OutgoingEvent) -> str:
    """The `webhook-id` of a delivery: "msg_" and 32 characters derived from the delivery
    and its event, the same on every attempt; never a "." (the signed content's separator)."""
    canonical = CanonicalEvent(event.payload)
    parts = ("tenaz-delivery", str(event.delivery_id), canonical.event_name, canonical.event_id)
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()[:20]
    return MESSAGE_ID_PREFIX + base64.b32encode(digest).decode("ascii").lower()


class WebhookConnector(PerEventConnector):
    """Sends each event, signed, to one webhook URL."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        url: str,
        signing_secret: str,
        clock: Clock,
        timeout: float = 10.0,
        event_names: Mapping[str, str] | None = None,
    ) -> None:
        """ValueError (not naming the secret) when `signing_secret` is not a "whsec_" one."""
        super().__init__(
            client, url, timeout=timeout, secrets=[signing_secret], event_names=event_names
        )
        self._key = decode_secret(signing_secret)
        self._clock = clock

    def wire(self, event: OutgoingEvent) -> dict[str, Any]:
        return envelope(event.payload, self.event_name)

    def headers(self, event: Encoded) -> Mapping[str, str]:
        identifier = message_id(event.event)
        timestamp = int(self._clock.now().timestamp())
        return {
            "content-type": "application/json",
            "webhook-id": identifier,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self._key, identifier, timestamp, event.json),
        }

    def classify(self, http_status: int, body: bytes) -> Classification:
        return classify(http_status, body)


# -- the platform, as the registry knows it -----------------------------------------------------


def _build(context: ConnectorContext) -> WebhookConnector:
    try:
        return WebhookConnector(
            context.client,
            url=str(context.settings["url"]),
            signing_secret=context.secrets["signing_secret"],
            clock=context.clock,
            timeout=context.timeout,
            event_names=context.event_names,
        )
    except ValueError as exc:
        raise ConnectorUnavailable(f"signing_secret: {exc}; set it again", "secrets") from None


# Obviously not a real secret: the sandbox's receiver and connector share it.
SANDBOX_SECRET: Final = "whsec_" + base64.b64encode(b"tenaz-sandbox-webhook-secret").decode()


PLATFORM: Final = Platform(
    kind="webhook",
    display_name="Webhook",
    settings=(
        Setting(
            "url",
            "the https URL events are POSTed to",
            required=True,
            locates_secrets=True,
            any_public_url=True,
            max_length=2048,
        ),
        Setting(
            "signing_secret",
            f"the signing secret ({SECRET_HELP})",
            required=True,
            secret=True,
            validate=secret_problem,
        ),
    ),
    max_batch_size=1,
    max_event_age=MAX_EVENT_AGE,
    build=_build,
    classification_tables=(CLASSIFICATION_RULES,),
    hash_family=HASH_FAMILY,
    sandbox=SandboxRecipe(
        fake="jobs.platforms.fake_webhook:FakeWebhookReceiver",
        settings={},
        secrets={"signing_secret": SANDBOX_SECRET},
        fake_options={"secret": SANDBOX_SECRET},
    ),
)
