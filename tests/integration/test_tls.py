"""TLS for the gRPC server, with optional client certificates, for the dashboard and the
Conversions API endpoint;
plaintext only on loopback or when explicitly allowed."""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from tenaz.client import TenazClient, TenazError

from jobs import keys
from jobs.runtime import open_runtime
from jobs.settings import Settings, SettingsError, is_loopback
from server.app import TenazServer, start_server
from server.dashboard import start_dashboard
from server.ingest import start_ingest
from server.rate_limit import SubmissionLimiter
from server.status_hub import StatusHub
from tests.support import Pki, make_pki


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


@pytest.fixture(params=[False, True], ids=["tls", "mutual-tls"])
async def tls_server(
    request: pytest.FixtureRequest, settings: Settings, pki: Pki
) -> AsyncIterator[tuple[TenazServer, str, bool]]:
    mutual: bool = request.param
    secured = dataclasses.replace(
        settings,
        tls_cert=pki.server_cert,
        tls_key=pki.server_key,
        tls_client_ca=pki.ca_file if mutual else None,
    )
    async with open_runtime(secured, secured.database_url) as runtime:
        key = (await keys.create_key(runtime.pool, workspace="acme")).secret
        server = await start_server(runtime, "127.0.0.1:0")
        try:
            yield server, key, mutual
        finally:
            await server.stop(grace=0.5)


async def test_tls_serves_authenticated_clients_only(
    tls_server: tuple[TenazServer, str, bool], pki: Pki
) -> None:
    server, key, mutual = tls_server
    target = f"localhost:{server.port}"
    with_cert = grpc.ssl_channel_credentials(
        root_certificates=pki.ca, private_key=pki.client_key, certificate_chain=pki.client_cert
    )
    async with TenazClient(target, key, credentials=with_cert, timeout=5) as tenaz:
        assert await tenaz.list_destinations() == []

    async with TenazClient(target, key, timeout=5) as plaintext:
        with pytest.raises(TenazError) as caught:
            await plaintext.list_destinations()
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE

    without_cert = grpc.ssl_channel_credentials(root_certificates=pki.ca)
    async with TenazClient(target, key, credentials=without_cert, timeout=5) as anonymous:
        if mutual:
            with pytest.raises(TenazError) as caught:
                await anonymous.list_destinations()
            assert caught.value.code == grpc.StatusCode.UNAVAILABLE
        else:
            assert await anonymous.list_destinations() == []


def test_plaintext_is_refused_off_loopback_unless_allowed() -> None:
    with pytest.raises(SettingsError, match="TENAZ_TLS_CERT"):
        Settings.from_env({"TENAZ_LISTEN_ADDRESS": "0.0.0.0:50051"})
    allowed = Settings.from_env(
        {"TENAZ_LISTEN_ADDRESS": "0.0.0.0:50051", "TENAZ_ALLOW_PLAINTEXT": "1"}
    )
    assert allowed.allow_plaintext
    with pytest.raises(SettingsError, match="go together"):
        Settings.from_env({"TENAZ_TLS_CERT": "/x.pem"})
    assert is_loopback("127.0.0.1:1") and is_loopback("[::1]:1") and is_loopback("localhost:1")
    assert not is_loopback("10.0.0.1:1") and not is_loopback("example.com:1")


@pytest.mark.parametrize("own_pair", [False, True], ids=["grpc-pair", "dashboard-pair"])
async def test_the_dashboard_serves_https_with_its_own_pair_or_the_grpc_one(
    settings: Settings, pki: Pki, own_pair: bool
) -> None:
    pair = (pki.server_cert, pki.server_key)
    secured = (
        dataclasses.replace(settings, dashboard_tls_cert=pair[0], dashboard_tls_key=pair[1])
        if own_pair
        else dataclasses.replace(settings, tls_cert=pair[0], tls_key=pair[1])
    )
    async with open_runtime(secured, secured.database_url) as runtime:
        hub = StatusHub(runtime.database_url)
        hub.start()
        dashboard = await start_dashboard(runtime, hub, "127.0.0.1:0")
        try:
            assert dashboard.url.startswith("https://")
            trusting_the_ca = ssl.create_default_context(cadata=pki.ca.decode())
            async with httpx.AsyncClient(verify=trusting_the_ca, timeout=5) as http:
                page = await http.get(f"https://localhost:{dashboard.port}/login")
                assert page.status_code == 200
                with pytest.raises(httpx.TransportError):
                    await http.get(f"http://localhost:{dashboard.port}/login")
            async with httpx.AsyncClient(timeout=5) as untrusting:
                with pytest.raises(httpx.ConnectError):  # the system's CAs never signed it
                    await untrusting.get(f"https://localhost:{dashboard.port}/login")
        finally:
            await dashboard.stop()
            await hub.close()


async def test_the_conversions_api_endpoint_serves_https_with_the_grpc_pair(
    settings: Settings, pki: Pki
) -> None:
    secured = dataclasses.replace(settings, tls_cert=pki.server_cert, tls_key=pki.server_key)
    async with open_runtime(secured, secured.database_url) as runtime:
        ingest = await start_ingest(runtime, SubmissionLimiter(0, 1), "127.0.0.1:0")
        try:
            assert ingest.url.startswith("https://")
            trusting_the_ca = ssl.create_default_context(cadata=pki.ca.decode())
            url = f"https://localhost:{ingest.port}/v25.0/111/events"
            async with httpx.AsyncClient(verify=trusting_the_ca, timeout=5) as http:
                answer = await http.post(url, json={"data": []})
                assert answer.json()["error"]["code"] == 104  # no key: TLS itself worked
                with pytest.raises(httpx.TransportError):
                    await http.post(f"http://localhost:{ingest.port}/v25.0/111/events")
        finally:
            await ingest.stop()
