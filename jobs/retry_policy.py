"""When the next attempt is due: the 30-minute rule bent by the platform's deadline.

Pure functions of times, so the rule is tested to the second without waiting.
"""

from __future__ import annotations

import datetime as dt

# An attempt must end this long before the deadline: its last request must still
# arrive while the platform accepts the event.
SEND_GUARD = dt.timedelta(seconds=30)


def can_send(now: dt.datetime, deadline: dt.datetime, budget: dt.timedelta) -> bool:
    """Whether an attempt may start at `now`: one that runs its whole time `budget`
    (TENAZ_ATTEMPT_BUDGET: splits, waits for the rate limit) still ends in time."""
    return now + budget < deadline - SEND_GUARD


def next_attempt_at(
    *,
    finished_at: dt.datetime,
    interval: dt.timedelta,
    deadline: dt.datetime,
    margin: dt.timedelta,
) -> dt.datetime | None:
    """The due time of the retry after an attempt that ended at `finished_at`.

    Regularly `finished_at + interval`. When that falls after the last call
    (`deadline - margin`), one last attempt is made at the last call instead;
    when the attempt that just ended was already at or after the last call,
    there is no next attempt (None): the delivery has expired.
    """
    last_call = deadline - margin
    regular = finished_at + interval
    if regular <= last_call:
        return regular
    if finished_at < last_call:
        return last_call
    return None
