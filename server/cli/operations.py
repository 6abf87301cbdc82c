"""`tenaz retry | cancel | replay | operation`: act on many deliveries at once.

By delivery ids the server does the work in the call. By filter it starts a
background operation; the command follows it with GetOperation (a progress
bar in a terminal) until it is done and prints what changed and what was
skipped. Stopping the command does not stop the operation.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from tenaz.client import TenazClient
from tenaz.v1 import events_pb2

from server.cli.connection import connect
from server.cli.errors import CliError, UsageError
from server.cli.options import delivery_filter
from server.cli.output import Output, cell

RETRY, CANCEL = "retry", "cancel"
# GetOperation is a cheap read; ask often at first, since most operations are short.
POLL_INTERVALS = (0.1, 0.2, 0.5, 1.0)
_STATES = {
    events_pb2.OPERATION_STATE_RUNNING: "running",
    events_pb2.OPERATION_STATE_DONE: "done",
    events_pb2.OPERATION_STATE_FAILED: "failed",
}
_KINDS = {events_pb2.OPERATION_KIND_RETRY: RETRY, events_pb2.OPERATION_KIND_CANCEL: CANCEL}


def _has_filter(args: argparse.Namespace) -> bool:
    return bool(
        getattr(args, "status", None)
        or args.destination
        or args.event_name
        or args.since
        or args.until
    )


def operation_filter(
    args: argparse.Namespace, statuses: Sequence[int] = ()
) -> events_pb2.DeliveryFilter:
    try:
        return delivery_filter(
            statuses=statuses or getattr(args, "status", None) or (),
            destination=args.destination,
            event_name=args.event_name,
            since=args.since,
            until=args.until,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


async def retry(args: argparse.Namespace, out: Output) -> None:
    await _start(args, out, RETRY)


async def cancel(args: argparse.Namespace, out: Output) -> None:
    await _start(args, out, CANCEL)


async def replay(args: argparse.Namespace, out: Output) -> None:
    """Retry FAILED deliveries by filter: after an outage, or once bad data is fixed."""
    if not (_has_filter(args) or args.all):
        raise UsageError(
            "name the deliveries to replay (--destination, --event-name, --since, --until),"
            " or --all for every failed delivery"
        )
    where = operation_filter(args, statuses=[events_pb2.DELIVERY_STATUS_FAILED])
    async with connect(args) as tenaz:
        operation = await tenaz.retry_deliveries(filter=where)
        await _finish(tenaz, args, out, operation)


async def _start(args: argparse.Namespace, out: Output, kind: str) -> None:
    ids: list[str] = args.delivery_ids
    if ids and (_has_filter(args) or args.all):
        raise UsageError("give delivery ids or a filter, not both")
    if not ids and not (_has_filter(args) or args.all):
        raise UsageError(
            f"name the deliveries to {kind}: their ids, a filter (--status, --destination,"
            " --event-name, --since, --until), or --all"
        )
    async with connect(args) as tenaz:
        call = tenaz.retry_deliveries if kind == RETRY else tenaz.cancel_deliveries
        operation = await (call(ids) if ids else call(filter=operation_filter(args)))
        await _finish(tenaz, args, out, operation)


async def show(args: argparse.Namespace, out: Output) -> None:
    """Follow an operation started earlier (or by another command that was stopped)."""
    async with connect(args) as tenaz:
        operation = await tenaz.get_operation(args.id)
        await _finish(tenaz, args, out, operation)


async def _finish(
    tenaz: TenazClient, args: argparse.Namespace, out: Output, operation: events_pb2.Operation
) -> None:
    kind = _KINDS.get(operation.kind, "operation")
    if operation.state == events_pb2.OPERATION_STATE_RUNNING:
        matching = (
            "1 delivery matches" if operation.total == 1 else f"{operation.total} deliveries match"
        )
        out.note(f"{kind} operation {operation.id} started: {matching}")
        if args.no_wait:
            if out.as_json:
                out.json(operation)
            else:
                out.print(cell(operation.id))
            return
        operation = await follow(tenaz, operation, out)
    if out.as_json:
        out.json(operation)
    else:
        out.print(cell(summary(operation)))
    if operation.state == events_pb2.OPERATION_STATE_FAILED:
        raise CliError(f"{kind} operation {operation.id} failed: {operation.error}")


async def follow(
    tenaz: TenazClient, operation: events_pb2.Operation, out: Output
) -> events_pb2.Operation:
    """Poll GetOperation until the operation is no longer running, with a progress bar."""
    polls = 0
    try:
        with out.progress("deliveries") as bar:
            task = bar.add_task(
                f"{_KINDS.get(operation.kind, 'operation')} {operation.id}",
                total=operation.total or None,
                completed=operation.processed,
            )
            while operation.state == events_pb2.OPERATION_STATE_RUNNING:
                await asyncio.sleep(POLL_INTERVALS[min(polls, len(POLL_INTERVALS) - 1)])
                polls += 1
                operation = await tenaz.get_operation(operation.id)
                bar.update(task, completed=operation.processed)
    except asyncio.CancelledError:
        # Ctrl-C stops the watching, not the work.
        out.note(
            f"operation {operation.id} goes on in the background;"
            f" follow it with: tenaz operation {operation.id}"
        )
        raise
    return operation


def summary(operation: events_pb2.Operation) -> str:
    """`retry 7 done: 12 changed, 3 skipped (of 15)`, and what skipped means when any were."""
    kind = _KINDS.get(operation.kind, "operation")
    state = _STATES.get(operation.state, "")
    text = (
        f"{kind} {operation.id} {state}: {operation.changed} changed,"
        f" {operation.skipped} skipped (of {operation.total})"
    )
    if operation.skipped:
        applies = "neither failed nor waiting" if kind == RETRY else "not waiting for a retry"
        text += (
            f"; skipped deliveries were in progress, succeeded, past their deadline, or {applies}"
        )
    return text
