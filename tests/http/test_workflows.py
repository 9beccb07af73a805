"""``/v1/workflows`` over real HTTP: every endpoint, its success and its errors."""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import Any

import pytest

from tests.helpers.client import ApiClient, Reply
from tests.helpers.fixtures import aml_executor, compliance_workflow, kyc_executor


def minimal(name: str = "minimal", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [{"id": "start", "type": "trigger", "position": {"x": 0, "y": 0}}],
        "edges": [],
        **extra,
    }


async def create(api: ApiClient, body: dict[str, Any]) -> str:
    reply = await api.post("/v1/workflows", body)
    assert reply.status == 201, reply.text
    return reply.body["workflowId"]


async def executors(api: ApiClient) -> tuple[str, str]:
    kyc = await api.post("/v1/executors", kyc_executor())
    aml = await api.post("/v1/executors", aml_executor())
    assert (kyc.status, aml.status) == (201, 201)
    return kyc.body["id"], aml.body["id"]


async def compliance(api: ApiClient, name: str = "complex compliance workflow") -> tuple[str, dict[str, Any]]:
    kyc_id, aml_id = await executors(api)
    body = compliance_workflow(kyc_id, aml_id, name=name)
    return await create(api, body), body


def definition_of(reply: Reply) -> dict[str, Any]:
    return {k: v for k, v in reply.body.items() if k in ("name", "description", "nodes", "edges", "metadata")}


async def test_reference_workflow_round_trips_unchanged_and_activates(api: ApiClient) -> None:
    workflow_id, body = await compliance(api)

    got = await api.get(f"/v1/workflows/{workflow_id}")
    assert got.status == 200
    assert definition_of(got) == body
    assert got.body["status"] == "draft"
    assert got.body["createdAt"] == got.body["updatedAt"]

    activated = await api.post(f"/v1/workflows/{workflow_id}/activate")
    assert activated.status == 200, activated.text
    assert activated.body["status"] == "active"
    assert definition_of(activated) == body
    assert (await api.get(f"/v1/workflows/{workflow_id}")).body["status"] == "active"


async def test_create_answers_like_the_original(api: ApiClient) -> None:
    reply = await api.post("/v1/workflows", minimal())
    assert reply.status == 201
    assert set(reply.body) == {"workflowId", "version", "status", "createdAt"}
    assert reply.body["version"] == "1.0.0" and reply.body["status"] == "draft"
    assert uuid.UUID(reply.body["workflowId"]).version == 4


async def test_twenty_parallel_creates_of_one_name_give_exactly_one_201(api: ApiClient) -> None:
    replies = await asyncio.gather(*(api.post("/v1/workflows", minimal("same name")) for _ in range(20)))
    statuses = sorted(r.status for r in replies)
    assert statuses == [201] + [409] * 19
    for reply in replies:
        if reply.status == 409:
            reply.error(409, "FLK-0101")
    listed = await api.get("/v1/workflows?limit=100")
    assert [w["name"] for w in listed.body["items"]] == ["same name"]


def _with(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    target: Any = body
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return body


NODE = {"id": "n", "type": "action", "position": {"x": 0, "y": 0}}
INVALID_DRAFTS: list[tuple[str, dict[str, Any], str, str]] = [
    ("no name", {"nodes": []}, "FLK-0110", "name"),
    ("blank name", {"name": "   "}, "FLK-0110", "name"),
    ("long name", {"name": "x" * 101}, "FLK-0111", "100"),
    ("long description", {"name": "d", "description": "x" * 501}, "FLK-0117", "description"),
    (
        "too many nodes",
        {"name": "n", "nodes": [{**NODE, "id": f"n{i}"} for i in range(101)]},
        "FLK-0113",
        "100",
    ),
    (
        "too many edges",
        {
            "name": "e",
            "nodes": [NODE],
            "edges": [{"id": f"e{i}", "source": "n", "target": "n"} for i in range(201)],
        },
        "FLK-0114",
        "200",
    ),
    ("node without id", {"name": "n", "nodes": [{**NODE, "id": ""}]}, "FLK-0120", "nodes[0].id"),
    ("long node id", {"name": "n", "nodes": [{**NODE, "id": "x" * 51}]}, "FLK-0122", "nodes[0].id"),
    ("duplicate node id", {"name": "n", "nodes": [NODE, NODE]}, "FLK-0123", "nodes[1].id"),
    ("node without type", {"name": "n", "nodes": [{**NODE, "type": ""}]}, "FLK-0121", "nodes[0].type"),
    ("unknown node type", {"name": "n", "nodes": [{**NODE, "type": "terminal"}]}, "FLK-0124", "terminal"),
    (
        "edge to a missing node",
        {"name": "n", "nodes": [NODE], "edges": [{"id": "e", "source": "n", "target": "ghost"}]},
        "FLK-0115",
        "ghost",
    ),
    (
        "edge without id",
        {"name": "n", "nodes": [NODE], "edges": [{"source": "n", "target": "n"}]},
        "FLK-0130",
        "id",
    ),
    (
        "edge without source",
        {"name": "n", "nodes": [NODE], "edges": [{"id": "e", "target": "n"}]},
        "FLK-0131",
        "source",
    ),
    (
        "edge without target",
        {"name": "n", "nodes": [NODE], "edges": [{"id": "e", "source": "n"}]},
        "FLK-0132",
        "target",
    ),
    (
        "duplicate edge id",
        {
            "name": "n",
            "nodes": [NODE],
            "edges": [{"id": "e", "source": "n", "target": "n"}, {"id": "e", "source": "n", "target": "n"}],
        },
        "FLK-0133",
        "edges[1].id",
    ),
    (
        "condition syntax error",
        {"name": "c", "nodes": [{**NODE, "type": "conditional", "data": {"condition": "a.b <"}}]},
        "FLK-0105",
        "position",
    ),
    (
        "edge condition syntax error",
        {
            "name": "c",
            "nodes": [NODE],
            "edges": [{"id": "e", "source": "n", "target": "n", "condition": "(x"}],
        },
        "FLK-0105",
        "edges[0].condition",
    ),
    (
        "bad input mapping",
        {
            "name": "m",
            "nodes": [
                {**NODE, "type": "executor", "data": {"inputMapping": [{"source": "a..b", "target": "x"}]}}
            ],
        },
        "FLK-0140",
        "inputMapping",
    ),
    (
        "bad output mapping",
        {"name": "m", "nodes": [{**NODE, "type": "executor", "data": {"outputMapping": "body"}}]},
        "FLK-0141",
        "outputMapping",
    ),
    (
        "unknown transformation",
        {
            "name": "m",
            "nodes": [
                {
                    **NODE,
                    "type": "executor",
                    "data": {
                        "inputMapping": [{"source": "a", "target": "b", "transformation": {"type": "rot13"}}]
                    },
                }
            ],
        },
        "FLK-0140",
        "rot13",
    ),
    (
        "raw transforms",
        {"name": "m", "nodes": [{**NODE, "type": "executor", "data": {"transforms": []}}]},
        "FLK-0142",
        "transforms",
    ),
    (
        "set_output without an object",
        {"name": "a", "nodes": [{**NODE, "data": {"actionType": "set_output", "output": "approved"}}]},
        "FLK-0125",
        "output",
    ),
    (
        "too many metadata entries",
        {"name": "m", "metadata": {f"k{i}": i for i in range(51)}},
        "FLK-0315",
        "metadata",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "code", "mentions"), INVALID_DRAFTS, ids=[c[0] for c in INVALID_DRAFTS]
)
async def test_invalid_definition_is_refused_and_changes_nothing(
    api: ApiClient, case: str, body: dict[str, Any], code: str, mentions: str
) -> None:
    reply = await api.post("/v1/workflows", body)
    reply.error(400, code)
    assert mentions in reply.body["message"]
    assert (await api.get("/v1/workflows")).body["items"] == []


@pytest.mark.parametrize(
    ("node_id", "mentions"),
    [
        (
            "workflow",
            'node id "workflow" is reserved: conditions and mappings read the execution\'s input as '
            '"workflow.…"',
        ),
        (
            "kyc.v2",
            'node id "kyc.v2" contains ".", which conditions and mappings read as the field separator',
        ),
        ("items[0]", 'contains "["'),
    ],
)
async def test_a_node_id_that_paths_would_misread_is_refused_on_create_and_replace(
    api: ApiClient, node_id: str, mentions: str
) -> None:
    body = minimal("misread ids")
    body["nodes"].append({"id": node_id, "type": "action", "position": {"x": 0, "y": 1}})
    body["edges"].append({"id": "e1", "source": "start", "target": node_id})

    refused = (await api.post("/v1/workflows", body)).error(400, "FLK-0126")
    assert refused.body["message"].startswith("nodes[1].id: "), refused.body["message"]
    assert mentions in refused.body["message"], refused.body["message"]
    assert (await api.get("/v1/workflows")).body["items"] == []

    draft = await create(api, minimal("misread ids"))
    (await api.put(f"/v1/workflows/{draft}", body)).error(400, "FLK-0126")
    assert [n["id"] for n in (await api.get(f"/v1/workflows/{draft}")).body["nodes"]] == ["start"]


async def test_catalog_executor_nodes_are_not_found(api: ApiClient) -> None:
    body = minimal(
        "catalog",
        nodes=[
            {
                **NODE,
                "type": "executor",
                "data": {"executorId": "unknown", "providerConfigId": str(uuid.uuid4())},
            }
        ],
    )
    (await api.post("/v1/workflows", body)).error(404, "FLK-0104")


async def test_get_errors(api: ApiClient) -> None:
    (await api.get("/v1/workflows/not-a-uuid")).error(400, "FLK-0002")
    (await api.get(f"/v1/workflows/{uuid.uuid4()}")).error(404, "FLK-0100")


async def test_list_pages_through_every_workflow_once_in_each_sort(api: ApiClient) -> None:
    names = ["delta", "alpha", "echo", "charlie", "bravo"]
    for name in names:
        await create(api, minimal(name))
    for sort_by, order, expected in [
        ("name", "ASC", sorted(names)),
        ("name", "DESC", sorted(names, reverse=True)),
        ("createdAt", "ASC", names),
        ("createdAt", "DESC", names[::-1]),
    ]:
        seen: list[str] = []
        cursor = ""
        while True:
            reply = await api.get(
                "/v1/workflows",
                params={"limit": "2", "sortBy": sort_by, "sortOrder": order, "cursor": cursor},
            )
            assert reply.status == 200, reply.text
            seen += [w["name"] for w in reply.body["items"]]
            assert reply.body["hasMore"] == bool(reply.body["nextCursor"])
            if not reply.body["hasMore"]:
                break
            cursor = reply.body["nextCursor"]
        assert seen == expected, (sort_by, order)


async def test_list_filters_by_status_and_checks_its_parameters(api: ApiClient) -> None:
    draft = await create(api, minimal("draft one"))
    active = await create(api, minimal("active one"))
    assert (await api.post(f"/v1/workflows/{active}/activate")).status == 200
    by_status = await api.get("/v1/workflows", params={"status": "active"})
    assert [w["id"] for w in by_status.body["items"]] == [active]
    by_status = await api.get("/v1/workflows", params={"status": "draft"})
    assert [w["id"] for w in by_status.body["items"]] == [draft]
    (await api.get("/v1/workflows", params={"status": "running"})).error(400, "FLK-0304")
    for limit in ("0", "00", "ten", "-1"):
        (await api.get("/v1/workflows", params={"limit": limit})).error(400, "FLK-0309")
    for limit in ("101", "100000", "9" * 5000):  # above the maximum: read as 100, as older clients expect
        clamped = await api.get("/v1/workflows", params={"limit": limit})
        assert clamped.status == 200, clamped.text
        assert {w["id"] for w in clamped.body["items"]} == {draft, active}
    (await api.get("/v1/workflows", params={"sortBy": "size"})).error(400, "FLK-0304")
    (await api.get("/v1/workflows", params={"sortOrder": "UP"})).error(400, "FLK-0310")
    (await api.get("/v1/workflows", params={"cursor": "%%%"})).error(400, "INVALID_CURSOR")
    page = await api.get("/v1/workflows", params={"limit": "1"})
    mixed = await api.get("/v1/workflows", params={"cursor": page.body["nextCursor"], "sortOrder": "ASC"})
    mixed.error(400, "INVALID_CURSOR")


async def test_replace_a_draft(api: ApiClient) -> None:
    workflow_id = await create(api, minimal("before", metadata={"a": 1}))
    replacement = minimal("after", description="now described", metadata={"b": 2})
    reply = await api.put(f"/v1/workflows/{workflow_id}", replacement)
    assert reply.status == 200
    assert definition_of(reply) == replacement
    got = await api.get(f"/v1/workflows/{workflow_id}")
    assert definition_of(got) == replacement
    assert got.body["updatedAt"] >= got.body["createdAt"]


async def test_replace_errors(api: ApiClient) -> None:
    workflow_id = await create(api, minimal("locked"))
    other = await create(api, minimal("taken"))
    (await api.put(f"/v1/workflows/{workflow_id}", minimal("taken"))).error(409, "FLK-0101")
    (await api.put(f"/v1/workflows/{workflow_id}", {"name": ""})).error(400, "FLK-0110")
    (await api.put(f"/v1/workflows/{uuid.uuid4()}", minimal("x"))).error(404, "FLK-0100")
    assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200
    (await api.put(f"/v1/workflows/{workflow_id}", minimal("changed"))).error(422, "FLK-0103")
    assert (await api.get(f"/v1/workflows/{workflow_id}")).body["name"] == "locked"
    assert (await api.get(f"/v1/workflows/{other}")).body["name"] == "taken"


async def test_delete_draft_and_inactive_but_not_active(api: ApiClient) -> None:
    draft = await create(api, minimal("to delete"))
    assert (await api.delete(f"/v1/workflows/{draft}")).status == 204
    (await api.get(f"/v1/workflows/{draft}")).error(404, "FLK-0100")
    (await api.delete(f"/v1/workflows/{draft}")).error(404, "FLK-0100")

    workflow_id = await create(api, minimal("lifecycle"))
    assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200
    (await api.delete(f"/v1/workflows/{workflow_id}")).error(422, "FLK-0103")
    assert (await api.post(f"/v1/workflows/{workflow_id}/deactivate")).body["status"] == "inactive"
    assert (await api.delete(f"/v1/workflows/{workflow_id}")).status == 204
    # The name is free again once its workflow is gone.
    await create(api, minimal("lifecycle"))


async def test_clone_copies_the_definition_into_a_new_draft(api: ApiClient) -> None:
    source, body = await compliance(api)
    assert (await api.post(f"/v1/workflows/{source}/activate")).status == 200
    reply = await api.post(f"/v1/workflows/{source}/clone", {"name": "compliance v2"})
    assert reply.status == 201 and reply.body["status"] == "draft"
    clone = await api.get(f"/v1/workflows/{reply.body['workflowId']}")
    assert definition_of(clone) == {**body, "name": "compliance v2"}
    (await api.post(f"/v1/workflows/{source}/clone", {"name": "compliance v2"})).error(409, "FLK-0101")
    (await api.post(f"/v1/workflows/{source}/clone", {})).error(400, "FLK-0110")
    (await api.post(f"/v1/workflows/{source}/clone", {"name": "y" * 101})).error(400, "FLK-0111")
    (await api.post(f"/v1/workflows/{uuid.uuid4()}/clone", {"name": "z"})).error(404, "FLK-0100")


async def test_status_lifecycle_and_invalid_transitions(api: ApiClient) -> None:
    workflow_id = await create(api, minimal("cycle of life"))
    base = f"/v1/workflows/{workflow_id}"
    (await api.post(f"{base}/deactivate")).error(422, "FLK-0102")
    (await api.post(f"{base}/draft")).error(422, "FLK-0102")
    assert (await api.post(f"{base}/activate")).body["status"] == "active"
    (await api.post(f"{base}/activate")).error(422, "FLK-0102")
    (await api.post(f"{base}/draft")).error(422, "FLK-0102")
    assert (await api.post(f"{base}/deactivate")).body["status"] == "inactive"
    (await api.post(f"{base}/activate")).error(422, "FLK-0102")
    assert (await api.post(f"{base}/draft")).body["status"] == "draft"
    assert (await api.post(f"{base}/activate")).body["status"] == "active"
    (await api.post(f"/v1/workflows/{uuid.uuid4()}/activate")).error(404, "FLK-0100")


async def test_concurrent_status_changes_one_wins_the_others_lose_with_409(api: ApiClient) -> None:
    for attempt in range(5):
        workflow_id = await create(api, minimal(f"raced {attempt}"))
        replies = await asyncio.gather(*(api.post(f"/v1/workflows/{workflow_id}/activate") for _ in range(8)))
        statuses = [r.status for r in replies]
        assert statuses.count(200) == 1, statuses
        for reply in replies:
            if reply.status != 200:
                # Lost the check-and-set (409) or read it already active (422): never a silent repeat.
                assert (reply.status, reply.body["code"]) in {(409, "FLK-0350"), (422, "FLK-0102")}


ACTIVATION_FAILURES: list[tuple[str, dict[str, Any], int, str]] = [
    ("no nodes", {"nodes": [], "edges": []}, 422, "FLK-0112"),
    ("no trigger", {"nodes.0.type": "action"}, 422, "FLK-0116"),
    ("conditional without condition", {"nodes.2.data": {}}, 400, "FLK-0105"),
    ("executor without configuration", {"nodes.1.data.executorConfigId": ""}, 400, "FLK-0152"),
    ("unknown configuration", {"nodes.1.data.executorConfigId": str(uuid.uuid4())}, 404, "FLK-0104"),
    ("unknown endpoint", {"nodes.1.data.endpointName": "verify"}, 400, "FLK-0153"),
    ("branch without handle", {"edges.2.sourceHandle": None}, 400, "FLK-0119"),
    ("edge into the trigger", {"edges.4.target": "trigger-entry"}, 422, "FLK-0118"),
    ("cycle", {"edges.4.target": "kyc-executor"}, 422, "FLK-0118"),
]


@pytest.mark.parametrize(
    ("case", "changes", "status", "code"), ACTIVATION_FAILURES, ids=[c[0] for c in ACTIVATION_FAILURES]
)
async def test_activation_refuses_an_unrunnable_graph(
    api: ApiClient, case: str, changes: dict[str, Any], status: int, code: str
) -> None:
    kyc_id, aml_id = await executors(api)
    body = compliance_workflow(kyc_id, aml_id)
    for path, value in changes.items():
        body = _with(body, path, value)
    workflow_id = await create(api, body)
    (await api.post(f"/v1/workflows/{workflow_id}/activate")).error(status, code)
    assert (await api.get(f"/v1/workflows/{workflow_id}")).body["status"] == "draft"


async def test_two_triggers_are_refused_at_activation(api: ApiClient) -> None:
    body = minimal("two doors")
    body["nodes"].append({"id": "second", "type": "trigger", "position": {"x": 1, "y": 1}})
    workflow_id = await create(api, body)
    reply = (await api.post(f"/v1/workflows/{workflow_id}/activate")).error(422, "FLK-0116")
    assert "start, second" in reply.body["message"]


async def test_a_disabled_executor_configuration_blocks_activation(api: ApiClient) -> None:
    workflow_id, body = await compliance(api)
    aml_id = body["nodes"][3]["data"]["executorConfigId"]
    assert (await api.post(f"/v1/executors/{aml_id}/disable")).status == 200
    reply = (await api.post(f"/v1/workflows/{workflow_id}/activate")).error(422, "FLK-0154")
    assert "aml-provider" in reply.body["message"]
    assert (await api.post(f"/v1/executors/{aml_id}/enable")).status == 200
    assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200


async def test_an_edge_condition_must_parse_but_may_reference_any_path(api: ApiClient) -> None:
    body = minimal("guarded")
    body["nodes"].append({"id": "end", "type": "action", "position": {"x": 0, "y": 1}})
    body["edges"].append(
        {
            "id": "e",
            "source": "start",
            "target": "end",
            "condition": "NOT (workflow.amount > 1000 OR workflow.vip)",
        }
    )
    workflow_id = await create(api, body)
    assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200
