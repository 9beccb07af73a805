"""The webhook route table of every store adapter: written with an activation, removed with a
deactivation or a deletion, unique METHOD+path across active workflows (the store's key decides, so of
two racing activations exactly one wins), and never holding the token, only its hash."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from flowker.dsl.model import Workflow, WorkflowStatus
from flowker.dsl.webhook_trigger import hash_token, token_matches
from flowker.errors import Conflict, StateChanged
from flowker.store.ports import Store
from tests.store.builders import T0


def webhook_workflow(
    name: str, path: str = "/e2e/webhook-test", method: str = "POST", **data: Any
) -> Workflow:
    trigger = {"triggerId": "webhook", "triggerType": "webhook", "path": path, "method": method, **data}
    return Workflow.model_validate(
        {
            "id": str(uuid.uuid4()),
            "name": name,
            "nodes": [{"id": "start", "type": "trigger", "data": trigger}],
            "edges": [],
            "status": WorkflowStatus.DRAFT,
            "createdAt": T0,
            "updatedAt": T0,
        }
    )


async def set_status(store: Store, workflow: Workflow, status: WorkflowStatus) -> Workflow:
    return await store.workflows.replace(workflow.model_copy(update={"status": status}))


async def test_activation_writes_the_route_and_deactivation_removes_it(any_store: Store) -> None:
    draft = await any_store.workflows.create(webhook_workflow("hook"))
    assert await any_store.webhook_routes.find("POST", "/e2e/webhook-test") is None
    active = await set_status(any_store, draft, WorkflowStatus.ACTIVE)
    route = await any_store.webhook_routes.find("POST", "/e2e/webhook-test")
    assert route is not None
    assert (route.method, route.path, route.workflow_id, route.token_hash) == (
        "POST",
        "/e2e/webhook-test",
        draft.id,
        None,
    )
    # Another method, or another case, is another route.
    assert await any_store.webhook_routes.find("GET", "/e2e/webhook-test") is None
    assert await any_store.webhook_routes.find("POST", "/E2E/webhook-test") is None
    await set_status(any_store, active, WorkflowStatus.INACTIVE)
    assert await any_store.webhook_routes.find("POST", "/e2e/webhook-test") is None


async def test_a_route_of_an_active_workflow_is_409_for_another(any_store: Store) -> None:
    first = await set_status(
        any_store, await any_store.workflows.create(webhook_workflow("one")), WorkflowStatus.ACTIVE
    )
    second = await any_store.workflows.create(webhook_workflow("two", path="e2e/webhook-test/"))
    with pytest.raises(Conflict) as caught:
        await set_status(any_store, second, WorkflowStatus.ACTIVE)
    assert caught.value.code == "FLK-0360"
    assert "'one'" in caught.value.message
    # Nothing of the refused activation was written: the second is still a draft, the route the first's.
    assert (await any_store.workflows.get(second.id)).status == WorkflowStatus.DRAFT  # type: ignore[union-attr]
    assert (await any_store.webhook_routes.find("POST", "/e2e/webhook-test")).workflow_id == first.id  # type: ignore[union-attr]
    # The same path with another method is free; once the first is deactivated, the path is too.
    other = await any_store.workflows.create(webhook_workflow("three", method="put"))
    await set_status(any_store, other, WorkflowStatus.ACTIVE)
    assert (await any_store.webhook_routes.find("PUT", "/e2e/webhook-test")).workflow_id == other.id  # type: ignore[union-attr]
    await set_status(any_store, first, WorkflowStatus.INACTIVE)
    second = await any_store.workflows.get(second.id)  # type: ignore[assignment]
    await set_status(any_store, second, WorkflowStatus.ACTIVE)
    assert (await any_store.webhook_routes.find("POST", "/e2e/webhook-test")).workflow_id == second.id  # type: ignore[union-attr]


async def test_of_two_racing_activations_of_one_route_exactly_one_wins(any_store: Store) -> None:
    drafts = [await any_store.workflows.create(webhook_workflow(f"racer {n}")) for n in range(4)]
    outcomes = await asyncio.gather(
        *(set_status(any_store, d, WorkflowStatus.ACTIVE) for d in drafts), return_exceptions=True
    )
    won = [o for o in outcomes if isinstance(o, Workflow)]
    lost = [o for o in outcomes if not isinstance(o, Workflow)]
    assert len(won) == 1, outcomes
    assert all(isinstance(o, Conflict) and not isinstance(o, StateChanged) for o in lost), lost
    assert {o.code for o in lost} == {"FLK-0360"}  # type: ignore[union-attr]
    route = await any_store.webhook_routes.find("POST", "/e2e/webhook-test")
    assert route is not None and route.workflow_id == won[0].id
    statuses = [(await any_store.workflows.get(d.id)).status for d in drafts]  # type: ignore[union-attr]
    assert statuses.count(WorkflowStatus.ACTIVE) == 1


async def test_the_table_holds_the_token_hash_and_a_deleted_workflow_has_no_route(any_store: Store) -> None:
    stored = hash_token("my-secret-token")
    draft = await any_store.workflows.create(webhook_workflow("secured", verifyTokenHash=stored))
    active = await set_status(any_store, draft, WorkflowStatus.ACTIVE)
    route = await any_store.webhook_routes.find("POST", "/e2e/webhook-test")
    assert route is not None and route.token_hash == stored
    assert "my-secret-token" not in repr(route)
    assert token_matches(route.token_hash, b"my-secret-token")
    assert not token_matches(route.token_hash, b"my-secret-tokem")
    inactive = await set_status(any_store, active, WorkflowStatus.INACTIVE)
    await any_store.workflows.delete(inactive)
    assert await any_store.webhook_routes.find("POST", "/e2e/webhook-test") is None
    # The path is free for the next workflow.
    again = await any_store.workflows.create(webhook_workflow("secured again"))
    await set_status(any_store, again, WorkflowStatus.ACTIVE)
    assert (await any_store.webhook_routes.find("POST", "/e2e/webhook-test")).workflow_id == again.id  # type: ignore[union-attr]


async def test_a_trigger_without_a_path_has_no_route(any_store: Store) -> None:
    workflow = webhook_workflow("manual")
    workflow.nodes[0].data = {"triggerId": "webhook"}
    draft = await any_store.workflows.create(workflow)
    await set_status(any_store, draft, WorkflowStatus.ACTIVE)
    assert await any_store.webhook_routes.find("POST", "/e2e/webhook-test") is None
