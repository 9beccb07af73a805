"""Credentials stay with their origin, and request building cannot be steered away from the configuration:
endpoint paths stay under the base URL, an api_key header cannot take the place of a framing or Flowker
header, and a PATCH that moves the base URL or the OIDC issuer elsewhere must bring new credentials."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.helpers.client import ApiClient
from tests.helpers.fixtures import kyc_executor
from tests.helpers.stub_provider import StubProvider

KEY = "kyc-secret-key-123456"  # the key of kyc_executor()
NEW_KEY = "kyc-rotated-key-654321"


def _with(body: dict[str, Any], **config: Any) -> dict[str, Any]:
    body["authentication"]["config"].update(config)
    return body


@pytest.mark.parametrize(
    "path",
    ["/v1/../admin", "/v1/%2e%2e/admin", "/v1/%2E%2e/admin", "/./v1", "/v1/..%2fadmin", "/a%2Fb", "/a%5cb",
     "/a\\b", "/a b", "/a\tb", "/x#frag"],
)  # fmt: skip
async def test_endpoint_paths_that_could_leave_the_base_path_are_refused(api: ApiClient, path: str) -> None:
    body = kyc_executor()
    body["endpoints"][0]["path"] = path
    (await api.post("/v1/executors", body)).error(400, "FLK-0271")


async def test_endpoint_paths_with_dots_inside_names_and_a_query_are_fine(api: ApiClient) -> None:
    body = kyc_executor()
    body["endpoints"] = [
        {"name": "a", "path": "/v1/file.json", "method": "GET"},
        {"name": "b", "path": "/v1/.../x?mode=fast", "method": "GET"},
    ]
    assert (await api.post("/v1/executors", body)).status == 201


@pytest.mark.parametrize(
    ("field", "value"),
    [("header_name", "Host"), ("header_name", "content-length"), ("header_name", "Idempotency-Key"),
     ("header_name", "Transfer-Encoding"), ("header_name", "X-Request-Id"), ("header_name", "X Key"),
     ("header_name", "X-Key\r\nX-Injected: 1"), ("header_name", "Ключ"), ("key", "abc\r\nX-Injected: 1"),
     ("prefix", "Token\n"), ("query_param_name", "a&b=c")],
)  # fmt: skip
async def test_api_key_headers_and_values_are_checked_when_saved(
    api: ApiClient, field: str, value: str
) -> None:
    reply = (await api.post("/v1/executors", _with(kyc_executor(), **{field: value}))).error(400, "FLK-0274")
    assert f"authentication.config.{field}" in reply.body["message"] and value not in reply.body["message"]


async def test_api_key_may_use_authorization_with_a_scheme_of_its_own(api: ApiClient) -> None:
    body = _with(kyc_executor(), header_name="Authorization", prefix="ApiKey ")
    assert (await api.post("/v1/executors", body)).status == 201


async def _created(api: ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    reply = await api.post("/v1/executors", body)
    assert reply.status == 201, reply.text
    return reply.body


@pytest.mark.parametrize(
    "moved",
    ["https://other.example.com/v1/kyc", "http://127.0.0.1:10/v1/kyc", "https://127.0.0.1:9/v1/kyc",
     "http://localhost:9/v1/kyc"],
)  # fmt: skip
async def test_moving_the_base_url_to_another_origin_without_new_credentials_is_refused(
    api: ApiClient, moved: str
) -> None:
    created = await _created(api, kyc_executor())
    path = f"/v1/executors/{created['id']}"
    reply = (await api.patch(path, {"baseUrl": moved})).error(422, "FLK-0289")
    assert "send them again" in reply.body["message"]
    # Sending the secret back masked is keeping it: refused too.
    masked = {"baseUrl": moved, "authentication": created["authentication"]}
    (await api.patch(path, masked)).error(422, "FLK-0289")
    assert (await api.get(path)).body["baseUrl"] == created["baseUrl"]


async def test_the_same_origin_keeps_its_credentials_and_a_move_with_new_ones_is_audited(
    api: ApiClient,
) -> None:
    created = await _created(api, kyc_executor())
    path = f"/v1/executors/{created['id']}"
    same = await api.patch(path, {"baseUrl": "http://127.0.0.1:9/v2/kyc/"})
    assert same.status == 200 and same.body["baseUrl"] == "http://127.0.0.1:9/v2/kyc"
    auth = {"type": "api_key", "config": {"key": NEW_KEY, "header_name": "X-API-Key"}}
    moved = await api.patch(path, {"baseUrl": "https://kyc.example.com/v1", "authentication": auth})
    assert moved.status == 200, moved.text
    page = await api.get("/v1/audit-events", params={"eventType": "EXECUTOR_CONFIG_UPDATED", "limit": "1"})
    metadata = page.body["items"][0]["metadata"]
    assert metadata["executorConfig.previousOrigin"] == "http://127.0.0.1:9"
    assert metadata["executorConfig.origin"] == "https://kyc.example.com:443"
    assert NEW_KEY not in page.text and KEY not in page.text


async def test_a_configuration_without_secrets_moves_freely(api: ApiClient) -> None:
    body = kyc_executor()
    body["authentication"] = {"type": "none"}
    created = await _created(api, body)
    reply = await api.patch(f"/v1/executors/{created['id']}", {"baseUrl": "https://elsewhere.example.com"})
    assert reply.status == 200, reply.text


async def test_moving_the_oidc_issuer_without_new_credentials_is_refused(api: ApiClient) -> None:
    body = kyc_executor()
    body["authentication"] = {
        "type": "oidc_client_credentials",
        "config": {
            "issuer_url": "https://idp.example.com/realms/a",
            "client_id": "c",
            "client_secret": "s" * 20,
        },
    }
    created = await _created(api, body)
    path = f"/v1/executors/{created['id']}"
    moved = created["authentication"]
    moved["config"]["issuer_url"] = "https://evil.example.net/realms/a"
    (await api.patch(path, {"authentication": moved})).error(422, "FLK-0289")
    moved["config"]["client_secret"] = "t" * 20
    assert (await api.patch(path, {"authentication": moved})).status == 200
    # Another realm on the same issuer origin keeps the secret.
    same = (await api.get(path)).body["authentication"]
    same["config"]["issuer_url"] = "https://evil.example.net/realms/b"
    assert (await api.patch(path, {"authentication": same})).status == 200


@pytest.fixture
async def two_hosts() -> AsyncIterator[tuple[StubProvider, StubProvider]]:
    async with StubProvider() as first, StubProvider() as second:
        for stub in (first, second):
            stub.route("POST", "/v1/kyc/validate", (200, {"ok": True}))
        yield first, second


def _workflow(executor_id: str) -> dict[str, Any]:
    return {
        "name": f"origins-{uuid.uuid4().hex[:6]}",
        "nodes": [
            {"id": "start", "type": "trigger"},
            {"id": "kyc", "type": "executor",
             "data": {"executorConfigId": executor_id, "endpointName": "validate"}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "kyc"}],
    }  # fmt: skip


async def _run(api: ApiClient, workflow_id: str) -> str:
    headers = {"Idempotency-Key": str(uuid.uuid4()), "Prefer": "wait=10"}
    reply = await api.post(f"/v1/workflows/{workflow_id}/executions", {"inputData": {}}, headers=headers)
    assert reply.status == 200, reply.text
    return str(reply.body["status"])


async def test_no_credential_ever_reaches_a_host_it_was_not_entered_for(
    api: ApiClient, two_hosts: tuple[StubProvider, StubProvider]
) -> None:
    first, second = two_hosts
    created = await _created(api, kyc_executor(first.url + "/v1/kyc"))
    workflow = await api.post("/v1/workflows", _workflow(created["id"]))
    assert (await api.post(f"/v1/workflows/{workflow.body['workflowId']}/activate")).status == 200
    assert await _run(api, workflow.body["workflowId"]) == "completed"

    path = f"/v1/executors/{created['id']}"
    (await api.patch(path, {"baseUrl": second.url + "/v1/kyc"})).error(422, "FLK-0289")
    assert await _run(api, workflow.body["workflowId"]) == "completed"
    auth = {"type": "api_key", "config": {"key": NEW_KEY, "header_name": "X-API-Key"}}
    assert (await api.patch(path, {"baseUrl": second.url + "/v1/kyc", "authentication": auth})).status == 200
    for _ in range(20):  # the change reaches the executor within its configuration's time to live
        assert await _run(api, workflow.body["workflowId"]) == "completed"
        if second.calls("/v1/kyc/validate"):
            break
        await asyncio.sleep(0.2)

    # Each host only ever saw the key entered for it.
    assert {c.headers["X-API-Key"] for c in first.calls("/v1/kyc/validate")} == {KEY}
    assert len(first.calls("/v1/kyc/validate")) >= 2
    assert [c.headers["X-API-Key"] for c in second.calls("/v1/kyc/validate")] == [NEW_KEY]
