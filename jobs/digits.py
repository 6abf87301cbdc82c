"""Numbers callers write (ids, ports, cursors, country codes) are ASCII digits.

`str.isdigit()` is also true for other scripts' digits and for superscripts ("٨٠", "²"),
which `int()` then reads as another number or refuses with an exception that would reach the
caller as an internal error. Every check of such input goes through `is_ascii_digits`.
"""

from __future__ import annotations


def is_ascii_digits(text: str) -> bool:
    """Whether `text` is one or more of the characters 0-9 and nothing else."""
    return text.isascii() and text.isdigit()
