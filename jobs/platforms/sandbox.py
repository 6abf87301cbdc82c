"""The sandbox destination kind: a platform's fake, in process, plus demo switches.

A sandbox behaves like the platform it stands for (`platform`, Meta unless said otherwise):
its fake accepts valid events, rejects invalid data with the platform's errors, and fails
transiently at the destination's configured rate; the platform's own connector talks to it,
so a sandbox runs the very code a real destination runs, and nothing leaves the machine. So
that a newcomer (or a client library's test) can watch every status on purpose, an event may
also carry in its custom data:

- `sandbox_fail_attempts: N`: its first N attempts fail with a transient "service
  unavailable", and the next one goes through;
- `sandbox_expired_token_attempts: N`: its first N attempts are answered as Meta answers an
  expired access token (code 190, subcode 463), so the destination needs action until an
  attempt goes through again (what an alert on `needs_action` watches);
- `sandbox_reject: true`: the sandbox refuses it as a platform refuses invalid data, so it
  ends *Falha* while its neighbours in the batch go through.

A sandbox lives as long as the worker and any submit key can feed it, so what it remembers is
bounded: a few requests of history, and the last `REMEMBERED` events for deduplication and
scripted failures (the oldest forgotten first).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import httpx

from jobs.canonical import CanonicalEvent
from jobs.lru import LruDict
from jobs.platforms import registry
from jobs.platforms.base import (
    AttemptScope,
    Classification,
    Connector,
    Outcome,
    OutcomeKind,
    OutgoingEvent,
    WrappedConnector,
)
from jobs.platforms.fake_http import FakePlatform, FakeTransport
from jobs.platforms.registry import Bad, ConnectorContext, Platform, SandboxRecipe, Setting

FAIL_ATTEMPTS_KEY = "sandbox_fail_attempts"
EXPIRED_TOKEN_KEY = "sandbox_expired_token_attempts"  # noqa: S105 - a switch, not a token
REJECT_KEY = "sandbox_reject"
HISTORY = 10  # requests kept to look at; nothing in Tenaz reads them
REMEMBERED = 10_000  # events counted (deliveries, scripted failures), oldest forgotten first


def sandbox_fake(
    recipe: SandboxRecipe, now: Callable[[], float], transient_failure_rate: float
) -> FakePlatform:
    """The fake platform behind one sandbox destination, with its memory bounded."""
    module, _, name = recipe.fake.partition(":")
    fake: FakePlatform = getattr(importlib.import_module(module), name)(
        now=now,
        transient_failure_rate=transient_failure_rate,
        rng=random.Random(),
        history_limit=HISTORY,
        received_limit=REMEMBERED,
        **recipe.fake_options,
    )
    return fake


class DemoSwitches(WrappedConnector):
    """A sandbox's connector: the demo switches of the module, then the platform's own
    connector talking to its fake. The switches act per event, whatever platform the
    sandbox behaves as; `failed` counts the scripted failures of the latest events."""

    def __init__(self, inner: Connector, failed: LruDict[tuple[str, str], int]) -> None:
        super().__init__(inner)
        self._failed = failed

    async def send(
        self, batch: Sequence[OutgoingEvent], scope: AttemptScope | None = None
    ) -> list[Outcome]:
        if scope is None:
            scope = AttemptScope.for_batch(len(batch))
        switched: dict[int, Outcome] = {}
        passing = []
        for event in batch:
            outcome = self._switch(event)
            if outcome is None:
                passing.append(event)
            else:
                switched[event.delivery_id] = outcome
        scope.record(list(switched.values()))
        sent = iter(await self._inner.send(passing, scope) if passing else [])
        return [switched.get(e.delivery_id) or next(sent) for e in batch]

    def _switch(self, event: OutgoingEvent) -> Outcome | None:
        canonical = CanonicalEvent(event.payload)
        custom = canonical.custom_data
        if custom.get(REJECT_KEY) is True:
            return _REJECTED.outcome(event.delivery_id, 400)
        for switch, answer, status in _SCRIPTED:
            wanted = custom.get(switch)
            if isinstance(wanted, int | float) and not isinstance(wanted, bool) and wanted > 0:
                # One count per event: the first N attempts fail, by whichever switch.
                key = (canonical.event_name, canonical.event_id)
                failed = self._failed.get(key, 0)
                if failed < wanted:
                    self._failed[key] = failed + 1
                    return answer.outcome(event.delivery_id, status)
        return None


_REJECTED = Classification(
    OutcomeKind.REJECTED,
    message="Invalid parameter (sandbox_reject): the sandbox refuses events marked"
    " sandbox_reject, as a platform refuses invalid data",
)
_UNAVAILABLE = Classification(
    OutcomeKind.EXTERNAL_PROBLEM,
    message="Service temporarily unavailable (sandbox_fail_attempts)",
)
_EXPIRED_TOKEN = Classification(
    OutcomeKind.EXTERNAL_PROBLEM,
    needs_action=True,
    code=190,
    subcode=463,
    message="Error validating access token: Session has expired (sandbox_expired_token_attempts)",
    action="credentials",
)
# The scripted failures, by switch: the answer and its HTTP status.
_SCRIPTED: Final = (
    (FAIL_ATTEMPTS_KEY, _UNAVAILABLE, 503),
    (EXPIRED_TOKEN_KEY, _EXPIRED_TOKEN, 400),
)
SANDBOX_URL = "http://sandbox.tenaz.invalid"


def _behaves_as(settings: Mapping[str, Any]) -> Platform:
    platform = registry.platform(str(settings.get("platform") or DEFAULT_PLATFORM))
    recipe, eligible = platform.sandbox, platform.eligible
    if recipe is None or eligible is None:
        return platform
    # The platform's connector runs with the recipe's settings (`_build`), not the sandbox's:
    # what it can take is judged with those too (a LinkedIn sandbox has conversion rules).
    return dataclasses.replace(
        platform, eligible=lambda event, _settings: eligible(event, recipe.settings)
    )


def _check(settings: Mapping[str, Any], bad: Bad) -> None:
    name = str(settings.get("platform") or DEFAULT_PLATFORM)
    choices = [p.kind for p in registry.platforms().values() if p.sandbox is not None]
    if name not in choices:
        bad("platform", f"one of {', '.join(choices)}")


def _build(context: ConnectorContext) -> Connector:
    platform = _behaves_as(context.settings)
    recipe = platform.sandbox
    assert recipe is not None  # _check refused others
    rate = float(context.settings.get("transient_failure_rate") or 0.0)
    now = context.clock.now

    def client() -> httpx.AsyncClient:
        fake = sandbox_fake(recipe, lambda: now().timestamp(), rate)
        # A client dropped from the factory's memory is not closed: a job may still be
        # sending through it, and its transport is in process, with no connection to release.
        return httpx.AsyncClient(transport=FakeTransport(fake))

    # The fake and the switches' memory live as long as the factory keeps them, so the
    # sandbox counts what it took, and its scripted failures, across attempts.
    kept: tuple[httpx.AsyncClient, LruDict[tuple[str, str], int]] = context.keep(
        ("sandbox", platform.kind, rate), lambda: (client(), LruDict(REMEMBERED))
    )
    urls = {s.name: SANDBOX_URL for s in platform.settings if s.is_url}
    inner = platform.build(
        dataclasses.replace(
            context,
            client=kept[0],
            settings={**recipe.settings, **urls},
            secrets=recipe.secrets,
        )
    )
    return DemoSwitches(inner, kept[1])


DEFAULT_PLATFORM: Final = "meta"

PLATFORM: Final = Platform(
    kind="sandbox",
    display_name="Sandbox",
    settings=(
        Setting(
            "transient_failure_rate",
            "fraction of requests (0 to 1) that fail with a transient error",
            type="number",
            minimum=0.0,
            maximum=1.0,
            default=0.0,
        ),
        Setting(
            "platform",
            "the platform the sandbox behaves as",
            default=DEFAULT_PLATFORM,
            changeable=False,
        ),
    ),
    max_batch_size=1000,
    max_event_age=dt.timedelta(days=7),
    build=_build,
    hash_family=None,
    check=_check,
    behaves_as=_behaves_as,
)
