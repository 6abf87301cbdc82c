"""Tenaz's own shape of an event: what is stored, and what every platform module reads.

Events are stored once, in this shape, whatever platforms they go to; each platform module
turns it into its wire format when it sends (`Platform.build` in jobs/platforms/registry.py).
Personal data is in it only as hashes, one set per hashing family of the destinations the
event was delivered to (jobs/pii.py):

    {
      "event_name": "Purchase",           Tenaz's name; a destination maps it to the
      "event_time": 1700000000,           platform's (Destination.event_names)
      "event_id": "order-1",
      "action_source": "website",         Meta's vocabulary, which platforms map to theirs
      "event_source_url": "https://...",  optional
      "identifiers": {                    sent as they are: browser and click ids
        "client_ip_address": "...", "client_user_agent": "...", "fbc": "...", "ttclid": "..."
      },
      "hashed": {                         per hashing family, SHA-256 hex
        "meta": {"em": "...", "ph": "..."}, "tiktok": {"email": "..."}
      },
      "custom_data": {                    value, currency, order_id, contents, content_type,
        "value": 10.5, "currency": "BRL", content_ids, and the caller's `extra` keys
        "contents": [{"id": "sku-1", "quantity": 1, "item_price": 10.5}]
      }
    }

Events stored before this shape (Meta's own `user_data`) are converted by migration 0014.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from jobs.pii import CLEAR_FIELDS, FAMILY_KEYS

# The action_source values Tenaz takes: Meta's documented list, which every platform module
# maps onto its own vocabulary.
ACTION_SOURCES: Final = frozenset(
    {
        "website",
        "app",
        "email",
        "phone_call",
        "chat",
        "physical_store",
        "system_generated",
        "business_messaging",
        "other",
    }
)


def _mapping(value: Any) -> Mapping[str, Any]:
    # A payload read from the database is made of dicts: their exact type is checked first,
    # since an isinstance against the Mapping ABC costs several times as much.
    return value if type(value) is dict or isinstance(value, Mapping) else {}


# Not frozen: a submission reads each event through one, and so does an attempt, and a
# frozen dataclass costs three times as much to build. Nothing changes one after it is built.
@dataclass(slots=True)
class CanonicalEvent:
    """Read access to a stored event's payload; missing parts read as empty."""

    payload: Mapping[str, Any]

    @property
    def event_name(self) -> str:
        return str(self.payload.get("event_name", ""))

    @property
    def event_id(self) -> str:
        return str(self.payload.get("event_id", ""))

    @property
    def event_time(self) -> int:
        """Unix seconds."""
        value = self.payload.get("event_time", 0)
        return value if isinstance(value, int) else 0

    @property
    def event_datetime(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.event_time, dt.UTC)

    @property
    def action_source(self) -> str:
        return str(self.payload.get("action_source", ""))

    @property
    def event_source_url(self) -> str:
        return str(self.payload.get("event_source_url", ""))

    @property
    def identifiers(self) -> Mapping[str, str]:
        return _mapping(self.payload.get("identifiers"))

    def hashed(self, family: str) -> Mapping[str, str]:
        """The hashed identifiers of one family (jobs/pii.FAMILIES); empty if not computed."""
        return _mapping(_mapping(self.payload.get("hashed")).get(family))

    def customer_data(self) -> dict[str, str]:
        """What is stored of the customer, by the caller's field names: each personal field's
        hash (from the first family that has it: the hashes differ by platform) and the
        identifiers as they are."""
        shown = {k: str(v) for k, v in self.identifiers.items() if k in CLEAR_FIELDS}
        for family, keys in FAMILY_KEYS.items():
            hashed = self.hashed(family)
            for field_name, key in keys.items():
                if key in hashed and field_name not in shown:
                    shown[field_name] = str(hashed[key])
        return shown

    @property
    def custom_data(self) -> Mapping[str, Any]:
        return _mapping(self.payload.get("custom_data"))

    @property
    def value(self) -> float | None:
        value = self.custom_data.get("value")
        return (
            float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        )

    @property
    def currency(self) -> str:
        return str(self.custom_data.get("currency", ""))

    @property
    def order_id(self) -> str:
        return str(self.custom_data.get("order_id", ""))

    @property
    def contents(self) -> list[Mapping[str, Any]]:
        contents = self.custom_data.get("contents")
        return [c for c in contents if isinstance(c, Mapping)] if isinstance(contents, list) else []

    @property
    def content_type(self) -> str:
        return str(self.custom_data.get("content_type", ""))

    @property
    def extra(self) -> Mapping[str, Any]:
        """The caller's own custom_data keys (those Tenaz has no field for)."""
        return {k: v for k, v in self.custom_data.items() if k not in OWN_CUSTOM_FIELDS}


# custom_data keys Tenaz fills from fields of its own; the rest came from the caller's `extra`.
OWN_CUSTOM_FIELDS: Final = frozenset(
    {"value", "currency", "order_id", "contents", "content_type", "content_ids"}
)
