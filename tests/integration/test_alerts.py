"""Alerts end to end: a destination that fails, needs action and recovers makes exactly the
expected notifications, in order, once each, over a signed webhook and STARTTLS e-mail
(real servers on loopback); notifications are retried while a channel is down; and the
AlertService's calls over gRPC."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2
from tenaz.client import TenazClient, TenazError, make_event
from tenaz.v1 import alerts_pb2, destinations_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_meta import Failure, FakeMetaServer
from jobs.runtime import Runtime
from jobs.settings import Settings
from tests.alert_receivers import (
    SMTP_PASSWORD,
    SMTP_USER,
    WEBHOOK_SECRET,
    Mailbox,
    WebhookReceiver,
    settings_allowing,
    smtp_server,
    webhook_receiver,
)
from tests.support import fire_due_retries, make_pki, run_jobs

A = alerts_pb2
# Rules are evaluated when a test says so (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("manual_alert_evaluation")


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as served:
        yield served


@pytest.fixture
async def mailbox(tmp_path: Path) -> AsyncIterator[Mailbox]:
    async with smtp_server(make_pki(tmp_path)) as served:
        yield served


@pytest.fixture
def settings(
    database_url: str,
    fake_meta: FakeMetaServer,
    receiver: WebhookReceiver,
    mailbox: Mailbox,
    tmp_path: Path,
) -> Settings:
    return settings_allowing(
        database_url,
        fake_meta.base_url,
        receiver.url.removesuffix("/hook"),
        f"http://{mailbox.host}:{mailbox.port}",
        smtp_ca_file=tmp_path / "ca.pem",
        smtp_timeout=dt.timedelta(seconds=5),
        alert_attempts=3,
        alert_retry_wait=dt.timedelta(seconds=10),
    )


def _minutes(n: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromTimedelta(dt.timedelta(minutes=n))
    return value


async def _channels(client: TenazClient, receiver: WebhookReceiver, mailbox: Mailbox) -> None:
    await client.create_alert_channel(
        A.AlertChannel(
            name="hook",
            webhook=A.WebhookChannelSettings(url=receiver.url, signing_secret=WEBHOOK_SECRET),
        )
    )
    await client.create_alert_channel(
        A.AlertChannel(
            name="mail",
            email=A.EmailChannelSettings(
                host=mailbox.host,
                port=mailbox.port,
                username=SMTP_USER,
                password=SMTP_PASSWORD,
                sender="tenaz@example.com",
                recipients=["ops@example.com"],
            ),
        )
    )


def _event(clock: FakeClock, event_id: str) -> object:
    return make_event(
        event_id=event_id, event_name="Lead", event_time=clock.now(), email="a@example.com"
    )


async def _notify_jobs_waiting(runtime: Runtime) -> int:
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM procrastinate_jobs"
            " WHERE status = 'todo' AND task_name = 'tenaz.alerts.notify'"
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def _evaluate_and_send(runtime: Runtime) -> int:
    queued = await runtime.alerts.evaluate()
    await run_jobs(runtime)
    return queued


async def test_failing_needing_action_and_recovering_notifies_once_per_change_in_order(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    meta: str,
    receiver: WebhookReceiver,
    mailbox: Mailbox,
) -> None:
    await _channels(client, receiver, mailbox)
    await client.create_alert_rule(
        A.AlertRule(
            name="meta-failing",
            condition=A.ALERT_CONDITION_SUCCESS_RATE,
            destination="meta",
            threshold=0.5,
            window=_minutes(15),
            recovery=_minutes(5),
            channels=["hook", "mail"],
            enabled=True,
        )
    )
    await client.create_alert_rule(
        A.AlertRule(
            name="meta-token",
            condition=A.ALERT_CONDITION_NEEDS_ACTION,
            recovery=_minutes(0),
            channels=["hook", "mail"],
            enabled=True,
        )
    )
    assert await _evaluate_and_send(runtime) == 0  # nothing wrong yet

    # The platform goes down: the attempt fails, the success rate drops to 0.
    fake_meta.fake.set_down(True)
    await client.submit_event(_event(clock, "e1"))  # type: ignore[arg-type]
    await run_jobs(runtime)
    assert await _evaluate_and_send(runtime) == 2
    [rule] = [r for r in await client.list_alert_rules() if r.name == "meta-failing"]
    assert list(rule.firing) == ["meta"]
    # Still failing a minute later: nothing more is sent.
    clock.advance(dt.timedelta(minutes=1))
    assert await _evaluate_and_send(runtime) == 0

    # The platform is back; the retry 30 minutes later goes through. The condition is clear,
    # but the alert resolves only once it has stayed clear for the 5-minute recovery.
    fake_meta.fake.set_down(False)
    clock.advance(dt.timedelta(minutes=30))
    await fire_due_retries(runtime)
    assert await _evaluate_and_send(runtime) == 0
    clock.advance(dt.timedelta(minutes=3))
    assert await _evaluate_and_send(runtime) == 0
    clock.advance(dt.timedelta(minutes=2))
    assert await _evaluate_and_send(runtime) == 2

    # The token expires: the destination needs action.
    fake_meta.fake.fail_next(1, Failure.token_expired())
    await client.submit_event(_event(clock, "e2"))  # type: ignore[arg-type]
    await run_jobs(runtime)
    assert await _evaluate_and_send(runtime) == 2
    clock.advance(dt.timedelta(minutes=1))
    assert await _evaluate_and_send(runtime) == 0
    # The operator sets the token again: the alert resolves at the next evaluation.
    await client.update_destination(
        destinations_pb2.Destination(
            name="meta", meta=destinations_pb2.MetaSettings(access_token="good-token")
        ),
        ["meta.access_token"],
    )
    await run_jobs(runtime)
    clock.advance(dt.timedelta(seconds=30))
    assert await _evaluate_and_send(runtime) == 2
    clock.advance(dt.timedelta(minutes=10))
    assert await _evaluate_and_send(runtime) == 0

    expected = [
        ("tenaz.alert.firing", "meta-failing"),
        ("tenaz.alert.resolved", "meta-failing"),
        ("tenaz.alert.firing", "meta-token"),
        ("tenaz.alert.resolved", "meta-token"),
    ]
    assert [(b["type"], b["rule"]) for b in receiver.bodies] == expected
    assert all(b["destination"] == "meta" and b["text"] for b in receiver.bodies)
    assert "success rate 0%" in receiver.bodies[0]["detail"]
    assert "access token" in receiver.bodies[2]["detail"]
    assert receiver.bad_signatures == 0
    assert len(set(receiver.ids)) == 4
    subjects = mailbox.subjects()
    assert [s.split()[1:3] for s in subjects] == [
        ["ALERT", "meta-failing:"],
        ["RESOLVED", "meta-failing:"],
        ["ALERT", "meta-token:"],
        ["RESOLVED", "meta-token:"],
    ]
    assert mailbox.over_tls == [True] * 4
    assert mailbox.logins == [SMTP_USER] * 4

    history = await client.list_notifications()
    assert [(n.kind, n.rule, n.channel) for n in reversed(history)] == [
        (kind, rule, channel)
        for kind, rule in (
            (A.NOTIFICATION_KIND_FIRING, "meta-failing"),
            (A.NOTIFICATION_KIND_RESOLVED, "meta-failing"),
            (A.NOTIFICATION_KIND_FIRING, "meta-token"),
            (A.NOTIFICATION_KIND_RESOLVED, "meta-token"),
        )
        for channel in ("hook", "mail")
    ]
    assert {(n.state, n.attempts) for n in history} == {(A.NOTIFICATION_STATE_SENT, 1)}


async def test_oldest_waiting_delivery_fires_past_its_threshold(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    meta: str,
    receiver: WebhookReceiver,
    mailbox: Mailbox,
) -> None:
    await _channels(client, receiver, mailbox)
    await client.create_alert_rule(
        A.AlertRule(
            name="stuck",
            condition=A.ALERT_CONDITION_OLDEST_WAITING,
            threshold=600,
            recovery=_minutes(0),
            channels=["hook"],
            enabled=True,
        )
    )
    fake_meta.fake.set_down(True)
    await client.submit_event(_event(clock, "e1"))  # type: ignore[arg-type]
    await run_jobs(runtime)
    clock.advance(dt.timedelta(minutes=9))
    assert await _evaluate_and_send(runtime) == 0
    clock.advance(dt.timedelta(minutes=2))
    assert await _evaluate_and_send(runtime) == 1
    assert "oldest waiting delivery is 11m old" in receiver.bodies[0]["detail"]


async def test_evaluations_at_once_notify_once(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    meta: str,
    receiver: WebhookReceiver,
    mailbox: Mailbox,
) -> None:
    await _channels(client, receiver, mailbox)
    await client.create_alert_rule(
        A.AlertRule(
            name="token",
            condition=A.ALERT_CONDITION_NEEDS_ACTION,
            channels=["hook"],
            enabled=True,
        )
    )
    fake_meta.fake.fail_next(1, Failure.token_expired())
    await client.submit_event(_event(clock, "e1"))  # type: ignore[arg-type]
    await run_jobs(runtime)
    results = await asyncio.gather(*(runtime.alerts.evaluate() for _ in range(4)))
    assert sum(r for r in results if r > 0) == 1
    assert await runtime.alerts.evaluate() == 0
    await run_jobs(runtime)
    assert [b["rule"] for b in receiver.bodies] == ["token"]


async def test_a_notification_is_retried_while_its_channel_is_down(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    meta: str,
    receiver: WebhookReceiver,
    mailbox: Mailbox,
) -> None:
    await _channels(client, receiver, mailbox)
    await client.create_alert_channel(
        A.AlertChannel(
            name="nowhere",
            email=A.EmailChannelSettings(
                host=mailbox.host,
                port=1,  # nothing listens there
                sender="tenaz@example.com",
                recipients=["ops@example.com"],
            ),
        )
    )
    await client.create_alert_rule(
        A.AlertRule(
            name="token",
            condition=A.ALERT_CONDITION_NEEDS_ACTION,
            channels=["hook", "nowhere"],
            enabled=True,
        )
    )
    receiver.fail_next = 2
    fake_meta.fake.fail_next(1, Failure.token_expired())
    await client.submit_event(_event(clock, "e1"))  # type: ignore[arg-type]
    await run_jobs(runtime)
    assert await _evaluate_and_send(runtime) == 2

    def by_channel(found: list[A.Notification]) -> dict[str, tuple[int, int]]:
        return {n.channel: (n.state, n.attempts) for n in found}

    assert by_channel(await client.list_notifications()) == {
        "hook": (A.NOTIFICATION_STATE_PENDING, 1),
        "nowhere": (A.NOTIFICATION_STATE_PENDING, 1),
    }
    assert await _notify_jobs_waiting(runtime) == 2
    # The next try is due 10 s later, the one after 20 s after that (the fake clock's).
    clock.advance(dt.timedelta(seconds=9))
    assert await fire_due_retries(runtime) == 0
    clock.advance(dt.timedelta(seconds=1))
    assert await fire_due_retries(runtime) == 2
    clock.advance(dt.timedelta(seconds=20))
    assert await fire_due_retries(runtime) == 2
    found = await client.list_notifications()
    assert by_channel(found) == {
        "hook": (A.NOTIFICATION_STATE_SENT, 3),
        "nowhere": (A.NOTIFICATION_STATE_FAILED, 3),
    }
    assert "email" in {n.channel: n.last_error for n in found}["nowhere"]
    # Every try carried the same webhook-id; the receiver took it once.
    assert receiver.requests == 3
    assert len(receiver.bodies) == 1
    assert await _notify_jobs_waiting(runtime) == 0


async def test_alert_service_over_grpc(
    client: TenazClient,
    runtime: Runtime,
    receiver: WebhookReceiver,
    mailbox: Mailbox,
    submit_api_key: str,
    server: object,
) -> None:
    await _channels(client, receiver, mailbox)
    listed = {c.name: c for c in await client.list_alert_channels()}
    assert listed["hook"].webhook.url == receiver.url
    assert listed["hook"].webhook.signing_secret == ""
    assert listed["hook"].webhook.signing_secret_set
    assert listed["mail"].email.password == ""
    assert listed["mail"].email.password_set
    assert list(listed["mail"].email.recipients) == ["ops@example.com"]

    # The secrets are sealed in the database, not stored as given.
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT secret FROM tenaz_alert_channels")
        stored = " ".join(row[0] for row in await cur.fetchall())
    assert WEBHOOK_SECRET not in stored and SMTP_PASSWORD not in stored

    with pytest.raises(TenazError) as refused:
        await client.create_alert_channel(
            A.AlertChannel(name="bad", webhook=A.WebhookChannelSettings(url="http://10.0.0.1/x"))
        )
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in refused.value.violations} == {
        "webhook.url",
        "webhook.signing_secret",
    }
    with pytest.raises(TenazError) as refused:
        await client.create_alert_rule(
            A.AlertRule(name="r", condition=A.ALERT_CONDITION_SUCCESS_RATE, channels=["nope"])
        )
    assert {v.field for v in refused.value.violations} == {"threshold", "channels"}

    created = await client.create_alert_rule(
        A.AlertRule(
            name="r",
            condition=A.ALERT_CONDITION_SUCCESS_RATE,
            threshold=0.9,
            channels=["hook"],
            enabled=True,
        )
    )
    assert created.window.ToTimedelta() == dt.timedelta(minutes=15)
    assert created.recovery.ToTimedelta() == dt.timedelta(minutes=5)
    created.threshold = 0.8
    created.channels.append("mail")
    updated = await client.update_alert_rule(created)
    assert (updated.threshold, list(updated.channels)) == (0.8, ["hook", "mail"])
    with pytest.raises(TenazError) as refused:
        await client.delete_alert_channel("mail")
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION

    changed = await client.update_alert_channel(
        A.AlertChannel(name="mail", email=A.EmailChannelSettings(recipients=["a@example.com"]))
    )
    assert list(changed.email.recipients) == ["a@example.com"]
    assert changed.email.host == mailbox.host and changed.email.password_set

    tested = await client.test_alert_channel("hook")
    assert (tested.state, tested.kind, tested.attempts) == (
        A.NOTIFICATION_STATE_SENT,
        A.NOTIFICATION_KIND_TEST,
        1,
    )
    assert receiver.bodies[-1]["type"] == "tenaz.alert.test"
    tested = await client.test_alert_channel("mail")
    assert tested.state == A.NOTIFICATION_STATE_SENT
    assert "test notification" in mailbox.subjects()[-1]

    await client.delete_alert_rule("r")
    await client.delete_alert_channel("mail")
    assert [c.name for c in await client.list_alert_channels()] == ["hook"]
    assert await client.list_alert_rules() == []
    with pytest.raises(TenazError) as refused:
        await client.delete_alert_rule("r")
    assert refused.value.code == grpc.StatusCode.NOT_FOUND

    port = server.port  # type: ignore[attr-defined]
    async with TenazClient(f"127.0.0.1:{port}", submit_api_key) as narrow:
        with pytest.raises(TenazError) as refused:
            await narrow.list_alert_channels()
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED


async def test_notifications_older_than_the_retention_period_are_purged(
    client: TenazClient, runtime: Runtime, clock: FakeClock, receiver: WebhookReceiver
) -> None:
    await client.create_alert_channel(
        A.AlertChannel(
            name="hook",
            webhook=A.WebhookChannelSettings(url=receiver.url, signing_secret=WEBHOOK_SECRET),
        )
    )
    old = await client.test_alert_channel("hook")
    clock.advance(runtime.settings.retention / 2)
    recent = await client.test_alert_channel("hook")
    assert (await runtime.retention.purge())["alert_notifications"] == 0

    clock.advance(runtime.settings.retention / 2 + dt.timedelta(minutes=1))
    assert (await runtime.retention.purge())["alert_notifications"] == 1
    kept = await client.list_notifications()
    assert [n.id for n in kept] == [recent.id] and recent.id != old.id
