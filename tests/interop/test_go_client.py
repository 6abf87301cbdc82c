"""The Go client (Debian's Go and grpc-go, GOPATH mode) against a real Tenaz server: its
smoke test submits an event, reads it back, watches its delivery, and meets
UNAUTHENTICATED with a bad key; the example program runs too."""

from __future__ import annotations

import re

import pytest

from jobs.runtime import Runtime
from tests.interop.conftest import GO_CLIENT, GoBuild, run, start
from tests.support import run_jobs

# Starts the client programs as subprocesses.
# The first test of a session builds its client (tsc, go build: up to 120 s each).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def test_the_go_smoke_test_submits_reads_and_watches_a_delivery(
    go_build: GoBuild, client_env: dict[str, str], runtime: Runtime
) -> None:
    smoke = await start(
        [go_build.smoke_test, "-test.v", "-test.timeout=40s"], cwd=GO_CLIENT, env=client_env
    )
    submitted = await smoke.wait_for_line("submitted ", seconds=30)
    await run_jobs(runtime)  # deliver it, so the watcher sees SENDING and SUCCEEDED
    finished = await smoke.finish(seconds=30)

    assert finished.returncode == 0, finished.describe()
    # Every Go test passed, however many there are, and the two whose output is read below ran.
    results = {
        name: result for result, name in re.findall(r"^--- (\w+): (\w+)", finished.stdout, re.M)
    }
    assert set(results.values()) == {"PASS"}, finished.describe()
    assert {"TestABadKeyIsUnauthenticated", "TestSubmitGetAndWatchADelivery"} <= set(results)
    assert "unauthenticated: UNAUTHENTICATED: " in finished.stdout
    assert re.findall(r"^change \d+ (\w+) -> (\w+)$", finished.stdout, re.M) == [
        ("UNSPECIFIED", "PENDING"),
        ("PENDING", "SENDING"),
        ("SENDING", "SUCCEEDED"),
    ], finished.describe()
    assert submitted.split()[1].isdigit()


async def test_the_go_example_runs_against_a_real_server(
    go_build: GoBuild, client_env: dict[str, str]
) -> None:
    env = {
        **client_env,
        "TENAZ_SERVER": client_env["TENAZ_TEST_ADDRESS"],
        "TENAZ_API_KEY": client_env["TENAZ_TEST_API_KEY"],
    }
    finished = await run([go_build.example], cwd=GO_CLIENT, env=env, seconds=30)

    assert finished.returncode == 0, finished.describe()
    assert re.search(r"^event \d+ \(pedido-\d+\)$", finished.stdout, re.M), finished.describe()
    assert "  sandbox: DELIVERY_STATUS_PENDING" in finished.stdout
    assert re.search(
        r"#\d+ DELIVERY_STATUS_UNSPECIFIED -> DELIVERY_STATUS_PENDING", finished.stdout
    )
