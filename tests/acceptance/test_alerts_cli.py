"""`tenaz alerts` as operators run it: real subprocesses against the test gRPC server, with a
webhook receiver on loopback that checks every signature."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from tenaz.client import TenazClient, make_event

from jobs.clock import FakeClock
from jobs.platforms.fake_meta import Failure, FakeMetaServer
from jobs.runtime import Runtime
from jobs.settings import Settings
from tests.acceptance import test_cli
from tests.acceptance.test_cli import Cli
from tests.alert_receivers import (
    WEBHOOK_SECRET,
    WebhookReceiver,
    settings_allowing,
    webhook_receiver,
)
from tests.support import run_jobs

# Rules are evaluated when the test says so (tests/conftest.py).
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(120),
    pytest.mark.usefixtures("manual_alert_evaluation"),
]
SMTP_PASSWORD = "cli-smtp-password"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as served:
        yield served


# The CLI's fixture, run with this module's settings (the receiver's address allowed).
cli = test_cli.cli


@pytest.fixture
def settings(database_url: str, fake_meta: FakeMetaServer, receiver: WebhookReceiver) -> Settings:
    return settings_allowing(database_url, fake_meta.base_url, receiver.url.removesuffix("/hook"))


async def test_alert_rules_channels_test_and_history(
    cli: Cli,
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    meta: str,
    receiver: WebhookReceiver,
) -> None:
    await cli(
        "alerts", "channels", "create-webhook", "hook", "--url", receiver.url,
        TENAZ_ALERT_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )  # fmt: skip
    await cli(
        "alerts", "channels", "create-email", "mail", "--host", "127.0.0.1", "--port", "2",
        "--username", "tenaz", "--sender", "tenaz@example.com", "--to", "ops@example.com",
        TENAZ_ALERT_SMTP_PASSWORD=SMTP_PASSWORD,
    )  # fmt: skip
    listed = await cli("alerts", "channels", "list", "--json")
    channels: Any = listed.json()
    assert [c["name"] for c in channels["channels"]] == ["hook", "mail"]
    assert WEBHOOK_SECRET not in listed.out and SMTP_PASSWORD not in listed.out
    assert channels["channels"][0]["webhook"] == {"url": receiver.url, "signing_secret_set": True}
    assert channels["channels"][1]["email"]["password_set"] is True
    assert "password" not in channels["channels"][1]["email"]
    text = (await cli("alerts", "channels", "list")).out
    assert "smtp://tenaz@127.0.0.1:2 from tenaz@example.com to ops@example.com" in text

    refused = await cli(
        "alerts", "rules", "create", "bad", "--condition", "success_rate", "--channel", "hook",
        expect=1,
    )  # fmt: skip
    assert "INVALID_ARGUMENT" in refused.err and "threshold" in refused.err
    await cli(
        "alerts", "rules", "create", "token", "--condition", "needs_action",
        "--channel", "hook", "--channel", "mail", "--recovery", "0",
    )  # fmt: skip

    sent = await cli("alerts", "test", "hook")
    assert "sent a test notification over 'hook'" in sent.out
    assert [b["type"] for b in receiver.bodies] == ["tenaz.alert.test"]
    failed = await cli("alerts", "test", "mail", expect=1)
    # Loopback that the operator did not name: refused before any connection.
    assert "failed: email:" in failed.err and "no public address" in failed.err

    fake_meta.fake.fail_next(1, Failure.token_expired())
    await client.submit_event(
        make_event(event_id="e1", event_name="Lead", event_time=clock.now(), email="a@example.com")
    )
    await run_jobs(runtime)
    assert await runtime.alerts.evaluate() == 2
    await run_jobs(runtime)
    assert [b["type"] for b in receiver.bodies] == ["tenaz.alert.test", "tenaz.alert.firing"]

    rules = (await cli("alerts", "rules", "list")).out
    [line] = [row for row in rules.splitlines() if row.startswith("token")]
    assert "needs_action" in line and line.rstrip().endswith("meta")
    history: Any = (await cli("alerts", "history", "--json")).json()
    assert [(n["kind"], n["channel"]) for n in history["notifications"]][:2] == [
        ("NOTIFICATION_KIND_FIRING", "mail"),
        ("NOTIFICATION_KIND_FIRING", "hook"),
    ]
    table = (await cli("alerts", "history")).out
    assert "firing" in table and "test" in table

    await cli("alerts", "rules", "update", "token", "--disable", "--channel", "hook")
    [rule] = await client.list_alert_rules()
    assert (rule.enabled, list(rule.channels)) == (False, ["hook"])
    await cli("alerts", "rules", "delete", "token")
    await cli("alerts", "channels", "delete", "mail")
    assert [c.name for c in await client.list_alert_channels()] == ["hook"]
