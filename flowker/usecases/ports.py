"""What the use cases ask of the actor runtime (Ray in production; see :mod:`flowker.actors.runtime`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from flowker.domain.audit import AuditEvent
from flowker.domain.breaker_state import BreakerRecord
from flowker.domain.execution import Execution
from flowker.domain.executor_config import ExecutorConfig
from flowker.domain.provider_config import ProviderConfig
from flowker.store.ports import StartLease
from flowker.telemetry.recorder import Snapshot


class AuditSink(Protocol):
    async def record(self, events: Sequence[AuditEvent]) -> None:
        """Append events to the audit chain; return once they are durable."""

    async def drain(self) -> None:
        """Chain the events that wait in the store's outbox; return once they are durable."""


class Runtime(AuditSink, Protocol):
    def start_lease(self) -> StartLease | None:
        """The lease to insert the next new execution with, when this process will run it itself (the
        insert claims it); None when a supervisor will."""

    async def start(self, execution_id: str, claimed: Execution | None = None) -> None:
        """Hand a durably recorded execution to its supervisor (it may return before the supervisor has
        it: a hand-over that is lost is made good by adoption); ``claimed``: the execution as inserted
        with :meth:`start_lease`'s lease, run by this process."""

    async def wait(self, execution_id: str, seconds: float) -> None:
        """Return when the runtime learns that the execution ended (any execution, wherever it runs) or
        that the store is worth a look, or after ``seconds``; never at once for a run that goes on."""

    async def cancel(self, execution_id: str) -> None:
        """Ask the execution's supervisor to stop it before its next step."""

    async def test_executor(self, config: ExecutorConfig) -> dict[str, Any]:
        """Run the staged connectivity test of an executor configuration (as stored: secrets sealed).

        Returns the result document, or ``{"error", "code"}`` when the configuration cannot be tested.
        """

    async def test_provider(self, config: ProviderConfig, base_url: str) -> dict[str, Any]:
        """Run the connectivity test of a provider configuration (as stored: secrets sealed) against
        ``base_url``; the result document, or ``{"error"}`` when a secret cannot be opened."""

    async def release_executor(self, executor_config_id: str) -> None:
        """Stop the configuration's executor actor, if one runs: it was deleted or disabled."""

    async def config_changed(self, executor_config_id: str) -> None:
        """Tell the configuration's executor actor, if one runs, to read its configuration again before
        its next call (a PATCH: a new secret must drop its token at once). Creates no actor."""

    async def executor_breaker(self, executor_config_id: str) -> BreakerRecord | None:
        """The breaker state of the configuration's executor actor if one runs (none is created), or None
        when none runs or it does not answer in time: the stored state is then the one to show."""

    async def reset_executor_breaker(self, executor_config_id: str) -> BreakerRecord | None:
        """Force the breaker of the configuration's executor actor closed if one runs (none is created);
        its state afterwards, or None when none runs or it does not answer in time."""

    async def snapshots(self) -> tuple[list[Snapshot], dict[str, int]]:
        """The metrics of the actors in other processes, and how many of each kind did not answer."""

    async def live_executions(self) -> tuple[list[dict[str, Any]], int]:
        """What every supervisor runs now (each run's ``describe()`` with ``supervisor`` and ``nodeId``),
        and how many supervisors did not answer in time."""
