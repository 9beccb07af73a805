"""How the executor actors get the secret key that opens provider credentials: through Ray's internal
key-value store, not as an actor or task argument.

Arguments are kept by Ray with the actor's or the task's specification, where its state API, its
dashboard and its logs can show them; the internal store is read by name only. The front door
publishes the key when it starts (every front door of a service publishes the same key), and an
executor actor reads it when it opens a configuration's secrets.
"""

from __future__ import annotations

from ray.experimental import internal_kv

from flowker.actors.config import RuntimeConfig

NAMESPACE = "flowker"


def _name(config: RuntimeConfig) -> bytes:
    return f"{config.prefix}secret-key".encode()


def publish(config: RuntimeConfig, secret_key: str) -> None:
    """Make ``secret_key`` readable by this service's actors (``ray.init`` must have run)."""
    internal_kv._internal_kv_put(_name(config), secret_key.encode(), overwrite=True, namespace=NAMESPACE)


def fetch(config: RuntimeConfig) -> str:
    """The published key.

    Raises:
        RuntimeError: No front door of this service has published it.
    """
    value = internal_kv._internal_kv_get(_name(config), namespace=NAMESPACE)
    if value is None:
        raise RuntimeError("the secret key is not published: no front door of this service has started")
    return value.decode()


def withdraw(config: RuntimeConfig) -> None:
    """Remove the key (a test service's actors are gone)."""
    internal_kv._internal_kv_del(_name(config), namespace=NAMESPACE)
