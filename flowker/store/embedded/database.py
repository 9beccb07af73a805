"""One SQLite database file in WAL mode, shared safely by every Flowker process of one machine.

All statements of a process run on one dedicated thread with one connection, so the event loop never
blocks on disk and SQLite's connection is never shared between threads. Writes take the database
lock up front (``BEGIN IMMEDIATE``), so a read-then-write inside one transaction cannot interleave
with another process's write.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: Seconds a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_SECONDS = 10.0

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
        revision INTEGER NOT NULL, doc BLOB NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS executions_started ON executions (started_at, id)",
    "CREATE INDEX IF NOT EXISTS executions_completed ON executions (completed_at, id)",
    "CREATE INDEX IF NOT EXISTS executions_workflow ON executions (workflow_id, started_at)",
    "CREATE INDEX IF NOT EXISTS executions_status ON executions (status, started_at)",
    "CREATE INDEX IF NOT EXISTS executions_lease ON executions (status, lease_expires)",
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
)


class Database:
    """The connection and the thread that runs its statements."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowker-sqlite")
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        """Open (creating the file and schema if needed)."""
        await self.run(self._open)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged write survives a power loss, not only a process crash.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in SCHEMA:
                conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._conn = conn

    async def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the database thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, work)

    async def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(connection)`` outside any explicit transaction."""
        return await self.run(lambda: work(self._connection()))

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(connection)`` in one immediate transaction, rolled back if it raises."""

        def transaction() -> T:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return await self.run(transaction)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def close(self) -> None:
        """Close the connection and stop the thread."""
        if self._conn is not None:
            await self.run(self._conn.close)
            self._conn = None
        self._thread.shutdown(wait=True)
