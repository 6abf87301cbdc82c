"""When attempts happen: the 30-minute rule, bent by the platform's deadline.

One rule decides every question about a delivery's deadline, wherever it is asked (a
submission, a claim, a retry, the sweeper, an operator's button):

- an attempt may start only if it would end before the deadline even if it used its whole
  time budget (TENAZ_ATTEMPT_BUDGET), with `SEND_GUARD` to spare for the last request to
  arrive: `can_start`;
- the retry after a failed attempt is due `interval` after its end; when that would fall after
  the last call (TENAZ_DEADLINE_MARGIN before the deadline), one last attempt is planned at the
  last call instead, and after an attempt at or past the last call there is none:
  `next_attempt`. The margin leaves the last call time to reach a worker (a busy queue, a rate
  limit) before `can_start` closes.

Pure functions of times, so the rule is tested to the second without waiting.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# An attempt must end this long before the deadline: its last request must still
# arrive while the platform accepts the event.
SEND_GUARD = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class DeadlineRule:
    # The last regular attempt is planned this long before the deadline.
    margin: dt.timedelta
    # The longest an attempt may run.
    budget: dt.timedelta

    def can_start(self, now: dt.datetime, deadline: dt.datetime) -> bool:
        """Whether an attempt starting at `now` ends in time, whatever it meets."""
        return now < self.last_start(deadline)

    def last_start(self, deadline: dt.datetime) -> dt.datetime:
        """The first moment no attempt may start at: what is due then has expired."""
        return deadline - SEND_GUARD - self.budget

    def expiry_cutoff(self, now: dt.datetime) -> dt.datetime:
        """Deliveries whose deadline is at or before this can no longer start an attempt."""
        return now + SEND_GUARD + self.budget

    def next_attempt(
        self, *, finished_at: dt.datetime, interval: dt.timedelta, deadline: dt.datetime
    ) -> dt.datetime | None:
        """The due time of the retry after an attempt that ended at `finished_at`, or None
        when there is none: the delivery has expired."""
        last_call = deadline - self.margin
        regular = finished_at + interval
        if regular <= last_call:
            return regular
        if finished_at < last_call:
            return last_call
        return None
