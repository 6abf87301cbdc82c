"""What every checkout webhook shares: the request as it arrived, what Tenaz reads from it,
and the small readers the checkouts' payloads need (paths, times, names, tracking fields).

A checkout module only reads: it verifies the request with the source's secret and turns the
body into a `Reading` (the checkout's event type and, when Tenaz maps that type, one `Sale`).
Checking, normalising and hashing the buyer's data stay in the submission path
(jobs/validation.py, jobs/pii.py), which a sale goes through exactly as a SubmitEvent does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from jobs.validation import ContentInput

# Tracking parameters a checkout passes through from the sale's link, carried in the event's
# custom data as they came, so reports can split sales by campaign.
UTM_KEYS: Final = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
# Click identifiers the platforms match on, sent in clear (jobs/pii.py CLEAR_FIELDS).
CLICK_IDS: Final = ("fbp", "fbc", "ttclid", "gclid", "gbraid", "wbraid")


class BadPayload(ValueError):
    """The body is not what the checkout sends; the message says what is wrong, never a value."""


@dataclass(frozen=True)
class SignedRequest:
    """A webhook request as it arrived: header names in lower case, the body byte for byte."""

    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    now: dt.datetime


@dataclass(frozen=True)
class Sale:
    """One checkout event as a conversion: what SubmitEvent would take, before any check."""

    event_name: str
    # The checkout's own id of the sale (transaction, order, invoice): with the event name it
    # makes the event id, so the checkout's retries and its second event for one sale
    # (Hotmart's APPROVED, then COMPLETE) are the same event.
    transaction: str
    event_time: dt.datetime | None
    value: float | None = None
    currency: str = ""
    order_id: str = ""
    # SubmitEvent's user_data field names (email, phone, first_name, ..., fbp, fbc).
    user_data: Mapping[str, str] = field(default_factory=dict)
    contents: Sequence[ContentInput] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reading:
    """The checkout's event type, and the sale when Tenaz sends that type (None: acknowledged
    and counted, nothing sent)."""

    event_type: str
    sale: Sale | None


class Checkout(Protocol):
    kind: str
    # The checkout's event type -> Tenaz's event name; a type not here is acknowledged only.
    default_events: Mapping[str, str]

    def verify(self, secret: str, request: SignedRequest) -> bool:
        """Whether the request carries the source's token or a signature made with it."""
        ...

    def read(self, body: Any, events: Mapping[str, str], options: Mapping[str, Any]) -> Reading:
        """The body's event; `events` are the source's names (defaults and overrides)."""
        ...


def same_text(expected: str, given: str) -> bool:
    """Constant-time equality of two texts (a token, a hex signature)."""
    return hmac.compare_digest(expected.encode(), given.encode())


def json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise BadPayload("the body is not JSON") from None


def obj(value: Any, where: str) -> Mapping[str, Any]:
    """`value` as an object; a missing one reads as empty, anything else is a bad payload."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadPayload(f"{where} must be an object")
    return value


def text(value: Any) -> str:
    """A scalar as text ('' for missing, null, objects and lists)."""
    if value is None or isinstance(value, (dict, list, bool)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def number(value: Any, where: str) -> float | None:
    """A money amount: a JSON number or a numeric string; None when missing."""
    if value is None or value == "":
        return None
    try:
        amount = float(value) if isinstance(value, (int, float, str)) else math.nan
    except ValueError:
        amount = math.nan
    if isinstance(value, bool) or not math.isfinite(amount):
        raise BadPayload(f"{where} must be a number")
    return amount


def instant(value: Any, where: str) -> dt.datetime | None:
    """A time as checkouts write it: epoch milliseconds or seconds, or ISO 8601 (a naive one
    is taken as UTC). None when missing."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    raise BadPayload(f"{where} must be a time (ISO 8601 or epoch milliseconds)")


def at_path(document: Any, path: str) -> Any:
    """The value at a JSON pointer ("/data/buyer/email") or a dotted path ("data.items.0.id");
    None where the document has nothing."""
    if path.startswith("/"):
        parts = [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]
    else:
        parts = path.split(".")
    current = document
    for part in parts:
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def name_parts(full_name: str) -> tuple[str, str]:
    """First and last name of a full name ("Maria da Silva" -> Maria, Silva)."""
    words = full_name.split()
    if not words:
        return "", ""
    return words[0], (words[-1] if len(words) > 1 else "")


def buyer_names(first: str, last: str, full: str) -> dict[str, str]:
    if not (first or last):
        first, last = name_parts(full)
    return {k: v for k, v in (("first_name", first), ("last_name", last)) if v}


def tracking(
    parameters: Mapping[str, Any], event_time: dt.datetime | None
) -> tuple[dict[str, str], dict[str, str]]:
    """The click ids (for user_data) and the campaign fields (for custom data) of a checkout's
    tracking parameters.

    Checkouts pass through what the sale's link carried: `fbp`, `fbc`, `ttclid`, `gclid`
    and `utm_*` under their own names; Meta's click id as `fbclid`, which becomes `fbc` in
    the form Meta documents (fb.1.<time in ms>.<fbclid>); `src`, `sck` and `xcod` (the
    checkouts' own tracking fields) as they are. A `_fbp`/`_fbc` cookie pasted into any of
    them is recognised by its "fb." prefix.
    """
    values = {str(k).lower(): text(v) for k, v in parameters.items() if text(v)}
    clicks: dict[str, str] = {k: values[k] for k in CLICK_IDS if k in values}
    campaign: dict[str, str] = {
        k: values[k] for k in (*UTM_KEYS, "src", "sck", "xcod") if k in values
    }
    for key in ("src", "sck", "xcod"):
        value = campaign.get(key, "")
        if value.startswith("fb.") and value.count(".") >= 3:
            # fb.<subdomain>.<creation time>.<random number>: a browser id; else a click id.
            kind = "fbp" if value.rsplit(".", 1)[1].isdigit() else "fbc"
            clicks.setdefault(kind, value)
    if "fbclid" in values and "fbc" not in clicks and event_time is not None:
        clicks["fbc"] = f"fb.1.{int(event_time.timestamp() * 1000)}.{values['fbclid']}"
    return clicks, campaign


def phone_with_code(code: str, number_text: str) -> str:
    """A phone as "+<country code><number>" when the checkout gives the code apart."""
    digits = "".join(c for c in number_text if c.isdigit())
    code_digits = "".join(c for c in code if c.isdigit())
    if not digits:
        return ""
    # Always prefixed: a local number may begin with the code's digits (area code 55).
    return f"+{code_digits}{digits}" if code_digits else number_text


def present(**fields: str) -> dict[str, str]:
    return {k: v for k, v in fields.items() if v}


def cart_id(email: str, products: str, at: dt.datetime | None) -> str:
    """An id for an abandoned cart, which checkouts give none: the buyer, the products and
    the day, which stay the same across the checkout's retries (a retry is a duplicate) and
    tell one day's abandoned cart from another's."""
    day = at.date().isoformat() if at else ""
    return "cart-" + hashlib.sha256("\x1f".join((email, products, day)).encode()).hexdigest()[:24]
