"""The way out: platform requests reach only allowed hosts, follow no redirects, ignore proxy
variables, and end on time, checked with real sockets on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ipaddress
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpcore
import httpx
import pytest

from jobs.base_url import BaseUrl
from jobs.egress import (
    EgressPolicy,
    EgressRefused,
    GuardedBackend,
    IPAddress,
    RequestDeadline,
    platform_client,
    send_bounded,
)
from jobs.platforms.base import OutgoingEvent
from jobs.platforms.meta import MetaConnector

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
TOKEN = "EAAB-test-token"
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}"


class Listener:
    """A TCP server on loopback that counts its connections and runs `handler` on each."""

    def __init__(self, handler: Handler) -> None:
        self.connections = 0
        self._handler = handler

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self._handler(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def listening(handler: Handler) -> AsyncIterator[tuple[Listener, int]]:
    listener = Listener(handler)
    server = await asyncio.start_server(listener._serve, "127.0.0.1", 0)
    try:
        yield listener, server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def answer(reply: bytes) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(reply)
        await writer.drain()

    return handle


async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A peer that never finishes its answer: one byte of body every 50 ms."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n")
    while True:
        writer.write(b" ")
        await writer.drain()
        await asyncio.sleep(0.05)


def allowing(*urls: str) -> EgressPolicy:
    return EgressPolicy(BaseUrl.parse(url) for url in urls)


def refused_by_guard(exc: BaseException) -> bool:
    return isinstance(exc, httpx.ConnectError) and isinstance(exc.__cause__, EgressRefused)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "[::1]", "169.254.169.254"]
)
async def test_internal_addresses_are_refused_before_connecting(host: str) -> None:
    async with (
        listening(await answer(OK)) as (listener, port),
        platform_client(EgressPolicy(), timeout=2) as client,
    ):
        with pytest.raises(httpx.ConnectError) as caught:
            await client.post(f"http://{host}:{port}/v25.0/1/events", content=b"{}")
    assert refused_by_guard(caught.value)
    assert listener.connections == 0


async def test_an_allowed_host_and_port_may_be_internal() -> None:
    async with listening(await answer(OK)) as (listener, port):
        policy = allowing(f"http://127.0.0.1:{port}/")
        async with platform_client(policy, timeout=2) as client:
            response = await client.post(f"http://127.0.0.1:{port}/x", content=b"{}")
            assert response.status_code == 200
            # The allowlist names 127.0.0.1 on that port, not the machine's other names.
            with pytest.raises(httpx.ConnectError) as caught:
                await client.post(f"http://localhost:{port}/x", content=b"{}")
    assert refused_by_guard(caught.value)
    assert listener.connections == 1


async def test_the_socket_goes_to_the_vetted_address_and_its_peer_is_checked() -> None:
    """A name that resolved to a public address is connected by that address; a socket that
    nonetheless ends up at an internal one (a rebinding trick, a NAT) is closed unused."""
    asked: list[str] = []

    class Recording(httpcore.AsyncNetworkBackend):
        def __init__(self, port: int) -> None:
            self._inner = httpcore.AnyIOBackend()
            self._port = port

        async def connect_tcp(
            self, host: str, port: int, *args: object, **kwargs: object
        ) -> httpcore.AsyncNetworkStream:
            asked.append(host)
            # Wherever it was asked to go, it lands on loopback.
            return await self._inner.connect_tcp("127.0.0.1", self._port)

        async def sleep(self, seconds: float) -> None:
            await self._inner.sleep(seconds)

    async def public(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("93.184.215.14")]

    async with listening(await answer(OK)) as (_, port):
        backend = GuardedBackend(EgressPolicy(), Recording(port), resolve=public)
        with pytest.raises(EgressRefused, match="non-public"):
            await backend.connect_tcp("platform.example", 443)
    assert asked == ["93.184.215.14"]


async def test_a_name_with_any_internal_answer_only_uses_the_public_ones() -> None:
    async def mixed(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("10.0.0.5"), ipaddress.ip_address("127.0.0.1")]

    backend = GuardedBackend(EgressPolicy(), resolve=mixed)
    with pytest.raises(EgressRefused, match="no public address"):
        await backend.connect_tcp("platform.example", 443)


async def test_unix_sockets_are_never_used() -> None:
    with pytest.raises(EgressRefused):
        await GuardedBackend(EgressPolicy()).connect_unix_socket("/var/run/docker.sock")


async def test_redirects_are_not_followed() -> None:
    async with listening(await answer(OK)) as (elsewhere, other_port):
        redirect = (
            f"HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:{other_port}/\r\n"
            "content-length: 0\r\n\r\n"
        ).encode()
        async with listening(await answer(redirect)) as (_, port):
            policy = allowing(f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{other_port}/")
            async with platform_client(policy, timeout=2) as client:
                response = await client.post(f"http://127.0.0.1:{port}/", content=b"{}")
    assert response.status_code == 307
    assert elsewhere.connections == 0


async def test_proxy_variables_of_the_environment_are_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with (
        listening(await answer(OK)) as (proxy, proxy_port),
        listening(await answer(OK)) as (platform, port),
    ):
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy_port}")
        async with platform_client(allowing(f"http://127.0.0.1:{port}/"), timeout=2) as client:
            response = await client.post(f"http://127.0.0.1:{port}/", content=b"{}")
    assert response.status_code == 200
    assert (platform.connections, proxy.connections) == (1, 0)


async def test_a_trickling_answer_ends_at_the_total_deadline() -> None:
    async with (
        listening(trickle) as (_, port),
        platform_client(allowing(f"http://127.0.0.1:{port}/"), timeout=5) as client,
    ):
        started = time.monotonic()
        with pytest.raises(RequestDeadline):
            await send_bounded(
                client,
                "POST",
                f"http://127.0.0.1:{port}/",
                content=b"{}",
                headers={},
                deadline=0.5,
                max_body=1 << 20,
            )
        # Each byte came well within any per-read timeout; only the total deadline ends it
        # (the whole answer would take over an hour).
        assert time.monotonic() - started < 20


async def test_a_trickling_platform_is_an_external_problem_for_the_connector() -> None:
    async with (
        listening(trickle) as (_, port),
        platform_client(allowing(f"http://127.0.0.1:{port}/"), timeout=1) as client,
    ):
        connector = MetaConnector(
            client, pixel_id="1", access_token=TOKEN, base_url=f"http://127.0.0.1:{port}", timeout=1
        )
        started = time.monotonic()
        [outcome] = await connector.send([_event()])
    assert time.monotonic() - started < 20  # the whole answer would take over an hour
    assert outcome.message == "timed out after 1 s"
    assert outcome.kind.value == "external_problem"


async def test_the_connector_names_an_internal_address_for_the_operator() -> None:
    async with (
        listening(await answer(OK)) as (listener, port),
        platform_client(EgressPolicy(), timeout=1) as client,
    ):
        connector = MetaConnector(
            client, pixel_id="1", access_token=TOKEN, base_url=f"http://localhost:{port}"
        )
        [outcome] = await connector.send([_event()])
    assert outcome.needs_action
    assert "internal address" in outcome.message
    assert listener.connections == 0


def _event() -> OutgoingEvent:
    return OutgoingEvent(delivery_id=1, payload={"event_name": "Purchase"})


async def test_a_compressed_answer_is_never_inflated() -> None:
    """A small compressed body that would inflate far past the cap is not read at all."""
    bomb = gzip.compress(b"{" + b" " * (20 << 20) + b"}")
    reply = (
        b"HTTP/1.1 400 Bad Request\r\ncontent-encoding: gzip\r\n"
        + f"content-length: {len(bomb)}\r\n\r\n".encode()
        + bomb
    )
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(reply)
        await writer.drain()

    async with (
        listening(handle) as (_, port),
        platform_client(allowing(f"http://127.0.0.1:{port}/"), timeout=5) as client,
    ):
        answer = await send_bounded(
            client,
            "POST",
            f"http://127.0.0.1:{port}/",
            content=b"{}",
            headers={},
            deadline=5,
            max_body=1 << 16,
        )
    assert b"accept-encoding: identity" in seen[0].lower()
    assert (answer.status, answer.body) == (400, b"")


async def test_a_hanging_platform_lookup_never_holds_the_threads_others_resolve_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stuck = threading.Event()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "hangs.example":
            stuck.wait(10)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    backend = GuardedBackend(EgressPolicy())
    lookups = [asyncio.create_task(backend.connect_tcp("hangs.example", 443)) for _ in range(20)]
    try:
        # The database driver resolves its host on the loop's default threads.
        loop = asyncio.get_running_loop()
        found = await asyncio.wait_for(loop.getaddrinfo("localhost", 5432), 3)
        assert found
    finally:
        stuck.set()
        await asyncio.gather(*lookups, return_exceptions=True)
