"""The TypeScript and Go clients, built once per session and run as subprocesses against
the in-process Tenaz server (the `server` fixture) with its address and an API key in
TENAZ_TEST_ADDRESS / TENAZ_TEST_API_KEY.

Subprocesses run under asyncio, so the server keeps serving in the test's event loop while
a client talks to it. `clients/setup-tools.sh` installs the toolchains (`make test` and
`make test-interop` run it); the TypeScript fixture runs its `node` step itself, which does
nothing when node_modules is current.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.app import TenazServer

REPO = Path(__file__).resolve().parents[2]
TYPESCRIPT = REPO / "clients" / "typescript"
GO_CLIENT = REPO / "clients" / "go"
GO_IMPORT_PATH = "github.com/tenaz/tenaz/clients/go"
DEBIAN_GOPATH = Path("/usr/share/gocode")
SETUP = "clients/setup-tools.sh"


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


class ClientProcess:
    """A client program running against the test's server; its stdout is read line by line."""

    def __init__(self, process: asyncio.subprocess.Process, name: str) -> None:
        self._process = process
        self._name = name
        self.lines: list[str] = []

    async def wait_for_line(self, prefix: str, seconds: float) -> str:
        """Read stdout until a line starts with `prefix`; fail if the program ends first."""
        assert self._process.stdout is not None
        async with asyncio.timeout(seconds):
            while raw := await self._process.stdout.readline():
                line = raw.decode().rstrip("\n")
                self.lines.append(line)
                if line.startswith(prefix):
                    return line
        finished = await self.finish(seconds)
        raise AssertionError(
            f"{self._name} ended before printing {prefix!r}: {finished.describe()}"
        )

    async def finish(self, seconds: float) -> Finished:
        """Wait for the program to end (killing it after `seconds`) and collect its output."""
        try:
            async with asyncio.timeout(seconds):
                stdout, stderr = await self._process.communicate()
        except TimeoutError:
            self._process.kill()
            stdout, stderr = await self._process.communicate()
            partial = Finished(-9, "\n".join([*self.lines, stdout.decode()]), stderr.decode())
            raise AssertionError(
                f"{self._name} did not finish in {seconds} s: {partial.describe()}"
            ) from None
        self.lines.extend(stdout.decode().splitlines())
        assert self._process.returncode is not None
        return Finished(self._process.returncode, "\n".join(self.lines), stderr.decode())


async def start(args: Sequence[str | Path], *, cwd: Path, env: Mapping[str, str]) -> ClientProcess:
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return ClientProcess(process, Path(args[0]).name)


async def run(
    args: Sequence[str | Path], *, cwd: Path, env: Mapping[str, str], seconds: float = 30
) -> Finished:
    return await (await start(args, cwd=cwd, env=env)).finish(seconds)


def _build(args: Sequence[str | Path], *, cwd: Path, env: Mapping[str, str] | None = None) -> None:
    """Run a build step before any server exists; fail the test with its output."""
    try:
        done = subprocess.run(  # noqa: S603 - fixed programs of this repository
            [str(a) for a in args],
            cwd=cwd,
            env=None if env is None else dict(env),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(map(str, args))} took over 120 s: {exc.output}")
    if done.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}")


@pytest.fixture
def client_env(server: TenazServer, api_key: str) -> dict[str, str]:
    """The environment of a client subprocess: where the server is and the workspace's key."""
    return {
        **os.environ,
        "TENAZ_TEST_ADDRESS": f"127.0.0.1:{server.port}",
        "TENAZ_TEST_API_KEY": api_key,
    }


@pytest.fixture(scope="session")
def typescript_build() -> Path:
    """clients/typescript compiled (library and tests) into its build/ folder."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("Node.js 20+ and npm are needed for the TypeScript client")
    _build(["bash", REPO / SETUP, "node"], cwd=REPO)
    _build(
        [TYPESCRIPT / "node_modules" / ".bin" / "tsc", "-p", "tsconfig.test.json"], cwd=TYPESCRIPT
    )
    return TYPESCRIPT / "build"


@dataclass(frozen=True)
class GoBuild:
    smoke_test: Path
    example: Path


def _gopath_for_this_checkout() -> tuple[Path, Path]:
    """A GOPATH whose src/<import path> links to this checkout's clients/go.

    Its path is the same in every session of this checkout, so Go's build cache (keyed by
    package directory) keeps the client's compiled packages from one session to the next.
    """
    checkout = hashlib.sha256(str(REPO).encode()).hexdigest()[:12]
    gopath = Path(tempfile.gettempdir()) / f"tenaz-gopath-{checkout}"
    link = gopath / "src" / GO_IMPORT_PATH
    link.parent.mkdir(parents=True, exist_ok=True)
    if not (link.is_symlink() and link.resolve() == GO_CLIENT):
        fresh = link.with_name(f".go-{os.getpid()}")
        fresh.symlink_to(GO_CLIENT, target_is_directory=True)
        fresh.replace(link)
    return gopath, link


@pytest.fixture(scope="session")
def go_build(tmp_path_factory: pytest.TempPathFactory) -> GoBuild:
    """The Go smoke test and example, built in GOPATH mode with Debian's packages."""
    go = shutil.which("go")
    if go is None or not (DEBIAN_GOPATH / "src" / "google.golang.org" / "grpc").is_dir():
        pytest.fail(f"Debian's Go toolchain and grpc-go are missing: run {SETUP} go")
    gopath, link = _gopath_for_this_checkout()
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": f"{gopath}{os.pathsep}{DEBIAN_GOPATH}",
        "GOPROXY": "off",
        "GOFLAGS": "",
    }
    out = tmp_path_factory.mktemp("go-bin")
    packages = [f"{GO_IMPORT_PATH}/tenaz", f"{GO_IMPORT_PATH}/example"]
    _build([go, "test", "-c", "-o", out / "smoke.test", packages[0]], cwd=link, env=env)
    _build([go, "build", "-o", out / "example", packages[1]], cwd=link, env=env)
    return GoBuild(smoke_test=out / "smoke.test", example=out / "example")
