"""The way out of Tenaz: where platform requests may go, and how long they may take.

A tenant configures its destinations, so a destination's base URL is the tenant's input. Two
guards keep it from aiming Tenaz's workers at the operator's own network:

- **The URL policy** (`EgressPolicy.check_base_url`), at create and update time: a base URL
  is one of its platform's official URLs, or lies under a prefix the operator allowed with
  `TENAZ_ALLOWED_PLATFORM_URLS`; and it is only scheme, host, port and path, so nothing in it
  can cut off or rewrite the platform's path.
- **The address guard** (`GuardedBackend`), at connect time: unless the URL's host and port
  are named in the allowlist, a connection only ever goes to a public address. The host is
  resolved here, every address is vetted, and the socket is opened to the vetted address
  itself (then its peer is checked again), so a DNS answer that changes between check and
  connect (rebinding) gains nothing. TLS still verifies the name in the URL.

Every request also has a total deadline (`send_bounded`): httpx's timeouts are per phase and
per read, so a peer that trickles one byte at a time would otherwise hold a worker for as
long as it liked. Redirects are never followed and proxy variables of the environment are
ignored: a request goes to the URL it was built for, or nowhere.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import httpcore
import httpx

from jobs.base_url import BaseUrl
from jobs.tracing import OFF, Tracing

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
# NAT64 for local use (RFC 8215), and the deprecated IPv4-compatible form (::a.b.c.d).
_LOCAL_NAT64: Final = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")
# Platform host names are looked up on threads of their own: a resolver that hangs must not
# hold the event loop's default threads, which the database driver's lookups use too.
_RESOLVER: Final = concurrent.futures.ThreadPoolExecutor(
    max_workers=4, thread_name_prefix="tenaz-dns"
)


class EgressRefused(httpcore.ConnectError):
    """The address guard refused a connection: the host is not a public address."""


def is_public_address(address: IPAddress) -> bool:
    """Whether `address` is on the public internet: no loopback, private, link-local (cloud
    metadata), unique-local, multicast, unspecified or reserved address, and no IPv6 form
    that carries one of those inside (IPv4-mapped, NAT64, 6to4, Teredo)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None or address in _LOCAL_NAT64:
            return False
        if address in _IPV4_COMPATIBLE:
            return False
        embedded: list[ipaddress.IPv4Address] = []
        if address in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None:
            embedded.append(address.sixtofour)
        if address.teredo is not None:
            embedded.extend(address.teredo)
        if not all(is_public_address(inner) for inner in embedded):
            return False
    return address.is_global and not address.is_multicast and not address.is_unspecified


class EgressPolicy:
    """Which base URLs destinations may use, and which hosts may be internal.

    `allowed` is the operator's allowlist. A host:port it names may resolve to any address
    (a proxy on the company network, a fake platform in tests); every other host must
    resolve to public addresses only.
    """

    def __init__(self, allowed: Iterable[BaseUrl] = ()) -> None:
        self.allowed = tuple(allowed)
        self._trusted_hosts = frozenset((url.host, url.port) for url in self.allowed)

    def check_base_url(self, text: str, official: Iterable[str]) -> BaseUrl:
        """The base URL `text`, if a destination may use it; ValueError says why not."""
        url = BaseUrl.parse(text)
        if any(url.within(BaseUrl.parse(o)) for o in official):
            return url
        if any(url.within(prefix) for prefix in self.allowed):
            return url
        known = ", ".join(official)
        raise ValueError(
            f"{url} is not the platform's URL ({known}) and TENAZ_ALLOWED_PLATFORM_URLS does"
            " not allow it; the operator may add it there"
        )

    def check_url(self, text: str, official: Iterable[str], *, any_public: bool = False) -> BaseUrl:
        """A destination's URL setting: a platform's base URL (`check_base_url`), or with
        `any_public` a URL of the tenant's own (a webhook), which must be https unless the
        operator allows it. Either way the address guard refuses internal addresses when
        connecting, unless the operator named the host."""
        if not any_public:
            return self.check_base_url(text, official)
        url = BaseUrl.parse(text)
        if url.scheme == "https" or any(url.within(prefix) for prefix in self.allowed):
            return url
        raise ValueError(
            f"{url} is not https, and TENAZ_ALLOWED_PLATFORM_URLS does not allow it; the"
            " operator may add it there"
        )

    def trusts(self, host: str, port: int) -> bool:
        """Whether the operator named this host:port, so it may be an internal address."""
        return (host.lower().rstrip("."), port) in self._trusted_hosts


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only where the policy allows (see the module)."""

    def __init__(
        self,
        policy: EgressPolicy,
        inner: httpcore.AsyncNetworkBackend | None = None,
        *,
        resolve: Callable[[str, int], Awaitable[list[IPAddress]]] | None = None,
    ) -> None:
        self._policy = policy
        self._inner = inner or httpcore.AnyIOBackend()
        self._resolve = resolve or _resolve

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self._policy.trusts(host, port):
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        addresses = await self._resolve(host, port)
        public = [address for address in addresses if is_public_address(address)]
        if not public:
            raise EgressRefused(
                f"{host} resolves to no public address; Tenaz connects to internal addresses"
                " only for hosts in TENAZ_ALLOWED_PLATFORM_URLS"
            )
        failure: Exception | None = None
        for address in public:
            try:
                stream = await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            if not _peer_is_public(stream):
                await stream.aclose()
                raise EgressRefused(f"{host} connected to a non-public address")
            return stream
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise EgressRefused("platform requests never use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def vetted_address(policy: EgressPolicy, host: str, port: int) -> str:
    """The address a connection that is not HTTP (an alert's SMTP server) goes to: `host`
    itself when the operator named it, else its first public address, to be connected to as
    it is (so a changed DNS answer gains nothing). EgressRefused when it has none."""
    if policy.trusts(host, port):
        return host
    public = [a for a in await _resolve(host, port) if is_public_address(a)]
    if not public:
        raise EgressRefused(
            f"{host} resolves to no public address; Tenaz connects to internal addresses"
            " only for hosts in TENAZ_ALLOWED_PLATFORM_URLS"
        )
    return str(public[0])


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.run_in_executor(
            _RESOLVER, functools.partial(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        )
    except OSError as exc:
        raise httpcore.ConnectError(f"could not resolve {host}") from exc
    found: list[IPAddress] = []
    for _, _, _, _, sockaddr in infos:
        # The scope of a link-local IPv6 address ("fe80::1%eth0") is not part of the address.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in found:
            found.append(address)
    return found


def _peer_is_public(stream: httpcore.AsyncNetworkStream) -> bool:
    """Check the address the socket is actually connected to, not the one asked for."""
    sock = stream.get_extra_info("socket")
    if sock is None:
        return False
    try:
        peer = sock.getpeername()[0]
        return is_public_address(ipaddress.ip_address(str(peer).split("%")[0]))
    except (OSError, ValueError):
        return False


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's HTTP transport over `GuardedBackend`.

    httpx has no public way to give its transport a network backend, so the connection pool
    that `AsyncHTTPTransport` builds is replaced with one that has it (the pool is the
    private `_pool` attribute of the pinned httpx version; tests/integration/test_egress.py
    fails should that change).
    """

    def __init__(self, policy: EgressPolicy, *, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy),
        )


def platform_client(
    policy: EgressPolicy, *, timeout: float, tracing: Tracing = OFF
) -> httpx.AsyncClient:
    """The one HTTP client platform requests leave through (each a span, when traces are on)."""
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
    return httpx.AsyncClient(
        transport=tracing.wrap_transport(GuardedTransport(policy, limits=limits)),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )


class RequestDeadline(httpx.TimeoutException):
    """A request did not end (sent, answered and read) within its total deadline."""


@dataclass(frozen=True)
class Reply:
    """A platform's answer: its status and at most `max_body` bytes of its body."""

    status: int
    body: bytes


async def send_bounded(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    deadline: float,
    max_body: int,
) -> Reply:
    """Send one request and read its answer, all within `deadline` seconds.

    A body longer than `max_body` is cut there (the answer is not one the platform would
    give). httpx errors pass through; running out of time raises `RequestDeadline`.
    """
    # Answers come uncompressed: the read cap then bounds what is held in memory, which a
    # small compressed body inflating to gigabytes would get around.
    request = client.build_request(
        method,
        url,
        content=content,
        headers={**headers, "accept-encoding": "identity"},
        timeout=deadline,
    )
    try:
        async with asyncio.timeout(deadline):
            response = await client.send(request, stream=True)
            try:
                body = bytearray()
                # A body compressed despite the request is left unread (the status still
                # counts): inflating it, even a chunk at a time, would get around the cap.
                encoding = response.headers.get("content-encoding", "identity").lower()
                if encoding in ("", "identity"):
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > max_body:
                            del body[max_body:]
                            break
                return Reply(response.status_code, bytes(body))
            finally:
                await response.aclose()
    except TimeoutError:
        raise RequestDeadline(
            f"no complete answer within {deadline:g} s", request=request
        ) from None
