"""Meta Conversions API connector: one POST per batch, Meta's answers mapped to outcomes.

Every failure is translated here, at the boundary, into the outcome kinds of `base`; nothing
above this module sees an httpx exception or a Graph error code:

    httpx.TimeoutException (and the total   -> EXTERNAL_PROBLEM  "timed out after 10.0 s"
      deadline of jobs/egress.send_bounded)
    egress.EgressRefused (internal address) -> EXTERNAL_PROBLEM, needs_action
    httpx.TransportError (refused, DNS, ..) -> EXTERNAL_PROBLEM  "connection refused", ...
    httpx.InvalidURL, UnsupportedProtocol   -> EXTERNAL_PROBLEM, needs_action (bad base URL)
    an HTTP response                        -> classify(status, body), CLASSIFICATION_RULES

A REJECTED request of several events is split by `send_in_requests`, because Meta refuses
the whole request for one bad event; so is a request a proxy found too large (HTTP 413). An
answer without a Graph error body is not Meta talking (a proxy, a firewall): it is an external
problem, never a verdict on the events. The access token travels in the JSON body only (never
in the URL, where proxies and access logs would keep it), and is scrubbed from anything this
module returns.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import httpx
import orjson

from jobs.canonical import CanonicalEvent
from jobs.pii import META_CLEAR_FIELDS
from jobs.platforms.base import AttemptScope, Classification, Outcome, OutgoingEvent
from jobs.platforms.http_connector import MAX_BODY_BYTES, UrlConnector, int_field, str_field
from jobs.platforms.json_events import Encoded, json_body, send_in_chunks
from jobs.platforms.registry import ConnectorContext, Platform, SandboxRecipe, Setting
from jobs.platforms.rules import (
    EXTERNAL,
    REJECTED,
    HttpAnswer,
    Rule,
    accepted,
    anything_else,
    decide,
    no_answer,
    no_such_endpoint,
    not_the_platform,
    server_error,
    timed_out_or_throttled,
    too_large,
)

DEFAULT_API_VERSION: Final = "v25.0"
DEFAULT_BASE_URL: Final = "https://graph.facebook.com"
MAX_BATCH_SIZE: Final = 1000
# One event older than this makes Meta refuse the whole request.
MAX_EVENT_AGE: Final = dt.timedelta(days=7)


THROTTLING_CODES: Final = frozenset({4, 17, 32, 341, 613, *range(80000, 80015)})
# Meta says these may go away by themselves: unknown error, service down, temporary block.
TEMPORARY_CODES: Final = frozenset({1, 2, 368})
# The event is fine; the destination's token is not. 104 ("an access token is required") is
# not in the platform notes' table but is Graph's answer to a missing token.
CREDENTIAL_CODES: Final = frozenset({102, 104, 190})
# The token is fine, but may not do this: capability (3), permission (10, 200-299).
PERMISSION_CODES: Final = frozenset({3, 10, *range(200, 300)})
INVALID_PARAMETER_CODE: Final = 100
UNREACHABLE_OBJECT_SUBCODE: Final = 33


@dataclass(frozen=True)
class GraphError:
    """The fields of a Graph API `error` object that classification reads; wrong types -> None."""

    code: int | None = None
    subcode: int | None = None
    message: str = ""
    user_title: str = ""
    user_msg: str = ""
    is_transient: bool = False


@dataclass(frozen=True)
class Answer(HttpAnswer):
    """What a rule looks at: the HTTP status and the Graph error, if any."""

    error: GraphError | None = None

    @property
    def code(self) -> int | None:
        return self.error.code if self.error else None

    @property
    def subcode(self) -> int | None:
        return self.error.subcode if self.error else None

    @property
    def error_text(self) -> str:
        error = self.error
        parts = [error.message, error.user_title, error.user_msg] if error else []
        return ": ".join(part for part in parts if part)

    @property
    def error_code(self) -> int | None:
        return self.code

    @property
    def error_subcode(self) -> int | None:
        return self.subcode


# The first rule that applies decides. Codes come before HTTP statuses because Meta sends its
# throttling and credential errors as HTTP 400, the status of a bad payload too.
CLASSIFICATION_RULES: Final[tuple[Rule[Answer], ...]] = (
    accepted(),
    no_answer(),
    server_error(),
    Rule("marked transient", lambda r: r.error is not None and r.error.is_transient, EXTERNAL),
    Rule("throttled", lambda r: r.code in THROTTLING_CODES, EXTERNAL),
    Rule("temporary platform error", lambda r: r.code in TEMPORARY_CODES, EXTERNAL),
    Rule(
        "credentials refused",
        lambda r: r.code in CREDENTIAL_CODES,
        EXTERNAL,
        needs_action=True,
        action="credentials",
    ),
    Rule(
        "no permission",
        lambda r: r.code in PERMISSION_CODES,
        EXTERNAL,
        needs_action=True,
        action="permission",
    ),
    # 100/33: "object does not exist or missing permissions", Graph's answer to a pixel id the
    # token cannot reach. The event is fine; the destination is misconfigured.
    Rule(
        "unknown pixel or no permission on it",
        lambda r: r.code == INVALID_PARAMETER_CODE and r.subcode == UNREACHABLE_OBJECT_SUBCODE,
        EXTERNAL,
        needs_action=True,
        action="configuration",
    ),
    Rule("invalid parameter", lambda r: r.code == INVALID_PARAMETER_CODE, REJECTED),
    timed_out_or_throttled(),
    no_such_endpoint("the base URL, API version and pixel id"),
    too_large(),
    Rule(
        "refused by the platform",
        lambda r: r.status_in(400, 499) and r.error is not None,
        REJECTED,
    ),
    # A redirect or a 4xx without a Graph error (400 and 422 included) is not Meta talking.
    not_the_platform(),
    anything_else(),
)


def parse_graph_error(body: bytes) -> GraphError | None:
    """The Graph `error` object in `body`, or None when the body is not one (never raises).

    Only Graph's shape counts: an integer `code` with a `type` or an `fbtrace_id`, as every
    Graph error has. Gateways and firewalls answer `{"error": {...}}` too (Google's and
    Envoy's `{"error": {"code": 403, "message": ...}}`); read as Meta's, they would fail good
    events as refused.
    """
    if len(body) >= MAX_BODY_BYTES:  # cut at the cap by send_bounded: not a Graph answer
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        # ValueError covers bad JSON, bad UTF-8 and over-long integers.
        return None
    if not isinstance(document, dict):
        return None
    error = document.get("error")
    if not isinstance(error, dict) or int_field(error, "code") is None:
        return None
    if not (str_field(error, "type") or str_field(error, "fbtrace_id")):
        return None
    return GraphError(
        code=int_field(error, "code"),
        subcode=int_field(error, "error_subcode"),
        message=str_field(error, "message"),
        user_title=str_field(error, "error_user_title"),
        user_msg=str_field(error, "error_user_msg"),
        is_transient=error.get("is_transient") is True,
    )


def classify(http_status: int | None, body: bytes) -> Classification:
    """What Meta's answer (`http_status` None: none came) means; total, never raises."""
    is_success = http_status is not None and 200 <= http_status <= 299
    error = None if is_success else parse_graph_error(body)
    return decide(CLASSIFICATION_RULES, Answer(http_status, error))


def wire_event(payload: Mapping[str, Any], event_name: Callable[[str], str]) -> dict[str, Any]:
    """A stored event (jobs/canonical.py) as Meta's server event: its hashed identifiers of
    the Meta family and Meta's clear ones in `user_data`, the event renamed for the
    destination. Anything else in the payload passes as it is, but its Test Events code,
    which Meta takes for a whole request (`MetaConnector`)."""
    wire = {k: v for k, v in payload.items() if k not in _NOT_ON_THE_EVENT}
    name = wire.get("event_name")
    if isinstance(name, str):
        wire["event_name"] = event_name(name)
    event = CanonicalEvent(payload)
    clear = {k: v for k, v in event.identifiers.items() if k in META_CLEAR_FIELDS}
    wire["user_data"] = {**event.hashed("meta"), **clear}
    return wire


_NOT_ON_THE_EVENT: Final = frozenset({"identifiers", "hashed", "test_event_code"})


class MetaConnector(UrlConnector):
    """Sends batches to one Meta pixel (dataset) through the Conversions API.

    Meta takes a Test Events code for a whole request: an event that came with its own
    (through the ingest endpoint) goes in requests with others of the same code, under it;
    the others under the destination's code, if it has one.
    """

    max_batch_size: int = MAX_BATCH_SIZE

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        pixel_id: str,
        access_token: str,
        test_event_code: str = "",
        api_version: str = DEFAULT_API_VERSION,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        event_names: Mapping[str, str] | None = None,
    ) -> None:
        # Quoted so that a pixel id or version with "/" or "?" cannot change the request's path.
        super().__init__(
            client,
            f"{base_url.rstrip('/')}/{quote(api_version, safe='')}/{quote(pixel_id, safe='')}"
            "/events",
            timeout=timeout,
            secrets=[access_token],
            event_names=event_names,
        )
        # The token travels in the body only.
        self._extra = orjson.dumps({"access_token": access_token})[1:-1]
        self._test_event_code = test_event_code

    async def send(
        self, batch: Sequence[OutgoingEvent], scope: AttemptScope | None = None
    ) -> list[Outcome]:
        # An event JSON cannot carry is refused alone: Meta would refuse the whole request.
        return await send_in_chunks(
            batch,
            scope,
            prepare=lambda event: wire_event(event.payload, self.event_name),
            send_request=self._send_request,
            max_batch_size=self.max_batch_size,
            shared=self._test_code,
        )

    def _test_code(self, event: OutgoingEvent) -> dict[str, Any]:
        """The request fields the event shares with those it goes with: its Test Events code."""
        code = event.payload.get("test_event_code") or self._test_event_code
        return {"test_event_code": code} if isinstance(code, str) and code else {}

    async def _send_request(self, batch: Sequence[Encoded]) -> list[Outcome]:
        """One POST for `batch`; every event gets the outcome of the whole request."""
        return await self.post(
            self._url,
            batch,
            json_body(b"data", batch, after=self._extra),
            {"content-type": "application/json"},
            lambda reply: [classify(reply.status, reply.body)] * len(batch),
        )


# -- the platform, as the registry knows it -----------------------------------------------------

# re.ASCII: \d alone matches every script's digits ("١٢٣"), which Meta's ids and versions are not.
_PIXEL_ID: Final = re.compile(r"\d{1,32}", re.ASCII)
_API_VERSION: Final = re.compile(r"v\d{1,3}\.\d{1,3}", re.ASCII)


def _build(context: ConnectorContext) -> MetaConnector:
    settings = context.settings
    return MetaConnector(
        context.client,
        pixel_id=str(settings["pixel_id"]),
        access_token=context.secrets["access_token"],
        test_event_code=str(settings.get("test_event_code") or ""),
        api_version=str(settings.get("api_version") or DEFAULT_API_VERSION),
        base_url=str(settings.get("base_url") or DEFAULT_BASE_URL),
        timeout=context.timeout,
        event_names=context.event_names,
    )


PLATFORM: Final = Platform(
    kind="meta",
    display_name="Meta",
    settings=(
        Setting(
            "pixel_id",
            "the pixel (dataset) id",
            required=True,
            locates_secrets=True,
            pattern=_PIXEL_ID,
            pattern_help="required: the pixel's digits",
        ),
        Setting("access_token", "the Conversions API access token", required=True, secret=True),
        Setting("test_event_code", "test code from Events Manager (Test Events)", max_length=64),
        Setting(
            "api_version",
            "Graph API version",
            pattern=_API_VERSION,
            pattern_help="a version such as v25.0",
        ),
        Setting(
            "base_url",
            "base URL of the Graph API",
            locates_secrets=True,
            official_urls=(DEFAULT_BASE_URL,),
        ),
    ),
    max_batch_size=MAX_BATCH_SIZE,
    max_event_age=MAX_EVENT_AGE,
    build=_build,
    classification_tables=(CLASSIFICATION_RULES,),
    hash_family="meta",
    sandbox=SandboxRecipe(
        fake="jobs.platforms.fake_meta:FakeMeta",
        settings={"pixel_id": "1234567890"},
        secrets={"access_token": "sandbox-token"},
    ),
)
