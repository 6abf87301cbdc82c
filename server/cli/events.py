"""`tenaz events list | show`: events with their deliveries, and one event's history.

`events show ID` prints every attempt of every delivery (time, outcome, HTTP
status, the platform's code and message, the start of its response, the next
attempt and the deadline). With `--follow` it then prints each status change
as WatchStatus delivers it, until every delivery is terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
from typing import Any

from rich.padding import Padding
from rich.text import Text
from tenaz.client import TenazClient
from tenaz.v1 import events_pb2

from jobs.platforms.registry import platform_name
from server.cli.connection import connect
from server.cli.errors import UsageError
from server.cli.options import check_window
from server.cli.output import (
    Output,
    cell,
    is_terminal,
    local_time,
    message_dict,
    outcome_label,
    shorten,
    table,
    when,
    word,
)
from server.cli.watch import Resync, change_line, reconnect_note, watched_changes

MAX_PAGE = 500


def list_filters(args: argparse.Namespace) -> dict[str, Any]:
    """ListEventsRequest fields from the command's options."""
    try:
        check_window(args.since, args.until)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    filters: dict[str, Any] = {
        "statuses": list(dict.fromkeys(args.status or ())),
        "destination": args.destination,
        "event_name": args.event_name,
        "event_ids": list(args.event_id or ()),
    }
    if args.since is not None:
        filters["received_after"] = args.since
    if args.until is not None:
        filters["received_before"] = args.until
    return filters


async def list_(args: argparse.Namespace, out: Output) -> None:
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    filters = list_filters(args)
    events: list[events_pb2.StoredEvent] = []
    token = args.page_token
    async with connect(args) as tenaz:
        while len(events) < args.limit:
            page = await tenaz.list_events(
                **filters, page_size=min(MAX_PAGE, args.limit - len(events)), page_token=token
            )
            events.extend(page.events)
            token = page.next_page_token
            if not token:
                break
    if out.as_json:
        out.json(
            {"events": [message_dict(e) for e in events], "next_page_token": token},
        )
        return
    if not events:
        out.note("no events match")
        return
    grid = table("id", "received", "event", "event ID", "deliveries")
    for stored in events:
        deliveries = Text()
        for index, d in enumerate(stored.deliveries):
            if index:
                deliveries.append(", ")
            deliveries.append(f"{d.destination}: ")
            deliveries.append_text(out.delivery_status(d))
        grid.add_row(
            cell(stored.id),
            cell(local_time(when(stored, "received_at"))),
            cell(stored.event.event_name),
            cell(stored.event.event_id),
            deliveries,
        )
    out.print(grid)
    if token:
        out.note(f"more events: add --page-token {token}")


async def show(args: argparse.Namespace, out: Output) -> None:
    async with connect(args) as tenaz:
        stored = await tenaz.get_event(args.id)
        if args.follow:
            await _follow(tenaz, args, out, stored)
            return
    if out.as_json:
        out.json(stored)
        return
    _print_event(stored, out)


def _print_event(stored: events_pb2.StoredEvent, out: Output) -> None:
    event = stored.event
    out.print(cell(f"event {stored.id}  {event.event_name}  {event.event_id}", "bold"))
    facts = table("", "")
    facts.show_header = False
    facts.add_row(cell("event time"), cell(local_time(when(event, "event_time"))))
    facts.add_row(cell("received"), cell(local_time(when(stored, "received_at"))))
    source = " ".join(part for part in (event.action_source, event.event_source_url) if part)
    facts.add_row(cell("source"), cell(source))
    custom = event.custom_data
    if custom.HasField("value") or custom.order_id:
        value = f"{custom.value:.2f} {custom.currency}" if custom.HasField("value") else ""
        order = f"order {custom.order_id}" if custom.order_id else ""
        facts.add_row(cell("value"), cell("  ".join(p for p in (value, order) if p)))
    out.print(Padding(facts, (0, 0, 0, 2), expand=False))
    for d in stored.deliveries:
        _print_delivery(d, out)


def _print_delivery(d: events_pb2.Delivery, out: Output) -> None:
    lang = out.lang
    out.print()
    title = Text(f"{d.destination}: ", style="bold")
    title.append_text(out.delivery_status(d))
    out.print(title)
    facts = [
        f"{word('platform', lang)}: {platform_name(d.platform)}",
        f"{word('attempts', lang)}: {d.attempt_count}",
        f"{word('next attempt', lang)}: {local_time(when(d, 'next_attempt_at'))}",
        f"{word('deadline', lang)}: {local_time(when(d, 'deadline'))}",
    ]
    out.print(cell("  " + "   ".join(facts)))
    if d.last_error and d.status != events_pb2.DELIVERY_STATUS_SUCCEEDED:
        out.print(cell(f"  last error: {shorten(d.last_error, 300)}", "red"))
    if not d.attempts:
        return
    grid = table(
        "#", "trigger", "started", "finished", "outcome", "HTTP", "code", "message", "response"
    )
    for a in d.attempts:
        code = ""
        if a.platform_code:
            code = str(a.platform_code)
            if a.platform_subcode:
                code += f"/{a.platform_subcode}"
        grid.add_row(
            cell(a.number),
            cell(a.trigger),
            cell(local_time(when(a, "started_at"))),
            cell(local_time(when(a, "finished_at"))),
            cell(outcome_label(a.outcome, lang), _OUTCOME_STYLES.get(a.outcome, "")),
            cell(a.http_status or ""),
            cell(code),
            cell(shorten(a.message, 100)),
            cell(shorten(a.response_excerpt, 100), "dim"),
        )
    out.print(Padding(grid, (0, 0, 0, 2), expand=False))


_OUTCOME_STYLES = {
    events_pb2.ATTEMPT_OUTCOME_SUCCEEDED: "green",
    events_pb2.ATTEMPT_OUTCOME_EXTERNAL_PROBLEM: "yellow",
    events_pb2.ATTEMPT_OUTCOME_REJECTED: "red",
    events_pb2.ATTEMPT_OUTCOME_INTERRUPTED: "yellow",
    events_pb2.ATTEMPT_OUTCOME_EXPIRED: "red",
}


Progress = dict[str, tuple[int, int]]  # delivery id -> (status, attempts)


def _progress(stored: events_pb2.StoredEvent) -> Progress:
    return {d.id: (d.status, d.attempt_count) for d in stored.deliveries}


def _all_terminal(progress: Progress) -> bool:
    return all(is_terminal(status) for status, _ in progress.values())


async def _follow(
    tenaz: TenazClient, args: argparse.Namespace, out: Output, stored: events_pb2.StoredEvent
) -> None:
    """Print the event's status changes, oldest first, until every delivery is terminal.

    The stream starts at the beginning of what the server keeps (after_sequence=0),
    filtered on this event: its whole history arrives in order, then each new
    change, so nothing falls between reading the event and watching it. When the
    replayed statuses all look terminal and match what GetEvent says now, the
    history is complete. At each heartbeat (the stream is idle) GetEvent says
    whether the event is done, which also ends a follow whose stream restarted
    "from now" because the server no longer keeps the event's first changes.
    """
    if not out.as_json:
        out.print(
            cell(f"event {stored.id}  {stored.event.event_name}  {stored.event.event_id}", "bold")
        )
    if not stored.deliveries:
        return
    # Nothing is known until the delivery's changes arrive: (UNSPECIFIED, 0).
    replayed: Progress = {d.id: (0, 0) for d in stored.deliveries}
    changes = watched_changes(
        tenaz,
        after=0,
        filters={"event_ids": [stored.event.event_id], "event_names": [stored.event.event_name]},
        on_reconnect=lambda event: out.note(f"tenaz: {reconnect_note(event)}"),
        restart_when_out_of_range=True,
    )
    async with contextlib.aclosing(changes):
        async for item in changes:
            if isinstance(item, Resync):
                # Changes made while the stream was down may never arrive: show the event now.
                current = await tenaz.get_event(stored.id)
                _print_differences(current, replayed, out)
                replayed = _progress(current)
                if _all_terminal(replayed):
                    return
                continue
            if item.HasField("heartbeat"):
                # Only an end is taken from GetEvent here; anything else the stream will bring.
                current = await tenaz.get_event(stored.id)
                if _all_terminal(_progress(current)):
                    _print_differences(current, replayed, out)
                    return
                continue
            change = item.change
            replayed[change.delivery_id] = (change.to_status, change.attempt_number)
            if out.as_json:
                out.json(message_dict(change), compact=True)
            else:
                next_attempt = None
                if change.to_status == events_pb2.DELIVERY_STATUS_WAITING_RETRY:
                    next_attempt = await _next_attempt(tenaz, stored.id, change)
                out.print(
                    change_line(change, out.lang, with_event=False, next_attempt=next_attempt)
                )
            if _all_terminal(replayed) and _progress(await tenaz.get_event(stored.id)) == replayed:
                return


async def _next_attempt(
    tenaz: TenazClient, event_id: str, change: events_pb2.StatusChange
) -> dt.datetime | None:
    """When the retry that `change` scheduled is due, if it is still the current one."""
    current = await tenaz.get_event(event_id)
    for d in current.deliveries:
        if (
            d.id == change.delivery_id
            and d.status == events_pb2.DELIVERY_STATUS_WAITING_RETRY
            and d.attempt_count == change.attempt_number
        ):
            return when(d, "next_attempt_at")
    return None


def _print_differences(current: events_pb2.StoredEvent, shown: Progress, out: Output) -> None:
    """Print the deliveries whose status is not the one last printed."""
    if out.as_json:
        return
    for d in current.deliveries:
        if shown.get(d.id, (0, 0))[0] != d.status:
            line = Text(f"{local_time(when(d, 'updated_at'))}  {d.destination}: ")
            line.append_text(out.status(d.status))
            if d.attempt_count:
                line.append(f" ({word('attempts', out.lang)}: {d.attempt_count})")
            out.print(line)
