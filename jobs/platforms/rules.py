"""Classification tables as data: a platform's answers -> outcome kinds, first rule that applies.

A platform module reads an HTTP answer once (its status and, if the body is the platform's
own, its error) into an `HttpAnswer` subclass, and lists its rules in order; `decide` picks
the one that decides and builds the `Classification` from it and the answer's error. The rows
every HTTP platform has in common (no answer, 5xx, 408/429, a wrong URL, 413, an answer that
is not the platform's) are built here, so that each table reads as the platform's
documentation plus those rows, and a test can walk every row of every platform's tables
(`Platform.classification_tables`): each ends with a catch-all (`always`), and each rule that
needs the operator says what they must do (`action`, one of base.ACTIONS).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, Literal, TypeVar

from jobs.platforms.base import Classification, OutcomeKind
from jobs.platforms.batching import PAYLOAD_TOO_LARGE
from jobs.platforms.http_connector import MAX_MESSAGE_CHARS

SUCCEEDED = OutcomeKind.SUCCEEDED
EXTERNAL = OutcomeKind.EXTERNAL_PROBLEM
REJECTED = OutcomeKind.REJECTED

# Where a failure's message names the rule beside the platform's words: before them for the
# rules marked `explain`; before them for every rule; after them for the rules that need the
# operator (the platform's words say what is wrong, the rule what to check).
Naming = Literal["explained", "always", "needing_action"]


@dataclass(frozen=True)
class HttpAnswer:
    """What every rule may look at: the HTTP status (None: no answer came).

    A platform whose body says more subclasses it, and says what of its error the outcome
    carries: `error_text` (its words), `error_code` and `error_subcode`.
    """

    status: int | None

    # Where a failure's message names the rule (see `Naming`).
    NAMES_RULE: ClassVar[Naming] = "explained"

    def status_in(self, low: int, high: int) -> bool:
        return self.status is not None and low <= self.status <= high

    @property
    def error_text(self) -> str:
        """The platform's own words about what went wrong ("" when it said none)."""
        return ""

    @property
    def error_code(self) -> int | None:
        return None

    @property
    def error_subcode(self) -> int | None:
        return None


A = TypeVar("A", bound=HttpAnswer)
# What a rule looks at: usually an answer (Google Ads' row rules look at one conversion's
# error); a rule for any answer serves as a rule for a platform's own answers.
Fact = TypeVar("Fact")
Fact_contra = TypeVar("Fact_contra", contravariant=True)


@dataclass(frozen=True)
class Rule(Generic[Fact_contra]):
    """One row of a classification table; `name` is also the message of last resort."""

    name: str
    applies: Callable[[Fact_contra], bool]
    kind: OutcomeKind
    needs_action: bool = False
    # With needs_action: what the operator must do (base.ACTIONS).
    action: str = ""
    # The message names the rule before the platform's words, which alone would not say enough.
    explain: bool = False


def always(_fact: object) -> bool:
    """What the last row of every table applies to: anything the rows above left."""
    return True


def first_rule(rules: Sequence[Rule[Fact]], fact: Fact) -> Rule[Fact]:
    """The rule that decides: the first that applies (every table ends with a catch-all)."""
    return next(rule for rule in rules if rule.applies(fact))


def message(rule: Rule[A], answer: A) -> str:
    """A failure's message: the platform's words (with the rule's name where the answer's
    `NAMES_RULE` says), else the rule's name and the HTTP status."""
    said = answer.error_text
    if not said:
        text = rule.name if answer.status is None else f"HTTP {answer.status}: {rule.name}"
    elif answer.NAMES_RULE == "always" or (answer.NAMES_RULE == "explained" and rule.explain):
        text = f"{rule.name}: {said}"
    elif answer.NAMES_RULE == "needing_action" and rule.needs_action:
        text = f"{said} ({rule.name})"
    else:
        text = said
    return text[:MAX_MESSAGE_CHARS]


def classification(rule: Rule[A], answer: A) -> Classification:
    """What `answer` means, decided by `rule`: its kind, whether and how the operator must
    act, and the platform's code and words (none for a success)."""
    return Classification(
        kind=rule.kind,
        needs_action=rule.needs_action,
        action=rule.action,
        code=answer.error_code,
        subcode=answer.error_subcode,
        message="" if rule.kind is SUCCEEDED else message(rule, answer),
        rule=rule.name,
    )


def decide(rules: Sequence[Rule[A]], answer: A) -> Classification:
    """What `answer` means by the first of `rules` that applies; never raises."""
    return classification(first_rule(rules, answer), answer)


# -- the rows HTTP platforms share -------------------------------------------------------------


def status_is(*statuses: int) -> Callable[[HttpAnswer], bool]:
    return lambda answer: answer.status in statuses


def accepted() -> Rule[HttpAnswer]:
    return Rule("accepted", lambda a: a.status_in(200, 299), SUCCEEDED)


def no_answer() -> Rule[HttpAnswer]:
    return Rule("no response from the platform", lambda a: a.status is None, EXTERNAL)


def server_error() -> Rule[HttpAnswer]:
    return Rule("platform error (HTTP 5xx)", lambda a: a.status_in(500, 599), EXTERNAL)


def timed_out_or_throttled() -> Rule[HttpAnswer]:
    return Rule("timed out or rate limited (HTTP 408/429)", status_is(408, 429), EXTERNAL)


def access_refused(
    name: str,
    token: Callable[[A], bool],
    permission: Callable[[A], bool],
) -> tuple[Rule[A], Rule[A]]:
    """The platform refused the destination's access, in two rows of one name: the operator
    renews a token the platform refused (`token`), or grants the permission the token lacks
    (`permission`). The events are fine."""
    return (
        Rule(name, token, EXTERNAL, needs_action=True, action="credentials"),
        Rule(name, permission, EXTERNAL, needs_action=True, action="permission"),
    )


def credentials_or_permissions() -> tuple[Rule[HttpAnswer], Rule[HttpAnswer]]:
    """HTTP 401 and 403 from a token-based platform, with or without its body: either way the
    operator must look."""
    return access_refused("credentials or permissions refused", status_is(401), status_is(403))


def no_such_endpoint(check: str = "the base URL") -> Rule[HttpAnswer]:
    """The platform never answers a well-formed request with 404/405/410: the URL is wrong."""
    return Rule(
        f"no such endpoint: check {check}",
        status_is(404, 405, 410),
        EXTERNAL,
        needs_action=True,
        action="configuration",
    )


def too_large() -> Rule[HttpAnswer]:
    """Something on the way took the request for too large; it goes again in halves at once
    (batching.send_in_requests). One event alone that big needs the operator."""
    return Rule(
        "too large for a proxy or gateway on the way (HTTP 413)",
        status_is(PAYLOAD_TOO_LARGE),
        EXTERNAL,
        needs_action=True,
        action="too_large",
    )


def not_the_platform(
    name: str = "unexpected answer: check the destination's base URL", *, lowest: int = 300
) -> Rule[HttpAnswer]:
    """A redirect or a 4xx without the platform's error body is a proxy, a firewall, a wrong
    host talking: it says nothing about the events. A platform that answers its errors with
    HTTP 200 (`lowest`=200) does not talk without its body at all."""
    return Rule(
        name,
        lambda a: a.status_in(lowest, 499),
        EXTERNAL,
        needs_action=True,
        action="configuration",
    )


def anything_else() -> Rule[HttpAnswer]:
    return Rule("unexpected answer from the platform", always, EXTERNAL)


# -- the error body most JSON platforms answer with --------------------------------------------


@dataclass(frozen=True)
class PlatformError:
    """A platform's own error body, as far as classification reads it."""

    # A numeric code (Reddit's `code`, LinkedIn's `serviceErrorCode`), if any.
    code: int | None = None
    # A symbolic code (LinkedIn's `code`, e.g. "REVOKED_ACCESS_TOKEN"), if any.
    name: str = ""
    message: str = ""


@dataclass(frozen=True)
class ErrorAnswer(HttpAnswer):
    """An answer and the platform's error body, if it holds one."""

    error: PlatformError | None = None

    @property
    def error_text(self) -> str:
        error = self.error
        return ": ".join(part for part in (error.name, error.message) if part) if error else ""

    @property
    def error_code(self) -> int | None:
        return self.error.code if self.error else None


def refused_with_error() -> Rule[ErrorAnswer]:
    """A 4xx with the platform's error body: the platform refused the request's events."""
    return Rule(
        "refused by the platform",
        lambda a: a.status_in(400, 499) and a.error is not None,
        REJECTED,
    )


def error_answer_table(*own: Rule[ErrorAnswer]) -> tuple[Rule[ErrorAnswer], ...]:
    """The table of a platform that answers with an `ErrorAnswer`: the shared rows, and the
    platform's `own` between those about the platform's health and those about the URL and
    the events. A 4xx with the platform's body refuses the events; without it, it is not the
    platform talking."""
    return (
        accepted(),
        no_answer(),
        server_error(),
        timed_out_or_throttled(),
        *own,
        no_such_endpoint("the base URL and the account settings"),
        too_large(),
        refused_with_error(),
        not_the_platform(),
        anything_else(),
    )
