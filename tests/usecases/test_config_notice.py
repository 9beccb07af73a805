"""A PATCH tells the configuration's executor actor to read it again (so a new secret drops its token at
once); a runtime that fails or hangs at that never fails the PATCH. No Ray: a fake runtime."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

import pytest

from flowker.domain.audit import AuditEvent
from flowker.domain.executor_config import ExecutorConfigInput
from flowker.secretbox import SecretBox
from flowker.store.ports import Store
from flowker.usecases import executor_notices
from flowker.usecases.executor_configs import ExecutorConfigs
from tests.fakes.memory_store import MemoryStore


class NoticeRuntime:
    """Records the notices; fails or hangs at them when told to."""

    def __init__(self, behaviour: str = "ok") -> None:
        self.behaviour = behaviour
        self.notices: list[str] = []

    async def record(self, events: Sequence[AuditEvent]) -> None:
        pass

    async def drain(self) -> None:
        pass

    async def release_executor(self, executor_config_id: str) -> None:
        pass

    async def config_changed(self, executor_config_id: str) -> None:
        self.notices.append(executor_config_id)
        if self.behaviour == "fail":
            raise ConnectionError("actor unreachable")
        if self.behaviour == "hang":
            await asyncio.Event().wait()


def body(secret: str) -> ExecutorConfigInput:
    return ExecutorConfigInput.model_validate(
        {
            "name": "accounts",
            "baseUrl": "https://accounts.example.com",
            "endpoints": [{"name": "open", "path": "/open", "method": "POST"}],
            "authentication": {
                "type": "oidc_client_credentials",
                "config": {
                    "token_url": "https://idp.example.com/token",
                    "client_id": "c",
                    "client_secret": secret,
                },
            },
        }
    )


@pytest.fixture
async def store() -> Any:
    opened: Store = await MemoryStore().open()
    yield opened
    await opened.close()


@pytest.mark.parametrize("behaviour", ["ok", "fail", "hang"])
async def test_a_patch_notifies_the_executor_and_never_fails_for_it(
    store: Store, behaviour: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executor_notices, "CONFIG_NOTICE_SECONDS", 0.05)
    runtime = NoticeRuntime(behaviour)
    configs = ExecutorConfigs(store, SecretBox(os.urandom(32)), runtime)  # type: ignore[arg-type]
    created = await configs.create(body("secret-one-123"))
    assert runtime.notices == []  # a new configuration has no actor to tell
    patched = await configs.patch(created.id, body("secret-two-456"))
    assert runtime.notices == [created.id]
    assert patched.revision != created.revision
