"""The gRPC server: services, health, reflection, and a graceful stop."""

from __future__ import annotations

import logging
import socket

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from tenaz.v1 import (
    alerts_pb2,
    alerts_pb2_grpc,
    destinations_pb2,
    destinations_pb2_grpc,
    events_pb2,
    events_pb2_grpc,
    sources_pb2,
    sources_pb2_grpc,
)

from jobs.runtime import Runtime
from jobs.settings import split_address
from server.alerts_servicer import AlertServicer
from server.auth import ApiInterceptor, KeyCache
from server.destinations_servicer import DestinationServicer
from server.events_servicer import EventServicer
from server.rate_limit import SubmissionLimiter
from server.sources_servicer import WebhookSourceServicer
from server.status_hub import StatusHub
from server.tls import grpc_credentials

log = logging.getLogger(__name__)

# 1,000 events of a few KB each must fit in one SubmitEvents call.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
SERVICE_NAMES = (
    events_pb2.DESCRIPTOR.services_by_name["EventService"].full_name,
    destinations_pb2.DESCRIPTOR.services_by_name["DestinationService"].full_name,
    alerts_pb2.DESCRIPTOR.services_by_name["AlertService"].full_name,
    sources_pb2.DESCRIPTOR.services_by_name["WebhookSourceService"].full_name,
)


class TenazServer:
    """A started gRPC server bound to `port`; `stop()` drains it."""

    def __init__(
        self,
        server: grpc.aio.Server,
        health: HealthServicer,
        hub: StatusHub,
        port: int,
        limiter: SubmissionLimiter,
    ) -> None:
        self.server = server
        self.health = health
        self.hub = hub
        self.port = port
        # The per-key submission limit, which the Conversions API endpoint shares.
        self.limiter = limiter

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking calls, end status streams cleanly, then wait for the rest."""
        await self.health.enter_graceful_shutdown()
        await self.hub.close()
        await self.server.stop(grace)


def _bind_error(address: str) -> OSError | None:
    """Why `address` cannot be listened on, or None if it can.

    gRPC reports only that binding failed, and logs its own line as well; so the
    address is tried here first, with a socket set up as gRPC sets up its own
    (SO_REUSEPORT: a port another Tenaz server shares is no reason; one held by
    any other program is).
    """
    try:
        host, port = split_address(address)
    except ValueError as exc:
        return OSError(str(exc))
    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        for family, kind, proto, _, where in found:
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                probe.bind(where)
                probe.listen()
    except OSError as exc:
        return exc
    return None


async def start_server(runtime: Runtime, address: str) -> TenazServer:
    credentials = grpc_credentials(runtime.settings)
    unusable = _bind_error(address)
    if unusable is not None:
        raise unusable

    server = grpc.aio.server(
        interceptors=[ApiInterceptor(KeyCache.of(runtime.pool), runtime.metrics)],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            ("grpc.keepalive_permit_without_calls", 1),
        ],
    )
    hub = StatusHub(runtime.database_url)
    limiter = SubmissionLimiter(runtime.settings.submit_rate_limit, runtime.settings.submit_burst)
    events_pb2_grpc.add_EventServiceServicer_to_server(EventServicer(runtime, hub, limiter), server)
    destinations_pb2_grpc.add_DestinationServiceServicer_to_server(
        DestinationServicer(runtime), server
    )
    alerts_pb2_grpc.add_AlertServiceServicer_to_server(AlertServicer(runtime), server)
    sources_pb2_grpc.add_WebhookSourceServiceServicer_to_server(
        WebhookSourceServicer(runtime), server
    )
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        (
            *SERVICE_NAMES,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    try:
        port = (
            server.add_secure_port(address, credentials)
            if credentials is not None
            else server.add_insecure_port(address)
        )
    except RuntimeError:
        port = 0
    if port == 0:
        await server.stop(None)  # never started, but its loop-bound parts need an end
        raise _bind_error(address) or OSError(f"gRPC could not listen on {address}")
    await server.start()
    hub.start()
    for name in ("", *SERVICE_NAMES):
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("server.started", extra={"address": address, "port": port})
    return TenazServer(server, health, hub, port, limiter)
