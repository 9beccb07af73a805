"""The embedded store: workflows and executor configurations in one SQLite file of the data directory."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import flowker.store.embedded.outbox as outbox
from flowker.codes import (
    EXECUTOR_CONFIG_NAME_TAKEN,
    EXECUTOR_CONFIG_NOT_ALLOWED,
    PROVIDER_CONFIG_NAME_TAKEN,
    WORKFLOW_NAME_TAKEN,
)
from flowker.domain.audit import AuditEvent
from flowker.domain.executor_config import ExecutorConfig, ExecutorStatus
from flowker.domain.provider_config import ProviderConfig
from flowker.dsl.model import Workflow, WorkflowStatus
from flowker.dsl.validation import executor_bindings
from flowker.dsl.webhook_trigger import WebhookRoute, path_taken, routes_of
from flowker.errors import StateChanged, Unprocessable
from flowker.store.embedded.audit import EmbeddedAuditLog
from flowker.store.embedded.breakers import EmbeddedBreakerStates
from flowker.store.embedded.checkpoints import EmbeddedCheckpoints
from flowker.store.embedded.database import Database
from flowker.store.embedded.documents import DocumentTable
from flowker.store.embedded.executions import EmbeddedExecutions
from flowker.store.ports import ListQuery, Page, ProviderConfigQuery, WorkflowUsage

DB_FILE = "flowker.db"


class EmbeddedWorkflows:
    """Workflows, plus the table of which executor configurations each one names."""

    def __init__(self, db: Database) -> None:
        self._table = DocumentTable(db, "workflows", Workflow, "workflow", WORKFLOW_NAME_TAKEN)
        self._configs = DocumentTable(
            db, "executor_configs", ExecutorConfig, "executor configuration", EXECUTOR_CONFIG_NAME_TAKEN
        )
        self._db = db

    async def create(self, workflow: Workflow, events: Sequence[AuditEvent] = ()) -> Workflow:
        def insert(conn: sqlite3.Connection) -> Workflow:
            stored = self._table.insert(conn, workflow)
            _write_refs(conn, workflow)
            outbox.stage(conn, events)
            return stored

        return await self._db.write(insert)

    async def get(self, workflow_id: str) -> Workflow | None:
        return await self._table.get(workflow_id)

    async def list(self, query: ListQuery) -> Page[Workflow]:
        return await self._table.list(query)

    async def replace(
        self, workflow: Workflow, events: Sequence[AuditEvent] = (), *, check_executors: bool = False
    ) -> Workflow:
        def update(conn: sqlite3.Connection) -> Workflow:
            if check_executors:
                self._check_bindings(conn, workflow)
            stored = self._table.update(conn, workflow)
            _write_refs(conn, workflow)
            _write_routes(conn, workflow)
            outbox.stage(conn, events)
            return stored

        return await self._db.write(update)

    def _check_bindings(self, conn: sqlite3.Connection, workflow: Workflow) -> None:
        for config_id, endpoint in executor_bindings(workflow):
            row = conn.execute(
                "SELECT doc, revision FROM executor_configs WHERE id = ?", (config_id,)
            ).fetchone()
            config = self._configs.load(row) if row else None
            if (
                config is None
                or config.status != ExecutorStatus.ACTIVE
                or endpoint not in config.endpoint_names()
            ):
                raise StateChanged(f"executor configuration {config_id}")

    async def delete(self, workflow: Workflow, events: Sequence[AuditEvent] = ()) -> None:
        def remove(conn: sqlite3.Connection) -> None:
            self._table.remove(conn, workflow)
            outbox.stage(conn, events)

        await self._db.write(remove)

    async def count_by_status(self) -> dict[str, int]:
        """One ``GROUP BY`` over the index ``workflows_status``: no workflow row is read."""
        rows = await self._db.read(
            lambda conn: conn.execute("SELECT status, COUNT(*) FROM workflows GROUP BY status").fetchall()
        )
        return {row[0]: row[1] for row in rows}


def _write_routes(conn: sqlite3.Connection, workflow: Workflow) -> None:
    """The workflow's webhook routes when it is active, none otherwise; a taken one is 409 FLK-0360."""
    conn.execute("DELETE FROM webhook_routes WHERE workflow_id = ?", (workflow.id,))
    if workflow.status != WorkflowStatus.ACTIVE:
        return
    for route in routes_of(workflow, workflow.id):
        try:
            conn.execute(
                "INSERT INTO webhook_routes (method, path, workflow_id, token_hash) VALUES (?, ?, ?, ?)",
                (route.method, route.path, route.workflow_id, route.token_hash),
            )
        except sqlite3.IntegrityError:
            owner = conn.execute(
                "SELECT w.name FROM webhook_routes r JOIN workflows w ON w.id = r.workflow_id"
                " WHERE r.method = ? AND r.path = ?",
                (route.method, route.path),
            ).fetchone()
            raise path_taken(route, owner[0] if owner else "?") from None


class EmbeddedWebhookRoutes:
    """The route table ``webhook_routes``, read by primary key."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def find(self, method: str, path: str) -> WebhookRoute | None:
        row = await self._db.read(
            lambda conn: conn.execute(
                "SELECT workflow_id, token_hash FROM webhook_routes WHERE method = ? AND path = ?",
                (method, path),
            ).fetchone()
        )
        return WebhookRoute(method, path, row[0], row[1]) if row else None


def _write_refs(conn: sqlite3.Connection, workflow: Workflow) -> None:
    conn.execute("DELETE FROM workflow_executor_refs WHERE workflow_id = ?", (workflow.id,))
    conn.executemany(
        "INSERT INTO workflow_executor_refs (workflow_id, executor_config_id, endpoint_name)"
        " VALUES (?, ?, ?)",
        [(workflow.id, ref, endpoint) for ref, endpoint in executor_bindings(workflow)],
    )


_ENDPOINTS_IN_USE = """
    SELECT r.endpoint_name, w.name FROM workflow_executor_refs r JOIN workflows w ON w.id = r.workflow_id
    WHERE r.executor_config_id = ? AND w.status = ? ORDER BY w.name"""


def _endpoints_in_use(conn: sqlite3.Connection, config_id: str) -> dict[str, str]:
    """Endpoint name -> name of an active workflow that calls it."""
    rows = conn.execute(_ENDPOINTS_IN_USE, (config_id, WorkflowStatus.ACTIVE.value)).fetchall()
    return {endpoint: name for endpoint, name in reversed(rows)}


def _usage(conn: sqlite3.Connection, config_id: str) -> list[WorkflowUsage]:
    rows = conn.execute(
        "SELECT w.id, w.name FROM workflows w JOIN workflow_executor_refs r ON r.workflow_id = w.id"
        " WHERE r.executor_config_id = ? AND w.status = ? ORDER BY w.name",
        (config_id, WorkflowStatus.ACTIVE.value),
    ).fetchall()
    return [WorkflowUsage(id=row[0], name=row[1]) for row in rows]


class EmbeddedExecutorConfigs:
    def __init__(self, db: Database) -> None:
        self._table = DocumentTable(
            db, "executor_configs", ExecutorConfig, "executor configuration", EXECUTOR_CONFIG_NAME_TAKEN
        )
        self._db = db

    async def create(self, config: ExecutorConfig, events: Sequence[AuditEvent] = ()) -> ExecutorConfig:
        def insert(conn: sqlite3.Connection) -> ExecutorConfig:
            stored = self._table.insert(conn, config)
            outbox.stage(conn, events)
            return stored

        return await self._db.write(insert)

    async def get(self, config_id: str) -> ExecutorConfig | None:
        return await self._table.get(config_id)

    async def get_many(self, config_ids: Sequence[str]) -> dict[str, ExecutorConfig]:
        if not config_ids:
            return {}
        marks = ",".join("?" * len(config_ids))

        def read(conn: sqlite3.Connection) -> dict[str, ExecutorConfig]:
            rows = conn.execute(
                f"SELECT doc, revision FROM executor_configs WHERE id IN ({marks})", tuple(config_ids)
            ).fetchall()
            loaded = [self._table.load(row) for row in rows]
            return {config.id: config for config in loaded}

        return await self._db.read(read)

    async def list(self, query: ListQuery) -> Page[ExecutorConfig]:
        return await self._table.list(query)

    async def replace(self, config: ExecutorConfig, events: Sequence[AuditEvent] = ()) -> ExecutorConfig:
        def update(conn: sqlite3.Connection) -> ExecutorConfig:
            kept = config.endpoint_names()
            for endpoint, workflow in _endpoints_in_use(conn, config.id).items():
                if endpoint not in kept:
                    raise Unprocessable(
                        f"endpoint {endpoint!r} is called by active workflow {workflow!r}; "
                        "deactivate it first",
                        code=EXECUTOR_CONFIG_NOT_ALLOWED,
                    )
            stored = self._table.update(conn, config)
            outbox.stage(conn, events)
            return stored

        return await self._db.write(update)

    async def delete(self, config: ExecutorConfig, events: Sequence[AuditEvent] = ()) -> None:
        def remove(conn: sqlite3.Connection) -> None:
            users = _usage(conn, config.id)
            if users:
                names = ", ".join(repr(u.name) for u in users)
                raise Unprocessable(
                    f"executor configuration {config.name!r} is used by active workflows: {names}",
                    code=EXECUTOR_CONFIG_NOT_ALLOWED,
                )
            self._table.remove(conn, config)
            conn.execute("DELETE FROM breaker_states WHERE executor_config_id = ?", (config.id,))
            outbox.stage(conn, events)

        await self._db.write(remove)

    async def used_by_active_workflows(self, config_id: str) -> list[WorkflowUsage]:
        return await self._db.read(lambda conn: _usage(conn, config_id))


class EmbeddedProviderConfigs:
    """Provider configurations: a document table with the provider's id as a column of its own."""

    def __init__(self, db: Database) -> None:
        self._table = DocumentTable(
            db,
            "provider_configs",
            ProviderConfig,
            "provider configuration",
            PROVIDER_CONFIG_NAME_TAKEN,
            extra_columns={"provider_id": "providerId"},
        )
        self._db = db

    async def create(self, config: ProviderConfig, events: Sequence[AuditEvent] = ()) -> ProviderConfig:
        def insert(conn: sqlite3.Connection) -> ProviderConfig:
            stored = self._table.insert(conn, config)
            outbox.stage(conn, events)
            return stored

        return await self._db.write(insert)

    async def get(self, config_id: str) -> ProviderConfig | None:
        return await self._table.get(config_id)

    async def list(self, query: ProviderConfigQuery) -> Page[ProviderConfig]:
        return await self._table.list(query, {"provider_id": query.provider_id})

    async def replace(self, config: ProviderConfig, events: Sequence[AuditEvent] = ()) -> ProviderConfig:
        def update(conn: sqlite3.Connection) -> ProviderConfig:
            stored = self._table.update(conn, config)
            outbox.stage(conn, events)
            return stored

        return await self._db.write(update)

    async def delete(self, config: ProviderConfig, events: Sequence[AuditEvent] = ()) -> None:
        def remove(conn: sqlite3.Connection) -> None:
            self._table.remove(conn, config)
            outbox.stage(conn, events)

        await self._db.write(remove)


class EmbeddedStore:
    """The store of a single machine: ``<data_dir>/flowker.db``."""

    def __init__(self, data_dir: Path) -> None:
        self.db = Database(data_dir / DB_FILE)
        self.workflows = EmbeddedWorkflows(self.db)
        self.webhook_routes = EmbeddedWebhookRoutes(self.db)
        self.executor_configs = EmbeddedExecutorConfigs(self.db)
        self.provider_configs = EmbeddedProviderConfigs(self.db)
        self.executions = EmbeddedExecutions(self.db)
        self.breakers = EmbeddedBreakerStates(self.db)
        self.audit = EmbeddedAuditLog(self.db)
        self.checkpoints = EmbeddedCheckpoints(self.db)

    async def open(self) -> EmbeddedStore:
        await self.db.open()
        return self

    async def ping(self) -> None:
        await self.db.read(lambda conn: conn.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        await self.db.close()
