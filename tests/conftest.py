"""Shared fixtures: a real front door on 127.0.0.1 over the real embedded store in a temporary folder."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from flowker.bootstrap import build_services
from flowker.http.app import create_app
from flowker.secretbox import SecretBox
from flowker.settings import Settings
from flowker.store.embedded import EmbeddedStore
from tests.helpers.client import ApiClient

API_KEY = "test-key-" + base64.urlsafe_b64encode(os.urandom(12)).decode()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", port=0, api_keys=(API_KEY,))


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[EmbeddedStore]:
    opened = await EmbeddedStore(settings.data_dir).open()
    yield opened
    await opened.close()


@pytest.fixture
async def server(settings: Settings, store: EmbeddedStore) -> AsyncIterator[str]:
    """The base URL of a running front door."""
    services = build_services(store, SecretBox(os.urandom(32)))
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
