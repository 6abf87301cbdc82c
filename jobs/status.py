"""The delivery status model: the statuses, their labels, and the only legal transitions.

Every write of a delivery status goes through `transition`, so an illegal move
(say SUCCEEDED -> RESENDING) is an error in the program, never a row in the
database.

    (birth) -> PENDING -> SENDING -> SUCCEEDED | FAILED | WAITING_RETRY
    WAITING_RETRY -> RESENDING -> SUCCEEDED | FAILED | WAITING_RETRY
    WAITING_RETRY -> FAILED      (expired / cancelled / destination deleted)
    FAILED -> WAITING_RETRY      (manual retry or bulk replay)

A PENDING delivery that can no longer go out (its deadline passed, or its
destination was deleted) ends through SENDING with an attempt that sends
nothing: see `jobs.decisions.end_unsent`. Every status is written by `jobs.moves`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Status(enum.StrEnum):
    PENDING = "PENDING"
    SENDING = "SENDING"
    WAITING_RETRY = "WAITING_RETRY"
    RESENDING = "RESENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


_BY_VALUE: dict[str, Status] = {s.value: s for s in Status}


def as_status(value: Status | str) -> Status:
    """`Status(value)` without the enum machinery, which is slow on the delivery hot path."""
    try:
        return _BY_VALUE[value]
    except KeyError:
        raise ValueError(f"{value!r} is not a delivery status") from None


class FailureReason(enum.StrEnum):
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    DESTINATION_DELETED = "destination_deleted"


LABELS_PT_BR: dict[Status, str] = {
    Status.PENDING: "Pendente",
    Status.SENDING: "Enviando",
    Status.WAITING_RETRY: "Esperando Retentativa",
    Status.RESENDING: "Reenviando",
    Status.SUCCEEDED: "Sucesso",
    Status.FAILED: "Falha",
}

LABELS_EN: dict[Status, str] = {
    Status.PENDING: "Pending",
    Status.SENDING: "Sending",
    Status.WAITING_RETRY: "Waiting for retry",
    Status.RESENDING: "Resending",
    Status.SUCCEEDED: "Succeeded",
    Status.FAILED: "Failed",
}

TRANSITIONS: frozenset[tuple[Status, Status]] = frozenset(
    {
        (Status.PENDING, Status.SENDING),
        (Status.SENDING, Status.SUCCEEDED),
        (Status.SENDING, Status.FAILED),
        (Status.SENDING, Status.WAITING_RETRY),
        (Status.WAITING_RETRY, Status.RESENDING),
        (Status.RESENDING, Status.SUCCEEDED),
        (Status.RESENDING, Status.FAILED),
        (Status.RESENDING, Status.WAITING_RETRY),
        (Status.WAITING_RETRY, Status.FAILED),
        (Status.FAILED, Status.WAITING_RETRY),
    }
)

# The status every delivery is born in.
BIRTH = Status.PENDING
TERMINAL: frozenset[Status] = frozenset({Status.SUCCEEDED, Status.FAILED})
IN_PROGRESS: frozenset[Status] = frozenset({Status.SENDING, Status.RESENDING})
DUE_STATUSES: frozenset[Status] = frozenset({Status.PENDING, Status.WAITING_RETRY})


def sql_list(statuses: Iterable[Status]) -> str:
    """The statuses as a SQL list of literals, `('PENDING', 'WAITING_RETRY')`.

    The store writes status sets into its queries' text rather than passing them as
    parameters: the partial indexes on deliveries are used only when a query's own text
    says it is within their set.
    """
    ordered = [s for s in Status if s in set(statuses)]
    return "(" + ", ".join(f"'{s.value}'" for s in ordered) + ")"


class IllegalTransition(RuntimeError):
    def __init__(self, current: Status | None, target: Status) -> None:
        super().__init__(f"illegal delivery transition {current or '(birth)'} -> {target}")
        self.current = current
        self.target = target


def transition(current: Status | str | None, target: Status) -> Status:
    """Return `target` if the status model allows `current -> target`, else raise.

    `current` None is a delivery's birth, which only PENDING may follow.
    """
    if current is None:
        if target is not BIRTH:
            raise IllegalTransition(None, target)
        return target
    current = as_status(current)
    if (current, target) not in TRANSITIONS:
        raise IllegalTransition(current, target)
    return target


# A due status -> the in-progress status an attempt moves it to (edges of TRANSITIONS).
_ATTEMPT_STATUS: dict[str, Status] = {
    Status.PENDING: Status.SENDING,
    Status.WAITING_RETRY: Status.RESENDING,
}


def attempt_status(current: Status | str) -> Status:
    """The in-progress status an attempt moves a due delivery to.

    Asked for every delivery a worker claims: the two legal moves are looked up, and only
    another status goes through `transition`, to raise as any illegal move does.
    """
    target = _ATTEMPT_STATUS.get(current)
    if target is None:
        return transition(current, Status.RESENDING)
    return target


def label(status: Status | str, lang: str = "pt-BR") -> str:
    labels = LABELS_EN if lang.lower().startswith("en") else LABELS_PT_BR
    return labels[as_status(status)]
