"""Reading events back: one event with its attempts, or a filtered, paged list.

Page tokens are opaque to callers: they carry the last event id seen, so pages
stay stable while new events arrive.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses

from psycopg_pool import AsyncConnectionPool

from jobs.destinations import resolve_names
from jobs.digits import is_ascii_digits
from jobs.errors import InvalidArgument, NotFound
from jobs.model import DeliveryFilter, Event
from jobs.store import events

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def encode_page_token(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode()


def decode_page_token(token: str) -> int | None:
    if not token:
        return None
    try:
        version, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if version == "v1" and is_ascii_digits(value):
            return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidArgument.one("page_token", "not a token returned by ListEvents")


class EventReads:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def get(self, workspace_id: int, event_id: str) -> Event:
        if not is_ascii_digits(event_id):
            raise InvalidArgument.one("id", "an event id is a number, as SubmitEvent returned it")
        async with self._pool.connection() as conn:
            found = await events.get_events(
                conn, workspace_id=workspace_id, ids=[int(event_id)], with_attempts=True
            )
        if not found:
            raise NotFound(f"no event with id {event_id}")
        return found[0]

    async def list(
        self,
        workspace_id: int,
        where: DeliveryFilter,
        *,
        destination_name: str,
        page_size: int,
        page_token: str,
    ) -> tuple[list[Event], str]:
        if page_size < 0:
            raise InvalidArgument.one("page_size", "must not be negative")
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        before_id = decode_page_token(page_token)
        async with self._pool.connection() as conn:
            if destination_name:
                [found] = await resolve_names(
                    conn, workspace_id=workspace_id, names=[destination_name], field="destination"
                )
                where = dataclasses.replace(where, destination_id=found.id)
            page = await events.list_events(
                conn, workspace_id=workspace_id, where=where, before_id=before_id, limit=size + 1
            )
        next_token = encode_page_token(page[size - 1].id) if len(page) > size else ""
        return page[:size], next_token
