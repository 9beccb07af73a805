"""Front-door tests run over the in-process runtime: the real runner, caller and audit writer, no Ray."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from flowker.secretbox import SecretBox
from flowker.settings import Settings
from flowker.store.embedded import EmbeddedStore
from tests.fakes.runtime import InProcessRuntime


@pytest.fixture
async def runtime(
    store: EmbeddedStore, settings: Settings, secret_key: str
) -> AsyncIterator[InProcessRuntime]:
    started = InProcessRuntime(store, SecretBox.from_text(secret_key), settings)
    yield started
    await started.close()
