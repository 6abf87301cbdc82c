"""The dashboard's JSON API over real HTTP against the real runtime and database: auth,
sessions (a random id, hashed, ended by expiry, logout and revocation), key scopes, workspace
isolation, filters and search, event detail, retry/cancel, stats, a new access token, and the
live stream (order, resumption with Last-Event-ID, shutdown, the end of its session)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from jobs import keys
from jobs.alerts import RuleSpec
from jobs.base_url import BaseUrl
from jobs.clock import FakeClock
from jobs.destinations import DestinationSpec
from jobs.platforms.fake_meta import Failure, FakeMetaServer
from jobs.runtime import Runtime
from jobs.submission import EventInput
from server.app import TenazServer
from server.dashboard import DashboardServer, start_dashboard
from server.dashboard.app import build_application
from server.dashboard.auth import COOKIE, SESSION_PATH
from server.status_hub import StatusHub
from tests.alert_receivers import WEBHOOK_SECRET, webhook_channel
from tests.support import (
    META_REFUSES,
    all_sequences,
    logged,
    run_jobs,
    until,
    writer_in_flight,
)

# --- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture
async def hub(runtime: Runtime) -> AsyncIterator[StatusHub]:
    started = StatusHub(runtime.database_url)
    started.start()
    yield started
    await started.close()


@pytest.fixture
async def dashboard(runtime: Runtime, hub: StatusHub) -> AsyncIterator[DashboardServer]:
    started = await start_dashboard(runtime, hub, "127.0.0.1:0", heartbeat=1.0)
    yield started
    await started.stop()


@pytest.fixture
async def http(dashboard: DashboardServer) -> AsyncIterator[aiohttp.ClientSession]:
    """A client with no credentials; tests add a header or log in."""
    # unsafe=True: the cookie jar otherwise ignores cookies set by an IP address host.
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=dashboard.url, cookie_jar=jar) as session:
        yield session


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def workspace_id(runtime: Runtime, key: str) -> int:
    return (await keys.authenticate(runtime.pool, key)).workspace.id


async def sandbox(runtime: Runtime, key: str, name: str = "sandbox") -> None:
    await runtime.destinations.create(
        await workspace_id(runtime, key), DestinationSpec(name=name, kind="sandbox")
    )


async def meta(runtime: Runtime, key: str, fake_meta: FakeMetaServer) -> None:
    await runtime.destinations.create(
        await workspace_id(runtime, key),
        DestinationSpec(
            name="meta",
            kind="meta",
            settings={"pixel_id": "111", "base_url": fake_meta.base_url},
            secrets={"access_token": "good-token"},
        ),
    )


async def submit(
    runtime: Runtime,
    key: str,
    event_id: str,
    *,
    order_id: str = "",
    refused: bool = False,
    fail_attempts: int = 0,
    destinations: tuple[str, ...] = (),
) -> str:
    """Submit a Purchase; returns Tenaz's id of the event."""
    [result] = await runtime.submissions.submit(
        await workspace_id(runtime, key),
        [
            EventInput(
                event_id=event_id,
                event_name="Purchase",
                event_time=runtime.clock.now(),
                user_data={"email": "cliente@example.com"},
                value=None if refused else 97.0,
                currency="BRL",
                order_id=order_id,
                extra=(
                    META_REFUSES
                    if refused
                    else {"sandbox_fail_attempts": fail_attempts}
                    if fail_attempts
                    else {}
                ),
                destinations=destinations,
            )
        ],
        batch=False,
    )
    return str(result.event.id)


async def get_json(
    http: aiohttp.ClientSession, path: str, key: str, expect: int = 200, **params: Any
) -> Any:
    async with http.get(path, headers=bearer(key), params=params or None) as response:
        body = await response.json()
        assert response.status == expect, body
        return body


async def post_json(
    http: aiohttp.ClientSession, path: str, key: str, body: object, expect: int = 200
) -> Any:
    async with http.post(path, headers=bearer(key), json=body) as response:
        answer = await response.json()
        assert response.status == expect, answer
        return answer


def event_ids(page: dict[str, Any]) -> list[str]:
    return [e["event_id"] for e in page["events"]]


@dataclass
class Sse:
    event: str = "message"
    id: str | None = None
    data: str = ""
    fields: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.data)


async def sse_messages(response: aiohttp.ClientResponse) -> AsyncIterator[Sse]:
    """Parse a text/event-stream body into messages (the parts this API uses)."""
    current = Sse()
    while True:
        raw = await response.content.readline()
        if not raw:
            return
        line = raw.decode().rstrip("\n")
        if not line:
            if current.fields:
                yield current
            current = Sse()
            continue
        name, _, value = line.partition(": ")
        current.fields.append(name)
        if name == "event":
            current.event = value
        elif name == "id":
            current.id = value
        elif name == "data":
            current.data = value


# --- auth ----------------------------------------------------------------------------------


async def test_no_key_a_bad_key_or_a_bad_header_is_401_in_json(
    http: aiohttp.ClientSession, api_key: str
) -> None:
    for headers in (
        {},
        bearer("tz_not-a-real-key"),
        bearer("nonsense"),
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ):
        async with http.get("/api/events", headers=headers) as response:
            assert response.status == 401
            assert (await response.json())["error"]["code"] == "unauthenticated"
    http.cookie_jar.update_cookies({COOKIE: "tz_forged"})
    async with http.get("/api/events") as response:
        assert response.status == 401
    async with http.get("/", allow_redirects=False) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/login"


async def log_in(http: aiohttp.ClientSession, key: str) -> tuple[str, str]:
    """Log in with `key`; (the Set-Cookie header, the session id the cookie holds)."""
    async with http.post("/api/session", json={"api_key": key}) as response:
        assert response.status == 200, await response.text()
        return response.headers["Set-Cookie"], response.cookies[COOKIE].value


def use_cookie(http: aiohttp.ClientSession, session_id: str) -> None:
    """Send this session cookie from now on, as a browser that kept (or forged) it would."""
    http.cookie_jar.clear()
    http.cookie_jar.update_cookies({COOKIE: session_id})


async def test_login_sets_an_httponly_strict_cookie_that_opens_the_api_and_logout_clears_it(
    http: aiohttp.ClientSession, api_key: str
) -> None:
    async with http.post("/api/session", json={"api_key": "tz_wrong"}) as response:
        assert response.status == 401
        assert "Set-Cookie" not in response.headers
    async with http.post("/api/session", json={"api_key": api_key}) as response:
        assert response.status == 200
        assert await response.json() == {"workspace": "acme", "scope": "admin"}
        cookie = response.headers["Set-Cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "secure" not in attributes  # served on loopback, over plain HTTP
    assert "SameSite=Strict" in cookie and "Max-Age=43200" in cookie  # TENAZ_SESSION_TTL, 12 h

    async with http.get("/api/session") as response:
        assert (await response.json()) == {"workspace": "acme", "scope": "admin"}
    async with http.get("/api/events") as response:
        assert response.status == 200
    async with http.get("/", allow_redirects=False) as response:
        assert response.status == 200
        assert "text/html" in response.headers["Content-Type"]
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    async with http.get("/login", allow_redirects=False) as response:
        assert response.status == 303  # already logged in

    async with http.delete("/api/session") as response:
        assert response.status == 200
    async with http.get("/api/session") as response:
        assert response.status == 401
    async with http.get("/login") as response:
        assert response.status == 200


async def test_the_cookie_is_a_random_session_id_stored_hashed_and_never_the_key(
    http: aiohttp.ClientSession, runtime: Runtime, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    header, session_id = await log_in(http, api_key)
    assert api_key not in header and api_key[3:] not in header
    assert session_id != api_key and len(session_id) >= 43
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT * FROM tenaz_dashboard_sessions")
        [row] = await cur.fetchall()
    assert hashlib.sha256(session_id.encode()).digest() in row
    assert not any(session_id in str(value) or api_key in str(value) for value in row)
    _, second = await log_in(http, api_key)
    assert second != session_id  # a new session at each login

    # Only a session id opens the API through the cookie: not the key, nor anything forged.
    for forged in (api_key, secrets.token_urlsafe(32), "tz_forged", "x" * 5000):
        use_cookie(http, forged)
        async with http.get("/api/events") as response:
            assert response.status == 401, forged
        async with http.get("/", allow_redirects=False) as response:
            assert response.status == 303
    use_cookie(http, session_id)
    async with http.get("/api/events") as response:
        assert response.status == 200
    written = logged(caplog.records)
    assert "dashboard.login" in written
    assert api_key not in written and session_id not in written


async def test_a_session_lasts_its_ttl_and_no_longer(
    http: aiohttp.ClientSession, runtime: Runtime, clock: FakeClock, api_key: str
) -> None:
    await log_in(http, api_key)
    clock.advance(runtime.settings.session_ttl - dt.timedelta(seconds=1))
    async with http.get("/api/events") as response:
        assert response.status == 200
    clock.advance(dt.timedelta(seconds=1))
    async with http.get("/api/events") as response:
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "unauthenticated"
    async with http.get("/", allow_redirects=False) as response:
        assert response.headers["Location"] == "/login"
    # Bearer keys have no session: they keep working.
    await get_json(http, "/api/events", api_key)


async def test_logout_ends_the_session_even_for_a_copy_of_the_cookie(
    http: aiohttp.ClientSession, runtime: Runtime, api_key: str
) -> None:
    _, session_id = await log_in(http, api_key)
    _, other_tab = await log_in(http, api_key)  # another browser: another session
    use_cookie(http, session_id)
    async with http.delete("/api/session") as response:
        assert response.status == 200
    use_cookie(http, session_id)  # kept by someone, replayed
    async with http.get("/api/events") as response:
        assert response.status == 401
    use_cookie(http, other_tab)  # another login is another session
    async with http.get("/api/events") as response:
        assert response.status == 200


async def test_revoking_the_key_ends_its_sessions_at_once(
    http: aiohttp.ClientSession, runtime: Runtime, api_key: str, other_api_key: str
) -> None:
    _, ours = await log_in(http, api_key)
    _, theirs = await log_in(http, other_api_key)
    await keys.revoke_key(runtime.pool, api_key[: keys.DISPLAY_PREFIX_LENGTH])
    use_cookie(http, ours)
    async with http.get("/api/events") as response:
        assert response.status == 401
    use_cookie(http, theirs)
    async with http.get("/api/session") as response:
        assert (await response.json())["workspace"] == "globex"
    async with http.post("/api/session", json={"api_key": api_key}) as response:
        assert response.status == 401  # no new session either


async def test_the_cookie_is_secure_when_the_dashboard_is_not_on_loopback(
    runtime: Runtime, hub: StatusHub, api_key: str
) -> None:
    dashboard = await start_dashboard(runtime, hub, "0.0.0.0:0", heartbeat=1.0)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{dashboard.port}") as http:
            header, _ = await log_in(http, api_key)
            async with http.delete("/api/session") as response:
                cleared = response.headers["Set-Cookie"]
    finally:
        await dashboard.stop()
    assert "Secure" in header.split("; ") and "Secure" in cleared.split("; ")


PUBLIC_URL = "https://tenaz.example.com"


async def proxied_dashboard(runtime: Runtime, hub: StatusHub, public_url: str) -> DashboardServer:
    """The dashboard on loopback, as it runs behind a TLS-terminating proxy at `public_url`."""
    settings = dataclasses.replace(runtime.settings, dashboard_public_url=BaseUrl.parse(public_url))
    proxied = dataclasses.replace(runtime, settings=settings)
    return await start_dashboard(proxied, hub, "127.0.0.1:0", heartbeat=1.0)


def through_proxy(origin: str = PUBLIC_URL) -> dict[str, str]:
    """A browser's request as nginx passes it on: its Origin kept, Host rewritten to the
    upstream's name (`proxy_pass http://tenaz_dashboard;`)."""
    return {"Origin": origin, "Host": "tenaz_dashboard"}


async def test_behind_a_tls_proxy_the_public_url_logs_in_with_a_secure_cookie(
    runtime: Runtime, hub: StatusHub, http: aiohttp.ClientSession, api_key: str
) -> None:
    # Without TENAZ_DASHBOARD_PUBLIC_URL, Origin and the rewritten Host differ: refused.
    async with http.post("/api/session", headers=through_proxy(), json={"api_key": api_key}) as r:
        assert r.status == 403
    dashboard = await proxied_dashboard(runtime, hub, PUBLIC_URL)
    try:
        async with aiohttp.ClientSession(dashboard.url) as proxy:
            login = {"api_key": api_key}
            async with proxy.post("/api/session", headers=through_proxy(), json=login) as response:
                assert response.status == 200, await response.text()
                assert "Secure" in response.headers["Set-Cookie"].split("; ")
                use_cookie(proxy, response.cookies[COOKIE].value)
            # An admin action through the proxy passes the origin check (no such delivery).
            retry = {"delivery_ids": ["999999"]}
            async with proxy.post(
                "/api/deliveries/retry", headers=through_proxy(), json=retry
            ) as response:
                assert response.status == 404, await response.text()
            # Any other origin is refused, the dashboard's own loopback address included.
            for origin in (
                "https://attacker.example.com",
                "http://tenaz.example.com",
                "https://tenaz.example.com:8443",
                "https://tenaz.example.com.attacker.example",
                f"http://127.0.0.1:{dashboard.port}",
                "not a url",
            ):
                headers = {"Origin": origin}
                async with proxy.post("/api/deliveries/retry", headers=headers, json=retry) as r:
                    assert r.status == 403, origin
                    assert (await r.json())["error"]["code"] == "permission_denied"
            # Without Origin, Sec-Fetch-Site still decides.
            cross_site = {"Sec-Fetch-Site": "cross-site"}
            async with proxy.post("/api/deliveries/retry", headers=cross_site, json=retry) as r:
                assert r.status == 403
            async with proxy.delete("/api/session", headers=through_proxy()) as response:
                assert "Secure" in response.headers["Set-Cookie"].split("; ")
    finally:
        await dashboard.stop()


async def test_a_plain_http_public_url_checks_the_origin_and_leaves_the_cookie_as_it_was(
    runtime: Runtime, hub: StatusHub, api_key: str
) -> None:
    public_url = "http://tenaz.intranet:8080"
    dashboard = await proxied_dashboard(runtime, hub, public_url)
    try:
        async with aiohttp.ClientSession(dashboard.url) as proxy:
            login = {"api_key": api_key}
            async with proxy.post(
                "/api/session", headers=through_proxy(public_url), json=login
            ) as response:
                assert response.status == 200, await response.text()
                assert "Secure" not in response.headers["Set-Cookie"].split("; ")
            async with proxy.post("/api/session", headers=through_proxy(), json=login) as r:
                assert r.status == 403
    finally:
        await dashboard.stop()


async def test_state_changing_calls_from_another_site_are_refused(
    http: aiohttp.ClientSession, api_key: str
) -> None:
    async with http.post(
        "/api/deliveries/retry",
        headers={**bearer(api_key), "Origin": "https://attacker.example.com"},
        json={"delivery_ids": ["1"]},
    ) as response:
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "permission_denied"
    async with http.post(
        "/api/session",
        headers={"Sec-Fetch-Site": "cross-site"},
        json={"api_key": api_key},
    ) as response:
        assert response.status == 403


async def test_a_key_sees_only_its_own_workspace(
    http: aiohttp.ClientSession,
    runtime: Runtime,
    clock: FakeClock,
    api_key: str,
    other_api_key: str,
) -> None:
    await sandbox(runtime, api_key)
    await sandbox(runtime, other_api_key)
    ours = await submit(runtime, api_key, "acme-1")
    theirs = await submit(runtime, other_api_key, "globex-1")
    await run_jobs(runtime)

    assert event_ids(await get_json(http, "/api/events", api_key)) == ["acme-1"]
    assert event_ids(await get_json(http, "/api/events", other_api_key)) == ["globex-1"]
    await get_json(http, f"/api/events/{ours}", api_key)
    missing = await get_json(http, f"/api/events/{theirs}", api_key, expect=404)
    assert missing["error"]["code"] == "not_found"

    their_event = await get_json(http, f"/api/events/{theirs}", other_api_key)
    their_delivery = their_event["event"]["deliveries"][0]["id"]
    await post_json(
        http, "/api/deliveries/retry", api_key, {"delivery_ids": [their_delivery]}, expect=404
    )
    await post_json(
        http, "/api/deliveries/cancel", api_key, {"delivery_ids": [their_delivery]}, expect=404
    )
    clock.advance(1)  # stats cover [until - window, until): move past the deliveries' creation
    stats = await get_json(http, "/api/stats", api_key)
    assert stats["counts"]["SUCCEEDED"] == 1
    assert [d["name"] for d in stats["destinations"]] == ["sandbox"]


async def test_a_submit_key_reads_everything_and_every_action_is_refused_with_403(
    http: aiohttp.ClientSession,
    runtime: Runtime,
    hub: StatusHub,
    api_key: str,
    submit_api_key: str,
) -> None:
    await sandbox(runtime, api_key)
    failed = await submit(runtime, api_key, "bad-1", refused=True)
    await run_jobs(runtime)
    assert await get_json(http, "/api/session", submit_api_key) == {
        "workspace": "acme",
        "scope": "submit",
    }
    for path in ("/api/statuses", "/api/events", "/api/stats"):
        await get_json(http, path, submit_api_key)
    before = await get_json(http, f"/api/events/{failed}", submit_api_key)
    [delivery] = before["event"]["deliveries"]
    assert delivery["status"] == "FAILED" and delivery["can_retry"]

    # Every state-changing route the dashboard has, including any added later.
    app = build_application(runtime, hub, asyncio.Event(), heartbeat=1.0)
    actions = sorted(
        (route.method, route.resource.canonical.replace("{name}", "sandbox"))
        for route in app.router.routes()
        if route.method not in ("GET", "HEAD")
        and route.resource is not None
        and route.resource.canonical != SESSION_PATH
    )
    assert actions == [
        ("DELETE", "/api/alerts/channels/sandbox"),
        ("DELETE", "/api/alerts/rules/sandbox"),
        ("POST", "/api/alerts/channels"),
        ("POST", "/api/alerts/rules"),
        ("POST", "/api/alerts/rules/sandbox/enabled"),
        ("POST", "/api/deliveries/cancel"),
        ("POST", "/api/deliveries/retry"),
        ("POST", "/api/destinations/sandbox/access-token"),
    ]
    body = {"delivery_ids": [delivery["id"]], "access_token": "another-token"}
    for method, path in actions:
        async with http.request(
            method, path, headers=bearer(submit_api_key), json=body
        ) as response:
            answer = await response.json()
            assert response.status == 403, answer
        assert answer["error"] == {
            "code": "permission_denied",
            "message": f"this API key has scope submit; {method} {path} needs an admin key",
        }
    assert await get_json(http, f"/api/events/{failed}", submit_api_key) == before
    # The same call with the admin key of the same workspace goes through.
    await post_json(http, "/api/deliveries/retry", api_key, {"delivery_ids": [delivery["id"]]})


# --- reads ---------------------------------------------------------------------------------


async def test_status_and_destination_filters_search_by_event_or_order_id_and_paging(
    http: aiohttp.ClientSession,
    runtime: Runtime,
    api_key: str,
    fake_meta: FakeMetaServer,
) -> None:
    await sandbox(runtime, api_key)
    await meta(runtime, api_key, fake_meta)
    # One at a time: the sandbox fails a whole request that carries a scripted failure.
    await submit(runtime, api_key, "ok-1", order_id="HP-1001", destinations=("sandbox",))
    await run_jobs(runtime)
    await submit(runtime, api_key, "bad-1", order_id="HP-1002", refused=True)
    await run_jobs(runtime)
    await submit(runtime, api_key, "wait-1", fail_attempts=1, destinations=("sandbox",))
    await run_jobs(runtime)

    def listing(**params: Any) -> Any:
        return get_json(http, "/api/events", api_key, **params)

    assert event_ids(await listing()) == ["wait-1", "bad-1", "ok-1"]
    assert event_ids(await listing(status="FAILED")) == ["bad-1"]
    two = await get_json(http, "/api/events?status=FAILED&status=WAITING_RETRY", api_key)
    assert event_ids(two) == ["wait-1", "bad-1"]
    assert event_ids(await listing(destination="meta")) == ["bad-1"]
    assert event_ids(await listing(destination="sandbox", status="FAILED")) == ["bad-1"]
    assert event_ids(await listing(destination="meta", status="SUCCEEDED")) == []
    assert event_ids(await listing(q="wait-1")) == ["wait-1"]
    assert event_ids(await listing(q="HP-1001")) == ["ok-1"]
    assert event_ids(await listing(q="  HP-1002 ")) == ["bad-1"]
    assert event_ids(await listing(q="HP-9999")) == []

    first = await listing(page_size="2")
    assert event_ids(first) == ["wait-1", "bad-1"] and first["next_page_token"]
    rest = await listing(page_size="2", page_token=first["next_page_token"])
    assert event_ids(rest) == ["ok-1"] and rest["next_page_token"] == ""

    row = (await listing(q="bad-1"))["events"][0]
    assert row["order_id"] == "HP-1002"
    assert sorted((d["destination"], d["status"]) for d in row["deliveries"]) == [
        ("meta", "FAILED"),
        ("sandbox", "FAILED"),
    ]
    assert "user_data" not in json.dumps(row) and row["customer_fields"] == ["email"]

    bad = await get_json(http, "/api/events", api_key, expect=400, status="LOST")
    assert bad["error"]["violations"][0]["field"] == "status[0]"
    bad = await get_json(http, "/api/events", api_key, expect=400, destination="nowhere")
    assert bad["error"]["violations"][0]["field"] == "destination"
    await get_json(http, "/api/events", api_key, expect=400, page_token="garbage")
    await get_json(http, "/api/events", api_key, expect=400, page_size="-1")


async def test_numbers_written_in_other_digits_are_refused(
    http: aiohttp.ClientSession, runtime: Runtime, api_key: str
) -> None:
    """isdigit() takes "²", which int() refuses, and "٣", which int() reads as 3 (an event
    that exists here): both are bad input, not a crash or another event."""
    await sandbox(runtime, api_key)
    for index in range(3):
        await submit(runtime, api_key, f"e{index}", destinations=("sandbox",))
    for value in ("²", "٣"):
        bad = await get_json(http, "/api/events", api_key, expect=400, page_size=value)
        assert bad["error"]["violations"][0]["field"] == "page_size"
        token = base64.urlsafe_b64encode(f"v1:{value}".encode()).decode()
        bad = await get_json(http, "/api/events", api_key, expect=400, page_token=token)
        assert bad["error"]["violations"][0]["field"] == "page_token"
        bad = await get_json(http, f"/api/events/{value}", api_key, expect=400)
        assert bad["error"]["violations"][0]["field"] == "id"
        body = {"delivery_ids": [value]}
        bad = await post_json(http, "/api/deliveries/retry", api_key, body, expect=400)
        assert bad["error"]["violations"][0]["field"] == "delivery_ids[0]"


async def test_event_detail_shows_each_delivery_with_its_attempt_timeline(
    http: aiohttp.ClientSession, runtime: Runtime, api_key: str, clock: FakeClock
) -> None:
    await sandbox(runtime, api_key)
    event = await submit(runtime, api_key, "wait-1", order_id="HP-7", fail_attempts=1)
    await run_jobs(runtime)

    body = (await get_json(http, f"/api/events/{event}", api_key))["event"]
    assert (body["event_id"], body["event_name"], body["order_id"]) == (
        "wait-1",
        "Purchase",
        "HP-7",
    )
    assert (body["value"], body["currency"]) == (97.0, "BRL")
    [delivery] = body["deliveries"]
    assert delivery["status"] == "WAITING_RETRY"
    assert (delivery["platform"], delivery["platform_name"]) == ("sandbox", "Sandbox")
    assert delivery["can_retry"] and delivery["can_cancel"]
    deadline = dt.datetime.fromisoformat(delivery["deadline"])
    assert deadline == clock.now() + dt.timedelta(days=7)
    next_attempt = dt.datetime.fromisoformat(delivery["next_attempt_at"])
    assert next_attempt == clock.now() + dt.timedelta(minutes=30)
    [attempt] = delivery["attempts"]
    assert attempt["number"] == 1 and attempt["trigger"] == "automatic"
    assert attempt["outcome"] == "external_problem"
    assert (attempt["http_status"], attempt["platform_code"]) == (503, None)
    assert "unavailable" in attempt["message"].lower()
    assert attempt["started_at"] and attempt["finished_at"]

    await get_json(http, "/api/events/999999", api_key, expect=404)
    await get_json(http, "/api/events/abc", api_key, expect=400)


async def test_a_deleted_destinations_delivery_says_why_it_failed_in_both_languages(
    http: aiohttp.ClientSession, runtime: Runtime, api_key: str
) -> None:
    await sandbox(runtime, api_key)
    event = await submit(runtime, api_key, "gone-1")
    await runtime.destinations.delete(await workspace_id(runtime, api_key), "sandbox")

    [delivery] = (await get_json(http, f"/api/events/{event}", api_key))["event"]["deliveries"]
    assert (delivery["destination"], delivery["status"], delivery["failure_reason"]) == (
        "sandbox",
        "FAILED",
        "destination_deleted",
    )
    assert not delivery["can_cancel"]
    async with http.get("/static/i18n.js") as response:
        labels = await response.text()
    assert '"reason.destination_deleted": "destino excluído"' in labels
    assert '"reason.destination_deleted": "destination deleted"' in labels


async def test_statuses_come_with_the_design_labels(
    http: aiohttp.ClientSession, api_key: str
) -> None:
    body = await get_json(http, "/api/statuses", api_key)
    assert [(s["name"], s["labels"]["pt-BR"]) for s in body["statuses"]] == [
        ("PENDING", "Pendente"),
        ("SENDING", "Enviando"),
        ("WAITING_RETRY", "Esperando Retentativa"),
        ("RESENDING", "Reenviando"),
        ("SUCCEEDED", "Sucesso"),
        ("FAILED", "Falha"),
    ]
    # What an operator must do about a destination, in both languages.
    actions = {a["name"]: a["labels"] for a in body["actions"]}
    assert set(actions) >= {"credentials", "permission", "configuration", "egress", "secrets"}
    assert actions["credentials"]["pt-BR"].startswith("A plataforma recusou as credenciais")
    assert actions["credentials"]["en"].startswith("The platform refused the credentials")


# --- actions -------------------------------------------------------------------------------


async def test_retry_and_cancel_by_delivery_ids(
    http: aiohttp.ClientSession, runtime: Runtime, api_key: str
) -> None:
    await sandbox(runtime, api_key)
    failed = await submit(runtime, api_key, "bad-1", refused=True)
    succeeded = await submit(runtime, api_key, "ok-1")
    await run_jobs(runtime)

    async def delivery_of(event: str) -> dict[str, Any]:
        body = await get_json(http, f"/api/events/{event}", api_key)
        result: dict[str, Any] = body["event"]["deliveries"][0]
        return result

    bad = await delivery_of(failed)
    assert (bad["status"], bad["failure_reason"], bad["can_retry"]) == ("FAILED", "rejected", True)
    retried = await post_json(http, "/api/deliveries/retry", api_key, {"delivery_ids": [bad["id"]]})
    assert retried["operation"]["kind"] == "retry"
    assert (retried["operation"]["changed"], retried["operation"]["skipped"]) == (1, 0)
    again = await delivery_of(failed)
    assert again["status"] == "WAITING_RETRY" and again["can_cancel"]

    cancelled = await post_json(
        http, "/api/deliveries/cancel", api_key, {"delivery_ids": [int(bad["id"])]}
    )
    assert cancelled["operation"]["changed"] == 1
    final = await delivery_of(failed)
    assert (final["status"], final["failure_reason"]) == ("FAILED", "cancelled")

    ok = await delivery_of(succeeded)
    skipped = await post_json(http, "/api/deliveries/retry", api_key, {"delivery_ids": [ok["id"]]})
    assert (skipped["operation"]["changed"], skipped["operation"]["skipped"]) == (0, 1)

    malformed: list[object] = [{}, {"delivery_ids": []}, {"delivery_ids": [True]}, [1]]
    for body in malformed:
        await post_json(http, "/api/deliveries/retry", api_key, body, expect=400)
    async with http.post(
        "/api/deliveries/retry", headers=bearer(api_key), data=b"{not json"
    ) as response:
        assert response.status == 400
    await post_json(http, "/api/deliveries/retry", api_key, {"delivery_ids": ["x"]}, expect=400)


async def test_stats_count_statuses_chart_attempts_and_show_destination_health(
    http: aiohttp.ClientSession,
    runtime: Runtime,
    clock: FakeClock,
    api_key: str,
    fake_meta: FakeMetaServer,
) -> None:
    await sandbox(runtime, api_key)
    await meta(runtime, api_key, fake_meta)
    fake_meta.fake.fail_next(1, Failure.token_expired())
    await submit(runtime, api_key, "both-1")
    await submit(runtime, api_key, "sandbox-1", destinations=("sandbox",))
    await run_jobs(runtime)
    clock.advance(1)  # stats cover [until - window, until): move past the attempts

    stats = await get_json(http, "/api/stats", api_key, window="2h", bucket="30m")
    assert stats["counts"] == {
        "PENDING": 0,
        "SENDING": 0,
        "WAITING_RETRY": 1,
        "RESENDING": 0,
        "SUCCEEDED": 2,
        "FAILED": 0,
    }
    assert stats["bucket_seconds"] == 1800 and len(stats["attempts"]) == 4
    assert sum(b["succeeded"] for b in stats["attempts"]) == 2
    assert sum(b["external_problem"] for b in stats["attempts"]) == 1
    health = {d["name"]: d for d in stats["destinations"]}
    assert health["sandbox"]["health"] == "healthy"
    assert health["meta"]["health"] == "needs_action"
    assert "access token" in health["meta"]["reason"]
    assert health["meta"]["action"] == "credentials"
    assert health["sandbox"]["action"] == ""
    assert health["meta"]["waiting_retry"] == 1

    await get_json(http, "/api/stats", api_key, expect=400, window="soon")
    await get_json(http, "/api/stats", api_key, expect=400, window="99999999999d")
    await get_json(http, "/api/stats", api_key, expect=400, bucket="0s")
    await get_json(http, "/api/stats", api_key, expect=400, window="1h", bucket="1s")


async def test_a_new_access_token_clears_needs_action_and_sends_the_waiting_events(
    http: aiohttp.ClientSession,
    runtime: Runtime,
    api_key: str,
    fake_meta: FakeMetaServer,
) -> None:
    await meta(runtime, api_key, fake_meta)
    fake_meta.fake.fail_next(1, Failure.token_expired())
    event = await submit(runtime, api_key, "token-1")
    await run_jobs(runtime)
    stats = await get_json(http, "/api/stats", api_key)
    assert stats["destinations"][0]["health"] == "needs_action"

    answer = await post_json(
        http, "/api/destinations/meta/access-token", api_key, {"access_token": "good-token"}
    )
    assert answer == {"destination": {"name": "meta", "needs_action": False}}
    await run_jobs(runtime)  # the job the update queued, due at once
    body = await get_json(http, f"/api/events/{event}", api_key)
    assert body["event"]["deliveries"][0]["status"] == "SUCCEEDED"
    stats = await get_json(http, "/api/stats", api_key)
    assert stats["destinations"][0]["health"] == "healthy"

    await post_json(
        http, "/api/destinations/meta/access-token", api_key, {"access_token": " "}, expect=400
    )
    await post_json(
        http, "/api/destinations/nowhere/access-token", api_key, {"access_token": "x"}, expect=404
    )


# --- the live stream -----------------------------------------------------------------------


@pytest.fixture
async def slow_beating(runtime: Runtime, hub: StatusHub) -> AsyncIterator[aiohttp.ClientSession]:
    """A client of a dashboard whose streams beat every minute: no test waits for that."""
    dashboard = await start_dashboard(runtime, hub, "127.0.0.1:0", heartbeat=60.0)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=dashboard.url, cookie_jar=jar) as session:
        yield session
    await dashboard.stop()


async def advance_once_idle(clock: FakeClock, delta: dt.timedelta) -> None:
    """Move the clock once the open stream waits on it (moved earlier, it counts from there)."""
    async with asyncio.timeout(30):
        await until(lambda: clock.waiters > 0)
    clock.advance(delta)


async def test_the_stream_sends_changes_in_order_and_resumes_from_last_event_id(
    http: aiohttp.ClientSession, runtime: Runtime, api_key: str
) -> None:
    await sandbox(runtime, api_key)
    await submit(runtime, api_key, "before")  # seq 1: before the stream starts
    received: list[Sse] = []
    async with asyncio.timeout(10):
        async with http.get("/api/stream", headers=bearer(api_key)) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            messages = sse_messages(response)
            ready = await anext(messages)
            assert (ready.event, ready.id, ready.json()) == ("ready", "1", {"last_sequence": 1})
            await submit(runtime, api_key, "live-1", order_id="HP-1")
            async for message in messages:
                if message.event == "change":
                    received.append(message)
                    break  # drop the connection after the first change, as a flaky network would

        await run_jobs(runtime)  # SENDING, SUCCEEDED for both events, while nobody listens

        headers = {**bearer(api_key), "Last-Event-ID": received[-1].id or ""}
        async with http.get("/api/stream", headers=headers) as response:
            messages = sse_messages(response)
            ready = await anext(messages)
            assert ready.id == received[-1].id
            async for message in messages:
                if message.event == "change":
                    received.append(message)
                elif message.event == "heartbeat":
                    break

    changes = [m.json() for m in received]
    assert [m.id for m in received] == [str(c["sequence"]) for c in changes]
    assert [c["sequence"] for c in changes] == (await all_sequences(runtime))[1:]
    first = changes[0]
    assert (first["client_event_id"], first["event_name"], first["destination"]) == (
        "live-1",
        "Purchase",
        "sandbox",
    )
    assert (first["from_status"], first["to_status"]) == (None, "PENDING")
    live = [(c["from_status"], c["to_status"]) for c in changes if c["client_event_id"] == "live-1"]
    assert live == [(None, "PENDING"), ("PENDING", "SENDING"), ("SENDING", "SUCCEEDED")]


async def test_the_stream_shows_a_workspace_only_its_own_changes_and_sends_heartbeats(
    http: aiohttp.ClientSession, runtime: Runtime, api_key: str, other_api_key: str
) -> None:
    await sandbox(runtime, api_key)
    await submit(runtime, api_key, "acme-1")
    headers = {**bearer(other_api_key), "Last-Event-ID": "0"}
    async with asyncio.timeout(10), http.get("/api/stream", headers=headers) as response:
        seen = []
        async for message in sse_messages(response):
            seen.append(message.event)
            if message.event == "heartbeat":
                assert message.json()["last_sequence"] == 0
                break
    assert seen == ["ready", "heartbeat"]


async def test_moving_the_clock_a_heartbeat_interval_sends_a_heartbeat_at_once(
    slow_beating: aiohttp.ClientSession, runtime: Runtime, clock: FakeClock, api_key: str
) -> None:
    await sandbox(runtime, api_key)
    await submit(runtime, api_key, "before")
    async with (
        asyncio.timeout(10),
        slow_beating.get("/api/stream", headers=bearer(api_key)) as response,
    ):
        messages = sse_messages(response)
        assert (await anext(messages)).event == "ready"
        await advance_once_idle(clock, dt.timedelta(minutes=1))
        heartbeat = await anext(messages)
    assert (heartbeat.event, heartbeat.id) == ("heartbeat", "1")
    assert heartbeat.json() == {"last_sequence": 1, "at": clock.now().isoformat()}


async def test_an_open_stream_ends_as_soon_as_the_clock_passes_its_sessions_end(
    slow_beating: aiohttp.ClientSession, runtime: Runtime, clock: FakeClock, api_key: str
) -> None:
    await log_in(slow_beating, api_key)
    async with asyncio.timeout(10), slow_beating.get("/api/stream") as response:
        messages = sse_messages(response)
        assert (await anext(messages)).event == "ready"
        await advance_once_idle(clock, runtime.settings.session_ttl)
        rest = [m.event async for m in messages]
    assert rest == []  # checked before anything else was sent
    async with slow_beating.get("/api/stream") as response:
        assert response.status == 401


async def test_an_open_stream_ends_when_its_session_does(
    http: aiohttp.ClientSession, runtime: Runtime, api_key: str
) -> None:
    await log_in(http, api_key)
    async with asyncio.timeout(10), http.get("/api/stream") as response:
        messages = sse_messages(response)
        assert (await anext(messages)).event == "ready"
        async with http.delete("/api/session") as logout:
            assert logout.status == 200
        # The stream checks its session every heartbeat (1 s here), then ends.
        rest = [m.event async for m in messages]
    assert set(rest) <= {"heartbeat"}
    async with http.get("/api/stream") as response:
        assert response.status == 401  # what the browser's reconnection gets


async def test_a_purged_or_malformed_cursor_is_refused_before_the_stream_starts(
    http: aiohttp.ClientSession, runtime: Runtime, api_key: str
) -> None:
    async with runtime.pool.connection() as conn:
        await conn.execute("UPDATE tenaz_stream_state SET purged_through = 5")
    async with http.get("/api/stream", headers={**bearer(api_key), "Last-Event-ID": "2"}) as r:
        assert r.status == 410
        assert (await r.json())["error"]["code"] == "out_of_range"
    async with http.get("/api/stream", headers={**bearer(api_key), "Last-Event-ID": "x"}) as r:
        assert r.status == 400
    async with http.get("/api/stream") as r:
        assert r.status == 401


async def test_a_stream_that_falls_behind_a_purge_ends_with_an_error_event(
    http: aiohttp.ClientSession, runtime: Runtime, api_key: str, database_url: str
) -> None:
    await sandbox(runtime, api_key)
    async with writer_in_flight(database_url):
        await submit(runtime, api_key, "old")
        await run_jobs(runtime)  # three changes, committed but not readable yet
        headers = {**bearer(api_key), "Last-Event-ID": "0"}
        async with asyncio.timeout(10), http.get("/api/stream", headers=headers) as response:
            messages = sse_messages(response)
            assert (await anext(messages)).event == "ready"
            assert (await anext(messages)).event == "heartbeat"  # it has read, passing nothing
            assert isinstance(runtime.clock, FakeClock)
            runtime.clock.advance(runtime.settings.retention + dt.timedelta(minutes=1))
            assert (await runtime.retention.purge())["status_changes"] == 3
            rest = [m async for m in messages if m.event != "heartbeat"]  # then the stream ends
    [error] = rest
    assert error.event == "error"
    assert error.json()["code"] == "out_of_range"


async def test_stopping_the_dashboard_ends_open_streams_cleanly(
    runtime: Runtime, hub: StatusHub, api_key: str
) -> None:
    dashboard = await start_dashboard(runtime, hub, "127.0.0.1:0", heartbeat=60.0)
    async with (
        aiohttp.ClientSession(base_url=dashboard.url) as http,
        http.get("/api/stream", headers=bearer(api_key)) as response,
    ):
        messages = sse_messages(response)
        assert (await anext(messages)).event == "ready"
        async with asyncio.timeout(30):
            stopping = asyncio.create_task(dashboard.stop())
            rest = [m async for m in messages]  # ends at the server's clean end of stream
            await stopping
    assert rest == []
    assert not hub.closing.is_set()  # the gRPC server's streams are not the dashboard's to end


async def test_closing_the_grpc_servers_hub_ends_the_dashboards_streams(
    runtime: Runtime, server: TenazServer, api_key: str
) -> None:
    """Wired as `tenaz serve` wires it: one hub per process, shared with gRPC's WatchStatus."""
    dashboard = await start_dashboard(runtime, server.hub, "127.0.0.1:0", heartbeat=60.0)
    try:
        async with (
            aiohttp.ClientSession(base_url=dashboard.url) as http,
            http.get("/api/stream", headers=bearer(api_key)) as response,
        ):
            messages = sse_messages(response)
            assert (await anext(messages)).event == "ready"
            async with asyncio.timeout(30):
                await server.hub.close()  # what TenazServer.stop() does first
                assert [m async for m in messages] == []
    finally:
        await dashboard.stop()


async def test_unknown_api_paths_answer_json_and_pages_are_served(
    http: aiohttp.ClientSession, api_key: str
) -> None:
    async with http.get("/api/nothing", headers=bearer(api_key)) as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"
    async with http.get("/static/app.js") as response:
        assert response.status == 200
        assert "EventSource" in await response.text()
    async with http.get("/login") as response:
        assert response.status == 200
        assert "Chave de API" in await response.text()


async def test_the_alerts_panel_lists_rules_channels_and_history_for_admin_keys_only(
    http: aiohttp.ClientSession,
    runtime: Runtime,
    fake_meta: FakeMetaServer,
    api_key: str,
    submit_api_key: str,
) -> None:
    workspace = await workspace_id(runtime, api_key)
    hook_url = fake_meta.base_url + "/hook"  # allowed; it answers 404, so the test fails
    await runtime.alerts.create_channel(workspace, webhook_channel("ops", hook_url))
    await runtime.alerts.create_rule(
        workspace, RuleSpec(name="token", condition="needs_action", channels=["ops"])
    )
    await runtime.alerts.test_channel(workspace, "acme", "ops")

    panel = await get_json(http, "/api/alerts", api_key)
    assert [(r["name"], r["condition"], r["channels"], r["firing"]) for r in panel["rules"]] == [
        ("token", "needs_action", ["ops"], [])
    ]
    assert panel["channels"] == [{"name": "ops", "kind": "webhook", "target": hook_url}]
    [tried] = panel["notifications"]
    assert (tried["kind"], tried["channel"], tried["state"], tried["attempts"]) == (
        "test",
        "ops",
        "failed",
        1,
    )
    assert tried["last_error"] == "webhook: HTTP 404"
    assert WEBHOOK_SECRET not in json.dumps(panel)

    refused = await get_json(http, "/api/alerts", submit_api_key, expect=403)
    assert refused["error"]["code"] == "permission_denied"


async def delete_json(http: aiohttp.ClientSession, path: str, key: str, expect: int = 200) -> Any:
    async with http.delete(path, headers=bearer(key)) as response:
        answer = await response.json()
        assert response.status == expect, answer
        return answer


async def test_an_admin_key_creates_switches_and_deletes_alert_rules_and_channels(
    http: aiohttp.ClientSession,
    runtime: Runtime,
    fake_meta: FakeMetaServer,
    api_key: str,
    other_api_key: str,
) -> None:
    await sandbox(runtime, api_key)
    hook_url = fake_meta.base_url + "/hook"
    channel = {
        "name": "ops",
        "kind": "webhook",
        "settings": {"url": hook_url},
        "secrets": {"signing_secret": WEBHOOK_SECRET},
    }
    async with http.post(
        "/api/alerts/channels",
        headers={**bearer(api_key), "Origin": "https://attacker.example.com"},
        json=channel,
    ) as response:
        assert response.status == 403  # a page of another site cannot add a channel
    created = await post_json(http, "/api/alerts/channels", api_key, channel)
    assert created == {"channel": {"name": "ops", "kind": "webhook", "target": hook_url}}
    await post_json(http, "/api/alerts/channels", api_key, channel, expect=409)
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT secret FROM tenaz_alert_channels")
        [(sealed,)] = await cur.fetchall()
    assert sealed and WEBHOOK_SECRET not in sealed  # sealed, and never answered

    rule = {
        "name": "sandbox-failing",
        "condition": "success_rate",
        "destination": "sandbox",
        "threshold": 0.9,
        "window": "30m",
        "recovery": "0",
        "channels": ["ops"],
    }
    answered = (await post_json(http, "/api/alerts/rules", api_key, rule))["rule"]
    assert (answered["window_seconds"], answered["recovery_seconds"]) == (1800, 0)
    assert (answered["enabled"], answered["channels"], answered["firing"]) == (True, ["ops"], [])
    off = await post_json(
        http, "/api/alerts/rules/sandbox-failing/enabled", api_key, {"enabled": False}
    )
    assert off["rule"]["enabled"] is False and off["rule"]["threshold"] == 0.9
    [listed] = (await get_json(http, "/api/alerts", api_key))["rules"]
    assert (listed["name"], listed["enabled"], listed["window_seconds"]) == (
        "sandbox-failing",
        False,
        1800,
    )
    # Another workspace sees none of it, and cannot touch it.
    assert (await get_json(http, "/api/alerts", other_api_key))["rules"] == []
    await delete_json(http, "/api/alerts/rules/sandbox-failing", other_api_key, expect=404)

    in_use = await delete_json(http, "/api/alerts/channels/ops", api_key, expect=409)
    assert in_use["error"]["code"] == "failed_precondition"
    await delete_json(http, "/api/alerts/rules/sandbox-failing", api_key)
    await delete_json(http, "/api/alerts/channels/ops", api_key)
    assert await get_json(http, "/api/alerts", api_key) == {
        "rules": [],
        "channels": [],
        "notifications": [],
    }
    await delete_json(http, "/api/alerts/channels/ops", api_key, expect=404)
    await post_json(
        http, "/api/alerts/rules/sandbox-failing/enabled", api_key, {"enabled": True}, expect=404
    )


async def test_alert_rules_and_channels_the_domain_refuses_say_which_fields(
    http: aiohttp.ClientSession, api_key: str
) -> None:
    async def violations(path: str, body: object) -> set[str]:
        refused = await post_json(http, path, api_key, body, expect=400)
        assert refused["error"]["code"] == "invalid_argument"
        return {v["field"] for v in refused["error"]["violations"]}

    assert await violations(
        "/api/alerts/channels",
        {
            "name": "mail",
            "kind": "email",
            "settings": {"host": "smtp.example.com", "port": "587", "recipients": ["nobody"]},
            "secrets": {"password": "p"},
        },
    ) == {"email.port", "email.sender", "email.recipients", "email.password"}
    assert await violations(
        "/api/alerts/channels", {"name": "x", "kind": "pager", "settings": {}}
    ) == {"kind"}
    assert await violations("/api/alerts/rules", {"name": "r", "window": "soon"}) == {"window"}
    assert await violations("/api/alerts/rules", {"name": "r", "min_attempts": 1.5}) == {
        "min_attempts"
    }
    assert await violations(
        "/api/alerts/rules", {"name": "r", "condition": "success_rate", "channels": ["nope"]}
    ) == {"threshold", "channels"}
    assert await violations("/api/alerts/rules/r/enabled", {"enabled": "yes"}) == {"enabled"}
