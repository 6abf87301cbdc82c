"""LinkedIn Conversions API connector: one BATCH_CREATE per batch, LinkedIn's answers mapped to
per-event outcomes.

A batch goes as `POST /rest/conversionEvents` with `X-RestLi-Method: BATCH_CREATE`; Rest.li
answers HTTP 200 with one status per element, in request order (`{"elements": [{"status":
201}, {"status": 400, "error": {...}}]}`), so each event gets its own outcome:

    element 2xx                          -> SUCCEEDED
    element 409 (already created)        -> SUCCEEDED (LinkedIn deduplicates on eventId)
    element 5xx, 408, 429                -> EXTERNAL_PROBLEM
    element 401, 403                     -> EXTERNAL_PROBLEM, needs_action
    element 400, 422, other 4xx          -> REJECTED, with LinkedIn's message

When the request as a whole is answered:

    httpx errors (timeout, refused, ..)  -> EXTERNAL_PROBLEM (http_connector.transport_problem)
    2xx without a status for each event  -> EXTERNAL_PROBLEM (sent again; eventId deduplicates)
    5xx, 408, 429                        -> EXTERNAL_PROBLEM
    401, 403                             -> EXTERNAL_PROBLEM, needs_action (token, scope, role)
    426                                  -> EXTERNAL_PROBLEM, needs_action (api_version retired)
    404, 405, 410                        -> EXTERNAL_PROBLEM, needs_action (base URL)
    413                                  -> split in halves (batching.send_in_requests)
    400, 422, other 4xx with LinkedIn's  -> REJECTED; a request of several events is split in
      error body                            halves first, so one bad event fails alone
    3xx/4xx without it                   -> EXTERNAL_PROBLEM, needs_action (not LinkedIn)

LinkedIn's error body is Rest.li's ErrorResponse (`{"status", "serviceErrorCode", "code",
"message"}`). Only the email (SHA-256) and the first-party ad tracking id (li_fat_id) are sent:
LinkedIn's `userInfo` takes names in plain text, and Tenaz never stores personal data in plain
text, so it has none to send. The token travels in the Authorization header only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import partial
from typing import Any, Final

import httpx

from jobs.canonical import CanonicalEvent
from jobs.platforms.base import (
    AttemptScope,
    Classification,
    Outcome,
    OutcomeKind,
    OutgoingEvent,
)
from jobs.platforms.http_connector import (
    SendError,
    UrlConnector,
    excerpt,
    int_field,
    parse_json,
    str_field,
)
from jobs.platforms.json_events import Encoded, RefusedWhole, json_body, send_in_chunks
from jobs.platforms.registry import ConnectorContext, Platform, SandboxRecipe, Setting
from jobs.platforms.rules import (
    EXTERNAL,
    ErrorAnswer,
    PlatformError,
    Rule,
    accepted,
    always,
    credentials_or_permissions,
    decide,
    error_answer_table,
    server_error,
    timed_out_or_throttled,
)

DEFAULT_BASE_URL: Final = "https://api.linkedin.com"
DEFAULT_API_VERSION: Final = "202603"
# LinkedIn publishes no maximum for BATCH_CREATE (Segment sends 5,000); Tenaz sends 1,000, and
# a request something on the way finds too large (HTTP 413) is split in halves.
MAX_BATCH_SIZE: Final = 1000
MAX_EVENT_AGE: Final = dt.timedelta(days=90)
CONVERSION_URN: Final = "urn:lla:llaPartnerConversion:"
EMAIL_ID: Final = "SHA256_EMAIL"
TRACKING_ID: Final = "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID"


# The request as a whole (see the module).
CLASSIFICATION_RULES: Final = error_answer_table(
    *credentials_or_permissions(),
    Rule(
        "the LinkedIn-Version is not active: set a current api_version",
        lambda a: a.status == 426,
        EXTERNAL,
        needs_action=True,
        action="configuration",
    ),
)

# One element of a BATCH_CREATE answer: LinkedIn talking about that event.
ELEMENT_RULES: Final[tuple[Rule[ErrorAnswer], ...]] = (
    accepted(),
    Rule("already recorded (same eventId)", lambda a: a.status == 409, OutcomeKind.SUCCEEDED),
    server_error(),
    timed_out_or_throttled(),
    *credentials_or_permissions(),
    Rule("refused by the platform", lambda a: a.status_in(400, 499), OutcomeKind.REJECTED),
    Rule("unexpected status for the event", always, EXTERNAL),
)

_UNREAD: Final = Classification(
    EXTERNAL,
    message="LinkedIn took the request but its answer does not give a status for each event;"
    " they go again (LinkedIn deduplicates on eventId)",
    rule="unreadable batch answer",
)
_NO_RULE: Final = Classification(
    EXTERNAL,
    needs_action=True,
    action="configuration",
    message="the destination has no conversion rule for this event name: add one to its"
    " conversion_rules",
    rule="no conversion rule",
)


def _error(document: Mapping[str, Any]) -> PlatformError:
    return PlatformError(
        code=int_field(document, "serviceErrorCode"),
        name=str_field(document, "code"),
        message=str_field(document, "message"),
    )


def parse_linkedin_error(body: bytes) -> PlatformError | None:
    """LinkedIn's error body (Rest.li's ErrorResponse: an integer `status`, a `message` and a
    `serviceErrorCode` or `code`) in `body`, or None when the body is not one."""
    document = parse_json(body)
    if not isinstance(document, dict) or int_field(document, "status") is None:
        return None
    if not isinstance(document.get("message"), str):
        return None
    if int_field(document, "serviceErrorCode") is None and not str_field(document, "code"):
        return None
    return _error(document)


def classify_answer(http_status: int | None, body: bytes) -> Classification:
    """What LinkedIn's answer to the request as a whole means; total, never raises."""
    is_success = http_status is not None and 200 <= http_status <= 299
    error = None if is_success else parse_linkedin_error(body)
    return decide(CLASSIFICATION_RULES, ErrorAnswer(http_status, error))


def element_answers(body: bytes, count: int) -> list[ErrorAnswer] | None:
    """Each element's answer in a BATCH_CREATE reply of `count` elements, or None when the
    reply does not give a status for each."""
    document = parse_json(body)
    elements = document.get("elements") if isinstance(document, dict) else None
    if not isinstance(elements, list) or len(elements) != count:
        return None
    answers = []
    for element in elements:
        status = int_field(element, "status") if isinstance(element, dict) else None
        if status is None:
            return None
        error = element.get("error")
        answers.append(ErrorAnswer(status, _error(error if isinstance(error, dict) else {})))
    return answers


def conversion_rule(settings: Mapping[str, Any], event_name: str) -> str | None:
    """The conversion rule id a destination sends `event_name` (Tenaz's name) to, if any."""
    rules = settings.get("conversion_rules")
    rule = rules.get(event_name) if isinstance(rules, Mapping) else None
    return rule if isinstance(rule, str) and rule else None


def _amount(value: float) -> str:
    """A value as LinkedIn's decimal string: "49.9", never "4.99e+01"."""
    return format(Decimal(repr(value)), "f")


def wire_event(payload: Mapping[str, Any], rule: str) -> dict[str, Any]:
    """A stored event (jobs/canonical.py) as one element of LinkedIn's BATCH_CREATE, for the
    conversion rule `rule`: time in epoch milliseconds, the value as a decimal string, the
    "linkedin" email hash and the li_fat_id as user ids, the event id for deduplication."""
    event = CanonicalEvent(payload)
    user_ids = []
    email = event.hashed("linkedin").get("email")
    if email:
        user_ids.append({"idType": EMAIL_ID, "idValue": email})
    tracking_id = event.identifiers.get("li_fat_id")
    if tracking_id:
        user_ids.append({"idType": TRACKING_ID, "idValue": tracking_id})
    wire: dict[str, Any] = {
        "conversion": CONVERSION_URN + rule,
        "conversionHappenedAt": event.event_time * 1000,
        "eventId": event.event_id,
        "user": {"userIds": user_ids},
    }
    if event.value is not None and event.currency:
        wire["conversionValue"] = {
            "currencyCode": event.currency.upper(),
            "amount": _amount(event.value),
        }
    return wire


def _eligible(event: CanonicalEvent, settings: Mapping[str, Any]) -> str | None:
    if conversion_rule(settings, event.event_name) is None:
        return f"has no conversion rule for {event.event_name!r} (conversion_rules)"
    if event.hashed("linkedin").get("email") or event.identifiers.get("li_fat_id"):
        return None
    return "needs an email or a LinkedIn first-party ad tracking id (li_fat_id)"


class LinkedInConnector(UrlConnector):
    """Sends batches to LinkedIn's Conversions API, each event to its event name's rule."""

    max_batch_size: int = MAX_BATCH_SIZE

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        access_token: str,
        conversion_rules: Mapping[str, str],
        api_version: str = DEFAULT_API_VERSION,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(
            client,
            f"{base_url.rstrip('/')}/rest/conversionEvents",
            timeout=timeout,
            secrets=[access_token],
        )
        self._settings = {"conversion_rules": dict(conversion_rules)}
        self._headers = {
            "authorization": f"Bearer {access_token}",
            "content-type": "application/json",
            "linkedin-version": api_version,
            "x-restli-protocol-version": "2.0.0",
            "x-restli-method": "BATCH_CREATE",
        }

    async def send(
        self, batch: Sequence[OutgoingEvent], scope: AttemptScope | None = None
    ) -> list[Outcome]:
        # A request LinkedIn refused as a whole (not element by element) is sent again in
        # halves, within the attempt's bounds, so that one bad event fails alone.
        refused = RefusedWhole()
        return await send_in_chunks(
            batch,
            scope,
            prepare=self._wire,
            send_request=partial(self._send_request, refused),
            max_batch_size=self.max_batch_size,
            split_refused=refused,
        )

    def _wire(self, event: OutgoingEvent) -> dict[str, Any] | Classification:
        """The event as LinkedIn takes it; one whose rule was removed since it was submitted
        waits for the operator."""
        rule = conversion_rule(self._settings, CanonicalEvent(event.payload).event_name)
        return _NO_RULE if rule is None else wire_event(event.payload, rule)

    async def _send_request(
        self, refused: RefusedWhole, events: Sequence[Encoded]
    ) -> list[Outcome]:
        """One BATCH_CREATE for `events`: an outcome per element, or, when LinkedIn answers for
        the request as a whole, that answer for every event (noting in `refused` the events
        of a request it refused)."""
        refused.sending(events)
        content = json_body(b"elements", events)
        try:
            reply = await self._http.post(self._url, content, self._headers)
        except SendError as exc:
            return self.unanswered(events, exc)
        if 200 <= reply.status <= 299:
            answers = element_answers(reply.body, len(events))
            if answers is None:
                return self.answered(events, [_UNREAD] * len(events), reply)
            shown = self.scrub(excerpt(reply.body))
            return [
                self.scrubbed(decide(ELEMENT_RULES, answer)).outcome(
                    e.delivery_id, answer.status, shown
                )
                for e, answer in zip(events, answers, strict=True)
            ]
        verdict = classify_answer(reply.status, reply.body)
        if verdict.kind is OutcomeKind.REJECTED:
            refused.refused(events)
        return self.answered(events, [verdict] * len(events), reply)


# -- the platform, as the registry knows it -----------------------------------------------------

_API_VERSION: Final = re.compile(r"20\d{4}", re.ASCII)
_RULE_ID: Final = re.compile(r"\d{1,20}", re.ASCII)


def _build(context: ConnectorContext) -> LinkedInConnector:
    settings = context.settings
    rules = settings.get("conversion_rules")
    return LinkedInConnector(
        context.client,
        access_token=context.secrets["access_token"],
        conversion_rules=dict(rules) if isinstance(rules, Mapping) else {},
        api_version=str(settings.get("api_version") or DEFAULT_API_VERSION),
        base_url=str(settings.get("base_url") or DEFAULT_BASE_URL),
        timeout=context.timeout,
    )


_SANDBOX_SECRETS: Final = {"access_token": "sandbox-token"}
# A rule for each of Tenaz's usual event names, so that the sandbox takes what it is sent.
_SANDBOX_RULES: Final = {
    name: str(100 + number)
    for number, name in enumerate(
        (
            *("Purchase", "Lead", "CompleteRegistration", "AddToCart", "InitiateCheckout"),
            *("AddPaymentInfo", "ViewContent", "Search", "Subscribe", "Contact"),
        )
    )
}

PLATFORM: Final = Platform(
    kind="linkedin",
    display_name="LinkedIn",
    settings=(
        Setting(
            "access_token",
            "the OAuth access token (scope rw_conversions)",
            required=True,
            secret=True,
        ),
        Setting(
            "conversion_rules",
            "the conversion rule id for an event name (Campaign Manager > Conversions)",
            type="names",
            required=True,
            pattern=_RULE_ID,
            pattern_help="a conversion rule id is digits, e.g. Purchase=104012",
            max_length=20,
        ),
        Setting(
            "api_version",
            "the LinkedIn-Version header",
            pattern=_API_VERSION,
            pattern_help="a version such as 202603 (YYYYMM)",
            default=DEFAULT_API_VERSION,
        ),
        Setting(
            "base_url",
            "base URL of LinkedIn's API",
            locates_secrets=True,
            official_urls=(DEFAULT_BASE_URL,),
        ),
    ),
    max_batch_size=MAX_BATCH_SIZE,
    max_event_age=MAX_EVENT_AGE,
    build=_build,
    classification_tables=(CLASSIFICATION_RULES, ELEMENT_RULES),
    hash_family="linkedin",
    unverified=(
        "LinkedIn publishes no batch maximum (Tenaz sends 1,000 events a request), nor the"
        " statuses a refused element carries"
    ),
    eligible=_eligible,
    sandbox=SandboxRecipe(
        fake="jobs.platforms.fake_linkedin:FakeLinkedIn",
        settings={"conversion_rules": _SANDBOX_RULES},
        secrets=_SANDBOX_SECRETS,
        fake_options={"access_tokens": {_SANDBOX_SECRETS["access_token"]}},
    ),
)
