"""Classification tables as data: a platform's answers -> outcome kinds, first rule that applies.

A platform module reads an HTTP answer once (its status and, if the body is the platform's
own, its error) into an `HttpAnswer` subclass, and lists its rules in order; `first_rule`
picks the one that decides. The rows every HTTP platform has in common (no answer, 5xx,
408/429, a wrong URL, 413, an answer that is not the platform's) are built here, so that each
table reads as the platform's documentation plus those rows, and a test can walk every row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from jobs.platforms.base import OutcomeKind
from jobs.platforms.batching import PAYLOAD_TOO_LARGE

EXTERNAL = OutcomeKind.EXTERNAL_PROBLEM
REJECTED = OutcomeKind.REJECTED


@dataclass(frozen=True)
class HttpAnswer:
    """What every rule may look at: the HTTP status (None: no answer came)."""

    status: int | None

    def status_in(self, low: int, high: int) -> bool:
        return self.status is not None and low <= self.status <= high


A = TypeVar("A", bound=HttpAnswer)
# A rule for any answer serves as a rule for a platform's own answers.
A_contra = TypeVar("A_contra", bound=HttpAnswer, contravariant=True)


@dataclass(frozen=True)
class Rule(Generic[A_contra]):
    """One row of a classification table; `name` is also the message of last resort."""

    name: str
    applies: Callable[[A_contra], bool]
    kind: OutcomeKind
    needs_action: bool = False
    # With needs_action: what the operator must do (base.ACTIONS).
    action: str = ""


def first_rule(rules: Sequence[Rule[A]], answer: A) -> Rule[A]:
    """The rule that decides: the first that applies (every table ends with a catch-all)."""
    return next(rule for rule in rules if rule.applies(answer))


def no_answer() -> Rule[HttpAnswer]:
    return Rule("no response from the platform", lambda a: a.status is None, EXTERNAL)


def server_error() -> Rule[HttpAnswer]:
    return Rule("platform error (HTTP 5xx)", lambda a: a.status_in(500, 599), EXTERNAL)


def timed_out_or_throttled() -> Rule[HttpAnswer]:
    return Rule(
        "timed out or rate limited (HTTP 408/429)", lambda a: a.status in (408, 429), EXTERNAL
    )


def no_such_endpoint(what: str) -> Rule[HttpAnswer]:
    """The platform never answers a well-formed request with 404/405/410: the URL is wrong."""
    return Rule(
        f"no such endpoint: check the base URL and {what}",
        lambda a: a.status in (404, 405, 410),
        EXTERNAL,
        needs_action=True,
        action="configuration",
    )


def too_large() -> Rule[HttpAnswer]:
    """Something on the way took the request for too large; it goes again in halves at once
    (batching.send_in_requests). One event alone that big needs the operator."""
    return Rule(
        "too large for a proxy or gateway on the way (HTTP 413)",
        lambda a: a.status == PAYLOAD_TOO_LARGE,
        EXTERNAL,
        needs_action=True,
        action="too_large",
    )


def not_the_platform() -> Rule[HttpAnswer]:
    """A redirect or a 4xx without the platform's error body is a proxy, a firewall, a wrong
    host talking: it says nothing about the events."""
    return Rule(
        "unexpected answer: check the destination's base URL",
        lambda a: a.status_in(300, 499),
        EXTERNAL,
        needs_action=True,
        action="configuration",
    )


def anything_else() -> Rule[HttpAnswer]:
    return Rule("unexpected answer from the platform", lambda a: True, EXTERNAL)
