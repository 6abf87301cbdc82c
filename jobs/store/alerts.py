"""Alert channels, rules, their states and the notifications (SQL for jobs/alerts.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from jobs.alert_channels import AlertChannel, Notification
from jobs.alert_rules import AlertRule, AlertState
from jobs.status import Status

_CHANNEL = "id, workspace_id, name, kind, settings, secret, created_at, updated_at"
_RULE = (
    "id, workspace_id, name, condition, destination, threshold, window_seconds, min_attempts,"
    " recovery_seconds, channels, enabled, created_at, updated_at"
)
_NOTIFICATION = (
    "id, workspace_id, channel_name, rule_name, destination_name, kind, text, body, state,"
    " attempts, last_error, created_at, sent_at"
)
WAITING = (Status.PENDING, Status.WAITING_RETRY)
# Any number that no other advisory lock of Tenaz uses: one evaluation at a time.
_EVALUATION_LOCK = 0x7E4AA1E7


def _rule(row: dict[str, Any]) -> AlertRule:
    window, recovery = row.pop("window_seconds"), row.pop("recovery_seconds")
    row["channels"] = tuple(row["channels"])
    return AlertRule(
        **row, window=dt.timedelta(seconds=window), recovery=dt.timedelta(seconds=recovery)
    )


# -- channels -------------------------------------------------------------------------------


async def insert_channel(
    conn: AsyncConnection,
    *,
    workspace_id: int,
    name: str,
    kind: str,
    settings: dict[str, Any],
    secret: str,
    now: dt.datetime,
) -> AlertChannel | None:
    """The new channel; None when the name is taken in the workspace."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "INSERT INTO tenaz_alert_channels (workspace_id, name, kind, settings, secret,"
        " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        f" ON CONFLICT (workspace_id, name) DO NOTHING RETURNING {_CHANNEL}",
        (workspace_id, name, kind, Jsonb(settings), secret, now, now),
    )
    row = await cur.fetchone()
    return AlertChannel(**row) if row else None


async def channels(
    conn: AsyncConnection, *, workspace_id: int, names: Sequence[str] | None = None
) -> list[AlertChannel]:
    """The workspace's channels by name (only `names`, when given)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT {_CHANNEL} FROM tenaz_alert_channels WHERE workspace_id = %s"
        " AND (%s::text[] IS NULL OR name = ANY(%s::text[])) ORDER BY name",
        (
            workspace_id,
            None if names is None else list(names),
            None if names is None else list(names),
        ),
    )
    return [AlertChannel(**row) for row in await cur.fetchall()]


async def channel_for_update(
    conn: AsyncConnection, *, workspace_id: int, name: str
) -> AlertChannel | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT {_CHANNEL} FROM tenaz_alert_channels WHERE workspace_id = %s AND name = %s"
        " FOR UPDATE",
        (workspace_id, name),
    )
    row = await cur.fetchone()
    return AlertChannel(**row) if row else None


async def channel_by_id(conn: AsyncConnection, channel_id: int) -> AlertChannel | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(f"SELECT {_CHANNEL} FROM tenaz_alert_channels WHERE id = %s", (channel_id,))
    row = await cur.fetchone()
    return AlertChannel(**row) if row else None


async def update_channel(
    conn: AsyncConnection,
    *,
    channel_id: int,
    settings: dict[str, Any],
    secret: str,
    now: dt.datetime,
) -> AlertChannel:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "UPDATE tenaz_alert_channels SET settings = %s, secret = %s, updated_at = %s"
        f" WHERE id = %s RETURNING {_CHANNEL}",
        (Jsonb(settings), secret, now, channel_id),
    )
    row = await cur.fetchone()
    assert row is not None
    return AlertChannel(**row)


async def delete_channel(conn: AsyncConnection, *, workspace_id: int, name: str) -> bool:
    cur = await conn.execute(
        "DELETE FROM tenaz_alert_channels WHERE workspace_id = %s AND name = %s",
        (workspace_id, name),
    )
    return cur.rowcount > 0


async def rules_naming_channel(conn: AsyncConnection, *, workspace_id: int, name: str) -> list[str]:
    cur = await conn.execute(
        "SELECT name FROM tenaz_alert_rules WHERE workspace_id = %s AND %s = ANY(channels)"
        " ORDER BY name",
        (workspace_id, name),
    )
    return [row[0] for row in await cur.fetchall()]


# -- rules ----------------------------------------------------------------------------------


async def insert_rule(conn: AsyncConnection, rule: AlertRule) -> AlertRule | None:
    """The new rule (its id and times from the database row); None when the name is taken."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "INSERT INTO tenaz_alert_rules (workspace_id, name, condition, destination, threshold,"
        " window_seconds, min_attempts, recovery_seconds, channels, enabled, created_at,"
        " updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        f" ON CONFLICT (workspace_id, name) DO NOTHING RETURNING {_RULE}",
        (
            rule.workspace_id,
            rule.name,
            rule.condition,
            rule.destination,
            rule.threshold,
            rule.window.total_seconds(),
            rule.min_attempts,
            rule.recovery.total_seconds(),
            list(rule.channels),
            rule.enabled,
            rule.created_at,
            rule.updated_at,
        ),
    )
    row = await cur.fetchone()
    return _rule(row) if row else None


async def update_rule(conn: AsyncConnection, rule: AlertRule) -> AlertRule:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "UPDATE tenaz_alert_rules SET condition = %s, destination = %s, threshold = %s,"
        " window_seconds = %s, min_attempts = %s, recovery_seconds = %s, channels = %s,"
        f" enabled = %s, updated_at = %s WHERE id = %s RETURNING {_RULE}",
        (
            rule.condition,
            rule.destination,
            rule.threshold,
            rule.window.total_seconds(),
            rule.min_attempts,
            rule.recovery.total_seconds(),
            list(rule.channels),
            rule.enabled,
            rule.updated_at,
            rule.id,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return _rule(row)


async def rules(
    conn: AsyncConnection,
    *,
    workspace_id: int | None = None,
    name: str | None = None,
    for_update: bool = False,
) -> list[AlertRule]:
    """Rules of one workspace (all workspaces with None), or the one named."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT {_RULE} FROM tenaz_alert_rules"
        " WHERE (%s::bigint IS NULL OR workspace_id = %s) AND (%s::text IS NULL OR name = %s)"
        " ORDER BY workspace_id, name" + (" FOR UPDATE" if for_update else ""),
        (workspace_id, workspace_id, name, name),
    )
    return [_rule(row) for row in await cur.fetchall()]


async def delete_rule(conn: AsyncConnection, *, workspace_id: int, name: str) -> bool:
    cur = await conn.execute(
        "DELETE FROM tenaz_alert_rules WHERE workspace_id = %s AND name = %s",
        (workspace_id, name),
    )
    return cur.rowcount > 0


# -- states ---------------------------------------------------------------------------------


async def states(conn: AsyncConnection, *, rule_id: int) -> dict[int, AlertState]:
    """The rule's state per destination id, locked until the transaction ends."""
    cur = await conn.execute(
        "SELECT destination_id, firing, changed_at, clear_since, detail FROM tenaz_alert_states"
        " WHERE rule_id = %s ORDER BY destination_id FOR UPDATE",
        (rule_id,),
    )
    return {r[0]: AlertState(r[1], r[2], r[3], r[4]) for r in await cur.fetchall()}


async def save_state(
    conn: AsyncConnection, *, rule_id: int, destination_id: int, state: AlertState
) -> None:
    await conn.execute(
        "INSERT INTO tenaz_alert_states (rule_id, destination_id, firing, changed_at,"
        " clear_since, detail) VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (rule_id, destination_id) DO UPDATE SET firing = excluded.firing,"
        " changed_at = excluded.changed_at, clear_since = excluded.clear_since,"
        " detail = excluded.detail",
        (rule_id, destination_id, state.firing, state.changed_at, state.clear_since, state.detail),
    )


async def firing_destinations(conn: AsyncConnection, *, workspace_id: int) -> dict[str, set[int]]:
    """Rule name -> destination ids its alerts fire for now."""
    cur = await conn.execute(
        "SELECT r.name, s.destination_id FROM tenaz_alert_states s"
        " JOIN tenaz_alert_rules r ON r.id = s.rule_id"
        " WHERE r.workspace_id = %s AND s.firing",
        (workspace_id,),
    )
    found: dict[str, set[int]] = {}
    for name, destination_id in await cur.fetchall():
        found.setdefault(name, set()).add(destination_id)
    return found


# -- what the conditions read ---------------------------------------------------------------


async def attempt_outcomes(
    conn: AsyncConnection, *, workspace_id: int, since: dt.datetime, until: dt.datetime
) -> dict[int, tuple[int, int]]:
    """Per destination: (succeeded, other) attempts that ended in the window's minutes, from
    migration 0017's counters."""
    cur = await conn.execute(
        "SELECT destination_id, sum(n) FILTER (WHERE outcome = 'succeeded'),"
        " sum(n) FILTER (WHERE outcome <> 'succeeded') FROM tenaz_attempt_counts"
        " WHERE workspace_id = %s AND finished_minute >= %s AND finished_minute <= %s"
        " GROUP BY destination_id",
        (workspace_id, since, until),
    )
    return {r[0]: (int(r[1] or 0), int(r[2] or 0)) for r in await cur.fetchall()}


async def oldest_waiting(
    conn: AsyncConnection, *, workspace_id: int, destination_ids: Sequence[int]
) -> dict[int, dt.datetime]:
    """Per destination with deliveries waiting to go out (the unfinished counters say which,
    their shards summed): when its oldest waiting delivery was created, read off the status
    index in event order."""
    cur = await conn.execute(
        "SELECT destination_id FROM tenaz_unfinished_counts WHERE workspace_id = %s"
        " AND status = ANY(%s) AND destination_id = ANY(%s)"
        " GROUP BY destination_id HAVING sum(n) > 0",
        (workspace_id, list(WAITING), list(destination_ids)),
    )
    waiting = sorted({r[0] for r in await cur.fetchall()})
    found: dict[int, dt.datetime] = {}
    for destination_id in waiting:
        first = (
            "(SELECT created_at FROM tenaz_deliveries WHERE workspace_id = %s AND status = %s"
            " AND destination_id = %s ORDER BY event_id LIMIT 1)"
        )
        cur = await conn.execute(
            f"{first} UNION ALL {first}",
            (workspace_id, WAITING[0], destination_id, workspace_id, WAITING[1], destination_id),
        )
        times = [r[0] for r in await cur.fetchall() if r[0] is not None]
        if times:
            found[destination_id] = min(times)
    return found


# -- notifications --------------------------------------------------------------------------


async def insert_notification(
    conn: AsyncConnection,
    *,
    workspace_id: int,
    channel: AlertChannel,
    rule_name: str,
    destination_name: str,
    kind: str,
    text: str,
    body: dict[str, Any],
    now: dt.datetime,
) -> int:
    cur = await conn.execute(
        "INSERT INTO tenaz_alert_notifications (workspace_id, channel_id, channel_name,"
        " rule_name, destination_name, kind, text, body, state, created_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'pending', %s) RETURNING id",
        (
            workspace_id,
            channel.id,
            channel.name,
            rule_name,
            destination_name,
            kind,
            text,
            Jsonb(body),
            now,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def notification_to_send(
    conn: AsyncConnection, notification_id: int
) -> tuple[Notification, int | None] | None:
    """A pending notification and its channel's id, locked; None when it is not pending."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT {_NOTIFICATION}, channel_id FROM tenaz_alert_notifications"
        " WHERE id = %s AND state = 'pending' FOR UPDATE",
        (notification_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    channel_id = row.pop("channel_id")
    return Notification(**row), channel_id


async def record_try(
    conn: AsyncConnection, *, notification_id: int, state: str, error: str, now: dt.datetime
) -> None:
    """One more try of a notification: its new state and what went wrong ('' when sent)."""
    await conn.execute(
        "UPDATE tenaz_alert_notifications SET attempts = attempts + 1, state = %s,"
        " last_error = %s, sent_at = CASE WHEN %s = 'sent' THEN %s END WHERE id = %s",
        (state, error, state, now, notification_id),
    )


async def notifications(
    conn: AsyncConnection, *, workspace_id: int, limit: int, before_id: int | None = None
) -> list[Notification]:
    """The workspace's notifications, newest first."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT {_NOTIFICATION} FROM tenaz_alert_notifications WHERE workspace_id = %s"
        " AND (%s::bigint IS NULL OR id < %s) ORDER BY id DESC LIMIT %s",
        (workspace_id, before_id, before_id, limit),
    )
    return [Notification(**row) for row in await cur.fetchall()]


# -- the evaluation's lock, names, secrets --------------------------------------------------


async def take_evaluation_lock(conn: AsyncConnection) -> bool:
    """Whether this transaction now holds the evaluation's lock (False: another has it)."""
    cur = await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (_EVALUATION_LOCK,))
    row = await cur.fetchone()
    return bool(row and row[0])


async def workspace_name(conn: AsyncConnection, workspace_id: int) -> str:
    cur = await conn.execute("SELECT name FROM tenaz_workspaces WHERE id = %s", (workspace_id,))
    row = await cur.fetchone()
    return str(row[0]) if row else ""


async def channel_secrets(conn: AsyncConnection) -> list[tuple[int, str]]:
    """(channel id, sealed secrets) of every channel with secrets, locked for rotation."""
    cur = await conn.execute(
        "SELECT id, secret FROM tenaz_alert_channels WHERE secret <> '' ORDER BY id FOR UPDATE"
    )
    return [(r[0], r[1]) for r in await cur.fetchall()]


async def set_channel_secret(conn: AsyncConnection, *, channel_id: int, secret: str) -> None:
    await conn.execute(
        "UPDATE tenaz_alert_channels SET secret = %s WHERE id = %s", (secret, channel_id)
    )
