"""The contract of the store ports (no HTTP), run against every adapter (the embedded SQLite store, the
in-memory fake of the fast tier, the MongoDB store): uniqueness, check-and-set, executor references,
keyset pagination."""

from __future__ import annotations

import inspect
import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from flowker.domain.audit import AuditAction, AuditEvent, ResourceType
from flowker.domain.breaker_state import BreakerRecord
from flowker.domain.executor_config import ExecutorStatus
from flowker.dsl.model import Workflow, WorkflowStatus
from flowker.errors import Conflict, StateChanged, Unprocessable
from flowker.store import ports
from flowker.store.embedded import EmbeddedStore
from flowker.store.embedded.audit import EmbeddedAuditLog
from flowker.store.embedded.breakers import EmbeddedBreakerStates
from flowker.store.embedded.executions import EmbeddedExecutions
from flowker.store.embedded.store import EmbeddedExecutorConfigs, EmbeddedWebhookRoutes, EmbeddedWorkflows
from flowker.store.mongo import MongoStore
from flowker.store.mongo.audit import MongoAuditLog
from flowker.store.mongo.breakers import MongoBreakerStates
from flowker.store.mongo.executions import MongoExecutions
from flowker.store.mongo.executor_configs import MongoExecutorConfigs
from flowker.store.mongo.schema import WORKFLOWS
from flowker.store.mongo.workflows import MongoWebhookRoutes, MongoWorkflows
from flowker.store.ports import ListQuery, Store
from tests.fakes.memory_store import (
    MemoryAuditLog,
    MemoryBreakerStates,
    MemoryExecutions,
    MemoryExecutorConfigs,
    MemoryStore,
    MemoryWebhookRoutes,
    MemoryWorkflows,
)
from tests.store.builders import (
    SORTS,
    T0,
    T1,
    db_rows,
    make_config,
    make_item,
    make_workflow,
    mongo_documents,
    raw_rows,
    repository,
)


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every test of this module runs once per adapter (``any_store``: embedded, memory)."""
    return any_store


# ------------------------------------------------------------------------------------------- the ports

ADAPTERS = {
    "embedded": (
        EmbeddedStore,
        EmbeddedWorkflows,
        EmbeddedExecutorConfigs,
        EmbeddedExecutions,
        EmbeddedAuditLog,
        EmbeddedBreakerStates,
        EmbeddedWebhookRoutes,
    ),
    "mongo": (
        MongoStore,
        MongoWorkflows,
        MongoExecutorConfigs,
        MongoExecutions,
        MongoAuditLog,
        MongoBreakerStates,
        MongoWebhookRoutes,
    ),
    "memory": (
        MemoryStore,
        MemoryWorkflows,
        MemoryExecutorConfigs,
        MemoryExecutions,
        MemoryAuditLog,
        MemoryBreakerStates,
        MemoryWebhookRoutes,
    ),
}
PORTS = (
    ports.Store,
    ports.WorkflowRepository,
    ports.ExecutorConfigRepository,
    ports.ExecutionRepository,
    ports.AuditLog,
    ports.BreakerStateRepository,
    ports.WebhookRouteRepository,
)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_every_adapter_matches_every_port(adapter: str) -> None:
    """Every method of every store port is implemented, async, with the port's parameters (names, kinds
    and defaults)."""
    for port, implementation in zip(PORTS, ADAPTERS[adapter], strict=True):
        for name in [n for n in vars(port) if not n.startswith("_") and callable(getattr(port, n))]:
            wanted = [
                (p.name, p.kind, p.default)
                for p in inspect.signature(getattr(port, name)).parameters.values()
            ]
            method = getattr(implementation, name)
            found = [(p.name, p.kind, p.default) for p in inspect.signature(method).parameters.values()]
            assert found == wanted, (implementation.__name__, name, found, wanted)
            assert inspect.iscoroutinefunction(method), (implementation.__name__, name)


async def test_every_store_attribute_of_the_port_is_there(store: Store) -> None:
    for name in ports.Store.__annotations__:
        assert hasattr(store, name), name
    await store.ping()


# ------------------------------------------------------------------------------------------ uniqueness


@pytest.mark.parametrize(("kind", "code"), [("workflows", "FLK-0101"), ("executor_configs", "FLK-0251")])
async def test_duplicate_name_in_one_process_is_conflict(store: Store, kind: str, code: str) -> None:
    repo = repository(store, kind)
    first = await repo.create(make_item(kind, "taken"))
    with pytest.raises(Conflict) as raised:
        await repo.create(make_item(kind, "taken"))
    assert raised.value.code == code
    assert "taken" in raised.value.message
    assert [item.id for item in (await repo.list(ListQuery(limit=10))).items] == [first.id]


@pytest.mark.parametrize(("kind", "code"), [("workflows", "FLK-0101"), ("executor_configs", "FLK-0251")])
async def test_rename_onto_a_taken_name_is_conflict(store: Store, kind: str, code: str) -> None:
    repo = repository(store, kind)
    await repo.create(make_item(kind, "first"))
    second = await repo.create(make_item(kind, "second"))
    with pytest.raises(Conflict) as raised:
        await repo.replace(second.model_copy(update={"name": "first"}))
    assert raised.value.code == code
    assert (await repo.get(second.id)) == second


# ----------------------------------------------------------------------------------- check-and-set


@pytest.mark.parametrize("kind", ["workflows", "executor_configs"])
async def test_two_replaces_from_one_read_first_wins(store: Store, kind: str) -> None:
    repo = repository(store, kind)
    created = await repo.create(make_item(kind, "contested"))
    assert created.revision == 1
    read_a = await repo.get(created.id)
    read_b = await repo.get(created.id)
    assert read_a is not None and read_b is not None
    assert read_a.revision == read_b.revision == 1

    first = await repo.replace(read_a.model_copy(update={"description": "writer A", "updatedAt": T1}))
    assert first.revision == 2
    with pytest.raises(StateChanged) as raised:
        await repo.replace(read_b.model_copy(update={"description": "writer B", "updatedAt": T1}))

    assert raised.value.code == "FLK-0350"
    assert raised.value.status == 409
    stored = await repo.get(created.id)
    assert stored is not None
    assert (stored.description, stored.revision) == ("writer A", 2)
    assert raw_rows(store, kind, "revision") == [(2,)]


@pytest.mark.parametrize("kind", ["workflows", "executor_configs"])
async def test_replace_of_a_deleted_item_is_state_changed(store: Store, kind: str) -> None:
    repo = repository(store, kind)
    created = await repo.create(make_item(kind, "gone soon"))
    await repo.delete(created)
    with pytest.raises(StateChanged):
        await repo.replace(created.model_copy(update={"description": "too late"}))
    assert await repo.get(created.id) is None
    assert raw_rows(store, kind, "id") == []


@pytest.mark.parametrize("kind", ["workflows", "executor_configs"])
async def test_delete_with_a_stale_revision_deletes_nothing(store: Store, kind: str) -> None:
    repo = repository(store, kind)
    stale = await repo.create(make_item(kind, "kept"))
    current = await repo.replace(stale.model_copy(update={"description": "newer"}))

    with pytest.raises(StateChanged) as raised:
        await repo.delete(stale)

    assert raised.value.code == "FLK-0350"
    assert await repo.get(stale.id) == current
    await repo.delete(current)
    assert await repo.get(stale.id) is None


# ----------------------------------------------------------------------------- executor references


async def _workflow_using(store: Store, config_state: str) -> tuple[Workflow, str]:
    """A draft workflow whose executor node calls ``validate`` of a config in ``config_state``."""
    config_id = str(uuid.uuid4())
    if config_state != "missing":
        config = await store.executor_configs.create(make_config(config_id=config_id))
        if config_state == "disabled":
            await store.executor_configs.replace(
                config.model_copy(update={"status": ExecutorStatus.DISABLED})
            )
        if config_state == "endpoint-gone":
            other = [{"name": "check", "path": "/check", "method": "POST", "timeout": 30}]
            await store.executor_configs.replace(config.model_copy(update={"endpoints": other}))
    workflow = await store.workflows.create(make_workflow(executor_id=config_id))
    return workflow, config_id


def _refs(store: Store) -> list[tuple[Any, ...]]:
    if isinstance(store, MemoryStore):
        return store.refs()
    if isinstance(store, MongoStore):
        workflows = sorted(mongo_documents(store, WORKFLOWS), key=lambda doc: doc["_id"])
        return [(doc["_id"], ref["configId"]) for doc in workflows for ref in doc["executorRefs"]]
    assert isinstance(store, EmbeddedStore)
    return db_rows(
        store.db.path.parent,
        "SELECT workflow_id, executor_config_id FROM workflow_executor_refs ORDER BY workflow_id",
    )


@pytest.mark.parametrize("config_state", ["disabled", "missing", "endpoint-gone"])
async def test_activation_write_with_an_unusable_executor_writes_nothing(
    store: Store, config_state: str
) -> None:
    """The activation write re-checks, in its own transaction, the executors the workflow calls."""
    workflow, config_id = await _workflow_using(store, config_state)
    refs_before = _refs(store)
    assert refs_before == [(workflow.id, config_id)]
    activated = workflow.model_copy(update={"status": WorkflowStatus.ACTIVE, "updatedAt": T1})

    with pytest.raises(StateChanged) as raised:
        await store.workflows.replace(activated, check_executors=True)

    assert raised.value.code == "FLK-0350"
    assert await store.workflows.get(workflow.id) == workflow
    assert raw_rows(store, "workflows", "status", "revision") == [("draft", 1)]
    assert _refs(store) == refs_before


async def test_activation_write_with_an_active_executor_writes(store: Store) -> None:
    workflow, _ = await _workflow_using(store, "active")
    activated = workflow.model_copy(update={"status": WorkflowStatus.ACTIVE, "updatedAt": T1})

    stored = await store.workflows.replace(activated, check_executors=True)

    assert (stored.status, stored.revision) == (WorkflowStatus.ACTIVE, 2)
    assert await store.workflows.get(workflow.id) == stored


async def test_activation_write_with_one_usable_and_one_disabled_executor_writes_nothing(
    store: Store,
) -> None:
    usable = await store.executor_configs.create(make_config("usable"))
    disabled = await store.executor_configs.create(make_config("disabled", status=ExecutorStatus.DISABLED))
    workflow = await store.workflows.create(make_workflow(executor_id=usable.id))
    second = {
        "id": "aml",
        "type": "executor",
        "name": "AML",
        "data": {"executorConfigId": disabled.id, "endpointName": "validate"},
    }
    both = Workflow.model_validate(
        {**workflow.model_dump(), "nodes": [*workflow.model_dump()["nodes"], second]}
    )
    both = both.model_copy(update={"revision": workflow.revision, "status": WorkflowStatus.ACTIVE})

    with pytest.raises(StateChanged):
        await store.workflows.replace(both, check_executors=True)

    assert await store.workflows.get(workflow.id) == workflow


async def test_disabling_a_config_does_not_need_the_activation_check(store: Store) -> None:
    """Without the check, a plain check-and-set write of a workflow naming a disabled config succeeds."""
    workflow, _ = await _workflow_using(store, "disabled")
    stored = await store.workflows.replace(workflow.model_copy(update={"description": "edited"}))
    assert (stored.description, stored.revision) == ("edited", 2)


async def test_config_replace_dropping_an_endpoint_an_active_workflow_calls_is_refused(
    store: Store,
) -> None:
    config = await store.executor_configs.create(make_config())
    await store.workflows.create(make_workflow("caller", status=WorkflowStatus.ACTIVE, executor_id=config.id))
    renamed = [{"name": "check", "path": "/check", "method": "POST", "timeout": 30}]

    with pytest.raises(Unprocessable) as raised:
        await store.executor_configs.replace(config.model_copy(update={"endpoints": renamed}))

    assert raised.value.code == "FLK-0252"
    assert "validate" in raised.value.message and "caller" in raised.value.message
    assert await store.executor_configs.get(config.id) == config
    kept = [*config.endpoints, *renamed]
    assert (await store.executor_configs.replace(config.model_copy(update={"endpoints": kept}))).revision == 2


async def test_executor_config_used_by_an_active_workflow_cannot_be_deleted(store: Store) -> None:
    config = await store.executor_configs.create(make_config())
    await store.workflows.create(
        make_workflow("uses it", status=WorkflowStatus.ACTIVE, executor_id=config.id)
    )
    unrelated = await store.executor_configs.create(make_config("unrelated"))

    with pytest.raises(Unprocessable) as raised:
        await store.executor_configs.delete(config)

    assert raised.value.code == "FLK-0252"
    assert raised.value.status == 422
    assert "uses it" in raised.value.message
    assert await store.executor_configs.get(config.id) == config
    usage = await store.executor_configs.used_by_active_workflows(config.id)
    assert [u.name for u in usage] == ["uses it"]
    await store.executor_configs.delete(unrelated)  # another config is not held by it
    assert await store.executor_configs.get(unrelated.id) is None


@pytest.mark.parametrize("status", [WorkflowStatus.DRAFT, WorkflowStatus.INACTIVE])
async def test_executor_config_used_only_by_a_draft_or_inactive_workflow_can_be_deleted(
    store: Store, status: WorkflowStatus
) -> None:
    config = await store.executor_configs.create(make_config())
    workflow = await store.workflows.create(
        make_workflow("was active", status=WorkflowStatus.ACTIVE, executor_id=config.id)
    )
    with pytest.raises(Unprocessable):
        await store.executor_configs.delete(config)

    await store.workflows.replace(workflow.model_copy(update={"status": status}))
    assert await store.executor_configs.used_by_active_workflows(config.id) == []
    await store.executor_configs.delete(config)

    assert await store.executor_configs.get(config.id) is None
    assert raw_rows(store, "executor_configs", "id") == []
    assert (await store.workflows.get(workflow.id)) is not None


async def test_workflow_that_stops_naming_a_config_releases_it(store: Store) -> None:
    config = await store.executor_configs.create(make_config())
    workflow = await store.workflows.create(
        make_workflow("switches", status=WorkflowStatus.ACTIVE, executor_id=config.id)
    )
    without = make_workflow("switches", status=WorkflowStatus.ACTIVE, workflow_id=workflow.id)
    await store.workflows.replace(without.model_copy(update={"revision": workflow.revision}))
    await store.executor_configs.delete(config)
    assert await store.executor_configs.get(config.id) is None


# --------------------------------------------------------------------------------------- pagination


def _sort_key(sort_by: str) -> Callable[[Any], tuple[str, str]]:
    return lambda item: (getattr(item, sort_by), item.id)


async def walk(
    repo: Any, sort_by: str, sort_order: str, status: str | None = None
) -> tuple[list[Any], list[int]]:
    """Every item over every page of 7, and each page's size."""
    items: list[Any] = []
    sizes: list[int] = []
    after: tuple[str, str] | None = None
    for _ in range(20):
        page = await repo.list(
            ListQuery(limit=7, sort_by=sort_by, sort_order=sort_order, status=status, after=after)
        )
        items.extend(page.items)
        sizes.append(len(page.items))
        if not page.has_more:
            return items, sizes
        last = page.items[-1]
        after = (getattr(last, sort_by), last.id)
    raise AssertionError("pagination did not end")


async def _fill(store: Store, kind: str) -> list[Any]:
    """25 items: 3 distinct createdAt values and 4 distinct updatedAt values, so ties are many."""
    rng = random.Random(25)
    created_values = [
        "2026-03-01T10:00:00.000000Z",
        "2026-03-01T10:00:00.000001Z",
        "2026-03-02T00:00:00.000000Z",
    ]
    updated_values = [f"2026-04-0{day}T00:00:00.000000Z" for day in range(1, 5)]
    names = [f"{rng.choice(['Alpha', 'beta', 'Gamma', 'delta', 'Ωmega'])}-{index:02d}" for index in range(25)]
    rng.shuffle(names)
    statuses = (
        [WorkflowStatus.DRAFT, WorkflowStatus.ACTIVE, WorkflowStatus.INACTIVE]
        if kind == "workflows"
        else [ExecutorStatus.ACTIVE, ExecutorStatus.DISABLED]
    )
    items = []
    for index, name in enumerate(names):
        item = make_item(
            kind,
            name,
            created=created_values[index % 3],
            updated=updated_values[(index * 7) % 4],
            status=statuses[index % len(statuses)],
        )
        items.append(await repository(store, kind).create(item))
    return items


@pytest.mark.parametrize(("sort_by", "sort_order"), SORTS)
@pytest.mark.parametrize("kind", ["workflows", "executor_configs"])
async def test_list_walks_every_item_once_in_order(
    store: Store, kind: str, sort_by: str, sort_order: str
) -> None:
    items = await _fill(store, kind)
    expected = sorted(items, key=_sort_key(sort_by), reverse=sort_order == "DESC")

    seen, sizes = await walk(repository(store, kind), sort_by, sort_order)

    assert sizes == [7, 7, 7, 4]
    assert [item.id for item in seen] == [item.id for item in expected]
    assert len({item.id for item in seen}) == 25
    assert seen == expected  # whole documents, revisions included


@pytest.mark.parametrize(("sort_by", "sort_order"), SORTS)
async def test_list_with_every_created_at_equal_orders_by_id(
    store: Store, sort_by: str, sort_order: str
) -> None:
    items = [await store.workflows.create(make_workflow(f"same-time-{i:02d}", created=T0)) for i in range(25)]
    expected = sorted(items, key=_sort_key(sort_by), reverse=sort_order == "DESC")
    seen, sizes = await walk(store.workflows, sort_by, sort_order)
    assert sizes == [7, 7, 7, 4]
    assert [item.id for item in seen] == [item.id for item in expected]


@pytest.mark.parametrize(
    ("kind", "status", "count"),
    [
        ("workflows", "draft", 9),
        ("workflows", "active", 8),
        ("workflows", "inactive", 8),
        ("executor_configs", "active", 13),
        ("executor_configs", "disabled", 12),
    ],
)
@pytest.mark.parametrize(("sort_by", "sort_order"), [("createdAt", "DESC"), ("name", "ASC")])
async def test_list_status_filter(
    store: Store, kind: str, status: str, count: int, sort_by: str, sort_order: str
) -> None:
    items = await _fill(store, kind)
    expected = sorted(
        (item for item in items if item.status == status),
        key=_sort_key(sort_by),
        reverse=sort_order == "DESC",
    )
    assert len(expected) == count

    seen, sizes = await walk(repository(store, kind), sort_by, sort_order, status=status)

    assert [item.id for item in seen] == [item.id for item in expected]
    assert {item.status for item in seen} == {status}
    assert sum(sizes) == count and sizes[0] == 7


async def test_list_of_an_empty_store_and_an_exact_page(store: Store) -> None:
    empty = await store.workflows.list(ListQuery(limit=7))
    assert (empty.items, empty.has_more) == ([], False)
    for index in range(7):
        await store.workflows.create(make_workflow(f"wf-{index}"))
    full = await store.workflows.list(ListQuery(limit=7))
    assert (len(full.items), full.has_more) == (7, False)


# ------------------------------------------------------------------------------------ breaker states


async def test_breaker_state_is_none_until_written_then_the_last_write_wins(store: Store) -> None:
    assert await store.breakers.get("config-a") is None
    opened = BreakerRecord(
        state="open",
        consecutive_failures=0,
        failure_rate=60.0,
        slow_call_rate=0.0,
        calls_in_window=20,
        opened_at=1000.5,
        next_trial_at=1030.5,
        updated_at=1000.5,
    )
    await store.breakers.put("config-a", opened)
    assert await store.breakers.get("config-a") == opened
    assert await store.breakers.get("config-b") is None
    closed = BreakerRecord(state="closed", updated_at=1040.0)
    await store.breakers.put("config-a", closed)
    assert await store.breakers.get("config-a") == closed


async def test_breaker_state_is_written_with_its_audit_events(store: Store) -> None:
    event = AuditEvent(
        event_type="EXECUTOR_BREAKER_RESET",
        action=AuditAction.RESET,
        resource_type=ResourceType.EXECUTOR_CONFIG,
        resource_id="config-a",
    )
    await store.breakers.put("config-a", BreakerRecord(state="closed"), [event])
    assert [e.event_id for e in await store.audit.staged(10)] == [event.event_id]


async def test_deleting_a_configuration_drops_its_breaker_state(store: Store) -> None:
    config = await store.executor_configs.create(make_config("with-breaker"))
    await store.breakers.put(config.id, BreakerRecord(state="open", opened_at=1.0, next_trial_at=31.0))
    await store.breakers.put("another", BreakerRecord(state="open", opened_at=1.0, next_trial_at=31.0))
    await store.executor_configs.delete(config)
    assert await store.breakers.get(config.id) is None
    assert await store.breakers.get("another") is not None
