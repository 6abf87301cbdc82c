"""Builds the connector for a destination row: the one place that knows which
platform class serves which destination kind.

The sandbox kind is the Meta connector talking to the built-in fake Meta
through an in-process transport, so it exercises the very code a real Meta
destination runs, and nothing leaves the machine. A worker keeps the fakes of
the `MAX_SANDBOXES` sandboxes it used last (a deleted destination's is dropped
in time like any other).

A destination whose connector cannot be built (its base URL is no longer allowed
by the egress policy, its token cannot be decrypted with TENAZ_SECRET_KEY) raises
`ConnectorUnavailable` with a reason for the operator: the engine flags the
destination as needing action instead of failing every job silently.
"""

from __future__ import annotations

import httpx

from jobs.clock import Clock
from jobs.egress import EgressPolicy
from jobs.lru import LruDict
from jobs.model import Destination
from jobs.platforms.base import Connector
from jobs.platforms.catalog import (
    META_DEFAULT_API_VERSION,
    META_DEFAULT_BASE_URL,
    OFFICIAL_BASE_URLS,
)
from jobs.platforms.meta import MetaConnector
from jobs.platforms.sandbox import SandboxTransport, sandbox_platform
from jobs.secrets import SecretBox

SANDBOX_PIXEL_ID = "1234567890"
SANDBOX_TOKEN = "sandbox-token"  # noqa: S105 - the fake platform's own, not a secret
# Sandboxes whose fake platform a worker keeps; one used again after it was dropped starts
# afresh, forgetting which events it took and which scripted failures it answered.
MAX_SANDBOXES = 32


class ConnectorUnavailable(Exception):
    """The destination cannot be sent to as configured; the message is for the operator."""


class ConnectorFactory:
    def __init__(
        self,
        client: httpx.AsyncClient,
        clock: Clock,
        secrets: SecretBox,
        egress: EgressPolicy,
        *,
        timeout: float,
    ) -> None:
        self._client = client
        self._clock = clock
        self._secrets = secrets
        self._egress = egress
        self._timeout = timeout
        # One fake platform per sandbox destination, kept so that it counts the events it
        # took and its scripted failures across batches, as Meta would.
        self._sandboxes: LruDict[int, tuple[float, httpx.AsyncClient]] = LruDict(MAX_SANDBOXES)

    def for_destination(self, destination: Destination) -> Connector:
        settings = destination.settings
        if destination.kind == "meta":
            return MetaConnector(
                self._client,
                pixel_id=str(settings["pixel_id"]),
                access_token=self._secret(destination),
                test_event_code=str(settings.get("test_event_code", "")),
                api_version=str(settings.get("api_version") or META_DEFAULT_API_VERSION),
                base_url=self._base_url(destination, META_DEFAULT_BASE_URL),
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

    def _secret(self, destination: Destination) -> str:
        try:
            return self._secrets.decrypt(destination.secret)
        except ValueError:
            raise ConnectorUnavailable(
                "the access token cannot be decrypted with TENAZ_SECRET_KEY (a key is"
                " missing from it, or the stored token is damaged): set the token again"
            ) from None

    def _base_url(self, destination: Destination, default: str) -> str:
        """The stored base URL, checked again: the allowlist may have changed since."""
        given = str(destination.settings.get("base_url") or default)
        try:
            return str(self._egress.check_base_url(given, OFFICIAL_BASE_URLS[destination.kind]))
        except ValueError as exc:
            raise ConnectorUnavailable(f"base URL: {exc}") from None

    def _sandbox_client(self, destination: Destination) -> httpx.AsyncClient:
        rate = float(destination.settings.get("transient_failure_rate", 0.0))
        cached = self._sandboxes.get(destination.id)
        if cached is not None and cached[0] == rate:
            self._sandboxes.move_to_end(destination.id)
            return cached[1]
        fake = sandbox_platform(lambda: self._clock.now().timestamp(), rate)
        # A client dropped from the cache is not closed: a job may still be sending through
        # it, and its transport is in process, with no connection to release.
        client = httpx.AsyncClient(transport=SandboxTransport(fake))
        self._sandboxes[destination.id] = (rate, client)
        return client

    async def aclose(self) -> None:
        for _, client in self._sandboxes.values():
            await client.aclose()
        self._sandboxes.clear()
