"""Starts from the front door's cached workflow definition: one store round trip in the common case, and
never a start of a definition that changed or was deactivated meanwhile (by this front door or another).
Each store adapter; no Ray."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from flowker.codes import WORKFLOW_NOT_ACTIVE, WORKFLOW_NOT_FOUND
from flowker.dsl.model import Workflow, WorkflowStatus
from flowker.errors import NotFound, Unprocessable
from flowker.store.ports import Store
from flowker.usecases.executions import Executions
from tests.store.builders import make_workflow


class Runtime:
    """Takes every start (nothing runs)."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def start_lease(self) -> None:
        return None

    async def start(self, execution_id: str, claimed: object = None) -> None:
        self.started.append(execution_id)


class Counted:
    """Counts the reads a start makes besides its insert."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.workflow_reads = 0
        self.key_lookups = 0
        read, lookup = store.workflows.get, store.executions.find_by_key

        async def get(workflow_id: str) -> Workflow | None:
            self.workflow_reads += 1
            return await read(workflow_id)

        async def find_by_key(key: str) -> Any:
            self.key_lookups += 1
            return await lookup(key)

        monkeypatch.setattr(store.workflows, "get", get)
        monkeypatch.setattr(store.executions, "find_by_key", find_by_key)


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


def front_door(store: Store) -> Executions:
    return Executions(store, Runtime(), timeout_seconds=60)  # type: ignore[arg-type]


async def start(executions: Executions, workflow_id: str, key: str | None = None) -> Any:
    return await executions.start(workflow_id, {"amount": 1}, key or str(uuid.uuid4()))


async def active(store: Store, description: str = "first") -> Workflow:
    workflow = make_workflow(f"cached {uuid.uuid4()}", status=WorkflowStatus.ACTIVE)
    return await store.workflows.create(workflow.model_copy(update={"description": description}))


async def test_after_the_first_start_a_start_reads_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = await active(store)
    executions = front_door(store)
    counted = Counted(store, monkeypatch)
    started = [await start(executions, workflow.id) for _ in range(5)]
    assert all(s.created for s in started) and len({s.execution.id for s in started}) == 5
    assert counted.workflow_reads == 1 and counted.key_lookups == 0
    stored = await store.executions.get(started[-1].execution.id)
    assert stored is not None and stored.workflow.description == "first" and stored.totalSteps == 0


async def test_a_deactivation_elsewhere_is_seen_by_the_next_start(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = await active(store)
    executions = front_door(store)
    await start(executions, workflow.id)  # cached now
    # Another front door deactivates it, then it is edited and activated again.
    inactive = await store.workflows.replace(workflow.model_copy(update={"status": WorkflowStatus.INACTIVE}))
    with pytest.raises(Unprocessable) as refused:
        await start(executions, workflow.id)
    assert refused.value.code == WORKFLOW_NOT_ACTIVE
    draft = await store.workflows.replace(inactive.model_copy(update={"status": WorkflowStatus.DRAFT}))
    edited = await store.workflows.replace(draft.model_copy(update={"description": "second"}))
    await store.workflows.replace(edited.model_copy(update={"status": WorkflowStatus.ACTIVE}))
    counted = Counted(store, monkeypatch)
    again = await start(executions, workflow.id)
    stored = await store.executions.get(again.execution.id)
    assert stored is not None and stored.workflow.description == "second"
    assert counted.workflow_reads == 1


async def test_a_replay_finds_its_execution_after_the_workflow_went_away(store: Store) -> None:
    workflow = await active(store)
    executions = front_door(store)
    first = await start(executions, workflow.id, key="order-1")
    inactive = await store.workflows.replace(workflow.model_copy(update={"status": WorkflowStatus.INACTIVE}))
    replay = await start(executions, workflow.id, key="order-1")
    assert not replay.created and replay.execution.id == first.execution.id
    # Also from a front door that never cached it.
    fresh = await start(front_door(store), workflow.id, key="order-1")
    assert not fresh.created and fresh.execution.id == first.execution.id
    await store.workflows.delete(inactive)
    gone = await start(front_door(store), workflow.id, key="order-1")
    assert gone.execution.id == first.execution.id
    with pytest.raises(NotFound) as missing:
        await start(front_door(store), workflow.id, key="order-2")
    assert missing.value.code == WORKFLOW_NOT_FOUND
