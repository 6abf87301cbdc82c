"""The dashboard's JSON API: decode the request, call the domain service, encode the answer.

    GET  /api/statuses                          the status model and its labels
    GET  /api/events?status=&destination=&q=    events, newest first, paged
    GET  /api/events/{id}                       one event, its deliveries and attempts
    GET  /api/stats?window=24h&bucket=1h        counts, attempts over time, destination health
    GET  /api/alerts                            alert rules, channels, recent notifications
                                                (admin keys, as every /api/alerts call)
    POST   /api/alerts/rules                    {"name", "condition", "destination",
                                                 "threshold", "window": "15m", "min_attempts",
                                                 "recovery": "5m", "channels": [...]}
    POST   /api/alerts/rules/{name}/enabled     {"enabled": true | false}
    DELETE /api/alerts/rules/{name}
    POST   /api/alerts/channels                 {"name", "kind": "webhook" | "email",
                                                 "settings": {...}, "secrets": {...}}
                                                (secrets are write-only: never answered)
    DELETE /api/alerts/channels/{name}
    POST /api/deliveries/retry   {"delivery_ids": [...]}         (admin keys)
    POST /api/deliveries/cancel  {"delivery_ids": [...]}         (admin keys)
    POST /api/destinations/{name}/access-token  {"secrets": {...}} or {"access_token": "..."}
                                                (admin keys)

Errors are raised, never answered here: `server.dashboard.errors` maps them.
Scopes are checked before any handler runs (`server.dashboard.auth`).
"""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from jobs import alert_rules
from jobs.alert_channels import SECRET_NAMES, SETTING_NAMES
from jobs.alerts import ChannelSpec, RuleSpec
from jobs.destinations import DestinationSpec
from jobs.errors import InvalidArgument
from jobs.model import DeliveryFilter
from jobs.operations import CANCEL, RETRY
from jobs.platforms import registry
from jobs.runtime import Runtime
from jobs.scopes import ADMIN, require_scope
from jobs.stats import DEFAULT_BUCKET, DEFAULT_WINDOW, on_a_bucket_edge
from server.dashboard import encode, params
from server.dashboard.auth import caller, workspace

# The stats service bounds the number of buckets; this bounds the dates themselves.
MAX_WINDOW = dt.timedelta(days=366)
# Notifications the alerts panel shows, newest first.
ALERT_HISTORY = 20


class DashboardApi:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._rule = runtime.settings.deadline_rule

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/statuses", self.statuses),
            web.get("/api/events", self.list_events),
            web.get("/api/events/{id}", self.get_event),
            web.get("/api/stats", self.stats),
            web.get("/api/alerts", self.alerts),
            web.post("/api/alerts/rules", self.create_alert_rule),
            web.post("/api/alerts/rules/{name}/enabled", self.enable_alert_rule),
            web.delete("/api/alerts/rules/{name}", self.delete_alert_rule),
            web.post("/api/alerts/channels", self.create_alert_channel),
            web.delete("/api/alerts/channels/{name}", self.delete_alert_channel),
            web.post("/api/deliveries/retry", self.retry),
            web.post("/api/deliveries/cancel", self.cancel),
            web.post("/api/destinations/{name}/access-token", self.replace_access_token),
        ]

    async def alerts(self, request: web.Request) -> web.StreamResponse:
        # Channels say where the operators are reached: like the gRPC AlertService, admin only.
        require_scope(caller(request), ADMIN, "reading alerts")
        workspace_id = workspace(request).id
        service = self._runtime.alerts
        rules = await service.list_rules(workspace_id)
        channels = await service.list_channels(workspace_id)
        notifications = await service.history(workspace_id, limit=ALERT_HISTORY)
        return web.json_response(encode.alerts(rules, channels, notifications))

    async def create_alert_rule(self, request: web.Request) -> web.StreamResponse:
        body = await params.json_object(request)
        spec = RuleSpec(
            name=params.text(body, "name"),
            condition=params.text(body, "condition"),
            destination=params.text(body, "destination"),
            threshold=params.number(body, "threshold"),
            window=params.span(body, "window", alert_rules.DEFAULT_WINDOW),
            min_attempts=params.count(body, "min_attempts", 1),
            recovery=params.span(body, "recovery", alert_rules.DEFAULT_RECOVERY),
            channels=params.names(body, "channels"),
            enabled=params.flag(body, "enabled", True),
        )
        created = await self._runtime.alerts.create_rule(workspace(request).id, spec)
        return web.json_response({"rule": encode.alert_rule(created)})

    async def enable_alert_rule(self, request: web.Request) -> web.StreamResponse:
        enabled = params.flag(await params.json_object(request), "enabled", True)
        changed = await self._runtime.alerts.set_rule_enabled(
            workspace(request).id, request.match_info["name"], enabled
        )
        return web.json_response({"rule": encode.alert_rule(changed)})

    async def delete_alert_rule(self, request: web.Request) -> web.StreamResponse:
        await self._runtime.alerts.delete_rule(workspace(request).id, request.match_info["name"])
        return web.json_response({})

    async def create_alert_channel(self, request: web.Request) -> web.StreamResponse:
        body = await params.json_object(request)
        kind = params.text(body, "kind")
        secret = SECRET_NAMES.get(kind, "")
        secrets = params.setting_values(body, "secrets", (secret,) if secret else ())
        spec = ChannelSpec(
            name=params.text(body, "name"),
            kind=kind,
            settings=params.setting_values(body, "settings", SETTING_NAMES.get(kind, ())),
            secrets={name: str(value) for name, value in secrets.items()},
        )
        created = await self._runtime.alerts.create_channel(workspace(request).id, spec)
        return web.json_response({"channel": encode.alert_channel(created)})

    async def delete_alert_channel(self, request: web.Request) -> web.StreamResponse:
        await self._runtime.alerts.delete_channel(workspace(request).id, request.match_info["name"])
        return web.json_response({})

    async def statuses(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(encode.status_model())

    async def list_events(self, request: web.Request) -> web.StreamResponse:
        workspace_id = workspace(request).id
        query = request.query
        where = DeliveryFilter(
            statuses=params.statuses(query),
            destination_id=await self._destination_id(workspace_id, query.get("destination", "")),
            event_or_order_id=query.get("q", "").strip(),
        )
        events, next_token = await self._runtime.reads.list(
            workspace_id,
            where,
            destination_name="",
            page_size=params.whole_number(query, "page_size"),
            page_token=query.get("page_token", ""),
        )
        now = self._runtime.clock.now()
        return web.json_response(
            {
                "events": [encode.event(e, now, self._rule, with_attempts=False) for e in events],
                "next_page_token": next_token,
            }
        )

    async def get_event(self, request: web.Request) -> web.StreamResponse:
        found = await self._runtime.reads.get(workspace(request).id, request.match_info["id"])
        return web.json_response(
            {
                "event": encode.event(
                    found, self._runtime.clock.now(), self._rule, with_attempts=True
                )
            }
        )

    async def stats(self, request: web.Request) -> web.StreamResponse:
        until = self._runtime.clock.now()
        window = params.duration(request.query, "window", DEFAULT_WINDOW, at_most=MAX_WINDOW)
        bucket = params.duration(request.query, "bucket", DEFAULT_BUCKET, at_most=MAX_WINDOW)
        result = await self._runtime.stats.stats(
            workspace(request).id,
            since=on_a_bucket_edge(until - window, bucket, before=until),
            until=until,
            bucket=bucket,
        )
        return web.json_response(encode.stats(result))

    async def retry(self, request: web.Request) -> web.StreamResponse:
        return await self._operation(request, RETRY)

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        return await self._operation(request, CANCEL)

    async def _operation(self, request: web.Request, kind: str) -> web.StreamResponse:
        ids = params.delivery_ids(await params.json_object(request))
        row = await self._runtime.operations.start(workspace(request).id, kind, ids=ids, where=None)
        return web.json_response({"operation": encode.operation(row)})

    async def replace_access_token(self, request: web.Request) -> web.StreamResponse:
        """New credentials: clears "needs action" and sends what waits at once.

        The body names the platform's secrets (`{"secrets": {"access_token": "..."}}`), or
        holds `access_token`, the first secret of platforms with one token.
        """
        body = await params.json_object(request)
        name = request.match_info["name"]
        workspace_id = workspace(request).id
        current = await self._runtime.destinations.get(workspace_id, name)
        platform = registry.platform(current.kind)
        if "secrets" in body:
            secrets = params.text_map(body, "secrets")
        elif platform.secret_settings:
            secrets = {platform.secret_settings[0].name: params.text(body, "access_token")}
        else:
            raise InvalidArgument.one("secrets", f"a {current.kind} destination has no secrets")
        updated = await self._runtime.destinations.update(
            workspace_id,
            DestinationSpec(name=name, kind=current.kind, secrets=secrets),
            [f"{current.kind}.{secret}" for secret in secrets],
        )
        return web.json_response(
            {"destination": {"name": updated.name, "needs_action": updated.needs_action}}
        )

    async def _destination_id(self, workspace_id: int, name: str) -> int | None:
        if not name:
            return None
        [found] = await self._runtime.destinations.resolve(workspace_id, [name], "destination")
        return found.id
