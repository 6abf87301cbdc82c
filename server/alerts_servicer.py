"""AlertService: decode, call the domain, encode. Channel secrets are never encoded."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc
from tenaz.v1 import alerts_pb2, alerts_pb2_grpc

from jobs.alerts import AlertService
from jobs.errors import InvalidArgument
from jobs.runtime import Runtime
from server import alert_mapping as mapping
from server.auth import current_workspace

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


class AlertServicer(alerts_pb2_grpc.AlertServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self._service: AlertService = runtime.alerts

    async def CreateAlertRule(
        self, request: alerts_pb2.CreateAlertRuleRequest, context: Context
    ) -> alerts_pb2.CreateAlertRuleResponse:
        if not request.HasField("rule"):
            raise InvalidArgument.one("rule", "required")
        created = await self._service.create_rule(
            current_workspace().id, mapping.rule_spec(request.rule)
        )
        return alerts_pb2.CreateAlertRuleResponse(rule=mapping.rule(created))

    async def ListAlertRules(
        self, request: alerts_pb2.ListAlertRulesRequest, context: Context
    ) -> alerts_pb2.ListAlertRulesResponse:
        found = await self._service.list_rules(current_workspace().id)
        return alerts_pb2.ListAlertRulesResponse(rules=[mapping.rule(r) for r in found])

    async def UpdateAlertRule(
        self, request: alerts_pb2.UpdateAlertRuleRequest, context: Context
    ) -> alerts_pb2.UpdateAlertRuleResponse:
        updated = await self._service.update_rule(
            current_workspace().id, mapping.rule_spec(request.rule)
        )
        return alerts_pb2.UpdateAlertRuleResponse(rule=mapping.rule(updated))

    async def DeleteAlertRule(
        self, request: alerts_pb2.DeleteAlertRuleRequest, context: Context
    ) -> alerts_pb2.DeleteAlertRuleResponse:
        await self._service.delete_rule(current_workspace().id, request.name)
        return alerts_pb2.DeleteAlertRuleResponse()

    async def CreateAlertChannel(
        self, request: alerts_pb2.CreateAlertChannelRequest, context: Context
    ) -> alerts_pb2.CreateAlertChannelResponse:
        if not request.HasField("channel"):
            raise InvalidArgument.one("channel", "required")
        created = await self._service.create_channel(
            current_workspace().id, mapping.channel_spec(request.channel)
        )
        return alerts_pb2.CreateAlertChannelResponse(channel=mapping.channel(created))

    async def ListAlertChannels(
        self, request: alerts_pb2.ListAlertChannelsRequest, context: Context
    ) -> alerts_pb2.ListAlertChannelsResponse:
        found = await self._service.list_channels(current_workspace().id)
        return alerts_pb2.ListAlertChannelsResponse(channels=[mapping.channel(c) for c in found])

    async def UpdateAlertChannel(
        self, request: alerts_pb2.UpdateAlertChannelRequest, context: Context
    ) -> alerts_pb2.UpdateAlertChannelResponse:
        spec = mapping.channel_spec(request.channel)
        updated = await self._service.update_channel(
            current_workspace().id, spec.name, mapping.changed_settings(spec), spec.secrets
        )
        return alerts_pb2.UpdateAlertChannelResponse(channel=mapping.channel(updated))

    async def DeleteAlertChannel(
        self, request: alerts_pb2.DeleteAlertChannelRequest, context: Context
    ) -> alerts_pb2.DeleteAlertChannelResponse:
        await self._service.delete_channel(current_workspace().id, request.name)
        return alerts_pb2.DeleteAlertChannelResponse()

    async def ListNotifications(
        self, request: alerts_pb2.ListNotificationsRequest, context: Context
    ) -> alerts_pb2.ListNotificationsResponse:
        found = await self._service.history(
            current_workspace().id,
            limit=request.page_size or 100,
            before_id=request.before_id or None,
        )
        return alerts_pb2.ListNotificationsResponse(
            notifications=[mapping.notification(n) for n in found]
        )

    async def TestChannel(
        self, request: alerts_pb2.TestChannelRequest, context: Context
    ) -> alerts_pb2.TestChannelResponse:
        workspace = current_workspace()
        sent = await self._service.test_channel(workspace.id, workspace.name, request.name)
        return alerts_pb2.TestChannelResponse(notification=mapping.notification(sent))
