"""The README's walkthrough, as a new user runs it: `tenaz run` on an embedded
PostgreSQL, a key, a sandbox destination, an event that fails once and then
succeeds, and Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import httpx
import pytest

from tests.support import free_port, start_tenaz

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


async def tenaz(env: dict[str, str], *args: str, expect: int = 0) -> str:
    process = await start_tenaz(env, *args)
    out, err = await process.communicate()
    assert process.returncode == expect, err.decode()
    return out.decode() if expect == 0 else err.decode()


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
    server = await start_tenaz(env, "run", stdout=asyncio.subprocess.DEVNULL)
    assert server.stderr is not None
    try:
        async with asyncio.timeout(90):
            while b"tenaz.started" not in await server.stderr.readline():
                assert server.returncode is None
        drain = asyncio.create_task(server.stderr.read())
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
        if server.returncode is None:
            server.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            await server.wait()
    assert server.returncode == 0
    await drain
