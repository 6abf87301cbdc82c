"""Managing destinations: validation, write-only secrets, and what a change sets in motion.

A destination's access token is stored but never returned. A new token is the
operator's fix for a destination that `needs_action`: it clears the flag and
brings the waiting retries forward, so the backlog goes out at once instead of
at the next 30-minute mark. Deleting a destination ends its unfinished
deliveries: nothing can send them any more, and an event waits for retention
only until all its deliveries are finished.

A token is only ever sent where it was given for: a base URL must pass the egress
policy (the platform's own, or one the operator allowed), and changing the base URL
or the account (pixel id) needs the token again in the same request.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from jobs import endings, queue
from jobs.clock import Clock
from jobs.egress import EgressPolicy
from jobs.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound
from jobs.model import Destination
from jobs.platforms.catalog import KINDS, OFFICIAL_BASE_URLS, SECRET_TARGET_SETTINGS
from jobs.secrets import SecretBox
from jobs.store import deliveries, destinations

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# re.ASCII: \d alone matches every script's digits ("١٢٣"), which Meta's ids and versions are not.
_PIXEL_ID = re.compile(r"^\d{1,32}$", re.ASCII)
_API_VERSION = re.compile(r"^v\d{1,3}\.\d{1,3}$", re.ASCII)
MIN_RETRY_INTERVAL = dt.timedelta(seconds=1)
# Meta deduplicates an event sent twice only within 48 hours: an attempt whose answer never
# came (a timeout) may have reached it, and its retry must come well inside that window.
MAX_RETRY_INTERVAL = dt.timedelta(hours=24)
MIN_RATE_LIMIT, MAX_RATE_LIMIT = 1.0, 100_000.0

# Which settings each kind has, and which update-mask paths may change them.
_SETTING_KEYS = {
    "meta": ("pixel_id", "test_event_code", "api_version", "base_url"),
    "sandbox": ("transient_failure_rate",),
}
UPDATABLE_PATHS = frozenset(
    {"enabled", "retry_interval", "rate_limit", "meta.access_token"}
    | {f"{kind}.{key}" for kind, keys in _SETTING_KEYS.items() for key in keys}
)


@dataclass(frozen=True)
class DestinationSpec:
    """A destination as an operator describes it (create, or the values of an update)."""

    name: str
    kind: str
    enabled: bool = True
    settings: Mapping[str, Any] = field(default_factory=dict)
    secret: str = ""
    retry_interval: dt.timedelta | None = None
    # Events per second; None: no limit.
    rate_limit: float | None = None


class DestinationService:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        clock: Clock,
        app: queue.App,
        secrets: SecretBox,
        egress: EgressPolicy,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._app = app
        self._secrets = secrets
        self._egress = egress

    async def create(self, workspace_id: int, spec: DestinationSpec) -> Destination:
        violations: list[FieldViolation] = []
        if not _NAME.fullmatch(spec.name):
            violations.append(
                FieldViolation(
                    "destination.name",
                    "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
                )
            )
        settings = _validated_settings(spec, violations, self._egress)
        _check_interval(spec.retry_interval, violations)
        _check_rate(spec.rate_limit, violations)
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
                secret=self._secrets.encrypt(spec.secret),
                retry_interval=spec.retry_interval,
                rate_limit=spec.rate_limit,
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
        unknown = [p for p in paths if p not in UPDATABLE_PATHS]
        if unknown:
            raise InvalidArgument(
                [
                    FieldViolation(
                        "update_mask",
                        f"{p!r} cannot be changed; changeable: "
                        + ", ".join(sorted(UPDATABLE_PATHS)),
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
            settings = dict(current.settings)
            for path in paths:
                if "." in path and path != "meta.access_token":
                    key = path.split(".", 1)[1]
                    settings[key] = values.settings.get(key)
            merged = DestinationSpec(
                name=current.name,
                kind=current.kind,
                enabled=values.enabled if "enabled" in paths else current.enabled,
                settings=settings,
                secret=values.secret if "meta.access_token" in paths else current.secret,
                retry_interval=(
                    values.retry_interval if "retry_interval" in paths else current.retry_interval
                ),
                rate_limit=values.rate_limit if "rate_limit" in paths else current.rate_limit,
            )
            # The stored URL is checked again only when it changes: a destination whose URL
            # the operator no longer allows can still be disabled, or have its limits changed
            # (it is sent nothing either way: see jobs/connectors.py).
            clean = _validated_settings(
                merged, violations, self._egress, check_url="meta.base_url" in paths
            )
            new_token = "meta.access_token" in paths
            moved = [
                key
                for key in SECRET_TARGET_SETTINGS.get(current.kind, ())
                if f"{current.kind}.{key}" in paths and clean.get(key) != current.settings.get(key)
            ]
            if moved and not new_token:
                violations.append(
                    FieldViolation(
                        f"destination.{current.kind}.access_token",
                        f"required again when {' or '.join(moved)} changes: a token is only"
                        " sent where it was given for",
                    )
                )
            if violations:
                raise InvalidArgument(violations)
            updated = await destinations.update_destination(
                conn,
                destination_id=current.id,
                enabled=merged.enabled,
                settings=clean,
                secret=self._secrets.encrypt(merged.secret) if new_token else current.secret,
                retry_interval=merged.retry_interval,
                rate_limit=merged.rate_limit,
                needs_action=current.needs_action and not new_token,
                needs_action_reason="" if new_token else current.needs_action_reason,
                now=now,
            )
            became_usable = new_token or ("enabled" in paths and merged.enabled)
            if became_usable and updated.enabled:
                if new_token:
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
            ended = await batch(conn, now)
        ended += await endings.in_batches(self._pool, self._clock, batch)
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


def _validated_settings(
    spec: DestinationSpec,
    violations: list[FieldViolation],
    egress: EgressPolicy,
    *,
    check_url: bool = True,
) -> dict[str, Any]:
    if spec.kind not in KINDS:
        violations.append(
            FieldViolation("destination.platform", "set exactly one of: meta, sandbox")
        )
        return {}
    given = spec.settings
    clean = {
        key: given[key] for key in _SETTING_KEYS[spec.kind] if given.get(key) not in (None, "")
    }
    if spec.kind == "meta":
        path = "destination.meta"
        if not _PIXEL_ID.fullmatch(str(clean.get("pixel_id", ""))):
            violations.append(FieldViolation(f"{path}.pixel_id", "required: the pixel's digits"))
        if not spec.secret.strip():
            violations.append(FieldViolation(f"{path}.access_token", "required"))
        version = clean.get("api_version")
        if version is not None and not _API_VERSION.fullmatch(str(version)):
            violations.append(FieldViolation(f"{path}.api_version", "a version such as v25.0"))
        base_url = clean.get("base_url")
        if base_url is not None and check_url:
            try:
                checked = egress.check_base_url(str(base_url), OFFICIAL_BASE_URLS[spec.kind])
            except ValueError as exc:
                violations.append(FieldViolation(f"{path}.base_url", str(exc)))
            else:
                clean["base_url"] = str(checked)
        if len(str(clean.get("test_event_code", ""))) > 64:
            violations.append(FieldViolation(f"{path}.test_event_code", "at most 64 characters"))
    else:
        rate = given.get("transient_failure_rate", 0.0) or 0.0
        if not isinstance(rate, int | float) or not math.isfinite(rate) or not 0 <= rate <= 1:
            violations.append(
                FieldViolation("destination.sandbox.transient_failure_rate", "between 0 and 1")
            )
        clean = {"transient_failure_rate": float(rate) if isinstance(rate, int | float) else 0.0}
    return clean
