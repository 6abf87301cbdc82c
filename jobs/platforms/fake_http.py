"""What every fake ad platform shares: scripted failures, what it received, and the two ways
to reach it.

A fake platform holds the platform's rules and state and knows nothing about transport: it
answers `handle(method, path, query, headers, body)` with a `Reply`. Tests serve it over real
HTTP/1.1 on loopback (`FakeServer`), so a connector's HTTP layer, timeouts and keep-alive run
for real; the sandbox destination plugs it into an httpx client in process (`FakeTransport`),
so nothing leaves the machine.

`ScriptedPlatform` is the base of every fake: tests script failures (`fail_next`, `set_down`,
a hanging request they `release`), and read what arrived (`requests`, `received_count`). A
subclass answers in `answer` and asks `scripted()`, at the point where its platform would fail,
whether a scripted failure comes first. A platform's failures are a `ScriptedReply` subclass:
the bare answers every platform's front end can give are here (`http_500`, `http_503`,
`custom`, `hanging`), and a platform adds one constructor per error it documents.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from http import HTTPStatus
from typing import ClassVar, Final, Generic, Protocol, Self, TypedDict, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import h11
import httpx

from jobs.lru import LruDict

# When the request being handled began to arrive (the moment its head was read, in the
# connection's own task): a fake that notes arrival times reads it, rather than the moment
# its handler runs, which comes after the body was read while other connections took turns.
REQUEST_ARRIVED: ContextVar[float] = ContextVar("fake_request_arrived")

# (HTTP status, headers, body)
Reply = tuple[int, dict[str, str], bytes]

MAX_REQUEST_BYTES: Final = 32 << 20

_log = logging.getLogger(__name__)


class FakePlatform(Protocol):
    async def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        """Answer one HTTP request."""
        ...


class Scripted(Protocol):
    """A scripted failure: an answer the fake gives instead of its own, or a hang."""

    @property
    def hang(self) -> bool: ...

    def reply(self) -> Reply: ...


@dataclass(frozen=True)
class ScriptedReply:
    """A failure any fake can give: this exact answer, or (`hang`) no answer until released,
    after which the request is processed normally, as by a platform that was only slow.

    The base of every platform's failures, whose constructors return the platform's own class.
    """

    status: int = 0
    body: bytes = b""
    content_type: str = "text/plain"
    hang: bool = False

    @classmethod
    def http_500(cls) -> Self:
        """A bare 500 from the front end, without the platform's error body."""
        return cls(status=500, body=b"Internal Server Error", content_type="text/plain")

    @classmethod
    def http_503(cls) -> Self:
        """A bare 503 from the front end, without the platform's error body."""
        return cls(status=503, body=b"Service Unavailable", content_type="text/plain")

    @classmethod
    def hanging(cls) -> Self:
        return cls(hang=True)

    @classmethod
    def custom(
        cls, status: int, body: bytes = b"", *, content_type: str = "application/json"
    ) -> Self:
        """This exact answer: a proxy's page, a body the platform does not document."""
        return cls(status=status, body=body, content_type=content_type)

    def reply(self) -> Reply:
        return self.status, {"content-type": self.content_type}, self.body


@dataclass(frozen=True)
class ReceivedRequest:
    """Any request as it reached the platform (tests check where a secret travelled, and how
    many events arrived when)."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    # The platform's clock when the request arrived.
    at: float = 0.0
    # Events the request carried, whether or not the platform took them.
    event_count: int = 0


F = TypeVar("F", bound=Scripted)


class PlatformOptions(TypedDict, total=False):
    """`ScriptedPlatform`'s options, which every fake takes beside its own."""

    now: Callable[[], float]
    transient_failure_rate: float
    rng: random.Random | None
    history_limit: int | None
    received_limit: int | None


class ScriptedPlatform(abc.ABC, Generic[F]):
    """The state and scripting every fake platform has; `answer` is the platform itself."""

    # The platform's answer while it is down.
    outage: ClassVar[Scripted] = ScriptedReply.http_503()

    def __init__(
        self,
        *,
        now: Callable[[], float] = time.time,
        transient_failure_rate: float = 0.0,
        rng: random.Random | None = None,
        history_limit: int | None = 1000,
        received_limit: int | None = None,
    ) -> None:
        """`history_limit` bounds `requests` (and a subclass's own history), and
        `received_limit` the events `received_count` remembers, least recently received
        forgotten first (None: no bound), so that a long-running sandbox does not grow
        without end. `transient_failure_rate` of requests fail as the platform's outage."""
        if not 0.0 <= transient_failure_rate <= 1.0:
            raise ValueError("transient_failure_rate must be between 0 and 1")
        self._now = now
        self._transient_failure_rate = transient_failure_rate
        self._rng = rng if rng is not None else random.Random()
        self.history_limit = history_limit
        self.requests: collections.deque[ReceivedRequest] = collections.deque(maxlen=history_limit)
        self.request_count = 0
        self.total_events_received = 0
        self._received: LruDict[tuple[str, str], int] = LruDict(received_limit)
        self._failures: collections.deque[F] = collections.deque()
        self._down = False
        self._hangs_started = 0
        self._hanging = 0
        self._hang_started = asyncio.Event()
        self._release = asyncio.Event()

    # -- what a platform defines -------------------------------------------------------------

    @abc.abstractmethod
    async def answer(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        """The platform's answer to one request (headers lowercased); it awaits `scripted()`
        where the platform would fail (after routing, before reading the events)."""

    def failure_reply(self, failure: F) -> Reply:
        """The answer a scripted failure gives, in the platform's format (a platform whose
        answers carry a request id of its own overrides this)."""
        return failure.reply()

    def outage_reply(self) -> Reply:
        """The platform's answer while it is down (its HTTP 503)."""
        return self.outage.reply()

    def count_events(self, body: bytes) -> int:
        """How many events a request's body carries (for `ReceivedRequest.event_count`)."""
        return 0

    # -- scripting -----------------------------------------------------------------------------

    def fail_next(self, count: int, failure: F) -> None:
        """Answer the next `count` requests that reach `scripted()` with `failure`."""
        self._failures.extend([failure] * count)

    def stop_failing(self) -> None:
        """Forget the scripted failures not yet used."""
        self._failures.clear()

    def set_down(self, down: bool) -> None:
        """While down, every request gets the platform's 503 (an outage); scripted failures
        wait."""
        self._down = down

    def release(self) -> None:
        """Let every request that is hanging now go on."""
        self._release.set()
        self._release = asyncio.Event()

    @property
    def hanging(self) -> int:
        """How many requests are held by a hanging failure right now."""
        return self._hanging

    async def wait_for_hang(self, count: int = 1) -> None:
        """Return once `count` requests in all have started hanging."""
        while self._hangs_started < count:
            self._hang_started.clear()
            await self._hang_started.wait()

    # -- observation ---------------------------------------------------------------------------

    def received_count(self, event_name: str, event_id: str) -> int:
        """How many times the platform took this event (more than 1: a duplicate was sent)."""
        return self._received.get((event_name, event_id), 0)

    def note_received(self, keys: Iterable[tuple[str, str]]) -> None:
        """Count events the platform took, by (event name, event id) as it calls them."""
        for key in keys:
            self.total_events_received += 1
            self._received[key] = self._received.get(key, 0) + 1

    # -- the request cycle ---------------------------------------------------------------------

    async def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        """Answer one HTTP request."""
        headers = {name.lower(): value for name, value in headers.items()}
        self.request_count += 1
        self.requests.append(
            ReceivedRequest(
                method,
                path,
                dict(query),
                headers,
                body,
                at=self._now(),
                event_count=self.count_events(body),
            )
        )
        if self._down:
            return self.outage_reply()
        return await self.answer(method, path, query, headers, body)

    async def scripted(self) -> Reply | None:
        """The scripted failure this request meets, if any (a hanging one returns None once
        released), or the platform's outage at the transient failure rate."""
        failure = self._failures.popleft() if self._failures else None
        if failure is not None and not failure.hang:
            return self.failure_reply(failure)
        if failure is not None:
            await self._hang()
        if self._transient_failure_rate and self._rng.random() < self._transient_failure_rate:
            return self.outage_reply()
        return None

    async def _hang(self) -> None:
        release = self._release
        self._hanging += 1
        self._hangs_started += 1
        self._hang_started.set()
        try:
            await release.wait()
        finally:
            self._hanging -= 1


P = TypeVar("P", bound=FakePlatform)


class FakeServer(Generic[P]):
    """Serves a fake platform over HTTP/1.1 on loopback, with keep-alive, for tests.

    An async context manager: `async with FakeServer(fake) as server: server.base_url`.
    Each connection runs in its own task, so requests on different connections are concurrent
    (a hanging one does not hold up the others).
    """

    def __init__(self, fake: P, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.connections_opened = 0

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not running")
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self._host, self._port)

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        # Connections outlive the listening socket; a hanging request must not outlive us.
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Our own task rather than asyncio's: `close` cancels it, and asyncio (3.11) would log
        # the cancellation of a connection task it created as an error.
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)
        self.connections_opened += 1

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await self._receive(connection, reader)
                if request is None:
                    break
                head, body = request
                try:
                    reply = await self._handle(head, body)
                except Exception:
                    # A bug in the fake: answer like a broken platform and say so in the log.
                    _log.exception("fake_platform.request.crashed")
                    reply = (500, {"content-type": "text/plain"}, b"fake platform crashed")
                await self._respond(connection, writer, reply, head_only=head.method == b"HEAD")
                if connection.our_state is not h11.DONE or connection.their_state is not h11.DONE:
                    break
                connection.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            reply = (exc.error_status_hint, {"content-type": "text/plain"}, b"Bad Request")
            with contextlib.suppress(h11.LocalProtocolError, OSError):
                await self._respond(connection, writer, reply)
        except (OSError, h11.LocalProtocolError):
            pass  # the client went away mid-exchange; nothing left to answer
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _handle(self, head: h11.Request, body: bytes) -> Reply:
        target = urlsplit(head.target.decode("ascii", errors="replace"))
        return await self.fake.handle(
            head.method.decode("ascii", errors="replace"),
            unquote(target.path),
            dict(parse_qsl(target.query, keep_blank_values=True)),
            {name.decode("latin-1"): value.decode("latin-1") for name, value in head.headers},
            body,
        )

    async def _receive(
        self, connection: h11.Connection, reader: asyncio.StreamReader
    ) -> tuple[h11.Request, bytes] | None:
        """The next request and its body; None when the client closed the connection."""
        head: h11.Request | None = None
        body = bytearray()
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Request):
                REQUEST_ARRIVED.set(time.time())
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_REQUEST_BYTES:
                    raise h11.RemoteProtocolError("request body too large", error_status_hint=413)
            elif isinstance(event, h11.EndOfMessage) and head is not None:
                return head, bytes(body)
            else:
                # ConnectionClosed, or the client's half is done with this connection.
                return None

    @staticmethod
    async def _respond(
        connection: h11.Connection,
        writer: asyncio.StreamWriter,
        reply: Reply,
        *,
        head_only: bool = False,
    ) -> None:
        status, headers, body = reply
        try:
            reason = HTTPStatus(status).phrase.encode()
        except ValueError:
            reason = b""
        fields = [(name.encode(), value.encode()) for name, value in headers.items()]
        fields.append((b"content-length", str(len(body)).encode()))
        events: list[h11.Event] = [h11.Response(status_code=status, headers=fields, reason=reason)]
        if not head_only:
            events.append(h11.Data(data=body))
        events.append(h11.EndOfMessage())
        for event in events:
            data = connection.send(event)
            if data:
                writer.write(data)
        await writer.drain()


class FakeTransport(httpx.AsyncBaseTransport, Generic[P]):
    """Routes an httpx client's requests to a fake platform in process (the sandbox).

    httpx leaves timeouts to the transport, so this one applies the request's read timeout
    itself: a hanging fake times the client out just as the network would. Unlike the server,
    where a request the client gave up on is still processed once released, here it is
    cancelled with the client's wait.
    """

    def __init__(self, fake: P) -> None:
        self.fake = fake

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        timeouts = request.extensions.get("timeout")
        read_timeout = timeouts.get("read") if isinstance(timeouts, dict) else None
        try:
            async with asyncio.timeout(read_timeout):
                status, headers, content = await self.fake.handle(
                    request.method,
                    request.url.path,
                    dict(request.url.params),
                    dict(request.headers),
                    body,
                )
        except TimeoutError:
            raise httpx.ReadTimeout("the fake platform did not answer", request=request) from None
        return httpx.Response(status, headers=headers, content=content, request=request)
