"""Builds the connector for a destination row from its platform's declaration
(jobs/platforms/registry.py): its settings checked again and given their defaults, its
secrets decrypted, its event names resolved.

The factory keeps, for the `MAX_KEPT` destinations it used last, what their connectors keep
across attempts (`ConnectorContext.keep`): a sandbox's fake platform, an OAuth access token.
A deleted destination's is dropped in time like any other.

A destination whose connector cannot be built (a base URL the egress policy no longer
allows, secrets that cannot be decrypted with TENAZ_SECRET_KEY, a kind this version does not
know) raises `ConnectorUnavailable` with a reason for the operator: the engine flags the
destination as needing action instead of failing every job silently.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import httpx

from jobs.clock import Clock
from jobs.egress import EgressPolicy
from jobs.lru import LruDict
from jobs.model import Destination
from jobs.platforms import registry
from jobs.platforms.base import Connector
from jobs.platforms.registry import ConnectorContext, Platform
from jobs.secrets import SecretBox

# Destinations whose kept objects a worker holds; one used again after it was dropped starts
# afresh (a sandbox forgets which events it took; an OAuth token is fetched again).
MAX_KEPT = 32
# Objects kept per destination: keys change with settings (a sandbox's failure rate), and the
# settings are the tenant's, so the older ones go.
_KEYS_PER_DESTINATION = 4


class ConnectorUnavailable(Exception):
    """The destination cannot be sent to as configured; the message is for the operator,
    `action` says what they must do (jobs/platforms/base.ACTIONS)."""

    def __init__(self, message: str, action: str) -> None:
        super().__init__(message)
        self.action = action


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
        self._kept: LruDict[int, LruDict[Hashable, Any]] = LruDict(MAX_KEPT)

    def for_destination(self, destination: Destination) -> Connector:
        platform = registry.platforms().get(destination.kind)
        if platform is None:
            raise ConnectorUnavailable(
                f"this version of Tenaz does not know the platform {destination.kind!r}",
                "platform",
            )
        settings = self._settings(platform, destination)
        rules = platform.rules(settings)
        context = ConnectorContext(
            client=self._client,
            timeout=self._timeout,
            clock=self._clock,
            settings=settings,
            secrets=self._open(platform, destination),
            event_names=rules.event_names(destination.event_names),
            keep=self._keeper(destination.id),
        )
        return platform.build(context)

    def _settings(self, platform: Platform, destination: Destination) -> dict[str, Any]:
        """The stored settings with defaults, URLs checked again: the allowlist may have
        changed since they were stored."""
        settings = dict(destination.settings)
        for setting in platform.plain_settings:
            value = settings.get(setting.name)
            if value in (None, "") and setting.official_urls:
                value = setting.official_urls[0]
            elif value in (None, "") and setting.default is not None:
                value = setting.default
            if setting.is_url and value:
                try:
                    checked = self._egress.check_url(
                        str(value), setting.official_urls, any_public=setting.any_public_url
                    )
                except ValueError as exc:
                    raise ConnectorUnavailable(f"{setting.name}: {exc}", "egress") from None
                value = str(checked)
            settings[setting.name] = value
        return settings

    def _open(self, platform: Platform, destination: Destination) -> dict[str, str]:
        legacy = platform.secret_settings[0].name if platform.secret_settings else "secret"
        try:
            return self._secrets.open(destination.secret, legacy_name=legacy)
        except ValueError:
            raise ConnectorUnavailable(
                "the destination's secrets cannot be decrypted with TENAZ_SECRET_KEY (a key is"
                " missing from it, or the stored secret is damaged): set them again",
                "secrets",
            ) from None

    def _keeper(self, destination_id: int) -> Callable[[Hashable, Callable[[], Any]], Any]:
        def keep(key: Hashable, make: Callable[[], Any]) -> Any:
            kept = self._kept.get(destination_id)
            if kept is None:
                kept = self._kept[destination_id] = LruDict(_KEYS_PER_DESTINATION)
            else:
                self._kept.move_to_end(destination_id)
            if key in kept:
                kept.move_to_end(key)
            else:
                kept[key] = make()
            return kept[key]

        return keep

    async def aclose(self) -> None:
        for kept in self._kept.values():
            for value in kept.values():
                for item in value if isinstance(value, tuple) else (value,):
                    if isinstance(item, httpx.AsyncClient):
                        await item.aclose()
        self._kept.clear()
