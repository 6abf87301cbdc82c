"""Alert rules and their hysteresis: when an alert fires and when it is resolved (pure).

A rule watches each destination of its workspace (or the one it names) for one condition:

    needs_action     the destination's deliveries wait for the operator (an expired or
                     revoked token, a permission, a moved URL: `needs_action` is set)
    success_rate     of the attempts that ended in the last `window`, fewer than
                     `threshold` (a fraction) succeeded; with fewer than `min_attempts`
                     attempts in the window the condition is clear (too little to judge)
    oldest_waiting   its oldest delivery still waiting to go out (Pendente or Esperando
                     Retentativa) was created more than `threshold` seconds ago

The rule of change, applied at each evaluation, per rule and destination:

- OK -> FIRING as soon as an evaluation finds the condition holding (enter at the threshold).
- FIRING -> OK once evaluations have found the condition clear for `recovery` without a break:
  the first clear evaluation starts the clock (`clear_since`), any evaluation that finds it
  holding again stops and resets it. A condition that flaps faster than `recovery` keeps the
  alert firing, and sends nothing more.

Each change, and only a change, makes one notification per channel of the rule; a disabled,
deleted or no longer watched destination counts as clear, so its alert resolves too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from jobs.errors import FieldViolation

NEEDS_ACTION: Final = "needs_action"
SUCCESS_RATE: Final = "success_rate"
OLDEST_WAITING: Final = "oldest_waiting"
CONDITIONS: Final = (NEEDS_ACTION, SUCCESS_RATE, OLDEST_WAITING)

DEFAULT_WINDOW: Final = dt.timedelta(minutes=15)
DEFAULT_RECOVERY: Final = dt.timedelta(minutes=5)

FIRING: Final = "firing"
RESOLVED: Final = "resolved"


@dataclass(frozen=True)
class AlertRule:
    id: int
    workspace_id: int
    name: str
    condition: str
    # "" watches every destination of the workspace.
    destination: str
    # A fraction (success_rate) or seconds (oldest_waiting); unused by needs_action.
    threshold: float
    window: dt.timedelta
    min_attempts: int
    recovery: dt.timedelta
    channels: tuple[str, ...]
    enabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class AlertState:
    firing: bool
    changed_at: dt.datetime
    clear_since: dt.datetime | None
    detail: str


@dataclass(frozen=True)
class Step:
    """What one evaluation makes of a rule's state for one destination."""

    state: AlertState
    # FIRING or RESOLVED when the state changed (a notification is due), else None.
    change: str | None


def step(
    current: AlertState | None,
    *,
    holds: bool,
    detail: str,
    now: dt.datetime,
    recovery: dt.timedelta,
) -> Step:
    """The next state, by the rule of change in the module's docstring."""
    if current is None or not current.firing:
        if holds:
            return Step(AlertState(True, now, None, detail), FIRING)
        return Step(current or AlertState(False, now, None, ""), None)
    if holds:
        return Step(AlertState(True, current.changed_at, None, detail), None)
    clear_since = current.clear_since or now
    if now - clear_since >= recovery:
        return Step(AlertState(False, now, None, detail), RESOLVED)
    return Step(AlertState(True, current.changed_at, clear_since, current.detail), None)


def rule_problems(
    *,
    name: str,
    condition: str,
    threshold: float,
    window: dt.timedelta,
    min_attempts: int,
    recovery: dt.timedelta,
    channels: tuple[str, ...],
) -> list[FieldViolation]:
    """What is wrong with a rule's values, one violation per field."""
    problems = []
    if not name.strip():
        problems.append(FieldViolation("name", "required"))
    if condition not in CONDITIONS:
        problems.append(FieldViolation("condition", f"one of {', '.join(CONDITIONS)}"))
    if condition == SUCCESS_RATE and not 0 < threshold <= 1:
        problems.append(FieldViolation("threshold", "a fraction above 0, at most 1, e.g. 0.9"))
    if condition == OLDEST_WAITING and threshold <= 0:
        problems.append(FieldViolation("threshold", "seconds, above 0"))
    if condition == SUCCESS_RATE and not dt.timedelta(minutes=1) <= window <= dt.timedelta(days=7):
        problems.append(FieldViolation("window", "from 1 minute to 7 days"))
    if min_attempts < 1:
        problems.append(FieldViolation("min_attempts", "at least 1"))
    if not dt.timedelta(0) <= recovery <= dt.timedelta(days=1):
        problems.append(FieldViolation("recovery", "from 0 to 1 day"))
    if not channels:
        problems.append(FieldViolation("channels", "at least one channel"))
    return problems
