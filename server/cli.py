"""The `tenaz` command line.

Process commands (run, serve, worker, migrate, keys) talk to the database;
the others (destinations, submit, events) are gRPC clients of a running
server, configured by --server / TENAZ_SERVER and --api-key / TENAZ_API_KEY.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from jobs.settings import Settings, SettingsError, parse_duration

STATUS_NAMES = {
    1: "PENDING",
    2: "SENDING",
    3: "WAITING_RETRY",
    4: "RESENDING",
    5: "SUCCEEDED",
    6: "FAILED",
}


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # Tenaz logs one line per unit of work; these libraries' INFO lines (every request,
    # every job, every step of the embedded server's start) would drown them.
    for chatty in ("httpx", "procrastinate", "pgserver"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLevelName(level)))


# Process commands


async def _run(settings: Settings, *, serve: bool, work: bool) -> None:
    from jobs.database import database_url
    from jobs.migrate import migrate
    from jobs.runtime import open_runtime
    from server.app import start_server

    log = logging.getLogger("tenaz")
    with database_url(settings) as url:
        await migrate(url)
        async with open_runtime(settings, url) as runtime:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            server = await start_server(runtime, settings.listen_address) if serve else None
            worker = (
                asyncio.create_task(runtime.run_worker(install_signal_handlers=False))
                if work
                else None
            )
            waiters: list[asyncio.Task[Any]] = [asyncio.create_task(stop.wait())]
            if worker is not None:
                waiters.append(worker)
            log.info(
                "tenaz.started server=%s worker=%s",
                settings.listen_address if serve else "off",
                "on" if work else "off",
            )
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            log.info("tenaz.stopping")
            if server is not None:
                await server.stop(grace=5.0)
            if worker is not None and not worker.done():
                worker.cancel()
            for task in waiters:
                task.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
            if worker is not None and worker.done() and not worker.cancelled():
                worker.result()  # a crashed worker is an error exit
    log.info("tenaz.stopped")


async def _migrate(settings: Settings) -> None:
    from jobs.database import database_url
    from jobs.migrate import migrate

    with database_url(settings) as url:
        applied = await migrate(url)
    print("applied: " + ", ".join(applied) if applied else "database is up to date")


async def _create_key(settings: Settings, workspace: str, name: str) -> None:
    from jobs import keys
    from jobs.database import database_url, open_pool
    from jobs.migrate import migrate

    with database_url(settings) as url:
        await migrate(url)
        async with open_pool(url, settings) as pool:
            key = await keys.create_key(pool, workspace=workspace, name=name)
    print(key.secret)
    print(
        f"API key for workspace {key.workspace.name!r}; it is shown only this once.",
        file=sys.stderr,
    )


# Client commands


def _client(args: argparse.Namespace) -> Any:
    from tenaz.client import TenazClient

    if not args.api_key:
        raise SystemExit("tenaz: set --api-key or TENAZ_API_KEY (make one: tenaz keys create)")
    return TenazClient(args.server, args.api_key)


def _print(message: Any, as_json: bool) -> None:
    from google.protobuf.json_format import MessageToDict

    data = MessageToDict(message, preserving_proto_field_name=True)
    print(json.dumps(data, indent=2, ensure_ascii=False) if as_json else _summary(data))


def _summary(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def _label(status: int, lang: str) -> str:
    from jobs.status import Status, label

    name = STATUS_NAMES.get(status)
    return label(Status(name), lang) if name else "?"


async def _destinations(args: argparse.Namespace) -> None:
    async with _client(args) as tenaz:
        interval = parse_duration(args.retry_interval) if args.retry_interval else None
        if args.action == "list":
            for d in await tenaz.list_destinations():
                kind = d.WhichOneof("platform")
                flag = f"  needs action: {d.needs_action_reason}" if d.needs_action else ""
                state = "enabled" if d.enabled else "disabled"
                print(f"{d.name}\t{kind}\t{state}{flag}")
        elif args.action == "create-sandbox":
            created = await tenaz.create_sandbox_destination(
                args.name, transient_failure_rate=args.failure_rate, retry_interval=interval
            )
            _print(created, True)
        elif args.action == "create-meta":
            token = os.environ.get("TENAZ_META_ACCESS_TOKEN", "")
            if not token:
                raise SystemExit("tenaz: put the access token in TENAZ_META_ACCESS_TOKEN")
            created = await tenaz.create_meta_destination(
                args.name,
                pixel_id=args.pixel_id,
                access_token=token,
                test_event_code=args.test_event_code,
                base_url=args.base_url,
                retry_interval=interval,
            )
            _print(created, True)


async def _submit(args: argparse.Namespace) -> None:
    from tenaz.client import make_event

    user = {
        key: value
        for key, value in {
            "email": args.email,
            "phone": args.phone,
            "external_id": args.external_id,
            "client_ip_address": args.client_ip,
            "client_user_agent": args.user_agent,
        }.items()
        if value
    }
    event = make_event(
        event_id=args.event_id,
        event_name=args.event_name,
        value=args.value,
        currency=args.currency,
        order_id=args.order_id,
        destinations=args.destination or (),
        extra={"sandbox_fail_attempts": args.sandbox_fail_attempts}
        if args.sandbox_fail_attempts
        else None,
        **user,
    )
    async with _client(args) as tenaz:
        result = await tenaz.submit_event(event)
    if args.json:
        _print(result, True)
        return
    stored = result.event
    note = " (duplicate: already submitted)" if result.duplicate else ""
    print(f"event {stored.id}{note}")
    for d in stored.deliveries:
        print(f"  {d.destination}: {_label(d.status, args.lang)}")


async def _events(args: argparse.Namespace) -> None:
    async with _client(args) as tenaz:
        if args.action == "list":
            page = await tenaz.list_events(page_size=args.limit)
            if args.json:
                _print(page, True)
                return
            for e in page.events:
                statuses = ", ".join(
                    f"{d.destination}: {_label(d.status, args.lang)}" for d in e.deliveries
                )
                print(f"{e.id}\t{e.event.event_name}\t{e.event.event_id}\t{statuses}")
            return
        await _show_event(tenaz, args)


async def _show_event(tenaz: Any, args: argparse.Namespace) -> None:
    seen: dict[str, tuple[int, int]] = {}
    while True:
        event = await tenaz.get_event(args.id)
        if args.json and not args.follow:
            _print(event, True)
            return
        for d in event.deliveries:
            state = (d.status, d.attempt_count)
            if seen.get(d.id) == state:
                continue
            seen[d.id] = state
            when = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
            line = f"{when}  {d.destination}: {_label(d.status, args.lang)}"
            if d.attempt_count:
                line += (
                    f" (tentativas: {d.attempt_count})"
                    if args.lang == "pt-BR"
                    else (f" (attempts: {d.attempt_count})")
                )
            if d.last_error and d.status in (3, 6):
                line += f" - {d.last_error}"
            if d.status == 3 and d.HasField("next_attempt_at"):
                line += f" - next attempt {d.next_attempt_at.ToDatetime():%H:%M:%S} UTC"
            print(line, flush=True)
        done = all(d.status in (5, 6) for d in event.deliveries)
        if not args.follow or done:
            return
        await asyncio.sleep(1.0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tenaz", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the gRPC server and a worker in one process")
    sub.add_parser("serve", help="run the gRPC server only")
    sub.add_parser("worker", help="run a delivery worker only")
    sub.add_parser("migrate", help="apply database migrations")

    keys = sub.add_parser("keys", help="API keys")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    create_key = keys_sub.add_parser("create", help="create an API key (shown once)")
    create_key.add_argument("--workspace", required=True)
    create_key.add_argument("--name", default="")

    def client_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--server", default=os.environ.get("TENAZ_SERVER", "127.0.0.1:50051"))
        p.add_argument("--api-key", default=os.environ.get("TENAZ_API_KEY", ""))
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.add_argument("--lang", default="pt-BR", choices=["pt-BR", "en"])

    dests = sub.add_parser("destinations", help="manage destinations")
    client_options(dests)
    dests.add_argument("action", choices=["list", "create-sandbox", "create-meta"])
    dests.add_argument("name", nargs="?", default="")
    dests.add_argument("--failure-rate", type=float, default=0.0)
    dests.add_argument("--retry-interval", default="", help="e.g. 10s, 30m")
    dests.add_argument("--pixel-id", default="")
    dests.add_argument("--test-event-code", default="")
    dests.add_argument("--base-url", default="")

    submit = sub.add_parser("submit", help="submit one event")
    client_options(submit)
    submit.add_argument("--event-name", required=True)
    submit.add_argument("--event-id", required=True)
    submit.add_argument("--email", default="")
    submit.add_argument("--phone", default="")
    submit.add_argument("--external-id", default="")
    submit.add_argument("--client-ip", default="")
    submit.add_argument("--user-agent", default="")
    submit.add_argument("--value", type=float, default=None)
    submit.add_argument("--currency", default="")
    submit.add_argument("--order-id", default="")
    submit.add_argument("--destination", action="append")
    submit.add_argument(
        "--sandbox-fail-attempts",
        type=int,
        default=0,
        help="sandbox destinations fail this many attempts of the event before taking it",
    )

    events = sub.add_parser("events", help="list events or show one")
    client_options(events)
    events.add_argument("action", choices=["list", "show"])
    events.add_argument("id", nargs="?", default="")
    events.add_argument("--limit", type=int, default=20)
    events.add_argument("--follow", action="store_true", help="print changes until done")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise SystemExit(f"tenaz: {exc}") from None
    _configure_logging(settings.log_level)
    command: Callable[[], Coroutine[Any, Any, None]]
    match args.command:
        case "run":
            command = lambda: _run(settings, serve=True, work=True)  # noqa: E731
        case "serve":
            command = lambda: _run(settings, serve=True, work=False)  # noqa: E731
        case "worker":
            command = lambda: _run(settings, serve=False, work=True)  # noqa: E731
        case "migrate":
            command = lambda: _migrate(settings)  # noqa: E731
        case "keys":
            command = lambda: _create_key(settings, args.workspace, args.name)  # noqa: E731
        case "destinations":
            command = lambda: _destinations(args)  # noqa: E731
        case "submit":
            command = lambda: _submit(args)  # noqa: E731
        case "events":
            command = lambda: _events(args)  # noqa: E731
    try:
        asyncio.run(command())
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        from tenaz.client import TenazError

        if isinstance(exc, TenazError):
            raise SystemExit(f"tenaz: {exc}") from None
        raise


if __name__ == "__main__":
    main()
