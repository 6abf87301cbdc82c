"""The command line's pure helpers: labels, option values, event files, the live board,
and operation summaries."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
from typing import Any

import grpc
import pytest
from google.protobuf.json_format import MessageToJson
from rich.console import Console
from tenaz.client import FieldViolation, TenazError, make_event
from tenaz.v1 import events_pb2

from jobs.platforms import registry
from server.cli import describe
from server.cli.destinations import update_request
from server.cli.errors import UsageError
from server.cli.operations import summary
from server.cli.options import (
    delivery_filter,
    parse_interval,
    parse_status,
    parse_statuses,
    parse_time,
)
from server.cli.output import (
    Output,
    delivery_status_text,
    format_interval,
    health_label,
    local_time,
    normalize_lang,
    outcome_label,
    shorten,
    status_label,
)
from server.cli.stats import counts_by_destination
from server.cli.submit import EventFileError, batches, located_violations, read_events
from server.cli.watch import Board, WatchFilter, render_board

S = events_pb2
NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)


# Labels


@pytest.mark.parametrize(
    ("status", "pt", "en"),
    [
        (S.DELIVERY_STATUS_PENDING, "Pendente", "Pending"),
        (S.DELIVERY_STATUS_SENDING, "Enviando", "Sending"),
        (S.DELIVERY_STATUS_WAITING_RETRY, "Esperando Retentativa", "Waiting for retry"),
        (S.DELIVERY_STATUS_RESENDING, "Reenviando", "Resending"),
        (S.DELIVERY_STATUS_SUCCEEDED, "Sucesso", "Succeeded"),
        (S.DELIVERY_STATUS_FAILED, "Falha", "Failed"),
    ],
)
def test_status_labels_are_the_products_words_in_both_languages(
    status: int, pt: str, en: str
) -> None:
    assert status_label(status) == pt
    assert status_label(status, "pt-BR") == pt
    assert status_label(status, "en") == en
    # Every spelling an operator may type names the same status.
    assert parse_status(pt) == parse_status(en.upper()) == status
    assert parse_status(S.DeliveryStatus.Name(status)) == status


@pytest.mark.parametrize(
    ("reason", "pt", "en"),
    [
        (S.FAILURE_REASON_REJECTED, "Falha (dados rejeitados)", "Failed (rejected)"),
        (S.FAILURE_REASON_EXPIRED, "Falha (prazo expirado)", "Failed (expired)"),
        (S.FAILURE_REASON_CANCELLED, "Falha (cancelado)", "Failed (cancelled)"),
        (
            S.FAILURE_REASON_DESTINATION_DELETED,
            "Falha (destino excluído)",
            "Failed (destination deleted)",
        ),
    ],
)
def test_a_failed_delivery_says_why_in_both_languages(reason: int, pt: str, en: str) -> None:
    failed = S.Delivery(status=S.DELIVERY_STATUS_FAILED, failure_reason=reason)
    assert delivery_status_text(failed).plain == pt
    assert delivery_status_text(failed, "en").plain == en


def test_a_delivery_that_has_not_failed_shows_its_status_alone() -> None:
    waiting = S.Delivery(status=S.DELIVERY_STATUS_WAITING_RETRY)
    assert delivery_status_text(waiting).plain == "Esperando Retentativa"


def test_unknown_values_show_a_question_mark_rather_than_failing() -> None:
    assert status_label(S.DELIVERY_STATUS_UNSPECIFIED) == "?"
    assert health_label(S.DESTINATION_HEALTH_NEEDS_ACTION, "en") == "Needs action"
    assert health_label(S.DESTINATION_HEALTH_HEALTHY) == "Saudável"
    assert outcome_label(S.ATTEMPT_OUTCOME_EXTERNAL_PROBLEM) == "problema externo"
    assert outcome_label(99) == "?"


def test_languages_are_normalised() -> None:
    assert normalize_lang("pt") == normalize_lang("pt_br") == "pt-BR"
    assert normalize_lang("en-US") == "en"
    with pytest.raises(ValueError, match="pt-BR or en"):
        normalize_lang("fr")


# Option values


def test_statuses_take_labels_enum_names_and_commas() -> None:
    assert parse_statuses("falha, esperando retentativa") == [
        S.DELIVERY_STATUS_FAILED,
        S.DELIVERY_STATUS_WAITING_RETRY,
    ]
    assert parse_statuses("waiting-retry,DELIVERY_STATUS_SUCCEEDED") == [
        S.DELIVERY_STATUS_WAITING_RETRY,
        S.DELIVERY_STATUS_SUCCEEDED,
    ]
    with pytest.raises(ValueError, match="not a delivery status"):
        parse_status("done")


def test_times_are_iso_dates_and_times_or_ages() -> None:
    assert parse_time("2026-11-20T10:00:00+00:00", NOW) == dt.datetime(
        2026, 11, 20, 10, tzinfo=dt.UTC
    )
    assert parse_time("2026-11-20T10:00Z", NOW) == dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)
    local_midnight = parse_time("2026-11-20", NOW)
    assert local_midnight.tzinfo is not None
    assert local_midnight == dt.datetime(2026, 11, 20).astimezone()
    assert parse_time("2h", NOW) == NOW - dt.timedelta(hours=2)
    assert parse_time("7d", NOW) == NOW - dt.timedelta(days=7)
    assert parse_time("now", NOW) == NOW
    with pytest.raises(ValueError, match="not a time"):
        parse_time("yesterday-ish", NOW)


def test_intervals_and_the_default_keyword() -> None:
    assert parse_interval("10s") == dt.timedelta(seconds=10)
    assert parse_interval("default") is None
    with pytest.raises(ValueError, match="positive"):
        parse_interval("0s")
    with pytest.raises(ValueError, match="duration"):
        parse_interval("soon")


def test_a_delivery_filter_carries_every_criterion_and_checks_the_window() -> None:
    where = delivery_filter(
        statuses=[S.DELIVERY_STATUS_FAILED, S.DELIVERY_STATUS_FAILED],
        destination="meta-loja",
        event_name="Purchase",
        since=NOW - dt.timedelta(days=1),
        until=NOW,
    )
    assert list(where.statuses) == [S.DELIVERY_STATUS_FAILED]
    assert (where.destination, where.event_name) == ("meta-loja", "Purchase")
    assert where.created_after.ToDatetime(dt.UTC) == NOW - dt.timedelta(days=1)
    assert where.created_before.ToDatetime(dt.UTC) == NOW
    with pytest.raises(ValueError, match="before"):
        delivery_filter(since=NOW, until=NOW)


# Values shown


def test_values_are_shown_short_and_plain() -> None:
    assert format_interval(dt.timedelta(minutes=30)) == "30m"
    assert format_interval(dt.timedelta(seconds=5400)) == "1h30m"
    assert format_interval(dt.timedelta(seconds=1.5)) == "1.5s"
    assert format_interval(None) == "—"
    assert local_time(None) == "—"
    assert shorten("a\n  b", 10) == "a b"
    assert shorten("x" * 20, 10) == "x" * 9 + "…"


def test_piped_output_has_no_trailing_blanks_and_keeps_brackets() -> None:
    stdout = io.StringIO()
    out = Output(stdout=stdout, stderr=io.StringIO())
    out.print("[bold]not markup[/bold]   ")
    assert stdout.getvalue() == "[bold]not markup[/bold]\n"


def test_errors_name_the_code_each_bad_field_and_a_hint() -> None:
    error = TenazError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "event.user_data.email: not an email",
        [FieldViolation("event.user_data.email", "not an email")],
    )
    assert describe(error) == (
        "INVALID_ARGUMENT: 1 field is invalid\n  event.user_data.email: not an email"
    )
    unavailable = describe(
        TenazError(grpc.StatusCode.UNAVAILABLE, "connection refused"),
        argparse.Namespace(server="10.0.0.1:50051"),
    )
    assert unavailable.splitlines() == [
        "UNAVAILABLE: connection refused",
        "hint: is Tenaz serving at 10.0.0.1:50051? (--server / TENAZ_SERVER)",
    ]


# Event files


def event_json(event_id: str, **fields: Any) -> str:
    event = make_event(
        event_id=event_id, event_name="Purchase", event_time=NOW, email="a@example.com"
    )
    data = json.loads(MessageToJson(event)) | fields
    return json.dumps(data)


def test_json_lines_keep_the_number_of_the_line_each_event_is_on() -> None:
    text = "\n".join(["", event_json("a"), "   ", event_json("b"), ""])
    events = read_events(text)
    assert [(e.line, e.event.event_id) for e in events] == [(2, "a"), (4, "b")]
    assert events[0].event.user_data.email == "a@example.com"


def test_a_json_array_keeps_the_line_each_event_starts_on() -> None:
    text = "[\n  " + event_json("a") + ",\n\n  " + event_json("b") + "\n]\n"
    assert [(e.line, e.event.event_id) for e in read_events(text)] == [(2, "a"), (4, "b")]
    assert read_events("[" + event_json("only") + "]")[0].line == 1


def test_unreadable_events_are_reported_by_line_and_nothing_is_returned() -> None:
    text = "\n".join(
        [event_json("a"), "{not json", event_json("c", bogus=1), "[1, 2]", event_json("e")]
    )
    with pytest.raises(EventFileError) as caught:
        read_events(text)
    lines = [line for line, _ in caught.value.problems]
    assert lines == [2, 3, 4]
    assert "not valid JSON" in caught.value.problems[0][1]
    assert "bogus" in caught.value.problems[1][1]
    assert "JSON object" in caught.value.problems[2][1]
    assert "line 3:" in str(caught.value)


def test_a_broken_array_names_the_line_of_the_damage() -> None:
    text = "[\n" + event_json("a") + ",\n" + '{"event_id": "b"\n' + "]\n"
    with pytest.raises(EventFileError) as caught:
        read_events(text)
    [(line, problem)] = caught.value.problems
    assert line == 4 and "starts on line 3" in problem
    with pytest.raises(EventFileError, match="after the closing"):
        read_events("[" + event_json("a") + "] trailing")


def test_server_violations_point_at_file_lines() -> None:
    events = read_events("\n".join(["", event_json("a"), event_json("b"), event_json("c")]))
    [first, second] = batches(events, 2)
    assert [e.event.event_id for e in second] == ["c"]
    assert located_violations(
        [
            FieldViolation("events[1].user_data.email", "not an email"),
            FieldViolation("events[0]", "broken"),
            FieldViolation("events", "too many"),
        ],
        first,
    ) == ["line 3: user_data.email: not an email", "line 2: event: broken", "events: too many"]


# The live board


def change(
    sequence: int,
    delivery: str,
    to_status: int,
    *,
    at: dt.datetime = NOW,
    destination: str = "meta",
    error: str = "",
    attempt: int = 0,
) -> events_pb2.StatusChange:
    message = events_pb2.StatusChange(
        sequence=sequence,
        event_id=delivery,
        client_event_id=f"order-{delivery}",
        event_name="Purchase",
        delivery_id=delivery,
        destination=destination,
        to_status=to_status,
        attempt_number=attempt,
        error=error,
    )
    message.at.FromDatetime(at)
    return message


def test_the_board_keeps_the_latest_status_newest_first_and_its_size() -> None:
    board = Board(size=2)
    board.apply(change(1, "1", S.DELIVERY_STATUS_PENDING))
    board.apply(change(2, "2", S.DELIVERY_STATUS_PENDING))
    board.apply(
        change(3, "1", S.DELIVERY_STATUS_WAITING_RETRY, attempt=1, error="HTTP 503: unavailable")
    )
    board.apply(change(4, "1", S.DELIVERY_STATUS_RESENDING, attempt=2))
    [first, second] = board.rows()
    assert (first.delivery_id, first.status, first.attempts) == (
        "1",
        S.DELIVERY_STATUS_RESENDING,
        2,
    )
    assert first.error == "HTTP 503: unavailable"  # still explains the resend
    assert second.delivery_id == "2"
    board.apply(change(5, "3", S.DELIVERY_STATUS_PENDING))
    assert [r.delivery_id for r in board.rows()] == ["3", "1"]
    assert board.position == 5


def test_a_snapshot_newer_than_a_change_in_flight_wins() -> None:
    board = Board(size=10)
    stored = events_pb2.StoredEvent(id="1", event=events_pb2.Event(event_id="o", event_name="P"))
    delivery = stored.deliveries.add(
        id="1", destination="meta", status=S.DELIVERY_STATUS_SUCCEEDED, attempt_count=1
    )
    delivery.updated_at.FromDatetime(NOW)
    board.load([stored])
    board.apply(change(7, "1", S.DELIVERY_STATUS_SENDING, at=NOW - dt.timedelta(seconds=1)))
    assert board.rows()[0].status == S.DELIVERY_STATUS_SUCCEEDED


def test_a_delivery_leaving_the_filter_leaves_the_board() -> None:
    board = Board(size=10, where=WatchFilter(statuses=(S.DELIVERY_STATUS_WAITING_RETRY,)))
    board.apply(change(1, "1", S.DELIVERY_STATUS_SENDING))
    assert board.rows() == []
    board.apply(change(2, "1", S.DELIVERY_STATUS_WAITING_RETRY))
    assert len(board.rows()) == 1
    board.apply(change(3, "1", S.DELIVERY_STATUS_RESENDING))
    assert board.rows() == []


def test_the_board_renders_labels_in_the_chosen_language() -> None:
    board = Board(size=5)
    board.apply(change(9, "1", S.DELIVERY_STATUS_FAILED, error="Invalid parameter [currency]"))
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(render_board(board, "pt-BR"))
    console.print(render_board(board, "en"))
    text = console.export_text()
    assert "Falha" in text and "Failed" in text
    assert "Invalid parameter [currency]" in text
    assert "sequence 9" in text


def test_filters_map_onto_both_rpcs() -> None:
    where = WatchFilter(
        destinations=("meta",), statuses=(S.DELIVERY_STATUS_FAILED,), event_names=("a", "b")
    )
    assert where.stream_fields(with_statuses=False) == {
        "destinations": ["meta"],
        "event_names": ["a", "b"],
        "event_ids": [],
    }
    # ListEvents takes one destination and one name: two names are checked locally.
    assert where.list_fields() == {
        "statuses": [S.DELIVERY_STATUS_FAILED],
        "event_ids": [],
        "destination": "meta",
    }


# Operations, destinations, stats


def test_operation_summaries_say_what_changed_and_why_some_were_skipped() -> None:
    done = events_pb2.Operation(
        id="7",
        kind=S.OPERATION_KIND_RETRY,
        state=S.OPERATION_STATE_DONE,
        total=15,
        changed=12,
        skipped=3,
    )
    text = summary(done)
    assert text.startswith("retry 7 done: 12 changed, 3 skipped (of 15)")
    assert "past their deadline" in text
    cancelled = events_pb2.Operation(
        id="8", kind=S.OPERATION_KIND_CANCEL, state=S.OPERATION_STATE_DONE, total=2, changed=2
    )
    assert summary(cancelled) == "cancel 8 done: 2 changed, 0 skipped (of 2)"


def update_args(**given: Any) -> argparse.Namespace:
    """The parsed `destinations update` options, platform settings by their setting names."""
    base: dict[str, Any] = {"name": "meta-loja", "enabled": None, "rate_limit": None}
    settings = {f"setting_{name}": value for name, value in given.pop("settings", {}).items()}
    return argparse.Namespace(**(base | given | settings))


def test_a_destination_update_names_only_what_was_given() -> None:
    meta = registry.platform("meta")
    destination, paths = update_request(
        update_args(enabled=False, retry_interval=None, settings={"test_event_code": ""}),
        meta,
        {"access_token": "new"},
    )
    assert paths == ["enabled", "retry_interval", "meta.test_event_code", "meta.access_token"]
    assert not destination.enabled
    assert not destination.HasField("retry_interval")  # back to the global setting
    assert destination.meta.access_token == "new"
    _, paths = update_request(update_args(retry_interval=dt.timedelta(seconds=10)), meta, {})
    assert paths == ["retry_interval"]
    destination, paths = update_request(update_args(rate_limit=250.0), meta, {})
    assert (paths, destination.rate_limit) == (["rate_limit"], 250.0)
    # A setting the destination's platform does not have is named for one that has it: the
    # server says it does not apply.
    _, paths = update_request(
        update_args(settings={"pixel_id": "1"}), registry.platform("sandbox"), {}
    )
    assert paths == ["meta.pixel_id"]
    with pytest.raises(UsageError, match="say what to change"):
        update_request(update_args(), meta, {})


def test_stats_counts_group_by_destination_including_idle_ones() -> None:
    response = events_pb2.GetStatsResponse(
        counts=[
            events_pb2.StatusCount(destination="b", status=S.DELIVERY_STATUS_FAILED, count=2),
            events_pb2.StatusCount(destination="a", status=S.DELIVERY_STATUS_SUCCEEDED, count=5),
        ],
        destinations=[events_pb2.DestinationStats(destination="idle")],
    )
    counts = counts_by_destination(response)
    assert list(counts) == ["a", "b", "idle"]
    assert counts["a"][S.DELIVERY_STATUS_SUCCEEDED] == 5
    assert sum(counts["idle"].values()) == 0
