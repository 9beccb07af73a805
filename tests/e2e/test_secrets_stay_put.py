"""After a full run with every authentication type on the real runtime, no secret — a provider credential,
a token, or Flowker's own secret key — is in any response, audit event, log line, or what Ray keeps of
actors and tasks (their arguments included), as its state API shows them."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from ray.util.state import list_actors, list_tasks

from flowker.actors.runtime import RayRuntime
from tests.helpers.audit import all_events
from tests.helpers.client import ApiClient
from tests.helpers.oidc_provider import OidcProvider
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider

API_KEY_SECRET = "api-key-secret-4f1e2d3c"
BEARER_SECRET = "bearer-secret-9a8b7c6d"
BASIC_SECRET = "basic-secret-1a2b3c4d"
CLIENT_SECRET = "client-secret-5e6f7a8b"
USER_SECRET = "user-secret-2c3d4e5f"
PROVIDER_SECRETS = (API_KEY_SECRET, BEARER_SECRET, BASIC_SECRET, CLIENT_SECRET, USER_SECRET)


def _authentications(issuer: OidcProvider) -> dict[str, dict[str, Any]]:
    return {
        "api_key": {"type": "api_key", "config": {"key": API_KEY_SECRET, "header_name": "X-Key"}},
        "bearer": {"type": "bearer", "config": {"token": BEARER_SECRET}},
        "basic": {"type": "basic", "config": {"username": "svc", "password": BASIC_SECRET}},
        "oidc_client_credentials": {
            "type": "oidc_client_credentials",
            "config": {"issuer_url": issuer.url, "client_id": "flowker", "client_secret": CLIENT_SECRET},
        },
        "oidc_user": {
            "type": "oidc_user",
            "config": {"token_url": issuer.token_endpoint, "client_id": "app", "username": "ann",
                       "password": USER_SECRET},
        },
    }  # fmt: skip


def _workflow(executor_id: str) -> dict[str, Any]:
    return {
        "name": f"secrets-{uuid.uuid4().hex[:8]}",
        "nodes": [
            {"id": "start", "type": "trigger"},
            {"id": "call", "type": "executor",
             "data": {"executorConfigId": executor_id, "endpointName": "go"}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "call"}],
    }  # fmt: skip


async def _run_once(api: ApiClient, provider: StubProvider, name: str, authentication: dict[str, Any]) -> str:
    executor = await api.post(
        "/v1/executors",
        {
            "name": f"{name}-{uuid.uuid4().hex[:6]}",
            "baseUrl": provider.url,
            "endpoints": [{"name": "go", "path": "/go", "method": "POST", "timeout": 5}],
            "authentication": authentication,
        },
    )
    assert executor.status == 201, executor.text
    workflow = await api.post("/v1/workflows", _workflow(executor.body["id"]))
    assert (await api.post(f"/v1/workflows/{workflow.body['workflowId']}/activate")).status == 200
    started = await api.post(
        f"/v1/workflows/{workflow.body['workflowId']}/executions",
        {"inputData": {}},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert started.status == 201, started.text
    execution_id: str = started.body["executionId"]
    ended = await eventually(
        lambda: api.get(f"/v1/executions/{execution_id}"),
        lambda r: r.body["status"] in ("completed", "failed"),
        within=60,
    )
    assert ended.body["status"] == "completed", (name, ended.text)
    await api.post(f"/v1/executors/{executor.body['id']}/test")  # the connectivity test too
    return execution_id


def _ray_logs(text: bytes) -> list[Path]:
    return [
        path
        for path in Path(os.environ["RAY_TMPDIR"]).rglob("*")
        if path.is_file() and path.suffix in (".log", ".out", ".err") and text in path.read_bytes()
    ]


async def test_no_secret_is_shown_anywhere_after_runs_with_every_authentication_type(
    api: ApiClient,
    runtime: RayRuntime,
    secret_key: str,
    ray_cluster: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with OidcProvider() as issuer, StubProvider() as provider:
        issuer.add_client("flowker", CLIENT_SECRET)
        issuer.add_client("app", None, method="none")
        issuer.add_user("ann", USER_SECRET)
        provider.route("POST", "/go", (200, {"ok": True}))
        seen: list[str] = []
        for name, authentication in _authentications(issuer).items():
            execution_id = await _run_once(api, provider, name, authentication)
            for path in (f"/v1/executions/{execution_id}", f"/v1/executions/{execution_id}/results"):
                seen.append((await api.get(path)).text)
        seen.append((await api.get("/v1/executors", params={"limit": "100"})).text)
        tokens = [t for t in issuer.tokens_issued() if t]
        assert len(provider.calls("/go")) == 5 and tokens

    secrets = [*PROVIDER_SECRETS, *tokens, secret_key]
    seen.append(json.dumps(await all_events(api)))
    seen.append(caplog.text)
    seen.append(repr(dataclasses.asdict(runtime.config)))
    # What Ray keeps of this session's actors and tasks, their arguments' descriptions included.
    actors = await asyncio.to_thread(list_actors, address=ray_cluster, detail=True, limit=10_000)
    tasks = await asyncio.to_thread(list_tasks, address=ray_cluster, detail=True, limit=10_000)
    seen.append(json.dumps([a.__dict__ for a in actors], default=str))
    seen.append(json.dumps([t.__dict__ for t in tasks], default=str))
    everything = "\n".join(seen)
    for secret in secrets:
        assert secret not in everything
    for secret in (*PROVIDER_SECRETS, secret_key):
        assert await asyncio.to_thread(_ray_logs, secret.encode()) == []
