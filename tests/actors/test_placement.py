"""Where actors are asked to run: a pool goes round the nodes, a keyed actor goes where its key hashes,
the same answer in every process (node order does not matter)."""

from __future__ import annotations

from collections import Counter

from flowker.actors.placement import node_for_index, node_for_key

NODES = ["c" * 8, "a" * 8, "b" * 8]


def test_a_pool_goes_round_the_nodes_in_id_order() -> None:
    assert [node_for_index(i, NODES) for i in range(4)] == ["a" * 8, "b" * 8, "c" * 8, "a" * 8]


def test_no_node_no_preference() -> None:
    assert node_for_index(0, []) is None and node_for_key("x", []) is None


def test_a_key_always_names_the_same_node_whatever_the_order_of_the_list() -> None:
    for key in ("exec-1", "exec-2", "exec-3"):
        assert node_for_key(key, NODES) == node_for_key(key, list(reversed(NODES)))


def test_keys_spread_over_every_node() -> None:
    spread = Counter(node_for_key(f"config-{i}", NODES) for i in range(300))
    assert set(spread) == set(NODES)
    assert min(spread.values()) > 60
