"""The runtime port without Ray, for the fast tier: the real runner, caller and audit sequencer, in this
process.

Executions run as asyncio tasks on the test's event loop through :class:`ExecutionRunner`; provider calls
go through a real :class:`ProviderCaller` per configuration (:class:`CallerSource`, real retries and
breaker, real HTTP to 127.0.0.1); audit events are chained by a real :class:`Sequencer` over the same
store. What it leaves out is only what Ray adds: processes, restarts, hand-overs in batches and the
supervisors' feeds of endings (a run hosted here is waited for directly).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from flowker.actors import delivery
from flowker.actors.breaker import CircuitBreaker
from flowker.actors.breaker_persistence import BreakerPersister
from flowker.actors.breaker_settings import breaker_config
from flowker.actors.call_targets import CallTargets
from flowker.actors.caller import CallRequest, CallResult, ProviderCaller
from flowker.actors.caller_source import CallerSource
from flowker.actors.checkpointer import Checkpointer, CheckpointPolicy
from flowker.actors.connectivity import check_connectivity
from flowker.actors.outbound import outbound_session
from flowker.actors.provider_auth import authenticator_for
from flowker.actors.provider_connectivity import check_provider
from flowker.actors.retry_budget import BudgetConfig, RetryBudget
from flowker.actors.retry_policy import RetryPolicy
from flowker.actors.runner import ExecutionRunner
from flowker.actors.sequencer import Sequencer
from flowker.actors.token_source import TokenSettings
from flowker.domain.audit import AuditEvent
from flowker.domain.breaker_state import BreakerRecord
from flowker.domain.execution import Execution
from flowker.domain.executor_config import ExecutorConfig
from flowker.domain.outbound import OutboundPolicy
from flowker.domain.provider_config import ProviderConfig
from flowker.domain.signed_note import SignerKey, VerifierKey
from flowker.secretbox import SecretBox
from flowker.settings import Settings
from flowker.signing_key import load_signing_key
from flowker.store.ports import StartLease, Store
from flowker.telemetry.recorder import Snapshot

#: The lease owner of every run this runtime makes.
_OWNER = "in-process"


class InProcessRuntime:
    """Implements :class:`flowker.usecases.ports.Runtime` in the test's own process."""

    def __init__(
        self, store: Store, box: SecretBox, settings: Settings, signing_key: SignerKey | None = None
    ) -> None:
        self._store = store
        self._box = box
        self._settings = settings
        self._sequencer = Sequencer(store.audit)
        # As the audit actor: a checkpoint, when due, after each append and drain (awaited here).
        self._signing_key = signing_key or load_signing_key(
            settings.data_dir, settings.audit_signing_key, settings.audit_log_origin
        )
        sink = settings.audit_checkpoint_file
        self.checkpointer = Checkpointer(
            store.audit,
            store.checkpoints,
            self._signing_key,
            CheckpointPolicy(
                settings.audit_checkpoint_events,
                settings.audit_checkpoint_seconds,
                Path(sink) if sink else None,
            ),
        )
        self._session: aiohttp.ClientSession | None = None
        self._sources: dict[str, CallerSource] = {}
        self._breakers: dict[str, CircuitBreaker] = {}
        self._budgets: dict[str, RetryBudget] = {}
        self._persisters: dict[str, BreakerPersister] = {}
        self._runs: dict[str, tuple[ExecutionRunner, asyncio.Task[Any]]] = {}
        self._tokens = TokenSettings.of(settings)
        self._outbound = OutboundPolicy.of(
            settings.production, settings.outbound_allow, settings.sandbox_origin
        )

    def start_lease(self) -> StartLease:
        # As a front door that runs what it starts: the insert claims the execution for the runner.
        return StartLease(_OWNER, time.time() + self._settings.lease_seconds)

    async def start(self, execution_id: str, claimed: Execution | None = None) -> None:
        runner = ExecutionRunner(
            self._store,
            self._call,
            self.record,
            owner=_OWNER,
            lease_seconds=self._settings.lease_seconds,
        )
        task = asyncio.create_task(
            runner.run(execution_id, claimed=claimed), name=f"execution:{execution_id}"
        )
        self._runs[execution_id] = (runner, task)
        task.add_done_callback(lambda _: self._runs.pop(execution_id, None))

    async def wait(self, execution_id: str, seconds: float) -> None:
        hosted = self._runs.get(execution_id)
        if hosted is not None:
            await asyncio.wait([hosted[1]], timeout=seconds)

    async def cancel(self, execution_id: str) -> None:
        hosted = self._runs.get(execution_id)
        if hosted is not None:
            hosted[0].cancel()

    @property
    def verifier_key(self) -> VerifierKey:
        return self._signing_key.verifier()

    async def record(self, events: Sequence[AuditEvent]) -> None:
        await self._sequencer.append(events)
        await self.checkpointer.check()

    async def drain(self) -> None:
        await self._sequencer.drain()
        await self.checkpointer.check()

    async def test_executor(self, config: ExecutorConfig) -> dict[str, Any]:
        return await check_connectivity(config, self._box, self._outbound, self._tokens)

    async def test_provider(self, config: ProviderConfig, base_url: str) -> dict[str, Any]:
        return await check_provider(config, base_url, self._box, self._outbound, self._tokens)

    async def release_executor(self, executor_config_id: str) -> None:
        self._sources.pop(executor_config_id, None)

    async def config_changed(self, executor_config_id: str) -> None:
        source = self._sources.get(executor_config_id)
        if source is not None:
            source.forget()

    async def breaker(self, executor_config_id: str) -> dict[str, Any]:
        return self._breaker(executor_config_id).snapshot()

    async def executor_breaker(self, executor_config_id: str) -> BreakerRecord | None:
        breaker = self._breakers.get(executor_config_id)
        return breaker.record() if breaker is not None else None

    async def reset_executor_breaker(self, executor_config_id: str) -> BreakerRecord | None:
        breaker = self._breakers.get(executor_config_id)
        if breaker is None:
            return None
        breaker.reset()
        await self._persisters[executor_config_id].flush()
        return breaker.record()

    def _breaker(self, config_id: str) -> CircuitBreaker:
        # As an executor actor's: persisted on every transition (its restore is tested with Ray).
        if config_id not in self._breakers:
            persister = self._persisters[config_id] = BreakerPersister(config_id, self._store.breakers)
            self._breakers[config_id] = CircuitBreaker(
                breaker_config(self._settings), on_change=persister.save
            )
        return self._breakers[config_id]

    def _make_caller(
        self,
        breaker: CircuitBreaker,
        session: aiohttp.ClientSession,
        policy: RetryPolicy,
        budget: RetryBudget,
    ) -> Any:
        def make(clear: ExecutorConfig, auth: Any) -> ProviderCaller:
            breaker.reconfigure(breaker_config(self._settings, clear.circuitBreaker))
            return ProviderCaller(
                clear,
                auth,
                session,
                policy,
                breaker,
                budget=budget,
                max_response_bytes=self._settings.max_response_bytes,
            )

        return make

    async def _call(self, request: CallRequest) -> CallResult:
        config_id = request.executor_config_id
        if self._session is None:
            self._session = outbound_session(self._outbound, trace_configs=[delivery.tracing()])
        session, settings, breaker = self._session, self._settings, self._breaker(config_id)
        policy = RetryPolicy.of_server(settings)
        budget = self._budgets.setdefault(
            config_id,
            RetryBudget(
                BudgetConfig(
                    ratio=settings.retry_budget_ratio,
                    window_seconds=settings.retry_budget_window_seconds,
                    min_retries=settings.retry_budget_min_retries,
                )
            ),
        )
        source = self._sources.setdefault(
            config_id,
            CallerSource(
                config_id,
                CallTargets(self._store),
                self._box,
                self._make_caller(breaker, session, policy, budget),
                make_authenticator=lambda clear: authenticator_for(
                    clear.authentication, session=session, tokens=self._tokens, config_name=clear.name
                ),
            ),
        )
        caller = await source.resolve()
        return caller if isinstance(caller, CallResult) else await caller.call(request)

    async def live_executions(self) -> tuple[list[dict[str, Any]], int]:
        found = []
        for runner, _task in list(self._runs.values()):
            described = runner.describe()
            if described is not None:
                found.append({**described, "supervisor": "in-process", "nodeId": "in-process"})
        return found, 0

    async def snapshots(self) -> tuple[list[Snapshot], dict[str, int]]:
        # Everything runs in this process: its own recorder, which /metrics reads anyway, holds it all.
        return [], {}

    async def close(self) -> None:
        for _runner, task in list(self._runs.values()):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if self._session is not None:
            await self._session.close()
