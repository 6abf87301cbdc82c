"""Rows as the store reads them: plain frozen dataclasses, no behaviour."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Workspace:
    id: int
    name: str


@dataclass(frozen=True)
class Caller:
    """The live API key a call was made with: its id, its workspace and its scope."""

    key_id: int
    workspace: Workspace
    scope: str


@dataclass(frozen=True)
class Destination:
    id: int
    workspace_id: int
    name: str
    kind: str
    enabled: bool
    settings: dict[str, Any]
    secret: str
    retry_interval: dt.timedelta | None
    # Events per second; None: no limit.
    rate_limit: float | None
    needs_action: bool
    needs_action_reason: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class Attempt:
    number: int
    trigger: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: str
    http_status: int | None
    platform_code: int | None
    platform_subcode: int | None
    message: str
    response_excerpt: str


@dataclass(frozen=True)
class Delivery:
    id: int
    event_id: int
    destination_id: int
    destination_name: str
    status: str
    failure_reason: str
    attempt_count: int
    next_attempt_at: dt.datetime | None
    deadline: dt.datetime
    last_error: str
    created_at: dt.datetime
    updated_at: dt.datetime
    attempts: tuple[Attempt, ...] = ()


@dataclass(frozen=True)
class Event:
    id: int
    workspace_id: int
    event_name: str
    event_id: str
    event_time: dt.datetime
    payload: dict[str, Any]
    received_at: dt.datetime
    deliveries: tuple[Delivery, ...] = field(default=())


@dataclass(frozen=True)
class StatusChange:
    """One transition of one delivery, as the status stream will serve it."""

    workspace_id: int
    delivery_id: int
    event_id: int
    destination_id: int
    from_status: str | None
    to_status: str
    attempt_number: int
    error: str
    at: dt.datetime
