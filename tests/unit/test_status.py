"""The status model, exhaustively: every pair of statuses is legal or raises."""

from __future__ import annotations

import itertools

import pytest

from jobs.status import (
    LABELS_PT_BR,
    IllegalTransition,
    Status,
    attempt_status,
    label,
    transition,
)

LEGAL = {
    ("PENDING", "SENDING"),
    ("SENDING", "SUCCEEDED"),
    ("SENDING", "FAILED"),
    ("SENDING", "WAITING_RETRY"),
    ("WAITING_RETRY", "RESENDING"),
    ("RESENDING", "SUCCEEDED"),
    ("RESENDING", "FAILED"),
    ("RESENDING", "WAITING_RETRY"),
    ("WAITING_RETRY", "FAILED"),
    ("FAILED", "WAITING_RETRY"),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(Status, Status)))
def test_every_pair_is_legal_exactly_when_the_design_says(current: Status, target: Status) -> None:
    if (current.value, target.value) in LEGAL:
        assert transition(current, target) is target
    else:
        with pytest.raises(IllegalTransition):
            transition(current, target)


@pytest.mark.parametrize("target", list(Status))
def test_a_delivery_is_born_pending_and_nothing_else(target: Status) -> None:
    if target is Status.PENDING:
        assert transition(None, target) is target
    else:
        with pytest.raises(IllegalTransition, match="birth"):
            transition(None, target)


def test_an_attempt_starts_as_sending_first_and_resending_after() -> None:
    assert attempt_status("PENDING") is Status.SENDING
    assert attempt_status("WAITING_RETRY") is Status.RESENDING
    for other in (Status.SENDING, Status.RESENDING, Status.SUCCEEDED, Status.FAILED):
        with pytest.raises(IllegalTransition):
            attempt_status(other)


def test_portuguese_labels_are_exactly_the_products() -> None:
    assert LABELS_PT_BR == {
        Status.PENDING: "Pendente",
        Status.SENDING: "Enviando",
        Status.WAITING_RETRY: "Esperando Retentativa",
        Status.RESENDING: "Reenviando",
        Status.SUCCEEDED: "Sucesso",
        Status.FAILED: "Falha",
    }
    assert label("WAITING_RETRY") == "Esperando Retentativa"
    assert label("WAITING_RETRY", "en") == "Waiting for retry"
