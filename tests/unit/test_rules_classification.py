"""Every platform's classification tables, row by row: each ends with a catch-all, and each rule
that needs the operator says what they must do in words the dashboard and the CLI have
(jobs/platforms/base.ACTIONS). Also the shared rows and how a failure's message is worded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from jobs.platforms import reddit, registry
from jobs.platforms.base import ACTIONS, OutcomeKind
from jobs.platforms.ga4 import validation_verdicts
from jobs.platforms.google_oauth import classify_token_answer
from jobs.platforms.http_connector import MAX_MESSAGE_CHARS
from jobs.platforms.rules import (
    EXTERNAL,
    ErrorAnswer,
    HttpAnswer,
    Naming,
    PlatformError,
    Rule,
    always,
    classification,
    credentials_or_permissions,
    decide,
    error_answer_table,
)


def tables() -> list[tuple[str, Sequence[Rule[Any]]]]:
    return [
        (f"{kind}[{index}]", table)
        for kind, platform in registry.platforms().items()
        for index, table in enumerate(platform.classification_tables)
    ]


TABLES = [pytest.param(table, id=name) for name, table in tables()]


def test_every_platform_lists_its_tables() -> None:
    """A platform that reads answers itself lists its tables; one that behaves as another
    (the sandbox) reads none."""
    for kind, platform in registry.platforms().items():
        has_tables = bool(platform.classification_tables)
        assert has_tables is (platform.behaves_as is None), kind


@pytest.mark.parametrize("table", TABLES)
def test_every_table_ends_with_a_catch_all(table: Sequence[Rule[Any]]) -> None:
    assert table[-1].applies is always
    assert all(rule.applies is not always for rule in table[:-1])


@pytest.mark.parametrize("table", TABLES)
def test_every_rule_that_needs_the_operator_says_what_to_do(table: Sequence[Rule[Any]]) -> None:
    for rule in table:
        if rule.needs_action:
            assert rule.action in ACTIONS, rule.name
        else:
            assert rule.action == "", rule.name


@pytest.mark.parametrize("table", TABLES)
def test_only_external_problems_need_the_operator(table: Sequence[Rule[Any]]) -> None:
    """The events of a destination that needs action wait for the operator; they are never
    failed or taken for it."""
    for rule in table:
        assert not rule.needs_action or rule.kind is OutcomeKind.EXTERNAL_PROBLEM, rule.name


@pytest.mark.parametrize(("status", "action"), [(401, "credentials"), (403, "permission")])
def test_a_refused_token_and_a_missing_permission_ask_for_different_things(
    status: int, action: str
) -> None:
    verdict = reddit.classify_answer(status, b"")
    assert (verdict.kind, verdict.needs_action, verdict.action) == (EXTERNAL, True, action)
    assert verdict.rule == "credentials or permissions refused"


@pytest.mark.parametrize(
    ("status", "body", "action"),
    [
        (400, b'{"error": "invalid_grant"}', "credentials"),
        (404, b"<html>Not Found</html>", "configuration"),
        (503, b"Service Unavailable", ""),
    ],
)
def test_the_token_endpoints_refusals_say_what_to_do(status: int, body: bytes, action: str) -> None:
    assert classify_token_answer(status, body).action == action


def test_a_validation_message_about_the_stream_asks_to_fix_the_configuration() -> None:
    body = b'{"validationMessages": [{"fieldPath": "api_secret", "description": "invalid"}]}'
    verdicts = validation_verdicts(body, 1)
    assert [(v.needs_action, v.action) for v in verdicts if v] == [(True, "configuration")]


# -- how a classification is built -----------------------------------------------------------

TABLE = error_answer_table(*credentials_or_permissions())


def test_a_success_carries_no_message() -> None:
    error = PlatformError(code=7, message="fine")
    verdict = decide(TABLE, ErrorAnswer(200, error))
    assert (verdict.kind, verdict.message, verdict.code, verdict.rule) == (
        OutcomeKind.SUCCEEDED,
        "",
        7,
        "accepted",
    )


def test_a_failure_carries_the_platforms_words_and_code() -> None:
    error = PlatformError(code=3, name="BAD", message="no such field")
    verdict = decide(TABLE, ErrorAnswer(400, error))
    assert (verdict.kind, verdict.code, verdict.message) == (
        OutcomeKind.REJECTED,
        3,
        "BAD: no such field",
    )


def test_without_the_platforms_words_the_message_names_the_rule_and_status() -> None:
    assert decide(TABLE, ErrorAnswer(503)).message == "HTTP 503: platform error (HTTP 5xx)"
    assert decide(TABLE, ErrorAnswer(None)).message == "no response from the platform"


def test_a_message_is_cut_to_its_bound() -> None:
    error = PlatformError(message="x" * (MAX_MESSAGE_CHARS * 2))
    assert len(decide(TABLE, ErrorAnswer(400, error)).message) == MAX_MESSAGE_CHARS


@dataclass(frozen=True)
class Saying(HttpAnswer):
    said: str = "the platform's words"

    @property
    def error_text(self) -> str:
        return self.said


@dataclass(frozen=True)
class SayingAlways(Saying):
    NAMES_RULE: ClassVar[Naming] = "always"


@dataclass(frozen=True)
class SayingAfterAction(Saying):
    NAMES_RULE: ClassVar[Naming] = "needing_action"


PLAIN = Rule("plain", always, EXTERNAL)
EXPLAINED = Rule("explained", always, EXTERNAL, explain=True)
OPERATORS = Rule("check it", always, EXTERNAL, needs_action=True, action="configuration")


@pytest.mark.parametrize(
    ("answer", "rule", "message"),
    [
        (Saying(400), PLAIN, "the platform's words"),
        (Saying(400), EXPLAINED, "explained: the platform's words"),
        (Saying(400), OPERATORS, "the platform's words"),
        (SayingAlways(400), PLAIN, "plain: the platform's words"),
        (SayingAfterAction(400), PLAIN, "the platform's words"),
        (SayingAfterAction(400), OPERATORS, "the platform's words (check it)"),
    ],
)
def test_where_the_message_names_the_rule(
    answer: HttpAnswer, rule: Rule[HttpAnswer], message: str
) -> None:
    verdict = classification(rule, answer)
    assert (verdict.message, verdict.action) == (message, rule.action)
