"""A Ray cluster of several nodes on this machine, in a child process of its own, driven over its stdin.

The test process keeps its own session cluster (``tests/conftest.py``); a second cluster's head started in
the same process would clash with it, so this one lives in a child::

    python -m tests.helpers.ray_nodes TMPDIR WORKERS

prints one JSON line, ``{"address", "dashboard", "nodes": {"head": id, "worker-1": id, ...}}``, once every
node is up, then reads commands, one a line: ``remove <worker-n>`` kills that node's processes at once
(no graceful stop: as a machine that dies) and answers ``{"removed": name}``; ``stop`` (or the end of its
stdin: the test died) shuts the cluster down. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import Any

#: Node deaths are noticed in about a second, not Ray's default of about half a minute.
SYSTEM_CONFIG = {
    "health_check_initial_delay_ms": 1000,
    "health_check_period_ms": 300,
    "health_check_timeout_ms": 300,
    "health_check_failure_threshold": 3,
}


def node_args(name: str) -> dict[str, Any]:
    """Small nodes on the loopback address; a custom resource of their own name says which is which."""
    return {
        "num_cpus": 1,
        "node_ip_address": "127.0.0.1",
        "resources": {name: 1},
        "object_store_memory": 80 * 1024 * 1024,
    }


def free_port() -> int:
    """A port of 127.0.0.1 free now (Ray's fixed defaults may be taken by another cluster here)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def main(temp_dir: str, workers: int) -> None:
    os.environ["RAY_TMPDIR"] = temp_dir
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False
    from ray.cluster_utils import Cluster

    head_args = {
        **node_args("head"),
        "include_dashboard": True,
        "dashboard_host": "127.0.0.1",
        "dashboard_port": free_port(),
        "dashboard_agent_listen_port": free_port(),
        "_system_config": SYSTEM_CONFIG,
    }
    cluster = Cluster(initialize_head=True, head_node_args=head_args)
    nodes = {f"worker-{i}": cluster.add_node(**node_args(f"worker-{i}")) for i in range(1, workers + 1)}
    assert cluster.head_node is not None
    report = {
        "address": cluster.address,
        "dashboard": f"http://{cluster.webui_url}",
        "nodes": {"head": cluster.head_node.node_id, **{n: node.node_id for n, node in nodes.items()}},
    }
    print(json.dumps(report), flush=True)
    try:
        for line in sys.stdin:
            command, _, name = line.strip().partition(" ")
            if command == "remove":
                cluster.remove_node(nodes.pop(name), allow_graceful=False)
                print(json.dumps({"removed": name}), flush=True)
            elif command == "stop":
                break
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
