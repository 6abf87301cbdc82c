"""The dashboard's JSON: domain rows turned into plain dicts for the page.

Times are ISO 8601 in UTC (the page shows them in the reader's zone), ids are
strings as in the gRPC API, statuses are the English names (the page labels
them). Customer data is stored hashed and is never sent: an event says only
which customer fields it carried.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jobs.alert_channels import AlertChannel, Notification
from jobs.alerts import AlertStatus
from jobs.canonical import CanonicalEvent
from jobs.model import Attempt, ChangeView, Delivery, Event, OperationRow
from jobs.platforms import registry
from jobs.platforms.base import ACTIONS
from jobs.platforms.registry import platform_name
from jobs.retry_policy import DeadlineRule
from jobs.stats import OUTCOMES, Stats
from jobs.status import LABELS_EN, LABELS_PT_BR, TERMINAL, FailureReason, Status

JSON = dict[str, Any]


def iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def status_model() -> JSON:
    return {
        "statuses": [
            {
                "name": status.value,
                "labels": {"pt-BR": LABELS_PT_BR[status], "en": LABELS_EN[status]},
                "terminal": status in TERMINAL,
            }
            for status in Status
        ],
        # What an operator must do about a destination that needs action, by code.
        "actions": [
            {"name": code, "labels": {"pt-BR": pt, "en": en}} for code, (pt, en) in ACTIONS.items()
        ],
    }


def event(row: Event, now: dt.datetime, rule: DeadlineRule, *, with_attempts: bool) -> JSON:
    payload = row.payload
    custom = payload.get("custom_data", {})
    return {
        "id": str(row.id),
        "event_id": row.event_id,
        "event_name": row.event_name,
        "event_time": iso(row.event_time),
        "received_at": iso(row.received_at),
        "order_id": str(custom.get("order_id", "")),
        "value": custom.get("value"),
        "currency": custom.get("currency", ""),
        "action_source": payload.get("action_source", ""),
        "customer_fields": sorted(CanonicalEvent(payload).customer_data()),
        "deliveries": [delivery(d, now, rule, with_attempts=with_attempts) for d in row.deliveries],
    }


def secret_fields(kind: str) -> list[JSON]:
    found = registry.platforms().get(kind)
    settings = found.secret_settings if found is not None else ()
    return [{"name": s.name, "label": s.help} for s in settings]


def delivery(row: Delivery, now: dt.datetime, rule: DeadlineRule, *, with_attempts: bool) -> JSON:
    status = Status(row.status)
    encoded: JSON = {
        "id": str(row.id),
        "destination": row.destination_name,
        "platform": row.destination_kind,
        "platform_name": platform_name(row.destination_kind),
        "status": status.value,
        "failure_reason": row.failure_reason,
        "attempt_count": row.attempt_count,
        "next_attempt_at": iso(row.next_attempt_at),
        "deadline": iso(row.deadline),
        "last_error": row.last_error,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        # Hints for the buttons; the operation service decides and reports skips.
        "can_retry": status in (Status.FAILED, Status.WAITING_RETRY)
        and row.failure_reason != FailureReason.DESTINATION_DELETED
        and rule.can_start(now, row.deadline),
        "can_cancel": status is Status.WAITING_RETRY,
    }
    if with_attempts:
        encoded["attempts"] = [attempt(a) for a in row.attempts]
    return encoded


def attempt(row: Attempt) -> JSON:
    return {
        "number": row.number,
        "trigger": row.trigger,
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "outcome": row.outcome,
        "http_status": row.http_status,
        "platform_code": row.platform_code,
        "platform_subcode": row.platform_subcode,
        "message": row.message,
        "response_excerpt": row.response_excerpt,
    }


def stats(result: Stats) -> JSON:
    totals = dict.fromkeys((s.value for s in Status), 0)
    for _, status, count in result.counts:
        totals[status] = totals.get(status, 0) + count
    bucket = result.bucket
    return {
        "since": iso(result.since),
        "until": iso(result.until),
        "bucket_seconds": bucket.total_seconds(),
        "counts": totals,
        "counts_by_destination": [
            {"destination": name, "status": status, "count": count}
            for name, status, count in result.counts
        ],
        "success_rate": result.success_rate,
        "outcomes": list(OUTCOMES),
        "attempts": [
            {"start": iso(result.since + index * bucket), **outcomes}
            for index, outcomes in enumerate(result.attempts)
        ],
        "destinations": [
            {
                "name": d.name,
                "health": d.health,
                "reason": d.reason,
                "action": d.action,
                "platform": d.kind,
                "platform_name": platform_name(d.kind),
                # The secrets an operator may set again, by name, with what each is.
                "secrets": secret_fields(d.kind),
                "waiting_retry": d.waiting_retry,
                "success_rate": d.success_rate,
                "last_success_at": iso(d.last_success_at),
                "last_failure_at": iso(d.last_failure_at),
            }
            for d in result.destinations
        ],
    }


def change(row: ChangeView) -> JSON:
    return {
        "sequence": row.seq,
        "event_id": str(row.event_id),
        "client_event_id": row.client_event_id,
        "event_name": row.event_name,
        "delivery_id": str(row.delivery_id),
        "destination": row.destination,
        "from_status": row.from_status,
        "to_status": row.to_status,
        "at": iso(row.at),
        "attempt_number": row.attempt_number,
        "error": row.error,
    }


def operation(row: OperationRow) -> JSON:
    return {
        "id": str(row.id),
        "kind": row.kind,
        "state": row.state,
        "total": row.total,
        "processed": row.processed,
        "changed": row.changed,
        "skipped": row.skipped,
    }


def alert_rule(status: AlertStatus) -> dict[str, Any]:
    """A rule, with the destinations it fires for now."""
    rule = status.rule
    return {
        "name": rule.name,
        "condition": rule.condition,
        "destination": rule.destination,
        "threshold": rule.threshold,
        "window_seconds": rule.window.total_seconds(),
        "min_attempts": rule.min_attempts,
        "recovery_seconds": rule.recovery.total_seconds(),
        "channels": list(rule.channels),
        "enabled": rule.enabled,
        "firing": list(status.firing),
    }


def alert_channel(channel: AlertChannel) -> dict[str, Any]:
    """A channel and where it reaches (never a secret)."""
    return {
        "name": channel.name,
        "kind": channel.kind,
        "target": (
            str(channel.settings.get("url", ""))
            if channel.kind == "webhook"
            else ", ".join(str(to) for to in channel.settings.get("recipients", []))
        ),
    }


def alerts(
    rules: list[AlertStatus], channels: list[AlertChannel], notifications: list[Notification]
) -> dict[str, Any]:
    """The alerts panel: rules with where they fire, channels (never a secret), history."""
    return {
        "rules": [alert_rule(r) for r in rules],
        "channels": [alert_channel(c) for c in channels],
        "notifications": [
            {
                "id": n.id,
                "kind": n.kind,
                "rule": n.rule_name,
                "destination": n.destination_name,
                "channel": n.channel_name,
                "text": n.text,
                "state": n.state,
                "attempts": n.attempts,
                "last_error": n.last_error,
                "created_at": iso(n.created_at),
                "sent_at": iso(n.sent_at),
            }
            for n in notifications
        ],
    }
