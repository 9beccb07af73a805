"""The audit log's signing key: ``FLOWKER_AUDIT_SIGNING_KEY``, else the data directory's
``audit-signing.key``, generated on first start with mode 0600 (like ``secret.key``).

The key is a C2SP signer key string (``PRIVATE+KEY+<name>+<hex id>+<base64>``); its name is the log's
origin (``FLOWKER_AUDIT_LOG_ORIGIN``), so a key of another name is refused at start. Losing the key
does not lose the log: checkpoints signed before stay verifiable with the old verifier key, and new
ones are signed with the new key.
"""

from __future__ import annotations

from pathlib import Path

from flowker.domain.signed_note import KeyFormatError, SignerKey, generate_key
from flowker.errors import ConfigError
from flowker.secretbox import write_private

SIGNING_KEY_FILE = "audit-signing.key"


def load_signing_key(data_dir: Path, configured: str | None, origin: str) -> SignerKey:
    """The configured key, else the data directory's (created on first use); its name must be ``origin``.

    Raises ConfigError naming the source, never the key.
    """
    source = "FLOWKER_AUDIT_SIGNING_KEY"
    text = configured
    if not text:
        path = data_dir / SIGNING_KEY_FILE
        source = str(path)
        if not path.exists():
            try:
                key = generate_key(origin)
            except (KeyFormatError, ValueError):
                raise ConfigError(f"FLOWKER_AUDIT_LOG_ORIGIN={origin!r} is not a valid key name") from None
            write_private(path, key.to_text() + "\n")
        text = path.read_text().strip()
    try:
        signer = SignerKey.parse(text)
    except KeyFormatError:
        raise ConfigError(f"{source}: not a signer key (PRIVATE+KEY+<name>+<id>+<key>)") from None
    if signer.name != origin:
        raise ConfigError(
            f"{source}: the key is named {signer.name!r}, but the log's origin is {origin!r}"
            " (FLOWKER_AUDIT_LOG_ORIGIN)"
        )
    return signer
