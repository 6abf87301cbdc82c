"""Alert rules, channels and notifications between protobuf and the domain (no secrets out)."""

from __future__ import annotations

from typing import Any

from tenaz.v1 import alerts_pb2

from jobs import alert_rules
from jobs.alert_channels import EMAIL, WEBHOOK, AlertChannel, Notification
from jobs.alerts import AlertStatus, ChannelSpec, RuleSpec
from server.mapping import timestamp

_CONDITIONS = {
    alerts_pb2.ALERT_CONDITION_NEEDS_ACTION: alert_rules.NEEDS_ACTION,
    alerts_pb2.ALERT_CONDITION_SUCCESS_RATE: alert_rules.SUCCESS_RATE,
    alerts_pb2.ALERT_CONDITION_OLDEST_WAITING: alert_rules.OLDEST_WAITING,
}
_CONDITION_ENUMS = {name: value for value, name in _CONDITIONS.items()}
_KINDS = {
    "firing": alerts_pb2.NOTIFICATION_KIND_FIRING,
    "resolved": alerts_pb2.NOTIFICATION_KIND_RESOLVED,
    "test": alerts_pb2.NOTIFICATION_KIND_TEST,
}
_STATES = {
    "pending": alerts_pb2.NOTIFICATION_STATE_PENDING,
    "sent": alerts_pb2.NOTIFICATION_STATE_SENT,
    "failed": alerts_pb2.NOTIFICATION_STATE_FAILED,
}


def rule_spec(message: alerts_pb2.AlertRule) -> RuleSpec:
    return RuleSpec(
        name=message.name,
        condition=_CONDITIONS.get(message.condition, ""),
        destination=message.destination,
        threshold=message.threshold,
        window=(
            message.window.ToTimedelta()
            if message.HasField("window")
            else alert_rules.DEFAULT_WINDOW
        ),
        min_attempts=message.min_attempts or 1,
        recovery=(
            message.recovery.ToTimedelta()
            if message.HasField("recovery")
            else alert_rules.DEFAULT_RECOVERY
        ),
        channels=list(message.channels),
        enabled=message.enabled,
    )


def rule(status: AlertStatus) -> alerts_pb2.AlertRule:
    found = status.rule
    message = alerts_pb2.AlertRule(
        name=found.name,
        condition=_CONDITION_ENUMS.get(found.condition, alerts_pb2.ALERT_CONDITION_UNSPECIFIED),
        destination=found.destination,
        threshold=found.threshold,
        min_attempts=found.min_attempts,
        channels=list(found.channels),
        enabled=found.enabled,
        firing=list(status.firing),
    )
    message.window.FromTimedelta(found.window)
    message.recovery.FromTimedelta(found.recovery)
    return message


def channel_spec(message: alerts_pb2.AlertChannel) -> ChannelSpec:
    kind = message.WhichOneof("kind") or ""
    settings: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    if kind == WEBHOOK:
        settings = {"url": message.webhook.url} if message.webhook.url else {}
        secrets = {"signing_secret": message.webhook.signing_secret}
    elif kind == EMAIL:
        given = message.email
        settings = {
            "host": given.host,
            "port": given.port,
            "username": given.username,
            "sender": given.sender,
            "recipients": list(given.recipients),
        }
        secrets = {"password": given.password}
    return ChannelSpec(name=message.name, kind=kind, settings=settings, secrets=secrets)


def changed_settings(spec: ChannelSpec) -> dict[str, Any]:
    """An update's settings: the fields given (empty ones keep their values)."""
    return {name: value for name, value in spec.settings.items() if value not in ("", 0, [])}


def channel(found: AlertChannel) -> alerts_pb2.AlertChannel:
    settings = found.settings
    has_secret = bool(found.secret)
    message = alerts_pb2.AlertChannel(name=found.name)
    if found.kind == WEBHOOK:
        message.webhook.url = str(settings.get("url", ""))
        message.webhook.signing_secret_set = has_secret
    elif found.kind == EMAIL:
        message.email.host = str(settings.get("host", ""))
        message.email.port = int(settings.get("port") or 0)
        message.email.username = str(settings.get("username", ""))
        message.email.sender = str(settings.get("sender", ""))
        message.email.recipients.extend(str(r) for r in settings.get("recipients", []))
        message.email.password_set = has_secret
    return message


def notification(found: Notification) -> alerts_pb2.Notification:
    return alerts_pb2.Notification(
        id=found.id,
        channel=found.channel_name,
        rule=found.rule_name,
        destination=found.destination_name,
        kind=_KINDS.get(found.kind, alerts_pb2.NOTIFICATION_KIND_UNSPECIFIED),
        text=found.text,
        state=_STATES.get(found.state, alerts_pb2.NOTIFICATION_STATE_UNSPECIFIED),
        attempts=found.attempts,
        last_error=found.last_error,
        created_at=timestamp(found.created_at),
        sent_at=timestamp(found.sent_at),
    )
