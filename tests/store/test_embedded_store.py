"""The embedded store directly (no HTTP): uniqueness across processes, check-and-set, executor references,
keyset pagination and the on-disk format (WAL, reopen)."""

from __future__ import annotations

import asyncio
import inspect
import multiprocessing
import random
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from flowker.domain.executor_config import ExecutorConfig, ExecutorStatus
from flowker.dsl.model import Workflow, WorkflowStatus
from flowker.errors import ConfigError, Conflict, StateChanged, Unprocessable
from flowker.store import ports
from flowker.store.embedded import EmbeddedStore
from flowker.store.embedded.store import DB_FILE, EmbeddedExecutorConfigs, EmbeddedWorkflows
from flowker.store.ports import SORT_FIELDS, ListQuery

T0 = "2026-01-01T00:00:00.000000Z"
T1 = "2026-01-01T00:00:01.000000Z"
SORTS = [(field, order) for field in SORT_FIELDS for order in ("ASC", "DESC")]
PROCESSES = 6


# --------------------------------------------------------------------------------------------- builders


def make_workflow(
    name: str = "kyc onboarding",
    *,
    status: WorkflowStatus = WorkflowStatus.DRAFT,
    executor_id: str | None = None,
    created: str = T0,
    updated: str | None = None,
    workflow_id: str | None = None,
) -> Workflow:
    nodes: list[dict[str, Any]] = [
        {"id": "start", "type": "trigger", "name": "Start", "data": {"triggerId": "webhook"}}
    ]
    edges: list[dict[str, Any]] = []
    if executor_id is not None:
        nodes.append(
            {
                "id": "kyc",
                "type": "executor",
                "name": "KYC",
                "data": {"executorConfigId": executor_id, "endpointName": "validate"},
            }
        )
        edges.append({"id": "e1", "source": "start", "target": "kyc"})
    return Workflow.model_validate(
        {
            "id": workflow_id or str(uuid.uuid4()),
            "name": name,
            "description": "built by the store tests",
            "nodes": nodes,
            "edges": edges,
            "metadata": {"team": "compliance"},
            "status": status,
            "createdAt": created,
            "updatedAt": updated or created,
        }
    )


def make_config(
    name: str = "kyc-provider",
    *,
    status: ExecutorStatus = ExecutorStatus.ACTIVE,
    created: str = T0,
    updated: str | None = None,
    config_id: str | None = None,
) -> ExecutorConfig:
    return ExecutorConfig(
        id=config_id or str(uuid.uuid4()),
        name=name,
        baseUrl="https://kyc.example.com/v1",
        endpoints=[{"name": "validate", "path": "/validate", "method": "POST", "timeout": 30}],
        authentication={"type": "api_key", "config": {"key": "enc:v1:sealed", "header_name": "X-API-Key"}},
        status=status,
        metadata={"team": "compliance"},
        createdAt=created,
        updatedAt=updated or created,
    )


def make_item(kind: str, name: str, **fields: Any) -> Workflow | ExecutorConfig:
    return make_workflow(name, **fields) if kind == "workflows" else make_config(name, **fields)


def repository(store: EmbeddedStore, kind: str) -> Any:
    return store.workflows if kind == "workflows" else store.executor_configs


def db_rows(data_dir: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows read through a separate sqlite3 connection to the store's file."""
    conn = sqlite3.connect(data_dir / DB_FILE)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# ------------------------------------------------------------------------------- uniqueness, processes


def _create_in_another_process(
    kind: str, data_dir: str, name: str, item_id: str, barrier: Any, results: Any
) -> None:
    """Child process: open the store, wait for every sibling, then create one item named ``name``."""

    async def main() -> tuple[str, str, str]:
        store = await EmbeddedStore(Path(data_dir)).open()
        try:
            await asyncio.to_thread(barrier.wait, 60)
            item = make_item(
                kind, name, **({"workflow_id": item_id} if kind == "workflows" else {"config_id": item_id})
            )
            try:
                await repository(store, kind).create(item)
            except Conflict as exc:
                return (item_id, type(exc).__name__, exc.code)
            except Exception as exc:
                return (item_id, type(exc).__name__, str(exc))
            return (item_id, "created", "")
        finally:
            await store.close()

    results.put(asyncio.run(main()))


@pytest.mark.parametrize(("kind", "code"), [("workflows", "FLK-0101"), ("executor_configs", "FLK-0251")])
def test_name_is_unique_across_processes(tmp_path: Path, kind: str, code: str) -> None:
    data_dir = tmp_path / "shared-data"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    ids = [str(uuid.uuid4()) for _ in range(PROCESSES)]
    processes = [
        ctx.Process(
            target=_create_in_another_process,
            args=(kind, str(data_dir), "same name everywhere", item_id, barrier, results),
        )
        for item_id in ids
    ]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=90) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
        results.close()
        results.join_thread()
    assert [p.exitcode for p in processes] == [0] * PROCESSES

    winners = [item_id for item_id, outcome, _ in outcomes if outcome == "created"]
    assert len(winners) == 1, outcomes
    assert sorted(outcome[1:] for outcome in outcomes if outcome[1] != "created") == [("Conflict", code)] * (
        PROCESSES - 1
    )
    assert {outcome[0] for outcome in outcomes} == set(ids)
    assert db_rows(data_dir, f"SELECT id, name FROM {kind}") == [(winners[0], "same name everywhere")]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EmbeddedStore]:
    opened = await EmbeddedStore(tmp_path / "data").open()
    yield opened
    await opened.close()


@pytest.mark.parametrize(("kind", "code"), [("workflows", "FLK-0101"), ("executor_configs", "FLK-0251")])
async def test_duplicate_name_in_one_process_is_conflict(store: EmbeddedStore, kind: str, code: str) -> None:
    repo = repository(store, kind)
    first = await repo.create(make_item(kind, "taken"))
    with pytest.raises(Conflict) as raised:
        await repo.create(make_item(kind, "taken"))
    assert raised.value.code == code
    assert "taken" in raised.value.message
    assert [item.id for item in (await repo.list(ListQuery(limit=10))).items] == [first.id]


@pytest.mark.parametrize(("kind", "code"), [("workflows", "FLK-0101"), ("executor_configs", "FLK-0251")])
async def test_rename_onto_a_taken_name_is_conflict(store: EmbeddedStore, kind: str, code: str) -> None:
    repo = repository(store, kind)
    await repo.create(make_item(kind, "first"))
    second = await repo.create(make_item(kind, "second"))
    with pytest.raises(Conflict) as raised:
        await repo.replace(second.model_copy(update={"name": "first"}))
    assert raised.value.code == code
    assert (await repo.get(second.id)) == second


# ----------------------------------------------------------------------------------- check-and-set


@pytest.mark.parametrize("kind", ["workflows", "executor_configs"])
async def test_two_replaces_from_one_read_first_wins(store: EmbeddedStore, kind: str) -> None:
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
    assert db_rows(store.db.path.parent, f"SELECT revision FROM {kind}") == [(2,)]


@pytest.mark.parametrize("kind", ["workflows", "executor_configs"])
async def test_replace_of_a_deleted_item_is_state_changed(store: EmbeddedStore, kind: str) -> None:
    repo = repository(store, kind)
    created = await repo.create(make_item(kind, "gone soon"))
    await repo.delete(created)
    with pytest.raises(StateChanged):
        await repo.replace(created.model_copy(update={"description": "too late"}))
    assert await repo.get(created.id) is None
    assert db_rows(store.db.path.parent, f"SELECT COUNT(*) FROM {kind}") == [(0,)]


@pytest.mark.parametrize("kind", ["workflows", "executor_configs"])
async def test_delete_with_a_stale_revision_deletes_nothing(store: EmbeddedStore, kind: str) -> None:
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


def test_embedded_repositories_match_the_port() -> None:
    """Every method of the store port is implemented with the port's parameters (names and kinds)."""
    pairs = [
        (ports.WorkflowRepository, EmbeddedWorkflows),
        (ports.ExecutorConfigRepository, EmbeddedExecutorConfigs),
    ]
    for port, adapter in pairs:
        for name in [n for n in vars(port) if not n.startswith("_") and callable(getattr(port, n))]:
            wanted = [(p.name, p.kind) for p in inspect.signature(getattr(port, name)).parameters.values()]
            found = [(p.name, p.kind) for p in inspect.signature(getattr(adapter, name)).parameters.values()]
            assert found == wanted, (adapter.__name__, name, found, wanted)


async def _workflow_using(store: EmbeddedStore, config_state: str) -> tuple[Workflow, str]:
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


def _refs(store: EmbeddedStore) -> list[tuple[Any, ...]]:
    return db_rows(
        store.db.path.parent,
        "SELECT workflow_id, executor_config_id FROM workflow_executor_refs ORDER BY workflow_id",
    )


@pytest.mark.parametrize("config_state", ["disabled", "missing", "endpoint-gone"])
async def test_activation_write_with_an_unusable_executor_writes_nothing(
    store: EmbeddedStore, config_state: str
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
    assert db_rows(store.db.path.parent, "SELECT status, revision FROM workflows") == [("draft", 1)]
    assert _refs(store) == refs_before


async def test_activation_write_with_an_active_executor_writes(store: EmbeddedStore) -> None:
    workflow, _ = await _workflow_using(store, "active")
    activated = workflow.model_copy(update={"status": WorkflowStatus.ACTIVE, "updatedAt": T1})

    stored = await store.workflows.replace(activated, check_executors=True)

    assert (stored.status, stored.revision) == (WorkflowStatus.ACTIVE, 2)
    assert await store.workflows.get(workflow.id) == stored


async def test_activation_write_with_one_usable_and_one_disabled_executor_writes_nothing(
    store: EmbeddedStore,
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


async def test_disabling_a_config_does_not_need_the_activation_check(store: EmbeddedStore) -> None:
    """Without the check, a plain check-and-set write of a workflow naming a disabled config succeeds."""
    workflow, _ = await _workflow_using(store, "disabled")
    stored = await store.workflows.replace(workflow.model_copy(update={"description": "edited"}))
    assert (stored.description, stored.revision) == ("edited", 2)


async def test_config_replace_dropping_an_endpoint_an_active_workflow_calls_is_refused(
    store: EmbeddedStore,
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


async def test_executor_config_used_by_an_active_workflow_cannot_be_deleted(store: EmbeddedStore) -> None:
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
    store: EmbeddedStore, status: WorkflowStatus
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
    assert db_rows(store.db.path.parent, "SELECT COUNT(*) FROM executor_configs") == [(0,)]
    assert (await store.workflows.get(workflow.id)) is not None


async def test_workflow_that_stops_naming_a_config_releases_it(store: EmbeddedStore) -> None:
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


async def _fill(store: EmbeddedStore, kind: str) -> list[Any]:
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
    store: EmbeddedStore, kind: str, sort_by: str, sort_order: str
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
    store: EmbeddedStore, sort_by: str, sort_order: str
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
    store: EmbeddedStore, kind: str, status: str, count: int, sort_by: str, sort_order: str
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


async def test_list_of_an_empty_store_and_an_exact_page(store: EmbeddedStore) -> None:
    empty = await store.workflows.list(ListQuery(limit=7))
    assert (empty.items, empty.has_more) == ([], False)
    for index in range(7):
        await store.workflows.create(make_workflow(f"wf-{index}"))
    full = await store.workflows.list(ListQuery(limit=7))
    assert (len(full.items), full.has_more) == (7, False)


# -------------------------------------------------------------------------------------- on disk


async def test_database_is_in_wal_mode(store: EmbeddedStore) -> None:
    await store.workflows.create(make_workflow())
    assert db_rows(store.db.path.parent, "PRAGMA journal_mode") == [("wal",)]


async def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    data_dir = tmp_path / "reopened"
    first = await EmbeddedStore(data_dir).open()
    config = await first.executor_configs.create(make_config())
    workflow = await first.workflows.create(
        make_workflow(status=WorkflowStatus.ACTIVE, executor_id=config.id)
    )
    workflow = await first.workflows.replace(workflow.model_copy(update={"description": "second revision"}))
    await first.close()

    assert db_rows(data_dir, "PRAGMA journal_mode") == [("wal",)]
    second = await EmbeddedStore(data_dir).open()
    try:
        assert await second.workflows.get(workflow.id) == workflow
        assert await second.executor_configs.get(config.id) == config
        assert (await second.workflows.get(workflow.id)).revision == 2  # type: ignore[union-attr]
        # the executor reference survived too: the config is still held by the active workflow
        with pytest.raises(Unprocessable):
            await second.executor_configs.delete(config)
        with pytest.raises(Conflict):
            await second.workflows.create(make_workflow(workflow.name))
        await second.ping()
    finally:
        await second.close()


async def test_closed_store_refuses_work(tmp_path: Path) -> None:
    opened = await EmbeddedStore(tmp_path / "closing").open()
    await opened.ping()
    await opened.close()
    with pytest.raises(RuntimeError):
        await opened.ping()


async def test_a_file_of_schema_version_1_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "old"
    first = await EmbeddedStore(data_dir).open()
    workflow = await first.workflows.create(make_workflow())
    await first.close()
    # Make it the file a version-1 Flowker left: without the columns and the table version 2 added.
    with sqlite3.connect(data_dir / DB_FILE) as db:
        db.execute("ALTER TABLE executions DROP COLUMN attempts")
        db.execute("ALTER TABLE executions DROP COLUMN cancel_requested_by")
        db.execute("DROP TABLE audit_outbox")
        db.execute("PRAGMA user_version = 1")

    second = await EmbeddedStore(data_dir).open()
    try:
        assert await second.workflows.get(workflow.id) == workflow
        assert await second.audit.staged(1) == []
    finally:
        await second.close()
    columns = {row[1] for row in db_rows(data_dir, "PRAGMA table_info(executions)")}
    assert {"attempts", "cancel_requested_by"} <= columns
    assert db_rows(data_dir, "PRAGMA user_version") == [(2,)]


async def test_a_file_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "newer"
    await (await EmbeddedStore(data_dir).open()).close()
    with sqlite3.connect(data_dir / DB_FILE) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(ConfigError, match="schema version 99"):
        await EmbeddedStore(data_dir).open()
