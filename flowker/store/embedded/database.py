"""One SQLite database file in WAL mode, shared safely by every Flowker process of one machine.

Writes run on one dedicated thread with one connection, reads on another with its own, so the event
loop never blocks on disk, no connection is shared between threads, and a read never waits behind a
write that waits for another process's lock (WAL lets readers and a writer work at once). Writes take
the database lock up front (``BEGIN IMMEDIATE``), so a read-then-write inside one transaction cannot
interleave with another process's write.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from flowker.errors import ConfigError
from flowker.tunables import BUSY_TIMEOUT_SECONDS, STORE_MAX_BATCH

T = TypeVar("T")

#: Bumped with every change of the tables; an older file is migrated (MIGRATIONS), a newer one refused.
SCHEMA_VERSION = 8

_BREAKER_STATES = """CREATE TABLE IF NOT EXISTS breaker_states (
        executor_config_id TEXT PRIMARY KEY, updated_at REAL NOT NULL, doc BLOB NOT NULL)"""

#: The audit log's Merkle tree: the hash of each complete subtree (flowker.domain.merkle.NodeId), written
#: in the transaction of the events it covers.
_MERKLE_NODES = """CREATE TABLE IF NOT EXISTS merkle_nodes (
        level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,
        PRIMARY KEY (level, idx)) WITHOUT ROWID"""

#: The audit log's signed checkpoints (flowker.actors.checkpointer), one per tree size.
_AUDIT_CHECKPOINTS = """CREATE TABLE IF NOT EXISTS audit_checkpoints (
        tree_size INTEGER PRIMARY KEY, root_hash BLOB NOT NULL, created_at TEXT NOT NULL,
        note TEXT NOT NULL)"""

#: The dashboards count executions of a time window by status from this index alone (a covering index).
_EXECUTIONS_STARTED_STATUS = (
    "CREATE INDEX IF NOT EXISTS executions_started_status ON executions (started_at, status)"
)

#: The webhook routes of active workflows; the primary key makes METHOD+path unique (FLK-0360).
_WEBHOOK_ROUTES = """CREATE TABLE IF NOT EXISTS webhook_routes (
        method TEXT NOT NULL, path TEXT NOT NULL,
        workflow_id TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
        token_hash TEXT, PRIMARY KEY (method, path)) WITHOUT ROWID"""
_WEBHOOK_ROUTES_WORKFLOW = (
    "CREATE INDEX IF NOT EXISTS webhook_routes_workflow ON webhook_routes (workflow_id)"
)
#: Provider configurations (the catalog's provider instances), listed by status and by provider.
_PROVIDER_CONFIGS = (
    """CREATE TABLE IF NOT EXISTS provider_configs (
        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, status TEXT NOT NULL, provider_id TEXT NOT NULL,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL, revision INTEGER NOT NULL, doc BLOB NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS provider_configs_status ON provider_configs (status, created_at)",
    "CREATE INDEX IF NOT EXISTS provider_configs_provider ON provider_configs (provider_id, status)",
    "CREATE INDEX IF NOT EXISTS provider_configs_created ON provider_configs (created_at, id)",
    "CREATE INDEX IF NOT EXISTS provider_configs_updated ON provider_configs (updated_at, id)",
)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS workflows (
        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL, revision INTEGER NOT NULL, doc BLOB NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS workflows_status ON workflows (status, created_at)",
    "CREATE INDEX IF NOT EXISTS workflows_created ON workflows (created_at, id)",
    "CREATE INDEX IF NOT EXISTS workflows_updated ON workflows (updated_at, id)",
    """CREATE TABLE IF NOT EXISTS workflow_executor_refs (
        workflow_id TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
        executor_config_id TEXT NOT NULL,
        endpoint_name TEXT NOT NULL,
        PRIMARY KEY (workflow_id, executor_config_id, endpoint_name))""",
    "CREATE INDEX IF NOT EXISTS refs_by_executor ON workflow_executor_refs (executor_config_id)",
    """CREATE TABLE IF NOT EXISTS executor_configs (
        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL, revision INTEGER NOT NULL, doc BLOB NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS executor_configs_created ON executor_configs (created_at, id)",
    "CREATE INDEX IF NOT EXISTS executor_configs_updated ON executor_configs (updated_at, id)",
    """CREATE TABLE IF NOT EXISTS executions (
        id TEXT PRIMARY KEY, workflow_id TEXT NOT NULL, status TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE, started_at TEXT NOT NULL, completed_at TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0, lease_owner TEXT, lease_expires REAL,
        revision INTEGER NOT NULL, doc BLOB NOT NULL, workflow BLOB NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, cancel_requested_by BLOB)""",
    "CREATE INDEX IF NOT EXISTS executions_started ON executions (started_at, id)",
    "CREATE INDEX IF NOT EXISTS executions_completed ON executions (completed_at, id)",
    "CREATE INDEX IF NOT EXISTS executions_workflow ON executions (workflow_id, started_at)",
    "CREATE INDEX IF NOT EXISTS executions_status ON executions (status, started_at)",
    "CREATE INDEX IF NOT EXISTS executions_lease ON executions (status, lease_expires)",
    _EXECUTIONS_STARTED_STATUS,
    """CREATE TABLE IF NOT EXISTS execution_steps (
        execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        step_number INTEGER NOT NULL, doc BLOB NOT NULL,
        PRIMARY KEY (execution_id, step_number))""",
    """CREATE TABLE IF NOT EXISTS audit_events (
        sequence INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, event_type TEXT NOT NULL,
        action TEXT NOT NULL, result TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL,
        created_at TEXT NOT NULL, doc BLOB NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS audit_resource ON audit_events (resource_type, resource_id)",
    "CREATE INDEX IF NOT EXISTS audit_created ON audit_events (created_at)",
    # Events committed with the change they describe, until the audit writer has chained them.
    """CREATE TABLE IF NOT EXISTS audit_outbox (
        position INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, doc BLOB NOT NULL)""",
    # The circuit breaker of each executor configuration, written on its transitions.
    _BREAKER_STATES,
    _MERKLE_NODES,
    _AUDIT_CHECKPOINTS,
    _WEBHOOK_ROUTES,
    _WEBHOOK_ROUTES_WORKFLOW,
    *_PROVIDER_CONFIGS,
)

#: Statements that bring a file of an older schema version to the next one, by the version they start from.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "ALTER TABLE executions ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE executions ADD COLUMN cancel_requested_by BLOB",
    ),
    2: (_BREAKER_STATES,),
    # The nodes of events chained before v4 are built by the audit writer when it starts (bounded batches).
    3: (_MERKLE_NODES,),
    # Checkpoints start with the first issued after the upgrade.
    4: (_AUDIT_CHECKPOINTS,),
    5: (_EXECUTIONS_STARTED_STATUS,),
    # Workflows active before the upgrade get their routes when next activated (deactivate, draft, activate).
    6: (_WEBHOOK_ROUTES, _WEBHOOK_ROUTES_WORKFLOW),
    7: _PROVIDER_CONFIGS,
}


class Database:
    """The connection and the thread that runs its statements."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowker-sqlite")
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowker-sqlite-read")
        self._conn: sqlite3.Connection | None = None
        self._read_conn: sqlite3.Connection | None = None
        self._queue: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Open (creating the file and schema if needed)."""
        await self.run(self._open)
        self._read_conn = await asyncio.get_running_loop().run_in_executor(self._reader, self._connect)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        _retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL"))
        # FULL: an acknowledged write survives a power loss, not only a process crash.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            empty = conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
            if not empty and version != SCHEMA_VERSION and version not in MIGRATIONS:
                raise ConfigError(
                    f"{self.path} holds schema version {version}; this Flowker reads version {SCHEMA_VERSION}"
                )
            while not empty and version < SCHEMA_VERSION:
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
                version += 1
            for statement in SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        # From now on no busy handler on the write connection: _begin waits for the lock in finer steps.
        conn.execute("PRAGMA busy_timeout = 0")
        self._conn = conn

    async def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the database thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, work)

    async def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(connection)`` on the read connection, outside any explicit transaction."""
        if self._read_conn is None:
            raise RuntimeError("database is not open")
        conn = self._read_conn
        return await asyncio.get_running_loop().run_in_executor(self._reader, lambda: work(conn))

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(connection)`` atomically: its changes are all kept, or none if it raises.

        Group commit: the writes of this process that arrive while a transaction is being committed
        share the next one, each inside a savepoint of its own, so that one fsync serves them all.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((work, future))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_batches())
        return await future

    async def _write_batches(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:STORE_MAX_BATCH], self._queue[STORE_MAX_BATCH:]
            try:
                outcomes = await self.run(lambda batch=batch: self._transaction([work for work, _ in batch]))
            except BaseException as exc:  # the transaction itself failed: nothing of it was kept
                outcomes = [(False, exc)] * len(batch)
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _transaction(self, works: list[Callable[[sqlite3.Connection], Any]]) -> list[tuple[bool, Any]]:
        conn = self._connection()
        outcomes: list[tuple[bool, Any]] = []
        _begin(conn)
        try:
            for work in works:
                conn.execute("SAVEPOINT work")
                try:
                    outcomes.append((True, work(conn)))
                except Exception as exc:
                    conn.execute("ROLLBACK TO work")
                    outcomes.append((False, exc))
                conn.execute("RELEASE work")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return outcomes

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def close(self) -> None:
        """Finish the writes under way, close the connections and stop the threads."""
        if self._writer is not None:
            await self._writer
        if self._conn is not None:
            await self.run(self._conn.close)
            self._conn = None
        if self._read_conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._reader, self._read_conn.close)
            self._read_conn = None
        self._thread.shutdown(wait=True)
        self._reader.shutdown(wait=True)


def _begin(conn: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, waiting for another process's write lock in short, growing sleeps.

    SQLite's own busy handler sleeps up to 100 ms at a time, which showed as a long tail of start
    latency when several processes write at once; these sleeps start at 0.2 ms and stop growing at 5 ms.
    """
    _retry_locked(lambda: conn.execute("BEGIN IMMEDIATE"))


def _retry_locked(statement: Callable[[], object]) -> None:
    """Run ``statement`` until no other process holds the lock it needs (at most BUSY_TIMEOUT_SECONDS).

    Also for switching to WAL: SQLite's busy handler does not cover that, and processes that open a
    new file together would otherwise fail at random.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    delay = 0.0002
    while True:
        try:
            statement()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.005)
