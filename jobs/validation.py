"""Checking an event as the caller sent it, and turning it into what is stored and sent.

Every problem is reported at once, as field violations with the path the caller
used (`event.user_data.email`, `events[3].event_time`), so that a client can fix a
whole batch in one go. Personal data is normalised here, and hashed when the event's
destinations are known, by the rules of each of their platforms: only the hashes are
stored (jobs/canonical.py).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jobs.canonical import ACTION_SOURCES, CanonicalEvent
from jobs.currencies import ISO_4217
from jobs.errors import FailedPrecondition, FieldViolation
from jobs.json_values import all_finite
from jobs.model import Destination
from jobs.pii import InvalidPersonalData, PersonalData, hashed_for, normalise_user_data
from jobs.platforms import registry
from jobs.platforms.registry import Platform
from jobs.settings import Settings
from jobs.store.events import NewEvent

MAX_ID_LENGTH = 256
MAX_NAME_LENGTH = 128
MAX_URL_LENGTH = 2048
# Meta's Test Events codes are short (TEST12345); a destination's own is held to the same.
MAX_TEST_EVENT_CODE_LENGTH = 64


# The classes below are built for each event of each call, and a frozen dataclass costs about
# three times as much to build as one with slots: these are plain, and nothing changes one
# after it is built.
@dataclass(slots=True)
class ContentInput:
    id: str
    quantity: int = 0
    item_price: float = 0.0


@dataclass(slots=True)
class EventInput:
    """An event as the caller sent it, before validation."""

    event_id: str
    event_name: str
    event_time: dt.datetime | None
    action_source: str = ""
    event_source_url: str = ""
    user_data: Mapping[str, str] = field(default_factory=dict)
    value: float | None = None
    currency: str = ""
    order_id: str = ""
    contents: Sequence[ContentInput] = ()
    content_type: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    destinations: Sequence[str] = ()
    # With `destinations` named: to every other enabled destination that takes the event too.
    fan_out: bool = False
    # Meta's Test Events code for this event alone (it goes to Meta as its request's code).
    test_event_code: str = ""


@dataclass(slots=True)
class Prepared:
    """A valid event: its row, the destinations it goes to, and the deadline of each (the
    same order)."""

    new: NewEvent
    destinations: list[Destination]
    deadlines: list[dt.datetime]


class DestinationChoice:
    """A workspace's destinations, as an event's `destinations` field picks among them.

    One is built per call (or group of calls), and asked about every event: what depends
    only on a destination (its platform, the rules it follows) is looked up once for all.
    """

    def __init__(self, destinations: Sequence[Destination]) -> None:
        self.by_name = {d.name: d for d in destinations}
        self.enabled = [d for d in destinations if d.enabled]
        self.enabled_by_name = {d.name: d for d in self.enabled}
        self._platforms: dict[int, tuple[Platform, Platform]] = {}

    def platform(self, destination: Destination) -> Platform:
        """The destination's platform (its kind)."""
        return self._platform_and_rules(destination)[0]

    def rules(self, destination: Destination) -> Platform:
        """The platform whose rules the destination follows (`Platform.rules`)."""
        return self._platform_and_rules(destination)[1]

    def _platform_and_rules(self, destination: Destination) -> tuple[Platform, Platform]:
        found = self._platforms.get(destination.id)
        if found is None:
            platform = registry.platform(destination.kind)
            found = self._platforms[destination.id] = (
                platform,
                platform.rules(destination.settings),
            )
        return found


@dataclass(slots=True)
class Checked:
    """An event whose own fields are valid, its personal data normalised (in memory only):
    what is left (where it goes, whether its platforms take it, and the hashes they want)
    needs the workspace's destinations."""

    new: NewEvent
    path: str
    personal: PersonalData
    destinations: Sequence[str] = ()
    fan_out: bool = False


def check_event(
    event: EventInput,
    path: str,
    now: dt.datetime,
    settings: Settings,
    violations: list[FieldViolation],
) -> Checked | None:
    """The event checked on its own, or None with its problems added to `violations`.

    Needs no database, so it runs before anything is spent on the call (the key's rate
    limit, a transaction). Field paths start with `path` (`event` or `events[i]`).
    """
    before = len(violations)

    def bad(name: str, description: str) -> None:
        violations.append(FieldViolation(f"{path}.{name}", description))

    _check_text(event.event_id, "event_id", MAX_ID_LENGTH, bad)
    _check_text(event.event_name, "event_name", MAX_NAME_LENGTH, bad)

    event_time = event.event_time
    if event_time is None:
        bad("event_time", "required")
    elif event_time > now + settings.max_future_skew:
        bad("event_time", "is in the future; send the time the conversion happened")

    has_user_agent = bool(event.user_data.get("client_user_agent", "").strip())
    url = event.event_source_url
    # Meta refuses a website event without the page and the buyer's user agent (and with it
    # the whole batch): an event that does not say where it happened is a website event only
    # if it carries both.
    action_source = event.action_source or ("website" if has_user_agent and url else "other")
    if action_source not in ACTION_SOURCES:
        bad("action_source", f"must be one of {', '.join(sorted(ACTION_SOURCES))}")
    elif action_source == "website":
        for present, name, what in (
            (has_user_agent, "user_data.client_user_agent", "the buyer's user agent"),
            (url, "event_source_url", "the page where it happened"),
        ):
            if not present:
                bad(
                    name,
                    f"required for website events (Meta refuses them without it): send {what},"
                    " or an action_source such as system_generated",
                )
    if url and (
        len(url) > MAX_URL_LENGTH or not url.startswith(("http://", "https://")) or "\x00" in url
    ):
        bad("event_source_url", "must be an http(s) URL of at most 2048 characters")

    try:
        personal = normalise_user_data(
            event.user_data,
            default_phone_country_code=settings.default_phone_country_code,
        )
    except InvalidPersonalData as exc:
        bad(f"user_data.{exc.field}", exc.message)
        personal = PersonalData({}, {}, {})
    if not personal and len(violations) == before:
        bad(
            "user_data",
            "at least one customer parameter is required (email, phone, external_id,"
            " fbp, fbc, or client_ip_address with client_user_agent)",
        )

    custom = _custom_data(event, bad)
    if event.test_event_code:
        _check_text(event.test_event_code, "test_event_code", MAX_TEST_EVENT_CODE_LENGTH, bad)
    if len(violations) > before or event_time is None:
        return None
    payload: dict[str, Any] = {
        "event_name": event.event_name,
        "event_time": int(event_time.timestamp()),
        "event_id": event.event_id,
        "action_source": action_source,
        "identifiers": dict(personal.clear),
    }
    if url:
        payload["event_source_url"] = url
    if custom:
        payload["custom_data"] = custom
    if event.test_event_code:
        payload["test_event_code"] = event.test_event_code
    return Checked(
        new=NewEvent(
            event_name=event.event_name,
            event_id=event.event_id,
            event_time=event_time,
            order_id=event.order_id,
            payload=payload,
        ),
        path=path,
        personal=personal,
        destinations=tuple(event.destinations),
        fan_out=event.fan_out,
    )


def choose_destinations(
    checked: Checked,
    now: dt.datetime,
    choice: DestinationChoice,
    settings: Settings,
    violations: list[FieldViolation],
) -> Prepared | None:
    """Where the checked event goes, with the hashes its platforms want, or None with its
    problems added to `violations`.

    An event that names its destinations goes to each of them, or is refused saying why
    one cannot take it (disabled, filtered out, missing what its platform needs); with
    `fan_out`, also to every other enabled destination that can take it. One that
    names none goes to every enabled destination that can take it: possibly none, when the
    destinations' filters and platforms leave it out. Raises FailedPrecondition when the
    workspace has no enabled destination at all.
    """
    before = len(violations)

    def bad(name: str, description: str) -> None:
        violations.append(FieldViolation(f"{checked.path}.{name}", description))

    if checked.destinations:
        candidates: list[tuple[int | None, Destination]] = []
        for index, name in enumerate(checked.destinations):
            if name in choice.enabled_by_name:
                found = choice.enabled_by_name[name]
                if all(found is not d for _, d in candidates):
                    candidates.append((index, found))
            elif name in choice.by_name:
                bad(f"destinations[{index}]", f"destination {name!r} is disabled")
            else:
                bad(f"destinations[{index}]", f"no destination named {name!r}")
        if checked.fan_out:
            named = [d for _, d in candidates]
            candidates += [(None, d) for d in choice.enabled if all(d is not n for n in named)]
    elif not choice.enabled:
        raise FailedPrecondition(
            "the workspace has no enabled destination: create one before submitting events"
        )
    else:
        candidates = [(None, d) for d in choice.enabled]
    rules = {d.id: choice.rules(d) for _, d in candidates}
    families = {p.hash_family for p in rules.values() if p.hash_family is not None}
    payload = {
        **checked.new.payload,
        "hashed": {family: hashed_for(family, checked.personal) for family in sorted(families)},
    }
    event = CanonicalEvent(payload)
    targets: list[Destination] = []
    for position, destination in candidates:
        platform = rules[destination.id]
        reason = None
        if not destination.takes(event.event_name):
            reason = f"destination {destination.name!r} takes only: " + ", ".join(
                destination.event_filter
            )
        elif platform.eligible is not None:
            problem = platform.eligible(event, destination.settings)
            if problem is not None:
                reason = f"destination {destination.name!r} ({platform.display_name}): {problem}"
        if reason is None:
            targets.append(destination)
        elif position is not None:
            bad(f"destinations[{position}]", reason)
    new = checked.new
    event_time = new.event_time
    rule = settings.deadline_rule
    deadlines = [choice.platform(d).deadline(d.settings, event_time) for d in targets]
    too_old: dict[str, None] = {}  # in order, once each
    for destination, deadline in zip(targets, deadlines, strict=True):
        if not rule.can_start(now, deadline):
            too_old[f"{rules[destination.id].display_name}: {_age(deadline - event_time)}"] = None
    if too_old:
        bad("event_time", f"is older than the platform accepts ({', '.join(too_old)})")
    if len(violations) > before:
        return None
    if len(targets) < len(candidates):  # the hashes only those left out wanted go
        wanted = {rules[d.id].hash_family for d in targets}
        payload["hashed"] = {f: h for f, h in payload["hashed"].items() if f in wanted}
    return Prepared(new=new.with_payload(payload), destinations=targets, deadlines=deadlines)


def _age(age: dt.timedelta) -> str:
    days, rest = divmod(age, dt.timedelta(days=1))
    if not rest:
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{round(age / dt.timedelta(hours=1))} hours"


def _check_text(value: str, name: str, limit: int, bad: Any) -> None:
    if not value.strip():
        bad(name, "required")
    elif "\x00" in value:
        bad(name, "must not contain NUL characters")
    elif len(value) > limit:
        bad(name, f"at most {limit} characters")
    elif value != value.strip():
        bad(name, "must not start or end with spaces")


# custom_data fields Tenaz has fields of its own for, and checks: `extra` may not carry them,
# or an unchecked value (a currency "ZZZ", a text value) would reach the platform around
# the checks, and Meta would refuse the whole batch it came in.
_OWN_CUSTOM_FIELDS = frozenset({"value", "currency", "order_id", "contents", "content_type"})


def _custom_data(event: EventInput, bad: Any) -> dict[str, Any]:
    custom: dict[str, Any] = dict(event.extra)
    for key, extra_value in event.extra.items():
        if key in _OWN_CUSTOM_FIELDS:
            bad(f"custom_data.extra.{key}", f"set it in its own field, custom_data.{key}")
        elif not all_finite(extra_value):
            bad(f"custom_data.extra.{key}", "numbers must be finite (JSON has no NaN or infinity)")
    if event.value is not None:
        if not math.isfinite(event.value) or event.value < 0:
            bad("custom_data.value", "must be a non-negative number")
        custom["value"] = event.value
        if not event.currency:
            bad("custom_data.currency", "required when value is set (ISO 4217, e.g. BRL)")
    if event.currency:
        currency = event.currency.upper()
        if currency not in ISO_4217:
            bad("custom_data.currency", "must be an ISO 4217 code such as BRL or USD")
        custom["currency"] = currency
    if event.order_id:
        if "\x00" in event.order_id or len(event.order_id) > MAX_ID_LENGTH:
            bad("custom_data.order_id", f"at most {MAX_ID_LENGTH} characters, no NUL")
        custom["order_id"] = event.order_id
    if event.content_type:
        custom["content_type"] = event.content_type
    if event.contents:
        contents = []
        for index, item in enumerate(event.contents):
            if not item.id:
                bad(f"custom_data.contents[{index}].id", "required")
            if item.quantity < 0 or not math.isfinite(item.item_price) or item.item_price < 0:
                bad(f"custom_data.contents[{index}]", "quantity and item_price must be >= 0")
            entry: dict[str, Any] = {"id": item.id}
            if item.quantity:
                entry["quantity"] = item.quantity
            if item.item_price:
                entry["item_price"] = item.item_price
            contents.append(entry)
        custom["contents"] = contents
        custom.setdefault("content_ids", [item.id for item in event.contents])
    return custom
