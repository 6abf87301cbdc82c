"""WebhookSourceService over real gRPC: sources are created, listed without their secrets,
updated and deleted by admin keys of their own workspace only; what a change sets takes
effect on the next call to the source's URL; and `tenaz secrets rotate`'s re-sealing keeps
the secret working."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from tenaz.client import TenazClient, TenazError
from tenaz.v1 import sources_pb2 as S

from jobs import keys
from jobs.runtime import Runtime
from jobs.scopes import ADMIN, SUBMIT
from jobs.secrets import SecretBox, generate_key
from jobs.webhook_sources import WebhookSourceService
from server.app import TenazServer
from server.ingest import IngestServer, start_ingest
from server.rate_limit import SubmissionLimiter
from tests import checkout_payloads as pay
from tests.support import count_rows

HOTMART = S.WEBHOOK_SOURCE_KIND_HOTMART


@pytest.fixture
async def web(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    ingest: IngestServer = await start_ingest(
        runtime, SubmissionLimiter(5000, 10_000), "127.0.0.1:0"
    )
    async with httpx.AsyncClient(base_url=ingest.url, trust_env=False, timeout=10) as client:
        yield client
    await ingest.stop()


async def test_sources_are_managed_by_admin_keys_and_never_show_their_secret(
    runtime: Runtime, client: TenazClient, server: TenazServer, meta: str
) -> None:
    created = await client.create_webhook_source(
        S.WebhookSource(name="loja", kind=HOTMART, secret=pay.HOTTOK, destinations=[meta])
    )
    assert created.secret == "" and created.secret_set
    assert created.path == "/webhooks/hotmart/loja"
    assert list(created.destinations) == [meta]
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT secret FROM tenaz_webhook_sources")
        [(stored,)] = await cur.fetchall()
    assert pay.HOTTOK not in stored

    with pytest.raises(TenazError) as refused:
        await client.create_webhook_source(S.WebhookSource(name="loja", kind=HOTMART, secret="x"))
    assert refused.value.code == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(TenazError) as refused:
        await client.create_webhook_source(
            S.WebhookSource(
                name="propria",
                kind=S.WEBHOOK_SOURCE_KIND_GENERIC,
                secret="not-whsec",
                fields={"email": "/e", "banana": "/b"},
                destinations=["nao-existe"],
            )
        )
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in refused.value.violations} == {
        "source.secret",
        "source.fields",
        "source.event_names",
    }

    submit_key = (await keys.create_key(runtime.pool, workspace="acme", scope=SUBMIT)).secret
    async with TenazClient(f"127.0.0.1:{server.port}", submit_key, timeout=10) as submitter:
        with pytest.raises(TenazError) as refused:
            await submitter.list_webhook_sources()
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    other_key = (await keys.create_key(runtime.pool, workspace="globex", scope=ADMIN)).secret
    async with TenazClient(f"127.0.0.1:{server.port}", other_key, timeout=10) as other:
        assert await other.list_webhook_sources() == []
        with pytest.raises(TenazError) as refused:
            await other.delete_webhook_source("loja")
        assert refused.value.code == grpc.StatusCode.NOT_FOUND

    await client.delete_webhook_source("loja")
    assert await client.list_webhook_sources() == []


async def test_an_update_takes_effect_on_the_next_call_and_ignored_types_are_listed(
    runtime: Runtime, client: TenazClient, web: httpx.AsyncClient, meta: str
) -> None:
    await client.create_webhook_source(S.WebhookSource(name="loja", kind=HOTMART, secret="velho"))
    body = pay.encoded(pay.hotmart("PURCHASE_APPROVED", runtime.clock.now()))
    path = "/webhooks/hotmart/loja"

    # The operator stops sending Purchase for APPROVED (COMPLETE still sends it), and sets
    # the hottok Hotmart shows.
    updated = await client.update_webhook_source(
        S.WebhookSource(name="loja", secret=pay.HOTTOK, event_names={"PURCHASE_APPROVED": ""}),
        ["secret", "event_names"],
    )
    assert dict(updated.event_names) == {"PURCHASE_APPROVED": ""}
    old = await web.post(path, content=body, headers=pay.hotmart_headers("velho"))
    assert old.status_code == 401
    new = await web.post(path, content=body, headers=pay.hotmart_headers())
    assert new.json() == {"status": "ignored", "event_type": "PURCHASE_APPROVED"}
    assert await count_rows(runtime, "tenaz_events") == 0

    [listed] = await client.list_webhook_sources()
    assert [(i.event_type, i.count) for i in listed.ignored] == [("PURCHASE_APPROVED", 1)]
    assert listed.ignored[0].last_at.seconds == int(runtime.clock.now().timestamp())

    with pytest.raises(TenazError) as refused:
        await client.update_webhook_source(S.WebhookSource(name="loja"), [])
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT


async def test_rotation_reseals_source_secrets_with_the_first_key(
    runtime: Runtime, client: TenazClient
) -> None:
    await client.create_webhook_source(S.WebhookSource(name="loja", kind=HOTMART, secret="tok"))
    new_key = generate_key()
    # What a restart with a new first key in TENAZ_SECRET_KEY gives `tenaz secrets rotate`.
    rotated = WebhookSourceService(
        runtime.pool,
        runtime.clock,
        SecretBox([new_key, runtime.settings.secret_key]),
        runtime.submissions,
    )

    assert await rotated.rotate_secrets() == 1
    assert await rotated.rotate_secrets() == 0
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT secret FROM tenaz_webhook_sources")
        [(stored,)] = await cur.fetchall()
    assert SecretBox([new_key]).decrypt(stored) == "tok"
