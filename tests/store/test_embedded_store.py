"""The embedded store directly (no HTTP), what is SQLite's own: uniqueness across processes, the on-disk
format (WAL, reopen, schema versions). The port's contract is in test_store_contract.py, for both adapters."""

from __future__ import annotations

import asyncio
import inspect
import multiprocessing
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from flowker.domain.breaker_state import BreakerRecord
from flowker.domain.provider_config import ProviderConfig
from flowker.dsl.model import WorkflowStatus
from flowker.errors import ConfigError, Conflict, Unprocessable
from flowker.store import ports
from flowker.store.embedded import EmbeddedStore
from flowker.store.embedded.database import SCHEMA_VERSION
from flowker.store.embedded.store import DB_FILE, EmbeddedExecutorConfigs, EmbeddedWorkflows
from flowker.store.ports import ProviderConfigQuery
from tests.store.builders import db_rows, make_config, make_item, make_workflow, repository

PROCESSES = 6


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
        db.execute("DROP TABLE breaker_states")
        db.execute("DROP TABLE merkle_nodes")
        db.execute("PRAGMA user_version = 1")

    second = await EmbeddedStore(data_dir).open()
    try:
        assert await second.workflows.get(workflow.id) == workflow
        assert await second.audit.staged(1) == []
    finally:
        await second.close()
    columns = {row[1] for row in db_rows(data_dir, "PRAGMA table_info(executions)")}
    assert {"attempts", "cancel_requested_by"} <= columns
    assert db_rows(data_dir, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


async def test_a_file_of_schema_version_2_gets_the_breaker_states_table(tmp_path: Path) -> None:
    data_dir = tmp_path / "v2"
    first = await EmbeddedStore(data_dir).open()
    workflow = await first.workflows.create(make_workflow())
    await first.close()
    # The file a version-2 Flowker left: no breaker_states table.
    with sqlite3.connect(data_dir / DB_FILE) as db:
        db.execute("DROP TABLE breaker_states")
        db.execute("DROP TABLE merkle_nodes")
        db.execute("DROP TABLE audit_checkpoints")
        db.execute("PRAGMA user_version = 2")

    second = await EmbeddedStore(data_dir).open()
    try:
        assert await second.workflows.get(workflow.id) == workflow
        assert await second.breakers.get("any") is None
        await second.breakers.put("any", BreakerRecord(state="open", opened_at=5.0, next_trial_at=35.0))
        assert (await second.breakers.get("any")) == BreakerRecord(
            state="open", opened_at=5.0, next_trial_at=35.0
        )
    finally:
        await second.close()
    assert db_rows(data_dir, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


async def test_a_file_of_schema_version_5_gets_the_index_the_dashboards_count_with(tmp_path: Path) -> None:
    data_dir = tmp_path / "v5"
    first = await EmbeddedStore(data_dir).open()
    await first.workflows.create(make_workflow())
    await first.close()
    # The file a version-5 Flowker left: no (started_at, status) index on executions.
    with sqlite3.connect(data_dir / DB_FILE) as db:
        db.execute("DROP INDEX executions_started_status")
        db.execute("PRAGMA user_version = 5")

    second = await EmbeddedStore(data_dir).open()
    try:
        assert await second.executions.count_by_status("2026-01-01T00:00:00.000000Z") == {}
        assert await second.workflows.count_by_status() == {"draft": 1}
    finally:
        await second.close()
    indexes = {row[1] for row in db_rows(data_dir, "PRAGMA index_list(executions)")}
    assert "executions_started_status" in indexes
    assert db_rows(data_dir, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


async def test_a_file_of_schema_version_6_gets_the_provider_configurations_table(tmp_path: Path) -> None:
    data_dir = tmp_path / "v6"
    first = await EmbeddedStore(data_dir).open()
    workflow = await first.workflows.create(make_workflow())
    await first.close()
    # The file a version-6 Flowker left: no provider_configs table.
    with sqlite3.connect(data_dir / DB_FILE) as db:
        db.execute("DROP TABLE provider_configs")
        db.execute("PRAGMA user_version = 6")

    second = await EmbeddedStore(data_dir).open()
    try:
        assert await second.workflows.get(workflow.id) == workflow
        config = ProviderConfig(
            id=str(uuid.uuid4()),
            name="tracer",
            providerId="tracer",
            config={"base_url": "https://tracer.example.com"},
            createdAt="2026-05-01T00:00:00.000000Z",
            updatedAt="2026-05-01T00:00:00.000000Z",
        )
        await second.provider_configs.create(config)
        page = await second.provider_configs.list(ProviderConfigQuery(provider_id="tracer"))
        assert [c.id for c in page.items] == [config.id]
    finally:
        await second.close()
    indexes = {row[1] for row in db_rows(data_dir, "PRAGMA index_list(provider_configs)")}
    assert {"provider_configs_status", "provider_configs_provider"} <= indexes
    assert db_rows(data_dir, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


async def test_a_file_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "newer"
    await (await EmbeddedStore(data_dir).open()).close()
    with sqlite3.connect(data_dir / DB_FILE) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(ConfigError, match="schema version 99"):
        await EmbeddedStore(data_dir).open()


async def test_a_file_of_schema_version_3_gets_the_merkle_tree_of_its_events(tmp_path: Path) -> None:
    from flowker.actors.sequencer import Sequencer
    from flowker.domain.audit import AuditAction, AuditEvent, ResourceType
    from flowker.domain.merkle import NodeSnapshot, proof_nodes, root_at
    from tests.helpers.merkle_reference import naive_root

    data_dir = tmp_path / "v3"
    first = await EmbeddedStore(data_dir).open()
    made = [
        AuditEvent("WORKFLOW_CREATED", AuditAction.CREATE, ResourceType.WORKFLOW, f"w{i}") for i in range(5)
    ]
    await Sequencer(first.audit).append(made)
    await first.close()
    # The file a version-3 Flowker left: its events, no merkle_nodes table.
    with sqlite3.connect(data_dir / DB_FILE) as db:
        db.execute("DROP TABLE merkle_nodes")
        db.execute("DROP TABLE audit_checkpoints")
        db.execute("PRAGMA user_version = 3")

    second = await EmbeddedStore(data_dir).open()
    try:
        assert await second.audit.tree_size() == 0
        await Sequencer(second.audit).append(
            [made[0], AuditEvent("WORKFLOW_UPDATED", AuditAction.UPDATE, ResourceType.WORKFLOW, "w0")]
        )
        hashes = [h for _, h in await second.audit.entry_hashes(0, 100)]
        assert len(hashes) == 6 and await second.audit.tree_size() == 6
        ids = proof_nodes(None, 6)
        nodes = dict(zip(ids, await second.audit.tree_nodes(ids), strict=True))
        assert root_at(NodeSnapshot(6, nodes), 6) == naive_root(hashes)
    finally:
        await second.close()
    assert db_rows(data_dir, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


async def test_a_file_of_schema_version_4_gets_the_checkpoints_table(tmp_path: Path) -> None:
    from flowker.store.ports import StoredCheckpoint

    data_dir = tmp_path / "v4"
    first = await EmbeddedStore(data_dir).open()
    workflow = await first.workflows.create(make_workflow())
    await first.close()
    # The file a version-4 Flowker left: no audit_checkpoints table.
    with sqlite3.connect(data_dir / DB_FILE) as db:
        db.execute("DROP TABLE audit_checkpoints")
        db.execute("PRAGMA user_version = 4")

    second = await EmbeddedStore(data_dir).open()
    try:
        assert await second.workflows.get(workflow.id) == workflow
        assert await second.checkpoints.latest() is None
        made = StoredCheckpoint(1, b"\x01" * 32, "2026-01-01T00:00:00.000000Z", "note\n")
        assert await second.checkpoints.add(made)
        assert await second.checkpoints.latest() == made
    finally:
        await second.close()
    assert db_rows(data_dir, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


async def test_a_file_of_schema_version_6_gets_the_webhook_route_table(tmp_path: Path) -> None:
    data_dir = tmp_path / "v6"
    first = await EmbeddedStore(data_dir).open()
    await first.workflows.create(make_workflow())
    await first.close()
    # The file a version-6 Flowker left: no webhook routes.
    with sqlite3.connect(data_dir / DB_FILE) as db:
        db.execute("DROP TABLE webhook_routes")
        db.execute("PRAGMA user_version = 6")

    second = await EmbeddedStore(data_dir).open()
    try:
        assert await second.webhook_routes.find("POST", "/e2e/webhook-test") is None
        assert await second.workflows.count_by_status() == {"draft": 1}
    finally:
        await second.close()
    indexes = {row[1] for row in db_rows(data_dir, "PRAGMA index_list(webhook_routes)")}
    assert "webhook_routes_workflow" in indexes
    assert db_rows(data_dir, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
