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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import duration_pb2, field_mask_pb2, timestamp_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tenaz.v1 import destinations_pb2, destinations_pb2_grpc, events_pb2, events_pb2_grpc

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
        options = [("grpc.max_send_message_length", 16 * 1024 * 1024)]
        self._channel = (
            grpc.aio.secure_channel(target, credentials, options=options)
            if credentials is not None
            else grpc.aio.insecure_channel(target, options=options)
        )
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self._timeout = timeout
        self.events = events_pb2_grpc.EventServiceStub(self._channel)
        self.destinations = destinations_pb2_grpc.DestinationServiceStub(self._channel)

    async def __aenter__(self) -> TenazClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

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
        """
        request = events_pb2.WatchStatusRequest(**filters)
        if after_sequence is not None:
            request.after_sequence = after_sequence
        if heartbeat_interval is not None:
            request.heartbeat_interval.FromTimedelta(heartbeat_interval)
        call = self.events.WatchStatus(request, metadata=self._metadata)
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


def _set_interval(destination: destinations_pb2.Destination, interval: dt.timedelta | None) -> None:
    if interval is not None:
        duration = duration_pb2.Duration()
        duration.FromTimedelta(interval)
        destination.retry_interval.CopyFrom(duration)
