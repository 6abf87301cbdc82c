"""Serving an aiohttp application on a port of its own, as Tenaz's HTTP listeners do (the
dashboard, the Conversions API endpoint), in the gRPC server's event loop.

They bind as gRPC does, with SO_REUSEPORT: several `tenaz serve` on one machine share one
address, and the kernel spreads connections among them.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from aiohttp import web

from jobs.settings import split_address

# A wildcard address is shown as loopback: the URL is for reaching the port from this machine.
_SHOWN_HOST = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 - not bound


@dataclass(frozen=True)
class Site:
    """A started listener: its runner (whose cleanup stops it), bound port and base URL."""

    runner: web.AppRunner
    port: int
    url: str


async def start_site(
    app: web.Application,
    address: str,
    ssl_context: ssl.SSLContext | None,
    *,
    shutdown_timeout: float,
) -> Site:
    """Serve `app` on `address` ("host:port"; port 0 picks a free one), with TLS when
    `ssl_context` is given. No access log: lines per request would say nothing an operator
    needs, and a URL's query may hold a secret."""
    host, port = split_address(address)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, host or None, port, ssl_context=ssl_context, reuse_port=True)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    bound = int(runner.addresses[0][1])
    shown = _SHOWN_HOST.get(host, host)
    where = f"[{shown}]:{bound}" if ":" in shown else f"{shown}:{bound}"
    return Site(runner, bound, f"{'https' if ssl_context else 'http'}://{where}/")
