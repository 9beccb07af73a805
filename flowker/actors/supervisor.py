"""Supervisor actors (``supervisor-<n>``): each hosts many executions as asyncio tasks.

An execution is not an actor of its own (an actor is a process: ~0.4 s and ~48 MiB each); it is a
task here, routed to a supervisor by a hash of its id, and visible in the Ray dashboard as the
running method call named ``execution:<id>``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from flowker.actors import factory
from flowker.actors.caller import CallRequest, CallResult
from flowker.actors.config import RuntimeConfig
from flowker.actors.runner import ExecutionRunner
from flowker.domain.audit import AuditEvent
from flowker.errors import StateChanged
from flowker.store.embedded import EmbeddedStore

log = logging.getLogger("flowker.supervisor")


class SupervisorActor:
    """Ray actor shell: runs executions, cancels them, reports what it hosts."""

    def __init__(self, config: RuntimeConfig) -> None:
        self._config = config
        self._store: EmbeddedStore | None = None
        self._opening = asyncio.Lock()
        self._runs: dict[str, ExecutionRunner] = {}
        self._executors: dict[str, object] = {}
        self._audit = factory.audit(config)

    async def run(self, execution_id: str) -> str | None:
        """Run the execution to its end (or resume it); return its final status."""
        if execution_id in self._runs:
            return None
        async with self._opening:
            if self._store is None:
                self._store = await EmbeddedStore(Path(self._config.data_dir)).open()
        runner = ExecutionRunner(self._store, self._call, self._record)
        self._runs[execution_id] = runner
        try:
            status = await runner.run(execution_id)
        except StateChanged:
            # Someone else wrote the execution (a cancel of a pending run, another supervisor): not ours now.
            log.info("execution %s changed under its runner; leaving it", execution_id)
            return None
        except Exception:
            log.exception("execution %s: runner failed", execution_id)
            raise
        finally:
            del self._runs[execution_id]
        return status.value if status else None

    async def cancel(self, execution_id: str) -> bool:
        """Ask a hosted execution to stop before its next step; ``False`` when it is not hosted here."""
        runner = self._runs.get(execution_id)
        if runner is not None:
            runner.cancel()
        return runner is not None

    async def hosted(self) -> list[str]:
        """Ids of the executions running here."""
        return list(self._runs)

    async def _call(self, request: CallRequest) -> CallResult:
        handle = self._executors.get(request.executor_config_id)
        if handle is None:
            handle = factory.executor(self._config, request.executor_config_id)
            self._executors[request.executor_config_id] = handle
        return await handle.call.remote(request)  # type: ignore[attr-defined]

    async def _record(self, events: Sequence[AuditEvent]) -> None:
        await self._audit.append.remote(list(events))
