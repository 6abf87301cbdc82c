"""A generic JSON webhook: the operator says where each field is in the sender's JSON, and
the sender signs as Standard Webhooks says (jobs/platforms/standard_webhooks.py).

The source's `fields` map Tenaz's fields to JSON pointers ("/data/buyer/email") or dotted
paths ("data.buyer.email"); `event_type` and `event_id` are required, and the source's event
names say which of the sender's types become which conversion (none by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from jobs.checkouts.base import (
    CLICK_IDS,
    UTM_KEYS,
    BadPayload,
    Reading,
    Sale,
    SignedRequest,
    at_path,
    buyer_names,
    instant,
    number,
    present,
    text,
    tracking,
)
from jobs.platforms import standard_webhooks

REQUIRED_FIELDS: Final = ("event_type", "event_id")
_USER_FIELDS: Final = (
    *("email", "phone", "city", "state", "zip", "country", "external_id"),
    *("client_ip_address", "client_user_agent"),
)
_TRACKING_FIELDS: Final = (*CLICK_IDS, "fbclid", *UTM_KEYS, "src", "sck", "xcod")
FIELDS: Final = frozenset(
    {
        *REQUIRED_FIELDS,
        *("event_time", "value", "currency", "order_id"),
        *("first_name", "last_name", "full_name"),
        *_USER_FIELDS,
        *_TRACKING_FIELDS,
    }
)


def fields_problem(fields: Mapping[str, str]) -> str | None:
    """What is wrong with a generic source's field paths, or None."""
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        return f"unknown field {unknown[0]!r}; the fields are {', '.join(sorted(FIELDS))}"
    missing = [f for f in REQUIRED_FIELDS if not fields.get(f, "").strip()]
    if missing:
        return f"{' and '.join(missing)} must say where they are in the JSON"
    return None


class Generic:
    kind = "generic"
    default_events: Mapping[str, str] = {}

    def verify(self, secret: str, request: SignedRequest) -> bool:
        try:
            key = standard_webhooks.decode_secret(secret)
        except ValueError:
            return False
        timestamp = request.headers.get("webhook-timestamp", "")
        if not timestamp.isascii() or not timestamp.isdigit():
            return False
        skew = abs(int(timestamp) - request.now.timestamp())
        return skew <= standard_webhooks.TOLERANCE_SECONDS and standard_webhooks.verify(
            key,
            request.headers.get("webhook-id", ""),
            timestamp,
            request.body,
            request.headers.get("webhook-signature", ""),
        )

    def read(self, body: Any, events: Mapping[str, str], options: Mapping[str, Any]) -> Reading:
        paths: Mapping[str, str] = options.get("fields", {})

        def value(field: str) -> Any:
            path = paths.get(field, "")
            return at_path(body, path) if path else None

        event_type = text(value("event_type"))
        if not event_type:
            raise BadPayload(f"no event type at {paths.get('event_type')!r}")
        event_name = events.get(event_type, "")
        if not event_name:
            return Reading(event_type, None)
        transaction = text(value("event_id"))
        if not transaction:
            raise BadPayload(f"no event id at {paths.get('event_id')!r}")
        event_time = instant(value("event_time"), paths.get("event_time", "event_time"))
        clicks, campaign = tracking(
            {f: value(f) for f in _TRACKING_FIELDS if f in paths}, event_time
        )
        user = present(**{f: text(value(f)) for f in _USER_FIELDS})
        user |= buyer_names(
            text(value("first_name")), text(value("last_name")), text(value("full_name"))
        )
        return Reading(
            event_type,
            Sale(
                event_name=event_name,
                transaction=transaction,
                event_time=event_time,
                value=number(value("value"), paths.get("value", "value")),
                currency=text(value("currency")),
                order_id=text(value("order_id")),
                user_data=user | clicks,
                extra=campaign,
            ),
        )
