"""Managing destinations: validation, write-only secrets, and what a change sets in motion.

A destination's access token is stored but never returned. A new token is the
operator's fix for a destination that `needs_action`: it clears the flag and
brings the waiting retries forward, so the backlog goes out at once instead of
at the next 30-minute mark. Deleting a destination ends its unfinished
deliveries: nothing can send them any more, and an event waits for retention
only until all its deliveries are finished.

A secret is only ever sent where it was given for: a base URL must pass the egress
policy (the platform's own, or one the operator allowed), and changing a setting that
says where secrets go (a base URL, an account id) needs the platform's secrets again in
the same request.

What a platform's settings are, and how each is checked, is the platform's declaration
(jobs/platforms/registry.py); this module applies it to whichever platform it is.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from jobs import endings, queue
from jobs.clock import Clock
from jobs.egress import EgressPolicy
from jobs.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound
from jobs.metrics import Metrics
from jobs.model import Destination
from jobs.names import NAME
from jobs.platforms import registry
from jobs.platforms.registry import Setting
from jobs.secrets import SecretBox
from jobs.store import deliveries, destinations

log = logging.getLogger(__name__)

MIN_RETRY_INTERVAL = dt.timedelta(seconds=1)
# Meta deduplicates an event sent twice only within 48 hours: an attempt whose answer never
# came (a timeout) may have reached it, and its retry must come well inside that window.
MAX_RETRY_INTERVAL = dt.timedelta(hours=24)
MIN_RATE_LIMIT, MAX_RATE_LIMIT = 1.0, 100_000.0

# The fields any destination has, by their update-mask paths; a platform's settings are
# "<kind>.<setting>".
_COMMON_PATHS = frozenset(
    {"enabled", "retry_interval", "rate_limit", "event_filter", "event_names"}
)
MAX_EVENT_FILTER = 100
MAX_EVENT_NAMES = 100


def updatable_paths() -> frozenset[str]:
    """Every update-mask path UpdateDestination takes."""
    return _COMMON_PATHS | {
        f"{platform.kind}.{setting.name}"
        for platform in registry.platforms().values()
        for setting in platform.settings
        if setting.changeable
    }


@dataclass(frozen=True)
class DestinationSpec:
    """A destination as an operator describes it (create, or the values of an update)."""

    name: str
    kind: str
    enabled: bool = True
    settings: Mapping[str, Any] = field(default_factory=dict)
    # The platform's secret settings (name -> value); write-only.
    secrets: Mapping[str, str] = field(default_factory=dict)
    retry_interval: dt.timedelta | None = None
    # Events per second; None: no limit.
    rate_limit: float | None = None
    event_filter: Sequence[str] = ()
    event_names: Mapping[str, str] = field(default_factory=dict)


class DestinationService:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        clock: Clock,
        app: queue.App,
        secrets: SecretBox,
        egress: EgressPolicy,
        metrics: Metrics,
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        self._clock = clock
        self._app = app
        self._secrets = secrets
        self._egress = egress

    def _open(self, destination: Destination) -> dict[str, str]:
        """The destination's stored secrets, to keep those an update does not replace."""
        platform = registry.platform(destination.kind)
        legacy = platform.secret_settings[0].name if platform.secret_settings else "secret"
        return self._secrets.open(destination.secret, legacy_name=legacy)

    async def create(self, workspace_id: int, spec: DestinationSpec) -> Destination:
        violations: list[FieldViolation] = []
        if not NAME.fullmatch(spec.name):
            violations.append(
                FieldViolation(
                    "destination.name",
                    "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
                )
            )
        settings = _validated_settings(spec, violations, self._egress)
        _check_interval(spec.retry_interval, violations)
        _check_rate(spec.rate_limit, violations)
        _check_event_filter(spec.event_filter, violations)
        _check_event_names(spec.event_names, violations)
        if violations:
            raise InvalidArgument(violations)
        async with self._pool.connection() as conn, conn.transaction():
            created = await destinations.insert_destination(
                conn,
                workspace_id=workspace_id,
                name=spec.name,
                kind=spec.kind,
                enabled=spec.enabled,
                settings=settings,
                secret=self._secrets.seal(spec.secrets),
                retry_interval=spec.retry_interval,
                rate_limit=spec.rate_limit,
                event_filter=tuple(spec.event_filter),
                event_names=dict(spec.event_names),
                now=self._clock.now(),
            )
        if created is None:
            raise AlreadyExists(f"a destination named {spec.name!r} already exists")
        log.info("destination.created", extra={"destination": created.id, "kind": created.kind})
        return created

    async def get(self, workspace_id: int, name: str) -> Destination:
        _check_named(name, "name")
        async with self._pool.connection() as conn:
            found = await destinations.get_destination(conn, workspace_id=workspace_id, name=name)
        if found is None:
            raise NotFound(f"no destination named {name!r}")
        return found

    async def list_all(self, workspace_id: int) -> list[Destination]:
        async with self._pool.connection() as conn:
            return await destinations.list_destinations(conn, workspace_id=workspace_id)

    async def update(
        self, workspace_id: int, values: DestinationSpec, paths: list[str]
    ) -> Destination:
        if not paths:
            raise InvalidArgument.one("update_mask", "name at least one field to change")
        allowed = updatable_paths()
        unknown = [p for p in paths if p not in allowed]
        if unknown:
            raise InvalidArgument(
                [
                    FieldViolation(
                        "update_mask",
                        f"{p!r} cannot be changed; changeable: " + ", ".join(sorted(allowed)),
                    )
                    for p in unknown
                ]
            )
        _check_named(values.name, "destination.name")
        # What can be checked without the stored destination is checked before reading it.
        violations: list[FieldViolation] = []
        if "retry_interval" in paths:
            _check_interval(values.retry_interval, violations)
        if "rate_limit" in paths:
            _check_rate(values.rate_limit, violations)
        if "event_filter" in paths:
            _check_event_filter(values.event_filter, violations)
        if "event_names" in paths:
            _check_event_names(values.event_names, violations)
        if violations:
            raise InvalidArgument(violations)
        now = self._clock.now()
        async with self._pool.connection() as conn, conn.transaction():
            current = await destinations.get_destination(
                conn, workspace_id=workspace_id, name=values.name, for_update=True
            )
            if current is None:
                raise NotFound(f"no destination named {values.name!r}")
            foreign = [p for p in paths if "." in p and p.split(".")[0] != current.kind]
            if foreign:
                raise InvalidArgument(
                    [
                        FieldViolation(
                            "update_mask", f"{p!r} does not apply to a {current.kind} destination"
                        )
                        for p in foreign
                    ]
                )
            platform = registry.platform(current.kind)
            changed = {p.split(".", 1)[1] for p in paths if "." in p}
            new_secrets = {s.name for s in platform.secret_settings if s.name in changed}
            settings = dict(current.settings)
            for name in changed - new_secrets:
                settings[name] = values.settings.get(name)
            secrets = (
                self._open(current) | {name: values.secrets.get(name, "") for name in new_secrets}
                if new_secrets
                else {}
            )
            merged = DestinationSpec(
                name=current.name,
                kind=current.kind,
                enabled=values.enabled if "enabled" in paths else current.enabled,
                settings=settings,
                secrets=secrets,
                retry_interval=(
                    values.retry_interval if "retry_interval" in paths else current.retry_interval
                ),
                rate_limit=values.rate_limit if "rate_limit" in paths else current.rate_limit,
                event_filter=(
                    values.event_filter if "event_filter" in paths else current.event_filter
                ),
                event_names=values.event_names if "event_names" in paths else current.event_names,
            )
            # A stored URL is checked again only when it changes: a destination whose URL the
            # operator no longer allows can still be disabled, or have its limits changed (it
            # is sent nothing either way: see jobs/connectors.py).
            clean = _validated_settings(
                merged, violations, self._egress, check_urls=changed, check_secrets=new_secrets
            )
            refused = {v.field for v in violations}
            moved = [
                s.name
                for s in platform.settings
                if s.locates_secrets
                and s.name in changed
                and f"destination.{current.kind}.{s.name}" not in refused
                and clean.get(s.name) != current.settings.get(s.name)
            ]
            for secret in platform.secret_settings:
                if moved and secret.required and secret.name not in new_secrets:
                    violations.append(
                        FieldViolation(
                            f"destination.{current.kind}.{secret.name}",
                            f"required again when {' or '.join(moved)} changes: a secret is"
                            " only sent where it was given for",
                        )
                    )
            if violations:
                raise InvalidArgument(violations)
            updated = await destinations.update_destination(
                conn,
                destination_id=current.id,
                enabled=merged.enabled,
                settings=clean,
                secret=self._secrets.seal(secrets) if new_secrets else current.secret,
                retry_interval=merged.retry_interval,
                rate_limit=merged.rate_limit,
                needs_action=current.needs_action and not new_secrets,
                needs_action_reason="" if new_secrets else current.needs_action_reason,
                needs_action_code="" if new_secrets else current.needs_action_code,
                event_filter=tuple(merged.event_filter),
                event_names=dict(merged.event_names),
                now=now,
            )
            became_usable = bool(new_secrets) or ("enabled" in paths and merged.enabled)
            if became_usable and updated.enabled:
                if new_secrets:
                    await deliveries.make_waiting_due(conn, destination_id=current.id, now=now)
                await queue.defer_delivery(self._app, conn, destination_id=current.id)
        log.info("destination.updated", extra={"destination": updated.id, "fields": list(paths)})
        return updated

    async def resolve(
        self, workspace_id: int, names: Sequence[str], field: str, *, indexed: bool = False
    ) -> list[Destination]:
        """`resolve_names` on a connection of its own."""
        async with self._pool.connection() as conn:
            return await resolve_names(
                conn, workspace_id=workspace_id, names=names, field=field, indexed=indexed
            )

    async def rotate_secrets(self) -> int:
        """Re-encrypt every stored secret with the current key; return how many changed."""
        changed = 0
        async with self._pool.connection() as conn, conn.transaction():
            for destination_id, stored in await destinations.secrets_of_all(conn):
                if not self._secrets.is_current(stored):
                    fresh = self._secrets.encrypt(self._secrets.decrypt(stored))
                    await destinations.set_secret(conn, destination_id=destination_id, secret=fresh)
                    changed += 1
        log.info("destination.secrets.rotated", extra={"destinations": changed})
        return changed

    async def delete(self, workspace_id: int, name: str) -> int:
        """Delete the destination and end its unfinished deliveries as FAILED
        `destination_deleted`; return how many were ended.

        The first transaction locks the destination (waiting for submissions that
        hold it, see `SubmissionService`), deletes it and ends a first batch of its
        deliveries: from its commit on, no submission can choose the destination,
        and a destination with few deliveries is done in that one transaction. The
        rest end in more batches, each its own short transaction (with a second
        chance for rows a worker held a moment ago); if this process stops before
        they are done, the sweeper finishes them.
        """
        _check_named(name, "name")
        async with self._pool.connection() as conn, conn.transaction():
            current = await destinations.get_destination(
                conn, workspace_id=workspace_id, name=name, for_update=True
            )
            if current is None:
                raise NotFound(f"no destination named {name!r}")
            now = self._clock.now()
            await destinations.soft_delete_destination(conn, destination_id=current.id, now=now)
            batch = endings.of_deleted(self._app, current.id)
            ended, writes = await batch(conn, now)
        self._metrics.written(writes)
        ended += await endings.in_batches(self._pool, self._clock, batch, self._metrics)
        log.info(
            "destination.deleted", extra={"destination": current.id, "deliveries_ended": ended}
        )
        return ended


async def resolve_names(
    conn: AsyncConnection,
    *,
    workspace_id: int,
    names: Sequence[str],
    field: str,
    indexed: bool = False,
) -> list[Destination]:
    """The workspace's destinations `names` name, in their order: the one resolver of
    destination names in requests and filters.

    An unknown name is INVALID_ARGUMENT naming `field` (`field[i]` when `indexed`): a
    request or filter naming a destination that does not exist is bad input, not a missing
    resource. Deleted destinations are unknown.
    """
    found = await destinations.destinations_by_names(
        conn, workspace_id=workspace_id, names=list(names)
    )
    unknown = [
        FieldViolation(f"{field}[{index}]" if indexed else field, f"no destination named {name!r}")
        for index, name in enumerate(names)
        if name not in found
    ]
    if unknown:
        raise InvalidArgument(unknown)
    return [found[name] for name in names]


def _check_named(name: str, field: str) -> None:
    if not name:
        raise InvalidArgument.one(field, "required: the destination's name")


def _check_interval(interval: dt.timedelta | None, violations: list[FieldViolation]) -> None:
    if interval is not None and not (MIN_RETRY_INTERVAL <= interval <= MAX_RETRY_INTERVAL):
        violations.append(
            FieldViolation("destination.retry_interval", "must be between 1 second and 24 hours")
        )


def _check_rate(rate: float | None, violations: list[FieldViolation]) -> None:
    if rate is not None and not (math.isfinite(rate) and MIN_RATE_LIMIT <= rate <= MAX_RATE_LIMIT):
        violations.append(
            FieldViolation(
                "destination.rate_limit",
                f"events per second between {MIN_RATE_LIMIT:g} and {MAX_RATE_LIMIT:g},"
                " or 0 for no limit",
            )
        )


def _check_event_filter(names: Sequence[str], violations: list[FieldViolation]) -> None:
    if len(names) > MAX_EVENT_FILTER:
        violations.append(
            FieldViolation("destination.event_filter", f"at most {MAX_EVENT_FILTER} names")
        )
    for index, name in enumerate(names):
        if not _is_text(name, 128):
            violations.append(
                FieldViolation(f"destination.event_filter[{index}]", "an event name (1-128)")
            )


def _check_event_names(names: Mapping[str, str], violations: list[FieldViolation]) -> None:
    if len(names) > MAX_EVENT_NAMES:
        violations.append(
            FieldViolation("destination.event_names", f"at most {MAX_EVENT_NAMES} names")
        )
    for key, value in names.items():
        if not (_is_text(key, 128) and _is_text(value, 128)):
            violations.append(
                FieldViolation(
                    f"destination.event_names[{key!r}]",
                    "event names of 1 to 128 characters, no surrounding spaces",
                )
            )


def _is_text(value: object, limit: int) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= limit
        and value == value.strip()
        and "\x00" not in value
    )


def _empty(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, Mapping | list | tuple) and not value)


def _check_setting(setting: Setting, value: object) -> str | None:
    """What is wrong with one setting's value (not empty), or None."""
    if setting.type == "text":
        if not isinstance(value, str) or "\x00" in value:
            return "text without NUL characters"
        if len(value) > setting.max_length:
            return f"at most {setting.max_length} characters"
        if setting.pattern is not None and not setting.pattern.fullmatch(value):
            return setting.pattern_help or "not in the expected form"
        return setting.validate(value) if setting.validate is not None else None
    if setting.type in ("number", "integer"):
        number_type = int if setting.type == "integer" else int | float
        if (
            not isinstance(value, number_type)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            return "a number" if setting.type == "number" else "a whole number"
        low, high = setting.minimum, setting.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            return f"between {low:g} and {high:g}"
        return None
    if setting.type == "flag":
        return None if isinstance(value, bool) else "true or false"
    # names: event name -> text
    if not isinstance(value, Mapping) or len(value) > MAX_EVENT_NAMES:
        return f"at most {MAX_EVENT_NAMES} event names, each with its value"
    for key, item in value.items():
        if not (_is_text(key, 128) and _is_text(item, setting.max_length)):
            return "event names and values as text, no surrounding spaces"
        if setting.pattern is not None and not setting.pattern.fullmatch(item):
            return f"{key}: {setting.pattern_help or 'not in the expected form'}"
    return None


def _validated_settings(
    spec: DestinationSpec,
    violations: list[FieldViolation],
    egress: EgressPolicy,
    *,
    check_urls: Collection[str] | None = None,
    check_secrets: Collection[str] | None = None,
) -> dict[str, Any]:
    """The spec's plain settings, checked by its platform's declaration (unset ones left
    out: defaults apply when the destination is used). URLs are checked against the egress
    policy, and secrets for presence, all of them or only those named."""
    platform = registry.platforms().get(spec.kind)
    if platform is None:
        violations.append(
            FieldViolation(
                "destination.platform", f"set exactly one of: {', '.join(registry.kinds())}"
            )
        )
        return {}
    path = f"destination.{spec.kind}"

    def bad(name: str, description: str) -> None:
        violations.append(FieldViolation(f"{path}.{name}", description))

    clean: dict[str, Any] = {}
    for setting in platform.plain_settings:
        value = spec.settings.get(setting.name)
        if _empty(value):
            if setting.required:
                help_ = setting.pattern_help
                bad(setting.name, help_ if help_.startswith("required") else "required")
            continue
        problem = _check_setting(setting, value)
        if problem is not None:
            bad(setting.name, problem)
            continue
        if setting.is_url and (check_urls is None or setting.name in check_urls):
            try:
                value = str(
                    egress.check_url(
                        str(value), setting.official_urls, any_public=setting.any_public_url
                    )
                )
            except ValueError as exc:
                bad(setting.name, str(exc))
                continue
        clean[setting.name] = value
    for setting in platform.secret_settings:
        if check_secrets is not None and setting.name not in check_secrets:
            continue
        value = spec.secrets.get(setting.name, "")
        if setting.required and not value.strip():
            bad(setting.name, "required")
        elif value and (len(value) > 4096 or "\x00" in value):
            bad(setting.name, "at most 4096 characters, no NUL")
        elif value and setting.validate is not None and (problem := setting.validate(value)):
            bad(setting.name, problem)
    if platform.check is not None and not violations:
        platform.check(clean, bad)
    return clean
