"""Webhook sources between protobuf and the domain (the secret only goes in)."""

from __future__ import annotations

from tenaz.v1 import sources_pb2

from jobs.model import WebhookSource
from jobs.webhook_sources import SourceSpec
from server.mapping import timestamp

_KINDS = {
    sources_pb2.WEBHOOK_SOURCE_KIND_HOTMART: "hotmart",
    sources_pb2.WEBHOOK_SOURCE_KIND_KIWIFY: "kiwify",
    sources_pb2.WEBHOOK_SOURCE_KIND_EDUZZ: "eduzz",
    sources_pb2.WEBHOOK_SOURCE_KIND_GENERIC: "generic",
}
_KIND_ENUMS = {name: value for value, name in _KINDS.items()}


def source_spec(message: sources_pb2.WebhookSource) -> SourceSpec:
    return SourceSpec(
        name=message.name,
        kind=_KINDS.get(message.kind, ""),
        secret=message.secret,
        event_names=dict(message.event_names),
        fields=dict(message.fields),
        destinations=list(message.destinations),
    )


def source(found: WebhookSource) -> sources_pb2.WebhookSource:
    return sources_pb2.WebhookSource(
        name=found.name,
        kind=_KIND_ENUMS[found.kind],
        secret_set=bool(found.secret),
        event_names=found.options.get("events", {}),
        fields=found.options.get("fields", {}),
        destinations=found.destinations,
        path=f"/webhooks/{found.kind}/{found.name}",
        ignored=[
            sources_pb2.IgnoredEventType(
                event_type=i.event_type, count=i.count, last_at=timestamp(i.last_at)
            )
            for i in found.ignored
        ],
        created_at=timestamp(found.created_at),
        updated_at=timestamp(found.updated_at),
    )
