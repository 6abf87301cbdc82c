"""Webhook sources: checkouts that call Tenaz on each sale, and what their calls become.

Managing them (create, list, update, delete) keeps the secret write-only and sealed as a
destination's is. Receiving (`receive`) verifies the request against the source's secret
before anything else, reads it with the source's checkout (jobs/checkouts), and submits the
sale through the same path as SubmitEvent (checks, hashing, deduplication): the event id is
made of the checkout, its transaction id and the conversion's name, so the checkout's
retries and its second event for one sale are duplicates, whatever their envelopes say.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from psycopg_pool import AsyncConnectionPool

from jobs.checkouts import CHECKOUTS, BadPayload, Sale, SignedRequest
from jobs.checkouts.base import json_body
from jobs.checkouts.generic import fields_problem
from jobs.clock import Clock
from jobs.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound
from jobs.model import WebhookSource
from jobs.names import NAME, NAME_HELP
from jobs.platforms import standard_webhooks
from jobs.secrets import SecretBox
from jobs.store import destinations as destination_store
from jobs.store import webhook_sources as store
from jobs.submission import SubmissionService
from jobs.validation import MAX_NAME_LENGTH, EventInput

log = logging.getLogger(__name__)

MAX_EVENT_NAMES: Final = 100
MAX_SECRET_LENGTH: Final = 1024
# The paths UpdateWebhookSource may change.
UPDATE_PATHS: Final = frozenset({"secret", "event_names", "fields", "destinations"})


class Unauthorized(Exception):
    """The request does not carry the source's token or a signature made with its secret."""


class UnknownRoute(Exception):
    """No source of that checkout at that route."""


@dataclass(frozen=True)
class SourceSpec:
    name: str
    kind: str
    secret: str = ""
    event_names: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)
    destinations: Sequence[str] = ()


@dataclass(frozen=True)
class Received:
    """What a request became: the checkout's type, and the event stored (or found stored)."""

    event_type: str
    event_name: str = ""
    event_id: str = ""
    duplicate: bool = False

    @property
    def sent(self) -> bool:
        return bool(self.event_name)


def source_events(source: WebhookSource) -> dict[str, str]:
    """The checkout's type -> Tenaz's event name, the source's choices over the defaults
    (a type chosen as "" sends nothing)."""
    chosen = source.options.get("events", {})
    events = {**CHECKOUTS[source.kind].default_events, **chosen}
    return {t: name for t, name in events.items() if name}


def event_id(kind: str, sale: Sale) -> str:
    return f"{kind}:{sale.transaction}:{sale.event_name}"


def event_input(source: WebhookSource, sale: Sale, now: dt.datetime) -> EventInput:
    # A checkout writes its times in its own way (some without a zone): a time ahead of
    # Tenaz's clock is the moment the call arrived, which cannot be early.
    event_time = min(sale.event_time or now, now)
    return EventInput(
        event_id=event_id(source.kind, sale),
        event_name=sale.event_name,
        event_time=event_time,
        user_data=dict(sale.user_data),
        value=sale.value,
        currency=sale.currency.upper(),
        order_id=sale.order_id,
        contents=list(sale.contents),
        content_type="product" if sale.contents else "",
        extra=dict(sale.extra),
        destinations=list(source.destinations),
    )


class WebhookSourceService:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        clock: Clock,
        secrets: SecretBox,
        submissions: SubmissionService,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._secrets = secrets
        self._submissions = submissions

    # -- managing -------------------------------------------------------------------------

    async def create(self, workspace_id: int, spec: SourceSpec) -> WebhookSource:
        problems = _spec_problems(spec, creating=True)
        if problems:
            raise InvalidArgument(problems)
        async with self._pool.connection() as conn, conn.transaction():
            await _check_destinations(conn, workspace_id, spec.destinations)
            created = await store.insert_source(
                conn,
                workspace_id=workspace_id,
                name=spec.name,
                kind=spec.kind,
                secret=self._secrets.encrypt(spec.secret),
                options=_options(spec),
                destinations=list(spec.destinations),
                now=self._clock.now(),
            )
        if created is None:
            raise AlreadyExists(f"a webhook source named {spec.name!r} exists")
        log.info("webhook_source.created", extra={"workspace": workspace_id, "source": spec.name})
        return created

    async def list(self, workspace_id: int) -> list[WebhookSource]:
        async with self._pool.connection() as conn:
            return await store.list_sources(conn, workspace_id=workspace_id)

    async def update(
        self, workspace_id: int, spec: SourceSpec, paths: Sequence[str]
    ) -> WebhookSource:
        """Replace the fields named in `paths` (UPDATE_PATHS) of the workspace's source
        `spec.name`; the kind never changes."""
        unknown = sorted(set(paths) - UPDATE_PATHS)
        if unknown or not paths:
            raise InvalidArgument.one(
                "update_mask", f"name one or more of {', '.join(sorted(UPDATE_PATHS))}"
            )
        async with self._pool.connection() as conn, conn.transaction():
            current = {s.name: s for s in await store.list_sources(conn, workspace_id=workspace_id)}
            if spec.name not in current:
                raise NotFound(f"no webhook source named {spec.name!r}")
            source = current[spec.name]
            merged = SourceSpec(
                name=spec.name,
                kind=source.kind,
                secret=spec.secret if "secret" in paths else "",
                event_names=(
                    spec.event_names if "event_names" in paths else source.options.get("events", {})
                ),
                fields=spec.fields if "fields" in paths else source.options.get("fields", {}),
                destinations=spec.destinations if "destinations" in paths else source.destinations,
            )
            problems = _spec_problems(merged, creating="secret" in paths)
            if problems:
                raise InvalidArgument(problems)
            await _check_destinations(conn, workspace_id, merged.destinations)
            changes: dict[str, Any] = {
                "options": _options(merged),
                "destinations": list(merged.destinations),
            }
            if "secret" in paths:
                changes["secret"] = self._secrets.encrypt(merged.secret)
            await store.update_source(
                conn,
                workspace_id=workspace_id,
                name=spec.name,
                changes=changes,
                now=self._clock.now(),
            )
            [updated] = [
                s
                for s in await store.list_sources(conn, workspace_id=workspace_id)
                if s.name == spec.name
            ]
        log.info("webhook_source.updated", extra={"workspace": workspace_id, "source": spec.name})
        return updated

    async def delete(self, workspace_id: int, name: str) -> None:
        async with self._pool.connection() as conn:
            if not await store.delete_source(conn, workspace_id=workspace_id, name=name):
                raise NotFound(f"no webhook source named {name!r}")
        log.info("webhook_source.deleted", extra={"workspace": workspace_id, "source": name})

    async def rotate_secrets(self) -> int:
        """Re-seal every source's secret with the first key (`tenaz secrets rotate`)."""
        changed = 0
        async with self._pool.connection() as conn, conn.transaction():
            for source_id, sealed in await store.sealed_secrets(conn):
                if not self._secrets.is_current(sealed):
                    resealed = self._secrets.encrypt(self._secrets.decrypt(sealed))
                    await store.set_secret(conn, source_id=source_id, secret=resealed)
                    changed += 1
        return changed

    # -- receiving ------------------------------------------------------------------------

    async def find(self, kind: str, route: str) -> WebhookSource:
        """The source of checkout `kind` at `route`; UnknownRoute when there is none."""
        if kind not in CHECKOUTS:
            raise UnknownRoute
        async with self._pool.connection() as conn:
            source = await store.source_by_route(conn, name=route)
        if source is None or source.kind != kind:
            raise UnknownRoute
        return source

    def verify(self, source: WebhookSource, request: SignedRequest) -> None:
        """Raise Unauthorized unless the request carries the source's token or signature."""
        if not CHECKOUTS[source.kind].verify(self._secrets.decrypt(source.secret), request):
            raise Unauthorized

    async def receive(self, source: WebhookSource, request: SignedRequest) -> Received:
        """Read a verified call and store its sale, or count its type when the source sends
        nothing for it. Raises BadPayload, or the submission path's InvalidArgument and
        FailedPrecondition."""
        reading = CHECKOUTS[source.kind].read(
            json_body(request.body), source_events(source), source.options
        )
        if reading.sale is None:
            async with self._pool.connection() as conn:
                await store.count_ignored(
                    conn,
                    source_id=source.id,
                    event_type=reading.event_type[:MAX_NAME_LENGTH],
                    now=self._clock.now(),
                )
            return Received(reading.event_type)
        sale = reading.sale
        call = self._submissions.check([event_input(source, sale, request.now)], batch=False)
        [result] = await self._submissions.submit_checked(source.workspace_id, call)
        return Received(
            reading.event_type, sale.event_name, result.event.event_id, result.duplicate
        )


def _options(spec: SourceSpec) -> dict[str, Any]:
    options: dict[str, Any] = {"events": dict(spec.event_names)}
    if spec.kind == "generic":
        options["fields"] = dict(spec.fields)
    return options


def _spec_problems(spec: SourceSpec, *, creating: bool) -> list[FieldViolation]:
    problems = []

    def bad(name: str, description: str) -> None:
        problems.append(FieldViolation(f"source.{name}", description))

    if not NAME.fullmatch(spec.name):
        bad("name", NAME_HELP)
    if spec.kind not in CHECKOUTS:
        bad("kind", f"must be one of {', '.join(sorted(CHECKOUTS))}")
    if creating:
        if not spec.secret.strip():
            bad("secret", "required: the checkout's token or signing key")
        elif len(spec.secret) > MAX_SECRET_LENGTH:
            bad("secret", f"at most {MAX_SECRET_LENGTH} characters")
        elif spec.kind == "generic" and (problem := standard_webhooks.secret_problem(spec.secret)):
            bad("secret", problem)
    if len(spec.event_names) > MAX_EVENT_NAMES:
        bad("event_names", f"at most {MAX_EVENT_NAMES}")
    for event_type, name in spec.event_names.items():
        if not event_type.strip() or len(event_type) > MAX_NAME_LENGTH:
            bad("event_names", f"an event type must be 1 to {MAX_NAME_LENGTH} characters")
        if len(name) > MAX_NAME_LENGTH or name != name.strip():
            bad(f"event_names[{event_type}]", "an event name of at most 128 characters")
    if spec.kind == "generic":
        if problem := fields_problem(spec.fields):
            bad("fields", problem)
        if not any(spec.event_names.values()):
            bad("event_names", "say which of the sender's event types become which event")
    elif spec.fields:
        bad("fields", "only a generic source says where its fields are")
    return problems


async def _check_destinations(conn: Any, workspace_id: int, names: Sequence[str]) -> None:
    known = {
        d.name for d in await destination_store.list_destinations(conn, workspace_id=workspace_id)
    }
    missing = [n for n in names if n not in known]
    if missing:
        raise InvalidArgument.one("source.destinations", f"no destination named {missing[0]!r}")


__all__ = [
    "BadPayload",
    "Received",
    "SourceSpec",
    "Unauthorized",
    "UnknownRoute",
    "WebhookSourceService",
    "event_input",
    "source_events",
]
