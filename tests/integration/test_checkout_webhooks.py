"""Checkout webhooks over real HTTP to the ingest server, stored in a real PostgreSQL and
delivered by a worker to the fake Meta: each checkout's documented payloads and signatures,
refusals that store nothing, replays and a sale's second event as duplicates, event types
acknowledged and counted, and the buyer's data arriving hashed with the click ids."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from jobs import keys
from jobs.clock import FakeClock
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.runtime import Runtime
from jobs.webhook_sources import SourceSpec
from server.ingest import IngestServer, start_ingest
from server.rate_limit import SubmissionLimiter
from tests import checkout_payloads as pay
from tests.support import count_rows, run_jobs


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
async def ingest(runtime: Runtime) -> AsyncIterator[IngestServer]:
    started = await start_ingest(runtime, SubmissionLimiter(5000, 10_000), "127.0.0.1:0")
    yield started
    await started.stop()


@pytest.fixture
async def web(ingest: IngestServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ingest.url, trust_env=False, timeout=10) as client:
        yield client


@pytest.fixture
async def workspace(runtime: Runtime, api_key: str) -> int:
    return (await keys.authenticate(runtime.pool, api_key)).workspace.id


@pytest.fixture
async def sources(runtime: Runtime, workspace: int, meta: str) -> None:
    """One source of each checkout in workspace acme, whose Meta destination is the fake."""
    service = runtime.webhook_sources
    await service.create(workspace, SourceSpec("loja-hotmart", "hotmart", pay.HOTTOK))
    await service.create(workspace, SourceSpec("loja-kiwify", "kiwify", pay.KIWIFY_TOKEN))
    await service.create(workspace, SourceSpec("loja-eduzz", "eduzz", pay.EDUZZ_KEY))
    await service.create(
        workspace,
        SourceSpec(
            "loja-propria",
            "generic",
            pay.GENERIC_SECRET,
            event_names={"venda.paga": "Purchase", "venda.reembolsada": ""},
            fields={
                "event_type": "/tipo",
                "event_id": "/venda/id",
                "event_time": "venda.pago_em",
                "value": "/venda/total",
                "currency": "/venda/moeda",
                "order_id": "/venda/id",
                "email": "/cliente/email",
                "phone": "/cliente/telefone",
                "full_name": "/cliente/nome",
                "fbc": "/rastreio/fbc",
                "utm_source": "/rastreio/utm_source",
            },
            destinations=[meta],
        ),
    )


async def post_hotmart(
    web: httpx.AsyncClient, body: Any, token: str = pay.HOTTOK
) -> httpx.Response:
    return await web.post(
        "/webhooks/hotmart/loja-hotmart",
        content=pay.encoded(body),
        headers=pay.hotmart_headers(token),
    )


def sent_events(fake_meta: FakeMetaServer) -> list[dict[str, Any]]:
    return [dict(event) for request in fake_meta.fake.accepted for event in request.events]


pytestmark = pytest.mark.usefixtures("sources")


async def test_a_hotmart_sale_reaches_meta_as_a_purchase_hashed_with_its_click_ids(
    runtime: Runtime, web: httpx.AsyncClient, fake_meta: FakeMetaServer, clock: FakeClock
) -> None:
    response = await post_hotmart(web, pay.hotmart("PURCHASE_APPROVED", clock.now()))

    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "accepted",
        "event_type": "PURCHASE_APPROVED",
        "event_name": "Purchase",
        "event_id": "hotmart:HP1121336654889:Purchase",
    }
    await run_jobs(runtime)
    [event] = sent_events(fake_meta)
    assert event["event_name"] == "Purchase"
    assert event["event_id"] == "hotmart:HP1121336654889:Purchase"
    assert event["event_time"] == int(clock.now().timestamp())
    user = event["user_data"]
    assert user["em"] == sha256("comprador.teste@example.com")
    assert user["ph"] == sha256("5511987654321")
    assert user["fn"] == sha256("maria") and user["ln"] == sha256("silva")
    assert user["ct"] == sha256("sãopaulo")  # Meta: lower case, no spaces
    assert user["st"] == sha256("sp")
    assert user["zp"] == sha256("01310100")
    assert user["country"] == sha256("br")
    assert user["client_ip_address"] == "203.0.113.7"
    assert user["fbp"] == pay.FBP  # Hotmart's sck carried the browser id
    custom = event["custom_data"]
    assert custom["value"] == 197.0 and custom["currency"] == "BRL"
    assert custom["order_id"] == "HP1121336654889"
    assert custom["utm_source"] == "facebook" and custom["src"] == "campanha-x"
    assert custom["xcod"] == "afiliado-7"


async def test_approved_then_complete_and_a_retry_are_one_purchase(
    runtime: Runtime, web: httpx.AsyncClient, fake_meta: FakeMetaServer, clock: FakeClock
) -> None:
    answers = []
    for event in ("PURCHASE_APPROVED", "PURCHASE_COMPLETE", "PURCHASE_APPROVED"):
        # Each call has an envelope of its own (id, creation date), as Hotmart's retries do.
        response = await post_hotmart(web, pay.hotmart(event, clock.now()))
        answers.append((response.status_code, response.json()["status"]))
        clock.advance(dt.timedelta(minutes=1))

    assert answers == [(200, "accepted"), (200, "duplicate"), (200, "duplicate")]
    assert await count_rows(runtime, "tenaz_events") == 1
    await run_jobs(runtime)
    assert [e["event_id"] for e in sent_events(fake_meta)] == ["hotmart:HP1121336654889:Purchase"]


async def test_a_wrong_or_missing_token_is_401_and_stores_nothing(
    runtime: Runtime, web: httpx.AsyncClient, clock: FakeClock
) -> None:
    body = pay.hotmart("PURCHASE_APPROVED", clock.now())
    wrong = await post_hotmart(web, body, token="outro-token")
    missing = await web.post("/webhooks/hotmart/loja-hotmart", content=pay.encoded(body))
    # The body's own hottok counts only when it is the source's.
    body["hottok"] = "outro-token"
    in_body = await web.post("/webhooks/hotmart/loja-hotmart", content=pay.encoded(body))

    assert [r.status_code for r in (wrong, missing, in_body)] == [401, 401, 401]
    assert "secret" in wrong.json()["error"]
    assert await count_rows(runtime, "tenaz_events") == 0
    assert await count_rows(runtime, "tenaz_webhook_source_ignored") == 0


async def test_types_tenaz_does_not_send_are_acknowledged_and_counted(
    runtime: Runtime, web: httpx.AsyncClient, workspace: int, clock: FakeClock
) -> None:
    for event in ("PURCHASE_REFUNDED", "PURCHASE_REFUNDED", "CLUB_FIRST_ACCESS"):
        response = await post_hotmart(web, pay.hotmart(event, clock.now()))
        assert response.status_code == 200
        assert response.json() == {"status": "ignored", "event_type": event}

    assert await count_rows(runtime, "tenaz_events") == 0
    [source] = [s for s in await runtime.webhook_sources.list(workspace) if s.kind == "hotmart"]
    assert {i.event_type: i.count for i in source.ignored} == {
        "CLUB_FIRST_ACCESS": 1,
        "PURCHASE_REFUNDED": 2,
    }


async def test_malformed_bodies_are_400_and_unknown_routes_404(
    runtime: Runtime, web: httpx.AsyncClient, clock: FakeClock
) -> None:
    not_json = await web.post(
        "/webhooks/hotmart/loja-hotmart", content=b"{nope", headers=pay.hotmart_headers()
    )
    no_event = await post_hotmart(web, {"data": {}})
    body = pay.hotmart("PURCHASE_APPROVED", clock.now())
    del body["data"]["purchase"]["transaction"]
    no_transaction = await post_hotmart(web, body)
    body = pay.hotmart("PURCHASE_APPROVED", clock.now())
    body["data"]["purchase"]["price"]["value"] = "muito"
    bad_value = await post_hotmart(web, body)

    assert [r.status_code for r in (not_json, no_event, no_transaction, bad_value)] == [400] * 4
    assert not_json.json()["error"] == "the body is not JSON"
    assert "event is missing" in no_event.json()["error"]
    assert no_transaction.json()["error"] == "data.purchase.transaction is missing"
    assert bad_value.json()["error"] == "data.purchase.price.value must be a number"

    good = pay.encoded(pay.hotmart("PURCHASE_APPROVED", clock.now()))
    for path in (
        "/webhooks/hotmart/nao-existe",
        "/webhooks/kiwify/loja-hotmart",  # the route exists, for another checkout
        "/webhooks/shopify/loja-hotmart",
    ):
        response = await web.post(path, content=good, headers=pay.hotmart_headers())
        assert response.status_code == 404, path
    assert await count_rows(runtime, "tenaz_events") == 0


async def test_a_kiwify_order_signed_with_the_token_is_a_purchase(
    runtime: Runtime, web: httpx.AsyncClient, fake_meta: FakeMetaServer, clock: FakeClock
) -> None:
    body = pay.encoded(pay.kiwify("order_approved", clock.now()))
    path = "/webhooks/kiwify/loja-kiwify"

    bad = await web.post(path, content=body, params={"signature": "0" * 40})
    unsigned = await web.post(path, content=body)
    other_token = await web.post(path, content=body, params=pay.kiwify_query(body, "outro"))
    assert [r.status_code for r in (bad, unsigned, other_token)] == [401, 401, 401]
    assert await count_rows(runtime, "tenaz_events") == 0

    good = await web.post(path, content=body, params=pay.kiwify_query(body))
    assert good.status_code == 200, good.text
    assert good.json()["event_id"] == "kiwify:kw-order-1:Purchase"
    pix = pay.encoded(pay.kiwify("pix_created", clock.now(), order_id="kw-order-2"))
    generated = await web.post(path, content=pix, params=pay.kiwify_query(pix))
    assert generated.json()["event_name"] == "AddPaymentInfo"
    refund = pay.encoded(pay.kiwify("order_refunded", clock.now()))
    refunded = await web.post(path, content=refund, params=pay.kiwify_query(refund))
    assert refunded.json()["status"] == "ignored"

    await run_jobs(runtime)
    sent = {e["event_name"]: e for e in sent_events(fake_meta)}
    assert set(sent) == {"Purchase", "AddPaymentInfo"}
    purchase = sent["Purchase"]
    assert purchase["custom_data"]["value"] == 97.0  # charge_amount is in cents
    assert purchase["custom_data"]["currency"] == "BRL"
    user = purchase["user_data"]
    assert user["em"] == sha256("comprador.teste@example.com")
    assert user["ph"] == sha256("5521998765432")
    assert user["fn"] == sha256("joão") and user["ln"] == sha256("souza")
    assert user["fbp"] == pay.FBP
    assert user["fbc"].startswith("fb.1.") and user["fbc"].endswith("." + pay.FBCLID)
    assert purchase["custom_data"]["utm_medium"] == "cpc"


async def test_an_eduzz_invoice_signed_with_the_key_is_a_purchase(
    runtime: Runtime, web: httpx.AsyncClient, fake_meta: FakeMetaServer, clock: FakeClock
) -> None:
    path = "/webhooks/eduzz/loja-eduzz"
    body = pay.encoded(pay.eduzz("myeduzz.invoice_paid", clock.now()))
    forged = await web.post(path, content=body, headers=pay.eduzz_headers(body, "outra"))
    assert forged.status_code == 401
    paid = await web.post(path, content=body, headers=pay.eduzz_headers(body))
    again = pay.encoded(pay.eduzz("myeduzz.invoice_paid", clock.now()))  # a new envelope id
    replay = await web.post(path, content=again, headers=pay.eduzz_headers(again))
    cart = pay.encoded(pay.eduzz("myeduzz.cart_abandonment", clock.now()))
    abandoned = await web.post(path, content=cart, headers=pay.eduzz_headers(cart))
    # The cart has no id of its own: its retry is known by the buyer, products and day.
    cart_again = pay.encoded(pay.eduzz("myeduzz.cart_abandonment", clock.now()))
    abandoned_again = await web.post(
        path, content=cart_again, headers=pay.eduzz_headers(cart_again)
    )

    assert (paid.status_code, paid.json()["status"]) == (200, "accepted")
    assert replay.json()["status"] == "duplicate"
    assert abandoned.json()["event_name"] == "InitiateCheckout"
    assert abandoned_again.json()["status"] == "duplicate"
    await run_jobs(runtime)
    sent = {e["event_name"]: e for e in sent_events(fake_meta)}
    assert set(sent) == {"Purchase", "InitiateCheckout"}
    assert sent["Purchase"]["event_id"] == "eduzz:12345678:Purchase"
    assert sent["Purchase"]["custom_data"]["value"] == 301.5
    assert sent["Purchase"]["custom_data"]["contents"] == [
        {"id": "P567", "quantity": 1, "item_price": 301.5}
    ]
    assert sent["Purchase"]["user_data"]["ph"] == sha256("5531998765432")


async def test_a_generic_source_reads_its_fields_and_checks_standard_webhooks_signatures(
    runtime: Runtime, web: httpx.AsyncClient, fake_meta: FakeMetaServer, clock: FakeClock
) -> None:
    path = "/webhooks/generic/loja-propria"
    sale = {
        "tipo": "venda.paga",
        "venda": {
            "id": "V-42",
            "total": "150.00",
            "moeda": "brl",
            "pago_em": clock.now().isoformat(),
        },
        "cliente": {"email": pay.EMAIL, "telefone": "11 98765-4321", "nome": "Rita de Teste"},
        "rastreio": {"fbc": "fb.1.1700000000000.AbCdEf", "utm_source": "instagram"},
    }
    body = pay.encoded(sale)
    stale = await web.post(
        path, content=body, headers=pay.generic_headers(body, clock.now() - dt.timedelta(hours=1))
    )
    tampered = await web.post(
        path, content=body + b" ", headers=pay.generic_headers(body, clock.now())
    )
    assert [stale.status_code, tampered.status_code] == [401, 401]

    accepted = await web.post(path, content=body, headers=pay.generic_headers(body, clock.now()))
    assert accepted.status_code == 200, accepted.text
    refund = pay.encoded({**sale, "tipo": "venda.reembolsada"})
    ignored = await web.post(path, content=refund, headers=pay.generic_headers(refund, clock.now()))
    assert ignored.json()["status"] == "ignored"

    await run_jobs(runtime)
    [event] = sent_events(fake_meta)
    assert event["event_id"] == "generic:V-42:Purchase"
    assert event["custom_data"]["value"] == 150.0 and event["custom_data"]["currency"] == "BRL"
    assert event["custom_data"]["utm_source"] == "instagram"
    user = event["user_data"]
    assert user["fbc"] == "fb.1.1700000000000.AbCdEf"
    assert user["fn"] == sha256("rita") and user["ln"] == sha256("teste")
    assert user["ph"] == sha256("5511987654321")


async def test_a_sale_tenaz_cannot_take_is_422_with_its_fields(
    runtime: Runtime, web: httpx.AsyncClient, clock: FakeClock
) -> None:
    body = pay.hotmart("PURCHASE_APPROVED", clock.now())
    body["data"]["buyer"]["email"] = "sem-arroba"
    response = await post_hotmart(web, body)

    assert response.status_code == 422
    assert [f["field"] for f in response.json()["fields"]] == ["event.user_data.email"]
    assert await count_rows(runtime, "tenaz_events") == 0
