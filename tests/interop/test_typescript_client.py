"""The TypeScript client's own tests (clients/typescript/test, node's test runner) against a
real Tenaz server: this process serves, Node calls."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.interop.conftest import TYPESCRIPT, run

# Starts the client programs as subprocesses.
# The first test of a session builds its client (tsc, go build: up to 120 s each).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def test_the_typescript_client_passes_its_tests_against_a_real_server(
    typescript_build: Path, client_env: dict[str, str]
) -> None:
    node = shutil.which("node")
    assert node is not None
    tests = sorted((typescript_build / "test").glob("*.test.js"))
    assert tests, "no compiled TypeScript tests"

    finished = await run(
        [node, "--test", "--test-reporter=tap", *tests], cwd=TYPESCRIPT, env=client_env, seconds=45
    )

    assert finished.returncode == 0, finished.describe()
    # Every test ran and passed, however many the client's suite has today.
    counts = dict(re.findall(r"^# (pass|fail|skipped|cancelled) (\d+)$", finished.stdout, re.M))
    passed = int(counts.pop("pass", "0"))
    assert passed > 0, finished.describe()
    assert counts == {"fail": "0", "skipped": "0", "cancelled": "0"}, finished.describe()
