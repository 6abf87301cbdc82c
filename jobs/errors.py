"""The errors the domain raises for its callers to translate.

The gRPC edge maps each class to one status code in one table
(`server/errors.py`); nothing in `jobs/` knows about gRPC.

    TenazError
     ├── InvalidArgument      bad input; carries one violation per bad field
     ├── NotFound             no such event / destination in this workspace
     ├── AlreadyExists        a destination with that name exists
     ├── FailedPrecondition   valid input the current state cannot accept
     ├── OutOfRange           a stream cursor older than what is kept
     ├── TooManyStreams       the workspace's share of a server's status streams is taken
     ├── Unauthenticated      missing, unknown or revoked API key (or dashboard session)
     └── PermissionDenied     a known key whose scope does not cover the call
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class TenazError(Exception):
    """Base of the errors a caller can act on."""


class InvalidArgument(TenazError):
    def __init__(self, violations: Sequence[FieldViolation]) -> None:
        self.violations = list(violations)
        summary = "; ".join(f"{v.field}: {v.description}" for v in self.violations[:5])
        more = len(self.violations) - 5
        super().__init__(summary + (f" (and {more} more)" if more > 0 else ""))

    @classmethod
    def one(cls, field: str, description: str) -> InvalidArgument:
        return cls([FieldViolation(field, description)])


class NotFound(TenazError):
    pass


class AlreadyExists(TenazError):
    pass


class FailedPrecondition(TenazError):
    pass


class OutOfRange(TenazError):
    pass


class Unauthenticated(TenazError):
    pass


class TooManyStreams(TenazError):
    """A workspace has as many status streams open on this server as it may."""


class PermissionDenied(TenazError):
    pass
