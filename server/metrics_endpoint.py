"""GET /metrics: this process's metrics in Prometheus' text format, on TENAZ_METRICS_ADDRESS.

Every Tenaz process serves its own (`tenaz run` one for its server and worker together).
Unlike gRPC and the dashboard, the port is not shared (no SO_REUSEPORT): Prometheus must
reach each process at an address of its own, or it would read one process's counters at one
scrape and another's at the next. A second process on a taken port fails to start, naming
TENAZ_METRICS_ADDRESS.
"""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from jobs.metrics import Metrics
from jobs.settings import split_address

log = logging.getLogger(__name__)


class MetricsEndpoint:
    """A started /metrics listener; `port` is the one bound (useful with port 0)."""

    def __init__(self, runner: web.AppRunner, host: str, port: int) -> None:
        self._runner = runner
        self.port = port
        self.url = f"http://{host or '127.0.0.1'}:{port}/metrics"

    async def stop(self) -> None:
        await self._runner.cleanup()


async def start_metrics_endpoint(metrics: Metrics, address: str) -> MetricsEndpoint:
    """Serve `metrics` at http://`address`/metrics ("host:port"; port 0 picks a free one)."""

    # The classic text format (0.0.4), which every Prometheus 2 and 3 reads.
    async def scrape(request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4},
        )

    host, port = split_address(address)
    app = web.Application()
    app.router.add_get("/metrics", scrape)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host or None, port, reuse_port=False)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1]
    log.info("metrics.started", extra={"address": address, "port": bound})
    return MetricsEndpoint(runner, host, bound)
