"""Meta's server events (the Conversions API's `data`) as Tenaz's events, and Tenaz's field
paths back as Meta's.

The edge's equivalent of `server.mapping` for the Conversions API endpoint: it only
translates. Checking, normalising and hashing stay in the submission path (jobs/validation.py,
jobs/pii.py), which an event from here goes through exactly as one from SubmitEvents; only
what Tenaz cannot carry is refused here, naming the field, rather than dropped.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from jobs.errors import FieldViolation, InvalidArgument
from jobs.pii import HASHED_FIELDS, META_CLEAR_FIELDS
from jobs.submission import ContentInput, EventInput

# Meta's user_data key -> Tenaz's field, for what Tenaz hashes and what it keeps in clear.
USER_FIELDS: Final[Mapping[str, str]] = {
    **{key: field for field, (key, _) in HASHED_FIELDS.items()},
    **{key: key for key in META_CLEAR_FIELDS},
}
_META_KEY: Final = {field: key for key, field in USER_FIELDS.items()}
# custom_data keys with a field of their own in Tenaz's event; the rest travel as `extra`.
_TYPED_CUSTOM: Final = frozenset({"value", "currency", "order_id", "contents", "content_type"})
_CONTENT_KEYS: Final = frozenset({"id", "quantity", "item_price"})
# Event fields Tenaz takes from Meta's event; `opt_out` and `data_processing_options` only
# when they ask for nothing (false, an empty list), as SDKs may send them.
_EVENT_FIELDS: Final = frozenset(
    {
        *("event_name", "event_time", "event_id", "action_source", "event_source_url"),
        *("user_data", "custom_data"),
    }
)
_NOTHING_ASKED: Final[Mapping[str, object]] = {"opt_out": False, "data_processing_options": []}
_TIME_DIGITS: Final = re.compile(r"\d{1,12}", re.ASCII)


class _Problems:
    """Every problem of a request at once, by Meta's paths (`data[3].user_data.em`)."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def add(self, path: str, description: str) -> None:
        self.violations.append(FieldViolation(path, description))


def event_inputs(
    events: Sequence[object], *, destination: str, test_event_code: str
) -> list[EventInput]:
    """Meta's events as Tenaz's, to `destination` (the pixel's) and, unless they are test
    events, to the workspace's other destinations that take them; InvalidArgument with
    every field Tenaz cannot read or carry."""
    problems = _Problems()
    inputs = []
    for index, raw in enumerate(events):
        event = _event_input(raw, f"data[{index}]", problems)
        if event is not None:
            inputs.append(
                EventInput(
                    **event,
                    destinations=[destination],
                    fan_out=not test_event_code,
                    test_event_code=test_event_code,
                )
            )
    if problems.violations:
        raise InvalidArgument(problems.violations)
    return inputs


def _event_input(raw: object, path: str, problems: _Problems) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        problems.add(path, "must be an object (a server event)")
        return None
    before = len(problems.violations)
    for key, value in raw.items():
        if key in _EVENT_FIELDS or (key in _NOTHING_ASKED and value == _NOTHING_ASKED[key]):
            continue
        problems.add(f"{path}.{key}", "is not supported by Tenaz; send the event without it")
    text = {
        name: _text(raw, name, path, problems)
        for name in ("event_name", "action_source", "event_source_url")
    }
    event_id = raw.get("event_id")
    if isinstance(event_id, int) and not isinstance(event_id, bool):
        event_id = str(event_id)
    if event_id is not None and not isinstance(event_id, str):
        problems.add(f"{path}.event_id", "must be a string")
    user_data = _user_data(raw.get("user_data"), f"{path}.user_data", problems)
    custom = _custom_data(raw.get("custom_data"), f"{path}.custom_data", problems)
    event_time = _event_time(raw.get("event_time"), f"{path}.event_time", problems)
    if len(problems.violations) > before:
        return None
    return {
        "event_id": event_id or "",
        "event_name": text["event_name"],
        "event_time": event_time,
        "action_source": text["action_source"],
        "event_source_url": text["event_source_url"],
        "user_data": user_data,
        **custom,
    }


def _text(raw: Mapping[str, Any], name: str, path: str, problems: _Problems) -> str:
    value = raw.get(name, "")
    if not isinstance(value, str):
        problems.add(f"{path}.{name}", "must be a string")
        return ""
    return value


def _event_time(value: object, path: str, problems: _Problems) -> dt.datetime | None:
    """Unix seconds, as a number or digits (Graph takes both); None (required) when absent."""
    if value is None:
        return None
    if isinstance(value, str) and _TIME_DIGITS.fullmatch(value):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 10**11:
        problems.add(path, "must be a Unix time in seconds")
        return None
    return dt.datetime.fromtimestamp(value, dt.UTC)


def _user_data(value: object, path: str, problems: _Problems) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(path, "must be an object")
        return {}
    user: dict[str, str] = {}
    for key, given in value.items():
        field = USER_FIELDS.get(key)
        if field is None:
            problems.add(f"{path}.{key}", "is not a customer parameter Tenaz takes")
            continue
        # Meta's keys that take several values come as lists from the SDKs.
        values = given if isinstance(given, list) else [given]
        values = [v for v in values if v not in (None, "")]
        if not all(isinstance(v, str) for v in values):
            problems.add(f"{path}.{key}", "must be a string or a list of strings")
        elif len(set(values)) > 1:
            problems.add(f"{path}.{key}", "Tenaz takes one value of each customer parameter")
        elif values:
            user[field] = values[0]
    return user


def _custom_data(value: object, path: str, problems: _Problems) -> dict[str, Any]:
    """custom_data as EventInput's fields: its typed ones, and the rest as `extra`."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(path, "must be an object")
        return {}
    fields: dict[str, Any] = {"extra": {k: v for k, v in value.items() if k not in _TYPED_CUSTOM}}
    if "value" in value:
        number = value["value"]
        if isinstance(number, int | float) and not isinstance(number, bool):
            fields["value"] = float(number)
        else:
            problems.add(f"{path}.value", "must be a number")
    for name in ("currency", "order_id", "content_type"):
        if name in value:
            if isinstance(value[name], str):
                fields[name] = value[name]
            else:
                problems.add(f"{path}.{name}", "must be a string")
    if "contents" in value:
        fields["contents"] = _contents(value["contents"], f"{path}.contents", problems)
    return fields


def _contents(value: object, path: str, problems: _Problems) -> list[ContentInput]:
    if not isinstance(value, list):
        problems.add(path, "must be a list of objects")
        return []
    contents = []
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(item, dict):
            problems.add(where, "must be an object")
            continue
        for key in item.keys() - _CONTENT_KEYS:
            problems.add(f"{where}.{key}", "is not supported by Tenaz (id, quantity, item_price)")
        item_id, quantity, price = (
            item.get("id", ""),
            item.get("quantity", 0),
            item.get("item_price", 0.0),
        )
        if isinstance(item_id, int) and not isinstance(item_id, bool):
            item_id = str(item_id)
        if not isinstance(item_id, str):
            problems.add(f"{where}.id", "must be a string")
        elif not isinstance(quantity, int) or isinstance(quantity, bool):
            problems.add(f"{where}.quantity", "must be a whole number")
        elif not isinstance(price, int | float) or isinstance(price, bool):
            problems.add(f"{where}.item_price", "must be a number")
        else:
            contents.append(ContentInput(id=item_id, quantity=quantity, item_price=float(price)))
    return contents


_TENAZ_PATH: Final = re.compile(r"events\[(\d+)\]\.?(.*)")


def meta_path(field: str) -> str:
    """A field path of Tenaz's submission path (`events[2].user_data.email`) as Meta names
    the field in `data` (`data[2].user_data.em`)."""
    match = _TENAZ_PATH.fullmatch(field)
    if match is None:
        return field
    index, rest = match.groups()
    head, _, tail = rest.partition(".")
    if head == "test_event_code":
        return head  # the request's, given to each of its events
    if head == "user_data" and tail in _META_KEY:
        rest = f"user_data.{_META_KEY[tail]}"
    elif head == "custom_data" and tail.startswith("extra."):
        rest = "custom_data." + tail.removeprefix("extra.")
    elif head.startswith("destinations["):
        rest = ""  # the pixel's destination: a problem of the event as a whole
    return f"data[{index}].{rest}" if rest else f"data[{index}]"
