"""Signing as the Standard Webhooks specification says (spec/standard-webhooks.md of
github.com/standard-webhooks/standard-webhooks), for the webhook destination and its fake.

- The secret is shown as "whsec_" and the base64 of 24 to 64 random bytes; the bytes are the
  HMAC key. Padding may be left off, as the reference libraries accept.
- The signed content is `{webhook-id}.{webhook-timestamp}.{body}`, the body byte for byte as
  sent; the signature is HMAC-SHA256, in base64, tagged with its scheme: "v1,<base64>".
- `webhook-signature` is a space-separated list of such signatures (several during a secret
  rotation); a receiver accepts the request when any v1 one matches, compared in constant time,
  and when `webhook-timestamp` is within its tolerance of its own clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Final

from jobs.digits import is_ascii_digits

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the format's prefix, not a secret
MIN_SECRET_BYTES: Final = 24
MAX_SECRET_BYTES: Final = 64
SCHEME: Final = "v1"
# The reference libraries' tolerance for a timestamp away from the receiver's clock.
TOLERANCE_SECONDS: Final = 5 * 60

SECRET_HELP: Final = (
    f'"{SECRET_PREFIX}" and the base64 of {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} random bytes'
)


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a "whsec_..." secret; ValueError (without the secret) if it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"must be {SECRET_HELP}")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"must be {SECRET_HELP}: the rest is not base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(f"must be {SECRET_HELP}; it holds {len(key)} bytes")
    return key


def secret_problem(secret: str) -> str | None:
    """What is wrong with a signing secret, or None (for settings validation)."""
    try:
        decode_secret(secret)
    except ValueError as exc:
        return str(exc)
    return None


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value of one request: "v1," and the base64 HMAC-SHA256."""
    signed = b".".join((message_id.encode(), str(timestamp).encode(), body))
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return f"{SCHEME},{base64.b64encode(digest).decode('ascii')}"


def verify(key: bytes, message_id: str, timestamp: str, body: bytes, header: str) -> bool:
    """Whether any v1 signature in `header` signs this request with `key`."""
    if not is_ascii_digits(timestamp):
        return False
    expected = sign(key, message_id, int(timestamp), body).encode()
    return any(
        hmac.compare_digest(expected, candidate.encode())
        for candidate in header.split(" ")
        if candidate.startswith(f"{SCHEME},")
    )
