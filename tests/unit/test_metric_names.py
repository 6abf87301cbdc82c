"""The example alerting rules and the Grafana dashboard in docs/ query only series Tenaz
exports: a renamed metric fails here, not on an operator's empty panel."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from jobs.clock import FakeClock
from jobs.database_gauges import DatabaseGauges
from jobs.metrics import Metrics
from tests.support import DASHBOARD, RULES, dashboard_expressions

SERIES = re.compile(r"\btenaz_[a-z_]+\b")
# The series each type of metric family is exposed as.
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gauge": ("",),
}


def exported_series() -> set[str]:
    """Every series name a Tenaz process may expose (whether or not it has samples yet)."""
    metrics = Metrics()
    gauges = DatabaseGauges("", FakeClock(), dt.timedelta(seconds=1))
    families = [*metrics.registry.collect(), *gauges.describe()]
    return {family.name + suffix for family in families for suffix in SUFFIXES[family.type]}


def test_the_dashboard_has_panels_for_every_family() -> None:
    queried = {name for expr in dashboard_expressions() for name in SERIES.findall(expr)}
    families = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in queried}
    exported = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in exported_series()}
    assert families == exported - {"tenaz_database_gauges_updated_timestamp_seconds"}


@pytest.mark.parametrize(
    "source",
    [RULES, DASHBOARD],
    ids=lambda path: path.name,
)
def test_every_series_queried_is_exported(source: Path) -> None:
    text = source.read_text()
    if source == DASHBOARD:
        text = "\n".join(dashboard_expressions())
    queried = set(SERIES.findall(text))
    assert queried, f"{source.name} queries no Tenaz series"
    assert queried <= exported_series(), queried - exported_series()


def test_a_series_that_does_not_exist_is_caught() -> None:
    assert "tenaz_deliveries_sent_total" not in exported_series()
    assert "tenaz_delivery_attempts_total" in exported_series()
    assert "tenaz_delivery_attempts_bucket" not in exported_series()
