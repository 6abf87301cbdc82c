"""Key scopes over real gRPC: every RPC of every service has a declared scope; a submit key is
refused with PERMISSION_DENIED, naming the scope it lacks, exactly where admin is needed, and
changes nothing there; it is served everywhere else; an admin key is served everywhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf import field_mask_pb2
from google.protobuf.message import Message
from tenaz.client import TenazClient, make_event
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

from jobs import keys
from jobs.clock import FakeClock
from jobs.errors import InvalidArgument
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.platforms.webhook import SANDBOX_SECRET as SECRET
from jobs.runtime import Runtime
from jobs.scopes import ADMIN, SCOPES, SUBMIT
from server.app import TenazServer
from server.auth import REQUIRED_SCOPE

SERVICES = (
    events_pb2.DESCRIPTOR.services_by_name["EventService"],
    destinations_pb2.DESCRIPTOR.services_by_name["DestinationService"],
    alerts_pb2.DESCRIPTOR.services_by_name["AlertService"],
    sources_pb2.DESCRIPTOR.services_by_name["WebhookSourceService"],
)
STUBS: dict[str, Callable[[grpc.aio.Channel], object]] = {
    "tenaz.v1.EventService": events_pb2_grpc.EventServiceStub,
    "tenaz.v1.DestinationService": destinations_pb2_grpc.DestinationServiceStub,
    "tenaz.v1.AlertService": alerts_pb2_grpc.AlertServiceStub,
    "tenaz.v1.WebhookSourceService": sources_pb2_grpc.WebhookSourceServiceStub,
}
# The policy as operators are promised it: what changes where events go or what is sent again.
NEEDS_ADMIN = {
    "RetryDeliveries",
    "CancelDeliveries",
    "GetOperation",
    "CreateDestination",
    "UpdateDestination",
    "DeleteDestination",
    # Alerts, reads included: a channel's settings say where operators are reached.
    *(method.name for method in alerts_pb2.DESCRIPTOR.services_by_name["AlertService"].methods),
    # Webhook sources, reads included: where sales come in from, and with what secret.
    *(
        method.name
        for method in sources_pb2.DESCRIPTOR.services_by_name["WebhookSourceService"].methods
    ),
}
EVERY_RPC = sorted(
    f"/{service.full_name}/{method.name}" for service in SERVICES for method in service.methods
)
STREAMING = {
    f"/{service.full_name}/{method.name}"
    for service in SERVICES
    for method in service.methods
    if method.server_streaming
}


@dataclass(frozen=True)
class Existing:
    """What the requests refer to: an event, its delivery, an operation, two destinations."""

    event_id: str
    delivery_id: str
    operation_id: str
    clock: FakeClock
    hook_url: str

    def event(self, event_id: str) -> events_pb2.Event:
        return make_event(
            event_id=event_id, event_name="Lead", event_time=self.clock.now(), email="a@example.com"
        )


REQUESTS: dict[str, Callable[[Existing], Message]] = {
    "SubmitEvent": lambda w: events_pb2.SubmitEventRequest(event=w.event("new-1")),
    "SubmitEvents": lambda w: events_pb2.SubmitEventsRequest(events=[w.event("new-2")]),
    "GetEvent": lambda w: events_pb2.GetEventRequest(id=w.event_id),
    "ListEvents": lambda w: events_pb2.ListEventsRequest(),
    "WatchStatus": lambda w: events_pb2.WatchStatusRequest(after_sequence=0),
    "RetryDeliveries": lambda w: events_pb2.RetryDeliveriesRequest(delivery_ids=[w.delivery_id]),
    "CancelDeliveries": lambda w: events_pb2.CancelDeliveriesRequest(delivery_ids=[w.delivery_id]),
    "GetOperation": lambda w: events_pb2.GetOperationRequest(id=w.operation_id),
    "GetStats": lambda w: events_pb2.GetStatsRequest(),
    "CreateDestination": lambda w: destinations_pb2.CreateDestinationRequest(
        destination=destinations_pb2.Destination(
            name="extra", enabled=True, sandbox=destinations_pb2.SandboxSettings()
        )
    ),
    "GetDestination": lambda w: destinations_pb2.GetDestinationRequest(name="sandbox"),
    "ListDestinations": lambda w: destinations_pb2.ListDestinationsRequest(),
    "UpdateDestination": lambda w: destinations_pb2.UpdateDestinationRequest(
        destination=destinations_pb2.Destination(name="sandbox", enabled=False),
        update_mask=field_mask_pb2.FieldMask(paths=["enabled"]),
    ),
    "DeleteDestination": lambda w: destinations_pb2.DeleteDestinationRequest(name="spare"),
    "CreateAlertRule": lambda w: alerts_pb2.CreateAlertRuleRequest(
        rule=alerts_pb2.AlertRule(
            name="extra", condition=alerts_pb2.ALERT_CONDITION_NEEDS_ACTION, channels=["ops"]
        )
    ),
    "ListAlertRules": lambda w: alerts_pb2.ListAlertRulesRequest(),
    "UpdateAlertRule": lambda w: alerts_pb2.UpdateAlertRuleRequest(
        rule=alerts_pb2.AlertRule(
            name="token", condition=alerts_pb2.ALERT_CONDITION_NEEDS_ACTION, channels=["ops"]
        )
    ),
    "DeleteAlertRule": lambda w: alerts_pb2.DeleteAlertRuleRequest(name="spare"),
    "CreateAlertChannel": lambda w: alerts_pb2.CreateAlertChannelRequest(
        channel=alerts_pb2.AlertChannel(
            name="extra",
            webhook=alerts_pb2.WebhookChannelSettings(url=w.hook_url, signing_secret=SECRET),
        )
    ),
    "ListAlertChannels": lambda w: alerts_pb2.ListAlertChannelsRequest(),
    "UpdateAlertChannel": lambda w: alerts_pb2.UpdateAlertChannelRequest(
        channel=alerts_pb2.AlertChannel(
            name="ops", webhook=alerts_pb2.WebhookChannelSettings(url=w.hook_url + "2")
        )
    ),
    "DeleteAlertChannel": lambda w: alerts_pb2.DeleteAlertChannelRequest(name="spare"),
    "ListNotifications": lambda w: alerts_pb2.ListNotificationsRequest(),
    "TestChannel": lambda w: alerts_pb2.TestChannelRequest(name="ops"),
    "CreateWebhookSource": lambda w: sources_pb2.CreateWebhookSourceRequest(
        source=sources_pb2.WebhookSource(
            name="extra", kind=sources_pb2.WEBHOOK_SOURCE_KIND_HOTMART, secret="hottok"
        )
    ),
    "ListWebhookSources": lambda w: sources_pb2.ListWebhookSourcesRequest(),
    "UpdateWebhookSource": lambda w: sources_pb2.UpdateWebhookSourceRequest(
        source=sources_pb2.WebhookSource(name="loja", event_names={"PURCHASE_COMPLETE": ""}),
        update_mask=field_mask_pb2.FieldMask(paths=["event_names"]),
    ),
    "DeleteWebhookSource": lambda w: sources_pb2.DeleteWebhookSourceRequest(name="spare-source"),
}


@pytest.fixture
async def existing(client: TenazClient, clock: FakeClock, fake_meta: FakeMetaServer) -> Existing:
    await client.create_sandbox_destination("sandbox")
    submitted = await client.submit_event(
        make_event(
            event_id="first", event_name="Lead", event_time=clock.now(), email="a@example.com"
        )
    )
    delivery_id = submitted.event.deliveries[0].id
    operation = await client.retry_deliveries([delivery_id])
    await client.create_sandbox_destination("spare")  # no deliveries: it may be deleted
    hook_url = fake_meta.base_url + "/hook"  # an allowed address; it answers 404
    for channel in ("ops", "spare"):
        await client.create_alert_channel(
            alerts_pb2.AlertChannel(
                name=channel,
                webhook=alerts_pb2.WebhookChannelSettings(url=hook_url, signing_secret=SECRET),
            )
        )
    for rule in ("token", "spare"):
        await client.create_alert_rule(
            alerts_pb2.AlertRule(
                name=rule, condition=alerts_pb2.ALERT_CONDITION_NEEDS_ACTION, channels=["ops"]
            )
        )
    for source in ("loja", "spare-source"):
        await client.create_webhook_source(
            sources_pb2.WebhookSource(
                name=source, kind=sources_pb2.WEBHOOK_SOURCE_KIND_HOTMART, secret="hottok"
            )
        )
    return Existing(submitted.event.id, delivery_id, operation.id, clock, hook_url)


async def call(server: TenazServer, path: str, request: Message, key: str) -> tuple[str, str]:
    """(status code name, message) of one call of `path` made with `key`."""
    service, _, name = path[1:].partition("/")
    metadata = (("authorization", f"Bearer {key}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        rpc = getattr(STUBS[service](channel), name)
        try:
            if path in STREAMING:
                stream = rpc(request, metadata=metadata, timeout=10)
                await stream.read()  # the first change: the stream is served
                stream.cancel()
            else:
                await rpc(request, metadata=metadata, timeout=10)
        except grpc.aio.AioRpcError as exc:
            return exc.code().name, exc.details() or ""
    return "OK", ""


async def state_of(runtime: Runtime) -> object:
    """Everything an admin-only call could change: destinations, deliveries, operations,
    alerts, webhook sources."""
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT (SELECT array_agg((name, enabled, deleted_at IS NULL) ORDER BY id)::text"
            "  FROM tenaz_destinations),"
            " (SELECT array_agg((id, status, next_attempt_at) ORDER BY id)::text"
            "  FROM tenaz_deliveries),"
            " (SELECT count(*) FROM tenaz_operations),"
            " (SELECT array_agg((name, channels, enabled) ORDER BY id)::text"
            "  FROM tenaz_alert_rules),"
            " (SELECT array_agg((name, settings) ORDER BY id)::text FROM tenaz_alert_channels),"
            " (SELECT count(*) FROM tenaz_alert_notifications),"
            " (SELECT array_agg((name, options, destinations) ORDER BY id)::text"
            "  FROM tenaz_webhook_sources)"
        )
        return await cur.fetchone()


def test_every_rpc_of_both_services_has_a_declared_scope() -> None:
    assert sorted(REQUIRED_SCOPE) == EVERY_RPC
    assert set(REQUIRED_SCOPE.values()) <= set(SCOPES)
    assert sorted(REQUESTS) == sorted(path.rpartition("/")[2] for path in EVERY_RPC)


@pytest.mark.parametrize("path", EVERY_RPC, ids=lambda path: path.rpartition("/")[2])
async def test_a_submit_key_is_refused_exactly_where_admin_is_needed(
    path: str,
    server: TenazServer,
    runtime: Runtime,
    existing: Existing,
    api_key: str,
    submit_api_key: str,
) -> None:
    name = path.rpartition("/")[2]
    needs_admin = name in NEEDS_ADMIN
    assert REQUIRED_SCOPE[path] == (ADMIN if needs_admin else SUBMIT)
    request = REQUESTS[name](existing)

    before = await state_of(runtime)
    code, message = await call(server, path, request, submit_api_key)
    if needs_admin:
        assert (code, message) == (
            "PERMISSION_DENIED",
            f"this API key has scope submit; {name} needs an admin key",
        )
        assert await state_of(runtime) == before
    else:
        assert (code, message) == ("OK", "")

    assert await call(server, path, request, api_key) == ("OK", "")


async def test_new_keys_are_submit_unless_admin_is_asked_and_no_other_scope_exists(
    runtime: Runtime,
) -> None:
    plain = await keys.create_key(runtime.pool, workspace="acme")
    admin = await keys.create_key(runtime.pool, workspace="acme", scope=ADMIN)
    assert (plain.scope, admin.scope) == (SUBMIT, ADMIN)
    assert [(k.prefix, k.scope) for k in await keys.list_keys(runtime.pool)] == [
        (plain.secret[: keys.DISPLAY_PREFIX_LENGTH], SUBMIT),
        (admin.secret[: keys.DISPLAY_PREFIX_LENGTH], ADMIN),
    ]
    assert (await keys.authenticate(runtime.pool, plain.secret)).scope == SUBMIT
    assert (await keys.authenticate(runtime.pool, admin.secret)).scope == ADMIN
    with pytest.raises(InvalidArgument) as refused:
        await keys.create_key(runtime.pool, workspace="acme", scope="root")
    assert refused.value.violations[0].field == "scope"
    assert len(await keys.list_keys(runtime.pool)) == 2
