"""Destination secrets (access tokens) encrypted at rest with AES-256-GCM.

The keys come from `TENAZ_SECRET_KEY`: one or more base64url-encoded 32-byte
keys separated by commas. The first encrypts; all of them decrypt, which is
how keys rotate:

    1. put a new key first:      TENAZ_SECRET_KEY=<new>,<old>   (restart)
    2. re-encrypt every secret:  tenaz secrets rotate
    3. drop the old key:         TENAZ_SECRET_KEY=<new>          (restart)

A stored secret reads `v1.<key id>.<nonce + ciphertext>`; the key id (a hash
of the key, not the key) says which key opens it. A database dump without the
key reveals no token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "v1"
_NONCE_BYTES = 12


class SecretKeyError(ValueError):
    """The configured keys are malformed, or none of them opens a stored secret."""


def generate_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def _decode_key(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise SecretKeyError(
            "TENAZ_SECRET_KEY: each key must be 32 bytes in base64url (make one with"
            " `tenaz secrets generate-key`)"
        )
    return raw


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"tenaz-secret-key:" + key).hexdigest()[:8]


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        decoded = [_decode_key(k.strip()) for k in keys if k.strip()]
        if not decoded:
            raise SecretKeyError("TENAZ_SECRET_KEY: at least one key is needed")
        self._current = decoded[0]
        self._current_id = _key_id(decoded[0])
        self._keys = {_key_id(k): AESGCM(k) for k in decoded}

    @classmethod
    def from_setting(cls, value: str) -> SecretBox:
        return cls(value.split(","))

    def encrypt(self, plaintext: str) -> str:
        if not plaintext:
            return ""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[self._current_id].encrypt(
            nonce, plaintext.encode(), self._current_id.encode()
        )
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{_PREFIX}.{self._current_id}.{body}"

    def decrypt(self, stored: str) -> str:
        if not stored:
            return ""
        prefix, key_id, body = [*stored.split(".", 2), "", ""][:3]
        cipher = self._keys.get(key_id)
        if prefix != _PREFIX or cipher is None:
            raise SecretKeyError(
                f"a stored secret was sealed with key {key_id!r}, which TENAZ_SECRET_KEY lacks"
            )
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            return cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], key_id.encode()).decode()
        except InvalidTag:
            raise SecretKeyError("a stored secret does not match its key (corrupted?)") from None

    def seal(self, secrets: Mapping[str, str]) -> str:
        """A destination's secrets (setting name -> value), sealed together; "" for none."""
        present = {name: value for name, value in secrets.items() if value}
        return self.encrypt(json.dumps(present, sort_keys=True)) if present else ""

    def open(self, stored: str, *, legacy_name: str) -> dict[str, str]:
        """The secrets `seal` sealed. A destination stored before secrets were sealed together
        holds its one secret as it is: it comes back under `legacy_name`."""
        plaintext = self.decrypt(stored)
        if not plaintext:
            return {}
        try:
            secrets = json.loads(plaintext)
        except ValueError:
            secrets = None
        if not isinstance(secrets, dict):
            return {legacy_name: plaintext}
        return {str(name): str(value) for name, value in secrets.items()}

    def is_current(self, stored: str) -> bool:
        return not stored or stored.split(".", 2)[1:2] == [self._current_id]


def key_from_file(path: Path) -> str:
    """The embedded mode's key: made once, kept beside the embedded database."""
    try:
        if path.exists():
            key = path.read_text().strip()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            key = generate_key()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(key + "\n")
    except OSError as exc:
        raise SecretKeyError(
            f"TENAZ_DATA_DIR: cannot use the key file {path} ({exc.strerror}); make it readable"
            " and writable by Tenaz, or set TENAZ_SECRET_KEY"
        ) from None
    try:
        _decode_key(key)
    except SecretKeyError:
        raise SecretKeyError(
            f"TENAZ_DATA_DIR: {path} does not hold a key (32 bytes in base64url); restore it"
            " from a backup, or set TENAZ_SECRET_KEY"
        ) from None
    return key
