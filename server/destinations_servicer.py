"""DestinationService: decode, call the domain, encode. Secrets are never encoded."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc
from tenaz.v1 import destinations_pb2, destinations_pb2_grpc

from jobs.errors import InvalidArgument
from jobs.runtime import Runtime
from server import mapping
from server.auth import current_workspace

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


class DestinationServicer(destinations_pb2_grpc.DestinationServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self._service = runtime.destinations

    async def CreateDestination(
        self, request: destinations_pb2.CreateDestinationRequest, context: Context
    ) -> destinations_pb2.CreateDestinationResponse:
        if not request.HasField("destination"):
            raise InvalidArgument.one("destination", "required")
        created = await self._service.create(
            current_workspace().id, mapping.destination_spec(request.destination)
        )
        return destinations_pb2.CreateDestinationResponse(destination=mapping.destination(created))

    async def GetDestination(
        self, request: destinations_pb2.GetDestinationRequest, context: Context
    ) -> destinations_pb2.GetDestinationResponse:
        found = await self._service.get(current_workspace().id, request.name)
        return destinations_pb2.GetDestinationResponse(destination=mapping.destination(found))

    async def ListDestinations(
        self, request: destinations_pb2.ListDestinationsRequest, context: Context
    ) -> destinations_pb2.ListDestinationsResponse:
        found = await self._service.list_all(current_workspace().id)
        return destinations_pb2.ListDestinationsResponse(
            destinations=[mapping.destination(d) for d in found]
        )

    async def UpdateDestination(
        self, request: destinations_pb2.UpdateDestinationRequest, context: Context
    ) -> destinations_pb2.UpdateDestinationResponse:
        values = mapping.destination_spec(request.destination)
        updated = await self._service.update(
            current_workspace().id, values, list(request.update_mask.paths)
        )
        return destinations_pb2.UpdateDestinationResponse(destination=mapping.destination(updated))

    async def DeleteDestination(
        self, request: destinations_pb2.DeleteDestinationRequest, context: Context
    ) -> destinations_pb2.DeleteDestinationResponse:
        await self._service.delete(current_workspace().id, request.name)
        return destinations_pb2.DeleteDestinationResponse()
