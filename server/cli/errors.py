"""The command line's own failures: expected, explained in one line, never a traceback.

`CliError` ends a command with exit code 1 (the request was understood and
could not be done); `UsageError` with exit code 2 (the command line itself is
wrong), as argparse does for the errors it finds.
"""

from __future__ import annotations


class CliError(Exception):
    """A failure the user can act on; the message is printed after `tenaz: `."""


class UsageError(CliError):
    """The options do not make a valid command."""
