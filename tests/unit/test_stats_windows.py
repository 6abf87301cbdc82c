"""A stats window: where the default one starts, and which hours and minutes of counters it
reads (each minute of the window once, an hour only whole, in one bucket, and in few ranges)."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest

from jobs.stats import on_a_bucket_edge
from jobs.window_ranges import WindowRanges, bucket_index, ranges_to_read

DAY = dt.datetime(2025, 3, 14, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)


def at(hours: int, minutes: int = 0, seconds: float = 0) -> dt.datetime:
    return DAY + hours * H + minutes * M + dt.timedelta(seconds=seconds)


def test_a_window_reads_its_whole_hours_by_the_hour_and_the_minutes_at_its_ends() -> None:
    assert ranges_to_read(at(10, 20), at(13, 5, 30)) == WindowRanges(
        hours=[(at(11), at(12))],
        minutes=[(at(10, 20), at(10, 59)), (at(13), at(13, 5))],
    )


def test_the_minute_until_falls_in_counts_and_the_one_it_begins_does_not() -> None:
    assert ranges_to_read(at(10), at(12, 0, 0.001)).minutes == [(at(12), at(12))]
    assert ranges_to_read(at(10), at(12)) == WindowRanges(hours=[(at(10), at(11))], minutes=[])


def test_a_window_shorter_than_an_hour_or_across_no_whole_one_reads_minutes() -> None:
    assert ranges_to_read(at(10, 1), at(10, 59, 59)) == WindowRanges(
        hours=[], minutes=[(at(10, 1), at(10, 59))]
    )
    assert ranges_to_read(at(10, 30), at(11, 45)) == WindowRanges(
        hours=[], minutes=[(at(10, 30), at(11, 44))]
    )


def test_an_hour_that_a_buckets_edge_cuts_is_read_by_the_minute() -> None:
    found = ranges_to_read(at(0), at(6), dt.timedelta(minutes=90))
    # Buckets 00:00, 01:30, 03:00, 04:30: the hours 01:00 and 04:00 are cut in two.
    assert found == WindowRanges(
        hours=[(at(0), at(0)), (at(2), at(3)), (at(5), at(5))],
        minutes=[(at(1), at(1, 59)), (at(4), at(4, 59))],
    )


def test_buckets_of_an_hour_from_a_whole_hour_read_every_hour_and_shorter_ones_none() -> None:
    assert ranges_to_read(at(0), at(23, 30), H) == WindowRanges(
        hours=[(at(0), at(22))], minutes=[(at(23), at(23, 29))]
    )
    assert ranges_to_read(at(0, 10), at(23), H).hours == []  # every hour is cut
    assert ranges_to_read(at(0), at(23), dt.timedelta(minutes=5)) == WindowRanges(
        hours=[], minutes=[(at(0), at(22, 59))]
    )


def test_a_window_starts_on_a_whole_minute() -> None:
    with pytest.raises(ValueError, match="whole minute"):
        ranges_to_read(at(0, 0, 30), at(1))


# Widths that fit an hour evenly or not, shorter or longer than an hour, shorter than a minute.
BUCKETS = [
    dt.timedelta(seconds=s)
    for s in (20, 90, 300, 2520, 3570, 3600, 3601, 5400, 7200, 10_000, 86_400, 200_000)
]


@pytest.mark.parametrize("seed", range(40))
def test_every_minute_of_a_window_is_read_once_and_every_hour_that_can_be_is_whole(
    seed: int,
) -> None:
    draw = random.Random(seed)
    for _ in range(50):
        since = at(draw.randrange(48), draw.randrange(60))
        until = since + dt.timedelta(seconds=draw.uniform(1, 3 * 86_400))
        bucket = draw.choice([None, *BUCKETS])
        found = ranges_to_read(since, until, bucket)

        minutes = -((since - until) // M)
        read = [0] * minutes
        for first, last in found.minutes:
            for offset in range((first - since) // M, (last - since) // M + 1):
                read[offset] += 1
        for first, last in found.hours:
            hour = first
            while hour <= last:
                assert hour.minute == 0
                offset = (hour - since) // M
                for minute in range(offset, offset + 60):
                    read[minute] += 1
                if bucket is not None:
                    seconds = bucket.total_seconds()
                    assert bucket_index(offset, seconds) == bucket_index(offset + 59, seconds)
                hour += H
        assert read == [1] * minutes, (since, until, bucket)

        # No whole hour of one bucket is left to the minutes, and ranges that follow each
        # other are one.
        for first, last in found.minutes:
            hour = first.replace(minute=0) + (H if first.minute else dt.timedelta(0))
            while hour + 59 * M <= last:
                offset = (hour - since) // M
                assert bucket is not None
                seconds = bucket.total_seconds()
                assert bucket_index(offset, seconds) != bucket_index(offset + 59, seconds)
                hour += H
        for ranges, step in ((found.hours, H), (found.minutes, M)):
            for before, after in itertools.pairwise(ranges):
                assert before[1] + step < after[0]


def test_the_default_window_starts_on_the_first_bucket_edge_at_or_after_its_start() -> None:
    assert on_a_bucket_edge(at(10, 20), H, before=at(20)) == at(11)
    assert on_a_bucket_edge(at(10), H, before=at(20)) == at(10)
    # Edges are counted from the Unix epoch: 90-minute ones fall on 00:00 and 01:30 of a day.
    assert on_a_bucket_edge(at(0, 10), dt.timedelta(minutes=90), before=at(20)) == at(1, 30)
    assert on_a_bucket_edge(at(0, 10), dt.timedelta(days=1), before=at(30)) == at(24)
    # No edge before `before`: the start as it was.
    assert on_a_bucket_edge(at(0, 10), dt.timedelta(days=1), before=at(20)) == at(0, 10)
    assert on_a_bucket_edge(at(0, 10), dt.timedelta(days=3650), before=at(20)) == at(0, 10)
