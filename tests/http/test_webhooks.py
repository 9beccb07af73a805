"""``ANY /v1/webhooks/{path}`` over real HTTP (the in-process runtime, a stub provider on 127.0.0.1):
every error it answers, the answer of a start, the derived idempotency, the token kept secret, and the
route table following the workflow's lifecycle."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from flowker.settings import Settings
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient, Reply
from tests.helpers.fixtures import kyc_executor
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider
from tests.helpers.webhooks import webhook_kyc_workflow

READ_KEY = "read-only-key-for-webhooks-0123"
HOOK = "/v1/webhooks/e2e/webhook-test"
ENDED = ("completed", "failed", "cancelled")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", port=0, api_keys=(API_KEY, "read:" + READ_KEY))


@pytest.fixture
async def reader(server: str) -> AsyncIterator[ApiClient]:
    async with aiohttp.ClientSession(server, headers={"X-API-Key": READ_KEY}) as session:
        yield ApiClient(session)


@pytest.fixture
async def provider() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        stub.route("POST", "/v1/kyc/validate", (200, {"customerId": "CUST-001", "riskScore": 25}))
        yield stub


async def executor(api: ApiClient, provider: StubProvider) -> str:
    created = await api.post("/v1/executors", kyc_executor(provider.url + "/v1/kyc"))
    assert created.status == 201, created.text
    return str(created.body["id"])


async def active_workflow(api: ApiClient, definition: dict[str, Any]) -> str:
    created = await api.post("/v1/workflows", definition)
    assert created.status == 201, created.text
    workflow_id = str(created.body["workflowId"])
    activated = await api.post(f"/v1/workflows/{workflow_id}/activate")
    assert activated.status == 200, activated.text
    return workflow_id


async def raw_status(api: ApiClient, path: str, header: bytes) -> int:
    """The status of a POST with ``header`` written byte for byte (aiohttp's client sends text only)."""
    url = api.session._base_url
    assert url is not None and url.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", url.port)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {API_KEY}\r\n".encode()
        + header
        + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


async def ended(api: ApiClient, execution_id: str) -> Reply:
    return await eventually(
        lambda: api.get(f"/v1/executions/{execution_id}"), lambda r: r.body["status"] in ENDED
    )


async def test_the_reference_scenario_over_http(api: ApiClient, provider: StubProvider) -> None:
    kyc = await executor(api, provider)
    workflow_id = await active_workflow(api, webhook_kyc_workflow(kyc))
    reply = await api.post(HOOK, {"document": "12345"}, params={"source": "test"})
    assert reply.status == 201, reply.text
    execution_id = reply.headers["X-Webhook-Execution-ID"]
    assert reply.headers["X-Webhook-Workflow-ID"] == workflow_id
    assert reply.body["executionId"] == execution_id and reply.body["workflowId"] == workflow_id
    assert (await ended(api, execution_id)).body["status"] == "completed"
    (call,) = provider.calls("/v1/kyc/validate")
    assert call.json == {"document": "12345", "via": "POST"}
    results = await api.get(f"/v1/executions/{execution_id}/results")
    metadata = results.body["finalOutput"]["workflow"]["_webhook"]
    assert metadata["method"] == "POST" and metadata["path"] == "/e2e/webhook-test"
    assert metadata["query"] == {"source": "test"} and metadata["remote_ip"] == "127.0.0.1"
    assert "X-API-Key" not in metadata["headers"] and "Content-Type" in metadata["headers"]
    assert results.body["finalOutput"]["kyc"]["result"] == {"customerId": "CUST-001"}

    (await api.post("/v1/webhooks/e2e/other", {"document": "1"})).error(404, "FLK-0361")
    (await api.call("PUT", HOOK, {"document": "1"})).error(404, "FLK-0361")
    (await api.post("/v1/webhooks/E2E/webhook-test", {})).error(404, "FLK-0361")
    assert (await api.post(f"/v1/workflows/{workflow_id}/deactivate")).status == 200
    (await api.post(HOOK, {"document": "12345"})).error(404, "FLK-0361")


async def test_a_token_is_required_compared_and_never_shown(api: ApiClient, provider: StubProvider) -> None:
    kyc = await executor(api, provider)
    definition = webhook_kyc_workflow(kyc, "/test/token-hook", token="my-secret-token")
    workflow_id = await active_workflow(api, definition)
    hook = "/v1/webhooks/test/token-hook"
    (await api.post(hook, {"document": "1"})).error(401, "FLK-0362")
    (await api.post(hook, {"document": "1"}, headers={"X-Webhook-Token": "wrong"})).error(401, "FLK-0362")
    assert await raw_status(api, hook, b"X-Webhook-Token: my-secret-token\xff\xfe") == 401
    good = await api.post(hook, {"document": "1"}, headers={"X-Webhook-Token": "my-secret-token"})
    assert good.status == 201, good.text
    await ended(api, good.body["executionId"])
    # The token is shown masked, and appears nowhere: not in the workflow, the list, the audit trail,
    # the execution's results (the header is not in _webhook).
    shown = await api.get(f"/v1/workflows/{workflow_id}")
    assert shown.body["nodes"][0]["data"]["verify_token"] == "********"
    assert "verifyTokenHash" not in shown.text
    texts = [
        shown.text,
        (await api.get("/v1/workflows")).text,
        (await api.get("/v1/audit-events", params={"limit": "100"})).text,
        (await api.get(f"/v1/executions/{good.body['executionId']}/results")).text,
    ]
    assert all("my-secret-token" not in text for text in texts)


async def test_a_put_of_the_masked_token_keeps_it(api: ApiClient, provider: StubProvider) -> None:
    kyc = await executor(api, provider)
    workflow_id = await active_workflow(api, webhook_kyc_workflow(kyc, token="my-secret-token"))
    workflow = f"/v1/workflows/{workflow_id}"
    for action in ("deactivate", "draft"):
        assert (await api.post(f"{workflow}/{action}")).status == 200
    read = (await api.get(workflow)).body
    edited = {key: read[key] for key in ("name", "nodes", "edges")}
    edited["name"] = "Webhook KYC, renamed"
    assert (await api.put(workflow, edited)).status == 200, "a PUT of what was read"
    assert (await api.post(f"{workflow}/activate")).status == 200
    (await api.post(HOOK, {"document": "1"}, headers={"X-Webhook-Token": "********"})).error(401, "FLK-0362")
    kept = await api.post(HOOK, {"document": "1"}, headers={"X-Webhook-Token": "my-secret-token"})
    assert kept.status == 201, kept.text
    # A clone keeps the token too.
    clone = await api.post(f"{workflow}/clone", {"name": "cloned hook"})
    assert clone.status == 201
    assert (await api.get(f"/v1/workflows/{clone.body['workflowId']}")).body["nodes"][0]["data"][
        "verify_token"
    ] == "********"
    # The mask on a node that has no token is refused, not read as a token.
    fresh = webhook_kyc_workflow(kyc, "/masked", token="********", name="masked")
    (await api.post("/v1/workflows", fresh)).error(400, "FLK-0211")


async def test_invalid_trigger_data_is_400_and_a_taken_route_409(
    api: ApiClient, provider: StubProvider
) -> None:
    kyc = await executor(api, provider)
    for path, method in (("/a/../b", "POST"), ("/a?b=1", "POST"), ("/ok", "HEAD"), (7, "POST")):
        definition = webhook_kyc_workflow(kyc, path, name=f"bad {path}", method=method)  # type: ignore[arg-type]
        (await api.post("/v1/workflows", definition)).error(400, "FLK-0211")
    first = await active_workflow(api, webhook_kyc_workflow(kyc, name="first"))
    second = await api.post("/v1/workflows", webhook_kyc_workflow(kyc, "e2e/webhook-test/", name="second"))
    assert second.status == 201
    refused = await api.post(f"/v1/workflows/{second.body['workflowId']}/activate")
    refused.error(409, "FLK-0360")
    assert "'first'" in refused.body["message"]
    assert (await api.get(f"/v1/workflows/{second.body['workflowId']}")).body["status"] == "draft"
    # The same path under another method is another route.
    await active_workflow(api, webhook_kyc_workflow(kyc, name="third", method="PUT"))
    assert (await api.post(f"/v1/workflows/{first}/deactivate")).status == 200
    assert (await api.post(f"/v1/workflows/{second.body['workflowId']}/activate")).status == 200


async def test_two_activations_of_one_route_at_once_one_wins(api: ApiClient, provider: StubProvider) -> None:
    kyc = await executor(api, provider)
    ids = []
    for n in range(4):
        created = await api.post("/v1/workflows", webhook_kyc_workflow(kyc, name=f"racer {n}"))
        ids.append(created.body["workflowId"])
    replies = await asyncio.gather(*(api.post(f"/v1/workflows/{i}/activate") for i in ids))
    assert sorted(r.status for r in replies) == [200, 409, 409, 409]
    assert {r.body["code"] for r in replies if r.status == 409} == {"FLK-0360"}
    winner = next(i for i, r in zip(ids, replies, strict=True) if r.status == 200)
    reply = await api.post(HOOK, {"document": "1"})
    assert reply.headers["X-Webhook-Workflow-ID"] == winner


async def test_bodies(api: ApiClient, provider: StubProvider) -> None:
    kyc = await executor(api, provider)
    await active_workflow(api, webhook_kyc_workflow(kyc))
    json_type = {"Content-Type": "application/json"}
    (await api.call("POST", HOOK, data=b"{not json", headers=json_type)).error(400, "FLK-0001")
    (await api.call("POST", HOOK, data=b"[1, 2]", headers=json_type)).error(400, "FLK-0001")
    (await api.call("POST", HOOK, data=b'"text"', headers=json_type)).error(400, "FLK-0001")
    deep = b'{"a":' * 40 + b"1" + b"}" * 40
    (await api.call("POST", HOOK, data=deep, headers=json_type)).error(400, "FLK-0314")
    padding = 1024 * 1024 - len(b'{"document":""}')
    exact = b'{"document":"' + b"x" * padding + b'"}'
    assert len(exact) == 1024 * 1024
    assert (await api.call("POST", HOOK, data=io.BytesIO(exact), headers=json_type)).status == 201
    over = b'{"document":"' + b"x" * (padding + 1) + b'"}'
    (await api.call("POST", HOOK, data=io.BytesIO(over), headers=json_type)).error(413, "FLK-0363")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit counts what arrives
        yield b'{"document":"'
        for _ in range(17):
            yield b"x" * 65536
        yield b'"}'

    (await api.call("POST", HOOK, data=chunks(), headers=json_type)).error(413, "FLK-0363")
    empty = await api.call("POST", HOOK)
    assert empty.status == 201, empty.text
    # The provider is called without a document: the mapping's source is missing, not an error here.
    assert (await ended(api, empty.body["executionId"])).body["status"] in ENDED


async def test_keys_and_scopes(
    api: ApiClient, anon: ApiClient, reader: ApiClient, provider: StubProvider
) -> None:
    kyc = await executor(api, provider)
    await active_workflow(api, webhook_kyc_workflow(kyc, "/read", method="GET"))
    (await anon.post(HOOK, {"document": "1"})).error(401, "UNAUTHORIZED")
    (await anon.get("/v1/webhooks/read")).error(401, "UNAUTHORIZED")
    # A read-only key cannot start an execution, even with a GET webhook.
    (await reader.get("/v1/webhooks/read")).error(403, "FLK-0401")
    (await reader.post(HOOK, {"document": "1"})).error(403, "FLK-0401")
    assert (await api.get("/v1/webhooks/read")).status == 201


async def test_idempotency(api: ApiClient, provider: StubProvider) -> None:
    kyc = await executor(api, provider)
    workflow_id = await active_workflow(api, webhook_kyc_workflow(kyc))
    # Without a key: the same delivery again answers the same execution (200 once it ended).
    first = await api.post(HOOK, {"document": "12345"})
    assert first.status == 201
    await ended(api, first.body["executionId"])
    retried = await api.post(HOOK, {"document": "12345"}, headers={"X-Retry-Attempt": "2"})
    assert retried.status == 200 and retried.body["executionId"] == first.body["executionId"]
    assert retried.headers["X-Webhook-Execution-ID"] == first.body["executionId"]
    # Two deliveries of one body with their own delivery ids are two executions.
    one = await api.post(HOOK, {"document": "12345"}, headers={"Webhook-Id": "msg_1"})
    two = await api.post(HOOK, {"document": "12345"}, headers={"Webhook-Id": "msg_2"})
    assert len({first.body["executionId"], one.body["executionId"], two.body["executionId"]}) == 3
    # An explicit key, as on the API: the same body again is the same execution, another is 409.
    key = {"Idempotency-Key": "delivery-42"}
    keyed = await api.post(HOOK, {"document": "777"}, headers=key)
    assert keyed.status == 201
    again = await api.post(HOOK, {"document": "777"}, headers=key)
    assert again.body["executionId"] == keyed.body["executionId"]
    (await api.post(HOOK, {"document": "778"}, headers=key)).error(409, "FLK-0505")
    (await api.post(HOOK, {"document": "1"}, headers={"Idempotency-Key": "  "})).error(400, "FLK-0509")
    # The same key through the API's start, with the same body as input: another workflow input
    # (the webhook's has _webhook), so 409 as any reuse.
    start = await api.post(
        f"/v1/workflows/{workflow_id}/executions", {"inputData": {"document": "778"}}, headers=key
    )
    start.error(409, "FLK-0505")


async def test_prefer_wait_answers_the_results(api: ApiClient, provider: StubProvider) -> None:
    kyc = await executor(api, provider)
    await active_workflow(api, webhook_kyc_workflow(kyc))
    reply = await api.post(HOOK, {"document": "12345"}, headers={"Prefer": "wait=10"})
    assert reply.status == 200, reply.text
    assert reply.headers["Preference-Applied"] == "wait=10"
    assert reply.body["status"] == "completed"
    assert reply.headers["X-Webhook-Execution-ID"] == reply.body["executionId"]


async def test_a_start_is_audited_as_a_start(api: ApiClient, provider: StubProvider) -> None:
    kyc = await executor(api, provider)
    await active_workflow(api, webhook_kyc_workflow(kyc))
    reply = await api.post(HOOK, {"document": "12345"})
    await ended(api, reply.body["executionId"])

    async def started() -> Reply:
        return await api.get(
            "/v1/audit-events",
            params={"resourceId": reply.body["executionId"], "eventType": "EXECUTION_STARTED"},
        )

    events = await eventually(started, lambda r: len(r.body["items"]) == 1)
    actor = events.body["items"][0]["actor"]
    assert actor["type"] == "api_key" and actor["id"].startswith("key-")
    assert API_KEY not in json.dumps(events.body)
