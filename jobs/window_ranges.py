"""Which counter rows a stats window reads: its whole hours from the counters kept by the hour,
and the minutes left over from those kept by the minute (migration 0026).

A window counts the minutes m with since <= m < U: `since` is a whole minute and U is `until`
rounded up to one (the minute `until` falls in counts). An hour's row stands for its sixty
minutes, so it answers for a window only when all of them are in it, and, for the attempt
buckets, only when all of them fall in one bucket (the row is then counted in the bucket of
the hour's first minute). Every other minute is read from the minute rows. Consecutive hours,
and consecutive minutes, make one range each, so that a query scans a few ranges of an index
instead of filtering every minute of the window.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

MINUTE = dt.timedelta(minutes=1)
_HOUR = 60  # minutes

# (first, last) of a range, both included.
Range = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class WindowRanges:
    """The ranges of a window to read, oldest first: the starts of whole hours, and whole
    minutes, each range's first and last included."""

    hours: list[Range]
    minutes: list[Range]


def bucket_index(offset: int, bucket_seconds: float) -> int:
    """The attempt bucket of the minute `offset` minutes after the window's start, reckoned
    as the query reckons it (jobs/store/stats.py: the seconds since the start over the
    bucket's, in double precision, rounded down), so that both agree at every edge."""
    return math.floor(offset * 60 / bucket_seconds)


def ranges_to_read(
    since: dt.datetime, until: dt.datetime, bucket: dt.timedelta | None = None
) -> WindowRanges:
    """The hours and minutes that make up the window [since, until rounded up to a minute).

    With `bucket`, an hour is read whole only when it falls in one bucket (the attempt
    buckets, counted from `since`); without, whenever it is in the window.
    """
    start = since.astimezone(dt.UTC)
    if start.second or start.microsecond:
        raise ValueError(f"a window starts on a whole minute, not at {since}")
    minutes = -((start - until) // MINUTE)  # the window's minutes: 0 .. minutes - 1
    if minutes <= 0:
        return WindowRanges(hours=[], minutes=[])
    runs = [(0, minutes - 1)] if bucket is None else _runs_by_bucket(minutes, bucket)
    first_hour = -start.minute % _HOUR  # the offset of the first minute of a whole hour
    hours: list[tuple[int, int]] = []
    rest: list[tuple[int, int]] = []
    for first, last in runs:
        hour = first + (first_hour - first) % _HOUR
        whole = (last + 1 - hour) // _HOUR
        if whole <= 0:
            rest.append((first, last))
            continue
        after = hour + whole * _HOUR
        hours.append((hour, after - _HOUR))
        rest += [r for r in ((first, hour - 1), (after, last)) if r[0] <= r[1]]

    def at(offsets: list[tuple[int, int]]) -> list[Range]:
        return [(start + first * MINUTE, start + last * MINUTE) for first, last in offsets]

    return WindowRanges(hours=at(_merged(hours, _HOUR)), minutes=at(_merged(rest, 1)))


def _runs_by_bucket(minutes: int, bucket: dt.timedelta) -> list[tuple[int, int]]:
    """The window's minutes (0 .. minutes - 1) in runs of one bucket each, oldest first: one
    step per bucket, from an estimate of where the next begins checked against
    `bucket_index`."""
    seconds = bucket.total_seconds()
    runs = []
    first = 0
    while first < minutes:
        index = bucket_index(first, seconds)
        after = min(minutes, max(first + 1, math.ceil((index + 1) * seconds / 60)))
        while after - 1 > first and bucket_index(after - 1, seconds) != index:
            after -= 1
        while after < minutes and bucket_index(after, seconds) == index:
            after += 1
        runs.append((first, after - 1))
        first = after
    return runs


def _merged(ranges: list[tuple[int, int]], step: int) -> list[tuple[int, int]]:
    """`ranges` (in order) with those that follow each other (`step` apart) made one."""
    merged: list[tuple[int, int]] = []
    for first, last in ranges:
        if merged and merged[-1][1] + step == first:
            merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged
