"""Encryption of provider credentials at rest (AES-256-GCM).

The key comes from ``FLOWKER_SECRET_KEY`` (32 bytes, URL-safe base64) or from the data directory's
``secret.key``, created on first start with mode 0600. Losing the key makes stored secrets unreadable,
which is the point: a copy of the database alone reveals no credential.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from flowker.errors import ConfigError

PREFIX = "enc:v1:"
KEY_FILE = "secret.key"
_NONCE = 12


class SecretBox:
    """Seals and opens short strings; a sealed value is ``enc:v1:<base64(nonce ‖ ciphertext)>``."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ConfigError("the secret key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_text(cls, text: str, source: str = "secret key") -> SecretBox:
        """A box for a key written as URL-safe base64 (how it is configured and stored)."""
        return cls(_decode(text, source))

    def seal(self, plaintext: str) -> str:
        """Encrypt ``plaintext``; each call uses a fresh random nonce."""
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), None)
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str) -> str:
        """Decrypt a value made by :meth:`seal`; raise :class:`ValueError` when it is not one of ours."""
        if not is_sealed(sealed):
            raise ValueError("value is not sealed")
        try:
            raw = base64.urlsafe_b64decode(sealed[len(PREFIX) :])
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], None).decode()
        except (binascii.Error, InvalidTag, ValueError):
            raise ValueError("sealed value is corrupt or was sealed with another key") from None


def is_sealed(value: object) -> bool:
    """Whether ``value`` is a sealed secret."""
    return isinstance(value, str) and value.startswith(PREFIX)


def load_secret_key(data_dir: Path, configured: str | None) -> str:
    """``FLOWKER_SECRET_KEY`` when set, else the data directory's key file, created on first use.

    Checked before it is returned, so a bad key stops the service at start, not at first use.
    """
    if configured:
        SecretBox.from_text(configured, "FLOWKER_SECRET_KEY")
        return configured
    path = data_dir / KEY_FILE
    if not path.exists():
        write_private(path, base64.urlsafe_b64encode(os.urandom(32)).decode() + "\n")
    text = path.read_text().strip()
    SecretBox.from_text(text, str(path))
    return text


def _decode(text: str, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.encode())
    except (binascii.Error, ValueError):
        raise ConfigError(f"{source}: not URL-safe base64") from None
    if len(key) != 32:
        raise ConfigError(f"{source}: must decode to 32 bytes, got {len(key)}")
    return key


def write_private(path: Path, text: str) -> None:
    """Create ``path`` with mode 0600 (never world-readable, not even for an instant)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
