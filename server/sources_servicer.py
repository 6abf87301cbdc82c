"""WebhookSourceService: decode, call the domain, encode. Secrets are never encoded."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc
from tenaz.v1 import sources_pb2, sources_pb2_grpc

from jobs.errors import InvalidArgument
from jobs.runtime import Runtime
from jobs.webhook_sources import WebhookSourceService
from server import source_mapping as mapping
from server.auth import current_workspace

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


class WebhookSourceServicer(sources_pb2_grpc.WebhookSourceServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self._service: WebhookSourceService = runtime.webhook_sources

    async def CreateWebhookSource(
        self, request: sources_pb2.CreateWebhookSourceRequest, context: Context
    ) -> sources_pb2.CreateWebhookSourceResponse:
        if not request.HasField("source"):
            raise InvalidArgument.one("source", "required")
        created = await self._service.create(
            current_workspace().id, mapping.source_spec(request.source)
        )
        return sources_pb2.CreateWebhookSourceResponse(source=mapping.source(created))

    async def ListWebhookSources(
        self, request: sources_pb2.ListWebhookSourcesRequest, context: Context
    ) -> sources_pb2.ListWebhookSourcesResponse:
        found = await self._service.list(current_workspace().id)
        return sources_pb2.ListWebhookSourcesResponse(sources=[mapping.source(s) for s in found])

    async def UpdateWebhookSource(
        self, request: sources_pb2.UpdateWebhookSourceRequest, context: Context
    ) -> sources_pb2.UpdateWebhookSourceResponse:
        updated = await self._service.update(
            current_workspace().id,
            mapping.source_spec(request.source),
            list(request.update_mask.paths),
        )
        return sources_pb2.UpdateWebhookSourceResponse(source=mapping.source(updated))

    async def DeleteWebhookSource(
        self, request: sources_pb2.DeleteWebhookSourceRequest, context: Context
    ) -> sources_pb2.DeleteWebhookSourceResponse:
        await self._service.delete(current_workspace().id, request.name)
        return sources_pb2.DeleteWebhookSourceResponse()
