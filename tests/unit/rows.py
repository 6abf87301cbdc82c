"""Domain rows as the store would return them, for unit tests that need one without a
database: a test names the fields it is about, and every other field gets a plain value of
its type."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from typing import Any, TypeVar

from jobs.errors import FieldViolation
from jobs.settings import Settings
from jobs.validation import (
    DestinationChoice,
    EventInput,
    Prepared,
    check_event,
    choose_destinations,
)

Row = TypeVar("Row")

AT = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
# By the annotation jobs/model.py writes (without its parameters); optional fields are None.
_PLAIN: dict[str, Any] = {
    "int": 1,
    "str": "",
    "bool": False,
    "float": 0.0,
    "dt.datetime": AT,
    "dt.timedelta": dt.timedelta(0),
    "dict": {},
}


def row(cls: type[Row], /, **fields: Any) -> Row:
    """A `cls` (a dataclass of jobs.model) with `fields`, and plain values elsewhere."""
    plain = {
        f.name: _plain(str(f.type))
        for f in dataclasses.fields(cls)
        if f.name not in fields
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    }
    return cls(**plain, **fields)


def _plain(annotation: str) -> Any:
    if annotation.endswith("| None"):
        return None
    return copy.copy(_PLAIN[annotation.split("[")[0]])


def prepare_event(
    event: EventInput,
    path: str,
    now: dt.datetime,
    choice: DestinationChoice,
    settings: Settings,
    violations: list[FieldViolation],
) -> Prepared | None:
    """An event as a submission prepares it: checked on its own, then given destinations."""
    checked = check_event(event, path, now, settings, violations)
    if checked is None:
        return None
    return choose_destinations(checked, now, choice, settings, violations)
