"""A load-generating client, run as a process of its own: `python -m bench.load MODE ...`.

It speaks `tenaz.v1.EventService` (both systems serve it) and follows a small protocol with
the harness: it builds its events, connects, prints `{"ready": true}`, waits for one line on
stdin ("go"), runs, writes its results as JSON to `--out`, and prints `{"done": true}`.

    batches  SubmitEvents: `--events` in batches of `--batch`, `--inflight` calls at a time
    unary    SubmitEvent: `--callers` concurrent callers, one event per call, `--duration` s
    paced    SubmitEvent at a steady `--rate` events/s for `--duration` s (open loop: a slow
             answer does not delay the next call); records each acknowledgement's time
    reads    what an operator's screen asks, one call at a time until a line "stop" on stdin
             (or `--duration` s): the newest page of ListEvents, a page filtered by status,
             and GetStats
    searches what operators ask of a large workspace, until a line "stop" on stdin (or
             `--duration` s), one caller per kind of call, each making one call after
             another: GetStats (the default window), ListEvents' newest page, a page
             filtered on FAILED, an event by its event id, and the dashboard's search box
             (`--dashboard`) given an order id. The event and order searched for are those
             of the newest purchase received 12 hours before "go", found with one call that
             is not measured.

Times written are wall-clock (time.time()), to compare with the times the systems store.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tenaz.v1 import events_pb2, events_pb2_grpc

RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)
MAX_TRIES = 3
CALL_TIMEOUT = 60.0


def make_event(prefix: str, index: int) -> events_pb2.Event:
    """A realistic purchase: contact data to hash, browser data kept clear, a value."""
    now = timestamp_pb2.Timestamp()
    now.GetCurrentTime()
    event_id = f"{prefix}-{index}"
    return events_pb2.Event(
        event_id=event_id,
        event_name="Purchase",
        event_time=now,
        action_source="website",
        event_source_url="https://loja.example.com.br/checkout/obrigado",
        user_data=events_pb2.UserData(
            email=f"cliente.{index}@example.com.br",
            external_id=f"cliente-{index}",
            client_ip_address="203.0.113.7",
            client_user_agent="Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0",
        ),
        custom_data=events_pb2.CustomData(value=197.0, currency="BRL", order_id=event_id),
    )


class Load:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.metadata = (("authorization", f"Bearer {args.api_key}"),)
        self.latencies_ms: list[float] = []
        self.acknowledged = 0
        self.errors = 0
        self.error_samples: list[str] = []
        self.acks: dict[str, float] = {}
        self.started = 0.0
        self.cpu_started = 0.0
        self.sent = 0
        self.planned = 0
        self.read_latencies_ms: dict[str, list[float]] = {}

    def _error(self, exc: grpc.aio.AioRpcError) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(f"{exc.code().name}: {exc.details()}")

    async def _call(
        self, method: Callable[..., Awaitable[Any]], request: Any, *, tries: int = 1
    ) -> Any | None:
        """One call, tried again (at most `tries` times in all) when the server says it may
        succeed later; None when it failed."""
        for attempt in range(1, tries + 1):
            try:
                return await method(request, metadata=self.metadata, timeout=CALL_TIMEOUT)
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in RETRYABLE or attempt == tries:
                    self._error(exc)
                    return None
        return None

    async def batches(self) -> None:
        a = self.args
        requests = [
            events_pb2.SubmitEventsRequest(
                events=[
                    make_event(a.prefix, i) for i in range(start, min(start + a.batch, a.events))
                ]
            )
            for start in range(0, a.events, a.batch)
        ]
        await self._ready()
        queue = list(reversed(requests))

        async def sender() -> None:
            while queue:
                request = queue.pop()
                began = time.perf_counter()
                # A drain must deliver everything: a call refused for load is tried again.
                answer = await self._call(self.stub.SubmitEvents, request, tries=MAX_TRIES)
                if answer is not None:
                    self.latencies_ms.append((time.perf_counter() - began) * 1000)
                    self.acknowledged += len(request.events)

        await asyncio.gather(*(sender() for _ in range(a.inflight)))

    async def unary(self) -> None:
        counter = iter(range(10**9))

        def request() -> events_pb2.SubmitEventRequest:
            return events_pb2.SubmitEventRequest(event=make_event(self.args.prefix, next(counter)))

        await self._one_call_each(self.stub.SubmitEvent, request)

    async def noop(self) -> None:
        """The same callers calling an RPC that does nothing (the gRPC health check): what
        the machine allows for any unary call, with these clients and this server."""
        health = health_pb2_grpc.HealthStub(self.channel)
        await self._one_call_each(health.Check, health_pb2.HealthCheckRequest)

    async def _one_call_each(
        self, method: Callable[..., Awaitable[Any]], request: Callable[[], Any]
    ) -> None:
        """`--callers` callers, each making one call after another for `--duration`."""
        a = self.args
        await self._ready()
        deadline = time.monotonic() + a.duration

        async def caller() -> None:
            while time.monotonic() < deadline:
                began = time.perf_counter()
                if await self._call(method, request()) is not None:
                    self.latencies_ms.append((time.perf_counter() - began) * 1000)
                    self.acknowledged += 1

        await asyncio.gather(*(caller() for _ in range(a.callers)))

    async def paced(self) -> None:
        a = self.args
        total = round(a.rate * a.duration)
        limit = asyncio.Semaphore(a.max_inflight)
        await self._ready()
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()

        async def one(index: int) -> None:
            try:
                request = events_pb2.SubmitEventRequest(event=make_event(a.prefix, index))
                began = time.perf_counter()
                if await self._call(self.stub.SubmitEvent, request) is not None:
                    self.acks[request.event.event_id] = time.time()
                    self.latencies_ms.append((time.perf_counter() - began) * 1000)
                    self.acknowledged += 1
            finally:
                limit.release()

        start = loop.time()
        end = start + a.duration
        for index in range(total):
            delay = start + index / a.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            # A system slower than the rate keeps `--max-inflight` calls waiting and the
            # client falls behind: it stops at the end of the duration with what it sent.
            if loop.time() > end:
                break
            try:
                async with asyncio.timeout_at(end):
                    await limit.acquire()
            except TimeoutError:
                break
            task = asyncio.create_task(one(index))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            self.sent += 1
        self.planned = total
        await asyncio.gather(*tasks)

    async def reads(self) -> None:
        a = self.args
        calls: list[tuple[str, Callable[..., Awaitable[Any]], Any]] = [
            ("ListEvents", self.stub.ListEvents, events_pb2.ListEventsRequest(page_size=50)),
            (
                "ListEvents(status)",
                self.stub.ListEvents,
                events_pb2.ListEventsRequest(
                    statuses=[events_pb2.DELIVERY_STATUS_PENDING], page_size=50
                ),
            ),
            ("GetStats", self.stub.GetStats, events_pb2.GetStatsRequest()),
        ]
        await self._ready()
        stop = asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        deadline = time.monotonic() + a.duration
        for name, method, request in itertools.cycle(calls):
            if stop.done() or time.monotonic() >= deadline:
                break
            began = time.perf_counter()
            if await self._call(method, request) is not None:
                elapsed = (time.perf_counter() - began) * 1000
                self.latencies_ms.append(elapsed)
                self.read_latencies_ms.setdefault(name, []).append(elapsed)

    async def searches(self) -> None:
        a = self.args
        if not a.dashboard:
            raise SystemExit("searches: --dashboard URL is needed (its search box)")
        async with httpx.AsyncClient(
            base_url=a.dashboard, headers={"authorization": f"Bearer {a.api_key}"}
        ) as dashboard:
            await self._dashboard_up(dashboard)
            await self._ready()
            event_id, order_id = await self._searched_for()

            async def by_order_id() -> httpx.Response:
                answer = await dashboard.get("/api/events", params={"q": order_id})
                answer.raise_for_status()
                return answer

            calls: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                ("GetStats", self._grpc(self.stub.GetStats, events_pb2.GetStatsRequest())),
                (
                    "ListEvents",
                    self._grpc(self.stub.ListEvents, events_pb2.ListEventsRequest(page_size=50)),
                ),
                (
                    "ListEvents(status)",
                    self._grpc(
                        self.stub.ListEvents,
                        events_pb2.ListEventsRequest(
                            statuses=[events_pb2.DELIVERY_STATUS_FAILED], page_size=50
                        ),
                    ),
                ),
                (
                    "ListEvents(event_id)",
                    self._grpc(
                        self.stub.ListEvents,
                        events_pb2.ListEventsRequest(event_ids=[event_id], page_size=50),
                    ),
                ),
                ("search(order_id)", by_order_id),
            ]
            stop = asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            deadline = time.monotonic() + a.duration

            async def caller(name: str, call: Callable[[], Awaitable[Any]]) -> None:
                # Once at least, however soon the stop comes: a phase measures every kind.
                made = 0
                while made == 0 or (not stop.done() and time.monotonic() < deadline):
                    made += 1
                    began = time.perf_counter()
                    try:
                        answer = await call()
                    except httpx.HTTPError as exc:
                        self.errors += 1
                        if len(self.error_samples) < 5:
                            self.error_samples.append(f"{name}: {exc!r}")
                        continue
                    if answer is not None:
                        elapsed = (time.perf_counter() - began) * 1000
                        self.latencies_ms.append(elapsed)
                        self.read_latencies_ms.setdefault(name, []).append(elapsed)

            # One caller per kind of call: a slow one does not make the others rarer.
            await asyncio.gather(*(caller(name, call) for name, call in calls))

    def _grpc(
        self, method: Callable[..., Awaitable[Any]], request: Any
    ) -> Callable[[], Awaitable[Any]]:
        return lambda: self._call(method, request)

    async def _dashboard_up(self, dashboard: httpx.AsyncClient) -> None:
        """Wait (bounded) until the dashboard answers: it may start after the gRPC server."""
        deadline = time.monotonic() + 60
        while True:
            try:
                (await dashboard.get("/api/statuses")).raise_for_status()
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.2)

    async def _searched_for(self) -> tuple[str, str]:
        """The event id and order id of the newest purchase received 12 hours ago."""
        before = timestamp_pb2.Timestamp()
        before.FromSeconds(int(time.time()) - 12 * 3600)
        found = await self._call(
            self.stub.ListEvents,
            events_pb2.ListEventsRequest(
                event_name="Purchase", received_before=before, page_size=1
            ),
        )
        if found is None or not found.events:
            raise SystemExit("searches: no purchase received 12 hours ago to search for")
        event = found.events[0].event
        return event.event_id, event.custom_data.order_id

    async def _ready(self) -> None:
        """Connect, tell the harness, and wait for its go (one line on stdin)."""
        await asyncio.wait_for(self.channel.channel_ready(), timeout=60)
        print(json.dumps({"ready": True}), flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        if line.strip() != "go":
            raise SystemExit(f"expected 'go' on stdin, got {line!r}")
        self.started = time.time()
        self.cpu_started = time.process_time()

    async def run(self) -> dict[str, Any]:
        # grpc.aio objects belong to the loop they are made in: make them inside it.
        self.channel = grpc.aio.insecure_channel(
            self.args.target, options=[("grpc.max_send_message_length", 16 << 20)]
        )
        self.stub = events_pb2_grpc.EventServiceStub(self.channel)
        try:
            await getattr(self, self.args.mode)()
            finished = time.time()
            cpu_seconds = time.process_time() - self.cpu_started
        finally:
            await self.channel.close()
        return {
            "started": self.started,
            "finished": finished,
            "cpu_seconds": cpu_seconds,
            "acknowledged": self.acknowledged,
            "errors": self.errors,
            "error_samples": self.error_samples,
            "latencies_ms": self.latencies_ms,
            "acks": self.acks,
            "sent": self.sent,
            "planned": self.planned,
            "read_latencies_ms": self.read_latencies_ms,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("batches", "unary", "noop", "paced", "reads", "searches"))
    parser.add_argument("--target", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--prefix", required=True, help="event_id prefix, unique per client")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--inflight", type=int, default=1)
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--max-inflight", type=int, default=64)
    parser.add_argument("--dashboard", default="", help="the dashboard's URL (searches)")
    args = parser.parse_args()
    result = asyncio.run(Load(args).run())
    args.out.write_text(json.dumps(result))
    print(json.dumps({"done": True, "acknowledged": result["acknowledged"]}), flush=True)


if __name__ == "__main__":
    main()
