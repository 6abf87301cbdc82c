"""What Tenaz knows about each destination kind that is not the connector itself."""

from __future__ import annotations

import datetime as dt

KINDS = ("meta", "sandbox")

# How old an event_time each platform still accepts (Meta: 7 days; one older
# event makes Meta reject the whole request). The sandbox behaves like Meta.
MAX_EVENT_AGE: dict[str, dt.timedelta] = {
    "meta": dt.timedelta(days=7),
    "sandbox": dt.timedelta(days=7),
}

# Meta's documented action_source values.
ACTION_SOURCES = frozenset(
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

META_DEFAULT_API_VERSION = "v25.0"
META_DEFAULT_BASE_URL = "https://graph.facebook.com"


def deadline_for(kind: str, event_time: dt.datetime) -> dt.datetime:
    return event_time + MAX_EVENT_AGE[kind]
