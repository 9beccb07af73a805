"""Property: whatever a provider answers — odd bytes, headers, nesting, sizes, statuses — every run on the
real runtime ends, each step calls its provider exactly once, and the audit chain verifies."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flowker.settings import Settings
from tests.conftest import API_KEY
from tests.helpers.audit import all_events
from tests.helpers.client import ApiClient
from tests.helpers.crash import finished, two_step_workflow
from tests.helpers.raw_provider import RawProvider, random_reply

#: Change to reproduce a failure; a failing case names its seed and number.
SEED = 20261202
CASES = 60


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """One attempt per call: then "one call per step" is exact, whatever the status."""
    return Settings(
        data_dir=tmp_path / "data",
        port=0,
        api_keys=(API_KEY,),
        retry_attempts=1,
        # A breaker that never opens: neither on consecutive failures nor on their rate.
        breaker_failure_threshold=10**6,
        breaker_sliding_window_size=1000,
        breaker_minimum_calls=1000,
    )


@pytest.fixture
async def provider() -> AsyncIterator[RawProvider]:
    async with RawProvider() as raw:
        yield raw


async def test_every_run_ends_with_one_call_per_step_whatever_the_provider_answers(
    api: ApiClient, provider: RawProvider
) -> None:
    executor = await api.post(
        "/v1/executors",
        {
            "name": f"random-{uuid.uuid4().hex[:6]}",
            "baseUrl": provider.url,
            "endpoints": [
                {"name": "a", "path": "/a", "method": "POST", "timeout": 10},
                {"name": "b", "path": "/b", "method": "POST", "timeout": 10},
            ],
            "authentication": {"type": "none"},
        },
    )
    assert executor.status == 201, executor.text
    workflow = await api.post("/v1/workflows", two_step_workflow(executor.body["id"]))
    workflow_id = workflow.body["workflowId"]
    assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200

    rng = random.Random(SEED)
    described: list[str] = []

    def reply() -> bytes:
        raw, what = random_reply(rng)
        described.append(what)
        return raw

    provider.replies = reply
    statuses: Counter[str] = Counter()
    for case in range(CASES):
        started = await api.post(
            f"/v1/workflows/{workflow_id}/executions",
            {"inputData": {"case": case}},
            headers={"Idempotency-Key": f"case-{case}"},
        )
        assert started.status == 201, started.text
        execution_id = started.body["executionId"]
        final = await finished(api, execution_id, within=30)
        where = f"seed {SEED}, case {case}, answers {described[-2:]}"
        assert final["status"] in ("completed", "failed"), (where, final)
        statuses[final["status"]] += 1
        results = (await api.get(f"/v1/executions/{execution_id}/results")).body
        called = [s["nodeId"] for s in results["stepResults"] if s["nodeId"] in ("a", "b")]
        keys = Counter(k for k in provider.idempotency_keys if k.startswith(execution_id))
        assert keys == Counter(f"{execution_id}:{node}" for node in called), (where, keys, called)
        if final["status"] == "failed":
            assert final["errorMessage"], where
            assert not final["errorMessage"].startswith("internal error"), (where, final["errorMessage"])

    # Not vacuous: both endings happened.
    assert statuses["completed"] and statuses["failed"], statuses
    events = await all_events(api)
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    verified = await api.get(f"/v1/audit-events/{events[-1]['eventId']}/verify")
    assert verified.body["isValid"] is True, verified.body
    ended = Counter(e["eventType"] for e in events if e["eventType"].startswith("EXECUTION_"))
    assert ended["EXECUTION_STARTED"] == CASES
    assert ended["EXECUTION_COMPLETED"] + ended["EXECUTION_FAILED"] == CASES
