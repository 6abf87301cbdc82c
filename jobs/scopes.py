"""What an API key may do: its scope, `submit` or `admin`.

A scope bounds what a leaked key can do. The services that send events hold
`submit` keys: they submit events and read their workspace's events, stats
and status stream. Changing what Tenaz sends, or where (destinations, retry,
cancel, replay), takes an `admin` key, which may do everything a submit key
may. A key made without naming a scope gets `submit`, the narrower one.

The gRPC edge and the dashboard each declare what their calls need and ask
`require_scope`; this module imports nothing heavy, so the command line can
offer the scopes without loading the database driver.
"""

from __future__ import annotations

from jobs.errors import PermissionDenied
from jobs.model import Caller

SUBMIT = "submit"
ADMIN = "admin"
SCOPES = (SUBMIT, ADMIN)


def allows(scope: str, needed: str) -> bool:
    """Whether a key of `scope` may do what needs `needed`: admin covers submit."""
    return scope == ADMIN or needed == SUBMIT


def require_scope(caller: Caller, needed: str, action: str) -> None:
    """Refuse `action` (named as the caller knows it) when the caller's key is too narrow."""
    if not allows(caller.scope, needed):
        raise PermissionDenied(
            f"this API key has scope {caller.scope}; {action} needs an {needed} key"
        )
