"""The audit trail end to end: real HTTP, real Ray, stub providers on 127.0.0.1, the real SQLite file.

What is audited and by whom, the search API (filters, sort, cursors, every bad value), reading one
event, and the hash chain's verification — also after the database file was tampered with.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from flowker.domain.audit import chain_hash
from flowker.settings import Settings
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient, Reply
from tests.helpers.fixtures import aml_executor, compliance_workflow, kyc_executor
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider

KYC = "/v1/kyc/validate"
AML = "/v1/aml/check"
APPROVE_INPUT = {
    "customer": {"cpf": "123.456.789-00", "name": "John Doe"},
    "transaction": {"amount": 1500.50},
}
KEY_ID = "key-" + hashlib.sha256(API_KEY.encode()).hexdigest()[:12]
HTTP_ACTOR = {"type": "api_key", "id": KEY_ID, "ipAddress": "127.0.0.1"}
ROTATED_KEY = "rotated-kyc-secret-7f3a9c2e"
SECRETS = ("kyc-secret-key-123456", "aml-bearer-token-abcdef", ROTATED_KEY, API_KEY)
EVENT_FIELDS = {
    "eventId",
    "sequence",
    "eventType",
    "action",
    "result",
    "resourceType",
    "resourceId",
    "actor",
    "metadata",
    "timestamp",
    "previousHash",
    "hash",
    "hashScheme",
}


def kyc_answer(body: Any, _request: Any) -> tuple[int, Any]:
    return 200, {"customerId": "CUST-001", "riskScore": 25, "status": "approved"}


@pytest.fixture
async def providers() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        stub.route("POST", KYC, kyc_answer)
        stub.route("POST", AML, (200, {"amlStatus": "cleared", "referenceId": "AML-REF-9876"}))
        yield stub


# ---------------------------------------------------------------------------------------------------
# helpers


def minimal(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [{"id": "start", "type": "trigger", "position": {"x": 0, "y": 0}}],
        "edges": [],
    }


async def create_workflow(api: ApiClient, body: dict[str, Any]) -> str:
    reply = await api.post("/v1/workflows", body)
    assert reply.status == 201, reply.text
    return reply.body["workflowId"]


async def ok(reply: Any, status: int = 200) -> Reply:
    got = await reply
    assert got.status == status, got.text
    return got


async def pages(api: ApiClient, limit: int = 100, **params: str) -> tuple[list[dict[str, Any]], list[Reply]]:
    """Every event the filters select, walking the cursor to the end; also every page's reply."""
    events: list[dict[str, Any]] = []
    replies: list[Reply] = []
    cursor = ""
    while True:
        query = {**params, "limit": str(limit)}
        if cursor:
            query["cursor"] = cursor
        reply = await api.get("/v1/audit-events", params=query)
        assert reply.status == 200, reply.text
        assert set(reply.body) == {"items", "nextCursor", "hasMore"}
        assert len(reply.body["items"]) <= limit
        replies.append(reply)
        events.extend(reply.body["items"])
        if not reply.body["hasMore"]:
            assert reply.body["nextCursor"] == ""
            return events, replies
        assert len(reply.body["items"]) == limit
        assert reply.body["nextCursor"] == str(reply.body["items"][-1]["sequence"])
        cursor = reply.body["nextCursor"]
        assert len(replies) < 500, "the cursor never ends"


async def all_events(api: ApiClient, **params: str) -> list[dict[str, Any]]:
    events, _ = await pages(api, sortOrder="ASC", **params)
    return events


def summary(event: dict[str, Any]) -> tuple[Any, ...]:
    return (
        event["eventType"],
        event["action"],
        event["result"],
        event["resourceType"],
        event["resourceId"],
        event["metadata"],
    )


def wf_meta(name: str, status: str) -> dict[str, str]:
    return {"workflow.name": name, "workflow.status": status}


def ex_meta(name: str, status: str) -> dict[str, str]:
    return {"executorConfig.name": name, "executorConfig.status": status}


async def changes(api: ApiClient, provider_url: str) -> tuple[dict[str, str], list[tuple[Any, ...]]]:
    """Every kind of change over HTTP, one after the other; returns the ids and the events expected."""
    kyc = (await ok(api.post("/v1/executors", kyc_executor(provider_url + "/v1/kyc")), 201)).body["id"]
    aml = (await ok(api.post("/v1/executors", aml_executor(provider_url + "/v1/aml")), 201)).body["id"]
    await ok(
        api.patch(
            f"/v1/executors/{kyc}",
            {
                "description": "Patched KYC",
                "authentication": {"type": "api_key", "config": {"key": ROTATED_KEY, "header_name": "X-Key"}},
            },
        )
    )
    await ok(api.post(f"/v1/executors/{aml}/disable"))
    await ok(api.post(f"/v1/executors/{aml}/enable"))
    body = compliance_workflow(kyc, aml, name="audited workflow")
    workflow = await create_workflow(api, body)
    await ok(api.put(f"/v1/workflows/{workflow}", {**body, "name": "audited workflow v2"}))
    await ok(api.post(f"/v1/workflows/{workflow}/activate"))
    # A refused change is no change: nothing is audited for it.
    (await api.post(f"/v1/workflows/{workflow}/activate")).error(422, "FLK-0102")
    (await api.delete(f"/v1/executors/{aml}")).error(422, "FLK-0252")
    await ok(api.post(f"/v1/workflows/{workflow}/deactivate"))
    await ok(api.post(f"/v1/workflows/{workflow}/draft"))
    clone = (await ok(api.post(f"/v1/workflows/{workflow}/clone", {"name": "audited clone"}), 201)).body[
        "workflowId"
    ]
    await ok(api.delete(f"/v1/workflows/{workflow}"), 204)
    await ok(api.delete(f"/v1/executors/{aml}"), 204)

    expected = [
        (
            "EXECUTOR_CONFIG_CREATED",
            "CREATE",
            "SUCCESS",
            "executor_config",
            kyc,
            ex_meta("kyc-provider", "active"),
        ),
        (
            "EXECUTOR_CONFIG_CREATED",
            "CREATE",
            "SUCCESS",
            "executor_config",
            aml,
            ex_meta("aml-provider", "active"),
        ),
        (
            "EXECUTOR_CONFIG_UPDATED",
            "UPDATE",
            "SUCCESS",
            "executor_config",
            kyc,
            ex_meta("kyc-provider", "active"),
        ),
        (
            "EXECUTOR_CONFIG_DISABLED",
            "DISABLE",
            "SUCCESS",
            "executor_config",
            aml,
            ex_meta("aml-provider", "disabled"),
        ),
        (
            "EXECUTOR_CONFIG_ENABLED",
            "ENABLE",
            "SUCCESS",
            "executor_config",
            aml,
            ex_meta("aml-provider", "active"),
        ),
        ("WORKFLOW_CREATED", "CREATE", "SUCCESS", "workflow", workflow, wf_meta("audited workflow", "draft")),
        (
            "WORKFLOW_UPDATED",
            "UPDATE",
            "SUCCESS",
            "workflow",
            workflow,
            wf_meta("audited workflow v2", "draft"),
        ),
        (
            "WORKFLOW_ACTIVATED",
            "ACTIVATE",
            "SUCCESS",
            "workflow",
            workflow,
            wf_meta("audited workflow v2", "active"),
        ),
        (
            "WORKFLOW_DEACTIVATED",
            "DEACTIVATE",
            "SUCCESS",
            "workflow",
            workflow,
            wf_meta("audited workflow v2", "inactive"),
        ),
        (
            "WORKFLOW_DRAFTED",
            "DRAFT",
            "SUCCESS",
            "workflow",
            workflow,
            wf_meta("audited workflow v2", "draft"),
        ),
        ("WORKFLOW_CREATED", "CREATE", "SUCCESS", "workflow", clone, wf_meta("audited clone", "draft")),
        (
            "WORKFLOW_DELETED",
            "DELETE",
            "SUCCESS",
            "workflow",
            workflow,
            wf_meta("audited workflow v2", "draft"),
        ),
        (
            "EXECUTOR_CONFIG_DELETED",
            "DELETE",
            "SUCCESS",
            "executor_config",
            aml,
            ex_meta("aml-provider", "active"),
        ),
    ]
    return {"kyc": kyc, "aml": aml, "workflow": workflow, "clone": clone}, expected


async def run_workflow(
    api: ApiClient, providers: StubProvider, prefix: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """Executors and the reference workflow, activated and run once with the approve input to its end."""
    kyc = (
        await ok(
            api.post("/v1/executors", kyc_executor(providers.url + "/v1/kyc", name=f"{prefix}-kyc")), 201
        )
    ).body["id"]
    aml = (
        await ok(
            api.post("/v1/executors", aml_executor(providers.url + "/v1/aml", name=f"{prefix}-aml")), 201
        )
    ).body["id"]
    workflow = await create_workflow(api, compliance_workflow(kyc, aml, name=f"{prefix} workflow"))
    await ok(api.post(f"/v1/workflows/{workflow}/activate"))
    started = await ok(
        api.post(
            f"/v1/workflows/{workflow}/executions",
            {"inputData": APPROVE_INPUT},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        ),
        201,
    )
    execution_id = started.body["executionId"]
    finished = await eventually(
        lambda: api.get(f"/v1/executions/{execution_id}"),
        lambda r: r.body["status"] in ("completed", "failed", "cancelled"),
    )
    # The final event is written just after the execution's final state: wait for it too.
    await eventually(
        lambda: all_events(api, resourceId=execution_id),
        lambda events: (
            bool(events)
            and events[-1]["eventType"].startswith("EXECUTION_")
            and events[-1]["eventType"] != "EXECUTION_STARTED"
        ),
    )
    return {"kyc": kyc, "aml": aml, "workflow": workflow, "execution": execution_id}, finished.body


def tamper(settings: Settings, sequence: int, change: Any, *, columns: bool = False) -> dict[str, Any]:
    """Rewrite one stored event's JSON document directly in the SQLite file (and, with ``columns``, its
    searched columns to match, as a careful forger would); returns the new document."""
    with contextlib.closing(sqlite3.connect(settings.data_dir / "flowker.db")) as conn:
        row = conn.execute("SELECT doc FROM audit_events WHERE sequence = ?", (sequence,)).fetchone()
        assert row is not None
        doc = json.loads(row[0])
        change(doc)
        updated = conn.execute(
            "UPDATE audit_events SET doc = ? WHERE sequence = ?", (json.dumps(doc).encode(), sequence)
        )
        if columns:
            conn.execute(
                "UPDATE audit_events SET event_type = ?, action = ?, result = ?, resource_type = ?,"
                " resource_id = ?, created_at = ? WHERE sequence = ?",
                (
                    doc["eventType"],
                    doc["action"],
                    doc["result"],
                    doc["resourceType"],
                    doc["resourceId"],
                    doc["timestamp"],
                    sequence,
                ),
            )
        assert updated.rowcount == 1
        conn.commit()
    return doc


def delete_row(settings: Settings, sequence: int) -> None:
    with contextlib.closing(sqlite3.connect(settings.data_dir / "flowker.db")) as conn:
        assert conn.execute("DELETE FROM audit_events WHERE sequence = ?", (sequence,)).rowcount == 1
        conn.commit()


#: The original's answer fields; the checks below hold them, :func:`verify_full` the rest too.
ORIGINAL_FIELDS = {"isValid", "totalChecked", "message", "firstInvalidId", "firstInvalidSequence"}


async def verify_full(api: ApiClient, event_id: str) -> dict[str, Any]:
    reply = await api.get(f"/v1/audit-events/{event_id}/verify")
    assert reply.status == 200, reply.text
    return reply.body


async def verify(api: ApiClient, event_id: str) -> dict[str, Any]:
    """The original's fields of the answer."""
    return {k: v for k, v in (await verify_full(api, event_id)).items() if k in ORIGINAL_FIELDS}


async def workflows_log(api: ApiClient, count: int) -> list[dict[str, Any]]:
    """``count`` workflows created one after the other: a chain of ``count`` events."""
    for i in range(count):
        await create_workflow(api, minimal(f"chain-{i}"))
    events = await all_events(api)
    assert [e["sequence"] for e in events] == list(range(1, count + 1))
    return events


# ---------------------------------------------------------------------------------------------------
# what is audited


async def test_every_change_is_audited_with_its_actor(api: ApiClient, providers: StubProvider) -> None:
    ids, expected = await changes(api, providers.url)

    events, replies = await pages(api, sortOrder="ASC")
    assert [summary(e) for e in events] == expected
    assert [e["sequence"] for e in events] == list(range(1, len(expected) + 1))
    for event in events:
        assert set(event) == EVENT_FIELDS, event
        assert event["actor"] == HTTP_ACTOR
        assert event["actor"]["id"].startswith("key-") and len(event["actor"]["id"]) == 16
        assert event["actor"]["id"] != API_KEY
        uuid.UUID(event["eventId"])
        assert len(event["hash"]) == 64 and all(c in "0123456789abcdef" for c in event["hash"])
    assert events[0]["previousHash"] is None
    assert all(b["previousHash"] == a["hash"] for a, b in itertools.pairwise(events))
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    assert len({e["eventId"] for e in events}) == len(events)

    # No secret anywhere: not in the pages, not in any single event, not in the verification.
    texts = [r.text for r in replies]
    for event in events:
        single = await ok(api.get(f"/v1/audit-events/{event['eventId']}"))
        assert single.body == event
        texts.append(single.text)
    texts.append((await ok(api.get(f"/v1/audit-events/{events[-1]['eventId']}/verify"))).text)
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
    # ... which was really used: the stored configuration holds the rotated key, sealed.
    assert (await ok(api.get(f"/v1/executors/{ids['kyc']}"))).body["description"] == "Patched KYC"


async def test_an_execution_is_audited_step_by_step(api: ApiClient, providers: StubProvider) -> None:
    ids, execution = await run_workflow(api, providers, "approve")
    assert execution["status"] == "completed", execution

    events = await all_events(api, resourceId=ids["execution"])
    durations = [e["metadata"].pop("durationMs") for e in events if "durationMs" in e["metadata"]]
    assert len(durations) == 2 and all(isinstance(d, int) and d >= 0 for d in durations)
    workflow, execution_id = ids["workflow"], ids["execution"]
    kyc_call = {
        "workflowId": workflow,
        "nodeId": "kyc-executor",
        "stepNumber": 1,
        "executorConfigId": ids["kyc"],
        "endpointName": "validate",
        "runAttempt": 1,
    }
    aml_call = {
        "workflowId": workflow,
        "nodeId": "aml-executor",
        "stepNumber": 3,
        "executorConfigId": ids["aml"],
        "endpointName": "check",
        "runAttempt": 1,
    }
    done = {"attempts": 1, "statusCode": 200}
    assert [summary(e) for e in events] == [
        ("EXECUTION_STARTED", "EXECUTE", "SUCCESS", "execution", execution_id, {"workflowId": workflow}),
        ("PROVIDER_CALL_STARTED", "EXECUTE", "SUCCESS", "execution", execution_id, kyc_call),
        ("PROVIDER_CALL_COMPLETED", "EXECUTE", "SUCCESS", "execution", execution_id, {**kyc_call, **done}),
        ("PROVIDER_CALL_STARTED", "EXECUTE", "SUCCESS", "execution", execution_id, aml_call),
        ("PROVIDER_CALL_COMPLETED", "EXECUTE", "SUCCESS", "execution", execution_id, {**aml_call, **done}),
        ("EXECUTION_COMPLETED", "EXECUTE", "SUCCESS", "execution", execution_id, {"workflowId": workflow}),
    ]
    # Every event of the run is about what the API key's holder started, so it carries that actor.
    assert all(e["actor"] == HTTP_ACTOR for e in events)
    # The same events, and only they, are the log's execution events; the chain around them holds.
    execution_events = await all_events(api, resourceType="execution")
    assert [e["eventId"] for e in execution_events] == [e["eventId"] for e in events]
    everything = await all_events(api)
    assert [e["sequence"] for e in everything] == list(range(1, len(everything) + 1))
    assert len(everything) == 4 + len(events)  # 2 executors, the workflow, its activation
    check = await verify(api, everything[-1]["eventId"])
    assert check == {"isValid": True, "totalChecked": len(everything), "message": "hash chain is valid"}


async def test_a_failing_execution_is_audited_as_failed(api: ApiClient, providers: StubProvider) -> None:
    providers.route("POST", AML, (422, {"error": "bad customer"}))
    ids, execution = await run_workflow(api, providers, "failing")
    assert execution["status"] == "failed", execution

    events = await all_events(api, resourceId=ids["execution"])
    assert [(e["eventType"], e["result"]) for e in events] == [
        ("EXECUTION_STARTED", "SUCCESS"),
        ("PROVIDER_CALL_STARTED", "SUCCESS"),
        ("PROVIDER_CALL_COMPLETED", "SUCCESS"),
        ("PROVIDER_CALL_STARTED", "SUCCESS"),
        ("PROVIDER_CALL_FAILED", "FAILED"),
        ("EXECUTION_FAILED", "FAILED"),
    ]
    assert {(e["action"], e["resourceType"], e["resourceId"]) for e in events} == {
        ("EXECUTE", "execution", ids["execution"])
    }
    failed_call = events[4]["metadata"]
    assert failed_call["nodeId"] == "aml-executor"
    assert failed_call["stepNumber"] == 3
    assert failed_call["executorConfigId"] == ids["aml"]
    assert failed_call["attempts"] == 1
    assert failed_call["statusCode"] == 422
    assert failed_call["error"].startswith("executor call failed after 1 attempt")
    assert events[5]["metadata"] == {"workflowId": ids["workflow"], "error": execution["errorMessage"]}
    assert "aml-executor" in execution["errorMessage"]
    assert len(providers.calls(AML)) == 1
    failed = await all_events(api, result="FAILED")
    assert [e["eventType"] for e in failed] == ["PROVIDER_CALL_FAILED", "EXECUTION_FAILED"]


async def test_the_log_needs_the_api_key(anon: ApiClient, api: ApiClient) -> None:
    await create_workflow(api, minimal("one"))
    event = (await ok(api.get("/v1/audit-events"))).body["items"][0]
    (await anon.get("/v1/audit-events")).error(401, "UNAUTHORIZED")
    (await anon.get(f"/v1/audit-events/{event['eventId']}")).error(401, "UNAUTHORIZED")
    (await anon.get(f"/v1/audit-events/{event['eventId']}/verify")).error(401, "UNAUTHORIZED")


# ---------------------------------------------------------------------------------------------------
# search


@pytest.fixture
async def populated(api: ApiClient, providers: StubProvider) -> dict[str, Any]:
    """Changes of every kind, a failed execution and some more workflows: over 30 events."""
    ids, _ = await changes(api, providers.url)
    providers.route("POST", AML, (422, {"error": "bad customer"}))
    run, _ = await run_workflow(api, providers, "search")
    for i in range(8):
        await create_workflow(api, minimal(f"filler-{i}"))
    events = await all_events(api)
    assert len(events) == 13 + 4 + 6 + 8
    return {**ids, **{f"run_{k}": v for k, v in run.items()}, "events": events}


async def test_default_listing_is_newest_first_twenty(api: ApiClient, populated: dict[str, Any]) -> None:
    events = populated["events"]
    n = len(events)
    first = await ok(api.get("/v1/audit-events"))
    assert [e["sequence"] for e in first.body["items"]] == list(range(n, n - 20, -1))
    assert first.body["items"] == events[::-1][:20]
    assert first.body["hasMore"] is True
    assert first.body["nextCursor"] == str(n - 19)

    second = await ok(api.get("/v1/audit-events", params={"cursor": first.body["nextCursor"]}))
    assert [e["sequence"] for e in second.body["items"]] == list(range(n - 20, 0, -1))
    assert (second.body["hasMore"], second.body["nextCursor"]) == (False, "")

    five = await ok(api.get("/v1/audit-events", params={"limit": "5"}))
    assert [e["sequence"] for e in five.body["items"]] == [n, n - 1, n - 2, n - 3, n - 4]
    assert (five.body["hasMore"], five.body["nextCursor"]) == (True, str(n - 4))
    hundred = await ok(api.get("/v1/audit-events", params={"limit": "100", "sortOrder": "asc"}))
    assert hundred.body == {"items": events, "nextCursor": "", "hasMore": False}
    exact = await ok(api.get("/v1/audit-events", params={"limit": str(n), "sortOrder": "ASC"}))
    assert (len(exact.body["items"]), exact.body["hasMore"], exact.body["nextCursor"]) == (n, False, "")


@pytest.mark.parametrize("order", ["ASC", "DESC"])
async def test_cursor_pagination_walks_every_event_once(
    api: ApiClient, populated: dict[str, Any], order: str
) -> None:
    events = populated["events"]
    walked, replies = await pages(api, limit=7, sortOrder=order)
    expected = events if order == "ASC" else events[::-1]
    assert [e["sequence"] for e in walked] == [e["sequence"] for e in expected]
    assert walked == expected
    assert len(replies) == -(-len(events) // 7)
    # With a filter too: the cursor only walks what the filter selects.
    created, replies = await pages(api, limit=3, sortOrder=order, eventType="WORKFLOW_CREATED")
    want = [e for e in expected if e["eventType"] == "WORKFLOW_CREATED"]
    assert created == want and len(want) == 11
    assert len(replies) == 4


async def test_filters(api: ApiClient, populated: dict[str, Any]) -> None:
    events = populated["events"]

    def only(**match: str) -> list[dict[str, Any]]:
        return [e for e in events if all(e[k] == v for k, v in match.items())]

    cases: list[tuple[dict[str, str], list[dict[str, Any]], int]] = [
        ({"eventType": "WORKFLOW_CREATED"}, only(eventType="WORKFLOW_CREATED"), 11),
        ({"eventType": "EXECUTOR_CONFIG_DELETED"}, only(eventType="EXECUTOR_CONFIG_DELETED"), 1),
        ({"eventType": "EXECUTION_CANCELLED"}, [], 0),
        ({"action": "UPDATE"}, only(action="UPDATE"), 2),
        ({"action": "EXECUTE"}, only(action="EXECUTE"), 6),
        ({"result": "FAILED"}, only(result="FAILED"), 2),
        ({"result": "SUCCESS"}, only(result="SUCCESS"), len(events) - 2),
        ({"resourceType": "executor_config"}, only(resourceType="executor_config"), 6 + 2),
        ({"resourceType": "execution"}, only(resourceType="execution"), 6),
        ({"resourceType": "workflow"}, only(resourceType="workflow"), 7 + 2 + 8),
        ({"resourceId": populated["workflow"]}, only(resourceId=populated["workflow"]), 6),
        ({"resourceId": populated["workflow"].upper()}, only(resourceId=populated["workflow"]), 6),
        ({"resourceId": populated["aml"]}, only(resourceId=populated["aml"]), 4),
        ({"resourceId": str(uuid.uuid4())}, [], 0),
        (
            {"resourceType": "workflow", "action": "CREATE"},
            only(resourceType="workflow", action="CREATE"),
            11,
        ),
        (
            {"resourceId": populated["run_execution"], "result": "FAILED", "eventType": "EXECUTION_FAILED"},
            only(resourceId=populated["run_execution"], eventType="EXECUTION_FAILED"),
            1,
        ),
    ]
    for params, want, count in cases:
        assert len(want) == count, params
        assert await all_events(api, **params) == want, params
        newest = await ok(api.get("/v1/audit-events", params={**params, "limit": "100"}))
        assert newest.body["items"] == want[::-1], params
    assert [e["eventType"] for e in only(resourceId=populated["workflow"])] == [
        "WORKFLOW_CREATED",
        "WORKFLOW_UPDATED",
        "WORKFLOW_ACTIVATED",
        "WORKFLOW_DEACTIVATED",
        "WORKFLOW_DRAFTED",
        "WORKFLOW_DELETED",
    ]


async def test_date_filters_use_real_event_times(api: ApiClient, populated: dict[str, Any]) -> None:
    events = populated["events"]
    low, high = events[5]["timestamp"], events[-6]["timestamp"]
    assert low < high

    def between(start: str | None, end: str | None) -> list[dict[str, Any]]:
        return [
            e
            for e in events
            if (start is None or e["timestamp"] >= start) and (end is None or e["timestamp"] <= end)
        ]

    inside = await all_events(api, dateFrom=low, dateTo=high)
    assert inside == between(low, high)
    assert inside[0]["timestamp"] == low and inside[-1]["timestamp"] == high  # both ends inclusive
    assert 0 < len(inside) < len(events)
    assert await all_events(api, dateFrom=low) == between(low, None)
    assert await all_events(api, dateTo=high) == between(None, high)
    same = await all_events(api, dateFrom=low, dateTo=low)
    assert same == between(low, low) and events[5] in same

    # The same instants written with an offset select the same events.
    def shifted(stamp: str, hours: int) -> str:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        return moment.astimezone(timezone(timedelta(hours=hours))).isoformat()

    assert shifted(low, 2).endswith("+02:00") and shifted(high, -5).endswith("-05:00")
    assert await all_events(api, dateFrom=shifted(low, 2), dateTo=shifted(high, -5)) == between(low, high)

    # One microsecond past the last event: nothing; one before the first: everything.
    def moment(stamp: str) -> datetime:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))

    after_last = moment(events[-1]["timestamp"]) + timedelta(microseconds=1)
    before_first = moment(events[0]["timestamp"]) - timedelta(microseconds=1)
    assert await all_events(api, dateFrom=after_last.isoformat()) == []
    assert await all_events(api, dateFrom=before_first.isoformat()) == events
    assert await all_events(api, dateTo=before_first.isoformat()) == []
    # Combined with another filter and the cursor.
    walked, _ = await pages(
        api, limit=2, sortOrder="DESC", dateFrom=low, dateTo=high, resourceType="workflow"
    )
    assert walked == [e for e in between(low, high) if e["resourceType"] == "workflow"][::-1]


BAD_FILTERS = [
    ({"eventType": "NOPE"}, "FLK-0601"),
    ({"eventType": "workflow_created"}, "FLK-0601"),
    ({"eventType": "SCHEDULE_CREATED"}, "FLK-0601"),  # no such event (PROVIDER_CONFIG_* are real now)
    ({"action": "FLY"}, "FLK-0602"),
    ({"action": "create"}, "FLK-0602"),
    ({"result": "MAYBE"}, "FLK-0603"),
    ({"resourceType": "schedule"}, "FLK-0605"),
    ({"resourceType": "WORKFLOW"}, "FLK-0605"),
    ({"resourceId": "not-a-uuid"}, "FLK-0002"),
    ({"resourceId": "12345"}, "FLK-0002"),
    ({"dateFrom": "yesterday"}, "FLK-0305"),
    ({"dateTo": "2026-02-30T00:00:00Z"}, "FLK-0305"),
    ({"dateFrom": "2026-01-01T25:00:00Z"}, "FLK-0305"),
    ({"dateTo": "2026-01-01T00:00:00+25:00"}, "FLK-0305"),
    ({"dateFrom": "2026-06-02T00:00:00Z", "dateTo": "2026-06-01T00:00:00Z"}, "FLK-0308"),
    ({"dateFrom": "2026-06-01T00:00:00Z", "dateTo": "2026-06-01T01:59:59+02:00"}, "FLK-0308"),
    ({"limit": "0"}, "FLK-0309"),
    ({"limit": "-1"}, "FLK-0309"),
    ({"limit": "abc"}, "FLK-0309"),
    ({"limit": "2.5"}, "FLK-0309"),
    ({"sortOrder": "sideways"}, "FLK-0310"),
    ({"cursor": "abc"}, "FLK-0610"),
    ({"cursor": "-1"}, "FLK-0610"),
    ({"cursor": "1.5"}, "FLK-0610"),
    ({"cursor": "9" * 40}, "FLK-0610"),
]


async def test_every_bad_filter_is_a_400_with_its_code(api: ApiClient) -> None:
    await create_workflow(api, minimal("one"))
    for params, code in BAD_FILTERS:
        reply = await api.get("/v1/audit-events", params=params)
        assert reply.status != 500, (params, reply.text)
        reply.error(400, code)
    # And the values right at the limits are fine.
    for params in (
        {"limit": "1"},
        {"limit": "100"},
        {"limit": "101"},  # above the maximum: read as 100
        {"limit": "99999999999999999999"},
        {"cursor": "0"},
        {"sortOrder": "desc"},
        {"eventType": ""},
    ):
        reply = await api.get("/v1/audit-events", params=params)
        assert reply.status == 200, (params, reply.text)


async def test_dates_before_the_year_1000(api: ApiClient) -> None:
    """Valid RFC 3339 instants in the first millennium: every event is after them."""
    await create_workflow(api, minimal("one"))
    events = await all_events(api)
    assert len(events) == 1
    # Each query alone, so that one wrong answer does not hide the others.
    answers = {}
    for params in (
        {"dateFrom": "0999-01-01T00:00:00Z"},
        {"dateTo": "0999-01-01T00:00:00Z"},
        {"dateFrom": "0999-01-01T00:00:00Z", "dateTo": "2999-01-01T00:00:00Z"},
    ):
        reply = await api.get("/v1/audit-events", params=params)
        answers[tuple(params.items())] = (reply.status, [e["eventId"] for e in reply.body.get("items", [])])
    ids = [e["eventId"] for e in events]
    assert answers == {
        (("dateFrom", "0999-01-01T00:00:00Z"),): (200, ids),
        (("dateTo", "0999-01-01T00:00:00Z"),): (200, []),
        (("dateFrom", "0999-01-01T00:00:00Z"), ("dateTo", "2999-01-01T00:00:00Z")): (200, ids),
    }


async def test_dates_outside_the_calendar_are_not_a_500(api: ApiClient) -> None:
    """Instants whose UTC value falls outside years 1..9999: a 400 FLK-0305 or a right answer."""
    await create_workflow(api, minimal("one"))
    events = await all_events(api)
    assert len(events) == 1
    for params in ({"dateFrom": "0001-01-01T00:00:00+01:00"}, {"dateTo": "9999-12-31T23:59:59-01:00"}):
        reply = await api.get("/v1/audit-events", params=params)
        assert reply.status != 500, (params, reply.text)
        if reply.status == 400:
            reply.error(400, "FLK-0305")
        else:
            assert reply.status == 200 and reply.body["items"] == events, (params, reply.text)


# ---------------------------------------------------------------------------------------------------
# one event


async def test_get_one_event(api: ApiClient) -> None:
    events = await workflows_log(api, 3)
    for event in events:
        assert (await ok(api.get(f"/v1/audit-events/{event['eventId']}"))).body == event
    upper = await ok(api.get(f"/v1/audit-events/{events[1]['eventId'].upper()}"))
    assert upper.body == events[1]
    unknown = str(uuid.uuid4())
    (await api.get(f"/v1/audit-events/{unknown}")).error(404, "FLK-0600")
    (await api.get(f"/v1/audit-events/{unknown}/verify")).error(404, "FLK-0600")
    (await api.get("/v1/audit-events/not-a-uuid")).error(400, "FLK-0002")
    (await api.get("/v1/audit-events/not-a-uuid/verify")).error(400, "FLK-0002")
    (await api.get("/v1/audit-events/1")).error(400, "FLK-0002")


# ---------------------------------------------------------------------------------------------------
# verification and tampering


async def test_verify_an_intact_chain(api: ApiClient) -> None:
    events = await workflows_log(api, 9)
    for event in events:
        check = await verify(api, event["eventId"])
        assert check == {"isValid": True, "totalChecked": event["sequence"], "message": "hash chain is valid"}


async def test_an_edited_event_is_named(api: ApiClient, settings: Settings) -> None:
    events = await workflows_log(api, 10)
    assert (await verify(api, events[-1]["eventId"]))["isValid"] is True
    target, later = events[4], events[7]

    def forge(doc: dict[str, Any]) -> None:
        doc["metadata"]["workflow.name"] = "forged"

    tamper(settings, target["sequence"], forge)
    tamper(settings, later["sequence"], lambda doc: doc.update(resourceId=str(uuid.uuid4())))
    # The API serves what is stored ...
    assert (await ok(api.get(f"/v1/audit-events/{target['eventId']}"))).body["metadata"]["workflow.name"] == (
        "forged"
    )
    # ... and verification names the first altered event, exactly.
    check = await verify(api, events[-1]["eventId"])
    assert check["isValid"] is False
    assert check["firstInvalidId"] == target["eventId"]
    assert check["firstInvalidSequence"] == target["sequence"] == 5
    assert check["totalChecked"] == 5
    assert "hash mismatch" in check["message"] and "sequence 5" in check["message"]
    assert set(check) == {"isValid", "totalChecked", "message", "firstInvalidId", "firstInvalidSequence"}
    full = await verify_full(api, events[-1]["eventId"])
    assert (full["reason"], full["checked"]) == ("entry_hash_mismatch", 4)
    assert (await verify(api, target["eventId"]))["firstInvalidId"] == target["eventId"]
    # Everything before the edit still verifies.
    before = await verify(api, events[3]["eventId"])
    assert before == {"isValid": True, "totalChecked": 4, "message": "hash chain is valid"}


async def test_an_edited_resource_id_is_caught(api: ApiClient, settings: Settings) -> None:
    events = await workflows_log(api, 6)
    target = events[2]
    tamper(settings, target["sequence"], lambda doc: doc.update(resourceId=str(uuid.uuid4())))
    check = await verify(api, events[-1]["eventId"])
    assert (check["isValid"], check["firstInvalidId"], check["firstInvalidSequence"]) == (
        False,
        target["eventId"],
        3,
    )
    assert "hash mismatch" in check["message"]
    assert (await verify(api, events[1]["eventId"]))["isValid"] is True


async def test_a_deleted_event_is_a_sequence_gap(api: ApiClient, settings: Settings) -> None:
    events = await workflows_log(api, 10)
    gone, next_one = events[5], events[6]
    delete_row(settings, gone["sequence"])

    (await api.get(f"/v1/audit-events/{gone['eventId']}")).error(404, "FLK-0600")
    (await api.get(f"/v1/audit-events/{gone['eventId']}/verify")).error(404, "FLK-0600")
    check = await verify(api, events[-1]["eventId"])
    assert check["isValid"] is False
    assert check["firstInvalidId"] == next_one["eventId"]
    assert check["firstInvalidSequence"] == 7
    assert check["totalChecked"] == 6
    assert (
        "sequence gap" in check["message"]
        and "expected 6" in check["message"]
        and "found 7" in check["message"]
    )
    assert (await verify_full(api, events[-1]["eventId"]))["reason"] == "sequence_gap"
    assert await verify(api, events[4]["eventId"]) == {
        "isValid": True,
        "totalChecked": 5,
        "message": "hash chain is valid",
    }
    remaining = await all_events(api)
    assert [e["sequence"] for e in remaining] == [1, 2, 3, 4, 5, 7, 8, 9, 10]


async def test_a_rewritten_and_rehashed_event_breaks_the_next_link(
    api: ApiClient, settings: Settings
) -> None:
    events = await workflows_log(api, 10)
    target, next_one = events[3], events[4]

    def rewrite(doc: dict[str, Any]) -> None:
        doc["resourceId"] = str(uuid.uuid4())
        doc["metadata"]["workflow.name"] = "rewritten"
        body = {k: v for k, v in doc.items() if k not in ("hash", "previousHash")}
        doc["hash"] = chain_hash(doc["previousHash"], body)

    forged = tamper(settings, target["sequence"], rewrite, columns=True)
    assert forged["hash"] != target["hash"] and forged["previousHash"] == events[2]["hash"]
    # The forged event is consistent in itself: verifying up to it passes ...
    assert await verify(api, target["eventId"]) == {
        "isValid": True,
        "totalChecked": 4,
        "message": "hash chain is valid",
    }
    # ... but its successor no longer links to it.
    check = await verify(api, events[-1]["eventId"])
    assert check["isValid"] is False
    assert check["firstInvalidId"] == next_one["eventId"]
    assert check["firstInvalidSequence"] == 5
    assert check["totalChecked"] == 5
    assert "chain break" in check["message"] and "sequence 5" in check["message"]
    assert (await verify_full(api, events[-1]["eventId"]))["reason"] == "previous_hash_mismatch"


async def test_the_chain_goes_on_after_a_tampered_event(api: ApiClient, settings: Settings) -> None:
    """New events keep chaining from the stored head; verification keeps naming the old tampering."""
    events = await workflows_log(api, 5)
    tamper(settings, 2, lambda doc: doc["metadata"].update({"workflow.status": "active"}))
    await create_workflow(api, minimal("after the tampering"))
    now = await all_events(api)
    assert [e["sequence"] for e in now] == [1, 2, 3, 4, 5, 6]
    assert now[5]["previousHash"] == events[4]["hash"]
    check = await verify(api, now[5]["eventId"])
    assert (check["isValid"], check["firstInvalidId"], check["firstInvalidSequence"]) == (
        False,
        events[1]["eventId"],
        2,
    )


# ---------------------------------------------------------------------------------------------------
# concurrency


async def test_a_burst_of_concurrent_changes_is_one_gapless_chain(api: ApiClient) -> None:
    names = [f"burst-{i:02d}" for i in range(30)]
    replies = await asyncio.gather(*(api.post("/v1/workflows", minimal(name)) for name in names))
    assert [r.status for r in replies] == [201] * 30, [r.text for r in replies if r.status != 201]
    created = {r.body["workflowId"] for r in replies}
    assert len(created) == 30

    events = await all_events(api)
    assert [e["sequence"] for e in events] == list(range(1, 31))
    assert {e["resourceId"] for e in events} == created
    assert sorted(e["metadata"]["workflow.name"] for e in events) == names
    assert {(e["eventType"], e["action"], e["resourceType"]) for e in events} == {
        ("WORKFLOW_CREATED", "CREATE", "workflow")
    }
    assert all(e["actor"] == HTTP_ACTOR for e in events)
    assert events[0]["previousHash"] is None
    assert all(b["previousHash"] == a["hash"] for a, b in itertools.pairwise(events))
    check = await verify(api, events[-1]["eventId"])
    assert check == {"isValid": True, "totalChecked": 30, "message": "hash chain is valid"}
    # Every workflow's single event is found by its id.
    for workflow_id in list(created)[:5]:
        mine = await all_events(api, resourceId=workflow_id)
        assert [(e["eventType"], e["resourceId"]) for e in mine] == [("WORKFLOW_CREATED", workflow_id)]
