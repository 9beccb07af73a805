"""``GET /v1/runtime/executions``, ``flowker ps`` and ``flowker executions show`` over the in-process
runtime: an execution held by its provider is listed while it runs, and gone once it ended."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from flowker.cli import main
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient
from tests.helpers.holding_provider import holding
from tests.helpers.metrics import run_one
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider


async def test_a_running_execution_is_listed_until_it_ends(
    api: ApiClient, server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLOWKER_API_KEY", API_KEY)
    async with StubProvider() as provider:
        hold = holding(provider)
        run = await run_one(api, provider.url, wait=False)
        await asyncio.wait_for(hold.arrived.wait(), 30)
        listed = await api.get("/v1/runtime/executions")
        assert listed.status == 200, listed.text
        (item,) = [i for i in listed.body["items"] if i["executionId"] == run.execution_id]
        assert item["workflowId"] == run.workflow_id and item["status"] == "running"
        assert item["currentNodeIds"] == ["call"] and item["totalSteps"] == 1
        assert item["supervisor"] and item["ageSeconds"] >= 0 and listed.body["unansweredSupervisors"] == 0
        filtered = await api.get("/v1/runtime/executions", params={"workflowId": str(uuid.uuid4())})
        assert filtered.body["items"] == []

        assert await asyncio.to_thread(main, ["ps", "--url", server]) == 0
        printed = capsys.readouterr().out
        assert run.execution_id in printed and "call" in printed and "EXECUTION" in printed
        assert await asyncio.to_thread(main, ["executions", "show", run.execution_id, "--url", server]) == 0
        shown = capsys.readouterr().out
        assert "Status     running" in shown and "calling: call" in shown

        hold.release()
        await eventually(
            lambda: api.get(f"/v1/executions/{run.execution_id}"), lambda r: r.body["status"] == "completed"
        )
    listed = await api.get("/v1/runtime/executions")
    assert run.execution_id not in {i["executionId"] for i in listed.body["items"]}
    assert await asyncio.to_thread(main, ["executions", "show", run.execution_id, "--url", server]) == 0
    shown = capsys.readouterr().out
    assert "Status     completed" in shown and "Timeline" in shown and "call" in shown


async def test_a_workflow_id_that_is_not_a_uuid_is_refused(api: ApiClient) -> None:
    reply = await api.get("/v1/runtime/executions", params={"workflowId": "nope"})
    assert (reply.status == 400 and reply.body["code"] == "FLK-0001") or reply.body["code"].startswith("FLK-")


async def test_the_live_list_needs_the_api_key(anon: ApiClient) -> None:
    assert (await anon.get("/v1/runtime/executions")).status == 401


async def test_ps_with_a_wrong_key_says_why_in_one_line(
    server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLOWKER_API_KEY", "not-the-key-0123456789")
    assert await asyncio.to_thread(main, ["ps", "--url", server]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "401" in err and "not-the-key" not in err
