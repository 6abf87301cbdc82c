"""Builds the connector for a destination row: the one place that knows which
platform class serves which destination kind.

The sandbox kind is the Meta connector talking to the built-in fake Meta
through an in-process transport, so it exercises the very code a real Meta
destination runs, and nothing leaves the machine.
"""

from __future__ import annotations

import random

import httpx

from jobs.clock import Clock
from jobs.platforms.base import Connector
from jobs.platforms.catalog import META_DEFAULT_API_VERSION, META_DEFAULT_BASE_URL
from jobs.platforms.fake_meta import FakeMeta
from jobs.platforms.meta import MetaConnector
from jobs.platforms.sandbox import SandboxTransport
from jobs.secrets import SecretBox
from jobs.store.rows import Destination

SANDBOX_PIXEL_ID = "1234567890"
SANDBOX_TOKEN = "sandbox-token"  # noqa: S105 - the fake platform's own, not a secret


class ConnectorFactory:
    def __init__(
        self, client: httpx.AsyncClient, clock: Clock, secrets: SecretBox, *, timeout: float
    ) -> None:
        self._client = client
        self._clock = clock
        self._secrets = secrets
        self._timeout = timeout
        # One fake platform per sandbox destination, kept so that it
        # deduplicates like Meta across batches.
        self._sandboxes: dict[int, tuple[float, httpx.AsyncClient]] = {}

    def for_destination(self, destination: Destination) -> Connector:
        settings = destination.settings
        if destination.kind == "meta":
            return MetaConnector(
                self._client,
                pixel_id=str(settings["pixel_id"]),
                access_token=self._secrets.decrypt(destination.secret),
                test_event_code=str(settings.get("test_event_code", "")),
                api_version=str(settings.get("api_version") or META_DEFAULT_API_VERSION),
                base_url=str(settings.get("base_url") or META_DEFAULT_BASE_URL),
                timeout=self._timeout,
            )
        if destination.kind == "sandbox":
            return MetaConnector(
                self._sandbox_client(destination),
                pixel_id=SANDBOX_PIXEL_ID,
                access_token=SANDBOX_TOKEN,
                base_url="http://sandbox.tenaz.invalid",
                timeout=self._timeout,
            )
        raise ValueError(f"unknown destination kind {destination.kind!r}")

    def _sandbox_client(self, destination: Destination) -> httpx.AsyncClient:
        rate = float(destination.settings.get("transient_failure_rate", 0.0))
        cached = self._sandboxes.get(destination.id)
        if cached is not None and cached[0] == rate:
            return cached[1]
        fake = FakeMeta(
            now=lambda: self._clock.now().timestamp(),
            transient_failure_rate=rate,
            rng=random.Random(),
        )
        client = httpx.AsyncClient(transport=SandboxTransport(fake))
        self._sandboxes[destination.id] = (rate, client)
        return client

    async def aclose(self) -> None:
        for _, client in self._sandboxes.values():
            await client.aclose()
        self._sandboxes.clear()
