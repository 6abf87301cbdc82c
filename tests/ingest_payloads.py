"""Events as the ingest server's HTTP edges receive them, made up for tests (no real
customer's data): EventService's JSON over Connect, and the Conversions API's `data`."""

from __future__ import annotations

from typing import Any

from jobs.clock import FakeClock

EMAIL = "cliente@example.com"


def connect_purchase(clock: FakeClock, event_id: str, **fields: Any) -> dict[str, Any]:
    """An event as a person writes it in JSON: lowerCamelCase names, RFC 3339 time."""
    return {
        "eventId": event_id,
        "eventName": "Purchase",
        "eventTime": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "userData": {"email": EMAIL},
        "customData": {"value": 197.0, "currency": "BRL"},
        **fields,
    }


def graph_event(clock: FakeClock, event_id: str, **user: Any) -> dict[str, Any]:
    """A server event of the Conversions API's `data`, its e-mail as a tool may send it raw."""
    return {
        "event_name": "Lead",
        "event_time": int(clock.now().timestamp()),
        "event_id": event_id,
        "action_source": "system_generated",
        "user_data": user or {"em": [" Cliente@Example.com "]},
    }
