"""The calls an operator waits for are marked as reads, so that batches give way to them
(jobs/turns.py): every unary RPC but the submissions, every dashboard request but the live
stream; and the mark ends with the call, however it ends."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from jobs.metrics import Metrics
from jobs.model import Caller, Workspace
from jobs.scopes import ADMIN
from jobs.turns import reads_in_flight
from server.auth import ApiInterceptor, KeyCache
from server.dashboard.app import STREAM_PATH, _reads_first


class _Details:
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = (("authorization", "Bearer some-key"),)


class _Context:
    """The few parts of a servicer context the interceptor uses."""

    def __init__(self) -> None:
        self.aborted: grpc.StatusCode | None = None

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", "Bearer some-key"),)

    async def abort_with_status(self, status: Any) -> None:
        self.aborted = status.code
        raise grpc.aio.AbortError()


async def _call(method: str, behaviour: Callable[[Any, Any], Awaitable[Any]]) -> _Context:
    async def check(secret: str) -> Caller:
        return Caller(key_id=1, workspace=Workspace(id=1, name="w"), scope=ADMIN)

    async def continuation(details: Any) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(behaviour)

    interceptor = ApiInterceptor(KeyCache(check), Metrics())
    handler = await interceptor.intercept_service(continuation, _Details(method))  # type: ignore[arg-type]
    context = _Context()
    with contextlib.suppress(grpc.aio.AbortError):
        await handler.unary_unary(SimpleNamespace(events=[]), context)
    return context


@pytest.mark.parametrize(
    ("method", "marked"),
    [
        ("/tenaz.v1.EventService/GetStats", 1),
        ("/tenaz.v1.EventService/ListEvents", 1),
        ("/tenaz.v1.DestinationService/UpdateDestination", 1),
        ("/tenaz.v1.EventService/SubmitEvent", 0),
        ("/tenaz.v1.EventService/SubmitEvents", 0),
    ],
)
async def test_a_unary_call_is_a_read_unless_it_submits(method: str, marked: int) -> None:
    seen: list[int] = []

    async def behaviour(request: Any, context: Any) -> None:
        seen.append(reads_in_flight())

    await _call(method, behaviour)
    assert seen == [marked]
    assert reads_in_flight() == 0


async def test_a_read_that_fails_is_no_longer_in_flight() -> None:
    async def behaviour(request: Any, context: Any) -> None:
        assert reads_in_flight() == 1
        raise RuntimeError("boom")

    context = await _call("/tenaz.v1.EventService/GetEvent", behaviour)
    assert context.aborted == grpc.StatusCode.INTERNAL
    assert reads_in_flight() == 0


@pytest.mark.parametrize(("path", "marked"), [("/api/stats", 1), ("/", 1), (STREAM_PATH, 0)])
async def test_a_dashboard_request_is_a_read_unless_it_is_the_live_stream(
    path: str, marked: int
) -> None:
    seen: list[int] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(reads_in_flight())
        return web.Response()

    await _reads_first(make_mocked_request("GET", path), handler)
    assert seen == [marked]
    assert reads_in_flight() == 0
