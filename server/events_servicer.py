"""EventService: decode, call the domain, encode. Errors are the interceptor's job.

Each call is checked in the order of what the checks cost: first what the
request shows by itself (counts, required fields, values that decode), then
the key's rate limit, then the work (the database). A call refused for its
shape spends none of the key's limit, and no call over the limit reaches the
database.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import grpc
from tenaz.v1 import events_pb2, events_pb2_grpc

from jobs.errors import InvalidArgument
from jobs.model import DeliveryFilter
from jobs.operations import CANCEL, RETRY
from jobs.runtime import Runtime
from jobs.status_follower import StatusFollower
from jobs.submission import check_batch_size
from jobs.turns import in_turns
from server import mapping
from server.auth import current_key_id, current_workspace
from server.rate_limit import SubmissionLimiter
from server.status_hub import StatusHub

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


class EventCalls(events_pb2_grpc.EventServiceServicer):
    """EventService's unary calls. They need no status stream, so the Connect protocol's
    HTTP edge (server/ingest/connect.py) serves them as they are, beside gRPC."""

    def __init__(self, runtime: Runtime, limiter: SubmissionLimiter) -> None:
        self._runtime = runtime
        self._limiter = limiter
        self._tracing = runtime.tracing

    async def SubmitEvent(
        self, request: events_pb2.SubmitEventRequest, context: Context
    ) -> events_pb2.SubmitEventResponse:
        workspace_id = current_workspace().id
        with self._tracing.submission(
            "SubmitEvent", workspace_id, context.invocation_metadata
        ) as trace:
            if not request.HasField("event"):
                raise InvalidArgument.one("event", "required")
            submissions = self._runtime.submissions
            # Cheap checks first (decoding, the event's own fields), then the key's limit,
            # then the work: a call refused for what it holds spends none of the limit.
            call = submissions.check(
                [mapping.event_input(request.event, "event")],
                batch=False,
                trace_context=trace.context,
            )
            self._limiter.take(current_key_id(), 1)
            [result] = await submissions.submit_checked(workspace_id, call)
            trace.record([result])
        response = events_pb2.SubmitEventResponse(duplicate=result.duplicate)
        mapping.fill_stored_event(response.event, result.event)
        return response

    async def SubmitEvents(
        self, request: events_pb2.SubmitEventsRequest, context: Context
    ) -> events_pb2.SubmitEventsResponse:
        workspace_id = current_workspace().id
        with self._tracing.submission(
            "SubmitEvents", workspace_id, context.invocation_metadata
        ) as trace:
            submissions = self._runtime.submissions
            check_batch_size(len(request.events))
            # In turns: a big batch's Python would hold up every other call (jobs/turns.py).
            events = await in_turns(
                enumerate(request.events),
                lambda pair: mapping.event_input(pair[1], f"events[{pair[0]}]"),
            )
            call = await submissions.check_in_turns(events, trace_context=trace.context)
            self._limiter.take(current_key_id(), len(events))
            results = await submissions.submit_checked(workspace_id, call)
            trace.record(results)
        return await mapping.submit_events_response(results)

    async def GetEvent(
        self, request: events_pb2.GetEventRequest, context: Context
    ) -> events_pb2.GetEventResponse:
        event = await self._runtime.reads.get(current_workspace().id, request.id)
        response = events_pb2.GetEventResponse()
        mapping.fill_stored_event(response.event, event)
        return response

    async def ListEvents(
        self, request: events_pb2.ListEventsRequest, context: Context
    ) -> events_pb2.ListEventsResponse:
        where = DeliveryFilter(
            statuses=mapping.status_names(request.statuses, "statuses"),
            event_name=request.event_name,
            after=mapping.from_timestamp(request, "received_after"),
            before=mapping.from_timestamp(request, "received_before"),
            event_ids=list(request.event_ids),
        )
        events, token = await self._runtime.reads.list(
            current_workspace().id,
            where,
            destination_name=request.destination,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        response = events_pb2.ListEventsResponse(next_page_token=token)
        stamps = mapping.Timestamps()
        for event in events:
            mapping.fill_stored_event(response.events.add(), event, stamps)
        return response

    async def RetryDeliveries(
        self, request: events_pb2.RetryDeliveriesRequest, context: Context
    ) -> events_pb2.RetryDeliveriesResponse:
        operation = await self._operation(RETRY, request)
        return events_pb2.RetryDeliveriesResponse(operation=operation)

    async def CancelDeliveries(
        self, request: events_pb2.CancelDeliveriesRequest, context: Context
    ) -> events_pb2.CancelDeliveriesResponse:
        operation = await self._operation(CANCEL, request)
        return events_pb2.CancelDeliveriesResponse(operation=operation)

    async def _operation(
        self,
        kind: str,
        request: events_pb2.RetryDeliveriesRequest | events_pb2.CancelDeliveriesRequest,
    ) -> events_pb2.Operation:
        where = mapping.delivery_filter(request.filter) if request.HasField("filter") else None
        row = await self._runtime.operations.start(
            current_workspace().id,
            kind,
            ids=list(request.delivery_ids),
            where=where,
            destination_name=request.filter.destination,
        )
        return mapping.operation(row)

    async def GetOperation(
        self, request: events_pb2.GetOperationRequest, context: Context
    ) -> events_pb2.GetOperationResponse:
        row = await self._runtime.operations.get(current_workspace().id, request.id)
        return events_pb2.GetOperationResponse(operation=mapping.operation(row))

    async def GetStats(
        self, request: events_pb2.GetStatsRequest, context: Context
    ) -> events_pb2.GetStatsResponse:
        result = await self._runtime.stats.stats(
            current_workspace().id,
            since=mapping.from_timestamp(request, "since"),
            until=mapping.from_timestamp(request, "until"),
            bucket=request.bucket.ToTimedelta() if request.HasField("bucket") else None,
        )
        return mapping.stats(result)


class EventServicer(EventCalls):
    """EventService over gRPC: the unary calls, and WatchStatus's streams."""

    def __init__(self, runtime: Runtime, hub: StatusHub, limiter: SubmissionLimiter) -> None:
        super().__init__(runtime, limiter)
        self._follower = StatusFollower(
            runtime.feed,
            runtime.clock,
            hub,
            ends=(hub.closing,),
            per_workspace=runtime.settings.max_streams_per_workspace,
        )

    async def WatchStatus(
        self, request: events_pb2.WatchStatusRequest, context: Context
    ) -> AsyncIterator[events_pb2.WatchStatusResponse]:
        follow = await self._follower.open(
            current_workspace().id,
            after=request.after_sequence if request.HasField("after_sequence") else None,
            heartbeat=(
                request.heartbeat_interval.ToTimedelta()
                if request.HasField("heartbeat_interval")
                else None
            ),
            destinations=list(request.destinations),
            statuses=mapping.status_names(request.statuses, "statuses"),
            event_names=list(request.event_names),
            client_event_ids=list(request.event_ids),
        )
        async with contextlib.aclosing(follow):
            async for item in follow:
                yield mapping.watch_status_response(item)
