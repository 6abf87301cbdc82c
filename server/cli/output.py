"""How the command line shows things: labels in the user's language, times, tables,
JSON for scripts, and progress bars.

Status labels are the product's own words (DESIGN.md): Portuguese by default,
English with `--lang en`. Tables and labels go to stdout; notes and progress
bars go to stderr, so that `tenaz ... > file` captures only the result. Piped
output has no colours and no wrapping, one record per row, so that grep and
friends see whole lines; `--json` is the format meant for programs.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text
from tenaz.v1 import events_pb2

from jobs.platforms.base import ACTIONS
from jobs.status import Status, label

PT_BR, EN = "pt-BR", "en"
LANGS = (PT_BR, EN)

# Wide enough that no table row wraps when the output is a file or a pipe.
_PIPE_WIDTH = 4000
_EMPTY = "—"

_STATUS_STYLES: dict[int, str] = {
    events_pb2.DELIVERY_STATUS_PENDING: "dim",
    events_pb2.DELIVERY_STATUS_SENDING: "cyan",
    events_pb2.DELIVERY_STATUS_WAITING_RETRY: "yellow",
    events_pb2.DELIVERY_STATUS_RESENDING: "cyan",
    events_pb2.DELIVERY_STATUS_SUCCEEDED: "green",
    events_pb2.DELIVERY_STATUS_FAILED: "bold red",
}
TERMINAL_STATUSES = frozenset(
    {events_pb2.DELIVERY_STATUS_SUCCEEDED, events_pb2.DELIVERY_STATUS_FAILED}
)

# The rest of the product's vocabulary that operators read next to the status labels.
# (pt-BR, en) per value.
_HEALTH: dict[int, tuple[str, str]] = {
    events_pb2.DESTINATION_HEALTH_HEALTHY: ("Saudável", "Healthy"),
    events_pb2.DESTINATION_HEALTH_FAILING: ("Falhando", "Failing"),
    events_pb2.DESTINATION_HEALTH_NEEDS_ACTION: ("Requer ação", "Needs action"),
    events_pb2.DESTINATION_HEALTH_DISABLED: ("Desativado", "Disabled"),
}
_HEALTH_STYLES: dict[int, str] = {
    events_pb2.DESTINATION_HEALTH_HEALTHY: "green",
    events_pb2.DESTINATION_HEALTH_FAILING: "yellow",
    events_pb2.DESTINATION_HEALTH_NEEDS_ACTION: "bold red",
    events_pb2.DESTINATION_HEALTH_DISABLED: "dim",
}
_OUTCOMES: dict[int, tuple[str, str]] = {
    events_pb2.ATTEMPT_OUTCOME_IN_PROGRESS: ("em andamento", "in progress"),
    events_pb2.ATTEMPT_OUTCOME_SUCCEEDED: ("aceito", "accepted"),
    events_pb2.ATTEMPT_OUTCOME_EXTERNAL_PROBLEM: ("problema externo", "external problem"),
    events_pb2.ATTEMPT_OUTCOME_REJECTED: ("rejeitado", "rejected"),
    events_pb2.ATTEMPT_OUTCOME_INTERRUPTED: ("interrompido", "interrupted"),
    events_pb2.ATTEMPT_OUTCOME_EXPIRED: ("expirado", "expired"),
    events_pb2.ATTEMPT_OUTCOME_ATTEMPT_BUDGET: (
        "tempo da tentativa esgotado",
        "attempt budget ran out",
    ),
}
_FAILURE_REASONS: dict[int, tuple[str, str]] = {
    events_pb2.FAILURE_REASON_REJECTED: ("dados rejeitados", "rejected"),
    events_pb2.FAILURE_REASON_EXPIRED: ("prazo expirado", "expired"),
    events_pb2.FAILURE_REASON_CANCELLED: ("cancelado", "cancelled"),
    events_pb2.FAILURE_REASON_DESTINATION_DELETED: ("destino excluído", "destination deleted"),
}
# API key scopes, as `tenaz keys list` shows them; `--scope` takes the English names.
_SCOPES: dict[str, tuple[str, str]] = {
    "submit": ("envio", "submit"),
    "admin": ("administração", "admin"),
}
_WORDS = {
    "attempts": ("tentativas", "attempts"),
    "next attempt": ("próxima tentativa", "next attempt"),
    "platform": ("plataforma", "platform"),
    "deadline": ("prazo", "deadline"),
}


def normalize_lang(text: str) -> str:
    """`pt`, `pt-BR`, `pt_br` -> pt-BR; `en`, `en-US` -> en."""
    if text.lower().startswith("en"):
        return EN
    if text.lower().startswith("pt"):
        return PT_BR
    raise ValueError(f"{text!r} is not a language Tenaz speaks: pt-BR or en")


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == EN else pair[0]


def status_name(value: int) -> str:
    """PENDING, SENDING, ... for a DeliveryStatus value; `?` for one Tenaz never sends."""
    name = events_pb2.DeliveryStatus.Name(value) if value in _STATUS_STYLES else ""
    return name.removeprefix("DELIVERY_STATUS_") or "?"


def status_label(value: int, lang: str = PT_BR) -> str:
    name = status_name(value)
    return label(Status(name), lang) if name != "?" else "?"


def status_text(value: int, lang: str = PT_BR) -> Text:
    return Text(status_label(value, lang), style=_STATUS_STYLES.get(value, ""))


def delivery_status_text(delivery: events_pb2.Delivery, lang: str = PT_BR) -> Text:
    """The delivery's status, with why it failed when it did: `Falha (destino excluído)`."""
    text = status_text(delivery.status, lang)
    reason = failure_reason_label(delivery.failure_reason, lang)
    if reason and delivery.status == events_pb2.DELIVERY_STATUS_FAILED:
        text.append(f" ({reason})")
    return text


def health_label(value: int, lang: str = PT_BR) -> str:
    return _pick(_HEALTH[value], lang) if value in _HEALTH else "?"


def health_text(value: int, lang: str = PT_BR) -> Text:
    return Text(health_label(value, lang), style=_HEALTH_STYLES.get(value, ""))


def outcome_label(value: int, lang: str = PT_BR) -> str:
    return _pick(_OUTCOMES[value], lang) if value in _OUTCOMES else "?"


def failure_reason_label(value: int, lang: str = PT_BR) -> str:
    return _pick(_FAILURE_REASONS[value], lang) if value in _FAILURE_REASONS else ""


def scope_label(scope: str, lang: str = PT_BR) -> str:
    return _pick(_SCOPES[scope], lang) if scope in _SCOPES else scope


def word(key: str, lang: str = PT_BR) -> str:
    return _pick(_WORDS[key], lang)


def needs_action_text(code: str, reason: str, lang: str = PT_BR) -> str:
    """What is wrong with a destination and, with a needs-action code, what to do about it."""
    labels = ACTIONS.get(code)
    if labels is None:
        return reason
    todo = _pick(labels, lang)
    return f"{todo} ({reason})" if reason else todo


def is_terminal(status: int) -> bool:
    return status in TERMINAL_STATUSES


# Values


def when(message: Message, field: str) -> dt.datetime | None:
    """A Timestamp field as an aware datetime, None when unset."""
    if not message.HasField(field):
        return None
    value: dt.datetime = getattr(message, field).ToDatetime(tzinfo=dt.UTC)
    return value


def local_time(value: dt.datetime | None) -> str:
    """A time in the machine's time zone, to the second; a dash when there is none."""
    if value is None:
        return _EMPTY
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def format_interval(value: dt.timedelta | None) -> str:
    """30m, 10s, 1h30m, 1.5s; a dash for none."""
    if value is None:
        return _EMPTY
    seconds = value.total_seconds()
    if seconds < 60 and seconds != int(seconds):
        return f"{seconds:g}s"
    whole = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    return "".join(parts) or "0s"


def shorten(text: str, limit: int = 120) -> str:
    """One line of at most `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def percent(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def message_dict(message: Message) -> dict[str, Any]:
    """A message in the proto JSON mapping, with the .proto field names.

    Fields at their default value are written too ("changed": "0", "error": ""),
    so that a script can read any field without checking that it is there.
    """
    return MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def json_text(data: Any, *, compact: bool = False) -> str:
    if compact:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(data, ensure_ascii=False, indent=2)


class Output:
    """Where a command writes: `console` (stdout) for results, `errors` (stderr) for the rest."""

    def __init__(
        self,
        *,
        lang: str = PT_BR,
        as_json: bool = False,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.lang = lang
        self.as_json = as_json
        self.console = _console(stdout or sys.stdout)
        self.errors = _console(stderr or sys.stderr)

    def json(self, data: Mapping[str, Any] | list[Any] | Message, *, compact: bool = False) -> None:
        if isinstance(data, Message):
            data = message_dict(data)
        file = self.console.file
        file.write(json_text(data, compact=compact) + "\n")
        file.flush()

    def print(self, *items: Any) -> None:
        if self.console.is_terminal:
            self.console.print(*items)
            return
        # In a file or a pipe, cells padded to their column's width would leave
        # trailing blanks on every line; grep and diff are happier without.
        with self.console.capture() as captured:
            self.console.print(*items)
        file = self.console.file
        file.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
        file.flush()

    def note(self, text: str | Text) -> None:
        """A line for the person at the terminal, on stderr."""
        self.errors.print(text)

    def status(self, value: int) -> Text:
        return status_text(value, self.lang)

    def delivery_status(self, delivery: events_pb2.Delivery) -> Text:
        return delivery_status_text(delivery, self.lang)

    def progress(self, unit: str) -> Progress:
        """A progress bar on stderr; silent when stderr is not a terminal (logs, CI)."""
        return Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(unit),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=self.errors,
            disable=not self.errors.is_terminal,
        )


def _console(file: TextIO) -> Console:
    # Markup stays off: event names and platform messages may contain [brackets].
    console = Console(file=file, markup=False, highlight=False, emoji=False)
    if not console.is_terminal:
        console.width = _PIPE_WIDTH
    return console


def table(*headers: str, title: str | None = None) -> Table:
    """A borderless table: it reads well in a terminal and stays one row per line in a pipe."""
    grid = Table(
        *headers,
        box=None,
        show_edge=False,
        pad_edge=False,
        header_style="bold",
        title=title,
        title_justify="left",
        title_style="bold",
    )
    return grid


def cell(value: object, style: str = "") -> Text:
    """A table cell that shows text as it is (no markup, no wrapping surprises)."""
    return Text("" if value is None else str(value), style=style)
