"""Where Ray actor options are applied, once: names, namespace, restarts, concurrency, ``num_cpus=0``.

It imports no actor that uses it (the supervisor is created by :mod:`flowker.actors.runtime`, which
hands it its peers), so the actor modules form no import cycle.

``num_cpus=0``: these actors wait on I/O, and on a 2-core machine actors that reserve a CPU each
would wait forever for one.

Placement on a cluster of several nodes: supervisors and executor actors are spread over the live
nodes (:mod:`flowker.actors.placement`: supervisor ``i`` on node ``i`` modulo the nodes, an executor
actor on the node its configuration's id hashes to; preferred, so that a node that is gone is passed
over: see :func:`_on`), so losing a node loses only a share of them. The audit actor is one per cluster,
wherever Ray puts it.

Every actor is detached: it belongs to the cluster, not to the front door that happened to make it
first, so the other front doors keep their handles when that one stops, and Ray recreates an actor
whose node died on a live node (``max_restarts=-1``) whether or not its maker still runs. A cluster that
``flowker serve`` started itself ends with it all the same.
"""

from __future__ import annotations

from typing import Any

import ray
from ray.actor import ActorHandle

from flowker.actors import placement
from flowker.actors.cluster import NAMESPACE
from flowker.actors.config import RuntimeConfig
from flowker.tunables import ACTOR_MAX_CONCURRENCY

#: The label Ray gives every node: its id.
NODE_ID_LABEL = "ray.io/node-id"


def _options(name: str, node_id: str | None = None) -> dict[str, Any]:
    return {
        **_on(node_id),
        "name": name,
        "namespace": NAMESPACE,
        "get_if_exists": True,
        "lifetime": "detached",
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


def supervisor(actor_class: type, config: RuntimeConfig, index: int, audit: ActorHandle) -> ActorHandle:
    """Supervisor ``index`` (created unless it exists), spread over the nodes with its peers.

    ``actor_class`` is handed in: this module imports no actor that uses it.
    """
    name = config.name(f"supervisor-{index}")
    where = placement.node_for_index(index, _live_node_ids())
    return ray.remote(actor_class).options(**_options(name, where)).remote(config, index, audit)


def executor_name(config: RuntimeConfig, executor_config_id: str) -> str:
    """The name of the executor actor of one executor configuration."""
    return config.name(f"executor:{executor_config_id}")


def executor(config: RuntimeConfig, executor_config_id: str) -> ActorHandle:
    """The executor actor of one executor configuration (created on first use).

    Detached (as every actor here) for one more reason: an actor that exited for good keeps its name
    reserved for as long as the process that created it holds a handle, so a supervisor could not
    recreate an actor that another process created and that exited when idle. A detached actor frees
    its name when it dies. Idle exit and :func:`~flowker.actors.runtime.RayRuntime.release_executor`
    end it.
    """
    from flowker.actors.executor import ExecutorActor

    where = placement.node_for_key(executor_config_id, _live_node_ids())
    options = _options(executor_name(config, executor_config_id), where)
    return ray.remote(ExecutorActor).options(**options).remote(config, executor_config_id)


def _live_node_ids() -> list[str]:
    return [node["NodeID"] for node in ray.nodes() if node.get("Alive")]


def _on(node_id: str | None) -> dict[str, Any]:
    """Prefer the node ``node_id``; any other when it is gone (a restart after it died)."""
    if node_id is None:
        return {}
    # A node label, not NodeAffinitySchedulingStrategy(soft=True): on a three-node cluster of one
    # machine, Ray placed soft-affine actors elsewhere more often than not, although the node was alive.
    return {
        "label_selector": {NODE_ID_LABEL: node_id},
        "fallback_strategy": [{"label_selector": {NODE_ID_LABEL: f"!{node_id}"}}],
    }
