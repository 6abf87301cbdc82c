"""A platform's documented rate limit applies to its destinations that set none."""

from __future__ import annotations

import dataclasses
import datetime as dt

from jobs.delivery import with_default_rate_limit
from jobs.model import Destination

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def destination(kind: str, rate_limit: float | None, **settings: object) -> Destination:
    return Destination(
        1, 1, kind, kind, True, dict(settings), "", None, rate_limit, False, "", NOW, NOW
    )


def test_a_destination_without_a_limit_gets_its_platforms_documented_one() -> None:
    # Pinterest: 5,000 calls a minute, at least one event each.
    assert with_default_rate_limit(destination("pinterest", None)).rate_limit == 83.0


def test_a_limit_of_the_destinations_own_wins() -> None:
    own = destination("pinterest", 20.0)
    assert with_default_rate_limit(own) is own


def test_platforms_without_a_documented_limit_stay_unlimited() -> None:
    meta = destination("meta", None)
    assert with_default_rate_limit(meta) is meta
    unknown = destination("tomorrows_platform", None)
    assert with_default_rate_limit(unknown) is unknown


def test_a_sandbox_has_the_limit_of_the_platform_it_behaves_as() -> None:
    sandbox = destination("sandbox", None, platform="pinterest")
    assert with_default_rate_limit(sandbox).rate_limit == 83.0
    assert dataclasses.replace(sandbox, settings={}) == with_default_rate_limit(
        dataclasses.replace(sandbox, settings={})
    )
