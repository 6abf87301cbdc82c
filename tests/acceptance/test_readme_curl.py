"""The README's plain-HTTP example, run as written by the real `curl` (`make curl` installs
it): the commands of its section, with only the port changed to the test's, submit an event
that a worker then delivers to the fake Meta, and list it back."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime
from server.ingest import IngestServer
from tests.support import run_jobs

README = Path(__file__).parents[2] / "README.md"
SECTION = "## Over plain HTTP (curl, n8n, Make): Connect JSON"
DEFAULT_URL = "http://127.0.0.1:8081"


def readme_commands() -> list[str]:
    """The shell commands of the README's plain-HTTP section, one per command (a command
    runs from its `curl` to the line before the next one, its heredoc included)."""
    text = README.read_text()
    assert SECTION in text, "the README's plain-HTTP section was renamed or removed"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    commands = re.split(r"\n(?=curl )", block.strip())
    assert all(c.startswith("curl ") for c in commands), commands
    return commands


async def run(command: str, env: dict[str, str]) -> Any:
    """`command` as a user's shell runs it; what curl printed, as JSON."""
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        command,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, (out + err).decode()
    return json.loads(out)


async def test_the_readmes_curl_commands_submit_an_event_that_reaches_meta(
    runtime: Runtime,
    ingest: IngestServer,
    submit_api_key: str,
    meta: str,
    fake_meta: FakeMetaServer,
) -> None:
    assert shutil.which("curl"), "curl is missing: `make curl` installs it"
    submit, listing = readme_commands()
    assert DEFAULT_URL in submit and DEFAULT_URL in listing
    env = {"PATH": os.environ["PATH"], "TENAZ_API_KEY": submit_api_key}

    submitted = await run(submit.replace(DEFAULT_URL, ingest.url), env)

    event = submitted["event"]
    assert event["event"]["eventId"] == "pedido-1004"
    [delivery] = event["deliveries"]
    assert (delivery["destination"], delivery["status"]) == (meta, "DELIVERY_STATUS_PENDING")

    await run_jobs(runtime)
    [request] = fake_meta.fake.accepted
    [sent] = request.events
    assert (sent["event_name"], sent["event_id"]) == ("Purchase", "pedido-1004")
    assert sent["user_data"]["em"] == hashlib.sha256(b"cliente@example.com").hexdigest()
    assert sent["custom_data"] == {"value": 197.0, "currency": "BRL"}

    listed = await run(listing.replace(DEFAULT_URL, ingest.url), env)
    [shown] = listed["events"]
    assert shown["id"] == event["id"]
    assert shown["deliveries"][0]["status"] == "DELIVERY_STATUS_SUCCEEDED"
