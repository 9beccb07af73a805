"""An execution that outlives its deadline fails with a timeout message."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from flowker.settings import Settings
from tests.conftest import API_KEY
from tests.e2e.test_runtime import SCORE, finished, setup_workflow
from tests.helpers.client import ApiClient
from tests.helpers.stub_provider import StubProvider


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", port=0, api_keys=(API_KEY,), execution_timeout_seconds=1.0)


async def test_an_execution_past_its_deadline_fails(api: ApiClient) -> None:
    async with StubProvider() as provider:
        provider.route("POST", SCORE, (200, {"score": 1}), delay=4)
        workflow_id, _ = await setup_workflow(api, provider)
        started = await api.post(
            f"/v1/workflows/{workflow_id}/executions",
            {"inputData": {"txn": "slow"}},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        # Within 30 s, not 1: the first actors of a test start slowly on a busy machine.
        final = await finished(api, started.body["executionId"], within=30)
    assert final["status"] == "failed"
    assert "timed out" in final["errorMessage"]
    results = await api.get(f"/v1/executions/{started.body['executionId']}/results")
    assert results.status == 200 and results.body["stepResults"] == []
