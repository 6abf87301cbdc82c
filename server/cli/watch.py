"""`tenaz watch`: status changes as they happen, from WatchStatus.

In a terminal it keeps a live table of the most recent deliveries; piped, it
prints one line per change; with `--json`, one JSON object per change for
programs, each with its `sequence`, which `--after` resumes from.

`watched_changes` is the stream underneath (also used by `events show
--follow`): the client's `follow_status`, which reconnects after the last
sequence it handled (no gap, no repeat) and says when it does, with a `Resync`
marked where changes may be missing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import threading
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from rich.console import Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text
from tenaz.client import Reconnecting, TenazClient, TenazError
from tenaz.v1 import events_pb2

from server.cli.connection import connect
from server.cli.errors import UsageError
from server.cli.output import (
    Output,
    cell,
    local_time,
    message_dict,
    shorten,
    status_text,
    table,
    when,
    word,
)

_ERROR_STATUSES = frozenset(
    {
        events_pb2.DELIVERY_STATUS_WAITING_RETRY,
        events_pb2.DELIVERY_STATUS_RESENDING,
        events_pb2.DELIVERY_STATUS_FAILED,
    }
)


@dataclass(frozen=True)
class Resync:
    """The stream started again from "now" without a known position.

    Changes made meanwhile may be missing; whoever keeps state should reload it
    (ListEvents, GetEvent).
    """

    reason: str


def reconnect_note(reconnecting: Reconnecting) -> str:
    return f"reconnecting in {reconnecting.delay:g} s ({reconnecting.reason})"


async def watched_changes(
    tenaz: TenazClient,
    *,
    after: int | None,
    filters: Mapping[str, Any],
    on_reconnect: Callable[[Reconnecting], None],
    restart_when_out_of_range: bool = False,
) -> AsyncGenerator[events_pb2.WatchStatusResponse | Resync, None]:
    """WatchStatusResponse messages (changes and heartbeats) from `follow_status`, and Resync
    markers.

    A Resync comes before the first message of a stream that reconnected
    without a known position (it followed "from now" and had heard nothing),
    and, with `restart_when_out_of_range`, when the server no longer keeps the
    changes after the position: the stream then starts again from now instead
    of ending with OUT_OF_RANGE.
    """
    dropped = ""

    def reconnecting(event: Reconnecting) -> None:
        nonlocal dropped
        if event.resumes_after is None:
            dropped = "the stream dropped before its position was known"
        on_reconnect(event)

    while True:
        follow = tenaz.follow_status(after_sequence=after, on_reconnect=reconnecting, **filters)
        try:
            async with contextlib.aclosing(follow):
                async for message in follow:
                    if dropped:
                        yield Resync(dropped)
                        dropped = ""
                    yield message
        except TenazError as exc:
            if exc.code != grpc.StatusCode.OUT_OF_RANGE or not restart_when_out_of_range:
                raise
            after = None
            yield Resync(exc.message)


# The live table


@dataclass(frozen=True)
class WatchFilter:
    """The filters of `watch`, as the RPC takes them."""

    destinations: tuple[str, ...] = ()
    statuses: tuple[int, ...] = ()
    event_names: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()

    def matches(self, *, destination: str, status: int, event_name: str, event_id: str) -> bool:
        return (
            (not self.destinations or destination in self.destinations)
            and (not self.statuses or status in self.statuses)
            and (not self.event_names or event_name in self.event_names)
            and (not self.event_ids or event_id in self.event_ids)
        )

    def stream_fields(self, *, with_statuses: bool = True) -> dict[str, Any]:
        """WatchStatusRequest filters."""
        fields: dict[str, Any] = {
            "destinations": list(self.destinations),
            "event_names": list(self.event_names),
            "event_ids": list(self.event_ids),
        }
        if with_statuses:
            fields["statuses"] = list(self.statuses)
        return fields

    def list_fields(self) -> dict[str, Any]:
        """ListEventsRequest filters that narrow the same events (the rest is checked here)."""
        fields: dict[str, Any] = {
            "statuses": list(self.statuses),
            "event_ids": list(self.event_ids),
        }
        if len(self.destinations) == 1:
            fields["destination"] = self.destinations[0]
        if len(self.event_names) == 1:
            fields["event_name"] = self.event_names[0]
        return fields


@dataclass
class BoardRow:
    delivery_id: str
    event_id: str
    client_event_id: str
    event_name: str
    destination: str
    status: int
    attempts: int
    error: str
    at: dt.datetime | None
    sequence: int = 0

    def order(self) -> tuple[dt.datetime, int]:
        return (self.at or dt.datetime.min.replace(tzinfo=dt.UTC), self.sequence)


@dataclass
class Board:
    """The most recent deliveries that match the filter, with their current status.

    Rows come from a snapshot (ListEvents) and from changes; a change older than
    what a row shows (the snapshot may be newer than a change still in flight)
    is ignored. A delivery whose status leaves the filter leaves the board.
    """

    size: int
    where: WatchFilter = field(default_factory=WatchFilter)
    position: int | None = None
    state: str = ""
    _rows: dict[str, BoardRow] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self, events: Iterable[events_pb2.StoredEvent]) -> None:
        for stored in events:
            for delivery in stored.deliveries:
                self._put(
                    BoardRow(
                        delivery_id=delivery.id,
                        event_id=stored.id,
                        client_event_id=stored.event.event_id,
                        event_name=stored.event.event_name,
                        destination=delivery.destination,
                        status=delivery.status,
                        attempts=delivery.attempt_count,
                        error=delivery.last_error,
                        at=when(delivery, "updated_at"),
                    )
                )

    def apply(self, change: events_pb2.StatusChange) -> None:
        self.position = change.sequence
        previous = self._rows.get(change.delivery_id)
        self._put(
            BoardRow(
                delivery_id=change.delivery_id,
                event_id=change.event_id,
                client_event_id=change.client_event_id,
                event_name=change.event_name,
                destination=change.destination,
                status=change.to_status,
                attempts=change.attempt_number,
                # A change to RESENDING carries no error; the last one still explains it.
                error=change.error or (previous.error if previous else ""),
                at=when(change, "at"),
                sequence=change.sequence,
            )
        )

    def _put(self, row: BoardRow) -> None:
        with self._lock:
            current = self._rows.get(row.delivery_id)
            if current is not None and row.order() < current.order():
                return
            if not self.where.matches(
                destination=row.destination,
                status=row.status,
                event_name=row.event_name,
                event_id=row.client_event_id,
            ):
                self._rows.pop(row.delivery_id, None)
                return
            self._rows[row.delivery_id] = row
            if len(self._rows) > self.size:
                oldest = min(self._rows.values(), key=BoardRow.order)
                del self._rows[oldest.delivery_id]

    def rows(self) -> list[BoardRow]:
        """Newest first."""
        with self._lock:
            return sorted(self._rows.values(), key=BoardRow.order, reverse=True)


def render_board(board: Board, lang: str) -> RenderableType:
    grid: Table = table(
        "updated",
        "event",
        "event ID",
        "destination",
        "status",
        word("attempts", lang),
        "last error",
    )
    # One line per delivery, however long the platform's message.
    grid.columns[-1].no_wrap = True
    grid.columns[-1].overflow = "ellipsis"
    for row in board.rows():
        grid.add_row(
            cell(local_time(row.at)),
            cell(row.event_name),
            cell(row.client_event_id),
            cell(row.destination),
            status_text(row.status, lang),
            cell(row.attempts),
            cell(shorten(row.error, 80) if row.status in _ERROR_STATUSES else "", "red"),
        )
    where = "" if board.position is None else f"sequence {board.position}"
    footer = Text(" · ".join(part for part in (where, board.state) if part), style="dim")
    return Group(grid, footer)


class _LiveBoard:
    """Rendered by rich's refresh thread at its own pace, however fast changes come."""

    def __init__(self, board: Board, lang: str) -> None:
        self._board = board
        self._lang = lang

    def __rich__(self) -> RenderableType:
        return render_board(self._board, self._lang)


def change_line(
    change: events_pb2.StatusChange,
    lang: str,
    *,
    with_event: bool = True,
    next_attempt: dt.datetime | None = None,
) -> Text:
    """One change as a line: time, (event,) destination, status, attempts, error."""
    line = Text(f"{local_time(when(change, 'at'))}  ")
    if with_event:
        line.append(f"{change.event_name} {change.client_event_id}  ")
    line.append(f"{change.destination}: ")
    line.append_text(status_text(change.to_status, lang))
    if change.attempt_number:
        line.append(f" ({word('attempts', lang)}: {change.attempt_number})")
    if change.error and change.to_status in _ERROR_STATUSES:
        line.append(f" - {shorten(change.error, 200)}", style="red")
    if next_attempt is not None:
        line.append(f" - {word('next attempt', lang)} {local_time(next_attempt)}")
    return line


# The command


def watch_filter(args: argparse.Namespace) -> WatchFilter:
    return WatchFilter(
        destinations=tuple(args.destination or ()),
        statuses=tuple(dict.fromkeys(args.status or ())),
        event_names=tuple(args.event_name or ()),
        event_ids=tuple(args.event_id or ()),
    )


async def watch(args: argparse.Namespace, out: Output) -> None:
    if args.after is not None and args.after < 0:
        raise UsageError("--after takes a sequence number (0: every change still kept)")
    if args.rows < 1 or args.max_changes < 0:
        raise UsageError("--rows must be at least 1, and --max-changes not negative")
    where = watch_filter(args)
    if out.as_json or not out.console.is_terminal:
        await _print_changes(args, out, where)
    else:
        await _live_table(args, out, where)


async def _print_changes(args: argparse.Namespace, out: Output, where: WatchFilter) -> None:
    count = 0
    async with connect(args) as tenaz:
        changes = watched_changes(
            tenaz,
            after=args.after,
            filters=where.stream_fields(),
            on_reconnect=lambda event: out.note(f"tenaz: {reconnect_note(event)}"),
        )
        async with contextlib.aclosing(changes):
            async for item in changes:
                if isinstance(item, Resync):
                    out.note(f"tenaz: watching from now on; changes may be missing ({item.reason})")
                    continue
                if not item.HasField("change"):
                    continue
                if out.as_json:
                    out.json(message_dict(item.change), compact=True)
                else:
                    out.print(change_line(item.change, out.lang))
                count += 1
                if args.max_changes and count >= args.max_changes:
                    return


async def _live_table(args: argparse.Namespace, out: Output, where: WatchFilter) -> None:
    board = Board(size=args.rows, where=where)
    async with connect(args) as tenaz:

        async def reload() -> None:
            page = await tenaz.list_events(page_size=min(args.rows, 500), **where.list_fields())
            board.load(page.events)

        # Statuses are filtered here rather than by the server, so that a delivery
        # moving out of the wanted statuses leaves the table instead of going stale.
        changes = watched_changes(
            tenaz,
            after=args.after,
            filters=where.stream_fields(with_statuses=False),
            on_reconnect=lambda event: setattr(board, "state", reconnect_note(event)),
            restart_when_out_of_range=True,
        )
        count = 0
        # The first heartbeat proves the server has placed the stream's start; loading
        # the snapshot again then covers changes made between the first load and it.
        reload_at_heartbeat = args.after is None
        if args.after is None:
            await reload()
        with Live(_LiveBoard(board, out.lang), console=out.console, refresh_per_second=4):
            async with contextlib.aclosing(changes):
                async for item in changes:
                    board.state = ""  # whatever arrives, the stream is connected
                    if isinstance(item, Resync):
                        await reload()
                        reload_at_heartbeat = True
                    elif item.HasField("change"):
                        board.apply(item.change)
                        count += 1
                        if args.max_changes and count >= args.max_changes:
                            return
                    else:
                        board.position = item.heartbeat.last_sequence
                        if reload_at_heartbeat:
                            reload_at_heartbeat = False
                            await reload()
