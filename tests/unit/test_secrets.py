"""Destination secrets at rest: AES-GCM, key ids, rotation, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.secrets import SecretBox, SecretKeyError, generate_key, key_from_file


def test_a_secret_round_trips_and_is_not_readable_stored() -> None:
    box = SecretBox([generate_key()])
    stored = box.encrypt("EAAB-token-value")
    assert "token" not in stored
    assert stored.startswith("v1.")
    assert box.decrypt(stored) == "EAAB-token-value"
    assert box.encrypt("EAAB-token-value") != stored  # a fresh nonce every time
    assert box.encrypt("") == "" and box.decrypt("") == ""


def test_rotation_old_key_still_opens_new_key_seals() -> None:
    old, new = generate_key(), generate_key()
    sealed_old = SecretBox([old]).encrypt("t")
    both = SecretBox([new, old])
    assert both.decrypt(sealed_old) == "t"
    assert not both.is_current(sealed_old)
    resealed = both.encrypt(both.decrypt(sealed_old))
    assert both.is_current(resealed)
    assert SecretBox([new]).decrypt(resealed) == "t"
    with pytest.raises(SecretKeyError, match="lacks"):
        SecretBox([new]).decrypt(sealed_old)


def test_tampering_and_bad_keys_are_clear_errors() -> None:
    box = SecretBox([generate_key()])
    stored = box.encrypt("t")
    with pytest.raises(SecretKeyError):
        box.decrypt(stored[:-2] + ("A" if stored[-2] != "A" else "B") + stored[-1])
    for bad in ([], ["short"], ["!!!"]):
        with pytest.raises(SecretKeyError):
            SecretBox(bad)


def test_the_embedded_key_file_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret-key"
    key = key_from_file(path)
    assert key_from_file(path) == key
    assert path.stat().st_mode & 0o777 == 0o600
    SecretBox([key])
