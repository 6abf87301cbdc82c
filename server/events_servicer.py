"""EventService: decode, call the domain, encode. Errors are the interceptor's job."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc
from tenaz.v1 import events_pb2, events_pb2_grpc

from jobs.errors import InvalidArgument
from jobs.runtime import Runtime
from jobs.store.events import EventFilter
from server import mapping
from server.auth import current_workspace

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


class EventServicer(events_pb2_grpc.EventServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def SubmitEvent(
        self, request: events_pb2.SubmitEventRequest, context: Context
    ) -> events_pb2.SubmitEventResponse:
        if not request.HasField("event"):
            raise InvalidArgument.one("event", "required")
        [result] = await self._runtime.submissions.submit(
            current_workspace().id, [mapping.event_input(request.event)], batch=False
        )
        return events_pb2.SubmitEventResponse(
            event=mapping.stored_event(result.event), duplicate=result.duplicate
        )

    async def SubmitEvents(
        self, request: events_pb2.SubmitEventsRequest, context: Context
    ) -> events_pb2.SubmitEventsResponse:
        results = await self._runtime.submissions.submit(
            current_workspace().id, [mapping.event_input(e) for e in request.events], batch=True
        )
        return events_pb2.SubmitEventsResponse(
            results=[
                events_pb2.SubmitEventResult(
                    index=index,
                    id=str(result.event.id),
                    duplicate=result.duplicate,
                    deliveries=[mapping.delivery(d) for d in result.event.deliveries],
                )
                for index, result in enumerate(results)
            ]
        )

    async def GetEvent(
        self, request: events_pb2.GetEventRequest, context: Context
    ) -> events_pb2.GetEventResponse:
        event = await self._runtime.reads.get(current_workspace().id, request.id)
        return events_pb2.GetEventResponse(event=mapping.stored_event(event))

    async def ListEvents(
        self, request: events_pb2.ListEventsRequest, context: Context
    ) -> events_pb2.ListEventsResponse:
        statuses = []
        for index, value in enumerate(request.statuses):
            if value not in mapping.STATUS_FROM_PROTO:
                raise InvalidArgument.one(f"statuses[{index}]", "not a delivery status")
            statuses.append(str(mapping.STATUS_FROM_PROTO[value]))
        where = EventFilter(
            statuses=statuses,
            event_name=request.event_name,
            received_after=mapping.from_timestamp(request, "received_after"),
            received_before=mapping.from_timestamp(request, "received_before"),
            event_ids=list(request.event_ids),
        )
        events, token = await self._runtime.reads.list(
            current_workspace().id,
            where,
            destination_name=request.destination,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return events_pb2.ListEventsResponse(
            events=[mapping.stored_event(e) for e in events], next_page_token=token
        )
