"""The alert hysteresis: fire at once, resolve only after the recovery window stays clear."""

from __future__ import annotations

import datetime as dt

from jobs import alert_rules
from jobs.alert_rules import FIRING, RESOLVED, AlertState, step

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
RECOVERY = dt.timedelta(minutes=5)


def run(observations: list[tuple[int, bool]]) -> list[tuple[int, str]]:
    """The changes a series of (minute, condition holds) evaluations makes."""
    state: AlertState | None = None
    changes = []
    for minute, holds in observations:
        now = T0 + dt.timedelta(minutes=minute)
        result = step(state, holds=holds, detail="d" if holds else "", now=now, recovery=RECOVERY)
        state = result.state
        if result.change:
            changes.append((minute, result.change))
    return changes


def test_fires_at_once_and_resolves_after_the_recovery_window() -> None:
    assert run([(0, False), (1, True), (2, True), (3, False), (7, False), (8, False)]) == [
        (1, FIRING),
        (8, RESOLVED),
    ]


def test_a_flapping_condition_fires_once_and_resolves_once() -> None:
    flapping = [(m, m % 2 == 0) for m in range(0, 30)]  # holds every other minute
    calm = [(30 + m, False) for m in range(1, 7)]
    # Last held at minute 28; clear from 29, so resolved 5 minutes later.
    assert run(flapping + calm) == [(0, FIRING), (34, RESOLVED)]


def test_holding_again_inside_the_window_restarts_the_count() -> None:
    assert run([(0, True), (1, False), (5, False), (6, True), (7, False), (11, False)]) == [
        (0, FIRING)
    ]
    assert run([(0, True), (1, False), (5, False), (6, True), (7, False), (12, False)]) == [
        (0, FIRING),
        (12, RESOLVED),
    ]


def test_a_zero_recovery_resolves_at_the_first_clear_evaluation() -> None:
    state = step(None, holds=True, detail="x", now=T0, recovery=dt.timedelta(0)).state
    resolved = step(state, holds=False, detail="", now=T0, recovery=dt.timedelta(0))
    assert resolved.change == RESOLVED and not resolved.state.firing


def test_rule_values_are_checked_per_condition() -> None:
    def fields(condition: str, threshold: float) -> set[str]:
        problems = alert_rules.rule_problems(
            name="r",
            condition=condition,
            threshold=threshold,
            window=alert_rules.DEFAULT_WINDOW,
            min_attempts=1,
            recovery=RECOVERY,
            channels=("c",),
        )
        return {p.field for p in problems}

    assert fields(alert_rules.SUCCESS_RATE, 1.5) == {"threshold"}
    assert fields(alert_rules.SUCCESS_RATE, 0.9) == set()
    assert fields(alert_rules.OLDEST_WAITING, 0) == {"threshold"}
    assert fields(alert_rules.NEEDS_ACTION, 0) == set()
    assert fields("bogus", 0) == {"condition"}
