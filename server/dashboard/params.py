"""Reading what the page sends: query parameters and JSON bodies, checked into domain values.

Bad input becomes `InvalidArgument` naming the parameter, which the error
table turns into a 400 with one violation per bad field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from aiohttp import web
from multidict import MultiMapping

from jobs.digits import is_ascii_digits
from jobs.errors import InvalidArgument
from jobs.settings import SettingsError, parse_duration
from jobs.status import Status


async def json_object(request: web.Request) -> dict[str, object]:
    try:
        body = await request.json()
    except ValueError:
        raise InvalidArgument.one("body", "a JSON object is required") from None
    if not isinstance(body, dict):
        raise InvalidArgument.one("body", "a JSON object is required")
    return body


def statuses(query: MultiMapping[str], name: str = "status") -> list[str]:
    """Every `status=` value, each one of the status names (PENDING, ..., FAILED)."""
    values = query.getall(name, [])
    for index, value in enumerate(values):
        if value not in Status.__members__:
            raise InvalidArgument.one(f"{name}[{index}]", "one of " + ", ".join(Status.__members__))
    return list(values)


def whole_number(query: Mapping[str, str], name: str, default: int = 0) -> int:
    raw = query.get(name, "")
    if not raw:
        return default
    if not is_ascii_digits(raw):
        raise InvalidArgument.one(name, "a whole number")
    return int(raw)


def duration(
    query: Mapping[str, str], name: str, default: dt.timedelta, *, at_most: dt.timedelta
) -> dt.timedelta:
    raw = query.get(name, "")
    if not raw:
        return default
    try:
        value = parse_duration(raw, name=name)
    except (SettingsError, OverflowError):
        value = None
    if value is None or not dt.timedelta(0) < value <= at_most:
        raise InvalidArgument.one(
            name, f"a duration such as 90s, 30m, 1h or 7d, at most {at_most.days} days"
        )
    return value


def text(body: Mapping[str, object], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise InvalidArgument.one(name, "a string")
    return value.strip()


def text_map(body: Mapping[str, object], name: str) -> dict[str, str]:
    """An object of strings, e.g. a destination's secrets by name."""
    value = body.get(name)
    if (
        not isinstance(value, dict)
        or not value
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    ):
        raise InvalidArgument.one(name, "an object of strings")
    return {k: v.strip() for k, v in value.items()}


def delivery_ids(body: Mapping[str, object]) -> list[str]:
    """`delivery_ids` as the strings the operation service takes (numbers accepted too)."""
    value = body.get("delivery_ids")
    if not isinstance(value, list) or not value:
        raise InvalidArgument.one("delivery_ids", "a non-empty list of delivery ids")
    ids = []
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise InvalidArgument.one(f"delivery_ids[{index}]", "a delivery id")
        ids.append(str(item))
    return ids


def flag(body: Mapping[str, object], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise InvalidArgument.one(name, "true or false")
    return value


def number(body: Mapping[str, object], name: str, default: float = 0.0) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument.one(name, "a number")
    return float(value)


def count(body: Mapping[str, object], name: str, default: int) -> int:
    """A whole number in a JSON body (1 and 1.0 alike; 1.5 is refused)."""
    value = number(body, name, default)
    if not value.is_integer():
        raise InvalidArgument.one(name, "a whole number")
    return int(value)


def span(body: Mapping[str, object], name: str, default: dt.timedelta) -> dt.timedelta:
    """A duration written as the CLI takes it ("15m", "30s", "0"); what range is allowed is the
    domain's to say."""
    raw = body.get(name, "")
    if raw == "":
        return default
    try:
        if not isinstance(raw, str):
            raise SettingsError(name)
        return parse_duration(raw.strip(), name=name)
    except (SettingsError, OverflowError):
        raise InvalidArgument.one(name, "a duration such as 90s, 15m or 1h") from None


def names(body: Mapping[str, object], name: str) -> list[str]:
    """A list of strings (channel names, recipients); empty strings left out."""
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidArgument.one(name, "a list of strings")
    return [item.strip() for item in value if item.strip()]


def setting_values(
    body: Mapping[str, object], name: str, allowed: tuple[str, ...]
) -> dict[str, object]:
    """An object of settings, each a string, a whole number or a list of strings; only the
    `allowed` names are taken, and an empty value is left out (the default applies)."""
    value = body.get(name, {})
    if not isinstance(value, dict):
        raise InvalidArgument.one(name, "an object")
    found: dict[str, object] = {}
    for key in allowed:
        item = value.get(key)
        where = f"{name}.{key}"
        if item is None or item == "" or item == []:
            continue
        if isinstance(item, str):
            found[key] = item.strip()
        elif isinstance(item, int) and not isinstance(item, bool):
            found[key] = item
        elif isinstance(item, list) and all(isinstance(each, str) for each in item):
            found[key] = [each.strip() for each in item if each.strip()]
        else:
            raise InvalidArgument.one(where, "a string, a whole number or a list of strings")
    return found
