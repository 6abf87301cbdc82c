"""An attempt's links: one per distinct submission of its batch, at most 128, with every
submission counted; events stored while traces were off ('') link nowhere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jobs.otel import MAX_LINKS, OtelTracing
from jobs.settings import Settings
from tests.collector import Collector, value


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector() as running:
        yield running


async def test_an_attempt_links_each_submission_once_up_to_the_cap(collector: Collector) -> None:
    tracing = OtelTracing(Settings(traces_endpoint=f"{collector.url}/v1/traces"))
    submissions = [f"00-{n + 1:032x}-{n + 1:016x}-01" for n in range(200)]
    # A batch: five events of each submission, and three sent before traces were on.
    contexts = [*submissions * 5, *[""] * 3]
    try:
        with tracing.attempt("meta", 7, len(contexts), iter(contexts)) as attempt:
            attempt.record({"SUCCEEDED": 998, "FAILED:rejected": 6})
    finally:
        await tracing.aclose()

    [span] = collector.spans()
    assert len(span.links) == MAX_LINKS == 128
    assert [(link.trace_id.hex(), link.span_id.hex()) for link in span.links] == [
        (f"{n + 1:032x}", f"{n + 1:016x}") for n in range(MAX_LINKS)
    ]
    found = {a.key: value(a.value) for a in span.attributes}
    assert found == {
        "tenaz.platform": "meta",
        "tenaz.destination.id": 7,
        "tenaz.deliveries": 1003,
        "tenaz.submissions": 200,
        "tenaz.deliveries.succeeded": 998,
        "tenaz.deliveries.failed_rejected": 6,
        "tenaz.outcome": "mixed",
    }
