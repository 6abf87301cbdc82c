"""`tenaz sources`: the checkouts (Hotmart, Kiwify, Eduzz) and JSON senders that call Tenaz
on each sale, and the event types each acknowledged without sending.

Sources are managed over gRPC with an admin key. The checkout's token or signing key never
travels as an option value (it would land in the shell's history and in `ps`): it comes from
TENAZ_SOURCE_SECRET, or from a prompt that does not echo it.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from tenaz.v1 import sources_pb2

from server.cli.connection import connect
from server.cli.errors import CliError, UsageError
from server.cli.output import Output, cell, message_dict, table

SECRET_VARIABLE = "TENAZ_SOURCE_SECRET"  # noqa: S105 - a variable's name
KINDS = {
    "hotmart": (sources_pb2.WEBHOOK_SOURCE_KIND_HOTMART, "Hotmart hottok"),
    "kiwify": (sources_pb2.WEBHOOK_SOURCE_KIND_KIWIFY, "Kiwify webhook token"),
    "eduzz": (sources_pb2.WEBHOOK_SOURCE_KIND_EDUZZ, "Eduzz secret key"),
    "generic": (sources_pb2.WEBHOOK_SOURCE_KIND_GENERIC, "signing secret (whsec_...)"),
}
_KIND_NAMES = {value: name for name, (value, _) in KINDS.items()}


def _secret(what: str) -> str:
    value = os.environ.get(SECRET_VARIABLE, "").strip()
    if not value and sys.stdin.isatty():
        value = getpass.getpass(f"{what} (not shown): ").strip()
    if not value:
        raise CliError(f"put the {what} in {SECRET_VARIABLE}, or run in a terminal to type it")
    return value


def _pairs(values: Sequence[str] | None, option: str) -> dict[str, str]:
    """KEY=VALUE options as a mapping (VALUE may be empty: `--event PURCHASE_REFUNDED=`)."""
    pairs: dict[str, str] = {}
    for value in values or ():
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{option} takes KEY=VALUE, got {value!r}")
        pairs[key.strip()] = rest.strip()
    return pairs


def source_dict(source: sources_pb2.WebhookSource) -> dict[str, Any]:
    """The source as JSON, without the write-only secret (always empty)."""
    found = message_dict(source)
    found.pop("secret", None)
    return found


async def list_(args: argparse.Namespace, out: Output) -> None:
    async with connect(args) as tenaz:
        found = await tenaz.list_webhook_sources()
    if out.as_json:
        out.json({"sources": [source_dict(s) for s in found]})
        return
    if not found:
        out.note("no webhook sources yet: tenaz sources create-hotmart NAME ...")
        return
    grid = table("name", "kind", "path", "destinations", "event names", "acknowledged only")
    for s in found:
        grid.add_row(
            cell(s.name),
            cell(_KIND_NAMES.get(s.kind, "?")),
            cell(s.path),
            cell(", ".join(s.destinations) or "all"),
            cell(", ".join(f"{t}={n or '-'}" for t, n in sorted(s.event_names.items()))),
            cell(", ".join(f"{i.event_type} ×{i.count}" for i in s.ignored)),
        )
    out.print(grid)


def _creator(kind: str) -> Callable[[argparse.Namespace, Output], Any]:
    async def create(args: argparse.Namespace, out: Output) -> None:
        value, what = KINDS[kind]
        source = sources_pb2.WebhookSource(
            name=args.name,
            kind=value,
            event_names=_pairs(args.event, "--event"),
            fields=_pairs(getattr(args, "field", None), "--field"),
            destinations=args.destination or [],
        )
        source.secret = _secret(what)
        async with connect(args) as tenaz:
            created = await tenaz.create_webhook_source(source)
        if out.as_json:
            out.json(source_dict(created))
        else:
            out.print(
                cell(
                    f"created {kind} webhook source {created.name!r}: point the checkout at"
                    f" https://<the ingest server>{created.path}"
                )
            )

    return create


async def delete(args: argparse.Namespace, out: Output) -> None:
    async with connect(args) as tenaz:
        await tenaz.delete_webhook_source(args.name)
    if out.as_json:
        out.json({"deleted": args.name})
    else:
        out.print(cell(f"deleted webhook source {args.name!r}"))


def add_commands(
    sub: Any,
    command: Callable[..., argparse.ArgumentParser],
    parents: tuple[argparse.ArgumentParser, ...],
) -> None:
    sources = sub.add_parser("sources", help="checkouts and JSON senders that call Tenaz")
    sources_sub = sources.add_subparsers(dest="action", required=True, metavar="ACTION")
    command(sources_sub, "list", list_, "webhook sources and what they acknowledged only", parents)
    for kind, (_, what) in KINDS.items():
        p = command(
            sources_sub,
            f"create-{kind}",
            _creator(kind),
            f"add a {kind} webhook source (the {what} from {SECRET_VARIABLE} or a prompt)",
            parents,
        )
        p.add_argument("name", help=f"the route in its URL: /webhooks/{kind}/NAME")
        p.add_argument(
            "--destination", action="append", help="send only to this destination; repeat"
        )
        p.add_argument(
            "--event",
            action="append",
            metavar="TYPE=NAME",
            help="send the checkout's TYPE as event NAME (empty: send nothing); repeat",
        )
        if kind == "generic":
            p.add_argument(
                "--field",
                action="append",
                required=True,
                metavar="FIELD=PATH",
                help="where a field is in the JSON (/data/buyer/email); repeat",
            )
    p = command(sources_sub, "delete", delete, "delete a webhook source", parents)
    p.add_argument("name")
