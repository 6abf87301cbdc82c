"""The registry of platforms: the one place that knows which platforms Tenaz delivers to.

A platform is one module that declares a `Platform`: its kind and display name, its settings
(which are secret, which say where secrets go, how each is checked), its official base URLs,
deadline, batch size, default rate limit, the hashing family it reads, its default event
names, which events it can take at all, and how a batch becomes requests (`build` makes the
connector that does it, and maps the platform's answers to per-event outcomes with its own
error table). Validation, the gRPC mapping, the CLI, the dashboard, the connectors and the
sandbox read the declaration; none of them checks a kind by name. Adding a platform is adding
its module and one line to `_MODULES` below.

Settings travel in `Destination.settings` (plain) and in the destination's encrypted secret
(a JSON object of the secret settings); the proto message of a platform's settings has one
field per setting, with the same name, and `<name>_set` for each secret.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

import httpx

from jobs.canonical import CanonicalEvent
from jobs.clock import Clock

if TYPE_CHECKING:
    from jobs.platforms.base import Connector
    from jobs.platforms.rules import Rule

SettingType = Literal["text", "number", "integer", "flag", "names"]

# Report a problem with one setting: (setting name, what is wrong).
Bad = Callable[[str, str], None]


@dataclass(frozen=True)
class Setting:
    """One setting of a platform, as the proto, the CLI and the dashboard name it."""

    name: str
    # What it is, in the platform's own terms (CLI help, dashboard label).
    help: str
    type: SettingType = "text"
    required: bool = False
    # Write-only and encrypted at rest; the CLI reads it from TENAZ_<KIND>_<NAME>.
    secret: bool = False
    # Says where the secrets go (a host, an account): changing it needs every required
    # secret again in the same update, so a secret only goes where it was given for.
    locates_secrets: bool = False
    # A base URL: its official values (the first is the default); any other must be allowed
    # by the operator (TENAZ_ALLOWED_PLATFORM_URLS). Checked again before every attempt.
    official_urls: tuple[str, ...] = ()
    # A URL of the tenant's own (a webhook): any public https URL, or one the operator allows.
    any_public_url: bool = False
    # Text that must match in full; `pattern_help` says what is expected.
    pattern: re.Pattern[str] | None = None
    pattern_help: str = ""
    # What is wrong with a text value that a pattern cannot say (a secret's decoded length),
    # or None; secrets are checked with it too. It must not repeat the value.
    validate: Callable[[str], str | None] | None = None
    # Inclusive bounds of a number or integer.
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = 256
    default: Any = None
    # False: set when the destination is created, never changed.
    changeable: bool = True

    @property
    def is_url(self) -> bool:
        return bool(self.official_urls) or self.any_public_url


@dataclass(frozen=True)
class ConnectorContext:
    """What a platform's connector is built from, for one destination."""

    client: httpx.AsyncClient
    # The total deadline of one request, in seconds.
    timeout: float
    clock: Clock
    # The destination's settings, checked, with defaults applied (URLs checked again).
    settings: Mapping[str, Any]
    # The destination's secrets, decrypted.
    secrets: Mapping[str, str]
    # Tenaz event name -> the platform's: the destination's own names, then the platform's
    # defaults, then the name as it is.
    event_names: Mapping[str, str] = field(default_factory=dict)
    # What the factory keeps for this destination across attempts (a sandbox's fake, an
    # OAuth access token): `keep(key, make)` is the object kept under `key`, made first if
    # there is none. Bounded: the least recently used are dropped.
    keep: Callable[[Hashable, Callable[[], Any]], Any] = field(default=lambda _key, make: make())

    def event_name(self, name: str) -> str:
        return self.event_names.get(name, name)


@dataclass(frozen=True)
class SandboxRecipe:
    """How the sandbox behaves as this platform: its fake, and credentials the fake takes."""

    # The fake's class, "module:Class", imported only when a sandbox needs it (fakes are for
    # tests and the sandbox). jobs/platforms/sandbox.py builds it with the options every fake
    # takes (clock, failure rate, bounded memory) and `fake_options`, the platform's own.
    fake: str
    settings: Mapping[str, Any]
    secrets: Mapping[str, str]
    fake_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Platform:
    """One ad platform (or the webhook), as every part of Tenaz sees it."""

    # The destination kind: the proto oneof field, the CLI's `create-<kind>` (with "-"
    # for "_"), the dashboard's filter.
    kind: str
    display_name: str
    settings: tuple[Setting, ...]
    max_batch_size: int
    # How old an event the platform still takes; the delivery's deadline is its event time
    # plus this (or plus `age_setting` days, when the destination sets them).
    max_event_age: dt.timedelta
    build: Callable[[ConnectorContext], Connector]
    # The tables that read the platform's answers (jobs/platforms/rules.py), so that a test can
    # walk every row of every platform; none for one that behaves as another.
    classification_tables: tuple[Sequence[Rule[Any]], ...] = ()
    # The hashing family it reads (jobs/pii.FAMILIES); None: none.
    hash_family: str | None = "meta"
    default_event_names: Mapping[str, str] = field(default_factory=dict)
    default_rate_limit: float | None = None
    # An integer setting, in days, that bounds the event age for this destination instead.
    age_setting: str | None = None
    # What is not verified against the platform's own documentation (docs, CLI help).
    unverified: str = ""
    # Checks that involve several settings: settings (checked one by one), bad.
    check: Callable[[Mapping[str, Any], Bad], None] | None = None
    # Why the platform cannot take `event` with these settings (None: it can). An event
    # without explicit destinations skips destinations that cannot take it.
    eligible: Callable[[CanonicalEvent, Mapping[str, Any]], str | None] | None = None
    sandbox: SandboxRecipe | None = None
    # The platform whose rules (deadline, hashing, eligibility, event names) apply to a
    # destination with these settings, when it is not this one (the sandbox behaves as one).
    behaves_as: Callable[[Mapping[str, Any]], Platform] | None = None

    def rules(self, settings: Mapping[str, Any]) -> Platform:
        """The platform whose rules apply to a destination of this kind with `settings`."""
        return self.behaves_as(settings) if self.behaves_as is not None else self

    @property
    def secret_settings(self) -> tuple[Setting, ...]:
        return tuple(s for s in self.settings if s.secret)

    @property
    def plain_settings(self) -> tuple[Setting, ...]:
        return tuple(s for s in self.settings if not s.secret)

    def setting(self, name: str) -> Setting | None:
        return next((s for s in self.settings if s.name == name), None)

    def deadline(self, settings: Mapping[str, Any], event_time: dt.datetime) -> dt.datetime:
        """The last moment the platform may take an event that happened at `event_time`."""
        if self.behaves_as is not None:
            return self.rules(settings).deadline({}, event_time)
        age = self.max_event_age
        if self.age_setting is not None:
            days = settings.get(self.age_setting)
            if isinstance(days, int) and days > 0:
                age = dt.timedelta(days=days)
        return event_time + age

    def event_names(self, overrides: Mapping[str, str]) -> dict[str, str]:
        """Tenaz event name -> the platform's, the destination's `overrides` first."""
        return {**self.default_event_names, **overrides}


# The platform modules, in the order users see them (jobs/platforms/<name>.py, each with
# its PLATFORM); the sandbox comes last.
_MODULES: Final = (
    "meta",
    "tiktok",
    "google_ads",
    "ga4",
    "pinterest",
    "snapchat",
    "kwai",
    "reddit",
    "linkedin",
    "webhook",
    "sandbox",
)


def _module(name: str) -> Any:
    return importlib.import_module(f"jobs.platforms.{name}")


def _load() -> dict[str, Platform]:
    return {p.kind: p for p in (_module(name).PLATFORM for name in _MODULES)}


_PLATFORMS: dict[str, Platform] | None = None


def platforms() -> Mapping[str, Platform]:
    """Every platform, by kind, in the order they are listed to users."""
    global _PLATFORMS
    if _PLATFORMS is None:
        _PLATFORMS = _load()
    return _PLATFORMS


def platform(kind: str) -> Platform:
    """The platform of a destination kind; KeyError for one Tenaz does not know."""
    return platforms()[kind]


def platform_name(kind: str) -> str:
    """A platform's name as users know it ("TikTok"), or the kind if this version lacks it."""
    found = platforms().get(kind)
    return found.display_name if found is not None else kind


def kinds() -> Sequence[str]:
    return tuple(platforms())


SANDBOX: Final = "sandbox"
