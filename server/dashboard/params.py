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
