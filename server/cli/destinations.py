"""`tenaz destinations list | create-sandbox | create-meta | update | delete`.

Access tokens never travel as option values, which would land in the shell's
history and in `ps`: they come from TENAZ_META_ACCESS_TOKEN, or from a prompt
that does not echo them.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from rich.text import Text
from tenaz.v1 import destinations_pb2, events_pb2

from server.cli.connection import connect
from server.cli.errors import CliError, UsageError
from server.cli.output import Output, cell, format_interval, health_text, message_dict, table

TOKEN_VARIABLE = "TENAZ_META_ACCESS_TOKEN"  # noqa: S105 - the variable's name, not a token
# What a deletion makes of the deliveries the destination had not finished.
DELETED = events_pb2.Delivery(
    status=events_pb2.DELIVERY_STATUS_FAILED,
    failure_reason=events_pb2.FAILURE_REASON_DESTINATION_DELETED,
)


def read_token() -> str:
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not token and sys.stdin.isatty():
        token = getpass.getpass("Meta access token (not shown): ").strip()
    if not token:
        raise CliError(f"put the access token in {TOKEN_VARIABLE}, or run in a terminal to type it")
    return token


def _interval(destination: destinations_pb2.Destination) -> str:
    if not destination.HasField("retry_interval"):
        return "default"
    return format_interval(destination.retry_interval.ToTimedelta())


def describe_settings(destination: destinations_pb2.Destination) -> str:
    """The platform settings worth seeing in a list (never a token: the API has none to give)."""
    kind = destination.WhichOneof("platform")
    if kind == "meta":
        meta = destination.meta
        parts = [f"pixel {meta.pixel_id}"]
        if meta.test_event_code:
            parts.append(f"test code {meta.test_event_code}")
        if meta.api_version:
            parts.append(meta.api_version)
        if meta.base_url:
            parts.append(meta.base_url)
        if not meta.access_token_set:
            parts.append("no token")
        return ", ".join(parts)
    if kind == "sandbox":
        rate = destination.sandbox.transient_failure_rate
        return f"failure rate {rate * 100:g}%" if rate else ""
    return ""


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
        note = d.needs_action_reason if d.needs_action else (h.reason if h else "")
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


async def create_sandbox(args: argparse.Namespace, out: Output) -> None:
    if not 0 <= args.failure_rate <= 1:
        raise UsageError("--failure-rate is a fraction between 0 and 1, e.g. 0.3")
    async with connect(args) as tenaz:
        created = await tenaz.create_sandbox_destination(
            args.name, transient_failure_rate=args.failure_rate, retry_interval=args.retry_interval
        )
    _report(out, created, f"created sandbox destination {created.name!r}")


async def create_meta(args: argparse.Namespace, out: Output) -> None:
    token = read_token()
    async with connect(args) as tenaz:
        created = await tenaz.create_meta_destination(
            args.name,
            pixel_id=args.pixel_id,
            access_token=token,
            test_event_code=args.test_event_code,
            api_version=args.api_version,
            base_url=args.base_url,
            retry_interval=args.retry_interval,
        )
    _report(out, created, f"created Meta destination {created.name!r} (pixel {args.pixel_id})")


def update_request(
    args: argparse.Namespace, token: str | None
) -> tuple[destinations_pb2.Destination, list[str]]:
    """The Destination with the new values and the update mask naming them."""
    destination = destinations_pb2.Destination(name=args.name)
    paths: list[str] = []
    if args.enabled is not None:
        destination.enabled = args.enabled
        paths.append("enabled")
    # The option is absent from `args` unless given (argparse.SUPPRESS); its value
    # None means "back to the global setting": the field is named but left unset.
    if "retry_interval" in vars(args):
        if args.retry_interval is not None:
            destination.retry_interval.FromTimedelta(args.retry_interval)
        paths.append("retry_interval")
    meta = {
        "pixel_id": args.pixel_id,
        "test_event_code": args.test_event_code,
        "api_version": args.api_version,
        "base_url": args.base_url,
    }
    if token is not None:
        meta["access_token"] = token
    for name, value in meta.items():
        if value is not None:
            destination.meta.SetInParent()
            setattr(destination.meta, name, value)
            paths.append(f"meta.{name}")
    if args.failure_rate is not None:
        if not 0 <= args.failure_rate <= 1:
            raise UsageError("--failure-rate is a fraction between 0 and 1, e.g. 0.3")
        destination.sandbox.transient_failure_rate = args.failure_rate
        paths.append("sandbox.transient_failure_rate")
    if args.rate_limit is not None:
        destination.rate_limit = args.rate_limit
        paths.append("rate_limit")
    if not paths:
        raise UsageError(
            "say what to change: --enable/--disable, --retry-interval, --new-token,"
            " --test-event-code, --base-url, --pixel-id, --api-version, --failure-rate,"
            " --rate-limit"
        )
    return destination, paths


async def update(args: argparse.Namespace, out: Output) -> None:
    moved = [
        f"--{name.replace('_', '-')}" for name in ("base_url", "pixel_id") if getattr(args, name)
    ]
    if moved and not args.new_token:
        # The server refuses it too; saying so here spares a round trip and names the flag.
        raise UsageError(
            f"{' and '.join(moved)} need --new-token: a token is only sent where it was given for"
        )
    token = read_token() if args.new_token else None
    destination, paths = update_request(args, token)
    async with connect(args) as tenaz:
        updated = await tenaz.update_destination(destination, paths)
    changed = ", ".join(p.removeprefix("meta.").removeprefix("sandbox.") for p in paths)
    _report(out, updated, f"updated destination {updated.name!r}: {changed}")


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
    """The destination as JSON, without the write-only token field (always empty)."""
    data = message_dict(destination)
    data.get("meta", {}).pop("access_token", None)
    return data


def _report(out: Output, destination: destinations_pb2.Destination, text: str) -> None:
    if out.as_json:
        out.json(destination_dict(destination))
    else:
        out.print(cell(text))
