"""Parsing option values the way operators type them: statuses, times, intervals.

These are pure functions (the current time is a parameter), used as argparse
`type=` callables so that a bad value is a usage error naming the option.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Callable, Sequence

from tenaz.v1 import events_pb2

from jobs.settings import SettingsError, parse_duration
from jobs.status import LABELS_EN, LABELS_PT_BR, Status

_STATUS_PREFIX = "DELIVERY_STATUS_"
_RELATIVE = re.compile(r"^\s*\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)\s*$")


def _key(text: str) -> str:
    return " ".join(text.lower().replace("_", " ").replace("-", " ").split())


def _status_words() -> dict[str, int]:
    words: dict[str, int] = {}
    for status in Status:
        value = events_pb2.DeliveryStatus.Value(_STATUS_PREFIX + status.name)
        for spelling in (
            status.name,
            _STATUS_PREFIX + status.name,
            LABELS_PT_BR[status],
            LABELS_EN[status],
        ):
            words[_key(spelling)] = value
    return words


_STATUS_WORDS = _status_words()


def parse_status(text: str) -> int:
    """One status, as a pt-BR or English label or an enum name, in any case.

    "Esperando Retentativa", "waiting for retry", "WAITING_RETRY" and
    "DELIVERY_STATUS_WAITING_RETRY" all mean the same status.
    """
    found = _STATUS_WORDS.get(_key(text))
    if found is None:
        known = ", ".join(LABELS_PT_BR[s] for s in Status)
        raise ValueError(f"{text.strip()!r} is not a delivery status (one of: {known})")
    return found


def parse_statuses(text: str) -> list[int]:
    """A comma-separated list of statuses ("falha,esperando retentativa")."""
    return [parse_status(part) for part in text.split(",") if part.strip()]


def parse_time(text: str, now: dt.datetime) -> dt.datetime:
    """A point in time: ISO 8601 (a date, or a date and time), `now`, or an age ("2h").

    A date or time without an offset is in the local time zone; an age such as
    "90m" or "7d" counts back from `now`.
    """
    cleaned = text.strip()
    if cleaned.lower() == "now":
        return now
    if _RELATIVE.match(cleaned):
        try:
            return now - parse_duration(cleaned)
        except SettingsError:
            pass
    try:
        parsed = dt.datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(
            f"{cleaned!r} is not a time: use 2026-11-20, 2026-11-20T14:30, or an age such as 2h"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.astimezone()


def parse_interval(text: str) -> dt.timedelta | None:
    """A retry interval ("10s", "30m"); "default" (None) means the global setting."""
    if text.strip().lower() == "default":
        return None
    try:
        interval = parse_duration(text, name="interval")
    except SettingsError as exc:
        raise ValueError(str(exc)) from None
    if interval <= dt.timedelta(0):
        raise ValueError("the interval must be positive")
    return interval


def argument(parse: Callable[[str], object]) -> Callable[[str], object]:
    """Wrap a parser for argparse: its ValueError becomes the option's error message."""

    def convert(text: str) -> object:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__.removeprefix("parse_")
    return convert


def time_argument(text: str) -> dt.datetime:
    try:
        return parse_time(text, dt.datetime.now(dt.UTC))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def check_window(since: dt.datetime | None, until: dt.datetime | None) -> None:
    if since is not None and until is not None and since >= until:
        raise ValueError("--since must be before --until")


def delivery_filter(
    *,
    statuses: Sequence[int] = (),
    destination: str = "",
    event_name: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> events_pb2.DeliveryFilter:
    """The DeliveryFilter of a bulk retry or cancel."""
    check_window(since, until)
    where = events_pb2.DeliveryFilter(
        # By name: the typed stubs take enum names where they would not take plain ints.
        statuses=[events_pb2.DeliveryStatus.Name(s) for s in dict.fromkeys(statuses)],
        destination=destination,
        event_name=event_name,
    )
    if since is not None:
        where.created_after.FromDatetime(since.astimezone(dt.UTC))
    if until is not None:
        where.created_before.FromDatetime(until.astimezone(dt.UTC))
    return where
