"""``flowker serve`` checks the cluster it joined against the store before it opens its port: several
hosts on the embedded store stop it with exit code 2 and a message naming FLOWKER_MONGO_URI."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from flowker import cli
from flowker.actors import cluster
from flowker.actors.cluster_hosts import NodeHost
from flowker.errors import ConfigError
from flowker.settings import Settings

API_KEY = "cli-cluster-test-key-0123456789"


def _joined(*hosts: tuple[str, str]) -> cluster.ClusterInfo:
    nodes = tuple(NodeHost(f"n{i}", address, name) for i, (address, name) in enumerate(hosts))
    return cluster.ClusterInfo(dashboard_url=None, started_here=False, nodes=nodes)


@pytest.fixture
def joins(monkeypatch: pytest.MonkeyPatch) -> list[cluster.ClusterInfo]:
    """What the next ``cluster.connect`` answers (no Ray is started)."""
    answers: list[cluster.ClusterInfo] = []
    monkeypatch.setattr(cluster, "connect", lambda address: answers.pop(0))
    monkeypatch.setattr(cluster, "disconnect", lambda: None)
    return answers


def test_a_cluster_spanning_hosts_stops_serve_on_the_embedded_store(
    tmp_path: Path, joins: list[cluster.ClusterInfo]
) -> None:
    joins.append(_joined(("10.0.0.5", "box"), ("10.0.0.5", "box"), ("10.0.0.6", "box-2")))
    settings = Settings(data_dir=tmp_path / "data", port=0, api_keys=(API_KEY,), ray_address="10.0.0.5:6379")
    with pytest.raises(ConfigError, match=r"spans 2 hosts.*set FLOWKER_MONGO_URI"):
        asyncio.run(cli.serve_forever(settings))


def test_serve_exits_with_2_and_the_reason(
    tmp_path: Path,
    joins: list[cluster.ClusterInfo],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    joins.append(_joined(("10.0.0.5", "box"), ("10.0.0.6", "box-2")))
    monkeypatch.setenv("FLOWKER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FLOWKER_API_KEYS", API_KEY)
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6379")
    monkeypatch.delenv("FLOWKER_MONGO_URI", raising=False)
    assert cli.main(["serve", "--port", "0"]) == 2
    assert "FLOWKER_MONGO_URI" in capsys.readouterr().err
