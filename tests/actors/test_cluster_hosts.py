"""Which clusters the embedded store allows: several nodes of one host yes, several hosts no (the message
says to set FLOWKER_MONGO_URI); with MongoDB, any cluster. Fed the shape ``ray.nodes()`` answers in."""

from __future__ import annotations

from typing import Any

import pytest

from flowker.actors.cluster_hosts import hosts, live_nodes, refusal


def _node(node_id: str, address: str, hostname: str, alive: bool = True) -> dict[str, Any]:
    return {
        "NodeID": node_id,
        "Alive": alive,
        "NodeManagerAddress": address,
        "NodeManagerHostname": hostname,
        "Resources": {"CPU": 1.0},
    }


ONE_HOST = [_node("a", "10.0.0.5", "box"), _node("b", "10.0.0.5", "box"), _node("c", "10.0.0.5", "box")]
TWO_HOSTS = [_node("a", "10.0.0.5", "box"), _node("b", "10.0.0.6", "box-2")]


@pytest.mark.parametrize("shared", [False, True])
def test_nodes_of_one_host_fit_either_store(shared: bool) -> None:
    assert refusal(live_nodes(ONE_HOST), shared) is None
    assert refusal(live_nodes(ONE_HOST[:1]), shared) is None
    assert refusal((), shared) is None


def test_nodes_of_several_hosts_are_refused_on_the_embedded_store() -> None:
    reason = refusal(live_nodes(TWO_HOSTS), store_shared_across_hosts=False)
    assert reason is not None
    assert "FLOWKER_MONGO_URI" in reason and "spans 2 hosts" in reason
    assert "box (10.0.0.5)" in reason and "box-2 (10.0.0.6)" in reason


def test_nodes_of_several_hosts_fit_mongodb() -> None:
    assert refusal(live_nodes(TWO_HOSTS), store_shared_across_hosts=True) is None


@pytest.mark.parametrize(
    "other",
    [
        _node("b", "10.0.0.6", "box"),  # same name, another address: two machines both called box
        _node("b", "10.0.0.5", "box-2"),  # same address, another name: not trusted to be one machine
    ],
)
def test_a_host_is_its_address_and_its_name_together(other: dict[str, Any]) -> None:
    nodes = live_nodes([_node("a", "10.0.0.5", "box"), other])
    assert len(hosts(nodes)) == 2
    assert refusal(nodes, store_shared_across_hosts=False) is not None


def test_dead_nodes_do_not_count() -> None:
    nodes = live_nodes([*ONE_HOST, _node("gone", "10.0.0.9", "old-box", alive=False)])
    assert [n.node_id for n in nodes] == ["a", "b", "c"]
    assert refusal(nodes, store_shared_across_hosts=False) is None


async def test_readiness_goes_down_when_a_node_of_another_host_joins_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ray

    from flowker.actors import cluster

    answer = ONE_HOST
    monkeypatch.setattr(ray, "nodes", lambda: answer)
    check = cluster.fits(store_shared_across_hosts=False)
    await check()
    answer = [*ONE_HOST, _node("d", "10.0.0.7", "box-3")]
    with pytest.raises(RuntimeError, match="FLOWKER_MONGO_URI"):
        await check()
    await cluster.fits(store_shared_across_hosts=True)()
