"""Reference section 9.6 end to end: the webhook-triggered KYC workflow over real HTTP, on the real Ray
runtime, with a stub KYC provider on 127.0.0.1; and a second front door over the same store, which
sees the routes the first one's activations wrote."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from flowker.actors.runtime import RayRuntime
from flowker.bootstrap import build_services
from flowker.http.app import create_app
from flowker.secretbox import SecretBox
from flowker.settings import Settings
from flowker.store.embedded import EmbeddedStore
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient, Reply
from tests.helpers.fixtures import kyc_executor
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider
from tests.helpers.webhooks import webhook_kyc_workflow

KYC = "/v1/kyc/validate"


@pytest.fixture
async def provider() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        stub.route("POST", KYC, (200, {"customerId": "CUST-001", "riskScore": 25, "status": "approved"}))
        yield stub


@pytest.fixture
async def other_door(settings: Settings, runtime: RayRuntime, secret_key: str) -> AsyncIterator[ApiClient]:
    """A second front door: its own store connection to the same data directory, the same cluster."""
    store = await EmbeddedStore(settings.data_dir).open()
    services = build_services(
        store,
        SecretBox.from_text(secret_key),
        runtime,
        execution_timeout_seconds=settings.execution_timeout_seconds,
        verifier_key=runtime.verifier_key,
    )
    runner = web.AppRunner(create_app(settings, services, settings.api_keys))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession(url, headers={"X-API-Key": API_KEY}) as session:
            yield ApiClient(session)
    finally:
        await runner.cleanup()
        await store.close()


async def activate(api: ApiClient, definition: dict[str, Any]) -> str:
    created = await api.post("/v1/workflows", definition)
    assert created.status == 201, created.text
    workflow_id = str(created.body["workflowId"])
    assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200
    return workflow_id


async def completed(api: ApiClient, execution_id: str) -> Reply:
    reply = await eventually(
        lambda: api.get(f"/v1/executions/{execution_id}/results"), lambda r: r.status == 200, within=60
    )
    assert reply.body["status"] == "completed", reply.text
    return reply


async def test_webhook_triggered_kyc(api: ApiClient, provider: StubProvider) -> None:
    kyc = (await api.post("/v1/executors", kyc_executor(provider.url + "/v1/kyc"))).body["id"]
    workflow_id = await activate(api, webhook_kyc_workflow(kyc))

    reply = await api.post("/v1/webhooks/e2e/webhook-test", {"document": "12345"})
    assert reply.status == 201, reply.text
    execution_id = reply.headers["X-Webhook-Execution-ID"]
    assert reply.body["executionId"] == execution_id
    results = await completed(api, execution_id)
    assert results.body["finalOutput"]["kyc"]["result"] == {"customerId": "CUST-001"}
    webhook = results.body["finalOutput"]["workflow"]["_webhook"]
    assert (webhook["method"], webhook["path"]) == ("POST", "/e2e/webhook-test")
    assert [call.json for call in provider.calls(KYC)] == [{"document": "12345", "via": "POST"}]

    (await api.post("/v1/webhooks/e2e/unknown", {"document": "12345"})).error(404, "FLK-0361")
    assert (await api.post(f"/v1/workflows/{workflow_id}/deactivate")).status == 200
    (await api.post("/v1/webhooks/e2e/webhook-test", {"document": "12345"})).error(404, "FLK-0361")

    # With a verify_token: the right X-Webhook-Token starts it, a wrong or missing one is 401.
    secured = webhook_kyc_workflow(kyc, "/test/token-hook", token="my-secret-token", name="Token hook")
    await activate(api, secured)
    hook = "/v1/webhooks/test/token-hook"
    (await api.post(hook, {"document": "12345"})).error(401, "FLK-0362")
    (await api.post(hook, {"document": "12345"}, headers={"X-Webhook-Token": "nope"})).error(401, "FLK-0362")
    good = await api.post(hook, {"document": "12345"}, headers={"X-Webhook-Token": "my-secret-token"})
    assert good.status == 201, good.text
    await completed(api, good.headers["X-Webhook-Execution-ID"])
    assert len(provider.calls(KYC)) == 2


async def test_every_front_door_sees_the_same_routes(
    api: ApiClient, other_door: ApiClient, provider: StubProvider
) -> None:
    kyc = (await api.post("/v1/executors", kyc_executor(provider.url + "/v1/kyc"))).body["id"]
    workflow_id = await activate(api, webhook_kyc_workflow(kyc, "/shared/hook"))
    reply = await other_door.post("/v1/webhooks/shared/hook", {"document": "12345"})
    assert reply.status == 201, reply.text
    # The same delivery at the first door is the same execution (the derived key is in the store too).
    again = await api.post("/v1/webhooks/shared/hook", {"document": "12345"})
    assert again.body["executionId"] == reply.body["executionId"]
    await completed(api, reply.body["executionId"])
    # A second activation of the route, through the other door, is refused.
    rival = await other_door.post("/v1/workflows", webhook_kyc_workflow(kyc, "/shared/hook", name="rival"))
    (await other_door.post(f"/v1/workflows/{rival.body['workflowId']}/activate")).error(409, "FLK-0360")
    assert (await other_door.post(f"/v1/workflows/{workflow_id}/deactivate")).status == 200
    (await api.post("/v1/webhooks/shared/hook", {"document": "9"})).error(404, "FLK-0361")
