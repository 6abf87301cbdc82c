"""`tenaz submit`: one event from flags, or many from a file.

A file holds a JSON array of events or JSON Lines (one event a line), each in
the proto's JSON mapping of `Event` (what `google.protobuf.json_format`
writes). The whole file is read and checked before anything is sent, then it
goes out with SubmitEvents in batches (each stored all or nothing). When the
server refuses a batch, the command stops there and says which batches were
stored; sending the file again is safe, as stored events come back as
duplicates and are never delivered twice.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf.json_format import ParseDict, ParseError
from tenaz.client import FieldViolation, TenazClient, TenazError, make_event
from tenaz.v1 import events_pb2

from server.cli.connection import connect
from server.cli.errors import CliError, UsageError
from server.cli.output import Output, cell

MAX_BATCH = 1000
DEFAULT_BATCH = 500
# A batch still refused for the rate after this many waits is reported as refused.
MAX_RATE_LIMITED = 20
# Past this many, more parse errors would only scroll the first ones away.
MAX_REPORTED_ERRORS = 20

_EVENT_FIELD = re.compile(r"^events\[(\d+)\](?:\.(.+))?$")


@dataclass(frozen=True)
class FileEvent:
    line: int
    event: events_pb2.Event


class EventFileError(CliError):
    """The file cannot be read as events; `problems` are (line, description)."""

    def __init__(self, problems: Sequence[tuple[int, str]]) -> None:
        self.problems = list(problems)
        shown = "".join(f"\n  line {line}: {text}" for line, text in self.problems)
        super().__init__(f"the file has {len(self.problems)} bad event(s); nothing was sent{shown}")


# Reading the file


def read_events(text: str) -> list[FileEvent]:
    """The events of a JSON array or JSON Lines text, each with the line it starts on."""
    stripped = text.lstrip()
    items = _array_items(text) if stripped.startswith("[") else _lines(text)
    events: list[FileEvent] = []
    problems: list[tuple[int, str]] = []
    for line, item in items:
        if isinstance(item, _Unreadable):
            problems.append((line, item.problem))
        elif not isinstance(item, dict):
            problems.append((line, "an event must be a JSON object"))
        else:
            try:
                events.append(FileEvent(line, ParseDict(item, events_pb2.Event())))
            except ParseError as exc:
                # The rest of protobuf's message lists every field in camelCase: noise here.
                problems.append((line, str(exc).splitlines()[0]))
        if len(problems) >= MAX_REPORTED_ERRORS:
            break
    if problems:
        raise EventFileError(problems)
    if not events:
        raise CliError("the file has no events")
    return events


@dataclass(frozen=True)
class _Unreadable:
    """Stands for an item that is not JSON; `problem` says why."""

    problem: str


def _lines(text: str) -> Iterator[tuple[int, object]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, _Unreadable(f"not valid JSON: {exc.msg} (column {exc.colno})")


def _array_items(text: str) -> Iterator[tuple[int, object]]:
    """Elements of a JSON array with their line numbers, decoded one by one.

    `json.loads` would lose where each element was, and a message about the
    500th event is only useful with the line to open the file at.
    """
    newlines = [i for i, char in enumerate(text) if char == "\n"]

    def line_at(position: int) -> int:
        return bisect.bisect_left(newlines, position) + 1

    decoder = json.JSONDecoder()
    position = _skip_space(text, text.index("[") + 1)
    if text.startswith("]", position):
        _check_end(text, position + 1, line_at)
        return
    while True:
        try:
            item, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            start = line_at(position)
            where = (
                f" (in the event that starts on line {start})" if line_at(exc.pos) != start else ""
            )
            yield line_at(exc.pos), _Unreadable(f"not valid JSON: {exc.msg}{where}")
            return
        yield line_at(position), item
        position = _skip_space(text, end)
        if text.startswith(",", position):
            position = _skip_space(text, position + 1)
        elif text.startswith("]", position):
            _check_end(text, position + 1, line_at)
            return
        else:
            yield (
                line_at(position),
                _Unreadable("not valid JSON: expected ',' or ']' after an event"),
            )
            return


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _check_end(text: str, position: int, line_at: Callable[[int], int]) -> None:
    rest = _skip_space(text, position)
    if rest < len(text):
        raise EventFileError([(line_at(rest), "not valid JSON: text after the closing ']'")])


def batches(events: Sequence[FileEvent], size: int) -> list[Sequence[FileEvent]]:
    return [events[start : start + size] for start in range(0, len(events), size)]


def located_violations(
    violations: Sequence[FieldViolation], batch: Sequence[FileEvent]
) -> list[str]:
    """Each violation of a refused batch, with the line of the event it is about.

    The server names fields by position in the request (`events[3].user_data.email`);
    the person fixing the file needs line 1504 and `user_data.email`.
    """
    located = []
    for violation in violations:
        match = _EVENT_FIELD.match(violation.field)
        if match and int(match.group(1)) < len(batch):
            item = batch[int(match.group(1))]
            field = match.group(2) or "event"
            located.append(f"line {item.line}: {field}: {violation.description}")
        else:
            located.append(f"{violation.field}: {violation.description}")
    return located


def _span(*groups: Sequence[FileEvent]) -> str:
    """The lines the events of these batches start on, e.g. `lines 1-500`."""
    first, last = groups[0][0].line, groups[-1][-1].line
    return f"line {first}" if first == last else f"lines {first}-{last}"


def _numbers(first: int, last: int) -> str:
    return f"batch {first}" if first == last else f"batches {first}-{last}"


# Commands


async def submit(args: argparse.Namespace, out: Output) -> None:
    if args.file:
        await _submit_file(args, out)
    else:
        await _submit_one(args, out)


def event_from_flags(args: argparse.Namespace) -> events_pb2.Event:
    if not args.event_name or not args.event_id:
        raise UsageError("give --event-name and --event-id, or --file with events")
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
    return make_event(
        event_id=args.event_id,
        event_name=args.event_name,
        event_time=args.event_time,
        value=args.value,
        currency=args.currency,
        order_id=args.order_id,
        destinations=args.destination or (),
        extra=_sandbox_switches(args),
        **user,
    )


def _sandbox_switches(args: argparse.Namespace) -> dict[str, object] | None:
    """The custom data that makes sandbox destinations fail on purpose (jobs/platforms/sandbox)."""
    switches: dict[str, object] = {}
    if args.sandbox_fail_attempts:
        switches["sandbox_fail_attempts"] = args.sandbox_fail_attempts
    if args.sandbox_expired_token_attempts:
        switches["sandbox_expired_token_attempts"] = args.sandbox_expired_token_attempts
    if args.sandbox_reject:
        switches["sandbox_reject"] = True
    return switches or None


async def _submit_one(args: argparse.Namespace, out: Output) -> None:
    event = event_from_flags(args)
    async with connect(args) as tenaz:
        result = await tenaz.submit_event(event)
    if out.as_json:
        out.json(result)
        return
    stored = result.event
    note = " (duplicate: already submitted)" if result.duplicate else ""
    out.print(cell(f"event {stored.id}{note}"))
    for d in stored.deliveries:
        line = cell(f"  {d.destination}: ")
        line.append_text(out.status(d.status))
        out.print(line)


_SINGLE_EVENT_FLAGS = (
    "event_name",
    "event_id",
    "email",
    "phone",
    "external_id",
    "client_ip",
    "user_agent",
    "value",
    "currency",
    "order_id",
    "event_time",
    "sandbox_fail_attempts",
    "sandbox_expired_token_attempts",
    "sandbox_reject",
)


def _read_file(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text") from None


async def _submit_file(args: argparse.Namespace, out: Output) -> None:
    given = [f"--{name.replace('_', '-')}" for name in _SINGLE_EVENT_FLAGS if getattr(args, name)]
    if given:
        raise UsageError(f"{', '.join(given)}: events come from the file with --file")
    if not 1 <= args.batch_size <= MAX_BATCH:
        raise UsageError(f"--batch-size must be between 1 and {MAX_BATCH}")
    events = read_events(_read_file(args.file))
    if args.destination:
        # Only where the file names no destination: the file is the more specific.
        for item in events:
            if not item.event.destinations:
                item.event.destinations.extend(args.destination)
    groups = batches(events, args.batch_size)
    accepted = duplicates = 0
    results: list[dict[str, object]] = []
    async with connect(args) as tenaz:
        with out.progress("events") as bar:
            task = bar.add_task("submitting", total=len(events))
            for number, batch in enumerate(groups, start=1):
                try:
                    response = await _send(tenaz, batch, out)
                except TenazError as exc:
                    bar.stop()
                    raise _refused(exc, groups, number) from None
                for item, result in zip(batch, response.results, strict=True):
                    duplicates += result.duplicate
                    accepted += not result.duplicate
                    results.append(
                        {
                            "line": item.line,
                            "event_id": item.event.event_id,
                            "id": result.id,
                            "duplicate": result.duplicate,
                        }
                    )
                bar.advance(task, len(batch))
    if out.as_json:
        out.json(
            {
                "submitted": len(events),
                "accepted": accepted,
                "duplicates": duplicates,
                "batches": len(groups),
                "results": results,
            }
        )
        return
    batch_word = "batch" if len(groups) == 1 else "batches"
    out.print(
        cell(
            f"submitted {len(events)} events in {len(groups)} {batch_word}:"
            f" {accepted} accepted, {duplicates} duplicates"
        )
    )


async def _send(
    tenaz: TenazClient, batch: Sequence[FileEvent], out: Output
) -> events_pb2.SubmitEventsResponse:
    """Submit one batch, waiting as long as the server asks when over its rate limit.

    A rate-limited call stored nothing, so sending the same batch again is safe.
    """
    for _ in range(MAX_RATE_LIMITED):
        try:
            return await tenaz.submit_events(item.event for item in batch)
        except TenazError as exc:
            if exc.code != grpc.StatusCode.RESOURCE_EXHAUSTED or exc.retry_after is None:
                raise
            wait = exc.retry_after.total_seconds()
            out.note(f"over the submission rate limit: waiting {wait:.1f} s")
            await asyncio.sleep(wait)
    return await tenaz.submit_events(item.event for item in batch)


def _refused(exc: TenazError, groups: Sequence[Sequence[FileEvent]], number: int) -> CliError:
    """What was stored and what was not, when batch `number` (1-based) failed."""
    batch = groups[number - 1]
    head = f"{exc.code.name}: batch {number} of {len(groups)} ({_span(batch)})"
    lines: list[str]
    fixable = exc.code == grpc.StatusCode.INVALID_ARGUMENT
    if fixable:
        lines = [f"{head} was refused"]
        lines += [f"  {text}" for text in located_violations(exc.violations, batch)]
        if not exc.violations:
            lines.append(f"  {exc.message}")
        fate = f"batch {number} was not stored"
    elif exc.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        # The answer was lost, not necessarily the request: the batch may be stored.
        lines = [f"{head} got no answer: {exc.message}"]
        fate = f"batch {number} may or may not be stored"
    else:
        lines = [f"{head} failed: {exc.message}"]
        fate = f"batch {number} was not stored"
    if number == 1:
        lines.append(f"stored: nothing ({fate})")
    else:
        stored = groups[: number - 1]
        lines.append(
            f"stored: {_numbers(1, number - 1)} ({_span(*stored)},"
            f" {sum(len(b) for b in stored)} events); {fate}"
        )
    if number < len(groups):
        rest = groups[number:]
        lines.append(f"not sent: {_numbers(number + 1, len(groups))} ({_span(*rest)})")
    advice = "fix the file and submit it again" if fixable else "submitting the file again is safe"
    lines.append(f"{advice}: stored events come back as duplicates, never delivered twice")
    return CliError("\n".join(lines))
