"""Where Ray actor options are applied, once: names, namespace, restarts, concurrency, ``num_cpus=0``.

It imports no actor that uses it (the supervisor is created by :mod:`flowker.actors.runtime`, which
hands it its peers), so the actor modules form no import cycle.

``num_cpus=0``: these actors wait on I/O, and on a 2-core machine actors that reserve a CPU each
would wait forever for one.
"""

from __future__ import annotations

from typing import Any

import ray
from ray.actor import ActorHandle

from flowker.actors.cluster import NAMESPACE
from flowker.actors.config import RuntimeConfig
from flowker.tunables import ACTOR_MAX_CONCURRENCY


def _options(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": NAMESPACE,
        "get_if_exists": True,
        "num_cpus": 0,
        "max_restarts": -1,
        # A call lost with a dead actor is submitted again to its restarted self. Every method is safe
        # to repeat: audit appends are idempotent, provider calls carry an Idempotency-Key, runs take
        # a lease.
        "max_task_retries": -1,
        "max_concurrency": ACTOR_MAX_CONCURRENCY,
    }


def audit(config: RuntimeConfig) -> ActorHandle:
    """The audit actor (created on first use)."""
    from flowker.actors.audit import AuditActor

    return create(AuditActor, config.name("audit"), config)


def create(actor_class: type, name: str, *args: Any) -> ActorHandle:
    """The named actor of ``actor_class``, created with ``args`` unless it exists already."""
    return ray.remote(actor_class).options(**_options(name)).remote(*args)


def executor_name(config: RuntimeConfig, executor_config_id: str) -> str:
    """The name of the executor actor of one executor configuration."""
    return config.name(f"executor:{executor_config_id}")


def executor(config: RuntimeConfig, executor_config_id: str) -> ActorHandle:
    """The executor actor of one executor configuration (created on first use).

    Detached: an actor that exited for good keeps its name reserved for as long as the process that
    created it holds a handle, so a supervisor could not recreate an actor that another process created
    and that exited when idle. A detached actor frees its name when it dies, and does not die with its
    creator either. Idle exit and :func:`~flowker.actors.runtime.RayRuntime.release_executor` end it.
    """
    from flowker.actors.executor import ExecutorActor

    options = {**_options(executor_name(config, executor_config_id)), "lifetime": "detached"}
    return ray.remote(ExecutorActor).options(**options).remote(config, executor_config_id)
