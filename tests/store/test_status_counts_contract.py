"""The contract of the dashboards' counts (``count_by_status`` of workflows and executions), run against
every adapter: counts by status, the start-time window (both ends included), the status filter, and that
the embedded store answers from its indexes alone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from flowker.dsl.model import WorkflowStatus
from flowker.dsl.run_state import ExecutionStatus
from flowker.store.embedded import EmbeddedStore
from flowker.store.mongo import MongoStore
from flowker.store.ports import Store
from tests.fakes.mongo import FakeMongoClient
from tests.store.builders import make_workflow
from tests.store.test_execution_audit_contract import make_execution

STARTS = [f"2026-05-0{day}T12:00:00.000000Z" for day in range(1, 6)]


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


async def test_workflows_are_counted_by_status(store: Store) -> None:
    assert await store.workflows.count_by_status() == {}
    statuses = [WorkflowStatus.DRAFT] * 3 + [WorkflowStatus.ACTIVE] * 2 + [WorkflowStatus.INACTIVE]
    for index, status in enumerate(statuses):
        await store.workflows.create(make_workflow(f"counted {index}", status=status))
    assert await store.workflows.count_by_status() == {"draft": 3, "active": 2, "inactive": 1}
    first = (await store.workflows.create(make_workflow("moved", status=WorkflowStatus.DRAFT))).model_copy(
        update={"status": WorkflowStatus.ACTIVE}
    )
    await store.workflows.replace(first)
    assert await store.workflows.count_by_status() == {"draft": 3, "active": 3, "inactive": 1}
    await store.workflows.delete(await store.workflows.get(first.id))  # type: ignore[arg-type]
    assert await store.workflows.count_by_status() == {"draft": 3, "active": 2, "inactive": 1}


async def _executions(store: Store) -> None:
    """One execution a day from May 1st to 5th: completed, failed, running, pending, completed."""
    ends = [
        ExecutionStatus.COMPLETED,
        ExecutionStatus.FAILED,
        ExecutionStatus.RUNNING,
        ExecutionStatus.PENDING,
        ExecutionStatus.COMPLETED,
    ]
    for started, status in zip(STARTS, ends, strict=True):
        created, _ = await store.executions.create_or_get(make_execution(started=started))
        if status != ExecutionStatus.PENDING:
            done = status in (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)
            await store.executions.save(
                created.model_copy(update={"status": status, "completedAt": started if done else None})
            )


async def test_executions_are_counted_by_status(store: Store) -> None:
    assert await store.executions.count_by_status() == {}
    await _executions(store)
    assert await store.executions.count_by_status() == {
        "completed": 2,
        "failed": 1,
        "running": 1,
        "pending": 1,
    }


async def test_the_window_includes_both_ends(store: Store) -> None:
    await _executions(store)
    counts = store.executions.count_by_status
    assert await counts(STARTS[1], STARTS[3]) == {"failed": 1, "running": 1, "pending": 1}
    assert await counts(started_from=STARTS[3]) == {"pending": 1, "completed": 1}
    assert await counts(started_to=STARTS[0]) == {"completed": 1}
    assert await counts(STARTS[2], STARTS[2]) == {"running": 1}
    assert await counts("2026-05-01T12:00:00.000001Z", "2026-05-02T11:59:59.999999Z") == {}
    assert await counts("2026-06-01T00:00:00.000000Z") == {}


async def test_the_status_filter_counts_that_status_only(store: Store) -> None:
    await _executions(store)
    counts = store.executions.count_by_status
    assert await counts(status="completed") == {"completed": 2}
    assert await counts(STARTS[1], None, "completed") == {"completed": 1}
    assert await counts(status="cancelled") == {}


@pytest.mark.parametrize(
    ("count", "index"),
    [
        (lambda s: s.workflows.count_by_status(), "workflows_status"),
        (lambda s: s.executions.count_by_status(STARTS[0], STARTS[2]), "executions_started_status"),
        (lambda s: s.executions.count_by_status(started_from=STARTS[0]), "executions_started_status"),
        (lambda s: s.executions.count_by_status(STARTS[0], STARTS[2], "failed"), "executions_status"),
        (lambda s: s.executions.count_by_status(status="failed"), "executions_status"),
        (lambda s: s.executions.count_by_status(), "executions_started_status"),
    ],
    ids=["workflows", "window", "from", "window-status", "status", "all"],
)
async def test_the_embedded_store_counts_from_a_covering_index(
    store: Store, count: Callable[[Store], Awaitable[dict[str, int]]], index: str
) -> None:
    """The statement the embedded adapter runs reads an index alone, never the table's rows."""
    if not isinstance(store, EmbeddedStore):
        pytest.skip("the query plan of the embedded store")
    await _executions(store)
    statements: list[str] = []
    await store.db.read(lambda conn: conn.set_trace_callback(statements.append))
    try:
        await count(store)
    finally:
        await store.db.read(lambda conn: conn.set_trace_callback(None))
    (sql,) = [s for s in statements if "COUNT(*)" in s]
    plan = await store.db.read(lambda conn: conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall())
    details = " | ".join(row[-1] for row in plan)
    assert "USING COVERING INDEX " + index in details, details


@pytest.mark.parametrize(
    ("count", "collection"),
    [
        (lambda s: s.workflows.count_by_status(), "workflows"),
        (lambda s: s.executions.count_by_status(STARTS[0], STARTS[2]), "workflow_executions"),
        (lambda s: s.executions.count_by_status(status="failed"), "workflow_executions"),
    ],
    ids=["workflows", "window", "status"],
)
async def test_the_mongo_store_counts_with_one_hinted_aggregation(
    store: Store, count: Callable[[Store], Awaitable[dict[str, int]]], collection: str
) -> None:
    """One command, an aggregation (the fake refuses a hint that names no index, as the server does)."""
    if not isinstance(store, MongoStore) or not isinstance(store.database.client, FakeMongoClient):
        pytest.skip("the commands of the MongoDB store, over the fake client")
    await _executions(store)
    log = store.database.client.faults.log
    log.clear()
    await count(store)
    assert log == [(collection, "aggregate")]
