"""API-key authentication, scopes and error translation for every RPC, as one interceptor.

The interceptor wraps each method's behaviour: it checks the
`authorization: Bearer <key>` metadata, refuses a key whose scope does not
cover the method (`REQUIRED_SCOPE`), makes the key's workspace the current
one for the handler (a context variable), and turns domain errors into gRPC
statuses through `server.errors`. Every unary call but the submissions is one somebody
waits for (a read, a change to a destination): batches give way to it for its first
0.1 s (`jobs.turns.reading`). Health checking and reflection stay open,
as load balancers and tools call them without a key.

The checks run cheapest first: a request that does not decode, or carries no
key, is refused before the key is looked up (a query, unless the key was seen
in the last seconds); the handler then checks its own input before the key's
limits and its work (see `server.events_servicer`).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import grpc
from psycopg_pool import AsyncConnectionPool

from jobs import keys
from jobs.errors import InvalidArgument, Unauthenticated
from jobs.metrics import Metrics
from jobs.model import Caller, Workspace
from jobs.scopes import ADMIN, SUBMIT, require_scope
from jobs.turns import reading
from server.errors import abort, code_name

PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

REQUIRED_SCOPE: Mapping[str, str] = {
    # What the services that send events need: send them, and follow them.
    "/tenaz.v1.EventService/SubmitEvent": SUBMIT,
    "/tenaz.v1.EventService/SubmitEvents": SUBMIT,
    "/tenaz.v1.EventService/GetEvent": SUBMIT,
    "/tenaz.v1.EventService/ListEvents": SUBMIT,
    "/tenaz.v1.EventService/WatchStatus": SUBMIT,
    "/tenaz.v1.EventService/GetStats": SUBMIT,
    # Sending again or stopping (replay is a retry by filter), and their progress.
    "/tenaz.v1.EventService/RetryDeliveries": ADMIN,
    "/tenaz.v1.EventService/CancelDeliveries": ADMIN,
    "/tenaz.v1.EventService/GetOperation": ADMIN,
    # Where events go: reading it reveals no secret (tokens are write-only); changing it is admin.
    "/tenaz.v1.DestinationService/GetDestination": SUBMIT,
    "/tenaz.v1.DestinationService/ListDestinations": SUBMIT,
    "/tenaz.v1.DestinationService/CreateDestination": ADMIN,
    "/tenaz.v1.DestinationService/UpdateDestination": ADMIN,
    "/tenaz.v1.DestinationService/DeleteDestination": ADMIN,
    # Alerts: who is told what, and where (a channel holds secrets): admin, reads included.
    "/tenaz.v1.AlertService/CreateAlertRule": ADMIN,
    "/tenaz.v1.AlertService/ListAlertRules": ADMIN,
    "/tenaz.v1.AlertService/UpdateAlertRule": ADMIN,
    "/tenaz.v1.AlertService/DeleteAlertRule": ADMIN,
    "/tenaz.v1.AlertService/CreateAlertChannel": ADMIN,
    "/tenaz.v1.AlertService/ListAlertChannels": ADMIN,
    "/tenaz.v1.AlertService/UpdateAlertChannel": ADMIN,
    "/tenaz.v1.AlertService/DeleteAlertChannel": ADMIN,
    "/tenaz.v1.AlertService/ListNotifications": ADMIN,
    "/tenaz.v1.AlertService/TestChannel": ADMIN,
    # Webhook sources: where sales come in from, and with what secret: admin, reads included.
    "/tenaz.v1.WebhookSourceService/CreateWebhookSource": ADMIN,
    "/tenaz.v1.WebhookSourceService/ListWebhookSources": ADMIN,
    "/tenaz.v1.WebhookSourceService/UpdateWebhookSource": ADMIN,
    "/tenaz.v1.WebhookSourceService/DeleteWebhookSource": ADMIN,
}
"""The scope each RPC needs. A method missing here needs admin, so a new RPC is never open
by omission (and a test fails until it is listed)."""

# The methods that submit events, counted for Prometheus (`tenaz_submit_calls_total`,
# `tenaz_submitted_events_total`) with the code of every answer, refusals included:
# the events a request carries. The Connect edge (server/ingest/connect.py) counts the same
# methods through this table; its calls do not pass this interceptor.
SUBMITS: Mapping[str, Callable[[Any], int]] = {
    "/tenaz.v1.EventService/SubmitEvent": lambda request: (
        0 if isinstance(request, _Undecodable) else 1
    ),
    "/tenaz.v1.EventService/SubmitEvents": lambda request: (
        0 if isinstance(request, _Undecodable) else len(request.events)
    ),
}

_current: contextvars.ContextVar[Workspace] = contextvars.ContextVar("tenaz_workspace")
_current_key: contextvars.ContextVar[str] = contextvars.ContextVar("tenaz_key")


def current_workspace() -> Workspace:
    """The workspace of the key that made the current call."""
    return _current.get()


def current_key_id() -> str:
    """An id of the key that made the current call (a hash, never the key)."""
    return _current_key.get()


class KeyCache:
    """Remembers recent successful key checks briefly, to spare a query per call.

    A revoked key stops working within `ttl` seconds; so does a key's old scope.
    """

    def __init__(self, check: Callable[[str], Awaitable[Caller]], ttl: float = 10.0) -> None:
        self._check = check
        self._ttl = ttl
        self._entries: dict[str, tuple[float, Caller]] = {}

    async def caller_for(self, secret: str) -> Caller:
        now = time.monotonic()
        hit = self._entries.get(secret)
        if hit is not None and hit[0] > now:
            return hit[1]
        caller = await self._check(secret)
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[secret] = (now + self._ttl, caller)
        return caller

    @classmethod
    def of(cls, pool: AsyncConnectionPool) -> KeyCache:
        """Checks against the keys in the database behind `pool`."""

        async def check(secret: str) -> Caller:
            return await keys.authenticate(pool, secret)

        return cls(check)


def bearer_key(authorization: str | bytes | None) -> str | None:
    """The key of an `authorization: Bearer <key>` value (a gRPC metadata value or an HTTP
    header), or None when it holds none."""
    if authorization is None:
        return None
    text = authorization.decode() if isinstance(authorization, bytes) else authorization
    scheme, _, token = text.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _bearer(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and (secret := bearer_key(value)) is not None:
            return secret
    raise Unauthenticated("missing API key: send the metadata 'authorization: Bearer <key>'")


async def enter_call(cache: KeyCache, method: str, secret: str) -> None:
    """Let the key `secret` make the call to `method` ("/tenaz.v1.EventService/GetEvent"):
    Unauthenticated for a key that is not live, PermissionDenied when its scope does not
    cover the method; else its workspace and id become the current ones for the call."""
    caller = await cache.caller_for(secret)
    require_scope(caller, REQUIRED_SCOPE.get(method, ADMIN), method.rpartition("/")[2])
    _current.set(caller.workspace)
    _current_key.set(hashlib.sha256(secret.encode()).hexdigest()[:16])


class _Undecodable:
    """Stands for a request whose bytes are not the method's message."""

    def __init__(self, kind: str) -> None:
        self.kind = kind


def _tolerant(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """A deserializer that never raises, so that garbage gets INVALID_ARGUMENT, not INTERNAL."""
    if deserialize is None:
        return None
    kind = getattr(getattr(deserialize, "__self__", None), "DESCRIPTOR", None)
    name = kind.full_name if kind is not None else "request"

    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception:
            return _Undecodable(name)

    return parse


class ApiInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, keys: KeyCache, metrics: Metrics) -> None:
        self._keys = keys
        self._metrics = metrics
        # gRPC asks for a method's handler at every call: each method's wrapped handler is
        # built once, for the handler the servicer gave (the same object call after call).
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method.startswith(PUBLIC_PREFIXES):
            return handler
        known = self._wrapped.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        deserializer = _tolerant(handler.request_deserializer)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, handler.unary_unary),
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(method, handler.unary_stream),
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    async def _enter(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any], request: Any
    ) -> None:
        if isinstance(request, _Undecodable):
            raise InvalidArgument.one("request", f"not a valid {request.kind} message")
        await enter_call(self._keys, method, _bearer(context))

    def _unary(self, method: str, behaviour: Any) -> Any:
        events_in = SUBMITS.get(method)
        name = method.rpartition("/")[2]

        def count(request: Any, code: str) -> None:
            if events_in is not None:
                self._metrics.submitted("grpc", name, code, events_in(request))

        waited_for = reading if events_in is None else contextlib.nullcontext

        async def wrapped(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            try:
                with waited_for():
                    await self._enter(method, context, request)
                    response = await behaviour(request, context)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                count(request, code_name(exc))
                await abort(context, exc)
            count(request, "OK")
            return response

        return wrapped

    def _stream(self, method: str, behaviour: Any) -> Any:
        async def wrapped(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            try:
                await self._enter(method, context, request)
                async for message in behaviour(request, context):
                    yield message
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await abort(context, exc)

        return wrapped
