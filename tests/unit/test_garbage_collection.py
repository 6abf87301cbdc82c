"""A Tenaz process collects cyclic garbage less often than Python's defaults would
(server/cli/process.py says why and what it measured)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.settings import Settings, SettingsError
from server.cli import process

PYTHONS_DEFAULTS = (700, 10, 10)


@pytest.fixture(autouse=True)
def thresholds_restored() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*PYTHONS_DEFAULTS)
    yield
    gc.set_threshold(*before)


def test_every_generation_is_collected_less_often_than_by_default() -> None:
    process.tune_garbage_collection()

    assert gc.get_threshold() == process.GC_THRESHOLDS
    assert all(new > old for new, old in zip(process.GC_THRESHOLDS, PYTHONS_DEFAULTS, strict=True))
    assert gc.isenabled()


async def test_a_process_command_tunes_the_collector_before_anything_starts(
    tmp_path: Path,
) -> None:
    # A certificate that does not exist stops `serve` before the database is opened.
    missing = tmp_path / "missing.pem"
    settings = Settings(tls_cert=missing, tls_key=missing)

    with pytest.raises(SettingsError):
        await process.run(settings, serve=True, work=False)

    assert gc.get_threshold() == process.GC_THRESHOLDS
