"""JSON logs on the real runtime (FLOWKER_LOG_FORMAT=json): after a full run with every authentication
type, the front door's lines and the actors' (in Ray's log files) are JSON objects carrying the execution
id and the node id, and no secret is in any of them (mirrors test_secrets_stay_put.py, in JSON mode)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowker.settings import Settings
from flowker.telemetry.logs import JsonFormatter
from tests.conftest import API_KEY
from tests.e2e.test_secrets_stay_put import PROVIDER_SECRETS, _authentications, _ray_logs, _run_once
from tests.helpers.client import ApiClient
from tests.helpers.oidc_provider import OidcProvider
from tests.helpers.stub_provider import StubProvider


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", port=0, api_keys=(API_KEY,), retry_backoff_seconds=0.01, log_format="json"
    )


@pytest.fixture
def front_door_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def _actor_lines(execution_ids: set[str]) -> list[dict[str, Any]]:
    found = []
    for path in Path(os.environ["RAY_TMPDIR"]).rglob("worker-*"):
        if not path.is_file():
            continue
        for raw in path.read_text(errors="replace").splitlines():
            if raw.startswith("{") and '"execution_id"' in raw:
                line = json.loads(raw)
                if line.get("execution_id") in execution_ids:
                    found.append(line)
    return found


async def test_json_lines_carry_the_ids_and_no_secret_after_every_authentication_type(
    api: ApiClient, secret_key: str, ray_cluster: str, front_door_lines: io.StringIO
) -> None:
    async with OidcProvider() as issuer, StubProvider() as provider:
        issuer.add_client("flowker", "client-secret-5e6f7a8b")
        issuer.add_client("app", None, method="none")
        issuer.add_user("ann", "user-secret-2c3d4e5f")
        provider.route("POST", "/go", (200, {"ok": True}))
        ids = {await _run_once(api, provider, name, auth) for name, auth in _authentications(issuer).items()}
        tokens = [t for t in issuer.tokens_issued() if t]
    secrets = [*PROVIDER_SECRETS, *tokens, secret_key]

    lines = front_door_lines.getvalue().splitlines()
    assert lines and all(json.loads(line) for line in lines)
    for secret in secrets:
        assert not any(secret in line for line in lines)

    # The executor actors' lines (the loopback warning of each call): JSON, with the execution and node.
    actor_lines = await asyncio.to_thread(_actor_lines, ids)
    assert {line["execution_id"] for line in actor_lines} == ids
    assert all(line.get("node_id") and line.get("role") for line in actor_lines)
    for secret in (*PROVIDER_SECRETS, secret_key):
        assert await asyncio.to_thread(_ray_logs, secret.encode()) == []
