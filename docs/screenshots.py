"""Make the dashboard screenshots in docs/images/ from a realistic day of demo data.

    .venv/bin/python docs/screenshots.py          (make screenshots)

It creates a scratch database on the PostgreSQL server of TENAZ_DATABASE_URL (else the test
server, postgresql://postgres@127.0.0.1:5432/postgres), migrates it, and plays a day of a
store's traffic through Tenaz's own services with a fake clock: a healthy Meta pixel, a pixel
whose access token expires in the afternoon (needs action), a new pixel whose URL does not
answer (failing), a disabled one and the sandbox; events in every status, including an attempt
held in flight by the fake platform. Then it serves the dashboard, takes the screenshots in
Portuguese and English with headless chromium (/usr/bin/chromium), and drops the database.
Every customer is @example.com; nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import random
import socket
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from playwright.async_api import Page, async_playwright, expect
from psycopg import sql

from jobs import keys
from jobs.base_url import BaseUrl
from jobs.clock import FakeClock
from jobs.destinations import DestinationSpec
from jobs.migrate import migrate
from jobs.model import DeliveryFilter
from jobs.platforms.fake_meta import Failure, FakeMeta, FakeMetaServer
from jobs.runtime import Runtime, open_runtime
from jobs.scopes import ADMIN
from jobs.settings import Settings
from jobs.submission import EventInput
from server.dashboard import start_dashboard
from server.status_hub import StatusHub

IMAGES = Path(__file__).parent / "images"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 15_000

LOJA_PIXEL, CAMPANHAS_PIXEL, APP_PIXEL = "123456789012345", "234567890123456", "345678901234567"
LOJA_TOKEN, CAMPANHAS_TOKEN = "demo-token-loja", "demo-token-campanhas"
HOURS = 24


@contextlib.contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    name = f"tenaz_screenshots_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield psycopg.conninfo.make_conninfo(server_url, dbname=name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def closed_port() -> int:
    """A loopback port nobody listens on: connections to it are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Demo:
    runtime: Runtime
    clock: FakeClock
    workspace_id: int
    api_key: str
    destination_ids: dict[str, int]
    detail_event: str = ""


class Traffic:
    """A store's day: purchases and leads, with the odd bad currency and a flaky sandbox."""

    def __init__(self, demo: Demo) -> None:
        self._demo = demo
        self._rng = random.Random(2026)
        self._next = 10230

    async def submit(
        self,
        destinations: list[str],
        *,
        event_name: str = "Purchase",
        refused: bool = False,
        sandbox_fail_attempts: int = 0,
        minutes_ago: int | None = None,
    ) -> None:
        self._next += 1
        number = self._next
        rng = self._rng
        if minutes_ago is None:
            # Orders trickle in during the hour; each is sent a few minutes after the sale.
            self._demo.clock.advance(
                dt.timedelta(minutes=rng.randint(1, 4), seconds=rng.randint(0, 59))
            )
            minutes_ago = rng.randint(0, 3)
        now = self._demo.clock.now()
        purchase = event_name == "Purchase"
        await self._demo.runtime.submissions.submit(
            self._demo.workspace_id,
            [
                EventInput(
                    event_id=f"pedido-{number}" if purchase else f"{event_name.lower()}-{number}",
                    event_name=event_name,
                    event_time=now - dt.timedelta(minutes=minutes_ago),
                    event_source_url="https://loja.example.com/checkout/obrigado",
                    user_data={
                        "email": f"cliente{number}@example.com",
                        "phone": f"(11) 9{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
                        "client_ip_address": "203.0.113.7",
                        "client_user_agent": "Mozilla/5.0 (demo)",
                    },
                    value=(
                        rng.choice([47.0, 97.0, 197.0, 297.0, 497.0])
                        if purchase and not refused
                        else None
                    ),
                    currency="BRL" if purchase else "",
                    order_id=f"HP{17324000000000 + number * 7919}" if purchase else "",
                    extra=(
                        # A checkout bug: a count as text, which Meta refuses.
                        {"num_items": "três"}
                        if refused
                        else {"sandbox_fail_attempts": sandbox_fail_attempts}
                        if sandbox_fail_attempts
                        else {}
                    ),
                    destinations=destinations,
                )
            ],
            batch=False,
        )

    async def hour(self, index: int) -> None:
        rng = self._rng
        stores = ["meta-loja", "meta-campanhas"]
        for _ in range(rng.randint(2, 6)):
            await self.submit(stores)
        if rng.random() < 0.5:
            await self.submit(
                ["meta-loja"], event_name=rng.choice(["Lead", "CompleteRegistration"])
            )
        if index % 6 == 2:
            await self.submit(stores, refused=True)
        if index % 4 == 1:
            await self.submit(["sandbox"], sandbox_fail_attempts=1)
            await self.submit(["sandbox"])
        if index >= HOURS - 3:
            await self.submit(["meta-app"])


async def deliver(demo: Demo, *names: str) -> None:
    for name in names:
        await demo.runtime.engine.deliver_due(demo.destination_ids[name])


async def play_the_day(
    demo: Demo, loja: FakeMetaServer, campanhas: FakeMetaServer, app_url: str
) -> None:
    runtime, clock, ws = demo.runtime, demo.clock, demo.workspace_id
    create = runtime.destinations.create
    ids = demo.destination_ids
    start = clock.now() - dt.timedelta(hours=HOURS - 1)
    clock.set(start)
    for name, pixel, token, url in (
        ("meta-loja", LOJA_PIXEL, LOJA_TOKEN, loja.base_url),
        ("meta-campanhas", CAMPANHAS_PIXEL, CAMPANHAS_TOKEN, campanhas.base_url),
    ):
        spec = DestinationSpec(
            name=name,
            kind="meta",
            settings={"pixel_id": pixel, "base_url": url},
            secrets={"access_token": token},
        )
        ids[name] = (await create(ws, spec)).id
    ids["sandbox"] = (await create(ws, DestinationSpec(name="sandbox", kind="sandbox"))).id
    old = DestinationSpec(
        name="meta-antiga",
        kind="meta",
        enabled=False,
        settings={"pixel_id": "456789012345678", "base_url": loja.base_url},
        secrets={"access_token": "demo-token-antigo"},
    )
    ids["meta-antiga"] = (await create(ws, old)).id

    traffic = Traffic(demo)
    for index in range(HOURS):
        clock.set(max(clock.now(), start + dt.timedelta(hours=index)))
        if index == HOURS - 3:
            spec = DestinationSpec(
                name="meta-app",
                kind="meta",
                settings={"pixel_id": APP_PIXEL, "base_url": app_url},
                secrets={"access_token": "demo-token-app"},
            )
            ids["meta-app"] = (await create(ws, spec)).id
        if index == HOURS - 6:
            # The store's token expires (someone changed the Facebook password).
            loja.fake.fail_next(10_000, Failure.token_expired())
        if index == HOURS - 2:
            campanhas.fake.fail_next(1, Failure.http_503())  # a short outage at Meta
        if index == HOURS - 1:
            break  # the last hour is set up by `hold_in_flight`
        await traffic.hour(index)
        await deliver(demo, *(n for n in ids if n != "meta-antiga"))
        if index == HOURS - 4:
            await cancel_one_waiting(demo)

    # Now: what happens this minute.
    await deliver(demo, "sandbox", "meta-loja", "meta-app")
    await traffic.submit(["sandbox"], minutes_ago=0)  # stays Pendente: no worker runs
    await traffic.submit(["meta-campanhas"], minutes_ago=0)
    clock.advance(dt.timedelta(minutes=1))  # the counts cover what was created before "now"
    demo.detail_event = await waiting_event_with_most_attempts(demo)


async def cancel_one_waiting(demo: Demo) -> None:
    """An operator gives up on the oldest purchase waiting for the store's pixel."""
    events, _ = await demo.runtime.reads.list(
        demo.workspace_id,
        DeliveryFilter(
            statuses=["WAITING_RETRY"], destination_id=demo.destination_ids["meta-loja"]
        ),
        destination_name="",
        page_size=500,
        page_token="",
    )
    waiting = [d for e in events for d in e.deliveries if d.status == "WAITING_RETRY"]
    await demo.runtime.operations.start(
        demo.workspace_id, "cancel", ids=[str(waiting[-1].id)], where=None
    )


async def waiting_event_with_most_attempts(demo: Demo) -> str:
    events, _ = await demo.runtime.reads.list(
        demo.workspace_id,
        DeliveryFilter(
            statuses=["WAITING_RETRY"], destination_id=demo.destination_ids["meta-loja"]
        ),
        destination_name="",
        page_size=500,
        page_token="",
    )
    purchases = [e for e in events if e.event_name == "Purchase"]
    best = max(purchases, key=lambda e: max(d.attempt_count for d in e.deliveries))
    return str(best.id)


async def log_in(page: Page, api_key: str) -> None:
    await page.goto("/login")
    await page.locator("#api-key").fill(api_key)
    await page.locator("#login-form button[type=submit]").click()
    await expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    await expect(page.locator("#events tr").first).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#chart svg")).to_be_visible(timeout=WAIT_MS)


# An element's box in page coordinates (what a full-page clip takes).
_PAGE_BOX = """element => {
    const r = element.getBoundingClientRect();
    return {x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width,
            height: r.height};
}"""


async def shoot(page: Page, name: str, *, selector: str = "", max_height: int = 0) -> None:
    path = IMAGES / f"{name}.png"
    if not selector:
        await page.screenshot(path=path)
    else:
        target = page.locator(selector)
        box = await target.evaluate(_PAGE_BOX)
        if not max_height or box["height"] <= max_height:
            await target.screenshot(path=path)
        else:
            box["height"] = max_height
            await page.screenshot(path=path, full_page=True, clip=box)
    print(f"  {path.relative_to(IMAGES.parent.parent)}")


async def screenshots(base_url: str, demo: Demo) -> None:
    names = {
        "pt-BR": {
            "login": "login",
            "dashboard": "painel",
            "events": "lista-de-eventos",
            "failed": "filtro-falha",
            "detail": "detalhe-do-evento",
            "destinations": "destinos",
            "failed_label": "Falha",
        },
        "en": {
            "login": "login-en",
            "dashboard": "dashboard-en",
            "events": "event-list-en",
            "failed": "filter-failed-en",
            "detail": "event-detail-en",
            "destinations": "destinations-en",
            "failed_label": "Failed",
        },
    }
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        for language, name in names.items():
            context = await browser.new_context(
                base_url=base_url,
                viewport={"width": 1440, "height": 1000},
                locale="pt-BR" if language == "pt-BR" else "en-US",
                timezone_id="America/Sao_Paulo",
            )
            page = await context.new_page()
            await page.goto("/login")
            if language == "en":
                await page.locator("#lang-toggle").click()
            await page.set_viewport_size({"width": 900, "height": 560})
            await shoot(page, name["login"])
            await page.set_viewport_size({"width": 1440, "height": 1000})
            await log_in(page, demo.api_key)
            await shoot(page, name["dashboard"])
            await shoot(page, name["events"], selector="section.events", max_height=760)
            await shoot(page, name["destinations"], selector="#destinations-title >> xpath=..")

            # Tall enough for the whole panel (it scrolls within the window otherwise).
            await page.set_viewport_size({"width": 1440, "height": 2200})
            await page.goto(f"/#event/{demo.detail_event}")
            await expect(page.locator("#detail .timeline").first).to_be_visible(timeout=WAIT_MS)
            await shoot(page, name["detail"], selector="#detail")
            await page.set_viewport_size({"width": 1440, "height": 1000})

            await page.goto("/")
            await expect(page.locator("#events tr").first).to_be_visible(timeout=WAIT_MS)
            chips = page.locator("#status-chips")
            await chips.get_by_role("button", name=name["failed_label"], exact=True).click()
            await expect(page.locator("#retry-shown")).to_be_visible(timeout=WAIT_MS)
            await shoot(page, name["failed"], selector="section.events", max_height=620)
            await context.close()
        await browser.close()


async def make_screenshots(database_url: str) -> None:
    await migrate(database_url)
    clock = FakeClock(dt.datetime.now(dt.UTC).replace(second=0, microsecond=0))
    now = lambda: clock.now().timestamp()  # noqa: E731
    loja = FakeMeta(now=now, access_tokens={LOJA_PIXEL: LOJA_TOKEN})
    campanhas = FakeMeta(now=now, access_tokens={CAMPANHAS_PIXEL: CAMPANHAS_TOKEN})
    app_url = f"http://127.0.0.1:{closed_port()}"
    async with (
        FakeMetaServer(loja) as loja_server,
        FakeMetaServer(campanhas) as campanhas_server,
    ):
        # A long HTTP timeout: the in-flight attempt is held open while the pictures are
        # taken. The fakes (and the app's closed port) are on loopback: the operator allows
        # them.
        long = dt.timedelta(minutes=5)
        settings = Settings(
            database_url=database_url,
            http_timeout=long,
            attempt_budget=long,
            attempt_lease=2 * long,
            allowed_platform_urls=tuple(
                BaseUrl.parse(url)
                for url in (loja_server.base_url, campanhas_server.base_url, app_url)
            ),
        )
        async with open_runtime(settings, database_url, clock=clock) as runtime:
            await take_screenshots(runtime, clock, loja_server, campanhas_server, app_url)


async def take_screenshots(
    runtime: Runtime,
    clock: FakeClock,
    loja_server: FakeMetaServer,
    campanhas_server: FakeMetaServer,
    app_url: str,
) -> None:
    campanhas = campanhas_server.fake
    database_url = runtime.database_url
    # Admin: the pictures show the retry and cancel buttons, which submit keys do not get.
    key = await keys.create_key(runtime.pool, workspace="minha-loja", scope=ADMIN)
    demo = Demo(runtime, clock, key.workspace.id, key.secret, {})
    await play_the_day(demo, loja_server, campanhas_server, app_url)

    # One attempt held in flight by the platform: Enviando and Reenviando on screen.
    campanhas.fail_next(1, Failure.hanging())
    in_flight = asyncio.create_task(deliver(demo, "meta-campanhas"))
    await asyncio.wait_for(campanhas.wait_for_hang(), timeout=30)

    hub = StatusHub(database_url)
    hub.start()
    dashboard = await start_dashboard(runtime, hub, "127.0.0.1:0")
    try:
        print("screenshots:")
        await screenshots(dashboard.url, demo)
    finally:
        await dashboard.stop()
        await hub.close()
        campanhas.release()
        await in_flight


def main() -> None:
    if not CHROMIUM.exists():
        sys.exit("docs/screenshots.py: needs /usr/bin/chromium (apt-get install chromium)")
    # Quiet: the demo's expired token and refused connections are on purpose.
    logging.basicConfig(level=logging.ERROR)
    IMAGES.mkdir(exist_ok=True)
    with scratch_database(os.environ.get("TENAZ_DATABASE_URL") or DEFAULT_SERVER) as url:
        asyncio.run(make_screenshots(url))


if __name__ == "__main__":
    main()
