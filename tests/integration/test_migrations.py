"""Migrations are tracked: a second run (or a concurrent one) applies nothing."""

from __future__ import annotations

import asyncio
import datetime as dt

import psycopg
import psycopg.types.json
import pytest

import jobs.migrate
from jobs.keys import hash_key
from jobs.migrate import migrate
from jobs.model import AttemptEnd, ChangeFilter
from jobs.platforms.meta import wire_event
from jobs.store import deliveries, events, status_changes, workspaces
from tests.support import status_change

# Workspace 1 with a sandbox destination (1), written by hand into an older schema.
WORKSPACE = (
    "INSERT INTO tenaz_workspaces (id, name) VALUES (1, 'acme');"
    " INSERT INTO tenaz_destinations (id, workspace_id, name, kind, created_at, updated_at)"
    " VALUES (1, 1, 'sandbox', 'sandbox', now(), now());"
)


async def migrate_before(url: str, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Apply the migrations before `name`: the database as an older version left it."""
    everything = list(jobs.migrate._migrations())
    with monkeypatch.context() as patched:
        patched.setattr(
            jobs.migrate, "_migrations", lambda: iter(m for m in everything if m[0] < name)
        )
        await migrate(url)


async def test_migrating_twice_and_concurrently_is_harmless(empty_database: str) -> None:
    url = empty_database
    first, second = await asyncio.gather(migrate(url), migrate(url))
    # Each migration is applied once, by one or the other, each in order.
    assert not set(first) & set(second)
    assert first == sorted(first) and second == sorted(second)
    names = sorted(first + second)
    assert names == [name for name, _ in jobs.migrate._migrations()]
    assert await migrate(url) == []
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM tenaz_schema_migrations").fetchone()
        assert row == (len(names),)


async def test_an_attempt_running_across_the_upgrade_keeps_its_start_and_trigger(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before 0007 a running attempt had an `in_progress` row; after it, the delivery
    carries the start, and the attempt's row is written when it ends."""
    url = empty_database
    started = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    await migrate_before(url, "0007", monkeypatch)
    with psycopg.connect(url) as conn:
        conn.execute(WORKSPACE)
        conn.execute(
            "INSERT INTO tenaz_events (id, workspace_id, event_name, event_id, event_time,"
            "  payload, received_at) VALUES (1, 1, 'Purchase', 'o-1', now(), '{}', now());"
            " INSERT INTO tenaz_deliveries (id, workspace_id, event_id, destination_id,"
            "  status, attempt_count, deadline, created_at, updated_at, lease_expires_at)"
            "  VALUES (1, 1, 1, 1, 'RESENDING', 2, now() + interval '1 day', now(), now(),"
            "  now() + interval '1 minute')"
        )
        conn.execute(
            "INSERT INTO tenaz_attempts (delivery_id, number, trigger, started_at, outcome)"
            " VALUES (1, 2, 'manual', %s, 'in_progress')",
            (started,),
        )
    assert (await migrate(url))[0] == "0007_attempt_written_once"

    async with await psycopg.AsyncConnection.connect(url) as conn:
        [event] = await events.get_events(conn, workspace_id=1, ids=[1], with_attempts=True)
        [running] = event.deliveries[0].attempts
        assert (running.number, running.trigger, running.outcome) == (
            2,
            "manual",
            "in_progress",
        )
        assert running.started_at == started
        [locked] = await deliveries.lock_deliveries(conn, [1])
        assert (locked.next_trigger, locked.attempt_started_at) == ("manual", started)
        # The attempt ends after the upgrade: its row is completed, not doubled.
        await deliveries.record_attempts(
            conn,
            [
                deliveries.AttemptRecord(
                    delivery_id=1,
                    finished_at=started,
                    end=AttemptEnd(
                        number=2,
                        trigger="manual",
                        started_at=started,
                        outcome="succeeded",
                        http_status=200,
                    ),
                )
            ],
        )
        cur = await conn.execute("SELECT number, trigger, outcome FROM tenaz_attempts")
        assert await cur.fetchall() == [(2, "manual", "succeeded")]


async def test_a_key_made_before_scopes_is_admin_and_one_made_without_a_scope_is_submit(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys could do everything before 0011: they keep doing it. A key inserted without a
    scope (by an older `tenaz keys create` during an upgrade) gets the narrower one."""
    url = empty_database
    await migrate_before(url, "0011", monkeypatch)
    older = "tz_made-before-scopes"
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO tenaz_workspaces (id, name) VALUES (1, 'acme')")
        conn.execute(
            "INSERT INTO tenaz_api_keys (workspace_id, key_hash, key_prefix)"
            " VALUES (1, %s, 'tz_made-b')",
            (hash_key(older),),
        )
    assert "0011_key_scopes" in await migrate(url)

    during_upgrade = "tz_made-by-an-older-version"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO tenaz_api_keys (workspace_id, key_hash, key_prefix)"
            " VALUES (1, %s, 'tz_made-b')",
            (hash_key(during_upgrade),),
        )
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO tenaz_api_keys (workspace_id, key_hash, key_prefix, scope)"
                " VALUES (1, %s, 'tz_root', 'root')",
                (hash_key("tz_root"),),
            )
    async with await psycopg.AsyncConnection.connect(url) as conn:
        found = await workspaces.caller_for_key(conn, hash_key(older))
        assert found is not None and found[0].scope == "admin"
        found = await workspaces.caller_for_key(conn, hash_key(during_upgrade))
        assert found is not None and found[0].scope == "submit"


async def test_events_stored_in_metas_shape_are_converted_and_still_delivered_the_same(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before 0014 an event was stored as Meta's server event; after it, in Tenaz's shape,
    from which Meta's connector makes the very same event again."""
    url = empty_database
    await migrate_before(url, "0014", monkeypatch)
    meta_event = {
        "event_name": "Purchase",
        "event_time": 1_760_000_000,
        "event_id": "o-1",
        "action_source": "website",
        "event_source_url": "https://loja.example/obrigado",
        "user_data": {
            "em": "a" * 64,
            "ph": "b" * 64,
            "client_ip_address": "203.0.113.9",
            "client_user_agent": "Mozilla/5.0",
            "fbp": "fb.1.1.2",
        },
        "custom_data": {"value": 10.0, "currency": "BRL"},
    }
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO tenaz_workspaces (id, name) VALUES (1, 'acme');"
            " INSERT INTO tenaz_destinations (id, workspace_id, name, kind, created_at,"
            "  updated_at) VALUES (1, 1, 'meta', 'meta', now(), now())"
        )
        conn.execute(
            "INSERT INTO tenaz_events (id, workspace_id, event_name, event_id, event_time,"
            " payload, received_at) VALUES (1, 1, 'Purchase', 'o-1', now(), %s, now()),"
            " (2, 1, 'Lead', 'o-2', now(), '{\"event_name\": \"Lead\"}', now())",
            (psycopg.types.json.Jsonb(meta_event),),
        )
    assert "0014_platform_neutral_events" in await migrate(url)

    with psycopg.connect(url) as conn:
        rows = dict(conn.execute("SELECT id, payload FROM tenaz_events").fetchall())
        destination = conn.execute(
            "SELECT event_filter, event_names FROM tenaz_destinations"
        ).fetchone()
    assert rows[1]["identifiers"] == {
        "client_ip_address": "203.0.113.9",
        "client_user_agent": "Mozilla/5.0",
        "fbp": "fb.1.1.2",
    }
    assert rows[1]["hashed"] == {"meta": {"em": "a" * 64, "ph": "b" * 64}}
    assert "user_data" not in rows[1]
    assert wire_event(rows[1], lambda name: name) == meta_event
    assert rows[2] == {"event_name": "Lead"}  # nothing to convert
    assert destination == ([], {})


async def test_the_status_log_of_one_row_per_change_is_kept_and_continues_above_it(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before 0022 the log held a row per change: they stay, under their numbers, readable by
    streams and one per row through the view, and new changes are numbered above every
    number the old sequence issued (a rolled-back writer's too: a cursor may stand on it)."""
    url = empty_database
    at = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    await migrate_before(url, "0022", monkeypatch)
    old = [
        # (seq, delivery, from, to, attempt, error)
        (1, 1, None, "PENDING", 0, ""),
        (2, 2, None, "PENDING", 0, ""),
        (3, 1, "PENDING", "SENDING", 1, ""),
        (4, 1, "SENDING", "WAITING_RETRY", 1, "HTTP 503"),
        (5, 2, "PENDING", "SENDING", 1, ""),
    ]
    with psycopg.connect(url) as conn:
        conn.execute(WORKSPACE)
        conn.execute(
            "INSERT INTO tenaz_events (id, workspace_id, event_name, event_id, event_time,"
            "  payload, received_at) VALUES (1, 1, 'Lead', 'o-1', now(), '{}', now()),"
            "  (2, 1, 'Lead', 'o-2', now(), '{}', now())"
        )
        for seq, delivery, before, to, attempt, error in old:
            cur = conn.execute(
                "INSERT INTO tenaz_status_changes (workspace_id, delivery_id, event_id,"
                " destination_id, from_status, to_status, attempt_number, error, at)"
                " VALUES (1, %s, %s, 1, %s, %s, %s, %s, %s) RETURNING seq",
                (delivery, delivery, before, to, attempt, error, at),
            )
            assert cur.fetchone() == (seq,)
        # Retention purged the first change; a writer took number 6 and rolled back.
        conn.execute("DELETE FROM tenaz_status_changes WHERE seq = 1")
        conn.execute("UPDATE tenaz_stream_state SET purged_through = 1")
        conn.commit()
        conn.execute("SELECT nextval('tenaz_status_changes_seq_seq')")
        conn.rollback()
    assert "0022_status_log_by_move" in await migrate(url)

    kept = [(seq, delivery, to, attempt, error) for seq, delivery, _, to, attempt, error in old]
    async with await psycopg.AsyncConnection.connect(url) as conn:
        page = await status_changes.changes_after(
            conn, workspace_id=1, after=1, where=ChangeFilter(), limit=100
        )
        assert page.purged_through == 1
        assert [
            (r.seq, r.delivery_id, r.to_status, r.attempt_number, r.error) for r in page.rows
        ] == kept[1:]
        assert page.cursor == 5
        found = await conn.execute(
            "SELECT seq, delivery_id, to_status, attempt_number, error, from_status, at"
            " FROM tenaz_status_changes ORDER BY seq"
        )
        assert await found.fetchall() == [
            (seq, delivery, to, attempt, error, before, at)
            for seq, delivery, before, to, attempt, error in old[1:]
        ]

        # New changes: one row, numbered above 6.
        moved = [
            status_change(
                at, delivery_id=delivery, event_id=delivery, from_status="SENDING", to="SUCCEEDED"
            )
            for delivery in (2, 1)
        ]
        await status_changes.record_status_changes(conn, moved)
        await conn.commit()
        page = await status_changes.changes_after(
            conn, workspace_id=1, after=page.cursor, where=ChangeFilter(), limit=100
        )
        assert [(r.delivery_id, r.to_status) for r in page.rows] == [
            (2, "SUCCEEDED"),
            (1, "SUCCEEDED"),
        ]
        assert 6 < page.rows[0].seq < page.rows[1].seq == page.cursor
        assert await status_changes.latest_sequence(conn, workspace_id=1) == page.cursor
        found = await conn.execute("SELECT count(*) FROM tenaz_status_moves")
        assert await found.fetchone() == (5,)
