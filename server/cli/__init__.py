"""The `tenaz` command line: its commands and options, and how failures end.

Process commands (run, serve, worker, migrate), `keys` and `secrets` use the
database directly; the others are gRPC clients of a running server, configured by
--server / TENAZ_SERVER and --api-key / TENAZ_API_KEY. Each command lives in
the module of its concern; this one only parses and dispatches.

Expected failures print one line (`tenaz: CODE: message`, plus the fields at
fault) and exit 1. Configuration Tenaz cannot use (a TENAZ_* value, a port
another program holds, a database it cannot reach, an unreadable certificate
or key) prints one line that names the variable and what to do, and exits 2,
as a wrong command line does; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from jobs.scopes import SCOPES, SUBMIT
from jobs.settings import Settings, SettingsError, parse_log_format
from server.cli import (
    alerts,
    destinations,
    events,
    keys,
    operations,
    process,
    secrets,
    sources,
    stats,
    submit,
    watch,
)
from server.cli.errors import CliError, UsageError
from server.cli.options import argument, parse_interval, parse_statuses, time_argument
from server.cli.output import LANGS, PT_BR, Output, normalize_lang

Handler = Callable[[argparse.Namespace, Output], Coroutine[Any, Any, None]]

DEFAULT_SERVER = "127.0.0.1:50051"
# Server-side status codes that usually mean the command's setup is wrong, with the fix.
_HINTS = {
    "UNAVAILABLE": "is Tenaz serving at {server}? (--server / TENAZ_SERVER)",
    "UNAUTHENTICATED": "check the API key (--api-key / TENAZ_API_KEY; tenaz keys list)",
    "PERMISSION_DENIED": "use an admin key (tenaz keys create --scope admin)",
}


def _process_command(*, serve: bool, work: bool) -> Handler:
    async def handler(args: argparse.Namespace, out: Output) -> None:
        await process.run(Settings.from_env(), serve=serve, work=work)

    return handler


async def _migrate(args: argparse.Namespace, out: Output) -> None:
    await process.migrate_database(Settings.from_env())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tenaz",
        description="Tenaz delivers conversion events to ad platforms and never loses one.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        parent: Any,
        name: str,
        handler: Handler,
        help: str,
        parents: tuple[argparse.ArgumentParser, ...] = (),
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(
            name, help=help, description=help, parents=list(parents)
        )
        p.set_defaults(handler=handler, parser=p, process=False)
        return p

    client = argparse.ArgumentParser(add_help=False)
    connection = client.add_argument_group("server")
    connection.add_argument(
        "--server",
        default=os.environ.get("TENAZ_SERVER", DEFAULT_SERVER),
        help=f"gRPC address of Tenaz (TENAZ_SERVER; default {DEFAULT_SERVER})",
    )
    connection.add_argument(
        "--api-key",
        default=os.environ.get("TENAZ_API_KEY", ""),
        help="the workspace's API key; prefer TENAZ_API_KEY, which stays out of shell history",
    )
    connection.add_argument(
        "--tls",
        action="store_true",
        default=os.environ.get("TENAZ_SERVER_TLS", "").lower() in ("1", "true", "yes"),
        help="connect over TLS, trusting the system's CAs (TENAZ_SERVER_TLS=1)",
    )
    connection.add_argument(
        "--tls-ca",
        default=os.environ.get("TENAZ_SERVER_CA", ""),
        metavar="PEM",
        help="CA certificate that signed the server's (TENAZ_SERVER_CA); implies --tls",
    )
    connection.add_argument(
        "--tls-cert",
        default=os.environ.get("TENAZ_CLIENT_CERT", ""),
        metavar="PEM",
        help="client certificate for mutual TLS (TENAZ_CLIENT_CERT)",
    )
    connection.add_argument(
        "--tls-key",
        default=os.environ.get("TENAZ_CLIENT_KEY", ""),
        metavar="PEM",
        help="the client certificate's private key (TENAZ_CLIENT_KEY)",
    )
    shown = argparse.ArgumentParser(add_help=False)
    formats = shown.add_argument_group("output")
    formats.add_argument("--json", action="store_true", help="machine-readable output")
    formats.add_argument(
        "--lang",
        type=argument(normalize_lang),
        # argparse converts a string default with `type` too: a bad TENAZ_LANG is a usage error.
        default=os.environ.get("TENAZ_LANG") or PT_BR,
        help=f"language of status labels: {' or '.join(LANGS)} (TENAZ_LANG; default {PT_BR})",
    )
    both = (client, shown)

    # Process commands
    for name, serve, work, text in (
        ("run", True, True, "run the gRPC server and a delivery worker in one process"),
        ("serve", True, False, "run the gRPC server only"),
        ("worker", False, True, "run a delivery worker only"),
    ):
        command(sub, name, _process_command(serve=serve, work=work), text).set_defaults(
            process=True
        )
    command(sub, "migrate", _migrate, "apply database migrations").set_defaults(process=True)

    # API keys (database)
    keys_parser = sub.add_parser("keys", help="API keys (straight in the database)")
    keys_sub = keys_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = command(keys_sub, "create", keys.create, "create an API key; it is printed once")
    p.add_argument("--workspace", required=True, help="the workspace (created if new)")
    p.add_argument("--name", default="", help="what the key is for, e.g. checkout-service")
    p.add_argument(
        "--scope",
        choices=SCOPES,
        default=SUBMIT,
        help=(
            "submit: send events and read them, their stats and status stream (the default);"
            " admin: also manage destinations, retry, cancel and replay"
        ),
    )
    p = command(
        keys_sub, "list", keys.list_, "list API keys (prefixes, never secrets)", parents=(shown,)
    )
    p.add_argument("--workspace", default="", help="only this workspace's keys")
    p = command(keys_sub, "revoke", keys.revoke, "revoke an API key by its prefix")
    p.add_argument("prefix", help="the key's prefix as `tenaz keys list` shows it")
    p.add_argument("--workspace", default="", help="the key's workspace, if the prefix is shared")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    # Encryption keys of destination tokens (database)
    secrets_parser = sub.add_parser("secrets", help="keys that encrypt destination tokens")
    secrets_sub = secrets_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    command(secrets_sub, "generate-key", secrets.generate_key, "print a new TENAZ_SECRET_KEY")
    command(
        secrets_sub,
        "rotate",
        secrets.rotate,
        "re-encrypt every destination token with the first key of TENAZ_SECRET_KEY",
    )

    # Submitting
    p = command(sub, "submit", submit.submit, "submit one event, or a file of events", both)
    p.add_argument("--file", help="JSON array or JSON Lines of events (proto JSON); - for stdin")
    p.add_argument(
        "--batch-size",
        type=int,
        default=submit.DEFAULT_BATCH,
        help=f"events per SubmitEvents call with --file (default {submit.DEFAULT_BATCH})",
    )
    p.add_argument("--event-name", help="e.g. Purchase, Lead")
    p.add_argument("--event-id", help="your id of the event, e.g. the order id")
    p.add_argument("--event-time", type=time_argument, help="when it happened (default: now)")
    p.add_argument("--email")
    p.add_argument("--phone")
    p.add_argument("--external-id")
    p.add_argument("--client-ip")
    p.add_argument("--user-agent")
    p.add_argument("--value", type=float)
    p.add_argument("--currency", help="ISO 4217 code, e.g. BRL")
    p.add_argument("--order-id")
    p.add_argument(
        "--destination",
        action="append",
        help="deliver to this destination (repeatable; default: every enabled one)",
    )
    p.add_argument(
        "--sandbox-fail-attempts",
        type=int,
        default=0,
        help="sandbox destinations fail this many attempts of the event before taking it",
    )
    p.add_argument(
        "--sandbox-expired-token-attempts",
        type=int,
        default=0,
        metavar="N",
        help="sandbox destinations answer this many attempts of the event as Meta answers an"
        " expired access token (the destination needs action until one goes through)",
    )
    p.add_argument(
        "--sandbox-reject",
        action="store_true",
        help="sandbox destinations refuse the event as Meta refuses invalid data",
    )

    # Reading events
    def status_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--status",
            type=argument(parse_statuses),
            action="extend",
            help="Pendente, Enviando, 'Esperando Retentativa', Reenviando, Sucesso, Falha"
            " (or English labels, or PENDING...); repeat or separate with commas",
        )

    def window_options(p: argparse.ArgumentParser, what: str) -> None:
        p.add_argument(
            "--since",
            type=time_argument,
            help=f"only {what} at or after: 2026-11-20, 2026-11-20T14:30, or an age such as 2h",
        )
        p.add_argument("--until", type=time_argument, help=f"only {what} before this time")

    events_parser = sub.add_parser("events", help="list events, or show one with its attempts")
    events_sub = events_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = command(events_sub, "list", events.list_, "list events, newest first", both)
    status_option(p)
    p.add_argument("--destination", default="", help="only events delivered to it")
    p.add_argument("--event-name", default="", help="only events with this name")
    p.add_argument("--event-id", action="append", help="only this event id (repeatable)")
    window_options(p, "events received")
    p.add_argument("--limit", type=int, default=20, help="at most this many events (default 20)")
    p.add_argument("--page-token", default="", help="continue a listing where it stopped")
    p = command(events_sub, "show", events.show, "an event, its deliveries and attempts", both)
    p.add_argument("id", help="Tenaz's id of the event, as submit printed it")
    p.add_argument(
        "--follow", action="store_true", help="then print status changes until all are final"
    )

    p = command(sub, "watch", watch.watch, "status changes, live", both)
    p.add_argument("--destination", action="append", help="only this destination (repeatable)")
    status_option(p)
    p.add_argument("--event-name", action="append", help="only events with this name")
    p.add_argument("--event-id", action="append", help="only this event id (repeatable)")
    p.add_argument(
        "--after",
        type=int,
        help="resume after this sequence (0: every change still kept); default: from now",
    )
    p.add_argument("--rows", type=int, default=20, help="deliveries in the live table")
    p.add_argument("--max-changes", type=int, default=0, help="stop after this many changes")

    # Acting on deliveries
    def operation_options(p: argparse.ArgumentParser, *, statuses: bool) -> None:
        if statuses:
            status_option(p)
        p.add_argument("--destination", default="", help="only deliveries to this destination")
        p.add_argument("--event-name", default="", help="only deliveries of events with this name")
        window_options(p, "deliveries created")
        p.add_argument("--all", action="store_true", help="no filter: every delivery it applies to")
        p.add_argument(
            "--no-wait", action="store_true", help="print the operation id and return at once"
        )

    p = command(
        sub,
        "retry",
        operations.retry,
        "send failed or waiting deliveries again now (by ids or filter)",
        both,
    )
    p.add_argument("delivery_ids", nargs="*", metavar="DELIVERY_ID")
    operation_options(p, statuses=True)
    p = command(
        sub,
        "cancel",
        operations.cancel,
        "stop retrying waiting deliveries (by ids or filter)",
        both,
    )
    p.add_argument("delivery_ids", nargs="*", metavar="DELIVERY_ID")
    operation_options(p, statuses=True)
    p = command(sub, "replay", operations.replay, "retry failed deliveries by filter", both)
    operation_options(p, statuses=False)
    p = command(sub, "operation", operations.show, "follow a retry or cancel operation", both)
    p.add_argument("id", help="the operation id that retry/cancel/replay printed")
    p.set_defaults(no_wait=False)

    # Destinations
    dests = sub.add_parser("destinations", help="the workspace's ad-platform connections")
    dests_sub = dests.add_subparsers(dest="action", required=True, metavar="ACTION")
    command(dests_sub, "list", destinations.list_, "destinations with their health", both)
    destinations.add_commands(dests_sub, command, both, argument(parse_interval))
    p = command(
        dests_sub,
        "delete",
        destinations.delete,
        "delete a destination; the deliveries it has not finished fail (destination deleted)",
        both,
    )
    p.add_argument("name")

    p = command(sub, "stats", stats.stats, "counts by status and destination, health", both)
    window_options(p, "deliveries created")

    # Alerts
    alerts.add_commands(sub, command, both, argument(alerts.parse_span))

    # Webhook sources
    sources.add_commands(sub, command, both)
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    # Client commands print what matters themselves; library chatter would cut
    # through their tables.
    level = os.environ.get("TENAZ_LOG_LEVEL", "INFO" if args.process else "WARNING").upper()
    if not isinstance(logging.getLevelName(level), int):
        raise SettingsError(f"TENAZ_LOG_LEVEL: {level!r} is not a log level such as INFO or DEBUG")
    process.configure_logging(level, parse_log_format(os.environ.get("TENAZ_LOG_FORMAT", "")))


def describe(exc: Exception, args: argparse.Namespace | None = None) -> str:
    """The text after `tenaz: `: `CODE: message`, each bad field, and a hint for setup errors."""
    from tenaz.client import TenazError

    if not isinstance(exc, TenazError):
        return str(exc)
    head = exc.message
    if exc.violations:
        # The server's message repeats the first violations; list each once, below.
        summary = "; ".join(f"{v.field}: {v.description}" for v in exc.violations[:5])
        if head.startswith(summary):
            count = len(exc.violations)
            head = "1 field is invalid" if count == 1 else f"{count} fields are invalid"
    lines = [f"{exc.code.name}: {head}"]
    lines += [f"  {v.field}: {v.description}" for v in exc.violations]
    hint = _HINTS.get(exc.code.name)
    if hint:
        server = getattr(args, "server", DEFAULT_SERVER)
        lines.append("hint: " + hint.format(server=server))
    return "\n".join(lines)


def _is_configuration(exc: Exception) -> bool:
    """Failures a TENAZ_* variable causes and fixes (its message names the variable)."""
    from jobs.secrets import SecretKeyError

    return isinstance(exc, SettingsError | SecretKeyError)


def _is_expected(exc: Exception) -> bool:
    """Failures that deserve one line, not a traceback."""
    from tenaz.client import TenazError as ClientError

    from jobs.errors import TenazError as DomainError

    if isinstance(exc, ClientError | DomainError | CliError):
        return True
    # Database errors (the server is down, the URL is wrong) are recognised by
    # their module, so that client commands never have to import the driver.
    return type(exc).__module__.startswith("psycopg")


def run(args: argparse.Namespace) -> int:
    """Run the parsed command; the exit code."""
    try:
        _configure_logging(args)
        out = Output(lang=getattr(args, "lang", PT_BR), as_json=getattr(args, "json", False))
        asyncio.run(args.handler(args, out))
    except KeyboardInterrupt:
        return 130
    except UsageError as exc:
        args.parser.print_usage(sys.stderr)
        print(f"{args.parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`tenaz events list | head`): not worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:
        if _is_configuration(exc):
            print(f"tenaz: {exc}", file=sys.stderr)
            return 2
        if not _is_expected(exc):
            raise
        prefix = "cannot use the database: " if type(exc).__module__.startswith("psycopg") else ""
        print(f"tenaz: {prefix}{describe(exc, args)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> None:
    code = run(build_parser().parse_args(argv))
    if code:
        sys.exit(code)
