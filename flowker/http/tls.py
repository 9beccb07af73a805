"""The TLS context of the front door when it serves HTTPS itself (``--tls-cert`` / ``--tls-key``)."""

from __future__ import annotations

import ssl
from pathlib import Path

from flowker.errors import ConfigError

#: TLS 1.2 suites: forward secrecy and AEAD only. TLS 1.3 suites are all modern: Python sets those.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context for TLS 1.2 and later with ``cert`` (PEM chain) and ``key`` (PEM).

    Raises:
        ConfigError: A file is missing or unreadable, or the key does not match the certificate.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        # The reason ("KEY_VALUES_MISMATCH", "PEM lib") is enough; the key's bytes are never in it.
        raise ConfigError(f"cannot load the TLS certificate {cert} with key {key}: {exc.reason}") from None
    except OSError as exc:  # after SSLError, which is an OSError too
        raise ConfigError(
            f"cannot read the TLS certificate or key: {exc.strerror} ({exc.filename})"
        ) from None
    return context
