"""Tenaz's log lines: an event's name and its fields, written as text for people (the
default) or, with TENAZ_LOG_FORMAT=json, as one JSON object per line for a log store.

How every module logs:

- The message is the event's name alone: stable, dotted, lower case, saying what happened
  (`delivery.attempt.finished`, `destination.created`). No %-arguments and no free text,
  so that a log store can count events and alert on them by name.
- Everything else is a field in `extra=`: a flat dict of snake_case names to str, int,
  float, bool, None, or lists of them. A row goes by its id under the entity's name
  (`destination=7`, `operation=12`, `workspace=3`); a count is a plain number (`batch=40`,
  `deliveries_ended=3`); a duration names its unit (`latency_ms=12`); an exception's class
  is `error` (`error=OperationalError`).
- An unexpected exception goes with `log.exception(...)` (or `exc_info=`): its traceback
  follows the text line, and is the JSON object's `exception`.
- Never a token, a secret or personal data, in the name or in a field.
- A field cannot be named as the log record's own attributes (logging refuses `name`,
  `message`, `args`, `module`, `filename`, ...), nor as the JSON object's own keys (`time`,
  `level`, `logger`, `event`, `exception`, `stack`).

    log.info("destination.created", extra={"destination": 7, "kind": "meta"})

    2026-03-01 12:00:00,123 INFO jobs.destinations destination.created destination=7 kind=meta
    {"time":"2026-03-01T12:00:00.123+00:00","level":"INFO","logger":"jobs.destinations",
     "event":"destination.created","destination":7,"kind":"meta"}        (on one line)

Libraries' records (procrastinate, aiohttp, grpc) go through the same formatters: their
message stands for the event, and the fields they pass in `extra=` are written too.
"""

from __future__ import annotations

import datetime as dt
import logging
import string
from typing import Any, Final, TextIO

import orjson

FORMATS: Final = ("text", "json")

# What every record has, whatever the call passed in `extra=`.
_RECORD_ATTRIBUTES: Final = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# Text values shown as they are; others are quoted as JSON strings.
_PLAIN_TEXT: Final = frozenset(string.ascii_letters + string.digits + "._-:/,+@")
_JSON_OPTIONS: Final = orjson.OPT_NON_STR_KEYS


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields the call passed in `extra=`, in its order."""
    return {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES}


def _text_value(value: Any) -> str:
    if isinstance(value, str) and value and set(value) <= _PLAIN_TEXT:
        return value
    if value is None or isinstance(value, bool | int | float):
        return str(value)
    return orjson.dumps(value, default=str, option=_JSON_OPTIONS).decode()


class TextFormatter(logging.Formatter):
    """`time level logger event key=value ...`, then the traceback if any."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        return "".join([line, *(f" {k}={_text_value(v)}" for k, v in fields(record).items())])


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: time, level, logger, event, the fields,
    and the traceback as `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in fields(record).items():
            # A library's field named like one of ours keeps its value under another name.
            document[f"{key}_" if key in document else key] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            document["exception"] = record.exc_text
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        try:
            return orjson.dumps(document, default=str, option=_JSON_OPTIONS).decode()
        except TypeError:  # what even `default` cannot help orjson with: an int over 64 bits
            return orjson.dumps({k: _jsonable(v) for k, v in document.items()}).decode()


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | float | bool) or value is None else repr(value)


def handler(log_format: str, stream: TextIO) -> logging.Handler:
    """A handler writing to `stream` in `log_format` (one of FORMATS)."""
    written = logging.StreamHandler(stream)
    written.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    return written
