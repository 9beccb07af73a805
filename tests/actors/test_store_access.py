"""Actors open the store their config names; the MongoDB URI reaches them by name through Ray's internal
store (published by the front door, withdrawn with a test service), never as an argument."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from flowker.actors.config import RuntimeConfig
from flowker.actors.runtime import RayRuntime
from flowker.actors.store_access import open_actor_store, store_location
from flowker.settings import Settings
from flowker.store.opening import EMBEDDED, MONGODB

URI = "mongodb://flowker:pw-7f3a@db.example/?tls=true"


def _config(tmp_path: Path, **settings: str) -> RuntimeConfig:
    return RuntimeConfig.from_settings(
        Settings(data_dir=tmp_path, **settings),  # type: ignore[arg-type]
        prefix=f"t{uuid.uuid4().hex[:8]}-",
    )


async def test_an_actor_finds_the_published_uri_and_loses_it_when_withdrawn(
    ray_cluster: str, tmp_path: Path, secret_key: str
) -> None:
    config = _config(tmp_path, mongo_uri=URI, mongo_db="ledger")
    runtime = RayRuntime(config, secret_key, store_uri=URI)  # publishes as it is made (Ray is up)
    location = store_location(config)
    assert (location.kind, location.uri, location.database) == (MONGODB, URI, "ledger")
    await runtime.close()
    with pytest.raises(RuntimeError, match="store-uri is not published"):
        store_location(config)


async def test_an_actor_opens_the_embedded_store_without_any_uri(ray_cluster: str, tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert store_location(config).kind == EMBEDDED and store_location(config).uri is None
    store = await open_actor_store(config)
    try:
        await store.ping()
        assert (tmp_path / "flowker.db").exists()
    finally:
        await store.close()
