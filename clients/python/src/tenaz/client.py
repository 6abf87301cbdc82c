"""A small typed asyncio wrapper over Tenaz's generated gRPC stubs.

It adds what every caller would otherwise write again: the API key on every
call, datetimes instead of Timestamps, paging, and errors that carry the
server's field violations.

    async with TenazClient("127.0.0.1:50051", api_key) as tenaz:
        await tenaz.create_sandbox_destination("sandbox")
        result = await tenaz.submit_event(
            make_event(event_id="order-1", event_name="Purchase",
                       email="maria@example.com", value=99.9, currency="BRL"))
        print(result.event.deliveries[0].status)
        async for message in tenaz.follow_status(after_sequence=0):
            print(message.change.sequence or message.heartbeat.last_sequence)
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import duration_pb2, field_mask_pb2, timestamp_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tenaz.v1 import (
    alerts_pb2,
    alerts_pb2_grpc,
    destinations_pb2,
    destinations_pb2_grpc,
    events_pb2,
    events_pb2_grpc,
    sources_pb2,
    sources_pb2_grpc,
)

DeliveryStatus = events_pb2.DeliveryStatus

STATUS_LABELS_PT_BR = {
    events_pb2.DELIVERY_STATUS_PENDING: "Pendente",
    events_pb2.DELIVERY_STATUS_SENDING: "Enviando",
    events_pb2.DELIVERY_STATUS_WAITING_RETRY: "Esperando Retentativa",
    events_pb2.DELIVERY_STATUS_RESENDING: "Reenviando",
    events_pb2.DELIVERY_STATUS_SUCCEEDED: "Sucesso",
    events_pb2.DELIVERY_STATUS_FAILED: "Falha",
}


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


@dataclass
class TenazError(Exception):
    """A call failed; `violations` names each bad field when the input was invalid.

    `retry_after` is the server's advice (google.rpc.RetryInfo) when it asks the
    caller to slow down (RESOURCE_EXHAUSTED): the same call may succeed after it.
    """

    code: grpc.StatusCode
    message: str
    violations: list[FieldViolation] = field(default_factory=list)
    retry_after: dt.timedelta | None = None

    def __str__(self) -> str:
        text = f"{self.code.name}: {self.message}"
        if self.violations:
            text += "".join(f"\n  {v.field}: {v.description}" for v in self.violations)
        return text


# Following status changes across broken connections

# Short enough that a dead connection is noticed within seconds (see ReconnectPolicy).
FOLLOW_HEARTBEAT = dt.timedelta(seconds=5)

# Codes of a stream that broke on the way, not of a request the server refused.
_BROKEN_STREAM = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.CANCELLED,
    }
)


@dataclass(frozen=True)
class ReconnectPolicy:
    """How `follow_status` reconnects.

    `backoff` holds the seconds to wait before each attempt, by consecutive
    failures; the last one repeats. A connection silent for `silent_heartbeats`
    heartbeat intervals counts as broken, as a dead peer does not always say so.
    When the server cannot be reached at the very start, the follow raises (a
    wrong address or a server that is down is an error, not an endless wait)
    unless `wait_for_server` is set, as for a consumer that may start first.
    """

    backoff: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 5.0)
    silent_heartbeats: int = 3
    wait_for_server: bool = False

    def delay(self, failures: int) -> float:
        """Seconds to wait after `failures` consecutive failures (1 for the first)."""
        return self.backoff[min(failures, len(self.backoff)) - 1]


@dataclass(frozen=True)
class Reconnecting:
    """A followed stream broke; it is opened again after `delay` seconds.

    `resumes_after` is the sequence it resumes after. None means the stream
    broke before its position was known (it was following "from now" and had
    received nothing yet): it starts from now again, and changes made meanwhile
    may be missing, so whoever keeps state should reload it (ListEvents).
    """

    delay: float
    reason: str
    resumes_after: int | None
    failures: int


def _timestamp(value: dt.datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
    return ts


def make_event(
    *,
    event_id: str,
    event_name: str,
    event_time: dt.datetime | None = None,
    action_source: str = "",
    event_source_url: str = "",
    value: float | None = None,
    currency: str = "",
    order_id: str = "",
    destinations: Sequence[str] = (),
    extra: Mapping[str, Any] | None = None,
    **user_data: str,
) -> events_pb2.Event:
    """Build an Event; `user_data` takes the UserData field names (email, phone, ...).

    `extra` holds further custom_data fields, passed to the platform as they are. Without
    an `action_source`, Tenaz takes "website" when client_user_agent and event_source_url are
    given, else "other".
    """
    custom = events_pb2.CustomData(currency=currency, order_id=order_id)
    if value is not None:
        custom.value = value
    if extra:
        custom.extra.update(dict(extra))
    return events_pb2.Event(
        event_id=event_id,
        event_name=event_name,
        event_time=_timestamp(event_time or dt.datetime.now(dt.UTC)),
        action_source=action_source,
        event_source_url=event_source_url,
        user_data=events_pb2.UserData(**user_data),
        custom_data=custom,
        destinations=list(destinations),
    )


def _error(exc: grpc.aio.AioRpcError) -> TenazError:
    violations: list[FieldViolation] = []
    retry_after: dt.timedelta | None = None
    for key, value in exc.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = rpc_status.status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    request = error_details_pb2.BadRequest()
                    detail.Unpack(request)
                    violations.extend(
                        FieldViolation(v.field, v.description) for v in request.field_violations
                    )
                elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                    info = error_details_pb2.RetryInfo()
                    detail.Unpack(info)
                    retry_after = info.retry_delay.ToTimedelta()
    return TenazError(exc.code(), exc.details() or "", violations, retry_after)


class TenazClient:
    """Async client for one Tenaz server and one workspace (its API key)."""

    def __init__(
        self,
        target: str,
        api_key: str,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._target = target
        self._credentials = credentials
        self._channel = self._open_channel()
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self._timeout = timeout
        self.events = events_pb2_grpc.EventServiceStub(self._channel)
        self.destinations = destinations_pb2_grpc.DestinationServiceStub(self._channel)
        self.alerts = alerts_pb2_grpc.AlertServiceStub(self._channel)
        self.sources = sources_pb2_grpc.WebhookSourceServiceStub(self._channel)

    async def __aenter__(self) -> TenazClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    def _open_channel(self, *, own_connections: bool = False) -> grpc.aio.Channel:
        """A channel to the server; with `own_connections`, one whose connections no other
        channel shares (gRPC shares them in a process by default, with their reconnect
        backoff)."""
        options: list[tuple[str, int]] = [("grpc.max_send_message_length", 16 * 1024 * 1024)]
        if own_connections:
            options.append(("grpc.use_local_subchannel_pool", 1))
        if self._credentials is not None:
            return grpc.aio.secure_channel(self._target, self._credentials, options=options)
        return grpc.aio.insecure_channel(self._target, options=options)

    async def _call(self, method: Any, request: Any) -> Any:
        try:
            return await method(request, metadata=self._metadata, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _error(exc) from None

    # Events

    async def submit_event(self, event: events_pb2.Event) -> events_pb2.SubmitEventResponse:
        return await self._call(self.events.SubmitEvent, events_pb2.SubmitEventRequest(event=event))

    async def submit_events(
        self, events: Iterable[events_pb2.Event]
    ) -> events_pb2.SubmitEventsResponse:
        return await self._call(
            self.events.SubmitEvents, events_pb2.SubmitEventsRequest(events=list(events))
        )

    async def get_event(self, event_id: str) -> events_pb2.StoredEvent:
        response = await self._call(self.events.GetEvent, events_pb2.GetEventRequest(id=event_id))
        return response.event  # type: ignore[no-any-return]

    async def list_events(self, **filters: Any) -> events_pb2.ListEventsResponse:
        """One page; filters are ListEventsRequest fields (datetimes accepted)."""
        for name in ("received_after", "received_before"):
            if isinstance(filters.get(name), dt.datetime):
                filters[name] = _timestamp(filters[name])
        return await self._call(self.events.ListEvents, events_pb2.ListEventsRequest(**filters))

    async def iter_events(self, **filters: Any) -> AsyncIterator[events_pb2.StoredEvent]:
        """Every matching event, newest first, fetching pages as needed."""
        token = ""
        while True:
            page = await self.list_events(**filters, page_token=token)
            for event in page.events:
                yield event
            token = page.next_page_token
            if not token:
                return

    async def watch_status(
        self,
        *,
        after_sequence: int | None = None,
        heartbeat_interval: dt.timedelta | None = None,
        **filters: Any,
    ) -> AsyncIterator[events_pb2.WatchStatusResponse]:
        """Status changes (and heartbeats) as they happen, until the server ends the stream.

        `after_sequence=None` starts from now; pass the last `change.sequence`
        (or `heartbeat.last_sequence`) seen to resume with no gap. Filters are
        WatchStatusRequest fields: destinations, statuses, event_names, event_ids.
        `follow_status` does the resuming for you.
        """
        request = _watch_request(after_sequence, heartbeat_interval, filters)
        async with contextlib.aclosing(self._watch(self.events, request)) as messages:
            async for message in messages:
                yield message

    async def follow_status(
        self,
        *,
        after_sequence: int | None = None,
        heartbeat_interval: dt.timedelta = FOLLOW_HEARTBEAT,
        reconnect: ReconnectPolicy = ReconnectPolicy(),
        on_reconnect: Callable[[Reconnecting], None] | None = None,
        **filters: Any,
    ) -> AsyncGenerator[events_pb2.WatchStatusResponse, None]:
        """`watch_status` that outlives broken connections: every change once, in order.

        It remembers the last sequence it yielded (from changes and heartbeats)
        and, when the stream breaks (UNAVAILABLE and the like, the server ending
        it, or silence), reconnects after `reconnect`'s backoff and asks for what
        came after it. The server sends each later change once, so nothing is
        missed and nothing is yielded twice (`make chaos` checks it). Before each
        attempt it calls `on_reconnect` with the reason and the delay. Errors that
        reconnecting cannot cure are raised: OUT_OF_RANGE (the changes after
        the position are no longer kept: reload, then follow from now),
        UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT.

        Each attempt opens its own channel with its own connection, so gRPC's
        own reconnect backoff (up to two minutes) never adds to the policy's.
        """
        position = after_sequence
        connected = False
        failures = 0
        silence = heartbeat_interval.total_seconds() * reconnect.silent_heartbeats
        while True:
            reason = "the server ended the stream"
            try:
                async with self._open_channel(own_connections=True) as channel:
                    request = _watch_request(position, heartbeat_interval, filters)
                    stream = self._watch(events_pb2_grpc.EventServiceStub(channel), request)
                    async with contextlib.aclosing(stream) as messages:
                        while True:
                            async with asyncio.timeout(silence):
                                message = await anext(messages)
                            connected = True
                            failures = 0
                            if message.HasField("change"):
                                position = message.change.sequence
                            else:
                                position = max(position or 0, message.heartbeat.last_sequence)
                            yield message
            except StopAsyncIteration:
                connected = True
            except TimeoutError:
                reason = f"nothing heard for {silence:g} s"
            except TenazError as exc:
                if exc.code not in _BROKEN_STREAM or not (connected or reconnect.wait_for_server):
                    raise
                reason = f"{exc.code.name}: {exc.message}"
            failures += 1
            delay = reconnect.delay(failures)
            if on_reconnect is not None:
                on_reconnect(Reconnecting(delay, reason, position, failures))
            await asyncio.sleep(delay)

    async def _watch(
        self, stub: events_pb2_grpc.EventServiceStub, request: events_pb2.WatchStatusRequest
    ) -> AsyncGenerator[events_pb2.WatchStatusResponse, None]:
        call = stub.WatchStatus(request, metadata=self._metadata)
        try:
            async for message in call:
                yield message
        except grpc.aio.AioRpcError as exc:
            raise _error(exc) from None
        finally:
            call.cancel()

    async def retry_deliveries(
        self,
        delivery_ids: Sequence[str] = (),
        *,
        filter: events_pb2.DeliveryFilter | None = None,
    ) -> events_pb2.Operation:
        """Send deliveries again now; by ids (done at once) or by filter (background)."""
        response = await self._call(
            self.events.RetryDeliveries,
            events_pb2.RetryDeliveriesRequest(delivery_ids=list(delivery_ids), filter=filter),
        )
        return response.operation  # type: ignore[no-any-return]

    async def cancel_deliveries(
        self,
        delivery_ids: Sequence[str] = (),
        *,
        filter: events_pb2.DeliveryFilter | None = None,
    ) -> events_pb2.Operation:
        """Stop retrying deliveries; by ids (done at once) or by filter (background)."""
        response = await self._call(
            self.events.CancelDeliveries,
            events_pb2.CancelDeliveriesRequest(delivery_ids=list(delivery_ids), filter=filter),
        )
        return response.operation  # type: ignore[no-any-return]

    async def get_operation(self, operation_id: str) -> events_pb2.Operation:
        response = await self._call(
            self.events.GetOperation, events_pb2.GetOperationRequest(id=operation_id)
        )
        return response.operation  # type: ignore[no-any-return]

    async def get_stats(
        self,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        bucket: dt.timedelta | None = None,
    ) -> events_pb2.GetStatsResponse:
        request = events_pb2.GetStatsRequest()
        if since is not None:
            request.since.CopyFrom(_timestamp(since))
        if until is not None:
            request.until.CopyFrom(_timestamp(until))
        if bucket is not None:
            request.bucket.FromTimedelta(bucket)
        return await self._call(self.events.GetStats, request)

    # Destinations

    async def create_destination(
        self, destination: destinations_pb2.Destination
    ) -> destinations_pb2.Destination:
        response = await self._call(
            self.destinations.CreateDestination,
            destinations_pb2.CreateDestinationRequest(destination=destination),
        )
        return response.destination  # type: ignore[no-any-return]

    async def create_sandbox_destination(
        self,
        name: str,
        *,
        transient_failure_rate: float = 0.0,
        retry_interval: dt.timedelta | None = None,
    ) -> destinations_pb2.Destination:
        destination = destinations_pb2.Destination(
            name=name,
            enabled=True,
            sandbox=destinations_pb2.SandboxSettings(transient_failure_rate=transient_failure_rate),
        )
        _set_interval(destination, retry_interval)
        return await self.create_destination(destination)

    async def create_meta_destination(
        self,
        name: str,
        *,
        pixel_id: str,
        access_token: str,
        test_event_code: str = "",
        api_version: str = "",
        base_url: str = "",
        retry_interval: dt.timedelta | None = None,
    ) -> destinations_pb2.Destination:
        destination = destinations_pb2.Destination(
            name=name,
            enabled=True,
            meta=destinations_pb2.MetaSettings(
                pixel_id=pixel_id,
                access_token=access_token,
                test_event_code=test_event_code,
                api_version=api_version,
                base_url=base_url,
            ),
        )
        _set_interval(destination, retry_interval)
        return await self.create_destination(destination)

    async def get_destination(self, name: str) -> destinations_pb2.Destination:
        response = await self._call(
            self.destinations.GetDestination, destinations_pb2.GetDestinationRequest(name=name)
        )
        return response.destination  # type: ignore[no-any-return]

    async def list_destinations(self) -> list[destinations_pb2.Destination]:
        response = await self._call(
            self.destinations.ListDestinations, destinations_pb2.ListDestinationsRequest()
        )
        return list(response.destinations)

    async def update_destination(
        self, destination: destinations_pb2.Destination, paths: Sequence[str]
    ) -> destinations_pb2.Destination:
        response = await self._call(
            self.destinations.UpdateDestination,
            destinations_pb2.UpdateDestinationRequest(
                destination=destination, update_mask=field_mask_pb2.FieldMask(paths=list(paths))
            ),
        )
        return response.destination  # type: ignore[no-any-return]

    async def delete_destination(self, name: str) -> None:
        await self._call(
            self.destinations.DeleteDestination,
            destinations_pb2.DeleteDestinationRequest(name=name),
        )

    # Alerts

    async def create_alert_rule(self, rule: alerts_pb2.AlertRule) -> alerts_pb2.AlertRule:
        response = await self._call(
            self.alerts.CreateAlertRule, alerts_pb2.CreateAlertRuleRequest(rule=rule)
        )
        return response.rule  # type: ignore[no-any-return]

    async def list_alert_rules(self) -> list[alerts_pb2.AlertRule]:
        response = await self._call(self.alerts.ListAlertRules, alerts_pb2.ListAlertRulesRequest())
        return list(response.rules)

    async def update_alert_rule(self, rule: alerts_pb2.AlertRule) -> alerts_pb2.AlertRule:
        response = await self._call(
            self.alerts.UpdateAlertRule, alerts_pb2.UpdateAlertRuleRequest(rule=rule)
        )
        return response.rule  # type: ignore[no-any-return]

    async def delete_alert_rule(self, name: str) -> None:
        await self._call(self.alerts.DeleteAlertRule, alerts_pb2.DeleteAlertRuleRequest(name=name))

    async def create_alert_channel(
        self, channel: alerts_pb2.AlertChannel
    ) -> alerts_pb2.AlertChannel:
        response = await self._call(
            self.alerts.CreateAlertChannel, alerts_pb2.CreateAlertChannelRequest(channel=channel)
        )
        return response.channel  # type: ignore[no-any-return]

    async def list_alert_channels(self) -> list[alerts_pb2.AlertChannel]:
        response = await self._call(
            self.alerts.ListAlertChannels, alerts_pb2.ListAlertChannelsRequest()
        )
        return list(response.channels)

    async def update_alert_channel(
        self, channel: alerts_pb2.AlertChannel
    ) -> alerts_pb2.AlertChannel:
        response = await self._call(
            self.alerts.UpdateAlertChannel, alerts_pb2.UpdateAlertChannelRequest(channel=channel)
        )
        return response.channel  # type: ignore[no-any-return]

    async def delete_alert_channel(self, name: str) -> None:
        await self._call(
            self.alerts.DeleteAlertChannel, alerts_pb2.DeleteAlertChannelRequest(name=name)
        )

    async def list_notifications(
        self, *, page_size: int = 100, before_id: int = 0
    ) -> list[alerts_pb2.Notification]:
        response = await self._call(
            self.alerts.ListNotifications,
            alerts_pb2.ListNotificationsRequest(page_size=page_size, before_id=before_id),
        )
        return list(response.notifications)

    async def test_alert_channel(self, name: str) -> alerts_pb2.Notification:
        response = await self._call(
            self.alerts.TestChannel, alerts_pb2.TestChannelRequest(name=name)
        )
        return response.notification  # type: ignore[no-any-return]

    # Webhook sources

    async def create_webhook_source(
        self, source: sources_pb2.WebhookSource
    ) -> sources_pb2.WebhookSource:
        response = await self._call(
            self.sources.CreateWebhookSource,
            sources_pb2.CreateWebhookSourceRequest(source=source),
        )
        return response.source  # type: ignore[no-any-return]

    async def list_webhook_sources(self) -> list[sources_pb2.WebhookSource]:
        response = await self._call(
            self.sources.ListWebhookSources, sources_pb2.ListWebhookSourcesRequest()
        )
        return list(response.sources)

    async def update_webhook_source(
        self, source: sources_pb2.WebhookSource, paths: Sequence[str]
    ) -> sources_pb2.WebhookSource:
        response = await self._call(
            self.sources.UpdateWebhookSource,
            sources_pb2.UpdateWebhookSourceRequest(
                source=source, update_mask=field_mask_pb2.FieldMask(paths=list(paths))
            ),
        )
        return response.source  # type: ignore[no-any-return]

    async def delete_webhook_source(self, name: str) -> None:
        await self._call(
            self.sources.DeleteWebhookSource, sources_pb2.DeleteWebhookSourceRequest(name=name)
        )


def _watch_request(
    after_sequence: int | None, heartbeat_interval: dt.timedelta | None, filters: Mapping[str, Any]
) -> events_pb2.WatchStatusRequest:
    request = events_pb2.WatchStatusRequest(**filters)
    if after_sequence is not None:
        request.after_sequence = after_sequence
    if heartbeat_interval is not None:
        request.heartbeat_interval.FromTimedelta(heartbeat_interval)
    return request


def _set_interval(destination: destinations_pb2.Destination, interval: dt.timedelta | None) -> None:
    if interval is not None:
        duration = duration_pb2.Duration()
        duration.FromTimedelta(interval)
        destination.retry_interval.CopyFrom(duration)
