"""How the audit actor gets the log's signing key: through Ray's internal key-value store, like the
secret key (:mod:`flowker.actors.secret_key`), never as an actor or task argument."""

from __future__ import annotations

from ray.experimental import internal_kv

from flowker.actors.config import RuntimeConfig
from flowker.actors.secret_key import NAMESPACE
from flowker.domain.signed_note import SignerKey


def _name(config: RuntimeConfig) -> bytes:
    return f"{config.prefix}audit-signing-key".encode()


def publish(config: RuntimeConfig, signer: SignerKey) -> None:
    """Make ``signer`` readable by this service's audit actor (``ray.init`` must have run)."""
    internal_kv._internal_kv_put(
        _name(config), signer.to_text().encode(), overwrite=True, namespace=NAMESPACE
    )


def fetch(config: RuntimeConfig) -> SignerKey:
    """The published key.

    Raises:
        RuntimeError: No front door of this service has published it.
    """
    value = internal_kv._internal_kv_get(_name(config), namespace=NAMESPACE)
    if value is None:
        raise RuntimeError(
            "the audit signing key is not published: no front door of this service has started"
        )
    return SignerKey.parse(value.decode())


def withdraw(config: RuntimeConfig) -> None:
    """Remove the key (a test service's actors are gone)."""
    internal_kv._internal_kv_del(_name(config), namespace=NAMESPACE)
