"""The README's walkthrough, as a new user runs it: `tenaz run` on an embedded
PostgreSQL, a key, a sandbox destination, an event that fails once and then
succeeds, Ctrl-C; then a restart that may call a webhook on loopback, and an alert
that fires when the sandbox needs action and is resolved when it recovers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import httpx
import pytest

from tests.alert_receivers import WEBHOOK_SECRET, WebhookReceiver, webhook_receiver
from tests.support import free_port, start_tenaz, until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def tenaz(env: dict[str, str], *args: str, expect: int = 0) -> str:
    process = await start_tenaz(env, *args)
    out, err = await process.communicate()
    assert process.returncode == expect, err.decode()
    return out.decode() if expect == 0 else err.decode()


async def started(env: dict[str, str]) -> tuple[asyncio.subprocess.Process, asyncio.Task[bytes]]:
    """`tenaz run`, once it says it started; the task drains the rest of its log."""
    server = await start_tenaz(env, "run", stdout=asyncio.subprocess.DEVNULL)
    assert server.stderr is not None
    async with asyncio.timeout(90):
        while b"tenaz.started" not in await server.stderr.readline():
            assert server.returncode is None
    return server, asyncio.create_task(server.stderr.read())


async def stopped(server: asyncio.subprocess.Process) -> None:
    """Ctrl-C, and a clean exit."""
    if server.returncode is None:
        server.send_signal(signal.SIGINT)
    async with asyncio.timeout(60):
        await server.wait()
    assert server.returncode == 0


async def test_walkthrough_on_the_embedded_database(tmp_path: Path) -> None:
    port = free_port()
    dashboard_port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("TENAZ_")} | {
        "TENAZ_DATA_DIR": str(tmp_path / "data"),
        "TENAZ_LISTEN_ADDRESS": f"127.0.0.1:{port}",
        "TENAZ_DASHBOARD_ADDRESS": f"127.0.0.1:{dashboard_port}",
        "TENAZ_INGEST_ADDRESS": f"127.0.0.1:{free_port()}",
        "TENAZ_METRICS_ADDRESS": f"127.0.0.1:{free_port()}",
        "TENAZ_RETRY_INTERVAL": "1s",
        "TENAZ_SERVER": f"127.0.0.1:{port}",
    }
    server, drain = await started(env)
    try:
        async with httpx.AsyncClient() as http:
            login = await http.get(f"http://127.0.0.1:{dashboard_port}/login")
        assert login.status_code == 200  # the dashboard runs beside the gRPC server

        created = await tenaz(env, "keys", "create", "--workspace", "demo", "--scope", "admin")
        env["TENAZ_API_KEY"] = created.strip()
        assert env["TENAZ_API_KEY"].startswith("tz_")
        await tenaz(env, "destinations", "create-sandbox", "sandbox")
        listed = await tenaz(env, "destinations", "list")
        assert "sandbox" in listed and "enabled" in listed

        submitted = await tenaz(
            env,
            "submit",
            "--event-name",
            "Purchase",
            "--event-id",
            "pedido-1001",
            "--email",
            "cliente@example.com",
            "--value",
            "197.00",
            "--currency",
            "BRL",
            "--sandbox-fail-attempts",
            "1",
        )
        event_id = submitted.split()[1]
        assert "sandbox: Pendente" in submitted

        async with asyncio.timeout(60):
            followed = await tenaz(env, "events", "show", event_id, "--follow")
        assert followed.strip().splitlines()[-1].split("  ", 1)[1].startswith("sandbox: Sucesso")
        shown = json.loads(await tenaz(env, "events", "show", event_id, "--json"))
        [delivery] = shown["deliveries"]
        assert [a["outcome"] for a in delivery["attempts"]] == [
            "ATTEMPT_OUTCOME_EXTERNAL_PROBLEM",
            "ATTEMPT_OUTCOME_SUCCEEDED",
        ]
        listing = await tenaz(env, "events", "list", "--lang", "en")
        assert "pedido-1001" in listing and "Succeeded" in listing

        purchase = ("submit", "--event-name", "Purchase", "--email", "cliente@example.com")
        refused = await tenaz(
            env,
            *purchase,
            "--event-id",
            "pedido-1002",
            "--value",
            "10",
            "--currency",
            "ZZZ",
            expect=1,
        )
        assert "custom_data.currency" in refused
        rejected = await tenaz(env, *purchase, "--event-id", "pedido-1003", "--sandbox-reject")
        async with asyncio.timeout(60):
            followed = await tenaz(env, "events", "show", rejected.split()[1], "--follow")
        assert followed.strip().splitlines()[-1].split("  ", 1)[1].startswith("sandbox: Falha")
    finally:
        await stopped(server)
    await drain

    async with webhook_receiver() as receiver:
        await alert_on_the_sandbox(env, receiver)


async def alert_on_the_sandbox(env: dict[str, str], receiver: WebhookReceiver) -> None:
    """Step 8: restarted as the README says, an alert fires once when the sandbox answers as
    Meta answers an expired token, and is resolved once a retry has gone through."""
    origin = receiver.url.removesuffix("/hook")
    env = env | {
        "TENAZ_RETRY_INTERVAL": "10s",
        "TENAZ_ALERT_INTERVAL": "5s",
        "TENAZ_ALLOWED_PLATFORM_URLS": origin,
        "TENAZ_ALERT_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    server, drain = await started(env)
    try:
        await tenaz(env, "alerts", "channels", "create-webhook", "hook", "--url", receiver.url)
        await tenaz(
            env,
            *("alerts", "rules", "create", "sandbox-token", "--condition", "needs_action"),
            *("--destination", "sandbox", "--recovery", "10s", "--channel", "hook"),
        )
        await tenaz(env, "alerts", "test", "hook")
        assert [b["type"] for b in receiver.bodies] == ["tenaz.alert.test"]

        submitted = await tenaz(
            env,
            *("submit", "--event-name", "Purchase", "--event-id", "pedido-2001"),
            *("--email", "cliente@example.com", "--sandbox-expired-token-attempts", "1"),
        )
        assert "sandbox: Pendente" in submitted
        async with asyncio.timeout(60):
            await until(lambda: len(receiver.bodies) >= 2, every=0.2)
        firing = receiver.bodies[1]
        assert firing["type"] == "tenaz.alert.firing", firing
        assert (firing["rule"], firing["destination"]) == ("sandbox-token", "sandbox")
        assert "access token" in firing["detail"] and "[credentials]" in firing["detail"]
        assert firing["text"].startswith("[Tenaz] ALERT sandbox-token: destination 'sandbox'")

        async with asyncio.timeout(90):
            await until(lambda: len(receiver.bodies) >= 3, every=0.2)
        resolved = receiver.bodies[2]
        assert resolved["type"] == "tenaz.alert.resolved", resolved
        assert (resolved["rule"], resolved["destination"]) == ("sandbox-token", "sandbox")
        shown = json.loads(await tenaz(env, "events", "show", submitted.split()[1], "--json"))
        [delivery] = shown["deliveries"]
        assert [a["outcome"] for a in delivery["attempts"]] == [
            "ATTEMPT_OUTCOME_EXTERNAL_PROBLEM",
            "ATTEMPT_OUTCOME_SUCCEEDED",
        ]
        history = await tenaz(env, "alerts", "history")
        assert "resolved" in history and "firing" in history
        assert receiver.bad_signatures == 0
        assert len(set(receiver.ids)) == 3  # once each: the test, the firing, the resolved
    finally:
        await stopped(server)
    await drain
