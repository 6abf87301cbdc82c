"""What JSON can carry: Tenaz encodes with orjson, which writes NaN and infinity as null.

The json module would write `NaN`, which PostgreSQL and the platforms refuse; orjson
silently changes the value instead. So a caller's non-finite number is refused at
validation with a field violation, and the connectors check again before sending.
"""

from __future__ import annotations

import math
from typing import Any


def all_finite(value: Any) -> bool:
    """False if a float anywhere in `value` (dicts and lists included) is NaN or infinite."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(all_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(all_finite(v) for v in value)
    return True
