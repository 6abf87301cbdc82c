"""TLS for the gRPC server, with optional client certificates; plaintext only on
loopback or when explicitly allowed."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from tenaz.client import TenazClient, TenazError

from jobs import keys
from jobs.runtime import open_runtime
from jobs.settings import Settings, SettingsError, is_loopback
from server.app import TenazServer, start_server
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
