"""What Tenaz knows about each destination kind that is not the connector itself.

The Meta connector (jobs/platforms/meta.py) holds Meta's own defaults; everything else reads
them from here.
"""

from __future__ import annotations

import datetime as dt

from jobs.platforms.meta import DEFAULT_API_VERSION, DEFAULT_BASE_URL

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

META_DEFAULT_API_VERSION = DEFAULT_API_VERSION
META_DEFAULT_BASE_URL = DEFAULT_BASE_URL

# Where each platform's API lives: base URLs any destination may use. Others need the
# operator's TENAZ_ALLOWED_PLATFORM_URLS (see jobs/egress.py).
OFFICIAL_BASE_URLS: dict[str, tuple[str, ...]] = {"meta": (META_DEFAULT_BASE_URL,)}

# The settings that say where a destination's secret is sent (the host, and the account
# it acts on): changing one needs the secret again, so a secret only ever goes where it
# was given for.
SECRET_TARGET_SETTINGS: dict[str, tuple[str, ...]] = {"meta": ("base_url", "pixel_id")}


def deadline_for(kind: str, event_time: dt.datetime) -> dt.datetime:
    return event_time + MAX_EVENT_AGE[kind]
