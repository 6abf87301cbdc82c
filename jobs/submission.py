"""Accepting events: validate, hash personal data, store, and queue the first attempt.

Everything one submission writes (events, deliveries, their first status
change, and the queue job that will send them) commits in one transaction, so
an acknowledged event is always stored and always has a job to deliver it, and
a rejected one leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg_pool import AsyncConnectionPool

from jobs import queue, retry_policy
from jobs.clock import Clock
from jobs.errors import FailedPrecondition, FieldViolation, InvalidArgument
from jobs.pii import InvalidPersonalData, hash_user_data
from jobs.platforms.catalog import ACTION_SOURCES, deadline_for
from jobs.settings import Settings
from jobs.status import Status
from jobs.store import destinations as destination_store
from jobs.store import events as event_store
from jobs.store.rows import Destination, Event, StatusChange
from jobs.store.status_changes import record_status_changes

log = logging.getLogger(__name__)

MAX_BATCH = 1000
MAX_ID_LENGTH = 256
MAX_NAME_LENGTH = 128
MAX_URL_LENGTH = 2048
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class ContentInput:
    id: str
    quantity: int = 0
    item_price: float = 0.0


@dataclass(frozen=True)
class EventInput:
    """An event as the caller sent it, before validation."""

    event_id: str
    event_name: str
    event_time: dt.datetime | None
    action_source: str = ""
    event_source_url: str = ""
    user_data: Mapping[str, str] = field(default_factory=dict)
    value: float | None = None
    currency: str = ""
    order_id: str = ""
    contents: Sequence[ContentInput] = ()
    content_type: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    destinations: Sequence[str] = ()


@dataclass(frozen=True)
class SubmitResult:
    event: Event
    duplicate: bool


@dataclass(frozen=True)
class _Prepared:
    new: event_store.NewEvent
    destinations: list[Destination]


class SubmissionService:
    def __init__(
        self, pool: AsyncConnectionPool, clock: Clock, settings: Settings, app: queue.App
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._settings = settings
        self._app = app

    async def submit(
        self, workspace_id: int, events: Sequence[EventInput], *, batch: bool
    ) -> list[SubmitResult]:
        """Store `events` (all or none) and queue their deliveries.

        Field paths in errors are `event.<field>` for a single submission and
        `events[i].<field>` for a batch.
        """
        if batch and not events:
            raise InvalidArgument.one("events", "at least one event is required")
        if len(events) > MAX_BATCH:
            raise InvalidArgument.one(
                "events", f"at most {MAX_BATCH} events per call, got {len(events)}"
            )
        now = self._clock.now()
        async with self._pool.connection() as conn, conn.transaction():
            all_named = {
                d.name: d
                for d in await destination_store.list_destinations(conn, workspace_id=workspace_id)
            }
            enabled = [d for d in all_named.values() if d.enabled]
            by_name = {d.name: d for d in enabled}
            violations: list[FieldViolation] = []
            prepared: list[_Prepared] = []
            for index, event in enumerate(events):
                path = f"events[{index}]" if batch else "event"
                item = self._prepare(event, path, now, by_name, all_named, enabled, violations)
                if item is not None:
                    prepared.append(item)
            if violations:
                raise InvalidArgument(violations)

            unique: dict[tuple[str, str], _Prepared] = {}
            for item in prepared:
                unique.setdefault((item.new.event_name, item.new.event_id), item)
            ids = await event_store.insert_events(
                conn,
                workspace_id=workspace_id,
                events=[item.new for item in unique.values()],
                now=now,
            )
            new_ids = {key: id_ for key, (id_, duplicate) in ids.items() if not duplicate}
            await self._create_deliveries(conn, workspace_id, unique, new_ids, now)

            seen: set[tuple[str, str]] = set()
            results_meta: list[tuple[int, bool]] = []
            for item in prepared:
                key = (item.new.event_name, item.new.event_id)
                id_, duplicate = ids[key]
                results_meta.append((id_, duplicate or key in seen))
                seen.add(key)
        async with self._pool.connection() as conn:
            stored = {
                e.id: e
                for e in await event_store.get_events(
                    conn, workspace_id=workspace_id, ids=sorted({i for i, _ in results_meta})
                )
            }
        log.info(
            "event.submitted workspace=%s events=%d new=%d duplicates=%d",
            workspace_id,
            len(events),
            len(new_ids),
            sum(1 for _, dup in results_meta if dup),
        )
        return [SubmitResult(event=stored[i], duplicate=dup) for i, dup in results_meta]

    async def _create_deliveries(
        self,
        conn: Any,
        workspace_id: int,
        unique: Mapping[tuple[str, str], _Prepared],
        new_ids: Mapping[tuple[str, str], int],
        now: dt.datetime,
    ) -> None:
        rows: list[tuple[int, int, dt.datetime]] = []
        for key, event_id in new_ids.items():
            item = unique[key]
            for destination in item.destinations:
                deadline = deadline_for(destination.kind, item.new.event_time)
                rows.append((event_id, destination.id, deadline))
        created = await event_store.insert_deliveries(
            conn, workspace_id=workspace_id, rows=rows, now=now
        )
        for destination_id in sorted({d for _, _, d in created}):
            await queue.defer_delivery(self._app, conn, destination_id=destination_id)
        await record_status_changes(
            conn,
            [
                StatusChange(
                    workspace_id=workspace_id,
                    delivery_id=delivery_id,
                    event_id=event_id,
                    destination_id=destination_id,
                    from_status=None,
                    to_status=Status.PENDING,
                    attempt_number=0,
                    error="",
                    at=now,
                )
                for delivery_id, event_id, destination_id in created
            ],
        )

    def _prepare(
        self,
        event: EventInput,
        path: str,
        now: dt.datetime,
        enabled_by_name: Mapping[str, Destination],
        all_by_name: Mapping[str, Destination],
        enabled: Sequence[Destination],
        violations: list[FieldViolation],
    ) -> _Prepared | None:
        before = len(violations)

        def bad(name: str, description: str) -> None:
            violations.append(FieldViolation(f"{path}.{name}", description))

        _check_text(event.event_id, "event_id", MAX_ID_LENGTH, bad)
        _check_text(event.event_name, "event_name", MAX_NAME_LENGTH, bad)

        targets: list[Destination] = []
        if event.destinations:
            for index, name in enumerate(event.destinations):
                if name in enabled_by_name:
                    if enabled_by_name[name] not in targets:
                        targets.append(enabled_by_name[name])
                elif name in all_by_name:
                    bad(f"destinations[{index}]", f"destination {name!r} is disabled")
                else:
                    bad(f"destinations[{index}]", f"no destination named {name!r}")
        elif not enabled:
            raise FailedPrecondition(
                "the workspace has no enabled destination: create one before submitting events"
            )
        else:
            targets = list(enabled)

        event_time = event.event_time
        if event_time is None:
            bad("event_time", "required")
        else:
            if event_time > now + self._settings.max_future_skew:
                bad("event_time", "is in the future; send the time the conversion happened")
            elif targets and any(
                not retry_policy.can_send(now, deadline_for(d.kind, event_time)) for d in targets
            ):
                bad("event_time", "is older than the platform accepts (Meta: 7 days)")

        action_source = event.action_source or "website"
        if action_source not in ACTION_SOURCES:
            bad("action_source", f"must be one of {', '.join(sorted(ACTION_SOURCES))}")
        url = event.event_source_url
        if url and (
            len(url) > MAX_URL_LENGTH
            or not url.startswith(("http://", "https://"))
            or "\x00" in url
        ):
            bad("event_source_url", "must be an http(s) URL of at most 2048 characters")

        try:
            user_data = hash_user_data(
                event.user_data,
                default_phone_country_code=self._settings.default_phone_country_code,
            )
        except InvalidPersonalData as exc:
            bad(f"user_data.{exc.field}", exc.message)
            user_data = {}
        if not user_data and len(violations) == before:
            bad(
                "user_data",
                "at least one customer parameter is required (email, phone, external_id,"
                " fbp, fbc, or client_ip_address with client_user_agent)",
            )

        custom = _custom_data(event, bad)
        if len(violations) > before or event_time is None:
            return None
        payload: dict[str, Any] = {
            "event_name": event.event_name,
            "event_time": int(event_time.timestamp()),
            "event_id": event.event_id,
            "action_source": action_source,
            "user_data": user_data,
        }
        if url:
            payload["event_source_url"] = url
        if custom:
            payload["custom_data"] = custom
        return _Prepared(
            new=event_store.NewEvent(
                event_name=event.event_name,
                event_id=event.event_id,
                event_time=event_time,
                order_id=event.order_id,
                payload=payload,
            ),
            destinations=targets,
        )


def _check_text(value: str, name: str, limit: int, bad: Any) -> None:
    if not value.strip():
        bad(name, "required")
    elif "\x00" in value:
        bad(name, "must not contain NUL characters")
    elif len(value) > limit:
        bad(name, f"at most {limit} characters")
    elif value != value.strip():
        bad(name, "must not start or end with spaces")


def _custom_data(event: EventInput, bad: Any) -> dict[str, Any]:
    custom: dict[str, Any] = dict(event.extra)
    if event.value is not None:
        if not math.isfinite(event.value) or event.value < 0:
            bad("custom_data.value", "must be a non-negative number")
        custom["value"] = event.value
        if not event.currency:
            bad("custom_data.currency", "required when value is set (ISO 4217, e.g. BRL)")
    if event.currency:
        currency = event.currency.upper()
        if not _CURRENCY.match(currency):
            bad("custom_data.currency", "must be an ISO 4217 code such as BRL or USD")
        custom["currency"] = currency
    if event.order_id:
        if "\x00" in event.order_id or len(event.order_id) > MAX_ID_LENGTH:
            bad("custom_data.order_id", f"at most {MAX_ID_LENGTH} characters, no NUL")
        custom["order_id"] = event.order_id
    if event.content_type:
        custom["content_type"] = event.content_type
    if event.contents:
        contents = []
        for index, item in enumerate(event.contents):
            if not item.id:
                bad(f"custom_data.contents[{index}].id", "required")
            if item.quantity < 0 or not math.isfinite(item.item_price) or item.item_price < 0:
                bad(f"custom_data.contents[{index}]", "quantity and item_price must be >= 0")
            entry: dict[str, Any] = {"id": item.id}
            if item.quantity:
                entry["quantity"] = item.quantity
            if item.item_price:
                entry["item_price"] = item.item_price
            contents.append(entry)
        custom["contents"] = contents
        custom.setdefault("content_ids", [item.id for item in event.contents])
    return custom
