"""gRPC asks the interceptor for a method's handler at every call: it wraps each method's
handler once, and wraps anew only a handler it has not seen for that method."""

from __future__ import annotations

from typing import Any

import grpc

from jobs.metrics import Metrics
from jobs.model import Caller, Workspace
from jobs.scopes import ADMIN
from server.auth import ApiInterceptor, KeyCache


class _Details:
    def __init__(self, method: str) -> None:
        self.method = method


async def _check(secret: str) -> Caller:
    return Caller(key_id=1, workspace=Workspace(id=1, name="w"), scope=ADMIN)


async def _behaviour(request: Any, context: Any) -> None:
    return None


def _answering(handler: grpc.RpcMethodHandler) -> Any:
    async def continuation(details: Any) -> grpc.RpcMethodHandler:
        return handler

    return continuation


async def test_each_methods_handler_is_wrapped_once() -> None:
    interceptor = ApiInterceptor(KeyCache(_check), Metrics())
    servicers = grpc.unary_unary_rpc_method_handler(_behaviour)
    stats, events = (
        _Details("/tenaz.v1.EventService/GetStats"),
        _Details("/tenaz.v1.EventService/ListEvents"),
    )

    first = await interceptor.intercept_service(_answering(servicers), stats)
    again = await interceptor.intercept_service(_answering(servicers), stats)
    other = await interceptor.intercept_service(_answering(servicers), events)

    assert first is again
    assert first is not servicers and other is not first


async def test_a_new_handler_for_a_method_is_wrapped_anew() -> None:
    interceptor = ApiInterceptor(KeyCache(_check), Metrics())
    details = _Details("/tenaz.v1.EventService/GetStats")
    old = grpc.unary_unary_rpc_method_handler(_behaviour)
    new = grpc.unary_unary_rpc_method_handler(_behaviour)

    before = await interceptor.intercept_service(_answering(old), details)
    after = await interceptor.intercept_service(_answering(new), details)

    assert before is not after


async def test_public_methods_and_unknown_ones_are_not_wrapped() -> None:
    interceptor = ApiInterceptor(KeyCache(_check), Metrics())
    health = grpc.unary_unary_rpc_method_handler(_behaviour)

    public = await interceptor.intercept_service(
        _answering(health),
        _Details("/grpc.health.v1.Health/Check"),
    )
    unknown = await interceptor.intercept_service(
        _answering(None),
        _Details("/tenaz.v1.EventService/Nothing"),
    )

    assert public is health
    assert unknown is None
