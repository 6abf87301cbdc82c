"""The dashboard in a real headless chromium (Debian's, driven by Playwright's async API):
login, the status labels and the language toggle, a status filter, a change shown live without
a reload, the retry button, and its absence for a submit key; the alerts panel, and managing
alert rules and channels from it.

Playwright's `expect` polls with a bound, so no test sleeps waiting for the page. Each test
launches its own browser in the test's event loop, next to the runtime and the dashboard.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from jobs import keys
from jobs.alerts import RuleSpec
from jobs.clock import FakeClock
from jobs.destinations import DestinationSpec
from jobs.platforms.fake_meta import Failure, FakeMetaServer
from jobs.runtime import Runtime
from jobs.submission import EventInput
from server.dashboard import DashboardServer, start_dashboard
from server.status_hub import StatusHub
from tests.alert_receivers import WEBHOOK_SECRET, webhook_channel
from tests.support import META_REFUSES, run_jobs

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 10_000  # the bound of every wait on the page
PT_LABELS = ["Pendente", "Enviando", "Esperando Retentativa", "Reenviando", "Sucesso", "Falha"]


@pytest.fixture
async def hub(runtime: Runtime) -> AsyncIterator[StatusHub]:
    started = StatusHub(runtime.database_url)
    started.start()
    yield started
    await started.close()


@pytest.fixture
async def dashboard(runtime: Runtime, hub: StatusHub) -> AsyncIterator[DashboardServer]:
    started = await start_dashboard(runtime, hub, "127.0.0.1:0")
    yield started
    await started.stop()


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium. Missing, it fails the tests rather than skipping them, so that a run
    without it (in CI above all) cannot pass for one that checked the dashboard."""
    if not CHROMIUM.exists():
        pytest.fail(f"no {CHROMIUM}: `make test-browser` installs Debian's chromium")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser, dashboard: DashboardServer) -> AsyncIterator[Page]:
    """A fresh browser tab (no cookie, no remembered language) that must raise no script error.

    Refused requests are not counted: tests that expect one (a wrong key) check it on the
    page, and the others check that the page's error banner stayed hidden.
    """
    context = await browser.new_context(
        base_url=dashboard.url, viewport={"width": 1400, "height": 1000}
    )
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    yield opened
    await context.close()
    assert errors == []


async def log_in(page: Page, key: str) -> None:
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/login$"))  # no session yet
    await page.get_by_label("Chave de API").fill(key)
    await page.get_by_role("button", name="Entrar").click()
    await expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=WAIT_MS)


async def sandbox(runtime: Runtime, key: str) -> int:
    workspace = (await keys.authenticate(runtime.pool, key)).workspace
    await runtime.destinations.create(workspace.id, DestinationSpec(name="sandbox", kind="sandbox"))
    return workspace.id


async def submit(
    runtime: Runtime, workspace_id: int, event_id: str, *, refused: bool = False
) -> None:
    await runtime.submissions.submit(
        workspace_id,
        [
            EventInput(
                event_id=event_id,
                event_name="Purchase",
                event_time=runtime.clock.now(),
                user_data={"email": "cliente@example.com"},
                value=None if refused else 197.0,
                currency="BRL",
                order_id=f"HP-{event_id}",
                extra=META_REFUSES if refused else {},
            )
        ],
        batch=False,
    )


async def test_the_page_loads_after_login_with_the_labels_and_remembers_english(
    page: Page, runtime: Runtime, api_key: str
) -> None:
    await sandbox(runtime, api_key)
    await page.goto("/api/events")  # the API refuses a browser without a session
    assert "unauthenticated" in await page.content()
    await page.goto("/login")
    await page.get_by_label("Chave de API").fill("tz_wrong")
    await page.get_by_role("button", name="Entrar").click()
    await expect(page.get_by_role("alert")).to_have_text("Chave inválida. Confira e tente de novo.")

    await log_in(page, api_key)
    await expect(page.locator("#workspace-name")).to_have_text("acme")
    chips = page.locator("#status-chips .chip")
    await expect(chips).to_have_text(["Todos", *PT_LABELS])
    await expect(page.locator("#counts .badge")).to_have_text(PT_LABELS)
    await expect(page.locator("#destinations")).to_contain_text("Saudável")
    await expect(page.locator("#chart svg")).to_have_attribute("role", "img")

    await page.get_by_role("button", name="English").click()
    await expect(chips).to_have_text(
        ["All", "Pending", "Sending", "Waiting for retry", "Resending", "Succeeded", "Failed"]
    )
    await page.reload()
    await expect(page.get_by_role("heading", name="Events", exact=True)).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.get_by_role("button", name="Português").click()
    await expect(page.get_by_role("heading", name="Eventos", exact=True)).to_be_visible()

    await page.get_by_role("button", name="Sair").click()
    await expect(page.get_by_label("Chave de API")).to_be_visible()
    await page.goto("/")
    await expect(page.get_by_label("Chave de API")).to_be_visible()  # sent back to log in


async def test_a_status_filter_and_the_search_box_narrow_the_list(
    page: Page, runtime: Runtime, api_key: str
) -> None:
    workspace_id = await sandbox(runtime, api_key)
    await submit(runtime, workspace_id, "pedido-1")
    await run_jobs(runtime)
    await submit(runtime, workspace_id, "pedido-2", refused=True)  # the platform refuses it
    await run_jobs(runtime)
    await log_in(page, api_key)
    rows = page.locator("#events tr")
    await expect(rows).to_have_count(2)

    await page.locator("#status-chips").get_by_role("button", name="Falha").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("pedido-2")
    await expect(rows.first.locator(".badge")).to_have_text("Falha")
    await expect(
        page.locator("#status-chips").get_by_role("button", name="Falha")
    ).to_have_attribute("aria-pressed", "true")

    await page.locator("#status-chips").get_by_role("button", name="Todos").click()
    await expect(rows).to_have_count(2)
    await page.get_by_label("Buscar por ID do evento ou do pedido").fill("HP-pedido-1")
    await page.get_by_role("button", name="Buscar").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("pedido-1")
    await expect(page.locator("#error-banner")).to_be_hidden()


async def test_a_status_change_appears_live_without_a_reload(
    page: Page, runtime: Runtime, api_key: str, clock: FakeClock
) -> None:
    workspace_id = await sandbox(runtime, api_key)
    await log_in(page, api_key)
    await expect(page.locator("#empty")).to_be_visible()
    await page.evaluate("window.tenazTestMarker = 'still the same page'")

    await submit(runtime, workspace_id, "pedido-live")
    clock.advance(1)  # the counts cover deliveries created before "now"
    badge = page.locator("#events tr").filter(has_text="pedido-live").locator(".badge")
    await expect(badge).to_have_text("Pendente", timeout=WAIT_MS)
    succeeded_count = page.locator('#counts [data-status="SUCCEEDED"] .count-value')
    await expect(succeeded_count).to_have_text("0")

    await run_jobs(runtime)
    await expect(badge).to_have_text("Sucesso", timeout=WAIT_MS)
    await expect(succeeded_count).to_have_text("1", timeout=WAIT_MS)
    assert await page.evaluate("window.tenazTestMarker") == "still the same page"
    await expect(page.locator("#error-banner")).to_be_hidden()


async def test_the_retry_button_sends_a_failed_delivery_again(
    page: Page, runtime: Runtime, api_key: str
) -> None:
    workspace_id = await sandbox(runtime, api_key)
    await submit(runtime, workspace_id, "pedido-ruim", refused=True)
    await run_jobs(runtime)
    await log_in(page, api_key)

    await page.get_by_role("link", name="Purchase pedido-ruim").click()
    detail = page.locator("#detail")
    await expect(detail.locator("h4 .badge")).to_have_text("Falha")
    await expect(detail.locator(".timeline li")).to_have_count(1)
    await expect(detail.locator(".timeline")).to_contain_text("Rejeitado")

    await detail.get_by_role("button", name="Reenviar agora").click()
    await expect(page.locator("#action-message")).to_have_text("1 de 1 entregas alteradas.")
    await expect(detail.locator("h4 .badge")).to_have_text("Esperando Retentativa")
    list_badge = page.locator("#events tr").filter(has_text="pedido-ruim").locator(".badge")
    await expect(list_badge).to_have_text("Esperando Retentativa")

    await run_jobs(runtime)  # the manual attempt; the platform refuses the data again
    await expect(detail.locator("h4 .badge")).to_have_text("Falha", timeout=WAIT_MS)
    await expect(detail.locator(".timeline li")).to_have_count(2)
    await expect(detail.locator(".timeline li").first).to_contain_text("manual")
    await expect(page.locator("#error-banner")).to_be_hidden()


async def test_retry_and_cancel_are_offered_to_admin_keys_only(
    page: Page, runtime: Runtime, api_key: str, submit_api_key: str
) -> None:
    workspace_id = await sandbox(runtime, api_key)
    await submit(runtime, workspace_id, "pedido-ruim", refused=True)
    await submit(runtime, workspace_id, "pedido-espera")
    await run_jobs(runtime)
    failed = page.locator("#events tr").filter(has_text="pedido-ruim")
    detail = page.locator("#detail")
    filter_failed = page.locator("#status-chips").get_by_role("button", name="Falha")

    await log_in(page, submit_api_key)
    await expect(page.locator("#key-scope")).to_have_text("envio")
    await expect(page.locator("#scope-note")).to_be_visible()
    await expect(page.locator("#alerts-card")).to_be_hidden()  # channels are for admins
    await failed.get_by_role("link").click()
    await expect(detail.locator("h4 .badge")).to_have_text("Falha")
    await expect(detail.locator(".delivery")).to_have_count(1)
    await expect(detail.locator(".actions")).to_have_count(0)
    await filter_failed.click()
    await expect(page.locator("#events tr")).to_have_count(1)
    await expect(page.locator("#retry-shown")).to_be_hidden()

    await page.get_by_role("button", name="Sair").click()
    await expect(page.get_by_label("Chave de API")).to_be_visible()
    await log_in(page, api_key)
    await expect(page.locator("#key-scope")).to_have_text("administração")
    await expect(page.locator("#scope-note")).to_be_hidden()
    await failed.get_by_role("link").click()
    await expect(detail.get_by_role("button", name="Reenviar agora")).to_be_visible()
    await filter_failed.click()
    await expect(page.locator("#retry-shown")).to_have_text("Reenviar as falhas exibidas (1)")
    await expect(page.locator("#error-banner")).to_be_hidden()


async def test_a_destination_needing_action_says_what_to_do_and_takes_new_credentials(
    page: Page, runtime: Runtime, api_key: str, fake_meta: FakeMetaServer
) -> None:
    workspace = (await keys.authenticate(runtime.pool, api_key)).workspace
    spec = DestinationSpec(
        name="meta-loja",
        kind="meta",
        settings={"pixel_id": "111", "base_url": fake_meta.base_url},
        secrets={"access_token": "good-token"},
    )
    await runtime.destinations.create(workspace.id, spec)
    fake_meta.fake.fail_next(1, Failure.token_expired())
    await submit(runtime, workspace.id, "p-1")
    await run_jobs(runtime)

    await log_in(page, api_key)
    card = page.locator('li.destination[data-destination="meta-loja"]')
    await expect(card).to_have_attribute("data-health", "needs_action", timeout=WAIT_MS)
    await expect(card.locator(".platform-name")).to_have_text("Meta")
    await expect(card.locator(".action")).to_contain_text("renove o token de acesso")
    await card.get_by_label("the Conversions API access token").fill("good-token")
    await card.get_by_role("button", name="Salvar").click()
    await expect(page.locator("#destination-message")).to_contain_text("meta-loja")
    await run_jobs(runtime)  # the job the new credentials queued, due at once
    await expect(card).to_have_attribute("data-health", "healthy", timeout=WAIT_MS)
    assert fake_meta.fake.received_count("Purchase", "p-1") == 1


async def test_the_alerts_card_shows_rules_channels_and_notifications_to_admin_keys(
    page: Page, runtime: Runtime, api_key: str, fake_meta: FakeMetaServer
) -> None:
    workspace = (await keys.authenticate(runtime.pool, api_key)).workspace
    hook_url = fake_meta.base_url + "/hook"  # allowed; it answers 404, so the test fails
    await runtime.alerts.create_channel(workspace.id, webhook_channel("ops", hook_url))
    await runtime.alerts.create_rule(
        workspace.id, RuleSpec(name="meta-token", condition="needs_action", channels=["ops"])
    )
    await runtime.alerts.test_channel(workspace.id, workspace.name, "ops")

    await log_in(page, api_key)
    card = page.locator("#alerts-card")
    await expect(card).to_be_visible(timeout=WAIT_MS)
    rule = card.locator('li[data-rule="meta-token"]')
    await expect(rule).to_contain_text("needs_action → ops")
    await expect(rule).to_contain_text("sem alerta")
    await expect(card.locator('li[data-channel="ops"]')).to_contain_text(f"webhook: {hook_url}")
    notification = card.locator("#alert-history li[data-notification]")
    await expect(notification).to_have_count(1)
    await expect(notification).to_contain_text("falhou")
    await expect(notification).to_contain_text("webhook: HTTP 404")
    await page.get_by_role("button", name="English").click()
    await expect(rule).to_contain_text("quiet")
    await expect(notification).to_contain_text("failed")
    await expect(page.locator("#error-banner")).to_be_hidden()


async def test_an_admin_creates_switches_off_and_deletes_alert_rules_and_channels(
    page: Page, runtime: Runtime, api_key: str, fake_meta: FakeMetaServer
) -> None:
    hook_url = fake_meta.base_url + "/hook"
    await log_in(page, api_key)
    card = page.locator("#alerts-card")
    await expect(card).to_be_visible(timeout=WAIT_MS)

    await card.get_by_text("Novo canal").click()
    channel_form = card.locator("#alert-channel-form")
    await channel_form.get_by_label("Nome").fill("ops")
    await channel_form.get_by_label("URL do webhook").fill(hook_url)
    await channel_form.get_by_label("Segredo de assinatura").fill(WEBHOOK_SECRET)
    await channel_form.get_by_role("button", name="Criar canal").click()
    channel = card.locator('li[data-channel="ops"]')
    await expect(channel).to_contain_text(f"webhook: {hook_url}", timeout=WAIT_MS)
    await expect(card.locator("#alert-message")).to_have_text("Canal ops criado.")
    await expect(channel_form.get_by_label("Segredo de assinatura")).to_have_value("")

    await card.get_by_text("Nova regra").click()
    rule_form = card.locator("#alert-rule-form")
    await rule_form.get_by_label("Nome").fill("sandbox-failing")
    await rule_form.get_by_label("Condição").select_option("success_rate")
    await rule_form.get_by_label("Limite").fill("0.9")
    await rule_form.get_by_label("Janela").fill("30m")
    await rule_form.get_by_label("Canais").fill("ops")
    await rule_form.get_by_role("button", name="Criar regra").click()
    rule = card.locator('li[data-rule="sandbox-failing"]')
    await expect(rule).to_contain_text("success_rate → ops", timeout=WAIT_MS)
    [stored] = await runtime.alerts.list_rules(
        (await keys.authenticate(runtime.pool, api_key)).workspace.id
    )
    assert (stored.rule.threshold, stored.rule.window.total_seconds()) == (0.9, 1800)

    await rule.get_by_role("button", name="Desativar").click()
    await expect(rule).to_have_attribute("data-enabled", "false", timeout=WAIT_MS)
    await expect(rule).to_contain_text("desativada")
    await rule.get_by_role("button", name="Ativar").click()
    await expect(rule).to_have_attribute("data-enabled", "true", timeout=WAIT_MS)

    # A channel a rule notifies cannot go: the page says why, and keeps it.
    await channel.get_by_role("button", name="Excluir").click()
    await expect(page.locator("#error-banner")).to_contain_text("sandbox-failing")
    await expect(channel).to_have_count(1)
    await rule.get_by_role("button", name="Excluir").click()
    await expect(rule).to_have_count(0, timeout=WAIT_MS)
    await channel.get_by_role("button", name="Excluir").click()
    await expect(channel).to_have_count(0, timeout=WAIT_MS)
    await expect(card.locator("#alert-message")).to_have_text("Canal ops excluído.")
    await expect(page.locator("#error-banner")).to_be_hidden()
    assert WEBHOOK_SECRET not in await page.content()
