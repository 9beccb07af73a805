"""What the rest of Flowker asks of storage. Adapters: :mod:`flowker.store.embedded` (SQLite) and,
in production, MongoDB. Nothing outside ``flowker/store`` imports a database driver.

Every write that depends on what was read is a check-and-set on the entity's ``revision``: a writer
that lost a race gets :class:`~flowker.errors.StateChanged` (409 FLK-0350), never a silent overwrite.
Uniqueness (names) is a constraint of the store, not a read before the write.

Every write takes the audit ``events`` that describe it and commits them with the change, into an
outbox that the audit writer drains into the hash chain (:meth:`AuditLog.staged`, :meth:`AuditLog.append`):
a change and its audit event are kept together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from flowker.domain.audit import AuditEvent
from flowker.domain.breaker_state import BreakerRecord
from flowker.domain.execution import Execution
from flowker.domain.executor_config import ExecutorConfig
from flowker.domain.merkle import NodeId
from flowker.domain.provider_config import ProviderConfig
from flowker.dsl.model import Workflow
from flowker.dsl.run_state import StepRecord
from flowker.dsl.webhook_trigger import WebhookRoute

T = TypeVar("T")

SORT_FIELDS = ("createdAt", "updatedAt", "name")


@dataclass(frozen=True)
class ListQuery:
    """One page request: filters, sort and the cursor of the previous page."""

    limit: int = 10
    sort_by: str = "createdAt"
    sort_order: str = "DESC"
    status: str | None = None
    after: tuple[str, str] | None = None  # (sort value, id) of the last item already seen


@dataclass(frozen=True)
class ProviderConfigQuery(ListQuery):
    """A page of provider configurations, of one catalog provider only when ``provider_id`` is set."""

    provider_id: str | None = None


@dataclass(frozen=True)
class ExecutionQuery:
    limit: int = 10
    sort_by: str = "startedAt"
    sort_order: str = "DESC"
    workflow_id: str | None = None
    status: str | None = None
    after: tuple[str, str] | None = None


@dataclass(frozen=True)
class AuditQuery:
    limit: int = 20
    sort_order: str = "DESC"
    event_type: str | None = None
    action: str | None = None
    result: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    after: int | None = None  # the sequence of the last event already seen


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool


@dataclass(frozen=True)
class StartLease:
    """The lease a new execution is inserted with by the process that will run it (its owner's name and
    when the lease expires, in epoch seconds), so that inserting it also claims it."""

    owner: str
    expires: float


@dataclass(frozen=True)
class WorkflowUsage:
    """An active workflow that names an executor configuration."""

    id: str
    name: str


class WorkflowRepository(Protocol):
    async def create(self, workflow: Workflow, events: Sequence[AuditEvent] = ()) -> Workflow:
        """Insert; :class:`Conflict` FLK-0101 when the name is taken."""

    async def get(self, workflow_id: str) -> Workflow | None: ...

    async def list(self, query: ListQuery) -> Page[Workflow]: ...

    async def replace(
        self, workflow: Workflow, events: Sequence[AuditEvent] = (), *, check_executors: bool = False
    ) -> Workflow:
        """Write ``workflow`` if its ``revision`` is still current; return it with the next revision.

        ``check_executors`` (activation): in the same transaction, every executor configuration its
        nodes call must exist, be active and have the endpoint called, else :class:`StateChanged`.

        In the same transaction the workflow's webhook routes (:func:`~flowker.dsl.webhook_trigger.routes_of`)
        are written when it is ``active`` and removed otherwise; a METHOD+path that another workflow's route
        holds is :class:`Conflict` FLK-0360, decided by the store's unique key, not by a read.
        """

    async def delete(self, workflow: Workflow, events: Sequence[AuditEvent] = ()) -> None:
        """Delete if ``workflow.revision`` is still current, with its webhook routes."""

    async def count_by_status(self) -> dict[str, int]:
        """How many workflows have each status (a status no workflow has is absent), counted by the
        store in one query over its status index, not by reading the workflows."""


class WebhookRouteRepository(Protocol):
    """The webhook routes of the active workflows: METHOD+path -> workflow (written by the workflows')."""

    async def find(self, method: str, path: str) -> WebhookRoute | None:
        """The route of ``method`` (upper case) and ``path`` (normalised), or None."""


class ExecutorConfigRepository(Protocol):
    async def create(self, config: ExecutorConfig, events: Sequence[AuditEvent] = ()) -> ExecutorConfig:
        """Insert; :class:`Conflict` FLK-0251 when the name is taken."""

    async def get(self, config_id: str) -> ExecutorConfig | None: ...

    async def get_many(self, config_ids: Sequence[str]) -> dict[str, ExecutorConfig]: ...

    async def list(self, query: ListQuery) -> Page[ExecutorConfig]: ...

    async def replace(self, config: ExecutorConfig, events: Sequence[AuditEvent] = ()) -> ExecutorConfig:
        """Write ``config`` if its ``revision`` is still current; return it with the next revision.

        Refused (422 FLK-0252) when it drops an endpoint that an active workflow calls.
        """

    async def delete(self, config: ExecutorConfig, events: Sequence[AuditEvent] = ()) -> None:
        """Delete if current and no active workflow uses it (422 FLK-0252 naming them otherwise); its
        breaker state goes with it."""

    async def used_by_active_workflows(self, config_id: str) -> list[WorkflowUsage]:
        """The active workflows whose executor nodes name the configuration."""


class ProviderConfigRepository(Protocol):
    async def create(self, config: ProviderConfig, events: Sequence[AuditEvent] = ()) -> ProviderConfig:
        """Insert; :class:`Conflict` FLK-0291 when the name is taken."""

    async def get(self, config_id: str) -> ProviderConfig | None: ...

    async def list(self, query: ProviderConfigQuery) -> Page[ProviderConfig]:
        """One page, filtered by ``status`` and ``provider_id`` when set, over an index of each."""

    async def replace(self, config: ProviderConfig, events: Sequence[AuditEvent] = ()) -> ProviderConfig:
        """Write ``config`` if its ``revision`` is still current (FLK-0291 when the new name is taken)."""

    async def delete(self, config: ProviderConfig, events: Sequence[AuditEvent] = ()) -> None:
        """Delete if ``config.revision`` is still current."""


class BreakerStateRepository(Protocol):
    """The circuit breaker state of each executor configuration, so that it outlives its executor actor."""

    async def get(self, config_id: str) -> BreakerRecord | None:
        """The last state written, or None when none was."""

    async def put(self, config_id: str, record: BreakerRecord, events: Sequence[AuditEvent] = ()) -> None:
        """Write the configuration's state (the last write wins) with its audit events, atomically."""


class ExecutionRepository(Protocol):
    async def create_or_get(
        self, execution: Execution, workflow_revision: int | None = None, lease: StartLease | None = None
    ) -> tuple[Execution, bool]:
        """Insert, or return the execution that already holds its idempotency key (``created`` False).

        With ``lease``, a new execution is inserted claimed by its owner (one attempt counted), as
        :meth:`claim` would leave it: the front door that runs it itself needs no second round trip.

        With ``workflow_revision``, insert only while the execution's workflow is active at that revision,
        in the same transaction, else raise :class:`~flowker.errors.WorkflowChanged` with nothing inserted:
        a front door then starts from the definition it cached in one store round trip. An execution that
        already holds the key is returned whatever its workflow has become since.
        """

    async def get(self, execution_id: str) -> Execution | None: ...

    async def find_by_key(self, idempotency_key: str) -> Execution | None: ...

    async def list(self, query: ExecutionQuery) -> Page[Execution]: ...

    async def save(
        self,
        execution: Execution,
        steps: Sequence[StepRecord] = (),
        events: Sequence[AuditEvent] = (),
        *,
        lease_owner: str | None = None,
        now: float = 0.0,
    ) -> Execution:
        """Check-and-set write of the execution plus new step records and events, atomically.

        :class:`StateChanged` when the revision is stale, a step number is already recorded, or (with
        ``lease_owner``) that owner's lease is gone or expired at ``now``: a runner that lost its lease
        can no longer commit a step.
        """

    async def steps(self, execution_id: str) -> list[StepRecord]: ...

    async def request_cancel(
        self, execution_id: str, requested_by: dict[str, str], events: Sequence[AuditEvent] = ()
    ) -> bool:
        """Raise the cancel flag of an unfinished, unflagged execution; ``False`` if nothing was written."""

    async def cancel_requested(self, execution_ids: Sequence[str]) -> set[str]: ...

    async def claim(self, execution_id: str, owner: str, expires: float, now: float) -> Execution | None:
        """Take the lease if it is free, expired or already ``owner``'s (a restarted owner resumes);
        the execution as claimed, read in the same round trip, or ``None`` when it was not.

        Counts an attempt (``Execution.attempts``) and moves the revision on, fencing out earlier runners.
        """

    async def renew(self, owner: str, execution_ids: Sequence[str], expires: float) -> set[str]:
        """Extend ``owner``'s leases; return the ids it lost."""

    async def orphans(self, owner: str, now: float, limit: int, unclaimed_before: str) -> list[str]:
        """Unfinished executions that no live supervisor holds (unclaimed ones once older than a bound)."""

    async def count_by_status(
        self, started_from: str | None = None, started_to: str | None = None, status: str | None = None
    ) -> dict[str, int]:
        """How many executions have each status (a status none has is absent): those started from
        ``started_from`` to ``started_to`` (both included; timestamps as :func:`flowker.clock.iso` writes
        them), of ``status`` only when given. Counted by the store in one query over an index that holds
        both the start time and the status, not by reading the executions."""


class AuditLog(Protocol):
    async def head(self) -> tuple[int, str | None]: ...

    async def staged(self, limit: int) -> list[AuditEvent]:
        """The oldest events in the outbox, in the order their changes were committed."""

    async def append(
        self,
        records: Sequence[dict[str, Any]],
        unstage: Sequence[str] = (),
        nodes: Sequence[tuple[NodeId, bytes]] = (),
    ) -> None:
        """Insert sealed records, the Merkle tree ``nodes`` they complete, and drop ``unstage`` from the
        outbox, atomically.

        :class:`StateChanged` when a sequence number or a tree node is taken.
        """

    async def tree_size(self) -> int:
        """How many leaves the stored Merkle tree has (one read, not a count of the log)."""

    async def tree_nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        """The stored hashes of the tree nodes ``ids``, in their order; ``KeyError`` when one is missing."""

    async def entry_hashes(self, after: int, limit: int) -> list[tuple[int, str]]:
        """``(sequence, hash)`` of up to ``limit`` events after sequence ``after``, in order."""

    async def sequences_of(self, event_ids: Sequence[str]) -> dict[str, int]:
        """Sequence numbers of the given events that are already stored."""

    async def get(self, event_id: str) -> dict[str, Any] | None: ...

    async def up_to(self, sequence: int) -> list[dict[str, Any]]: ...

    async def list(self, query: AuditQuery) -> Page[dict[str, Any]]: ...

    async def records(self, after: int, limit: int) -> list[StoredRecord]:
        """Up to ``limit`` records of sequence above ``after``, in sequence order, each with the values
        the store searches it by (what verification streams and the export writes)."""


@dataclass(frozen=True)
class StoredRecord:
    """An audit record as stored, and the values the store finds it by, under the record's field names.

    A store that searches the record itself (a document store) gives none; one with indexed columns
    (the embedded store's ``sequence``, ``event_id``, ``event_type``, ... ``created_at``) gives theirs,
    so that verification can tell a column edited away from its hashed record.
    """

    sequence: int
    record: dict[str, Any]
    searched: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class StoredCheckpoint:
    """A signed checkpoint of the audit log: tree size, root, when it was issued, the note's exact text."""

    tree_size: int
    root_hash: bytes
    created_at: str
    note: str


class CheckpointLog(Protocol):
    """The audit log's signed checkpoints, one per tree size."""

    async def add(self, checkpoint: StoredCheckpoint) -> bool:
        """Store ``checkpoint``; False (and nothing written) when one of its tree size is stored."""

    async def latest(self) -> StoredCheckpoint | None:
        """The checkpoint of the largest tree size."""

    async def newest(self, limit: int, below: int | None = None) -> list[StoredCheckpoint]:
        """Up to ``limit`` checkpoints, largest tree size first, those of a size below ``below`` only."""

    async def oldest(self, limit: int, above: int = 0) -> list[StoredCheckpoint]:
        """Up to ``limit`` checkpoints of a tree size above ``above``, smallest first."""


class Store(Protocol):
    workflows: WorkflowRepository
    webhook_routes: WebhookRouteRepository
    executor_configs: ExecutorConfigRepository
    provider_configs: ProviderConfigRepository
    executions: ExecutionRepository
    breakers: BreakerStateRepository
    audit: AuditLog
    checkpoints: CheckpointLog

    async def ping(self) -> None:
        """Raise when the store cannot answer."""

    async def close(self) -> None: ...
