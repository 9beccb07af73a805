"""Shared fixtures: one real local Ray cluster per test session; per test, a real front door on
127.0.0.1 over the real embedded store in a temporary folder, with actors of its own."""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import ray
from aiohttp import web

from flowker.actors import cluster
from flowker.actors.runtime import RayRuntime
from flowker.bootstrap import build_services
from flowker.cli import runtime_config
from flowker.domain.outbound import OutboundPolicy
from flowker.http.app import create_app
from flowker.http.keys import Services
from flowker.secretbox import SecretBox
from flowker.settings import Settings
from flowker.store.embedded import EmbeddedStore
from flowker.store.mongo import MongoStore
from flowker.store.ports import Store
from tests.fakes.memory_store import MemoryStore
from tests.fakes.mongo import FakeMongoClient
from tests.helpers.client import ApiClient

API_KEY = "test-key-" + base64.urlsafe_b64encode(os.urandom(12)).decode()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs the Ray cluster, through any of its fixtures, is marked ``ray``:
    ``pytest -m "not ray"`` runs the fast tier alone."""
    for item in items:
        if "ray_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.ray)


@pytest.fixture(autouse=True)
def _no_ray_in_the_fast_tier(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test of the fast tier that would start Ray fails instead (it belongs to the ``ray`` tier)."""
    if request.node.get_closest_marker("ray") is None:

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("this test starts Ray: use the ray_cluster fixture or mark it ray")

        monkeypatch.setattr(ray, "init", refuse)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """One local cluster for the whole session (starting one per test would cost seconds each).

    Yields the dashboard's address, which the state API (``ray.util.state``) is asked at.
    """
    # Ray's socket paths must stay under 107 bytes: pytest's tmp_path is too deep for them.
    temp = tempfile.mkdtemp(prefix="fk-ray-", dir="/tmp")
    os.environ["RAY_TMPDIR"] = temp
    cluster.loopback_only()  # as flowker serve does: nothing of the test cluster listens beyond loopback
    context = ray.init(
        address="local", num_cpus=2, include_dashboard=True, namespace="flowker", logging_level="ERROR"
    )
    yield f"http://{context.dashboard_url}"
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Fast retries so that failure tests do not wait seconds; everything else as in production."""
    return Settings(
        data_dir=tmp_path / "data",
        port=0,
        api_keys=(API_KEY,),
        retry_backoff_seconds=0.01,
        breaker_open_seconds=1.0,
    )


@pytest.fixture
def secret_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[EmbeddedStore]:
    opened = await EmbeddedStore(settings.data_dir).open()
    yield opened
    await opened.close()


@pytest.fixture(params=["embedded", "memory", "mongo", "mongo-real"])
async def any_store(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Store]:
    """Each adapter of the store ports in turn: the embedded SQLite store, the in-memory fake that the
    fast tier may use instead, the MongoDB store over a fake of PyMongo's async client, and over a real
    server when FLOWKER_TEST_MONGO_URI names one; a test of the ports' contract takes this one."""
    if request.param.startswith("mongo"):
        async for opened_mongo in mongo_store(request.param == "mongo-real"):
            yield opened_mongo
        return
    opened: Store
    if request.param == "embedded":
        opened = await EmbeddedStore(settings.data_dir).open()
    else:
        opened = await MemoryStore().open()
    yield opened
    await opened.close()


async def mongo_store(real: bool) -> AsyncIterator[MongoStore]:
    """A MongoStore over the fake client, or over FLOWKER_TEST_MONGO_URI's server in a database of its
    own (dropped after the test); skipped when that variable is not set."""
    if not real:
        opened = await MongoStore("mongodb://fake.invalid", client=FakeMongoClient()).open()
        yield opened
        await opened.close()
        return
    uri = os.environ.get("FLOWKER_TEST_MONGO_URI", "")
    if not uri:
        pytest.skip("FLOWKER_TEST_MONGO_URI is not set")
    name = f"flowker_test_{uuid.uuid4().hex[:12]}"
    opened = await MongoStore(uri, name).open()
    try:
        yield opened
    finally:
        await opened.database.client.drop_database(name)
        await opened.close()


@pytest.fixture
async def runtime(
    ray_cluster: str, settings: Settings, secret_key: str, store: EmbeddedStore
) -> AsyncIterator[RayRuntime]:
    """This test's actors, named apart from every other test's, killed at its end; the front door runs
    up to ``settings.front_door_runs`` of the executions it starts itself, as ``flowker serve`` does."""
    config = runtime_config(settings, prefix=f"t{uuid.uuid4().hex[:8]}-")
    started = RayRuntime(config, secret_key, store=store)
    yield started
    await started.close()


@pytest.fixture
def services(store: EmbeddedStore, runtime: RayRuntime, settings: Settings, secret_key: str) -> Services:
    return build_services(
        store,
        SecretBox.from_text(secret_key),
        runtime,
        execution_timeout_seconds=settings.execution_timeout_seconds,
        outbound=OutboundPolicy.of(settings.production, settings.outbound_allow),
        verifier_key=runtime.verifier_key,
    )


@pytest.fixture
async def server(settings: Settings, services: Services) -> AsyncIterator[str]:
    """The base URL of a running front door."""
    app = create_app(settings, services, settings.api_keys)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def api(server: str) -> AsyncIterator[ApiClient]:
    """A client that sends the API key."""
    async with aiohttp.ClientSession(server, headers={"X-API-Key": API_KEY}) as session:
        yield ApiClient(session)


@pytest.fixture
async def anon(server: str) -> AsyncIterator[ApiClient]:
    """A client that sends no API key."""
    async with aiohttp.ClientSession(server) as session:
        yield ApiClient(session)
