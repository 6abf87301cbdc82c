"""`tenaz destinations list | create-<platform> | update | delete`.

There is a `create-<platform>` for every platform Tenaz knows (jobs/platforms/registry.py),
its options named after the platform's settings (`create-tiktok NAME --pixel-code X`).
Secrets never travel as option values, which would land in the shell's history and in `ps`:
each comes from TENAZ_<PLATFORM>_<SECRET> (TENAZ_META_ACCESS_TOKEN, TENAZ_GOOGLE_ADS_
REFRESH_TOKEN, ...), or from a prompt that does not echo it.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from typing import Any

from rich.text import Text
from tenaz.v1 import destinations_pb2, events_pb2

from jobs.platforms import registry
from jobs.platforms.registry import Platform, Setting
from server.cli.connection import connect
from server.cli.errors import CliError, UsageError
from server.cli.output import (
    Output,
    cell,
    format_interval,
    health_text,
    message_dict,
    needs_action_text,
    table,
)

# What a deletion makes of the deliveries the destination had not finished.
DELETED = events_pb2.Delivery(
    status=events_pb2.DELIVERY_STATUS_FAILED,
    failure_reason=events_pb2.FAILURE_REASON_DESTINATION_DELETED,
)
# Options whose names differ from their settings' (kept from earlier versions).
_FLAGS = {("sandbox", "transient_failure_rate"): "failure-rate"}


def secret_variable(platform: Platform, setting: Setting) -> str:
    return f"TENAZ_{platform.kind}_{setting.name}".upper()


def flag(platform: Platform, setting: Setting) -> str:
    return _FLAGS.get((platform.kind, setting.name), setting.name.replace("_", "-"))


def read_secrets(platform: Platform) -> dict[str, str]:
    """The platform's secrets, from their variables or typed at a prompt."""
    secrets: dict[str, str] = {}
    for setting in platform.secret_settings:
        variable = secret_variable(platform, setting)
        value = os.environ.get(variable, "").strip()
        if not value and sys.stdin.isatty():
            value = getpass.getpass(f"{platform.display_name} {setting.help} (not shown): ")
            value = value.strip()
        if not value and setting.required:
            raise CliError(f"put the {setting.help} in {variable}, or run in a terminal to type it")
        if value:
            secrets[setting.name] = value
    return secrets


def _interval(destination: destinations_pb2.Destination) -> str:
    if not destination.HasField("retry_interval"):
        return "default"
    return format_interval(destination.retry_interval.ToTimedelta())


def describe_settings(destination: destinations_pb2.Destination) -> str:
    """The platform settings worth seeing in a list (never a secret: the API has none to give)."""
    kind = destination.WhichOneof("platform")
    platform = registry.platforms().get(kind or "")
    if platform is None:
        return ""
    given = getattr(destination, platform.kind)
    parts = []
    for setting in platform.settings:
        if setting.secret:
            if not getattr(given, f"{setting.name}_set"):
                parts.append(f"no {setting.name.replace('_', ' ')}")
            continue
        value = getattr(given, setting.name)
        if setting.type == "names":
            value = ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
        elif setting.type == "number" and setting.maximum == 1.0:
            value = f"{value * 100:g}%" if value else ""
        elif setting.type == "flag":
            value = setting.name.replace("_", " ") if value else ""
        if value:
            label = setting.name.replace("_", " ")
            parts.append(str(value) if setting.type == "flag" else f"{label} {value}")
    if destination.event_filter:
        parts.append("only " + ", ".join(destination.event_filter))
    return ", ".join(parts)


async def list_(args: argparse.Namespace, out: Output) -> None:
    async with connect(args) as tenaz:
        found = await tenaz.list_destinations()
        stats = await tenaz.get_stats()
    health = {d.destination: d for d in stats.destinations}
    if out.as_json:
        rows: list[dict[str, Any]] = []
        for d in found:
            row = destination_dict(d)
            if d.name in health:
                row["health"] = message_dict(health[d.name])
            rows.append(row)
        out.json({"destinations": rows})
        return
    if not found:
        out.note("no destinations yet: tenaz destinations create-sandbox NAME")
        return
    grid = table("name", "platform", "state", "health", "retry interval", "settings", "note")
    for d in found:
        h = health.get(d.name)
        note = (
            needs_action_text(d.needs_action_code, d.needs_action_reason, out.lang)
            if d.needs_action
            else (h.reason if h else "")
        )
        grid.add_row(
            cell(d.name),
            cell(d.WhichOneof("platform") or "?"),
            cell("enabled" if d.enabled else "disabled", "" if d.enabled else "dim"),
            health_text(h.health, out.lang) if h else Text("?"),
            cell(_interval(d)),
            cell(describe_settings(d)),
            cell(note, "red" if note else ""),
        )
    out.print(grid)


def _value(setting: Setting, text: str) -> Any:
    """An option's text as the setting's value ('' stays '': back to the default)."""
    if text == "" or setting.type in ("text",):
        return text
    try:
        if setting.type == "number":
            return float(text)
        if setting.type == "integer":
            return int(text)
    except ValueError:
        raise UsageError(f"--{setting.name.replace('_', '-')}: {text!r} is not a number") from None
    if setting.type == "flag":
        if text.lower() not in ("true", "false", "yes", "no", "1", "0"):
            raise UsageError(f"--{setting.name.replace('_', '-')}: true or false")
        return text.lower() in ("true", "yes", "1")
    return text


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    """KEY=VALUE options (repeated) as a dict."""
    pairs = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UsageError(f"--{option}: {item!r} is not NAME=VALUE, e.g. Purchase=123")
        pairs[key.strip()] = value.strip()
    return pairs


def _set_setting(settings: Any, setting: Setting, value: Any) -> None:
    if setting.type == "names":
        getattr(settings, setting.name).update(value)
    else:
        setattr(settings, setting.name, value)


def _common(destination: destinations_pb2.Destination, args: argparse.Namespace) -> list[str]:
    """The options every destination has; the update-mask paths they name."""
    paths = []
    # The option is absent from `args` unless given (argparse.SUPPRESS); its value
    # None means "back to the global setting": the field is named but left unset.
    if "retry_interval" in vars(args):
        if args.retry_interval is not None:
            destination.retry_interval.FromTimedelta(args.retry_interval)
        paths.append("retry_interval")
    if getattr(args, "rate_limit", None) is not None:
        destination.rate_limit = args.rate_limit
        paths.append("rate_limit")
    if getattr(args, "event", None) is not None:
        destination.event_filter.extend(name for name in args.event if name)
        paths.append("event_filter")
    if getattr(args, "event_name", None) is not None:
        destination.event_names.update(_pairs(args.event_name, "event-name"))
        paths.append("event_names")
    return paths


def create_handler(platform: Platform) -> Callable[[argparse.Namespace, Output], Any]:
    async def create(args: argparse.Namespace, out: Output) -> None:
        destination = destinations_pb2.Destination(name=args.name, enabled=True)
        settings = getattr(destination, platform.kind)
        settings.SetInParent()
        for setting in platform.plain_settings:
            value = getattr(args, setting.name)
            if value is None or value == "":
                continue
            if setting.type == "names":
                value = _pairs(value, flag(platform, setting))
            elif setting.type == "number" and setting.maximum == 1.0 and not 0 <= value <= 1:
                raise UsageError(
                    f"--{flag(platform, setting)} is a fraction between 0 and 1, e.g. 0.3"
                )
            _set_setting(settings, setting, value)
        for name, value in read_secrets(platform).items():
            setattr(settings, name, value)
        _common(destination, args)
        async with connect(args) as tenaz:
            created = await tenaz.create_destination(destination)
        _report(out, created, f"created {platform.display_name} destination {created.name!r}")

    return create


def update_request(
    args: argparse.Namespace, platform: Platform, secrets: dict[str, str]
) -> tuple[destinations_pb2.Destination, list[str]]:
    """The Destination with the new values and the update mask naming them."""
    destination = destinations_pb2.Destination(name=args.name)
    paths: list[str] = []
    if args.enabled is not None:
        destination.enabled = args.enabled
        paths.append("enabled")
    paths += _common(destination, args)
    for kind, name, text in _platform_options(args):
        setting = platform.setting(name)
        if setting is None:
            # Named for a platform that has it: the server says it does not apply here.
            paths.append(f"{kind}.{name}")
            continue
        value = _pairs(text, name) if setting.type == "names" else _value(setting, text)
        _set_setting(getattr(destination, platform.kind), setting, value)
        paths.append(f"{platform.kind}.{name}")
    for name, value in secrets.items():
        setattr(getattr(destination, platform.kind), name, value)
        paths.append(f"{platform.kind}.{name}")
    if not paths:
        raise UsageError(
            "say what to change: --enable/--disable, --retry-interval, --rate-limit, --event,"
            " --event-name, --new-token, or one of the platform's settings"
        )
    return destination, paths


def _platform_options(args: argparse.Namespace) -> list[tuple[str, str, Any]]:
    """(a platform that has it, setting name, value) for each platform option given."""
    given: list[tuple[str, str, Any]] = []
    for platform in registry.platforms().values():
        for setting in platform.plain_settings:
            if not setting.changeable:
                continue
            value = getattr(args, f"setting_{setting.name}", None)
            if value is not None and all(name != setting.name for _, name, _ in given):
                given.append((platform.kind, setting.name, value))
    return given


async def update(args: argparse.Namespace, out: Output) -> None:
    async with connect(args) as tenaz:
        current = await tenaz.get_destination(args.name)
        platform = registry.platforms().get(current.WhichOneof("platform") or "")
        if platform is None:
            raise CliError(f"this version of the CLI does not know {args.name!r}'s platform")
        moved = [
            f"--{name.replace('_', '-')}"
            for _, name, _ in _platform_options(args)
            if (setting := platform.setting(name)) is not None and setting.locates_secrets
        ]
        if moved and not args.new_token:
            # The server refuses it too; saying so here spares a round trip and names the flag.
            raise UsageError(
                f"{' and '.join(moved)} need --new-token: a secret is only sent where it was"
                " given for"
            )
        secrets = read_secrets(platform) if args.new_token else {}
        destination, paths = update_request(args, platform, secrets)
        updated = await tenaz.update_destination(destination, paths)
    changed = ", ".join(p.split(".", 1)[-1] for p in paths)
    _report(out, updated, f"updated destination {updated.name!r}: {changed}")


def add_commands(
    parent: Any,
    command: Callable[..., argparse.ArgumentParser],
    parents: tuple[argparse.ArgumentParser, ...],
    interval: Callable[[str], Any],
) -> None:
    """`create-<platform>` for every platform, and `update`, with their options."""
    interval_help = "time from a failed attempt to the next, e.g. 10s, 30m (default: global)"
    for platform in registry.platforms().values():
        secrets = ", ".join(secret_variable(platform, s) for s in platform.secret_settings)
        about = f"add a {platform.display_name} destination"
        if secrets:
            about += f"; secrets from {secrets} or a prompt"
        if platform.unverified:
            about += f" (unverified: {platform.unverified})"
        p = command(
            parent,
            f"create-{platform.kind.replace('_', '-')}",
            create_handler(platform),
            about,
            parents,
        )
        p.add_argument("name")
        for setting in platform.plain_settings:
            _add_setting_option(p, platform, setting)
        p.add_argument("--retry-interval", type=interval, help=interval_help)
        _add_common_options(p)

    p = command(parent, "update", update, "change a destination", parents)
    p.add_argument("name")
    enabling = p.add_mutually_exclusive_group()
    enabling.add_argument("--enable", dest="enabled", action="store_const", const=True)
    enabling.add_argument("--disable", dest="enabled", action="store_const", const=False)
    p.add_argument(
        "--retry-interval",
        type=interval,
        default=argparse.SUPPRESS,
        help="e.g. 10s, 30m; 'default' for the global setting",
    )
    p.add_argument(
        "--new-token",
        "--new-secrets",
        dest="new_token",
        action="store_true",
        help="replace the platform's secrets (from TENAZ_<PLATFORM>_<SECRET> or a prompt)",
    )
    _add_common_options(p)
    seen: set[str] = set()
    settings = p.add_argument_group("platform settings ('' for the default)")
    for platform in registry.platforms().values():
        for setting in platform.plain_settings:
            option = flag(platform, setting)
            if not setting.changeable or option in seen:
                continue
            seen.add(option)
            settings.add_argument(
                f"--{option}",
                dest=f"setting_{setting.name}",
                action="append" if setting.type == "names" else "store",
                metavar="NAME=VALUE" if setting.type == "names" else None,
                help=f"{platform.display_name}: {setting.help}",
            )


def _add_setting_option(p: argparse.ArgumentParser, platform: Platform, setting: Setting) -> None:
    option = f"--{flag(platform, setting)}"
    help_ = setting.help
    if setting.official_urls:
        help_ += f" (default {setting.official_urls[0]})"
    elif setting.default not in (None, ""):
        help_ += f" (default {setting.default})"
    if setting.type == "flag":
        p.add_argument(option, dest=setting.name, action="store_true", help=help_)
    elif setting.type == "names":
        p.add_argument(
            option,
            dest=setting.name,
            action="append",
            metavar="EVENT=VALUE",
            required=setting.required,
            help=help_ + "; repeat for each event",
        )
    else:
        kinds: dict[str, type] = {"number": float, "integer": int, "text": str}
        p.add_argument(
            option,
            dest=setting.name,
            type=kinds[setting.type],
            required=setting.required,
            help=help_,
        )


def _add_common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--rate-limit", type=float, help="events per second sent to it at most; 0: no limit"
    )
    p.add_argument(
        "--event",
        action="append",
        help="only events with this event_name go to it; repeat for more ('' for all)",
    )
    p.add_argument(
        "--event-name",
        action="append",
        metavar="TENAZ=PLATFORM",
        help="the platform's name for an event, e.g. Purchase=CompletePayment; repeat",
    )


async def delete(args: argparse.Namespace, out: Output) -> None:
    async with connect(args) as tenaz:
        await tenaz.delete_destination(args.name)
    if out.as_json:
        out.json({"deleted": args.name})
    else:
        ended = Text(f"deleted destination {args.name!r}; its unfinished deliveries are now ")
        ended.append_text(out.delivery_status(DELETED))
        ended.append("; its history stays on the events")
        out.print(ended)


def destination_dict(destination: destinations_pb2.Destination) -> dict[str, Any]:
    """The destination as JSON, without the write-only secret fields (always empty)."""
    data = message_dict(destination)
    for platform in registry.platforms().values():
        for setting in platform.secret_settings:
            data.get(platform.kind, {}).pop(setting.name, None)
    return data


def _report(out: Output, destination: destinations_pb2.Destination, text: str) -> None:
    if out.as_json:
        out.json(destination_dict(destination))
    else:
        out.print(cell(text))
