"""The store ports in memory: plain dicts in one process, for tests that need no SQLite file.

It keeps the embedded adapter's semantics (check-and-set on ``revision``, name uniqueness with the FLK
codes, the activation and endpoint-usage checks, idempotency keys, step records keyed by
(execution, step), leases, the audit outbox, keyset pagination ordered and tie-broken as the SQL is),
and the store contract tests in ``tests/store`` run against both adapters to keep it so.

Documents are held as the JSON the embedded adapter writes (``orjson`` bytes) and parsed again on every
read: nothing a caller passes in or gets back shares state with what is stored. Every write runs in a
transaction with an undo log: if it raises, everything it changed is put back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel

from flowker.codes import (
    EXECUTOR_CONFIG_NAME_TAKEN,
    EXECUTOR_CONFIG_NOT_ALLOWED,
    PROVIDER_CONFIG_NAME_TAKEN,
    WORKFLOW_NAME_TAKEN,
)
from flowker.domain.audit import AuditEvent
from flowker.domain.breaker_state import BreakerRecord
from flowker.domain.execution import Execution
from flowker.domain.executor_config import ExecutorConfig, ExecutorStatus
from flowker.domain.merkle import NodeId
from flowker.domain.provider_config import ProviderConfig
from flowker.dsl.model import Workflow, WorkflowStatus
from flowker.dsl.run_state import StepRecord
from flowker.dsl.validation import executor_bindings
from flowker.dsl.webhook_trigger import WebhookRoute, path_taken, routes_of
from flowker.errors import Conflict, StateChanged, Unprocessable, WorkflowChanged
from flowker.store.ports import (
    AuditQuery,
    ExecutionQuery,
    ListQuery,
    Page,
    ProviderConfigQuery,
    StartLease,
    StoredCheckpoint,
    StoredRecord,
    WorkflowUsage,
)

log = logging.getLogger("flowker.audit")

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
R = TypeVar("R")

_MISSING = object()
_UNFINISHED = ("pending", "running")


def _limit(rows: list[R], limit: int) -> list[R]:
    """SQLite's ``LIMIT``: a negative one means none."""
    return rows if limit < 0 else rows[:limit]


class _Transaction:
    """The undo log of one write: every change of a table goes through it."""

    def __init__(self) -> None:
        self._undo: list[tuple[dict[Any, Any], Any, Any]] = []

    def put(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        self._undo.append((table, key, table.get(key, _MISSING)))
        table[key] = value

    def pop(self, table: dict[Any, Any], key: Any) -> None:
        if key in table:
            self._undo.append((table, key, table[key]))
            del table[key]

    def rollback(self) -> None:
        for table, key, old in reversed(self._undo):
            if old is _MISSING:
                table.pop(key, None)
            else:
                table[key] = old
        self._undo.clear()


# ------------------------------------------------------------------------------------------- rows
# Rows are immutable: a write replaces a row, so the undo log can put the old one back.


@dataclass(frozen=True)
class _DocumentRow:
    id: str
    name: str
    status: str
    created_at: str
    updated_at: str
    revision: int
    doc: bytes
    #: For workflows: the (executorConfigId, endpointName) pairs it calls (the refs table).
    refs: tuple[tuple[str, str], ...] = ()
    #: For provider configurations: the provider_id column.
    provider_id: str | None = None


@dataclass(frozen=True)
class _ExecutionRow:
    id: str
    workflow_id: str
    status: str
    idempotency_key: str
    started_at: str
    completed_at: str | None
    cancel_requested: bool
    lease_owner: str | None
    lease_expires: float | None
    revision: int
    doc: bytes
    workflow: bytes
    attempts: int
    cancel_requested_by: bytes | None


@dataclass(frozen=True)
class _AuditRow:
    sequence: int
    event_id: str
    event_type: str
    action: str
    result: str
    resource_type: str
    resource_id: str
    created_at: str
    doc: bytes


class _Tables:
    def __init__(self) -> None:
        self.workflows: dict[str, _DocumentRow] = {}
        self.executor_configs: dict[str, _DocumentRow] = {}
        self.provider_configs: dict[str, _DocumentRow] = {}
        self.executions: dict[str, _ExecutionRow] = {}
        self.steps: dict[tuple[str, int], bytes] = {}
        self.audit: dict[int, _AuditRow] = {}
        self.outbox: dict[str, tuple[int, bytes]] = {}
        self.breaker_states: dict[str, bytes] = {}
        self.merkle_nodes: dict[tuple[int, int], bytes] = {}
        self.checkpoints: dict[int, StoredCheckpoint] = {}
        self.counters: dict[str, int] = {"outbox_position": 0}
        #: (method, path) -> route: the unique key of the webhook route table.
        self.webhook_routes: dict[tuple[str, str], WebhookRoute] = {}


class _Database:
    """The tables, and reads and writes that refuse once the store is closed."""

    def __init__(self) -> None:
        self.tables = _Tables()
        self.closed = False

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("database is not open")

    async def read(self, work: Callable[[_Tables], T]) -> T:
        self._check_open()
        await asyncio.sleep(0)  # like every real store, a read lets other tasks run
        self._check_open()
        return work(self.tables)

    async def write(self, work: Callable[[_Tables, _Transaction], T]) -> T:
        """Run ``work`` atomically: its changes are all kept, or none if it raises."""
        self._check_open()
        await asyncio.sleep(0)
        self._check_open()
        transaction = _Transaction()
        try:
            return work(self.tables, transaction)
        except BaseException:
            transaction.rollback()
            raise


# ----------------------------------------------------------------------------------------- outbox


def _stage(tables: _Tables, tx: _Transaction, events: Sequence[AuditEvent]) -> None:
    """Add ``events`` to the outbox (an event staged twice is kept once, where it was first staged)."""
    docs = [(event.event_id, orjson.dumps(event.to_dict())) for event in events]
    for event_id, doc in docs:
        if event_id not in tables.outbox:
            position = tables.counters["outbox_position"] + 1
            tx.put(tables.counters, "outbox_position", position)
            tx.put(tables.outbox, event_id, (position, doc))


def _staged(tables: _Tables, limit: int) -> list[AuditEvent]:
    rows = _limit(sorted(tables.outbox.items(), key=lambda item: item[1][0]), limit)
    events: list[AuditEvent] = []
    for event_id, (_, doc) in rows:
        try:
            events.append(AuditEvent.from_dict(orjson.loads(doc)))
        except (ValueError, KeyError, TypeError) as exc:
            log.error("audit outbox row %s cannot be read (%s); it stays in the outbox", event_id, exc)
    return events


# -------------------------------------------------------------------------------------- documents

_COLUMNS = {"createdAt": "created_at", "updatedAt": "updated_at", "name": "name"}


def _page(rows: Iterable[R], column: Callable[[R], Any], query: Any, load: Callable[[R], T]) -> Page[T]:
    """Keyset pagination as the SQL does it: ``ORDER BY column, id`` and ``(column, id) < / > after``."""
    descending = query.sort_order == "DESC"
    selected = list(rows)
    if query.after:
        after = tuple(query.after)
        if descending:
            selected = [row for row in selected if (column(row), row.id) < after]  # type: ignore[attr-defined]
        else:
            selected = [row for row in selected if (column(row), row.id) > after]  # type: ignore[attr-defined]
    selected.sort(key=lambda row: (column(row), row.id), reverse=descending)  # type: ignore[attr-defined]
    selected = _limit(selected, query.limit + 1)
    return Page([load(row) for row in _limit(selected, query.limit)], has_more=len(selected) > query.limit)


class _Documents(Generic[M]):
    """CRUD with check-and-set on ``revision`` for one table of documents of model ``M``."""

    def __init__(self, table: str, model: type[M], label: str, duplicate_code: str) -> None:
        self.table = table
        self.model = model
        self.label = label
        self.duplicate_code = duplicate_code

    def rows(self, tables: _Tables) -> dict[str, _DocumentRow]:
        rows: dict[str, _DocumentRow] = getattr(tables, self.table)
        return rows

    def load(self, row: _DocumentRow) -> M:
        doc = orjson.loads(row.doc)
        doc["revision"] = row.revision
        return self.model.model_validate(doc)

    def _row(self, item: Any, revision: int) -> _DocumentRow:
        return _DocumentRow(
            id=item.id,
            name=item.name,
            status=str(item.status),
            created_at=item.createdAt,
            updated_at=item.updatedAt,
            revision=revision,
            doc=orjson.dumps(item.model_dump(mode="json", exclude_none=True)),
            refs=tuple(executor_bindings(item)) if isinstance(item, Workflow) else (),
            provider_id=item.providerId if isinstance(item, ProviderConfig) else None,
        )

    def _name_taken(self, tables: _Tables, item: Any) -> Conflict | None:
        for row in self.rows(tables).values():
            if row.name == item.name and row.id != item.id:
                return Conflict(
                    f"a {self.label} named {item.name!r} already exists", code=self.duplicate_code
                )
        return None

    def insert(self, tables: _Tables, tx: _Transaction, item: M) -> M:
        """Insert ``item`` at revision 1."""
        row = self._row(item, 1)
        if row.id in self.rows(tables):
            raise Conflict(f"{self.label} {row.id} already exists", code=self.duplicate_code)
        taken = self._name_taken(tables, item)
        if taken is not None:
            raise taken
        tx.put(self.rows(tables), row.id, row)
        return item.model_copy(update={"revision": 1})

    def update(self, tables: _Tables, tx: _Transaction, item: M) -> M:
        """Write ``item`` if its revision is still the stored one."""
        revision: int = item.revision  # type: ignore[attr-defined]
        row = self._row(item, revision + 1)
        current = self.rows(tables).get(row.id)
        if current is None or current.revision != revision:
            raise StateChanged(f"{self.label} {row.id}")
        taken = self._name_taken(tables, item)
        if taken is not None:
            raise taken
        tx.put(self.rows(tables), row.id, row)
        return item.model_copy(update={"revision": revision + 1})

    def remove(self, tables: _Tables, tx: _Transaction, item: M) -> None:
        """Delete ``item`` if its revision is still the stored one."""
        current = self.rows(tables).get(item.id)  # type: ignore[attr-defined]
        if current is None or current.revision != item.revision:  # type: ignore[attr-defined]
            raise StateChanged(f"{self.label} {item.id}")  # type: ignore[attr-defined]
        tx.pop(self.rows(tables), current.id)

    def get(self, tables: _Tables, item_id: str) -> M | None:
        row = self.rows(tables).get(item_id)
        return self.load(row) if row else None

    def list(self, tables: _Tables, query: ListQuery, provider_id: str | None = None) -> Page[M]:
        column = _COLUMNS[query.sort_by]
        rows = [
            row
            for row in self.rows(tables).values()
            if (not query.status or row.status == query.status)
            and (provider_id is None or row.provider_id == provider_id)
        ]
        return _page(rows, lambda row: getattr(row, column), query, self.load)


_WORKFLOWS = _Documents("workflows", Workflow, "workflow", WORKFLOW_NAME_TAKEN)
_CONFIGS = _Documents(
    "executor_configs", ExecutorConfig, "executor configuration", EXECUTOR_CONFIG_NAME_TAKEN
)

_PROVIDER_CONFIGS = _Documents(
    "provider_configs", ProviderConfig, "provider configuration", PROVIDER_CONFIG_NAME_TAKEN
)


def _active_refs(tables: _Tables, config_id: str) -> list[tuple[str, str, str]]:
    """(workflow id, workflow name, endpoint) of each active workflow's call of the config, by name."""
    found = [
        (row.id, row.name, endpoint)
        for row in tables.workflows.values()
        if row.status == WorkflowStatus.ACTIVE.value
        for ref, endpoint in row.refs
        if ref == config_id
    ]
    return sorted(found, key=lambda found_ref: found_ref[1])


def _endpoints_in_use(tables: _Tables, config_id: str) -> dict[str, str]:
    """Endpoint name -> name of an active workflow that calls it."""
    return {endpoint: name for _, name, endpoint in reversed(_active_refs(tables, config_id))}


def _usage(tables: _Tables, config_id: str) -> list[WorkflowUsage]:
    return [WorkflowUsage(id=wid, name=name) for wid, name, _ in _active_refs(tables, config_id)]


class MemoryWorkflows:
    def __init__(self, db: _Database) -> None:
        self._db = db

    async def create(self, workflow: Workflow, events: Sequence[AuditEvent] = ()) -> Workflow:
        def insert(tables: _Tables, tx: _Transaction) -> Workflow:
            stored = _WORKFLOWS.insert(tables, tx, workflow)
            _stage(tables, tx, events)
            return stored

        return await self._db.write(insert)

    async def get(self, workflow_id: str) -> Workflow | None:
        return await self._db.read(lambda tables: _WORKFLOWS.get(tables, workflow_id))

    async def list(self, query: ListQuery) -> Page[Workflow]:
        return await self._db.read(lambda tables: _WORKFLOWS.list(tables, query))

    async def replace(
        self, workflow: Workflow, events: Sequence[AuditEvent] = (), *, check_executors: bool = False
    ) -> Workflow:
        def update(tables: _Tables, tx: _Transaction) -> Workflow:
            if check_executors:
                _check_bindings(tables, workflow)
            stored = _WORKFLOWS.update(tables, tx, workflow)
            _write_routes(tables, tx, workflow)
            _stage(tables, tx, events)
            return stored

        return await self._db.write(update)

    async def delete(self, workflow: Workflow, events: Sequence[AuditEvent] = ()) -> None:
        def remove(tables: _Tables, tx: _Transaction) -> None:
            _WORKFLOWS.remove(tables, tx, workflow)
            _drop_routes(tables, tx, workflow.id)
            _stage(tables, tx, events)

        await self._db.write(remove)

    async def count_by_status(self) -> dict[str, int]:
        return await self._db.read(
            lambda tables: dict(Counter(row.status for row in tables.workflows.values()))
        )


def _drop_routes(tables: _Tables, tx: _Transaction, workflow_id: str) -> None:
    for key, route in list(tables.webhook_routes.items()):
        if route.workflow_id == workflow_id:
            tx.pop(tables.webhook_routes, key)


def _write_routes(tables: _Tables, tx: _Transaction, workflow: Workflow) -> None:
    _drop_routes(tables, tx, workflow.id)
    if workflow.status != WorkflowStatus.ACTIVE:
        return
    for route in routes_of(workflow, workflow.id):
        owner = tables.webhook_routes.get((route.method, route.path))
        if owner is not None:
            name = _WORKFLOWS.get(tables, owner.workflow_id)
            raise path_taken(route, name.name if name else "?")
        tx.put(tables.webhook_routes, (route.method, route.path), route)


class MemoryWebhookRoutes:
    def __init__(self, db: _Database) -> None:
        self._db = db

    async def find(self, method: str, path: str) -> WebhookRoute | None:
        return await self._db.read(lambda tables: tables.webhook_routes.get((method, path)))


def _check_bindings(tables: _Tables, workflow: Workflow) -> None:
    for config_id, endpoint in executor_bindings(workflow):
        config = _CONFIGS.get(tables, config_id)
        if (
            config is None
            or config.status != ExecutorStatus.ACTIVE
            or endpoint not in config.endpoint_names()
        ):
            raise StateChanged(f"executor configuration {config_id}")


class MemoryExecutorConfigs:
    def __init__(self, db: _Database) -> None:
        self._db = db

    async def create(self, config: ExecutorConfig, events: Sequence[AuditEvent] = ()) -> ExecutorConfig:
        def insert(tables: _Tables, tx: _Transaction) -> ExecutorConfig:
            stored = _CONFIGS.insert(tables, tx, config)
            _stage(tables, tx, events)
            return stored

        return await self._db.write(insert)

    async def get(self, config_id: str) -> ExecutorConfig | None:
        return await self._db.read(lambda tables: _CONFIGS.get(tables, config_id))

    async def get_many(self, config_ids: Sequence[str]) -> dict[str, ExecutorConfig]:
        def read(tables: _Tables) -> dict[str, ExecutorConfig]:
            rows = [
                tables.executor_configs[i] for i in dict.fromkeys(config_ids) if i in tables.executor_configs
            ]
            return {row.id: _CONFIGS.load(row) for row in rows}

        if not config_ids:
            return {}
        return await self._db.read(read)

    async def list(self, query: ListQuery) -> Page[ExecutorConfig]:
        return await self._db.read(lambda tables: _CONFIGS.list(tables, query))

    async def replace(self, config: ExecutorConfig, events: Sequence[AuditEvent] = ()) -> ExecutorConfig:
        def update(tables: _Tables, tx: _Transaction) -> ExecutorConfig:
            kept = config.endpoint_names()
            for endpoint, workflow in _endpoints_in_use(tables, config.id).items():
                if endpoint not in kept:
                    raise Unprocessable(
                        f"endpoint {endpoint!r} is called by active workflow {workflow!r}; "
                        "deactivate it first",
                        code=EXECUTOR_CONFIG_NOT_ALLOWED,
                    )
            stored = _CONFIGS.update(tables, tx, config)
            _stage(tables, tx, events)
            return stored

        return await self._db.write(update)

    async def delete(self, config: ExecutorConfig, events: Sequence[AuditEvent] = ()) -> None:
        def remove(tables: _Tables, tx: _Transaction) -> None:
            users = _usage(tables, config.id)
            if users:
                names = ", ".join(repr(u.name) for u in users)
                raise Unprocessable(
                    f"executor configuration {config.name!r} is used by active workflows: {names}",
                    code=EXECUTOR_CONFIG_NOT_ALLOWED,
                )
            _CONFIGS.remove(tables, tx, config)
            tx.pop(tables.breaker_states, config.id)
            _stage(tables, tx, events)

        await self._db.write(remove)

    async def used_by_active_workflows(self, config_id: str) -> list[WorkflowUsage]:
        return await self._db.read(lambda tables: _usage(tables, config_id))


class MemoryProviderConfigs:
    def __init__(self, db: _Database) -> None:
        self._db = db

    async def create(self, config: ProviderConfig, events: Sequence[AuditEvent] = ()) -> ProviderConfig:
        def insert(tables: _Tables, tx: _Transaction) -> ProviderConfig:
            stored = _PROVIDER_CONFIGS.insert(tables, tx, config)
            _stage(tables, tx, events)
            return stored

        return await self._db.write(insert)

    async def get(self, config_id: str) -> ProviderConfig | None:
        return await self._db.read(lambda tables: _PROVIDER_CONFIGS.get(tables, config_id))

    async def list(self, query: ProviderConfigQuery) -> Page[ProviderConfig]:
        return await self._db.read(lambda tables: _PROVIDER_CONFIGS.list(tables, query, query.provider_id))

    async def replace(self, config: ProviderConfig, events: Sequence[AuditEvent] = ()) -> ProviderConfig:
        def update(tables: _Tables, tx: _Transaction) -> ProviderConfig:
            stored = _PROVIDER_CONFIGS.update(tables, tx, config)
            _stage(tables, tx, events)
            return stored

        return await self._db.write(update)

    async def delete(self, config: ProviderConfig, events: Sequence[AuditEvent] = ()) -> None:
        def remove(tables: _Tables, tx: _Transaction) -> None:
            _PROVIDER_CONFIGS.remove(tables, tx, config)
            _stage(tables, tx, events)

        await self._db.write(remove)


# ------------------------------------------------------------------------------------- executions

_EXECUTION_COLUMNS = {"startedAt": "started_at", "completedAt": "completed_at"}


def _load_execution(row: _ExecutionRow) -> Execution:
    doc = orjson.loads(row.doc)
    doc["revision"] = row.revision
    doc["cancelRequested"] = row.cancel_requested
    doc["workflow"] = orjson.loads(row.workflow)
    doc["attempts"] = row.attempts
    if row.cancel_requested_by is not None:
        doc["cancelRequestedBy"] = orjson.loads(row.cancel_requested_by)
    return Execution.model_validate(doc)


def _dump_execution(execution: Execution) -> bytes:
    # As in the embedded store: the cancel flag and the workflow snapshot are columns of their own.
    return orjson.dumps(
        execution.model_dump(
            mode="json", exclude_none=True, exclude={"cancelRequested", "cancelRequestedBy", "workflow"}
        )
    )


class MemoryExecutions:
    def __init__(self, db: _Database) -> None:
        self._db = db

    @staticmethod
    def _by_key(tables: _Tables, idempotency_key: str) -> _ExecutionRow | None:
        return next((r for r in tables.executions.values() if r.idempotency_key == idempotency_key), None)

    async def create_or_get(
        self, execution: Execution, workflow_revision: int | None = None, lease: StartLease | None = None
    ) -> tuple[Execution, bool]:
        def insert(tables: _Tables, tx: _Transaction) -> tuple[Execution, bool]:
            row = _ExecutionRow(
                id=execution.id,
                workflow_id=execution.workflowId,
                status=execution.status.value,
                idempotency_key=execution.idempotencyKey,
                started_at=execution.startedAt,
                completed_at=None,
                cancel_requested=False,
                lease_owner=lease.owner if lease else None,
                lease_expires=lease.expires if lease else None,
                revision=1,
                doc=_dump_execution(execution),
                workflow=orjson.dumps(execution.workflow.model_dump(mode="json", exclude_none=True)),
                attempts=1 if lease else 0,
                cancel_requested_by=None,
            )
            holder = self._by_key(tables, execution.idempotencyKey)
            if holder is not None:
                return _load_execution(holder), False
            if workflow_revision is not None:
                workflow = tables.workflows.get(execution.workflowId)
                if workflow is None or workflow.revision != workflow_revision or workflow.status != "active":
                    raise WorkflowChanged(execution.workflowId)
            if execution.id in tables.executions:
                raise StateChanged(f"execution {execution.id} (the id is taken)")
            tx.put(tables.executions, row.id, row)
            return execution.model_copy(update={"revision": 1, "attempts": row.attempts}), True

        return await self._db.write(insert)

    async def get(self, execution_id: str) -> Execution | None:
        def read(tables: _Tables) -> Execution | None:
            row = tables.executions.get(execution_id)
            return _load_execution(row) if row else None

        return await self._db.read(read)

    async def find_by_key(self, idempotency_key: str) -> Execution | None:
        def read(tables: _Tables) -> Execution | None:
            row = self._by_key(tables, idempotency_key)
            return _load_execution(row) if row else None

        return await self._db.read(read)

    async def list(self, query: ExecutionQuery) -> Page[Execution]:
        column = _EXECUTION_COLUMNS[query.sort_by]

        def read(tables: _Tables) -> Page[Execution]:
            rows = [
                row
                for row in tables.executions.values()
                if (not query.workflow_id or row.workflow_id == query.workflow_id)
                and (not query.status or row.status == query.status)
                and (query.sort_by != "completedAt" or row.completed_at is not None)
            ]
            return _page(rows, lambda row: getattr(row, column), query, _load_execution)

        return await self._db.read(read)

    async def save(
        self,
        execution: Execution,
        steps: Sequence[StepRecord] = (),
        events: Sequence[AuditEvent] = (),
        *,
        lease_owner: str | None = None,
        now: float = 0.0,
    ) -> Execution:
        def write(tables: _Tables, tx: _Transaction) -> Execution:
            records = [((execution.id, s.step_number), orjson.dumps(s.to_dict())) for s in steps]
            for key, doc in records:
                if key in tables.steps or execution.id not in tables.executions:
                    raise StateChanged(f"execution {execution.id} (a step was already recorded)")
                tx.put(tables.steps, key, doc)
            current = tables.executions.get(execution.id)
            if (
                current is None
                or current.revision != execution.revision
                or (
                    lease_owner is not None
                    and not (
                        current.lease_owner == lease_owner
                        and current.lease_expires is not None
                        and current.lease_expires > now
                    )
                )
            ):
                raise StateChanged(f"execution {execution.id}")
            # An execution that has ended holds no lease any more.
            updated = dataclasses.replace(
                current,
                status=execution.status.value,
                completed_at=execution.completedAt,
                doc=_dump_execution(execution),
                revision=current.revision + 1,
                lease_owner=None if execution.is_terminal else current.lease_owner,
            )
            tx.put(tables.executions, execution.id, updated)
            _stage(tables, tx, events)
            return execution.model_copy(update={"revision": execution.revision + 1})

        return await self._db.write(write)

    async def steps(self, execution_id: str) -> list[StepRecord]:
        def read(tables: _Tables) -> list[StepRecord]:
            numbers = sorted(number for eid, number in tables.steps if eid == execution_id)
            return [StepRecord.from_dict(orjson.loads(tables.steps[(execution_id, n)])) for n in numbers]

        return await self._db.read(read)

    async def request_cancel(
        self, execution_id: str, requested_by: dict[str, str], events: Sequence[AuditEvent] = ()
    ) -> bool:
        def write(tables: _Tables, tx: _Transaction) -> bool:
            row = tables.executions.get(execution_id)
            if row is None or row.cancel_requested or row.status not in _UNFINISHED:
                return False
            flagged = dataclasses.replace(
                row, cancel_requested=True, cancel_requested_by=orjson.dumps(requested_by)
            )
            tx.put(tables.executions, execution_id, flagged)
            _stage(tables, tx, events)
            return True

        return await self._db.write(write)

    async def cancel_requested(self, execution_ids: Sequence[str]) -> set[str]:
        def read(tables: _Tables) -> set[str]:
            rows = (tables.executions.get(i) for i in execution_ids)
            return {row.id for row in rows if row is not None and row.cancel_requested}

        if not execution_ids:
            return set()
        return await self._db.read(read)

    async def claim(self, execution_id: str, owner: str, expires: float, now: float) -> Execution | None:
        def write(tables: _Tables, tx: _Transaction) -> Execution | None:
            row = tables.executions.get(execution_id)
            if row is None or row.status not in _UNFINISHED:
                return None
            free = (
                row.lease_owner is None
                or row.lease_owner == owner
                or (row.lease_expires is not None and row.lease_expires < now)
            )
            if not free:
                return None
            claimed = dataclasses.replace(
                row,
                lease_owner=owner,
                lease_expires=expires,
                attempts=row.attempts + 1,
                revision=row.revision + 1,
            )
            tx.put(tables.executions, execution_id, claimed)
            return _load_execution(claimed)

        return await self._db.write(write)

    async def renew(self, owner: str, execution_ids: Sequence[str], expires: float) -> set[str]:
        def write(tables: _Tables, tx: _Transaction) -> set[str]:
            held: set[str] = set()
            for execution_id in dict.fromkeys(execution_ids):
                row = tables.executions.get(execution_id)
                if row is not None and row.lease_owner == owner:
                    tx.put(tables.executions, execution_id, dataclasses.replace(row, lease_expires=expires))
                    held.add(execution_id)
            return set(execution_ids) - held

        if not execution_ids:
            return set()
        return await self._db.write(write)

    async def orphans(self, owner: str, now: float, limit: int, unclaimed_before: str) -> list[str]:
        def read(tables: _Tables) -> list[str]:
            rows = [
                row
                for row in tables.executions.values()
                if row.status in _UNFINISHED
                and (
                    (row.lease_owner is not None and row.lease_owner == owner)
                    or (row.lease_expires is not None and row.lease_expires < now)
                    or (row.lease_owner is None and row.started_at < unclaimed_before)
                )
            ]
            rows.sort(key=lambda row: (row.started_at, row.id))
            return [row.id for row in _limit(rows, limit)]

        return await self._db.read(read)

    async def count_by_status(
        self, started_from: str | None = None, started_to: str | None = None, status: str | None = None
    ) -> dict[str, int]:
        def read(tables: _Tables) -> dict[str, int]:
            return dict(
                Counter(
                    row.status
                    for row in tables.executions.values()
                    if (started_from is None or row.started_at >= started_from)
                    and (started_to is None or row.started_at <= started_to)
                    and (status is None or row.status == status)
                )
            )

        return await self._db.read(read)


# ------------------------------------------------------------------------------------------ audit

_AUDIT_FILTERS = {
    "event_type": "event_type",
    "action": "action",
    "result": "result",
    "resource_type": "resource_type",
    "resource_id": "resource_id",
}


class MemoryAuditLog:
    def __init__(self, db: _Database) -> None:
        self._db = db

    async def head(self) -> tuple[int, str | None]:
        def read(tables: _Tables) -> tuple[int, str | None]:
            if not tables.audit:
                return 0, None
            record = orjson.loads(tables.audit[max(tables.audit)].doc)
            return record["sequence"], record["hash"]

        return await self._db.read(read)

    async def staged(self, limit: int) -> list[AuditEvent]:
        return await self._db.read(lambda tables: _staged(tables, limit))

    async def append(
        self,
        records: Sequence[dict[str, Any]],
        unstage: Sequence[str] = (),
        nodes: Sequence[tuple[NodeId, bytes]] = (),
    ) -> None:
        def write(tables: _Tables, tx: _Transaction) -> None:
            for event_id in unstage:
                tx.pop(tables.outbox, event_id)
            rows = [
                _AuditRow(
                    sequence=r["sequence"],
                    event_id=r["eventId"],
                    event_type=r["eventType"],
                    action=r["action"],
                    result=r["result"],
                    resource_type=r["resourceType"],
                    resource_id=r["resourceId"],
                    created_at=r["timestamp"],
                    doc=orjson.dumps(r),
                )
                for r in records
            ]
            taken_ids = {stored.event_id for stored in tables.audit.values()}
            for row in rows:
                if row.sequence in tables.audit or row.event_id in taken_ids:
                    raise StateChanged("the audit log (another writer appended first)")
                tx.put(tables.audit, row.sequence, row)
                taken_ids.add(row.event_id)
            for node, digest in nodes:
                key = (node.level, node.index)
                if key in tables.merkle_nodes:
                    raise StateChanged("the audit log (another writer appended first)")
                tx.put(tables.merkle_nodes, key, bytes(digest))

        await self._db.write(write)

    async def tree_size(self) -> int:
        def read(tables: _Tables) -> int:
            leaves = [index for level, index in tables.merkle_nodes if level == 0]
            return max(leaves) + 1 if leaves else 0

        return await self._db.read(read)

    async def tree_nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        return await self._db.read(lambda tables: [tables.merkle_nodes[(n.level, n.index)] for n in ids])

    async def entry_hashes(self, after: int, limit: int) -> list[tuple[int, str]]:
        def read(tables: _Tables) -> list[tuple[int, str]]:
            sequences = _limit(sorted(s for s in tables.audit if s > after), limit)
            return [(s, orjson.loads(tables.audit[s].doc)["hash"]) for s in sequences]

        return await self._db.read(read)

    async def sequences_of(self, event_ids: Sequence[str]) -> dict[str, int]:
        def read(tables: _Tables) -> dict[str, int]:
            wanted = set(event_ids)
            return {row.event_id: row.sequence for row in tables.audit.values() if row.event_id in wanted}

        if not event_ids:
            return {}
        return await self._db.read(read)

    async def get(self, event_id: str) -> dict[str, Any] | None:
        def read(tables: _Tables) -> dict[str, Any] | None:
            row = next((row for row in tables.audit.values() if row.event_id == event_id), None)
            return orjson.loads(row.doc) if row else None

        return await self._db.read(read)

    async def up_to(self, sequence: int) -> list[dict[str, Any]]:
        def read(tables: _Tables) -> list[dict[str, Any]]:
            return [orjson.loads(tables.audit[s].doc) for s in sorted(tables.audit) if s <= sequence]

        return await self._db.read(read)

    async def list(self, query: AuditQuery) -> Page[dict[str, Any]]:
        descending = query.sort_order == "DESC"

        def keep(row: _AuditRow) -> bool:
            for name, column in _AUDIT_FILTERS.items():
                value = getattr(query, name)
                if value and getattr(row, column) != value:
                    return False
            if query.date_from and not row.created_at >= query.date_from:
                return False
            if query.date_to and not row.created_at <= query.date_to:
                return False
            if query.after is not None:
                return row.sequence < query.after if descending else row.sequence > query.after
            return True

        def read(tables: _Tables) -> Page[dict[str, Any]]:
            rows = sorted((r for r in tables.audit.values() if keep(r)), key=lambda r: r.sequence)
            if descending:
                rows.reverse()
            rows = _limit(rows, query.limit + 1)
            page = [orjson.loads(r.doc) for r in _limit(rows, query.limit)]
            return Page(page, has_more=len(rows) > query.limit)

        return await self._db.read(read)

    async def records(self, after: int, limit: int) -> list[StoredRecord]:
        def read(tables: _Tables) -> list[StoredRecord]:
            sequences = _limit(sorted(s for s in tables.audit if s > after), limit)
            return [_stored_record(tables.audit[s]) for s in sequences]

        return await self._db.read(read)


def _stored_record(row: _AuditRow) -> StoredRecord:
    searched = {
        "sequence": row.sequence,
        "eventId": row.event_id,
        "eventType": row.event_type,
        "action": row.action,
        "result": row.result,
        "resourceType": row.resource_type,
        "resourceId": row.resource_id,
        "timestamp": row.created_at,
    }
    return StoredRecord(row.sequence, orjson.loads(row.doc), searched)


class MemoryBreakerStates:
    def __init__(self, db: _Database) -> None:
        self._db = db

    async def get(self, config_id: str) -> BreakerRecord | None:
        def read(tables: _Tables) -> BreakerRecord | None:
            doc = tables.breaker_states.get(config_id)
            return BreakerRecord.from_dict(orjson.loads(doc)) if doc is not None else None

        return await self._db.read(read)

    async def put(self, config_id: str, record: BreakerRecord, events: Sequence[AuditEvent] = ()) -> None:
        def write(tables: _Tables, tx: _Transaction) -> None:
            tx.put(tables.breaker_states, config_id, orjson.dumps(record.to_dict()))
            _stage(tables, tx, events)

        await self._db.write(write)


class MemoryCheckpoints:
    def __init__(self, db: _Database) -> None:
        self._db = db

    async def add(self, checkpoint: StoredCheckpoint) -> bool:
        def write(tables: _Tables, tx: _Transaction) -> bool:
            if checkpoint.tree_size in tables.checkpoints:
                return False
            tx.put(tables.checkpoints, checkpoint.tree_size, checkpoint)
            return True

        return await self._db.write(write)

    async def latest(self) -> StoredCheckpoint | None:
        def read(tables: _Tables) -> StoredCheckpoint | None:
            return tables.checkpoints[max(tables.checkpoints)] if tables.checkpoints else None

        return await self._db.read(read)

    async def newest(self, limit: int, below: int | None = None) -> list[StoredCheckpoint]:
        def read(tables: _Tables) -> list[StoredCheckpoint]:
            sizes = sorted((s for s in tables.checkpoints if below is None or s < below), reverse=True)
            return [tables.checkpoints[s] for s in sizes[:limit]]

        return await self._db.read(read)

    async def oldest(self, limit: int, above: int = 0) -> list[StoredCheckpoint]:
        def read(tables: _Tables) -> list[StoredCheckpoint]:
            sizes = sorted(s for s in tables.checkpoints if s > above)
            return [tables.checkpoints[s] for s in sizes[:limit]]

        return await self._db.read(read)


class MemoryStore:
    """The store ports in memory; open from the start, refusing work once closed."""

    def __init__(self) -> None:
        self._db = _Database()
        self.workflows = MemoryWorkflows(self._db)
        self.webhook_routes = MemoryWebhookRoutes(self._db)
        self.executor_configs = MemoryExecutorConfigs(self._db)
        self.provider_configs = MemoryProviderConfigs(self._db)
        self.executions = MemoryExecutions(self._db)
        self.breakers = MemoryBreakerStates(self._db)
        self.audit = MemoryAuditLog(self._db)
        self.checkpoints = MemoryCheckpoints(self._db)

    async def open(self) -> MemoryStore:
        self._db.closed = False
        return self

    async def ping(self) -> None:
        await self._db.read(lambda tables: None)

    async def close(self) -> None:
        self._db.closed = True

    # --------------------------------------------------------------------- what tests look at

    def stage_raw(self, event_id: str, doc: bytes) -> None:
        """Put a row of any bytes into the outbox (what a test of an unreadable row needs)."""
        tables = self._db.tables
        tables.counters["outbox_position"] += 1
        tables.outbox[event_id] = (tables.counters["outbox_position"], doc)

    def rows(self, table: str, *columns: str) -> list[tuple[Any, ...]]:
        """``SELECT <columns> FROM <table>``, for the tables that the embedded store's tests read raw."""
        rows: dict[Any, Any] = getattr(self._db.tables, table)
        return [tuple(getattr(row, column) for column in columns) for row in rows.values()]

    def refs(self) -> list[tuple[str, str]]:
        """(workflow id, executor config id) of every executor call, ordered by workflow id."""
        rows = sorted(self._db.tables.workflows.values(), key=lambda row: row.id)
        return [(row.id, ref) for row in rows for ref, _ in row.refs]
