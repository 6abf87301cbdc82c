"""The gRPC client a command talks through: one server (--server / TENAZ_SERVER), one
workspace (--api-key / TENAZ_API_KEY), in plaintext (loopback) or over TLS.

TLS is on when any TLS option is given: --tls alone trusts the system's
certificate authorities; --tls-ca names the one that signed the server's
certificate; --tls-cert and --tls-key present a client certificate to a
server that asks for one (mutual TLS).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import grpc
from tenaz.client import TenazClient

from server.cli.errors import CliError, UsageError


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read the {what} {path}: {exc.strerror}") from None


def credentials(args: argparse.Namespace) -> grpc.ChannelCredentials | None:
    """TLS credentials from the options; None for plaintext."""
    ca, cert, key = args.tls_ca, args.tls_cert, args.tls_key
    if not (args.tls or ca or cert or key):
        return None
    if bool(cert) != bool(key):
        raise UsageError("--tls-cert and --tls-key go together")
    return grpc.ssl_channel_credentials(
        root_certificates=_read(ca, "CA certificate") if ca else None,
        private_key=_read(key, "client key") if key else None,
        certificate_chain=_read(cert, "client certificate") if cert else None,
    )


def connect(args: argparse.Namespace) -> TenazClient:
    if not args.api_key:
        raise CliError("set --api-key or TENAZ_API_KEY (make a key: tenaz keys create)")
    return TenazClient(args.server, args.api_key, credentials=credentials(args))
