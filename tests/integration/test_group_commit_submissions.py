"""Single-event submissions that arrive together share one transaction, each with its answer."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from jobs import keys
from jobs.errors import InvalidArgument
from jobs.runtime import Runtime
from jobs.submission import EventInput, SubmitResult
from tests.support import count_rows, scheduled_jobs


def purchase(runtime: Runtime, event_id: str, **changes: object) -> EventInput:
    fields: dict[str, object] = {
        "event_id": event_id,
        "event_name": "Purchase",
        "event_time": runtime.clock.now(),
        "user_data": {"email": "cliente@example.com"},
        "value": 10.0,
        "currency": "BRL",
    }
    fields.update(changes)
    return EventInput(**fields)  # type: ignore[arg-type]


async def submit_together(runtime: Runtime, api_key: str, events: list[EventInput]) -> list[object]:
    workspace = (await keys.authenticate(runtime.pool, api_key)).workspace.id
    return await asyncio.gather(
        *(runtime.submissions.submit(workspace, [e], batch=False) for e in events),
        return_exceptions=True,
    )


async def test_concurrent_single_submissions_commit_together_each_with_its_answer(
    runtime: Runtime, api_key: str, meta: str
) -> None:
    events = [purchase(runtime, f"order-{i}") for i in range(20)]
    events[7] = purchase(runtime, "order-7", currency="reais")
    events[12] = purchase(runtime, "order-3")  # the same event as #3: a duplicate

    outcomes = await submit_together(runtime, api_key, events)

    bad = outcomes[7]
    assert isinstance(bad, InvalidArgument)
    assert [v.field for v in bad.violations] == ["event.custom_data.currency"]
    good = [o for i, o in enumerate(outcomes) if i != 7]
    assert all(isinstance(o, list) and len(o) == 1 for o in good)
    results: list[SubmitResult] = [o[0] for o in good]  # type: ignore[index]
    assert [r.event.event_id for r in results] == [
        e.event_id for i, e in enumerate(events) if i != 7
    ]
    assert [r.duplicate for r in results].count(True) == 1
    assert results[11].duplicate and results[11].event.id == results[3].event.id
    assert all(
        [(d.destination_name, d.status) for d in r.event.deliveries] == [(meta, "PENDING")]
        for r in results
    )
    # 18 new events, one transaction: one job to deliver them all.
    assert await count_rows(runtime, "tenaz_events") == 18
    assert len(await scheduled_jobs(runtime)) == 1


async def test_the_answer_matches_what_was_stored(
    runtime: Runtime, api_key: str, meta: str
) -> None:
    [[result]] = await submit_together(runtime, api_key, [purchase(runtime, "order-1")])  # type: ignore[misc]
    workspace = (await keys.authenticate(runtime.pool, api_key)).workspace.id

    stored = await runtime.reads.get(workspace, str(result.event.id))

    assert result.event == stored


async def test_a_value_the_database_refuses_fails_only_its_own_call(
    runtime: Runtime, api_key: str, meta: str
) -> None:
    events = [purchase(runtime, f"order-{i}") for i in range(5)]
    events[2] = purchase(runtime, "order-2", extra={"note": "a\x00b"})

    outcomes = await submit_together(runtime, api_key, events)

    assert isinstance(outcomes[2], psycopg.DataError)
    assert all(isinstance(o, list) for i, o in enumerate(outcomes) if i != 2)
    assert await count_rows(runtime, "tenaz_events") == 4


@pytest.mark.parametrize("batch", [True, False])
async def test_a_single_call_keeps_its_error_paths(
    runtime: Runtime, api_key: str, meta: str, batch: bool
) -> None:
    workspace = (await keys.authenticate(runtime.pool, api_key)).workspace.id
    with pytest.raises(InvalidArgument) as caught:
        await runtime.submissions.submit(
            workspace, [purchase(runtime, "x", currency="reais")], batch=batch
        )
    prefix = "events[0]" if batch else "event"
    assert [v.field for v in caught.value.violations] == [f"{prefix}.custom_data.currency"]
