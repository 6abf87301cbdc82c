"""Log lines through a real logger and Tenaz's handler: the event and its fields as text a
person reads, or as one JSON object per line; tracebacks in both; libraries' records too."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from jobs import logs
from jobs.settings import Settings, SettingsError, parse_log_format

TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


class Written:
    """A logger of its own whose records go through `logs.handler` into a string."""

    def __init__(self, log_format: str) -> None:
        self.stream = io.StringIO()
        self.logger = logging.getLogger(f"tenaz.test.{log_format}")
        self.handler = logs.handler(log_format, self.stream)

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def objects(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]


def attached(log_format: str) -> Iterator[Written]:
    written = Written(log_format)
    written.logger.addHandler(written.handler)
    written.logger.setLevel(logging.DEBUG)
    written.logger.propagate = False
    yield written
    written.logger.removeHandler(written.handler)


@pytest.fixture
def as_text() -> Iterator[Written]:
    yield from attached("text")


@pytest.fixture
def as_json() -> Iterator[Written]:
    yield from attached("json")


@pytest.fixture(params=logs.FORMATS)
def either(request: pytest.FixtureRequest) -> Iterator[Written]:
    yield from attached(request.param)


def fail(message: str) -> None:
    raise ValueError(message)


# Text


def test_text_is_the_event_then_its_fields_in_order(as_text: Written) -> None:
    as_text.logger.warning(
        "delivery.attempt.finished",
        extra={"destination": 7, "batch": 40, "latency_ms": 12.5, "needs_action": False},
    )

    [line] = as_text.lines()
    assert TEXT_LINE.match(line), line
    assert line[24:] == (
        "WARNING tenaz.test.text delivery.attempt.finished"
        " destination=7 batch=40 latency_ms=12.5 needs_action=False"
    )


def test_text_quotes_what_would_not_read_as_one_value(as_text: Written) -> None:
    as_text.logger.warning(
        "tenaz.started",
        extra={
            "dashboard": "http://127.0.0.1:8080/",
            "label": "naive baseline",
            "empty": "",
            "said": 'a "quoted" word',
            "fields": ["enabled", "meta.access_token"],
            "missing": None,
        },
    )

    [line] = as_text.lines()
    assert line.split(" tenaz.started ", 1)[1] == (
        'dashboard=http://127.0.0.1:8080/ label="naive baseline" empty="" '
        'said="a \\"quoted\\" word" fields=["enabled","meta.access_token"] missing=None'
    )


def test_text_puts_the_traceback_under_the_line(as_text: Written) -> None:
    try:
        fail("boom")
    except ValueError:
        as_text.logger.exception("rpc.failed", extra={"error": "ValueError"})

    first, *traceback = as_text.lines()
    assert first.endswith(" ERROR tenaz.test.text rpc.failed error=ValueError")
    assert traceback[0] == "Traceback (most recent call last):"
    assert traceback[-1] == "ValueError: boom"


# JSON


def test_json_is_one_object_per_line_with_time_level_logger_event_and_the_fields(
    as_json: Written,
) -> None:
    before = dt.datetime.now(dt.UTC)
    as_json.logger.warning("destination.created", extra={"destination": 7, "kind": "meta"})
    as_json.logger.error("status_hub.disconnected", extra={"error": "OperationalError"})

    first, second = as_json.objects()
    assert list(first) == ["time", "level", "logger", "event", "destination", "kind"]
    assert first["level"] == "WARNING"
    assert first["logger"] == "tenaz.test.json"
    assert (first["event"], first["destination"], first["kind"]) == (
        "destination.created",
        7,
        "meta",
    )
    at = dt.datetime.fromisoformat(first["time"])
    assert at.utcoffset() == dt.timedelta(0)
    assert before - dt.timedelta(seconds=1) <= at <= dt.datetime.now(dt.UTC)
    assert (second["level"], second["event"], second["error"]) == (
        "ERROR",
        "status_hub.disconnected",
        "OperationalError",
    )


def test_json_keeps_the_fields_types(as_json: Written) -> None:
    fields = {
        "count": 3,
        "rate": 0.5,
        "on": True,
        "none": None,
        "names": ["a", "b"],
        "text": "línea con acentos",
    }
    as_json.logger.warning("retention.purged", extra=fields)

    [line] = as_json.objects()
    assert {k: line[k] for k in fields} == fields


def test_json_writes_what_json_has_no_type_for_as_text(as_json: Written) -> None:
    when = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    as_json.logger.warning(
        "odd.values", extra={"when": when, "imported": logs, "by_id": {7: "x"}, "nan": float("nan")}
    )
    # Past 64 bits orjson has no integer, even through `default`: every field becomes text.
    as_json.logger.warning("huge.values", extra={"huge": 2**70, "count": 3, "label": "x"})

    odd, huge = as_json.objects()
    assert odd["when"] == "2026-03-01T12:00:00+00:00"
    assert odd["imported"].startswith("<module 'jobs.logs' from ")
    assert odd["by_id"] == {"7": "x"}
    assert odd["nan"] is None
    assert (huge["event"], huge["huge"], huge["count"], huge["label"]) == (
        "huge.values",
        str(2**70),
        "3",
        "x",
    )


def test_json_carries_the_traceback_on_the_same_line(as_json: Written) -> None:
    try:
        fail("boom")
    except ValueError:
        as_json.logger.exception("dashboard.failed", extra={"error": "ValueError"})
    as_json.logger.warning("with.stack", stack_info=True)

    failed, stacked = as_json.objects()
    assert (failed["level"], failed["event"], failed["error"]) == (
        "ERROR",
        "dashboard.failed",
        "ValueError",
    )
    assert failed["exception"].startswith("Traceback (most recent call last):")
    assert failed["exception"].endswith("ValueError: boom")
    assert "in fail" in failed["exception"]
    assert stacked["stack"].startswith("Stack (most recent call last):")
    assert len(as_json.lines()) == 2


# Both


def test_a_librarys_record_shows_its_message_and_its_own_fields(
    as_text: Written, as_json: Written
) -> None:
    for written in (as_text, as_json):
        written.logger.warning(
            "Job %s failed", "tenaz.deliver[3]", extra={"action": "job_error", "event": "theirs"}
        )

    [line] = as_text.lines()
    [document] = as_json.objects()
    assert line.endswith(" Job tenaz.deliver[3] failed action=job_error event=theirs")
    assert document["event"] == "Job tenaz.deliver[3] failed"
    assert (document["action"], document["event_"]) == ("job_error", "theirs")


def test_levels_below_the_loggers_are_not_written(either: Written) -> None:
    either.logger.setLevel(logging.WARNING)

    either.logger.info("tenaz.stopping")
    either.logger.warning("tenaz.stopped")

    [line] = either.lines()
    assert "tenaz.stopped" in line


def test_fields_are_only_what_the_call_passed() -> None:
    record = logging.makeLogRecord({"msg": "destination.deleted", "destination": 7})
    record.getMessage()
    logging.Formatter("%(asctime)s").format(record)  # adds `message` and `asctime`

    assert logs.fields(record) == {"destination": 7}


# TENAZ_LOG_FORMAT


@pytest.mark.parametrize(
    ("raw", "log_format"), [("", "text"), ("text", "text"), (" JSON ", "json")]
)
def test_the_log_format_is_text_unless_json_is_asked_for(raw: str, log_format: str) -> None:
    assert parse_log_format(raw) == log_format
    assert Settings.from_env({"TENAZ_LOG_FORMAT": raw}).log_format == log_format


def test_an_unknown_log_format_names_the_variable_and_the_choices() -> None:
    with pytest.raises(SettingsError, match=r"^TENAZ_LOG_FORMAT: 'xml' .* text or json$"):
        Settings.from_env({"TENAZ_LOG_FORMAT": "xml"})
