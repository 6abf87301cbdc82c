"""No access token and no personal data in logs or error messages, on any path:
submission (good and bad), delivery (success, rejection, outage, expired token),
retries, operations, the status stream, and destination changes."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from tenaz.client import TenazClient, TenazError, make_event

from jobs.clock import FakeClock
from jobs.platforms.fake_meta import Failure, FakeMetaServer
from jobs.runtime import Runtime
from tests.support import META_REFUSES, fire_due_retries, logged, run_jobs

TOKEN = "EAAB-very-secret-token-4711"
PERSONAL = {
    "email": "Maria.Confidencial@example.com",
    "phone": "+55 11 98765-4321",
    "first_name": "Mariazinha",
    "last_name": "Sigilosa",
    "city": "Pindamonhangaba",
    "zip": "12400-000",
    "date_of_birth": "1990-07-14",
    "external_id": "cliente-secreto-9",
}
# The values as sent and as normalised before hashing. Digits go in runs of eight or more:
# shorter ones turn up by chance in the logs' times, ports and durations.
NEEDLES = [
    TOKEN,
    "Confidencial",
    "98765-4321",
    "987654321",
    "Mariazinha",
    "Sigilosa",
    "Pindamonhangaba",
    "12400-000",
    "12400000",
    "1990-07-14",
    "19900714",
    "cliente-secreto",
]


async def test_every_path_keeps_tokens_and_personal_data_out_of_logs(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_meta.fake._access_tokens = {"111": TOKEN}
    await client.create_meta_destination(
        "meta", pixel_id="111", access_token=TOKEN, base_url=fake_meta.base_url
    )
    errors: list[str] = []

    fake_meta.fake.fail_next(1, Failure.token_expired())
    fake_meta.fake.fail_next(1, Failure.http_500())
    for i, refused in enumerate([False, True, False]):
        await client.submit_event(
            make_event(
                event_id=f"order-{i}",
                event_name="Purchase",
                event_time=clock.now(),
                value=None if refused else 10.0,
                currency="BRL",
                extra=META_REFUSES if refused else None,
                **PERSONAL,
            )
        )
    for bad in ({"email": "Maria.Confidencial@"}, {"phone": "98765 CALL"}):
        with pytest.raises(TenazError) as caught:
            await client.submit_event(
                make_event(event_id="bad", event_name="Lead", event_time=clock.now(), **bad)
            )
        errors.append(str(caught.value))
    await run_jobs(runtime)
    destination = await client.get_destination("meta")
    destination.meta.access_token = TOKEN
    await client.update_destination(destination, ["meta.access_token"])
    await run_jobs(runtime)
    clock.advance(dt.timedelta(minutes=30))
    await fire_due_retries(runtime)
    page = await client.list_events()
    await client.retry_deliveries([d.id for e in page.events for d in e.deliveries])
    await run_jobs(runtime)
    stream = client.watch_status(after_sequence=0)
    async for _ in stream:
        break
    await stream.aclose()
    await runtime.sweeper.sweep()

    written = logged(caplog.records)
    assert "delivery.attempt.finished" in written  # the logs were captured at all
    assert '"kind":"meta"' in written  # with their fields
    for needle in NEEDLES:
        assert needle not in written, needle
        for message in errors:
            assert needle not in message, needle
