"""TLS for the gRPC server, with optional client certificates; plaintext only on
loopback or when explicitly allowed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tenaz.client import TenazClient, TenazError

from jobs import keys
from jobs.runtime import open_runtime
from jobs.settings import Settings, SettingsError, is_loopback
from server.app import TenazServer, start_server


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclasses.dataclass
class Pki:
    ca: bytes
    server_cert: Path
    server_key: Path
    client_cert: bytes
    client_key: bytes


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("Tenaz test CA", ca_key, None, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    client_key = ec.generate_private_key(ec.SECP256R1())
    server = _issue("localhost", server_key, (ca.subject, ca_key))
    client = _issue("a client", client_key, (ca.subject, ca_key))
    (tmp_path / "server.pem").write_bytes(_pem(server))
    (tmp_path / "server.key").write_bytes(_key_pem(server_key))
    (tmp_path / "ca.pem").write_bytes(_pem(ca))
    return Pki(
        ca=_pem(ca),
        server_cert=tmp_path / "server.pem",
        server_key=tmp_path / "server.key",
        client_cert=_pem(client),
        client_key=_key_pem(client_key),
    )


@pytest.fixture(params=[False, True], ids=["tls", "mutual-tls"])
async def tls_server(
    request: pytest.FixtureRequest, settings: Settings, pki: Pki
) -> AsyncIterator[tuple[TenazServer, str, bool]]:
    mutual: bool = request.param
    secured = dataclasses.replace(
        settings,
        tls_cert=pki.server_cert,
        tls_key=pki.server_key,
        tls_client_ca=pki.server_cert.parent / "ca.pem" if mutual else None,
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
