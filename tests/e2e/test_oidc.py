"""OIDC authentication end to end, on the real runtime (Ray actors, embedded store, front door): a local
issuer on 127.0.0.1 and a provider API that accepts only the issuer's live tokens."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from flowker.settings import Settings
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient, Reply
from tests.helpers.oidc_provider import OidcProvider
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider

SECRET = "oidc-client-secret-Hq71-private"
PASSWORD = "analyst-password-Lm38-private"
FAN_OUT = 25


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", port=0, api_keys=(API_KEY,), retry_backoff_seconds=0.01)


@pytest.fixture
async def issuer() -> AsyncIterator[OidcProvider]:
    async with OidcProvider(expires_in=300) as started:
        started.add_client("flowker", SECRET, method="client_secret_basic")
        started.add_client("flowker-post", SECRET, method="client_secret_post")
        started.add_client("flowker-ui", None, method="none")
        started.add_user("analyst", PASSWORD)
        yield started


@pytest.fixture
async def provider(issuer: OidcProvider) -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        for n in range(FAN_OUT):
            stub.route("POST", f"/check/{n}", issuer.protected((200, {"ok": True, "n": n})))
        stub.route("GET", "/", issuer.protected((200, {"status": "up"})))
        stub.route("GET", "/status", issuer.protected((200, {"status": "up"})))
        yield stub


def executor(provider: StubProvider, authentication: dict[str, Any]) -> dict[str, Any]:
    endpoints = [{"name": f"check-{n}", "path": f"/check/{n}", "method": "POST"} for n in range(FAN_OUT)]
    return {
        "name": f"accounts-{uuid.uuid4().hex[:6]}",
        "baseUrl": provider.url,
        "endpoints": [*endpoints, {"name": "status", "path": "/status", "method": "GET"}],
        "authentication": authentication,
    }


def client_credentials(issuer: OidcProvider, **config: Any) -> dict[str, Any]:
    fields = {"issuer_url": issuer.url, "client_id": "flowker", "client_secret": SECRET, **config}
    return {"type": "oidc_client_credentials", "config": fields}


def fan_out(executor_id: str, branches: int) -> dict[str, Any]:
    """trigger → ``branches`` executor nodes, all at once."""
    calls = [
        {
            "id": f"c{n}",
            "type": "executor",
            "data": {"executorConfigId": executor_id, "endpointName": f"check-{n}"},
        }
        for n in range(branches)
    ]
    return {
        "name": f"fan-out {uuid.uuid4().hex[:6]}",
        "nodes": [{"id": "start", "type": "trigger"}, *calls],
        "edges": [{"id": f"e{n}", "source": "start", "target": f"c{n}"} for n in range(branches)],
    }


async def setup(
    api: ApiClient, provider: StubProvider, authentication: dict[str, Any], branches: int = 1
) -> tuple[str, str]:
    created = await api.post("/v1/executors", executor(provider, authentication))
    assert created.status == 201, created.text
    workflow = await api.post("/v1/workflows", fan_out(created.body["id"], branches))
    workflow_id = workflow.body["workflowId"]
    activated = await api.post(f"/v1/workflows/{workflow_id}/activate")
    assert activated.status == 200, activated.text
    return created.body["id"], workflow_id


async def run(api: ApiClient, workflow_id: str) -> Reply:
    """Start an execution and return its results once it ended."""
    started = await api.post(
        f"/v1/workflows/{workflow_id}/executions",
        {"inputData": {}},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert started.status in (200, 201), started.text
    execution_id = started.body["executionId"]
    await eventually(
        lambda: api.get(f"/v1/executions/{execution_id}"),
        lambda r: r.body["status"] in ("completed", "failed"),
        within=60,
    )
    return await api.get(f"/v1/executions/{execution_id}/results")


def statuses(results: Reply) -> list[str]:
    return [s["status"] for s in results.body["stepResults"]]


async def test_fifty_concurrent_calls_over_two_executions_cause_one_token_request(
    api: ApiClient, issuer: OidcProvider, provider: StubProvider
) -> None:
    issuer.delay = 0.3  # the first token request is still on its way when every call needs a token
    _, workflow_id = await setup(api, provider, client_credentials(issuer), branches=FAN_OUT)
    first, second = await asyncio.gather(run(api, workflow_id), run(api, workflow_id))
    for results in (first, second):
        assert results.body["status"] == "completed", results.body
        assert statuses(results) == ["completed"] * FAN_OUT
    assert issuer.grants() == ["client_credentials"] and issuer.discoveries == 1
    assert issuer.token_requests[0].method == "client_secret_basic"
    assert sum(len(provider.calls(f"/check/{n}")) for n in range(FAN_OUT)) == 2 * FAN_OUT
    assert issuer.refused == []


async def test_the_token_is_renewed_before_it_expires(
    api: ApiClient, issuer: OidcProvider, provider: StubProvider
) -> None:
    issuer.expires_in = 4  # renewed 2 s before: after 2 s
    auth = client_credentials(
        issuer, client_id="flowker-post", token_endpoint_auth_method="client_secret_post",
        cache={"refresh_before_expiry_seconds": 2},
    )  # fmt: skip
    _, workflow_id = await setup(api, provider, auth)
    assert (await run(api, workflow_id)).body["status"] == "completed"
    assert (await run(api, workflow_id)).body["status"] == "completed"
    assert issuer.issued() == 1  # still fresh
    await asyncio.sleep(2.2)
    assert (await run(api, workflow_id)).body["status"] == "completed"
    assert issuer.issued() == 2 and issuer.refused == []  # no call ever carried an expired token
    assert {r.method for r in issuer.token_requests} == {"client_secret_post"}


async def test_a_401_forces_one_renewal_and_one_retry_and_a_second_401_fails_the_step(
    api: ApiClient, issuer: OidcProvider, provider: StubProvider
) -> None:
    _, workflow_id = await setup(api, provider, client_credentials(issuer))
    assert (await run(api, workflow_id)).body["status"] == "completed"
    issuer.revoke_access_tokens()
    renewed = await run(api, workflow_id)
    assert renewed.body["status"] == "completed", renewed.body
    assert issuer.issued() == 2 and len(issuer.refused) == 1 and len(provider.calls("/check/0")) == 3

    provider.route("POST", "/check/0", (401, {"error": "invalid_token"}))
    failed = await run(api, workflow_id)
    assert failed.body["status"] == "failed"
    step = failed.body["stepResults"][-1]
    assert step["status"] == "failed" and "HTTP 401" in step["errorMessage"], step
    assert issuer.issued() == 3 and len(provider.calls("/check/0")) == 5  # one retry, no loop


async def test_password_and_refresh_grants_and_a_new_password_grant_when_the_refresh_token_is_revoked(
    api: ApiClient, issuer: OidcProvider, provider: StubProvider
) -> None:
    issuer.expires_in = 2  # renewed after 1 s (half its lifetime: the 60 s margin is longer)
    auth = {"type": "oidc_user",
            "config": {"token_url": issuer.token_endpoint, "client_id": "flowker-ui", "username": "analyst",
                       "password": PASSWORD}}  # fmt: skip
    _, workflow_id = await setup(api, provider, auth)
    assert (await run(api, workflow_id)).body["status"] == "completed"
    await asyncio.sleep(1.2)
    assert (await run(api, workflow_id)).body["status"] == "completed"
    issuer.revoke_refresh_tokens()
    await asyncio.sleep(1.2)
    assert (await run(api, workflow_id)).body["status"] == "completed"
    assert issuer.grants() == ["password", "refresh_token", "refresh_token", "password"]
    assert [r.outcome for r in issuer.token_requests] == ["issued", "issued", "invalid_grant", "issued"]
    assert issuer.token_requests[0].form["scope"] == "openid"
    assert issuer.refused == []


async def test_a_patched_secret_takes_effect_on_the_next_call(
    api: ApiClient, issuer: OidcProvider, provider: StubProvider
) -> None:
    executor_id, workflow_id = await setup(api, provider, client_credentials(issuer))
    assert (await run(api, workflow_id)).body["status"] == "completed"
    issuer.add_client("flowker", "rotated-" + SECRET)  # the issuer rotates the secret...
    patched = await api.patch(
        f"/v1/executors/{executor_id}",
        {"authentication": client_credentials(issuer, client_secret="rotated-" + SECRET)},
    )
    assert patched.status == 200, patched.text
    # ...and the very next call asks for a token with the new one, though the old token has not expired.
    assert (await run(api, workflow_id)).body["status"] == "completed"
    assert [(r.form.get("grant_type"), r.outcome) for r in issuer.token_requests] == [
        ("client_credentials", "issued"),
        ("client_credentials", "issued"),
    ]
    # A change that leaves the credentials alone keeps the token.
    renamed = await api.patch(f"/v1/executors/{executor_id}", {"description": "accounts API"})
    assert renamed.status == 200, renamed.text
    assert (await run(api, workflow_id)).body["status"] == "completed"
    assert issuer.issued() == 2


async def test_a_refused_secret_fails_the_step_with_the_issuers_code_and_never_the_secret(
    api: ApiClient, issuer: OidcProvider, provider: StubProvider
) -> None:
    wrong = "wrong-" + SECRET
    _, workflow_id = await setup(api, provider, client_credentials(issuer, client_secret=wrong))
    results = await run(api, workflow_id)
    assert results.body["status"] == "failed"
    step = results.body["stepResults"][-1]
    assert (
        "invalid_client" in step["errorMessage"]
        and "executor configuration 'accounts-" in step["errorMessage"]
    )
    assert len(issuer.token_requests) == 1 and provider.requests == []  # not retried, nothing sent
    execution = await api.get(f"/v1/executions/{results.body['executionId']}")
    audit = await eventually(
        lambda: api.get("/v1/audit-events", params={"limit": "100"}),
        lambda r: any(e["metadata"].get("code") for e in r.body["items"]),
    )
    calls = [e for e in audit.body["items"] if e["metadata"].get("code")]
    assert [(e["metadata"]["code"], e["metadata"]["mayHaveReachedProvider"]) for e in calls] == [
        ("FLK-0258", False)
    ]
    for text in (results.text, execution.text, audit.text):
        assert wrong not in text and SECRET not in text
    assert await asyncio.to_thread(logs_holding, wrong.encode()) == []


def logs_holding(text: bytes) -> list[Path]:
    """The Ray log files (every actor's output) of this session that contain ``text``."""
    return [
        path
        for path in Path(os.environ["RAY_TMPDIR"]).rglob("*")
        if path.is_file() and path.suffix in (".log", ".out", ".err") and text in path.read_bytes()
    ]


async def test_the_connectivity_test_obtains_a_token_and_reports_the_issuers_answer(
    api: ApiClient, issuer: OidcProvider, provider: StubProvider
) -> None:
    good = await api.post("/v1/executors", executor(provider, client_credentials(issuer)))
    reply = await api.post(f"/v1/executors/{good.body['id']}/test")
    assert reply.status == 200, reply.text
    stages = {s["name"]: s for s in reply.body["stages"]}
    assert [s["status"] for s in reply.body["stages"]] == ["passed", "passed", "passed"], reply.body
    details = stages["authentication"]["details"]
    assert (
        details["statusCode"] == 200
        and details["url"] == issuer.token_endpoint
        and details["method"] == "POST"
    )
    assert details["expiresInSeconds"] == 300 and details["refreshToken"] is False
    assert issuer.issued() == 1 and len(provider.calls("/status")) == 1  # end_to_end used the token
    # Only the connectivity stage went without credentials; the token never shows in the result.
    assert issuer.refused == [""] and "at-" not in reply.text

    bad = await api.post(
        "/v1/executors", executor(provider, client_credentials(issuer, client_secret="no-" + SECRET))
    )
    refused = await api.post(f"/v1/executors/{bad.body['id']}/test")
    assert [(s["name"], s["status"]) for s in refused.body["stages"]] == [
        ("connectivity", "passed"),
        ("authentication", "failed"),
        ("end_to_end", "skipped"),
    ]
    failed = refused.body["stages"][1]
    assert failed["details"]["statusCode"] == 401 and failed["details"]["error"] == "invalid_client"
    assert "invalid_client" in failed["message"] and SECRET not in refused.text
