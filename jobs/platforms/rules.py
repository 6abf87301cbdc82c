"""Classification tables: the rows a platform module reads an answer with, first match wins.

A platform's table is data that its tests walk row by row: each row names what it recognises
(also the message of last resort), what the answer means for the event, and whether the
operator must fix the destination. `decide` picks the row; the module builds the
`Classification` from it with the platform's own code and message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from jobs.platforms.base import OutcomeKind

A = TypeVar("A")


@dataclass(frozen=True)
class Rule(Generic[A]):
    """One row of a classification table over answers of type `A`."""

    name: str
    applies: Callable[[A], bool]
    kind: OutcomeKind
    needs_action: bool = False


def decide(rules: Sequence[Rule[A]], answer: A) -> Rule[A]:
    """The first row that applies; a table ends with a row that always does."""
    return next(rule for rule in rules if rule.applies(answer))


def status_in(status: int | None, low: int, high: int) -> bool:
    return status is not None and low <= status <= high
