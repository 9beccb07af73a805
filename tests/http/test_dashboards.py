"""``/v1/dashboards``: the original's two summaries, over HTTP, counted by the store."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.helpers.client import ApiClient
from tests.helpers.fixtures import aml_executor, compliance_workflow, kyc_executor
from tests.http.test_openapi import check

WORKFLOWS = "/v1/dashboards/workflows/summary"
EXECUTIONS = "/v1/dashboards/executions"
NO_EXECUTIONS = {"total": 0, "pending": 0, "running": 0, "completed": 0, "failed": 0, "cancelled": 0}


def minimal(name: str) -> dict[str, Any]:
    return {"name": name, "nodes": [{"id": "start", "type": "trigger", "position": {"x": 0, "y": 0}}]}


async def created(api: ApiClient, body: dict[str, Any]) -> str:
    reply = await api.post("/v1/workflows", body)
    assert reply.status == 201, reply.text
    return str(reply.body["workflowId"])


async def run(api: ApiClient, workflow_id: str) -> dict[str, Any]:
    """Start an execution and wait for its end; its results."""
    headers = {"Idempotency-Key": str(uuid.uuid4()), "Prefer": "wait=30"}
    reply = await api.post(f"/v1/workflows/{workflow_id}/executions", {"inputData": {}}, headers=headers)
    assert reply.status == 200 and reply.headers.get("Preference-Applied"), reply.text
    return reply.body  # type: ignore[no-any-return]


async def test_empty_dashboards_count_nothing(api: ApiClient) -> None:
    workflows = check(await api.get(WORKFLOWS), "get", WORKFLOWS)
    assert workflows.status == 200
    assert workflows.body == {
        "total": 0,
        "active": 0,
        "byStatus": [
            {"status": "draft", "count": 0},
            {"status": "active", "count": 0},
            {"status": "inactive", "count": 0},
        ],
    }
    executions = check(await api.get(EXECUTIONS), "get", EXECUTIONS)
    assert (executions.status, executions.body) == (200, NO_EXECUTIONS)


async def test_workflows_are_counted_by_status(api: ApiClient) -> None:
    ids = [await created(api, minimal(f"summary {n}")) for n in range(5)]
    for workflow_id in ids[:3]:
        assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200
    assert (await api.post(f"/v1/workflows/{ids[0]}/deactivate")).status == 200
    summary = check(await api.get(WORKFLOWS), "get", WORKFLOWS).body
    assert summary == {
        "total": 5,
        "active": 2,
        "byStatus": [
            {"status": "draft", "count": 2},
            {"status": "active", "count": 2},
            {"status": "inactive", "count": 1},
        ],
    }


async def test_executions_are_counted_in_their_window_and_by_status(api: ApiClient) -> None:
    passing = await created(api, minimal("always completes"))
    kyc = (await api.post("/v1/executors", kyc_executor())).body["id"]
    aml = (await api.post("/v1/executors", aml_executor())).body["id"]
    failing = await created(api, compliance_workflow(kyc, aml))  # its providers listen nowhere
    for workflow_id in (passing, failing):
        assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200
    first = await run(api, passing)
    failed = await run(api, failing)
    last = await run(api, passing)
    assert (first["status"], failed["status"], last["status"]) == ("completed", "failed", "completed")

    everything = check(await api.get(EXECUTIONS), "get", EXECUTIONS).body
    assert everything == {**NO_EXECUTIONS, "total": 3, "completed": 2, "failed": 1}
    window = {"startTime": failed["startedAt"], "endTime": last["startedAt"]}  # both ends included
    assert (await api.get(EXECUTIONS, params=window)).body == {
        **NO_EXECUTIONS,
        "total": 2,
        "completed": 1,
        "failed": 1,
    }
    after = {"startTime": failed["startedAt"]}
    assert (await api.get(EXECUTIONS, params=after)).body["total"] == 2
    before = {"endTime": first["startedAt"]}
    assert (await api.get(EXECUTIONS, params=before)).body == {**NO_EXECUTIONS, "total": 1, "completed": 1}
    only_failed = await api.get(EXECUTIONS, params={"status": "failed"})
    assert only_failed.body == {**NO_EXECUTIONS, "total": 1, "failed": 1}
    future = {"startTime": "2999-01-01T00:00:00Z", "endTime": "2999-12-31T23:59:59+02:00"}
    assert (await api.get(EXECUTIONS, params=future)).body == NO_EXECUTIONS
    # Offsets and second precision are read as instants, whatever their spelling.
    whole_day = {"startTime": first["startedAt"][:10] + "T00:00:00-00:00", "endTime": "2999-01-01t00:00:00z"}
    assert (await api.get(EXECUTIONS, params=whole_day)).body["total"] >= 1


@pytest.mark.parametrize(
    "params",
    [
        {"startTime": "yesterday"},
        {"endTime": "2026-05-01"},  # a date without a time is not an RFC 3339 date-time
        {"startTime": "2026-13-01T00:00:00Z"},
        {"endTime": "2026-05-01T25:00:00Z"},
        {"startTime": "0001-01-01T00:00:00+01:00"},  # before year 1 in UTC
        {"startTime": "\uff12\uff10\uff12\uff16-05-01T00:00:00Z"},  # digits of another script
        {"startTime": "2026-05-02T00:00:00Z", "endTime": "2026-05-01T23:59:59Z"},
        {"status": "done"},
        {"status": "COMPLETED"},
    ],
)
async def test_a_bad_query_is_400_flk_0302(api: ApiClient, params: dict[str, str]) -> None:
    reply = check(await api.get(EXECUTIONS, params=params), "get", EXECUTIONS)
    reply.error(400, "FLK-0302")


async def test_the_same_instant_as_both_ends_is_a_valid_window(api: ApiClient) -> None:
    moment = {"startTime": "2026-05-01T00:00:00Z", "endTime": "2026-05-01T03:00:00+03:00"}
    assert (await api.get(EXECUTIONS, params=moment)).status == 200


async def test_dashboards_need_the_api_key(anon: ApiClient) -> None:
    for path in (WORKFLOWS, EXECUTIONS):
        (await anon.get(path)).error(401, "UNAUTHORIZED")
