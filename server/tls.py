"""TLS for Tenaz's listeners, the gRPC server, the dashboard and the Conversions API endpoint,
from PEM files.

Every file is read and checked (a certificate, an unencrypted private key that
belongs to it, a CA certificate) before a port is bound: a wrong file is one
line naming its variable, where gRPC would only report that the port could not
be bound.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from jobs.settings import Settings, SettingsError, TlsPair


@dataclass(frozen=True)
class Certificate:
    """A checked certificate chain and its private key, as PEM."""

    chain: bytes
    key: bytes


def _read(path: Path, variable: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SettingsError(
            f"{variable} {path}: cannot read it ({exc.strerror}); point it at a readable PEM file"
        ) from None


def _certificates(path: Path, variable: str) -> tuple[bytes, list[x509.Certificate]]:
    pem = _read(path, variable)
    try:
        return pem, x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise SettingsError(
            f"{variable} {path}: not a PEM certificate (-----BEGIN CERTIFICATE-----)"
        ) from None


def _belongs(key: PrivateKeyTypes, certificate: x509.Certificate) -> bool:
    der = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key.public_key().public_bytes(*der) == certificate.public_key().public_bytes(*der)


def read_certificate(pair: TlsPair) -> Certificate:
    """The pair's files, checked: a certificate chain, and the unencrypted key of its first."""
    chain, certificates = _certificates(pair.cert, pair.cert_variable)
    key_pem = _read(pair.key, pair.key_variable)
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise SettingsError(
            f"{pair.key_variable} {pair.key}: not an unencrypted PEM private key"
        ) from None
    if not _belongs(key, certificates[0]):
        raise SettingsError(
            f"{pair.key_variable} {pair.key} is not the key of the certificate in"
            f" {pair.cert_variable} {pair.cert}"
        )
    return Certificate(chain, key_pem)


def grpc_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """The gRPC server's TLS credentials; None serves plaintext (loopback or allowed)."""
    pair = settings.grpc_tls
    if pair is None:
        return None
    certificate = read_certificate(pair)
    client_ca = None
    if settings.tls_client_ca is not None:
        client_ca, _ = _certificates(settings.tls_client_ca, "TENAZ_TLS_CLIENT_CA")
    return grpc.ssl_server_credentials(
        [(certificate.key, certificate.chain)],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def _ssl_context(pair: TlsPair | None) -> ssl.SSLContext | None:
    if pair is None:
        return None
    read_certificate(pair)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pair.cert, pair.key)
    return context


def dashboard_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The dashboard's TLS context; None serves plain HTTP (loopback or allowed)."""
    return _ssl_context(settings.dashboard_tls)


def ingest_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The Conversions API endpoint's TLS context: the gRPC server's pair, as the same
    services call both; None serves plain HTTP (loopback or allowed)."""
    return _ssl_context(settings.grpc_tls)


def check_files(settings: Settings) -> None:
    """Read and check the TLS files of what `tenaz serve` listens on, before anything starts."""
    grpc_credentials(settings)
    if settings.dashboard_address:
        dashboard_ssl_context(settings)
    if settings.ingest_address:
        ingest_ssl_context(settings)
