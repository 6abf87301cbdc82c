"""Alerts: rules over destination health, their channels, evaluation and notifications.

`AlertService` manages a workspace's rules and channels (the gRPC edge, which the CLI uses,
and the dashboard call it); `evaluate` runs periodically in the worker
(`tenaz.alerts.evaluate`): it reads only cheap data (migration 0017's counters, the
destinations' needs_action flags, and one index probe per destination that has deliveries
waiting) and applies each rule's hysteresis (jobs/alert_rules.py). A change of state, its
notifications and the jobs that send them are one transaction, held under a transaction-level
advisory lock: when several workers evaluate at once, one does the work and the others find
the lock taken and leave.

`notify` sends one notification (`tenaz.alerts.notify`). Its tries are data, as a delivery's
are: each try is recorded (attempts, last error) and, when it failed and tries remain, the next
job is deferred in the same transaction, after a backoff on the injected clock. The row stays
locked while it is sent, so two jobs for one notification never both send it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from jobs import alert_rules, queue
from jobs.alert_channels import (
    SECRET_NAMES,
    AlertChannel,
    ChannelFailed,
    ChannelSender,
    Notification,
    channel_problems,
    compose,
    with_defaults,
)
from jobs.alert_rules import AlertRule
from jobs.clock import Clock
from jobs.errors import AlreadyExists, FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from jobs.model import Destination
from jobs.names import NAME
from jobs.secrets import SecretBox
from jobs.stats import whole_minute
from jobs.store import alerts as store
from jobs.store import destinations as destination_store

log = logging.getLogger(__name__)

MAX_HISTORY: Final = 500
MAX_BACKOFF: Final = dt.timedelta(hours=1)


@dataclass(frozen=True)
class RuleSpec:
    """A rule as an operator describes it (create, or the new values of an update)."""

    name: str
    condition: str
    destination: str = ""
    threshold: float = 0.0
    window: dt.timedelta = alert_rules.DEFAULT_WINDOW
    min_attempts: int = 1
    recovery: dt.timedelta = alert_rules.DEFAULT_RECOVERY
    channels: Sequence[str] = ()
    enabled: bool = True


@dataclass(frozen=True)
class ChannelSpec:
    """A channel as an operator describes it; `secrets` are write-only."""

    name: str
    kind: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertStatus:
    """A rule as stored, and the destinations its alert fires for now."""

    rule: AlertRule
    firing: tuple[str, ...]


class AlertService:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        clock: Clock,
        app: queue.App,
        secrets: SecretBox,
        sender: ChannelSender,
        *,
        attempts: int,
        retry_wait: dt.timedelta,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._app = app
        self._secrets = secrets
        self._sender = sender
        self._attempts = attempts
        self._retry_wait = retry_wait

    # -- channels ---------------------------------------------------------------------------

    def _open(self, channel: AlertChannel) -> dict[str, str]:
        return self._secrets.open(channel.secret, legacy_name=SECRET_NAMES[channel.kind])

    def _check_channel(self, spec: ChannelSpec) -> None:
        problems = [] if NAME.fullmatch(spec.name) else [_bad_name()]
        problems += channel_problems(spec.kind, spec.settings, spec.secrets, self._sender.egress)
        if problems:
            raise InvalidArgument(problems)

    async def create_channel(self, workspace_id: int, spec: ChannelSpec) -> AlertChannel:
        spec = dataclasses.replace(spec, settings=with_defaults(spec.kind, spec.settings))
        self._check_channel(spec)
        async with self._pool.connection() as conn, conn.transaction():
            created = await store.insert_channel(
                conn,
                workspace_id=workspace_id,
                name=spec.name,
                kind=spec.kind,
                settings=dict(spec.settings),
                secret=self._secrets.seal(spec.secrets),
                now=self._clock.now(),
            )
        if created is None:
            raise AlreadyExists(f"an alert channel named {spec.name!r} exists")
        log.info("alert.channel.created", extra={"channel": spec.name, "kind": spec.kind})
        return created

    async def list_channels(self, workspace_id: int) -> list[AlertChannel]:
        async with self._pool.connection() as conn:
            return await store.channels(conn, workspace_id=workspace_id)

    async def update_channel(
        self, workspace_id: int, name: str, settings: Mapping[str, Any], secrets: Mapping[str, str]
    ) -> AlertChannel:
        """Replace the settings named in `settings` and the secrets given (others are kept)."""
        async with self._pool.connection() as conn, conn.transaction():
            current = await store.channel_for_update(conn, workspace_id=workspace_id, name=name)
            if current is None:
                raise NotFound(f"no alert channel named {name!r}")
            merged = {**current.settings, **settings}
            kept = {**self._open(current), **{k: v for k, v in secrets.items() if v}}
            self._check_channel(ChannelSpec(name, current.kind, merged, kept))
            updated = await store.update_channel(
                conn,
                channel_id=current.id,
                settings=merged,
                secret=self._secrets.seal(kept),
                now=self._clock.now(),
            )
        log.info("alert.channel.updated", extra={"channel": name})
        return updated

    async def delete_channel(self, workspace_id: int, name: str) -> None:
        async with self._pool.connection() as conn, conn.transaction():
            using = await store.rules_naming_channel(conn, workspace_id=workspace_id, name=name)
            if using:
                raise FailedPrecondition(
                    f"alert rules {', '.join(using)} notify {name!r}: change them first"
                )
            if not await store.delete_channel(conn, workspace_id=workspace_id, name=name):
                raise NotFound(f"no alert channel named {name!r}")

    async def test_channel(self, workspace_id: int, workspace: str, name: str) -> Notification:
        """Send a test notification now, record it, and return it (sent or failed)."""
        async with self._pool.connection() as conn, conn.transaction():
            found = await store.channels(conn, workspace_id=workspace_id, names=[name])
            if not found:
                raise NotFound(f"no alert channel named {name!r}")
            [channel] = found
            now = self._clock.now()
            text, body = compose(
                kind="test",
                workspace=workspace,
                rule="",
                condition="",
                destination="",
                detail="",
                at=now,
            )
            notification_id = await store.insert_notification(
                conn,
                workspace_id=workspace_id,
                channel=channel,
                rule_name="",
                destination_name="",
                kind="test",
                text=text,
                body=body,
                now=now,
            )
        await self._try(notification_id, retry=False)
        async with self._pool.connection() as conn:
            [latest] = await store.notifications(
                conn, workspace_id=workspace_id, limit=1, before_id=notification_id + 1
            )
        return latest

    # -- rules ------------------------------------------------------------------------------

    async def _check_rule(self, conn: AsyncConnection, workspace_id: int, spec: RuleSpec) -> None:
        problems = [] if NAME.fullmatch(spec.name) else [_bad_name()]
        problems += alert_rules.rule_problems(
            name=spec.name,
            condition=spec.condition,
            threshold=spec.threshold,
            window=spec.window,
            min_attempts=spec.min_attempts,
            recovery=spec.recovery,
            channels=tuple(spec.channels),
        )
        known = {c.name for c in await store.channels(conn, workspace_id=workspace_id)}
        missing = [c for c in spec.channels if c not in known]
        if missing:
            problems.append(FieldViolation("channels", f"no alert channel {', '.join(missing)}"))
        if spec.destination:
            found = await destination_store.destinations_by_names(
                conn, workspace_id=workspace_id, names=[spec.destination]
            )
            if not found:
                problems.append(FieldViolation("destination", "no destination of that name"))
        if problems:
            raise InvalidArgument(problems)

    async def create_rule(self, workspace_id: int, spec: RuleSpec) -> AlertStatus:
        now = self._clock.now()
        async with self._pool.connection() as conn, conn.transaction():
            await self._check_rule(conn, workspace_id, spec)
            created = await store.insert_rule(conn, _rule(0, workspace_id, spec, now, now))
        if created is None:
            raise AlreadyExists(f"an alert rule named {spec.name!r} exists")
        log.info("alert.rule.created", extra={"rule": spec.name, "condition": spec.condition})
        return AlertStatus(created, ())

    async def update_rule(self, workspace_id: int, spec: RuleSpec) -> AlertStatus:
        """Replace a rule's values (the name stays). Its alerts keep their state: one firing
        resolves by the new values' rule at the next evaluation."""
        async with self._pool.connection() as conn, conn.transaction():
            found = await store.rules(
                conn, workspace_id=workspace_id, name=spec.name, for_update=True
            )
            if not found:
                raise NotFound(f"no alert rule named {spec.name!r}")
            await self._check_rule(conn, workspace_id, spec)
            current = found[0]
            updated = await store.update_rule(
                conn, _rule(current.id, workspace_id, spec, current.created_at, self._clock.now())
            )
        return (await self._statuses(workspace_id, [updated]))[0]

    async def set_rule_enabled(self, workspace_id: int, name: str, enabled: bool) -> AlertStatus:
        """Turn a rule on or off, its values kept. A rule turned off watches nothing, so what
        it fired resolves after its recovery, as for a destination that is well again."""
        async with self._pool.connection() as conn, conn.transaction():
            found = await store.rules(conn, workspace_id=workspace_id, name=name, for_update=True)
            if not found:
                raise NotFound(f"no alert rule named {name!r}")
            current = found[0]
            updated = await store.update_rule(
                conn,
                dataclasses.replace(current, enabled=enabled, updated_at=self._clock.now()),
            )
        log.info("alert.rule.updated", extra={"rule": name, "enabled": enabled})
        return (await self._statuses(workspace_id, [updated]))[0]

    async def list_rules(self, workspace_id: int) -> list[AlertStatus]:
        async with self._pool.connection() as conn:
            found = await store.rules(conn, workspace_id=workspace_id)
        return await self._statuses(workspace_id, found)

    async def delete_rule(self, workspace_id: int, name: str) -> None:
        async with self._pool.connection() as conn, conn.transaction():
            if not await store.delete_rule(conn, workspace_id=workspace_id, name=name):
                raise NotFound(f"no alert rule named {name!r}")

    async def _statuses(self, workspace_id: int, rules: list[AlertRule]) -> list[AlertStatus]:
        async with self._pool.connection() as conn:
            firing = await store.firing_destinations(conn, workspace_id=workspace_id)
            listed = await destination_store.list_destinations(conn, workspace_id=workspace_id)
        names = {d.id: d.name for d in listed}
        return [
            AlertStatus(
                rule,
                tuple(sorted(names.get(i, f"#{i}") for i in firing.get(rule.name, set()))),
            )
            for rule in rules
        ]

    async def history(
        self, workspace_id: int, *, limit: int = 100, before_id: int | None = None
    ) -> list[Notification]:
        if not 0 < limit <= MAX_HISTORY:
            raise InvalidArgument.one("page_size", f"from 1 to {MAX_HISTORY}")
        async with self._pool.connection() as conn:
            return await store.notifications(
                conn, workspace_id=workspace_id, limit=limit, before_id=before_id
            )

    # -- evaluation -------------------------------------------------------------------------

    async def evaluate(self) -> int:
        """Apply every enabled rule once; how many notifications it queued (-1: another
        evaluation held the lock)."""
        now = self._clock.now()
        queued = 0
        async with self._pool.connection() as conn, conn.transaction():
            if not await store.take_evaluation_lock(conn):
                return -1
            by_workspace: dict[int, list[AlertRule]] = {}
            for rule in await store.rules(conn):
                by_workspace.setdefault(rule.workspace_id, []).append(rule)
            for workspace_id, rules in by_workspace.items():
                queued += await self._evaluate_workspace(conn, workspace_id, rules, now)
        if queued:
            log.info("alert.evaluation.finished", extra={"notifications": queued})
        return queued

    async def _evaluate_workspace(
        self, conn: AsyncConnection, workspace_id: int, rules: list[AlertRule], now: dt.datetime
    ) -> int:
        listed = await destination_store.list_destinations(conn, workspace_id=workspace_id)
        watched = [d for d in listed if d.enabled]
        waiting: dict[int, dt.datetime] | None = None
        outcomes: dict[dt.timedelta, dict[int, tuple[int, int]]] = {}
        channels = {c.name: c for c in await store.channels(conn, workspace_id=workspace_id)}
        workspace = await store.workspace_name(conn, workspace_id)
        names = {d.id: d.name for d in listed}
        queued = 0
        for rule in rules:
            if rule.condition == alert_rules.OLDEST_WAITING and waiting is None:
                waiting = await store.oldest_waiting(
                    conn, workspace_id=workspace_id, destination_ids=[d.id for d in watched]
                )
            if rule.condition == alert_rules.SUCCESS_RATE and rule.window not in outcomes:
                outcomes[rule.window] = await store.attempt_outcomes(
                    conn,
                    workspace_id=workspace_id,
                    since=whole_minute(now - rule.window),
                    until=now,
                )
            current = await store.states(conn, rule_id=rule.id)
            held: dict[int, str] = {}
            if rule.enabled:
                for d in watched:
                    if rule.destination and d.name != rule.destination:
                        continue
                    detail = _condition(rule, d, now, waiting or {}, outcomes.get(rule.window, {}))
                    if detail is not None:
                        held[d.id] = detail
            for destination_id in sorted(set(current) | set(held)):
                step = alert_rules.step(
                    current.get(destination_id),
                    holds=destination_id in held,
                    detail=held.get(destination_id, ""),
                    now=now,
                    recovery=rule.recovery,
                )
                if step.state != current.get(destination_id):
                    await store.save_state(
                        conn, rule_id=rule.id, destination_id=destination_id, state=step.state
                    )
                if step.change is None:
                    continue
                destination = names.get(destination_id, f"#{destination_id}")
                log.warning(
                    "alert.changed",
                    extra={"rule": rule.name, "destination": destination, "change": step.change},
                )
                text, body = compose(
                    kind=step.change,
                    workspace=workspace,
                    rule=rule.name,
                    condition=rule.condition,
                    destination=destination,
                    detail=step.state.detail,
                    at=now,
                )
                for channel_name in rule.channels:
                    channel = channels.get(channel_name)
                    if channel is None:
                        continue
                    notification_id = await store.insert_notification(
                        conn,
                        workspace_id=workspace_id,
                        channel=channel,
                        rule_name=rule.name,
                        destination_name=destination,
                        kind=step.change,
                        text=text,
                        body=body,
                        now=now,
                    )
                    await queue.defer_notification(self._app, conn, notification_id=notification_id)
                    queued += 1
        return queued

    # -- sending ----------------------------------------------------------------------------

    async def notify(self, notification_id: int) -> None:
        await self._try(notification_id, retry=True)

    async def _try(self, notification_id: int, *, retry: bool) -> None:
        async with self._pool.connection() as conn, conn.transaction():
            found = await store.notification_to_send(conn, notification_id)
            if found is None:
                return  # sent, or given up, by an earlier job
            notification, channel_id = found
            channel = None if channel_id is None else await store.channel_by_id(conn, channel_id)
            now = self._clock.now()
            error = ""
            try:
                if channel is None:
                    raise ChannelFailed("the channel was deleted")
                await self._sender.send(
                    channel, self._open(channel), notification.id, notification.body, now
                )
            except ChannelFailed as exc:
                error = str(exc)
            tries = notification.attempts + 1
            again = bool(error) and retry and channel is not None and tries < self._attempts
            state = "sent" if not error else ("pending" if again else "failed")
            await store.record_try(
                conn,
                notification_id=notification.id,
                state=state,
                error=error,
                now=self._clock.now(),
            )
            if again:
                wait = min(self._retry_wait * 2 ** (tries - 1), MAX_BACKOFF)
                await queue.defer_notification(
                    self._app, conn, notification_id=notification.id, at=now + wait
                )
        log.log(
            logging.INFO if not error else logging.WARNING,
            "alert.notification.tried",
            extra={
                "notification": notification.id,
                "channel": notification.channel_name,
                "attempt": tries,
                "state": state,
                "error": error,
            },
        )

    # -- secrets ----------------------------------------------------------------------------

    async def rotate_secrets(self) -> int:
        """Seal every channel's secrets with the current key; how many changed."""
        changed = 0
        async with self._pool.connection() as conn, conn.transaction():
            for channel_id, sealed in await store.channel_secrets(conn):
                if self._secrets.is_current(sealed):
                    continue
                resealed = self._secrets.encrypt(self._secrets.decrypt(sealed))
                await store.set_channel_secret(conn, channel_id=channel_id, secret=resealed)
                changed += 1
        return changed


def _condition(
    rule: AlertRule,
    destination: Destination,
    now: dt.datetime,
    waiting: Mapping[int, dt.datetime],
    outcomes: Mapping[int, tuple[int, int]],
) -> str | None:
    """Why the rule's condition holds for the destination now (None: it is clear)."""
    if rule.condition == alert_rules.NEEDS_ACTION:
        if not destination.needs_action:
            return None
        code = f" [{destination.needs_action_code}]" if destination.needs_action_code else ""
        return f"needs action{code}: {destination.needs_action_reason}"
    if rule.condition == alert_rules.SUCCESS_RATE:
        succeeded, other = outcomes.get(destination.id, (0, 0))
        total = succeeded + other
        if total < rule.min_attempts or succeeded / total >= rule.threshold:
            return None
        return (
            f"success rate {succeeded / total:.0%} ({succeeded} of {total} attempts) in the"
            f" last {_span(rule.window)}, under {rule.threshold:.0%}"
        )
    oldest = waiting.get(destination.id)
    if oldest is None or (now - oldest).total_seconds() <= rule.threshold:
        return None
    return (
        f"oldest waiting delivery is {_span(now - oldest)} old, over"
        f" {_span(dt.timedelta(seconds=rule.threshold))}"
    )


def _span(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if (seconds >= size and seconds % size == 0) or seconds >= size * 10:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _rule(
    rule_id: int, workspace_id: int, spec: RuleSpec, created: dt.datetime, updated: dt.datetime
) -> AlertRule:
    return AlertRule(
        id=rule_id,
        workspace_id=workspace_id,
        name=spec.name,
        condition=spec.condition,
        destination=spec.destination,
        threshold=spec.threshold,
        window=spec.window,
        min_attempts=spec.min_attempts,
        recovery=spec.recovery,
        channels=tuple(spec.channels),
        enabled=spec.enabled,
        created_at=created,
        updated_at=updated,
    )


def _bad_name() -> FieldViolation:
    return FieldViolation("name", "letters, digits, '.', '_' or '-', at most 64, e.g. meta-down")
