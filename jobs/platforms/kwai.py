"""Kwai for Business: one POST per event to `{base_url}/log/common/api`, Kwai's answers mapped
to outcomes.

UNVERIFIED. Kwai publishes no documentation of this API; everything here follows community
integrations (the platform notes, section 6), which agree on the request and disagree on the
answer. Where they disagree, Tenaz chooses, and says so:

- The request: the access token and pixel id in the JSON body, the Kwai click id of the ad
  (`clickid`, required: Kwai attributes by it alone; no personal data is matched), the event
  name (EVENT_PURCHASE, ...), `is_attributed` 1, `mmpcode` "PL", `pixelSdkVersion`,
  `properties` as a JSON *string*, `testFlag` (the destination's `test`), `trackFlag` false,
  `third_party` "tenaz". There is no event time and no event id: Kwai cannot deduplicate a
  request that a timeout made Tenaz send twice.
- The answer: `result` 1 is success. Some integrations also take 0 for success; Tenaz does
  not, because reading a refusal as success would lose events without a trace, while reading
  a success as a refusal leaves them FAILED with Kwai's answer, where an operator sees them
  and can replay them.

How answers are read (first row that applies, CLASSIFICATION_RULES):

    HTTP 2xx, result 1                    -> SUCCEEDED
    HTTP 5xx, 408, 429; no answer         -> EXTERNAL_PROBLEM
    HTTP 401, 403                         -> EXTERNAL_PROBLEM, needs_action (credentials)
    a Kwai answer whose error_msg says to -> EXTERNAL_PROBLEM
      try again (busy, too frequent, ...)
    a Kwai answer whose error_msg names   -> EXTERNAL_PROBLEM, needs_action
      the token, authorisation or pixel
    any other Kwai answer (result not 1)  -> REJECTED, with Kwai's error_msg
    HTTP 404/405/410/413, or an answer    -> EXTERNAL_PROBLEM, needs_action: not Kwai talking
      without Kwai's `result` (a proxy)      (a wrong base URL, a proxy, a captive portal)

A Kwai answer is a JSON object with an integer `result`. The access token travels in the body
only, and is scrubbed from anything this module returns.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import httpx

from jobs.canonical import CanonicalEvent
from jobs.platforms.base import Classification, OutcomeKind, OutgoingEvent
from jobs.platforms.http_connector import UNENCODABLE, encode_json, parse_json
from jobs.platforms.json_events import Encoded
from jobs.platforms.per_event import PerEventConnector
from jobs.platforms.registry import ConnectorContext, Platform, SandboxRecipe, Setting
from jobs.platforms.rules import (
    EXTERNAL,
    HttpAnswer,
    Naming,
    Rule,
    anything_else,
    decide,
    no_such_endpoint,
    not_the_platform,
    server_error,
    status_is,
    timed_out_or_throttled,
    too_large,
)

DEFAULT_BASE_URL: Final = "https://www.adsnebula.com"
EVENTS_PATH: Final = "/log/common/api"
# Unknown: Kwai's request carries no event time. A week, like Meta's, bounds the retries.
MAX_EVENT_AGE: Final = dt.timedelta(days=7)
SUCCESS_RESULT: Final = 1
# The constants every community integration sends.
IS_ATTRIBUTED: Final = 1
MMP_CODE: Final = "PL"
PIXEL_SDK_VERSION: Final = "9.9.9"
THIRD_PARTY: Final = "tenaz"

UNVERIFIED: Final = (
    "Kwai publishes no API documentation; the request and the reading of its answers follow"
    " community integrations, and the 7-day deadline is Tenaz's choice"
)

# Tenaz's names (Meta's standard events) -> Kwai's, as community integrations map them.
DEFAULT_EVENT_NAMES: Final[Mapping[str, str]] = {
    "Purchase": "EVENT_PURCHASE",
    "AddToCart": "EVENT_ADD_TO_CART",
    "ViewContent": "EVENT_CONTENT_VIEW",
    "CompleteRegistration": "EVENT_COMPLETE_REGISTRATION",
    "Lead": "EVENT_FORM_SUBMIT",
    "InitiateCheckout": "EVENT_INITIATED_CHECKOUT",
    "AddPaymentInfo": "EVENT_ADD_PAYMENT_INFO",
}

# What Kwai's error_msg says when asking to be tried again, and when the destination's
# credentials or pixel are at fault (lowercase; unverified: taken from the words such APIs use).
TRANSIENT_WORDS: Final = (
    *("busy", "try again", "retry", "too many", "too frequent", "frequency"),
    *("rate limit", "timeout", "timed out", "temporar", "unavailable"),
    *("internal error", "system error", "server error"),
)
CREDENTIAL_WORDS: Final = ("token", "auth", "permission", "pixel")


@dataclass(frozen=True)
class KwaiAnswer:
    """Kwai's answer body: its `result` and its message (error_msg, msg or message)."""

    result: int
    message: str = ""

    def says(self, words: tuple[str, ...]) -> bool:
        text = self.message.lower()
        return any(word in text for word in words)


def parse_answer(body: bytes) -> KwaiAnswer | None:
    """The Kwai answer in `body`, or None when it is not one (never raises)."""
    document = parse_json(body)
    if not isinstance(document, dict):
        return None
    result = document.get("result")
    # bool is an int subclass; `"result": true` is not Kwai's integer.
    if not isinstance(result, int) or isinstance(result, bool):
        return None
    for key in ("error_msg", "msg", "message"):
        message = document.get(key)
        if isinstance(message, str) and message.strip():
            return KwaiAnswer(result, message.strip())
    return KwaiAnswer(result)


@dataclass(frozen=True)
class Answer(HttpAnswer):
    """What a rule looks at: the HTTP status and Kwai's answer, if the body is one."""

    kwai: KwaiAnswer | None = None

    # Kwai's words alone (often one word: "fail") do not say what Tenaz made of them.
    NAMES_RULE: ClassVar[Naming] = "always"

    @property
    def error_text(self) -> str:
        return self.kwai.message if self.kwai is not None else ""

    @property
    def error_code(self) -> int | None:
        """Kwai's `result` of an answer that is not a success."""
        return self.kwai.result if self.kwai is not None and not self.accepted else None

    @property
    def accepted(self) -> bool:
        return (
            self.status_in(200, 299)
            and self.kwai is not None
            and self.kwai.result == SUCCESS_RESULT
        )

    @property
    def refused(self) -> bool:
        """Kwai answered (as a 2xx or 4xx) with a result other than success."""
        return (
            self.kwai is not None
            and self.kwai.result != SUCCESS_RESULT
            and (self.status_in(200, 299) or self.status_in(400, 499))
        )

    def refused_saying(self, words: tuple[str, ...]) -> bool:
        """Kwai refused with a message holding one of `words`."""
        return self.refused and self.kwai is not None and self.kwai.says(words)


CLASSIFICATION_RULES: Final[tuple[Rule[Answer], ...]] = (
    Rule("accepted", lambda a: a.accepted, OutcomeKind.SUCCEEDED),
    server_error(),
    timed_out_or_throttled(),
    Rule(
        "credentials refused: check the access token and pixel id",
        status_is(401, 403),
        EXTERNAL,
        needs_action=True,
        action="credentials",
    ),
    Rule(
        "Kwai asks to try again later",
        lambda a: a.refused_saying(TRANSIENT_WORDS),
        EXTERNAL,
    ),
    Rule(
        "Kwai refused the access token or pixel id",
        lambda a: a.refused_saying(CREDENTIAL_WORDS),
        EXTERNAL,
        needs_action=True,
        action="credentials",
    ),
    Rule("refused by Kwai", lambda a: a.refused, OutcomeKind.REJECTED),
    no_such_endpoint("the base URL and pixel id"),
    too_large(),
    # A 2xx, redirect or 4xx without Kwai's `result` is not Kwai talking: a proxy, a captive
    # portal, a wrong host. It says nothing about the event.
    not_the_platform("unexpected answer, not Kwai's: check the destination's base URL", lowest=200),
    anything_else(),
)


def classify(http_status: int, body: bytes) -> Classification:
    """What Kwai's answer means for the event; total, never raises."""
    return decide(CLASSIFICATION_RULES, Answer(http_status, parse_answer(body)))


def properties(event: CanonicalEvent) -> dict[str, Any]:
    """The event's `properties`: the caller's own custom_data keys (content_name, ...), then
    value, currency, content_id (the contents' ids, comma-separated) and content_type
    ("product" when there are contents and no type)."""
    found: dict[str, Any] = dict(event.extra)
    if event.value is not None:
        found["value"] = event.value
    if event.currency:
        found["currency"] = event.currency
    ids = [str(item["id"]) for item in event.contents if item.get("id")]
    if ids:
        found["content_id"] = ",".join(ids)
    content_type = event.content_type or ("product" if ids else "")
    if content_type:
        found["content_type"] = content_type
    return found


def wire_event(
    payload: Mapping[str, Any],
    event_name: Callable[[str], str],
    *,
    pixel_id: str,
    test: bool,
) -> dict[str, Any] | None:
    """A stored event (jobs/canonical.py) as Kwai's request body, but for the access token
    (the connector adds it); None when JSON cannot carry its properties. `properties` is a
    JSON string, as Kwai wants it."""
    event = CanonicalEvent(payload)
    encoded = encode_json(properties(event))
    if encoded is None:
        return None
    return {
        "pixelId": pixel_id,
        "clickid": str(event.identifiers.get("kwai_click_id", "")),
        "event_name": event_name(event.event_name),
        "is_attributed": IS_ATTRIBUTED,
        "mmpcode": MMP_CODE,
        "pixelSdkVersion": PIXEL_SDK_VERSION,
        "properties": encoded.decode(),
        "testFlag": test,
        "trackFlag": False,
        "third_party": THIRD_PARTY,
    }


class KwaiConnector(PerEventConnector):
    """Sends each event to one Kwai pixel."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        pixel_id: str,
        access_token: str,
        test: bool = False,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        event_names: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            client,
            f"{base_url.rstrip('/')}{EVENTS_PATH}",
            timeout=timeout,
            secrets=[access_token],
            event_names=event_names,
        )
        self._pixel_id = pixel_id
        self._access_token = access_token
        self._test = test

    def wire(self, event: OutgoingEvent) -> dict[str, Any] | Classification:
        wire = wire_event(event.payload, self.event_name, pixel_id=self._pixel_id, test=self._test)
        return UNENCODABLE if wire is None else {"access_token": self._access_token, **wire}

    def headers(self, event: Encoded) -> Mapping[str, str]:
        return {"content-type": "application/json", "accept": "application/json;charset=utf-8"}

    def classify(self, http_status: int, body: bytes) -> Classification:
        return classify(http_status, body)


# -- the platform, as the registry knows it -----------------------------------------------------

_PIXEL_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
SANDBOX_PIXEL: Final = "1234567890"
SANDBOX_TOKEN: Final = "sandbox-kwai-token"  # noqa: S105 - the sandbox fake's, not a secret


def _build(context: ConnectorContext) -> KwaiConnector:
    settings = context.settings
    return KwaiConnector(
        context.client,
        pixel_id=str(settings["pixel_id"]),
        access_token=context.secrets["access_token"],
        test=settings.get("test") is True,
        base_url=str(settings.get("base_url") or DEFAULT_BASE_URL),
        timeout=context.timeout,
        event_names=context.event_names,
    )


def _eligible(event: CanonicalEvent, settings: Mapping[str, Any]) -> str | None:
    if not event.identifiers.get("kwai_click_id"):
        return "needs user_data.kwai_click_id (Kwai attributes events by the ad's click id only)"
    return None


PLATFORM: Final = Platform(
    kind="kwai",
    display_name="Kwai",
    settings=(
        Setting(
            "pixel_id",
            "the Kwai pixel id, as Kwai for Business shows it for the pixel",
            required=True,
            locates_secrets=True,
            pattern=_PIXEL_ID,
            pattern_help="required: the pixel id (letters, digits, '-' and '_')",
        ),
        Setting("access_token", "the pixel's access token", required=True, secret=True),
        Setting("test", "mark events as tests (testFlag)", type="flag", default=False),
        Setting(
            "base_url",
            "base URL of Kwai's event API",
            locates_secrets=True,
            official_urls=(DEFAULT_BASE_URL,),
        ),
    ),
    max_batch_size=1,
    max_event_age=MAX_EVENT_AGE,
    build=_build,
    classification_tables=(CLASSIFICATION_RULES,),
    hash_family=None,
    default_event_names=DEFAULT_EVENT_NAMES,
    unverified=UNVERIFIED,
    eligible=_eligible,
    sandbox=SandboxRecipe(
        fake="jobs.platforms.fake_kwai:FakeKwai",
        settings={"pixel_id": SANDBOX_PIXEL},
        secrets={"access_token": SANDBOX_TOKEN},
        fake_options={"access_tokens": {SANDBOX_PIXEL: SANDBOX_TOKEN}},
    ),
)
