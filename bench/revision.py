"""An older revision of Tenaz, checked out beside the working tree, to measure against.

The benchmark compares Tenaz now with Tenaz at a revision ("before") in the same run, because
this machine's speed varies between runs. The revision's files come from `git archive` of the
repository the benchmark runs in (no worktree to clean up, nothing written to the repository);
its processes run with this virtualenv's Python but with the checkout as their working
directory: `python -m` puts the working directory first on sys.path, ahead of the editable
install of the working tree, so `server` and `jobs` are the old ones, and PYTHONPATH puts the
old generated gRPC modules ahead of the new. Everything done to its database goes through the
old revision's own command line, so the old code runs against the old schema. Both claims are
checked: where the modules were imported from, and which migrations the schema has.

The old revision's third-party dependencies must be installed here at the versions it pins:
they are checked against its pyproject.toml before anything runs.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import psycopg

from bench.processes import REPO_ROOT, BenchError, child_env

DEFAULT_BEFORE = "e849f99"
CLI_TIMEOUT = 120.0
# "name[extras]==version" (a pin) or just a name, as in pyproject.toml's dependencies.
_REQUIREMENT = re.compile(
    r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:==\s*([^\s;,]+))?"
)


def _git(*args: str) -> bytes:
    """git's output in the repository the benchmark runs in; BenchError if git fails."""
    try:
        return subprocess.run(  # noqa: S603 - git from PATH, our own arguments
            ["git", *args],  # noqa: S607
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
            timeout=120,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        stderr = getattr(exc, "stderr", b"") or b""
        raise BenchError(
            f"git {args[0]}: {stderr.decode(errors='replace').strip() or exc}"
        ) from None


@dataclass(frozen=True)
class Checkout:
    """An older revision's files, and how to run its code."""

    revision: str  # the abbreviated commit id, as reports name it
    path: Path

    def env(self, extra: Mapping[str, str]) -> dict[str, str]:
        """A child's environment (`child_env`) that imports the old generated gRPC modules."""
        env = child_env(extra)
        generated = self.path / "clients" / "python" / "src"
        if generated.is_dir():
            env["PYTHONPATH"] = ":".join(p for p in (str(generated), env.get("PYTHONPATH")) if p)
        return env

    async def cli(self, args: Sequence[str], extra: Mapping[str, str]) -> str:
        """Run the old revision's `tenaz ARGS` (`python -m server.cli`); its stdout."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "server.cli", *args),
            cwd=self.path,
            env=self.env(extra),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(CLI_TIMEOUT):
                stdout, stderr = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise BenchError(
                f"tenaz {args[0]} at {self.revision} took over {CLI_TIMEOUT:.0f} s"
            ) from None
        if process.returncode != 0:
            raise BenchError(
                f"tenaz {' '.join(args[:2])} at {self.revision} exited with status"
                f" {process.returncode}: {stderr.decode(errors='replace').strip()[-2000:]}"
            )
        return stdout.decode()

    def migrations(self) -> set[str]:
        """The names of this revision's own SQL migrations (jobs/migrations/*.sql)."""
        return {p.stem for p in (self.path / "jobs" / "migrations").glob("*.sql")}

    async def check_schema(self, database_url: str) -> None:
        """The database has exactly this revision's migrations: its own code migrated it."""
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            cursor = await conn.execute("SELECT name FROM tenaz_schema_migrations")
            # Besides procrastinate's schema, migration 0001 (jobs/migrate.py).
            applied = {
                str(name)
                for (name,) in await cursor.fetchall()
                if not str(name).startswith("0001_procrastinate")
            }
        if applied != self.migrations():
            raise BenchError(
                f"the database migrated for Tenaz {self.revision} has the migrations"
                f" {sorted(applied)}, not the revision's {sorted(self.migrations())}"
            )


def check_out(revision: str, directory: Path) -> Checkout:
    """`revision`'s files in `directory` (replaced if there), checked to run as the old code."""
    try:
        _git("rev-parse", "--git-dir")
    except BenchError:
        raise BenchError(
            f"{REPO_ROOT} is not a git repository: --before needs its history (or --before '')"
        ) from None
    try:
        commit = _git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").decode().strip()
    except BenchError:
        commit = ""
    if not commit:
        shallow = _git("rev-parse", "--is-shallow-repository").decode().strip() == "true"
        raise BenchError(
            f"revision {revision!r} (--before) is not in this repository"
            + (" (a shallow clone)" if shallow else "")
            + f": fetch it (git fetch --unshallow, or git fetch origin {revision}), or pass"
            " --before '' to measure without it"
        )
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    archive = _git("archive", "--format=tar", commit)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(directory, filter="data")
    checkout = Checkout(_git("rev-parse", "--short", commit).decode().strip(), directory)
    _check_dependencies(checkout)
    _check_imports(checkout)
    return checkout


def _check_dependencies(checkout: Checkout) -> None:
    """Every dependency the revision pins is installed here at that version."""
    project = tomllib.loads((checkout.path / "pyproject.toml").read_text())
    wrong = []
    for requirement in project["project"].get("dependencies", []):
        match = _REQUIREMENT.match(requirement)
        if match is None:
            continue
        name, pinned = match.groups()
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name} is not installed")
            continue
        if pinned is not None and installed != pinned:
            wrong.append(f"{name} {installed} is installed, it pins {pinned}")
    if wrong:
        raise BenchError(
            f"Tenaz {checkout.revision} runs with this virtualenv's packages, but "
            + "; ".join(wrong)
        )


def _check_imports(checkout: Checkout) -> None:
    """A child started as the revision's processes are imports the revision's modules."""
    probe = (
        "import json, jobs, server, tenaz.v1;"
        "print(json.dumps([jobs.__file__, server.__file__, tenaz.v1.__file__]))"
    )
    try:
        output = subprocess.run(  # noqa: S603 - this Python, our own code
            [sys.executable, "-c", probe],
            cwd=checkout.path,
            env=checkout.env({}),
            capture_output=True,
            check=True,
            timeout=60,
            text=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BenchError(f"Tenaz {checkout.revision}'s modules do not import: {exc}") from None
    root = checkout.path.resolve()
    modules = json.loads(output)
    if not (checkout.path / "clients" / "python" / "src").is_dir():
        modules = modules[:2]  # a revision without its own generated modules uses ours
    for module in modules:
        if not Path(module).resolve().is_relative_to(root):
            raise BenchError(f"a process of Tenaz {checkout.revision} would import {module}")
