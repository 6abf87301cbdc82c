"""`tenaz alerts rules | channels | history | test`: who is told when a destination is in
trouble, and what was sent.

Rules and channels are managed over gRPC with an admin key. Channel secrets never travel as
option values (they would land in the shell's history and in `ps`): a webhook's signing secret
comes from TENAZ_ALERT_WEBHOOK_SECRET and an SMTP password from TENAZ_ALERT_SMTP_PASSWORD, or
from a prompt that does not echo them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import sys
from collections.abc import Callable
from typing import Any

from google.protobuf import duration_pb2
from tenaz.v1 import alerts_pb2

from jobs.settings import SettingsError, parse_duration
from server.cli.connection import connect
from server.cli.errors import CliError, UsageError
from server.cli.output import Output, cell, format_interval, local_time, message_dict, table

WEBHOOK_SECRET_VARIABLE = "TENAZ_ALERT_WEBHOOK_SECRET"  # noqa: S105 - a variable's name
SMTP_PASSWORD_VARIABLE = "TENAZ_ALERT_SMTP_PASSWORD"  # noqa: S105 - a variable's name
CONDITIONS = {
    "needs_action": alerts_pb2.ALERT_CONDITION_NEEDS_ACTION,
    "success_rate": alerts_pb2.ALERT_CONDITION_SUCCESS_RATE,
    "oldest_waiting": alerts_pb2.ALERT_CONDITION_OLDEST_WAITING,
}
_CONDITION_NAMES = {value: name for name, value in CONDITIONS.items()}
_KINDS = {
    alerts_pb2.NOTIFICATION_KIND_FIRING: "firing",
    alerts_pb2.NOTIFICATION_KIND_RESOLVED: "resolved",
    alerts_pb2.NOTIFICATION_KIND_TEST: "test",
}
_STATES = {
    alerts_pb2.NOTIFICATION_STATE_PENDING: ("pending", "yellow"),
    alerts_pb2.NOTIFICATION_STATE_SENT: ("sent", "green"),
    alerts_pb2.NOTIFICATION_STATE_FAILED: ("failed", "red"),
}


def parse_span(text: str) -> dt.timedelta:
    """A window or recovery time: "15m", "30s", "0"."""
    try:
        return parse_duration(text, name="duration")
    except SettingsError as exc:
        raise ValueError(str(exc)) from None


def _duration(value: dt.timedelta) -> duration_pb2.Duration:
    message = duration_pb2.Duration()
    message.FromTimedelta(value)
    return message


def _secret(variable: str, what: str, *, required: bool) -> str:
    value = os.environ.get(variable, "").strip()
    if not value and sys.stdin.isatty():
        value = getpass.getpass(f"{what} (not shown): ").strip()
    if not value and required:
        raise CliError(f"put the {what} in {variable}, or run in a terminal to type it")
    return value


# -- rules ------------------------------------------------------------------------------------


def _threshold_text(rule: alerts_pb2.AlertRule) -> str:
    if rule.condition == alerts_pb2.ALERT_CONDITION_SUCCESS_RATE:
        return (
            f"under {rule.threshold:.0%} in {format_interval(rule.window.ToTimedelta())}"
            f" (min {rule.min_attempts} attempts)"
        )
    if rule.condition == alerts_pb2.ALERT_CONDITION_OLDEST_WAITING:
        return f"older than {format_interval(dt.timedelta(seconds=rule.threshold))}"
    return ""


async def list_rules(args: argparse.Namespace, out: Output) -> None:
    async with connect(args) as tenaz:
        found = await tenaz.list_alert_rules()
    if out.as_json:
        out.json({"rules": [message_dict(r) for r in found]})
        return
    if not found:
        out.note("no alert rules yet: tenaz alerts rules create NAME --condition needs_action ...")
        return
    grid = table("name", "condition", "destination", "threshold", "recovery", "channels", "firing")
    for r in found:
        grid.add_row(
            cell(r.name, "" if r.enabled else "dim"),
            cell(_CONDITION_NAMES.get(r.condition, "?")),
            cell(r.destination or "all"),
            cell(_threshold_text(r)),
            cell(format_interval(r.recovery.ToTimedelta())),
            cell(", ".join(r.channels)),
            cell(", ".join(r.firing), "bold red" if r.firing else ""),
        )
    out.print(grid)


def _apply_rule_options(rule: alerts_pb2.AlertRule, args: argparse.Namespace) -> None:
    if args.condition is not None:
        rule.condition = CONDITIONS[args.condition]
    if args.destination is not None:
        rule.destination = args.destination
    if args.threshold is not None:
        rule.threshold = args.threshold
    if args.window is not None:
        rule.window.CopyFrom(_duration(args.window))
    if args.recovery is not None:
        rule.recovery.CopyFrom(_duration(args.recovery))
    if args.min_attempts is not None:
        rule.min_attempts = args.min_attempts
    if args.channel is not None:
        del rule.channels[:]
        rule.channels.extend(args.channel)
    if args.enabled is not None:
        rule.enabled = args.enabled


async def create_rule(args: argparse.Namespace, out: Output) -> None:
    if args.condition is None:
        raise UsageError("--condition is required: " + ", ".join(CONDITIONS))
    rule = alerts_pb2.AlertRule(name=args.name, enabled=True)
    _apply_rule_options(rule, args)
    async with connect(args) as tenaz:
        created = await tenaz.create_alert_rule(rule)
    _report(out, created, f"created alert rule {created.name!r}")


async def update_rule(args: argparse.Namespace, out: Output) -> None:
    async with connect(args) as tenaz:
        found = {r.name: r for r in await tenaz.list_alert_rules()}
        if args.name not in found:
            raise CliError(f"no alert rule named {args.name!r}")
        rule = found[args.name]
        del rule.firing[:]
        _apply_rule_options(rule, args)
        updated = await tenaz.update_alert_rule(rule)
    _report(out, updated, f"updated alert rule {updated.name!r}")


async def delete_rule(args: argparse.Namespace, out: Output) -> None:
    async with connect(args) as tenaz:
        await tenaz.delete_alert_rule(args.name)
    if out.as_json:
        out.json({"deleted": args.name})
    else:
        out.print(cell(f"deleted alert rule {args.name!r}"))


# -- channels ---------------------------------------------------------------------------------


def _channel_settings(channel: alerts_pb2.AlertChannel) -> str:
    if channel.HasField("webhook"):
        signed = "signed" if channel.webhook.signing_secret_set else "no signing secret"
        return f"{channel.webhook.url} ({signed})"
    given = channel.email
    login = f"{given.username}@" if given.username else ""
    return f"smtp://{login}{given.host}:{given.port} from {given.sender} to " + ", ".join(
        given.recipients
    )


async def list_channels(args: argparse.Namespace, out: Output) -> None:
    async with connect(args) as tenaz:
        found = await tenaz.list_alert_channels()
    if out.as_json:
        out.json({"channels": [channel_dict(c) for c in found]})
        return
    if not found:
        out.note("no alert channels yet: tenaz alerts channels create-webhook NAME --url URL")
        return
    grid = table("name", "kind", "settings")
    for c in found:
        grid.add_row(cell(c.name), cell(c.WhichOneof("kind")), cell(_channel_settings(c)))
    out.print(grid)


def channel_dict(channel: alerts_pb2.AlertChannel) -> dict[str, Any]:
    """The channel as JSON, without the write-only secret fields (always empty)."""
    data = message_dict(channel)
    data.get("webhook", {}).pop("signing_secret", None)
    data.get("email", {}).pop("password", None)
    return data


def _email_options(settings: alerts_pb2.EmailChannelSettings, args: argparse.Namespace) -> None:
    for name in ("host", "port", "username", "sender"):
        value = getattr(args, name)
        if value is not None:
            setattr(settings, name, value)
    if args.to is not None:
        settings.recipients.extend(args.to)


async def create_webhook(args: argparse.Namespace, out: Output) -> None:
    secret = _secret(WEBHOOK_SECRET_VARIABLE, "webhook signing secret (whsec_...)", required=True)
    channel = alerts_pb2.AlertChannel(
        name=args.name,
        webhook=alerts_pb2.WebhookChannelSettings(url=args.url, signing_secret=secret),
    )
    async with connect(args) as tenaz:
        created = await tenaz.create_alert_channel(channel)
    _report(out, created, f"created webhook alert channel {created.name!r}")


async def create_email(args: argparse.Namespace, out: Output) -> None:
    channel = alerts_pb2.AlertChannel(name=args.name)
    _email_options(channel.email, args)
    if args.username:
        channel.email.password = _secret(SMTP_PASSWORD_VARIABLE, "SMTP password", required=True)
    async with connect(args) as tenaz:
        created = await tenaz.create_alert_channel(channel)
    _report(out, created, f"created e-mail alert channel {created.name!r}")


async def update_channel(args: argparse.Namespace, out: Output) -> None:
    async with connect(args) as tenaz:
        found = {c.name: c for c in await tenaz.list_alert_channels()}
        if args.name not in found:
            raise CliError(f"no alert channel named {args.name!r}")
        channel = alerts_pb2.AlertChannel(name=args.name)
        if found[args.name].HasField("webhook"):
            channel.webhook.url = args.url or ""
            if args.new_secret:
                channel.webhook.signing_secret = _secret(
                    WEBHOOK_SECRET_VARIABLE, "webhook signing secret (whsec_...)", required=True
                )
        else:
            _email_options(channel.email, args)
            if args.new_secret:
                channel.email.password = _secret(
                    SMTP_PASSWORD_VARIABLE, "SMTP password", required=True
                )
        updated = await tenaz.update_alert_channel(channel)
    _report(out, updated, f"updated alert channel {updated.name!r}")


async def delete_channel(args: argparse.Namespace, out: Output) -> None:
    async with connect(args) as tenaz:
        await tenaz.delete_alert_channel(args.name)
    if out.as_json:
        out.json({"deleted": args.name})
    else:
        out.print(cell(f"deleted alert channel {args.name!r}"))


# -- history and tests ------------------------------------------------------------------------


def _notification_row(n: alerts_pb2.Notification) -> list[Any]:
    state, style = _STATES.get(n.state, ("?", ""))
    sent = n.sent_at.ToDatetime(dt.UTC) if n.HasField("sent_at") else None
    return [
        cell(local_time(n.created_at.ToDatetime(dt.UTC))),
        cell(
            _KINDS.get(n.kind, "?"), "bold" if n.kind == alerts_pb2.NOTIFICATION_KIND_FIRING else ""
        ),
        cell(n.rule or "-"),
        cell(n.destination or "-"),
        cell(n.channel),
        cell(state, style),
        cell(n.attempts),
        cell(local_time(sent)),
        cell(n.last_error, "red" if n.last_error else ""),
    ]


async def history(args: argparse.Namespace, out: Output) -> None:
    async with connect(args) as tenaz:
        found = await tenaz.list_notifications(page_size=args.limit)
    if out.as_json:
        out.json({"notifications": [message_dict(n) for n in found]})
        return
    if not found:
        out.note("no notifications yet")
        return
    grid = table(
        "at", "kind", "rule", "destination", "channel", "state", "tries", "sent", "last error"
    )
    for n in found:
        grid.add_row(*_notification_row(n))
    out.print(grid)


async def test(args: argparse.Namespace, out: Output) -> None:
    async with connect(args) as tenaz:
        sent = await tenaz.test_alert_channel(args.channel)
    if out.as_json:
        out.json(message_dict(sent))
    elif sent.state == alerts_pb2.NOTIFICATION_STATE_SENT:
        out.print(cell(f"sent a test notification over {args.channel!r}", "green"))
    if sent.state != alerts_pb2.NOTIFICATION_STATE_SENT:
        raise CliError(f"the test notification over {args.channel!r} failed: {sent.last_error}")


def _report(out: Output, message: Any, text: str) -> None:
    if out.as_json:
        is_channel = isinstance(message, alerts_pb2.AlertChannel)
        out.json(channel_dict(message) if is_channel else message_dict(message))
    else:
        out.print(cell(text))


# -- the commands -----------------------------------------------------------------------------


def add_commands(
    sub: Any,
    command: Callable[..., argparse.ArgumentParser],
    parents: tuple[argparse.ArgumentParser, ...],
    span: Callable[[str], Any],
) -> None:
    alerts = sub.add_parser("alerts", help="alert rules, their channels, and what was sent")
    alerts_sub = alerts.add_subparsers(dest="area", required=True, metavar="AREA")

    rules = alerts_sub.add_parser("rules", help="what to watch on destinations")
    rules_sub = rules.add_subparsers(dest="action", required=True, metavar="ACTION")
    command(rules_sub, "list", list_rules, "alert rules, and where they fire now", parents)
    for name, handler, text in (
        ("create", create_rule, "add an alert rule"),
        ("update", update_rule, "change an alert rule (only the options given)"),
    ):
        p = command(rules_sub, name, handler, text, parents)
        p.add_argument("name")
        p.add_argument("--condition", choices=list(CONDITIONS))
        p.add_argument("--destination", help="only this destination (default: every one)")
        p.add_argument(
            "--threshold",
            type=float,
            help="success_rate: the lowest healthy fraction, e.g. 0.9; oldest_waiting: seconds",
        )
        p.add_argument("--window", type=span, help="success_rate: counted over, e.g. 15m")
        p.add_argument("--min-attempts", type=int, help="success_rate: fewer count as clear")
        p.add_argument("--recovery", type=span, help="clear this long before resolving, e.g. 5m")
        p.add_argument("--channel", action="append", help="a channel to notify; repeat")
        enabling = p.add_mutually_exclusive_group()
        enabling.add_argument("--enable", dest="enabled", action="store_const", const=True)
        enabling.add_argument("--disable", dest="enabled", action="store_const", const=False)
    p = command(rules_sub, "delete", delete_rule, "delete an alert rule", parents)
    p.add_argument("name")

    channels = alerts_sub.add_parser("channels", help="where notifications go")
    channels_sub = channels.add_subparsers(dest="action", required=True, metavar="ACTION")
    command(channels_sub, "list", list_channels, "alert channels (never their secrets)", parents)
    p = command(
        channels_sub,
        "create-webhook",
        create_webhook,
        f"add a signed webhook channel; its secret from {WEBHOOK_SECRET_VARIABLE} or a prompt",
        parents,
    )
    p.add_argument("name")
    p.add_argument("--url", required=True, help="the https URL notifications are POSTed to")
    p = command(
        channels_sub,
        "create-email",
        create_email,
        f"add an e-mail channel (SMTP with STARTTLS); a password from {SMTP_PASSWORD_VARIABLE}",
        parents,
    )
    p.add_argument("name")
    _add_email_options(p, required=True)
    p = command(channels_sub, "update", update_channel, "change an alert channel", parents)
    p.add_argument("name")
    p.add_argument("--url", help="webhook: the new URL")
    _add_email_options(p, required=False)
    p.add_argument(
        "--new-secret",
        action="store_true",
        help=f"replace the secret (from {WEBHOOK_SECRET_VARIABLE} / {SMTP_PASSWORD_VARIABLE})",
    )
    p = command(channels_sub, "delete", delete_channel, "delete an unused channel", parents)
    p.add_argument("name")

    p = command(
        alerts_sub, "history", history, "notifications sent or tried, newest first", parents
    )
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    p = command(alerts_sub, "test", test, "send a test notification over a channel", parents)
    p.add_argument("channel")


def _add_email_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--host", required=required, help="e-mail: the SMTP server")
    p.add_argument("--port", type=int, help="e-mail: its port (default 587)")
    p.add_argument("--username", help="e-mail: the SMTP login")
    p.add_argument("--sender", required=required, help="e-mail: the From address")
    p.add_argument("--to", action="append", required=required, help="e-mail: a recipient; repeat")
