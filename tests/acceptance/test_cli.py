"""The `tenaz` command line as operators run it: real subprocesses against the test
gRPC server (and its database for `keys`), reading their output line by line under
a time limit, never sleeping for a condition."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import ipaddress
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.protobuf.json_format import MessageToJson
from tenaz.client import TenazClient, make_event
from tenaz.v1 import events_pb2

from jobs.clock import FakeClock
from jobs.platforms.fake_meta import Failure, FakeMetaServer
from jobs.runtime import Runtime, open_runtime
from jobs.settings import Settings
from jobs.store import workspaces
from server.app import TenazServer, start_server
from tests.support import fire_due_retries, process_env, run_jobs

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

S = events_pb2
# Long enough for a cold Python start with grpc loaded, on a busy CI machine.
LINE_TIMEOUT = 20.0


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


class Running:
    """A CLI process whose output is read as it comes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def line(self, *, stderr: bool = False) -> str:
        stream = self.process.stderr if stderr else self.process.stdout
        assert stream is not None
        async with asyncio.timeout(LINE_TIMEOUT):
            raw = await stream.readline()
        assert raw, "the command ended before printing the line awaited"
        return raw.decode().rstrip("\n")

    async def line_containing(self, text: str, *, stderr: bool = False) -> str:
        while text not in (line := await self.line(stderr=stderr)):
            pass
        return line

    async def finish(self) -> Result:
        async with asyncio.timeout(LINE_TIMEOUT):
            out, err = await self.process.communicate()
        assert self.process.returncode is not None
        return Result(self.process.returncode, out.decode(), err.decode())


@dataclass
class Cli:
    env: dict[str, str]

    async def start(self, *args: str, **env: str) -> Running:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server.cli",
            *args,
            env=self.env | env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return Running(process)

    async def __call__(self, *args: str, expect: int = 0, **env: str) -> Result:
        result = await (await self.start(*args, **env)).finish()
        assert result.code == expect, f"exit {result.code}\n{result.out}\n{result.err}"
        assert "Traceback" not in result.err
        return result


@pytest.fixture
def cli(server: TenazServer, api_key: str, settings: Settings) -> Cli:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TENAZ_")}
    return Cli(
        env
        | {
            "TENAZ_SERVER": f"127.0.0.1:{server.port}",
            "TENAZ_API_KEY": api_key,
            **process_env(settings),
            "TENAZ_LOG_LEVEL": "WARNING",
        }
    )


def event_line(clock: FakeClock, event_id: str, email: str = "cliente@example.com") -> str:
    event = make_event(
        event_id=event_id,
        event_name="Purchase",
        event_time=clock.now(),
        email=email,
        value=197.0,
        currency="BRL",
    )
    return MessageToJson(event, indent=None)


async def submit(client: TenazClient, clock: FakeClock, event_id: str) -> events_pb2.StoredEvent:
    response = await client.submit_event(
        make_event(
            event_id=event_id, event_name="Purchase", event_time=clock.now(), email="a@example.com"
        )
    )
    return response.event


async def statuses(client: TenazClient, event_ids: list[str]) -> dict[str, int]:
    page = await client.list_events(event_ids=event_ids, page_size=500)
    return {e.event.event_id: e.deliveries[0].status for e in page.events}


# Submitting


async def test_submit_a_jsonl_file_in_batches_then_again_as_duplicates(
    cli: Cli, client: TenazClient, clock: FakeClock, meta: str, tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(event_line(clock, f"pedido-{i}") for i in range(7)) + "\n")

    first = await cli("submit", "--file", str(path), "--batch-size", "3")
    assert first.out.strip() == "submitted 7 events in 3 batches: 7 accepted, 0 duplicates"
    stored = await statuses(client, [f"pedido-{i}" for i in range(7)])
    assert set(stored.values()) == {S.DELIVERY_STATUS_PENDING} and len(stored) == 7

    again = await cli("submit", "--file", str(path), "--json")
    summary = again.json()
    assert isinstance(summary, dict)
    assert (summary["accepted"], summary["duplicates"], summary["batches"]) == (0, 7, 1)
    assert [r["line"] for r in summary["results"]] == list(range(1, 8))


async def test_a_bad_line_is_named_by_its_line_number_and_nothing_is_stored(
    cli: Cli, client: TenazClient, clock: FakeClock, meta: str, tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    lines = ["", event_line(clock, "ok-1"), event_line(clock, "bad", email="not-an-email")]
    path.write_text("\n".join([*lines, event_line(clock, "ok-2")]) + "\n")

    refused = await cli("submit", "--file", str(path), expect=1)
    assert "tenaz: INVALID_ARGUMENT: batch 1 of 1 (lines 2-4) was refused" in refused.err
    assert "  line 3: user_data.email: " in refused.err
    assert "stored: nothing" in refused.err
    assert await statuses(client, ["ok-1", "bad", "ok-2"]) == {}

    # Unreadable JSON never reaches the server.
    path.write_text(event_line(clock, "ok-1") + "\n{oops\n")
    unreadable = await cli("submit", "--file", str(path), expect=1)
    assert "line 2: not valid JSON" in unreadable.err
    assert "nothing was sent" in unreadable.err


async def test_a_refused_batch_says_which_batches_were_stored(
    cli: Cli, client: TenazClient, clock: FakeClock, meta: str, tmp_path: Path
) -> None:
    ids = [f"o-{i}" for i in range(7)]
    lines = [event_line(clock, event_id) for event_id in ids]
    lines[4] = event_line(clock, ids[4], email="nobody")
    path = tmp_path / "events.json"
    path.write_text("[\n" + ",\n".join(lines) + "\n]\n")  # line n+1 holds event n

    refused = await cli("submit", "--file", str(path), "--batch-size", "3", expect=1)
    assert "batch 2 of 3 (lines 5-7) was refused" in refused.err
    assert "line 6: user_data.email:" in refused.err
    assert "stored: batch 1 (lines 2-4, 3 events); batch 2 was not stored" in refused.err
    assert "not sent: batch 3 (line 8)" in refused.err
    assert sorted(await statuses(client, ids)) == ids[:3]


async def test_a_file_over_the_rate_limit_waits_as_the_server_asks_and_completes(
    cli: Cli,
    settings: Settings,
    clock: FakeClock,
    api_key: str,
    meta: str,
    tmp_path: Path,
) -> None:
    # The second batch finds the bucket short unless 1.25 s pass between the two calls,
    # and waits at most that long for it.
    limited = dataclasses.replace(settings, submit_rate_limit=4.0, submit_burst=5)
    async with open_runtime(limited, settings.database_url, clock=clock) as runtime:
        server = await start_server(runtime, "127.0.0.1:0")
        try:
            path = tmp_path / "events.jsonl"
            path.write_text("\n".join(event_line(clock, f"r-{i}") for i in range(10)))
            result = await cli(
                "submit",
                "--file",
                str(path),
                "--batch-size",
                "5",
                TENAZ_SERVER=f"127.0.0.1:{server.port}",
            )
        finally:
            await server.stop(grace=0.5)
    assert result.out.strip() == "submitted 10 events in 2 batches: 10 accepted, 0 duplicates"
    assert "over the submission rate limit: waiting" in result.err


# Reading events


async def test_events_list_and_show_in_text_json_and_english(
    cli: Cli,
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    meta: str,
) -> None:
    fake_meta.fake.fail_next(1, Failure.http_503())
    waiting = await submit(client, clock, "pedido-1")
    await run_jobs(runtime)
    done = await submit(client, clock, "pedido-2")
    await run_jobs(runtime)

    # Read-only commands, run side by side: each is a whole Python start.
    listing, english, filtered, first_page, shown, shown_en, as_json = await asyncio.gather(
        cli("events", "list"),
        cli("events", "list", "--lang", "en"),
        cli("events", "list", "--status", "esperando retentativa", "--json"),
        cli("events", "list", "--limit", "1"),
        cli("events", "show", waiting.id),
        cli("events", "show", waiting.id, "--lang", "en"),
        cli("events", "show", done.id, "--json"),
    )
    rows = listing.out.splitlines()
    assert rows[0].split() == ["id", "received", "event", "event", "ID", "deliveries"]
    assert rows[1].startswith(done.id) and rows[1].endswith("meta: Sucesso")
    assert "pedido-1" in rows[2] and rows[2].endswith("meta: Esperando Retentativa")
    assert "meta: Waiting for retry" in english.out and "meta: Succeeded" in english.out

    data = filtered.json()
    assert isinstance(data, dict)
    assert [e["event"]["event_id"] for e in data["events"]] == ["pedido-1"]
    assert data["events"][0]["deliveries"][0]["status"] == "DELIVERY_STATUS_WAITING_RETRY"

    assert "pedido-2" in first_page.out and "pedido-1" not in first_page.out
    token = first_page.err.split("--page-token ")[1].strip()
    second_page = await cli("events", "list", "--limit", "1", "--page-token", token)
    assert "pedido-1" in second_page.out and not second_page.err

    assert f"event {waiting.id}  Purchase  pedido-1" in shown.out
    assert "plataforma: Meta" in shown.out
    assert "meta: Esperando Retentativa" in shown.out
    assert "tentativas: 1" in shown.out and "prazo: 20" in shown.out
    assert "próxima tentativa: 20" in shown.out  # a time, not a dash
    [attempt] = [row for row in shown.out.splitlines() if row.strip().startswith("1  automatic")]
    assert "problema externo" in attempt and "503" in attempt
    assert "meta: Waiting for retry" in shown_en.out and "external problem" in shown_en.out
    event = as_json.json()
    assert isinstance(event, dict)
    [delivery] = event["deliveries"]
    assert delivery["attempts"][0]["outcome"] == "ATTEMPT_OUTCOME_SUCCEEDED"
    assert delivery["attempts"][0]["http_status"] == 200


async def test_expected_failures_are_one_line_and_usage_errors_exit_2(cli: Cli, meta: str) -> None:
    missing, refused, bad_status, no_target = await asyncio.gather(
        cli("events", "show", "424242", expect=1),
        cli("events", "list", expect=1, TENAZ_API_KEY="tz_not-a-key"),
        cli("events", "list", "--status", "terminado", expect=2),
        cli("retry", expect=2),
    )
    assert missing.err.strip() == "tenaz: NOT_FOUND: no event with id 424242"
    assert refused.err.startswith("tenaz: UNAUTHENTICATED: ")
    assert "'terminado' is not a delivery status" in bad_status.err
    assert "retry: error: name the deliveries" in no_target.err


async def test_follow_streams_each_change_until_every_delivery_is_final(
    cli: Cli,
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    meta: str,
) -> None:
    fake_meta.fake.fail_next(1, Failure.http_503())
    stored = await submit(client, clock, "pedido-1001")
    follow = await cli.start("events", "show", stored.id, "--follow")

    assert await follow.line() == f"event {stored.id}  Purchase  pedido-1001"
    assert (await follow.line()).endswith("  meta: Pendente")
    await run_jobs(runtime)
    assert (await follow.line()).endswith("  meta: Enviando (tentativas: 1)")
    waiting = await follow.line()
    assert "meta: Esperando Retentativa (tentativas: 1) - " in waiting
    assert " - próxima tentativa 20" in waiting
    clock.advance(60 * 31)
    assert await fire_due_retries(runtime) == 1
    assert (await follow.line()).endswith("  meta: Reenviando (tentativas: 2)")
    assert (await follow.line()).endswith("  meta: Sucesso (tentativas: 2)")
    result = await follow.finish()
    assert (result.code, result.out, result.err) == (0, "", "")


# Watching


async def test_watch_json_sees_changes_live_and_resumes_after_a_sequence(
    cli: Cli, client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    await submit(client, clock, "a")
    await run_jobs(runtime)

    watch = await cli.start("watch", "--json", "--after", "0", "--max-changes", "6")
    seen = [json.loads(await watch.line()) for _ in range(3)]
    assert [(c["client_event_id"], c["to_status"]) for c in seen] == [
        ("a", "DELIVERY_STATUS_PENDING"),
        ("a", "DELIVERY_STATUS_SENDING"),
        ("a", "DELIVERY_STATUS_SUCCEEDED"),
    ]
    await submit(client, clock, "b")  # while the command watches
    seen.append(json.loads(await watch.line()))
    await run_jobs(runtime)
    seen += [json.loads(await watch.line()) for _ in range(2)]
    assert (await watch.finish()).code == 0
    assert [c["client_event_id"] for c in seen[3:]] == ["b", "b", "b"]
    sequences = [int(c["sequence"]) for c in seen]
    assert sequences == sorted(set(sequences))

    resumed = await cli("watch", "--json", "--after", str(sequences[3]), "--max-changes", "2")
    assert [int(json.loads(line)["sequence"]) for line in resumed.out.splitlines()] == sequences[4:]
    text = await cli("watch", "--after", str(sequences[4]), "--max-changes", "1", "--lang", "en")
    assert text.out.strip().endswith("Purchase b  meta: Succeeded (attempts: 1)")


async def test_watch_reconnects_after_the_server_restarts_with_no_gap_and_no_repeat(
    cli: Cli,
    client: TenazClient,
    server: TenazServer,
    runtime: Runtime,
    clock: FakeClock,
    meta: str,
) -> None:
    await submit(client, clock, "before")
    watch = await cli.start("watch", "--json", "--after", "0", "--max-changes", "3")
    first = json.loads(await watch.line())
    assert (first["client_event_id"], first["to_status"]) == ("before", "DELIVERY_STATUS_PENDING")

    await server.stop(grace=0.5)
    await watch.line_containing("tenaz: reconnecting", stderr=True)
    await run_jobs(runtime)  # SENDING and SUCCEEDED happen while no server is up
    restarted = await start_server(runtime, f"127.0.0.1:{server.port}")
    try:
        rest = [json.loads(await watch.line()) for _ in range(2)]
        result = await watch.finish()
    finally:
        await restarted.stop(grace=0.5)
    assert result.code == 0
    assert [c["to_status"] for c in rest] == [
        "DELIVERY_STATUS_SENDING",
        "DELIVERY_STATUS_SUCCEEDED",
    ]
    # Every change of the log, once each and in order (its numbers skip: they come in blocks).
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT seq FROM tenaz_status_changes ORDER BY seq")
        logged = [int(row[0]) for row in await cur.fetchall()]
    assert [int(c["sequence"]) for c in [first, *rest]] == logged


# Acting on deliveries


async def run_operation(cli: Cli, runtime: Runtime, *args: str) -> Result:
    """Start a bulk operation, run its background job once it is started, and finish."""
    running = await cli.start(*args)
    started = await running.line_containing("operation", stderr=True)
    await run_jobs(runtime)
    result = await running.finish()
    assert result.code == 0, result.err
    return Result(result.code, result.out, started + "\n" + result.err)


async def test_cancel_replay_and_retry_by_filter_follow_the_operation_to_the_end(
    cli: Cli,
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    meta: str,
) -> None:
    ids = ["p1", "p2", "p3"]
    fake_meta.fake.set_down(True)
    for event_id in ids:
        await submit(client, clock, event_id)
    await run_jobs(runtime)
    assert set((await statuses(client, ids)).values()) == {S.DELIVERY_STATUS_WAITING_RETRY}

    cancel = await run_operation(
        cli, runtime, "cancel", "--destination", "meta", "--status", "Esperando Retentativa"
    )
    assert cancel.err.startswith("cancel operation ") and "3 deliveries match" in cancel.err
    assert cancel.out.strip().endswith("done: 3 changed, 0 skipped (of 3)")
    assert set((await statuses(client, ids)).values()) == {S.DELIVERY_STATUS_FAILED}

    fake_meta.fake.set_down(False)
    replay = await run_operation(cli, runtime, "replay", "--destination", "meta", "--since", "1h")
    assert replay.out.strip().startswith("retry ")
    assert replay.out.strip().endswith("done: 3 changed, 0 skipped (of 3)")
    await run_jobs(runtime)  # the deliveries the replay made due
    assert set((await statuses(client, ids)).values()) == {S.DELIVERY_STATUS_SUCCEEDED}

    again = await run_operation(cli, runtime, "retry", "--status", "sucesso", "--json")
    operation = again.json()
    assert isinstance(operation, dict)
    assert operation["state"] == "OPERATION_STATE_DONE"
    assert (operation["changed"], operation["skipped"]) == ("0", "3")  # int64 is a JSON string

    [stored] = (await client.list_events(event_ids=["p1"])).events
    by_id = await cli("retry", stored.deliveries[0].id)
    assert not by_id.err  # done in the call: nothing to follow
    assert by_id.out.strip().startswith("retry ")
    assert "0 changed, 1 skipped (of 1); skipped deliveries were in progress" in by_id.out
    mixed = await cli("cancel", stored.deliveries[0].id, "--destination", "meta", expect=2)
    assert "not both" in mixed.err


# Destinations, keys, stats


async def test_destinations_list_update_and_delete(
    cli: Cli, client: TenazClient, runtime: Runtime, clock: FakeClock, meta: str
) -> None:
    listing = (await cli("destinations", "list")).out.splitlines()
    assert listing[0].split()[:4] == ["name", "platform", "state", "health"]
    assert listing[1].split()[:4] == ["meta", "meta", "enabled", "Saudável"]
    assert "pixel id 111" in listing[1]

    await cli("destinations", "update", "meta", "--disable", "--retry-interval", "10s")
    data = (await cli("destinations", "list", "--json")).json()
    assert isinstance(data, dict)
    [found] = data["destinations"]
    assert found.get("enabled", False) is False
    assert found["retry_interval"] == "10s"
    assert found["health"]["health"] == "DESTINATION_HEALTH_DISABLED"
    assert "access_token" not in found["meta"]  # write-only: not even empty
    assert " Disabled " in (await cli("destinations", "list", "--lang", "en")).out

    await cli("destinations", "update", "meta", "--enable", "--retry-interval", "default")
    enabled = await client.get_destination("meta")
    assert enabled.enabled and not enabled.HasField("retry_interval")

    # The token comes from the environment (or a prompt), never from an option value.
    no_token = await cli("destinations", "update", "meta", "--new-token", expect=1)
    assert "TENAZ_META_ACCESS_TOKEN" in no_token.err
    await cli("destinations", "update", "meta", "--new-token", TENAZ_META_ACCESS_TOKEN="good-token")
    # A token goes only where it was given for: moving the destination needs it again.
    moved = await cli(
        "destinations", "update", "meta", "--base-url", "https://graph.facebook.com", expect=2
    )
    assert "--base-url need --new-token" in moved.err
    await cli(
        "destinations",
        "update",
        "meta",
        "--pixel-id",
        "222",
        "--new-token",
        TENAZ_META_ACCESS_TOKEN="good-token",
    )
    assert (await client.get_destination("meta")).meta.pixel_id == "222"

    await cli("destinations", "create-sandbox", "sandbox", "--failure-rate", "0.2")
    wrong_kind = await cli("destinations", "update", "sandbox", "--test-event-code", "T1", expect=1)
    assert wrong_kind.err.startswith("tenaz: INVALID_ARGUMENT: ")
    assert "does not apply to a sandbox destination" in wrong_kind.err
    await cli("destinations", "delete", "sandbox")
    assert [d.name for d in await client.list_destinations()] == ["meta"]


async def test_deleting_a_destination_shows_its_unfinished_deliveries_failed_and_why(
    cli: Cli, client: TenazClient, clock: FakeClock, meta: str
) -> None:
    pending = await submit(client, clock, "pedido-1")  # not sent yet: no worker ran
    deleted = await cli("destinations", "delete", meta)
    assert "unfinished deliveries are now Falha (destino excluído)" in deleted.out

    shown, shown_en, listing, listing_en = await asyncio.gather(
        cli("events", "show", pending.id),
        cli("events", "show", pending.id, "--lang", "en"),
        cli("events", "list"),
        cli("events", "list", "--lang", "en"),
    )
    assert "meta: Falha (destino excluído)" in shown.out
    [attempt] = [row for row in shown.out.splitlines() if row.strip().startswith("1  automatic")]
    assert "interrompido" in attempt and "destination was deleted" in attempt
    assert "meta: Failed (destination deleted)" in shown_en.out
    assert listing.out.splitlines()[1].endswith("meta: Falha (destino excluído)")
    assert listing_en.out.splitlines()[1].endswith("meta: Failed (destination deleted)")


async def test_keys_create_list_and_revoke_and_a_revoked_key_is_refused(
    cli: Cli, runtime: Runtime
) -> None:
    created, other = await asyncio.gather(
        cli("keys", "create", "--workspace", "loja", "--name", "checkout"),
        cli("keys", "create", "--workspace", "loja"),
    )
    secret, spare = created.out.strip(), other.out.strip()
    assert secret.startswith("tz_") and "shown only this once" in created.err

    listed, used = await asyncio.gather(
        cli("keys", "list", "--workspace", "loja"),
        cli("destinations", "list", TENAZ_API_KEY=secret),
    )
    assert secret[:9] in listed.out and spare[:9] in listed.out and "checkout" in listed.out
    assert secret not in listed.out and spare not in listed.out
    # A new workspace's key works at once; it sees none of another workspace's destinations.
    assert "no destinations yet" in used.err

    # Another live key showing the same prefix (unlikely, not impossible): never a guess.
    async with runtime.pool.connection() as conn:
        elsewhere = await workspaces.ensure_workspace(conn, "outra")
        await workspaces.insert_api_key(
            conn,
            workspace_id=elsewhere.id,
            name="twin",
            key_hash=bytes(32),
            key_prefix=spare[:9],
            scope="submit",
        )
    ambiguous, too_short = await asyncio.gather(
        cli("keys", "revoke", spare[:9], expect=1),
        cli("keys", "revoke", "tz_ab", expect=1),
    )
    assert (
        "2 live keys start with" in ambiguous.err and "(workspaces: loja, outra)" in ambiguous.err
    )
    assert "tz_ and 6 characters" in too_short.err

    revoked = await cli("keys", "revoke", spare[:9], "--workspace", "loja")
    assert revoked.out.strip() == f"revoked {spare[:9]} of workspace 'loja'"
    refused, twice, as_json = await asyncio.gather(
        cli("destinations", "list", expect=1, TENAZ_API_KEY=spare),
        cli("keys", "revoke", spare[:9], "--workspace", "loja", expect=1),
        cli("keys", "list", "--json"),
    )
    assert refused.err.startswith("tenaz: UNAUTHENTICATED: ")
    assert "already revoked" in twice.err
    keys = as_json.json()
    assert isinstance(keys, list)
    by_key = {(k["prefix"], k["workspace"]): k for k in keys}
    assert by_key[spare[:9], "loja"]["revoked_at"] is not None
    assert by_key[spare[:9], "outra"]["revoked_at"] is None
    assert by_key[secret[:9], "loja"]["revoked_at"] is None
    assert all(
        set(k) == {"prefix", "workspace", "name", "scope", "created_at", "revoked_at"} for k in keys
    )


async def test_keys_have_a_scope_and_a_submit_key_cannot_manage(cli: Cli) -> None:
    submit_key, admin_key, wrong = await asyncio.gather(
        cli("keys", "create", "--workspace", "loja"),
        cli("keys", "create", "--workspace", "loja", "--scope", "admin"),
        cli("keys", "create", "--workspace", "loja", "--scope", "root", expect=2),
    )
    assert "submit API key for workspace 'loja'" in submit_key.err
    assert "admin API key for workspace 'loja'" in admin_key.err
    assert "invalid choice: 'root'" in wrong.err
    submit, admin = submit_key.out.strip(), admin_key.out.strip()

    pt, en, as_json = await asyncio.gather(
        cli("keys", "list", "--workspace", "loja"),
        cli("keys", "list", "--workspace", "loja", "--lang", "en"),
        cli("keys", "list", "--workspace", "loja", "--json"),
    )
    assert pt.out.splitlines()[0].split()[:4] == ["prefix", "workspace", "name", "scope"]
    # The keys have no name: a row's third word is its scope.
    rows = {line.split()[0]: line.split()[2] for line in pt.out.splitlines()[1:]}
    assert rows == {submit[:9]: "envio", admin[:9]: "administração"}
    rows = {line.split()[0]: line.split()[2] for line in en.out.splitlines()[1:]}
    assert rows == {submit[:9]: "submit", admin[:9]: "admin"}
    listed = as_json.json()
    assert isinstance(listed, list)
    assert {k["prefix"]: k["scope"] for k in listed} == {submit[:9]: "submit", admin[:9]: "admin"}

    refused, _ = await asyncio.gather(
        cli("destinations", "create-sandbox", "sandbox", expect=1, TENAZ_API_KEY=submit),
        cli("destinations", "create-sandbox", "sandbox", TENAZ_API_KEY=admin),
    )
    assert refused.err.splitlines() == [
        "tenaz: PERMISSION_DENIED: this API key has scope submit;"
        " CreateDestination needs an admin key",
        "hint: use an admin key (tenaz keys create --scope admin)",
    ]
    assert "sandbox" in (await cli("destinations", "list", TENAZ_API_KEY=submit)).out


async def test_stats_count_by_status_and_destination(
    cli: Cli,
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fake_meta: FakeMetaServer,
    meta: str,
) -> None:
    fake_meta.fake.fail_next(1, Failure.graph_error(400, 100, "Invalid parameter"))
    await submit(client, clock, "rejected")
    await run_jobs(runtime)
    await submit(client, clock, "accepted")
    await run_jobs(runtime)
    clock.advance(60)  # the window ends at the server's now, and excludes it

    lines = (await cli("stats")).out.splitlines()
    assert lines[1].split() == [
        "destination",
        "Pendente",
        "Enviando",
        "Esperando",
        "Retentativa",
        "Reenviando",
        "Sucesso",
        "Falha",
        "total",
    ]
    assert lines[2].split() == ["meta", "0", "0", "0", "0", "1", "1", "2"]
    assert "success rate: 50.0%" in lines
    data = (await cli("stats", "--json")).json()
    assert isinstance(data, dict)
    assert data["success_rate"] == 0.5


# TLS


def certificate(
    name: str, key: ec.EllipticCurvePrivateKey, signer: tuple[x509.Name, ec.EllipticCurvePrivateKey]
) -> bytes:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(signer[0])
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
    )
    if signer[1] is key:  # the CA signs itself
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(signer[1], hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


async def test_mutual_tls_with_a_ca_and_a_client_certificate(
    cli: Cli, settings: Settings, clock: FakeClock, api_key: str, tmp_path: Path
) -> None:
    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenaz test CA")])
    files = {
        "ca.pem": certificate("Tenaz test CA", ca_key, (ca_name, ca_key)),
        "server.pem": certificate("localhost", server_key, (ca_name, ca_key)),
        "server.key": private_pem(server_key),
        "client.pem": certificate("operator", client_key, (ca_name, ca_key)),
        "client.key": private_pem(client_key),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    secured = dataclasses.replace(
        settings,
        tls_cert=tmp_path / "server.pem",
        tls_key=tmp_path / "server.key",
        tls_client_ca=tmp_path / "ca.pem",
    )
    async with open_runtime(secured, settings.database_url, clock=clock) as runtime:
        server = await start_server(runtime, "127.0.0.1:0")
        try:
            address = f"localhost:{server.port}"
            tls = ["--server", address, "--tls-ca", str(tmp_path / "ca.pem")]
            client_pair = ["--tls-cert", str(tmp_path / "client.pem")]
            client_pair += ["--tls-key", str(tmp_path / "client.key")]
            listed = await cli("destinations", "list", *tls, *client_pair)
            assert "no destinations yet" in listed.err
            anonymous = await cli("destinations", "list", *tls, expect=1)
            plaintext = await cli("destinations", "list", "--server", address, expect=1)
        finally:
            await server.stop(grace=0.5)
    assert anonymous.err.startswith("tenaz: UNAVAILABLE: ")
    assert plaintext.err.startswith("tenaz: UNAVAILABLE: ")
    half = await cli("destinations", "list", "--tls-cert", "client.pem", expect=2)
    assert "--tls-cert and --tls-key go together" in half.err
