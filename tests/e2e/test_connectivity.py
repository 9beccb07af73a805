"""``POST /v1/executors/{id}/test``: the staged connectivity test, run by the front door."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from flowker.secretbox import SecretBox
from flowker.store.embedded import EmbeddedStore
from tests.helpers.client import ApiClient
from tests.helpers.stub_provider import StubProvider

GOOD_KEY = "kyc-secret-key-123456"


def guarded(body: Any, request: Any) -> tuple[int, Any]:
    return (200, {"ok": True}) if request.headers.get("X-API-Key") == GOOD_KEY else (401, {"error": "who?"})


@pytest.fixture
async def provider() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        stub.route("GET", "/v1", guarded)
        stub.route("GET", "/v1/status", guarded)
        stub.route("POST", "/v1/validate", (200, {"validated": True}))
        yield stub


def config(
    base_url: str, key: str = GOOD_KEY, endpoints: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "name": f"kyc-{uuid.uuid4().hex[:6]}",
        "baseUrl": base_url,
        "endpoints": endpoints
        or [
            {"name": "validate", "path": "/validate", "method": "POST"},
            {"name": "status", "path": "/status", "method": "GET"},
        ],
        "authentication": {"type": "api_key", "config": {"key": key}},
    }


def stages(reply: Any) -> list[tuple[str, str]]:
    return [(s["name"], s["status"]) for s in reply.body["stages"]]


async def test_all_stages_pass_and_nothing_that_may_change_data_is_called(
    api: ApiClient, provider: StubProvider
) -> None:
    created = await api.post("/v1/executors", config(provider.url + "/v1"))
    reply = await api.post(f"/v1/executors/{created.body['id']}/test")
    assert reply.status == 200, reply.text
    assert reply.body["overallStatus"] == "passed"
    assert stages(reply) == [
        ("connectivity", "passed"),
        ("authentication", "passed"),
        ("end_to_end", "passed"),
    ]
    assert reply.body["executorConfigId"] == created.body["id"]
    assert provider.calls("/v1/validate") == []
    assert [r.method for r in provider.calls("/v1/status")] == ["GET"]
    assert GOOD_KEY not in reply.text
    got = await api.get(f"/v1/executors/{created.body['id']}")
    assert got.body["lastTestedAt"] == reply.body["completedAt"]


async def test_refused_credentials_fail_authentication_and_skip_the_rest(
    api: ApiClient, provider: StubProvider
) -> None:
    created = await api.post("/v1/executors", config(provider.url + "/v1", key="wrong-key-0000000"))
    reply = await api.post(f"/v1/executors/{created.body['id']}/test")
    assert reply.body["overallStatus"] == "partial"
    assert stages(reply) == [
        ("connectivity", "passed"),
        ("authentication", "failed"),
        ("end_to_end", "skipped"),
    ]
    assert "wrong-key-0000000" not in reply.text


async def test_an_unreachable_provider_fails_connectivity(api: ApiClient) -> None:
    created = await api.post("/v1/executors", config("http://127.0.0.1:9/v1"))
    assert (await api.post(f"/v1/executors/{created.body['id']}/disable")).status == 200
    reply = await api.post(f"/v1/executors/{created.body['id']}/test")
    assert reply.status == 200
    assert reply.body["overallStatus"] == "failed"
    assert stages(reply) == [
        ("connectivity", "failed"),
        ("authentication", "skipped"),
        ("end_to_end", "skipped"),
    ]


async def test_without_a_safe_endpoint_end_to_end_is_skipped(api: ApiClient, provider: StubProvider) -> None:
    only_post = [{"name": "validate", "path": "/validate", "method": "POST"}]
    created = await api.post("/v1/executors", config(provider.url + "/v1", endpoints=only_post))
    reply = await api.post(f"/v1/executors/{created.body['id']}/test")
    assert stages(reply)[-1] == ("end_to_end", "skipped")
    assert reply.body["overallStatus"] == "passed"
    assert provider.calls("/v1/validate") == []


async def test_errors(api: ApiClient) -> None:
    (await api.post(f"/v1/executors/{uuid.uuid4()}/test")).error(404, "FLK-0250")
    (await api.post("/v1/executors/nope/test")).error(400, "FLK-0002")


async def test_a_secret_that_cannot_be_opened_is_refused_naming_the_field(
    api: ApiClient, provider: StubProvider, store: EmbeddedStore
) -> None:
    created = await api.post("/v1/executors", config(provider.url + "/v1"))
    stored = await store.executor_configs.get(created.body["id"])
    assert stored is not None
    # Sealed with another FLOWKER_SECRET_KEY than the service's.
    foreign = SecretBox(os.urandom(32)).seal(GOOD_KEY)
    await store.executor_configs.replace(
        stored.model_copy(update={"authentication": {"type": "api_key", "config": {"key": foreign}}})
    )
    reply = (await api.post(f"/v1/executors/{created.body['id']}/test")).error(422, "FLK-0253")
    assert "authentication.config.key cannot be opened" in reply.body["message"]
    assert GOOD_KEY not in reply.text and foreign not in reply.text
    assert provider.requests == []
