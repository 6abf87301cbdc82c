"""The baseline's gRPC service: store each event, defer one procrastinate job per event.

`python -m bench.baseline.server --database-url URL --listen 127.0.0.1:PORT --api-key KEY`
serves SubmitEvent and SubmitEvents of `tenaz.v1.EventService` (the other
methods answer UNIMPLEMENTED) and the standard health service, until SIGTERM.

One call is one transaction: the events (duplicates skipped, as Tenaz does) and one job per
new event, batch-deferred on the same connection. The job carries the event's platform
payload, so the worker sends it without reading it back.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from tenaz.v1 import events_pb2, events_pb2_grpc

from bench.baseline.worker import DELIVER_TASK, build_app
from jobs.pii import InvalidPersonalData, hash_user_data

MAX_BATCH = 1000
_USER_FIELDS = tuple(f.name for f in events_pb2.UserData.DESCRIPTOR.fields)
_PENDING = events_pb2.DELIVERY_STATUS_PENDING


class InvalidEvent(ValueError):
    pass


@dataclass(frozen=True)
class Prepared:
    event_name: str
    event_id: str
    payload: dict[str, Any]


def prepare(event: events_pb2.Event, where: str) -> Prepared:
    """The event in Meta's wire format, personal data hashed (the same rules as Tenaz)."""
    if not event.event_id or not event.event_name:
        raise InvalidEvent(f"{where}: event_id and event_name are required")
    if not event.HasField("event_time"):
        raise InvalidEvent(f"{where}: event_time is required")
    user = {name: getattr(event.user_data, name) for name in _USER_FIELDS}
    try:
        user_data = hash_user_data({k: v for k, v in user.items() if v})
    except InvalidPersonalData as exc:
        raise InvalidEvent(f"{where}.user_data.{exc.field}: {exc.message}") from None
    if not user_data:
        raise InvalidEvent(f"{where}.user_data: at least one customer parameter is required")
    payload: dict[str, Any] = {
        "event_name": event.event_name,
        "event_time": event.event_time.seconds,
        "event_id": event.event_id,
        "action_source": event.action_source or "website",
        "user_data": user_data,
    }
    if event.event_source_url:
        payload["event_source_url"] = event.event_source_url
    custom = event.custom_data
    custom_data: dict[str, Any] = {}
    if custom.HasField("value"):
        custom_data["value"] = custom.value
    if custom.currency:
        custom_data["currency"] = custom.currency.upper()
    if custom.order_id:
        custom_data["order_id"] = custom.order_id
    if custom.content_type:
        custom_data["content_type"] = custom.content_type
    if custom_data:
        payload["custom_data"] = custom_data
    return Prepared(event.event_name, event.event_id, payload)


class BaselineEvents(events_pb2_grpc.EventServiceServicer):  # type: ignore[misc]
    def __init__(self, pool: AsyncConnectionPool, app: Any, api_key: str) -> None:
        self._pool = pool
        self._app = app
        self._api_key = api_key

    async def _authorize(self, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                text = value.decode() if isinstance(value, bytes) else value
                if hmac.compare_digest(text, f"Bearer {self._api_key}"):
                    return
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad or missing API key")

    async def _store(self, prepared: Sequence[Prepared]) -> list[tuple[int, bool]]:
        """(id, duplicate) per event, in order; one transaction with one job per new event."""
        async with self._pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "INSERT INTO baseline_events (event_name, event_id, payload)"
                " SELECT * FROM unnest(%s::text[], %s::text[], %s::jsonb[])"
                " ON CONFLICT (event_name, event_id) DO NOTHING"
                " RETURNING id, event_name, event_id",
                (
                    [p.event_name for p in prepared],
                    [p.event_id for p in prepared],
                    [Jsonb(p.payload) for p in prepared],
                ),
            )
            new = {(name, eid): id_ for id_, name, eid in await cursor.fetchall()}
            known: dict[tuple[str, str], int] = {}
            missing = [
                (p.event_name, p.event_id)
                for p in prepared
                if (p.event_name, p.event_id) not in new
            ]
            if missing:
                cursor = await conn.execute(
                    "SELECT id, event_name, event_id FROM baseline_events"
                    " WHERE (event_name, event_id) IN"
                    " (SELECT * FROM unnest(%s::text[], %s::text[]))",
                    ([m[0] for m in missing], [m[1] for m in missing]),
                )
                known = {(name, eid): id_ for id_, name, eid in await cursor.fetchall()}
            jobs = [
                {"event_ref": new[(p.event_name, p.event_id)], "payload": p.payload}
                for p in prepared
                if (p.event_name, p.event_id) in new
            ]
            # One job per event; deduplicated within the call like the insert.
            unique_jobs = list({job["event_ref"]: job for job in jobs}.values())
            if unique_jobs:
                deferrer = self._app.configure_task(DELIVER_TASK, connection=conn)
                await deferrer.batch_defer_async(*unique_jobs)
        results: list[tuple[int, bool]] = []
        seen: set[tuple[str, str]] = set()
        for p in prepared:
            key = (p.event_name, p.event_id)
            if key in new:
                results.append((new[key], key in seen))
            else:
                results.append((known[key], True))
            seen.add(key)
        return results

    async def SubmitEvent(
        self, request: events_pb2.SubmitEventRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> events_pb2.SubmitEventResponse:
        await self._authorize(context)
        try:
            prepared = prepare(request.event, "event")
        except InvalidEvent as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        [(id_, duplicate)] = await self._store([prepared])
        return events_pb2.SubmitEventResponse(
            event=events_pb2.StoredEvent(
                id=str(id_),
                event=request.event,
                deliveries=[events_pb2.Delivery(id=str(id_), destination="meta", status=_PENDING)],
            ),
            duplicate=duplicate,
        )

    async def SubmitEvents(
        self, request: events_pb2.SubmitEventsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> events_pb2.SubmitEventsResponse:
        await self._authorize(context)
        if not request.events or len(request.events) > MAX_BATCH:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "1 to 1,000 events per call")
        try:
            prepared = [prepare(e, f"events[{i}]") for i, e in enumerate(request.events)]
        except InvalidEvent as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        results = await self._store(prepared)
        return events_pb2.SubmitEventsResponse(
            results=[
                events_pb2.SubmitEventResult(
                    index=index,
                    id=str(id_),
                    duplicate=duplicate,
                    deliveries=[
                        events_pb2.Delivery(id=str(id_), destination="meta", status=_PENDING)
                    ],
                )
                for index, (id_, duplicate) in enumerate(results)
            ]
        )


async def serve(database_url: str, listen: str, api_key: str) -> None:
    pool = AsyncConnectionPool(database_url, min_size=2, max_size=10, open=False)
    await pool.open(wait=True, timeout=30.0)
    app = build_app()
    try:
        async with app.open_async(pool):
            server = grpc.aio.server(options=[("grpc.max_receive_message_length", 16 << 20)])
            events_pb2_grpc.add_EventServiceServicer_to_server(
                BaselineEvents(pool, app, api_key), server
            )
            health = HealthServicer()
            health_pb2_grpc.add_HealthServicer_to_server(health, server)
            if server.add_insecure_port(listen) == 0:
                raise OSError(f"cannot listen on {listen}")
            await server.start()
            await health.set("", health_pb2.HealthCheckResponse.SERVING)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
            await server.stop(grace=5.0)
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--api-key", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.database_url, args.listen, args.api_key))


if __name__ == "__main__":
    main()
