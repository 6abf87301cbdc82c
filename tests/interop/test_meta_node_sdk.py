"""Meta's own Node.js SDK (facebook-nodejs-business-sdk, installed in clients/tools by
clients/setup-tools.sh) against Tenaz's Conversions API endpoint over real HTTP: only its
Graph URL differs from sending to Meta. Its answers and errors read as Meta's, and the test
event reaches the fake Meta through a worker, hashed, with its test_event_code."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from jobs.clock import FakeClock
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime
from server.ingest import IngestServer
from tests.interop.conftest import REPO, SETUP, _build, run
from tests.support import run_jobs

# Starts the SDK as a subprocess.
# The first test of a session builds its client (tsc, go build: up to 120 s each).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SCRIPT = Path(__file__).with_name("meta_node_sdk.js")
NODE_MODULES = REPO / "clients" / "tools" / "node_modules"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="session")
def node() -> str:
    found = shutil.which("node")
    if found is None or shutil.which("npm") is None:
        pytest.fail("Node.js 20+ and npm are needed for Meta's Node.js SDK")
    _build(["bash", REPO / SETUP, "node"], cwd=REPO)
    return found


async def test_the_node_sdk_sends_through_tenaz_and_reads_its_errors_as_metas(
    node: str,
    runtime: Runtime,
    ingest: IngestServer,
    submit_api_key: str,
    fake_meta: FakeMetaServer,
    meta: str,
    clock: FakeClock,
) -> None:
    env = {
        **os.environ,
        "NODE_PATH": str(NODE_MODULES),
        "TENAZ_INGEST_URL": ingest.url,
        "TENAZ_TEST_API_KEY": submit_api_key,
        "TENAZ_TEST_PIXEL": "111",
        "TENAZ_TEST_EVENT_TIME": str(int(clock.now().timestamp())),
    }

    finished = await run([node, SCRIPT], cwd=REPO, env=env, seconds=60)

    assert finished.returncode == 0, finished.describe()
    results = {r["name"]: r for r in map(json.loads, finished.stdout.splitlines())}
    sent = results["test event"]
    assert sent["ok"] is True and sent["events_received"] == 1, sent
    assert sent["messages"] == [] and sent["fbtrace_id"]

    unknown = results["unknown pixel"]
    assert (unknown["error_name"], unknown["status"]) == ("FacebookRequestError", 400)
    assert (unknown["error"]["code"], unknown["error"]["error_subcode"]) == (100, 33)
    assert unknown["error"]["type"] == "GraphMethodException"

    bad_token = results["bad token"]
    assert (bad_token["status"], bad_token["error"]["code"]) == (400, 190)
    assert bad_token["error"]["type"] == "OAuthException"

    invalid = results["invalid data"]
    assert (invalid["status"], invalid["error"]["code"]) == (400, 100)
    assert invalid["error"]["error_user_msg"].startswith("data[1].custom_data.value:")
    assert invalid["error"]["fbtrace_id"]

    too_many = results["too many"]
    assert (too_many["status"], too_many["error"]["code"]) == (400, 100)
    assert too_many["error"]["message"] == "(#100) param data must have at most 1000 events."

    await run_jobs(runtime)
    [request] = fake_meta.fake.accepted
    [event] = request.events
    assert request.test_event_code == "TESTNODE"
    assert event["event_id"] == "node-1"
    assert event["user_data"] == {
        "em": sha256("cliente@example.com"),
        "ph": sha256("5511987654321"),
        "client_ip_address": "203.0.113.7",
        "client_user_agent": "Mozilla/5.0 (test)",
    }
    assert event["custom_data"]["currency"] == "BRL"
    assert event["custom_data"]["contents"] == [{"id": "sku-1", "quantity": 2, "item_price": 49.5}]
