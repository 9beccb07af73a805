"""How actors get the keys they need without their being actor or task arguments: Flowker's secret key
(executor actors open provider credentials with it), the audit log's signing key (the audit actor signs
checkpoints with it) and the MongoDB URI (every actor opens the store with it), through Ray's internal
key-value store.

Arguments are kept by Ray with the actor's or the task's specification, where its state API, its
dashboard and its logs can show them; the internal store is read by name only. The front door
publishes each key before the first actor that needs it is made (every front door of a service
publishes the same keys), and the actor reads it by name.
"""

from __future__ import annotations

from ray.experimental import internal_kv

from flowker.actors.config import RuntimeConfig

NAMESPACE = "flowker"
#: The names keys are published under (each prefixed with the service's actor prefix).
SECRET_KEY = "secret-key"
SIGNING_KEY = "audit-signing-key"
#: The MongoDB URI (it may hold a password), published when the service runs on MongoDB.
STORE_URI = "store-uri"


def _name(config: RuntimeConfig, key: str) -> bytes:
    return f"{config.prefix}{key}".encode()


def publish(config: RuntimeConfig, key: str, value: str) -> None:
    """Make ``value`` readable by this service's actors as ``key`` (``ray.init`` must have run)."""
    internal_kv._internal_kv_put(_name(config, key), value.encode(), overwrite=True, namespace=NAMESPACE)


def fetch(config: RuntimeConfig, key: str) -> str:
    """The value published as ``key``.

    Raises:
        RuntimeError: No front door of this service has published it.
    """
    value = internal_kv._internal_kv_get(_name(config, key), namespace=NAMESPACE)
    if value is None:
        raise RuntimeError(f"the {key} is not published: no front door of this service has started")
    return value.decode()


def withdraw(config: RuntimeConfig, key: str) -> None:
    """Remove ``key`` (a test service's actors are gone)."""
    internal_kv._internal_kv_del(_name(config, key), namespace=NAMESPACE)
