"""The front door's view of the actors: start and cancel executions, append audit events, test executors.

This and the actors themselves are the only modules that call Ray.

The connectivity test runs here, in the front door's process, not in an executor actor: it is a one-off
diagnostic that acquires credentials afresh and leaves the breaker alone, and a client that creates and
tests hundreds of configurations must not make hundreds of actor processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ray

from flowker.actors import actor_secrets, factory
from flowker.actors.coalescer import Coalescer
from flowker.actors.config import RuntimeConfig
from flowker.actors.connectivity import check_connectivity
from flowker.actors.end_waiters import Ask, EndWaiters
from flowker.actors.ended_feed import EndedAnswer
from flowker.actors.executor_handle import ExecutorHandles
from flowker.actors.hosting import Host
from flowker.actors.provider_connectivity import check_provider
from flowker.actors.supervisor import SupervisorActor, node_id
from flowker.actors.token_source import TokenSettings
from flowker.domain.audit import AuditEvent
from flowker.domain.breaker_state import BreakerRecord
from flowker.domain.execution import Execution
from flowker.domain.executor_config import ExecutorConfig
from flowker.domain.provider_config import ProviderConfig
from flowker.domain.signed_note import SignerKey, VerifierKey
from flowker.secretbox import SecretBox
from flowker.signing_key import load_signing_key
from flowker.store.opening import MONGODB
from flowker.store.ports import StartLease, Store
from flowker.telemetry import tracing
from flowker.telemetry.recorder import Snapshot
from flowker.tunables import (
    BREAKER_LOOKUP_SECONDS,
    CLOSE_FLUSH_SECONDS,
    FRONT_DOOR_STOP_SECONDS,
    METRICS_SCRAPE_SECONDS,
)

log = logging.getLogger("flowker.runtime")


class RayRuntime:
    """Handles to the supervisor pool, the audit actor and the executor actors of one service."""

    def __init__(
        self,
        config: RuntimeConfig,
        secret_key: str,
        signing_key: SignerKey | None = None,
        store_uri: str | None = None,
        store: Store | None = None,
    ) -> None:
        """``signing_key``: the audit log's (default: the data directory's, made on first use);
        ``store_uri``: the MongoDB URI when ``config.store_kind`` says MongoDB (published, never an
        argument of an actor); ``store``: the front door's own, open: with it (and
        ``config.front_door_runs``), this process runs up to that many of the executions it starts
        itself (:meth:`start_lease`)."""
        if (config.store_kind == MONGODB) != (store_uri is not None):
            raise ValueError("a MongoDB URI is needed exactly when the store is MongoDB")
        self.config = config
        self._store_uri = store_uri
        self._supervisors: list[Any] = []
        self._audit: Any = None
        # One per supervisor: the starts made while a hand-over is in flight ride the next one.
        self._dispatch: list[Coalescer[tuple[str, dict[str, str] | None]]] = []
        self._waiters = EndWaiters(self._feeds)
        # With the front door's store, its own runs send direct first attempts, reading configurations
        # from it.
        self._executors = ExecutorHandles(config, open_store=(lambda: _opened(store)) if store else None)
        self._box = SecretBox.from_text(secret_key)
        self._secret_key = secret_key
        self._signing_key = signing_key
        self._published = False
        self._tokens = TokenSettings.of(config)
        self._local = self._local_host(store) if store is not None and config.front_door_runs else None
        if ray.is_initialized():
            self._publish_secret_key()

    def _local_host(self, store: Store) -> Host:
        """The host of the executions this front door runs itself: no Ray call hands them over or tells
        of their end. It adopts nothing (the supervisors do); a run it leaves (this process died or
        stopped) is adopted by a supervisor once its lease lapses."""
        return Host(
            self.config.name(f"front-door-{socket.gethostname()}-{os.getpid()}"),
            self.config.lease_seconds,
            lambda: _opened(store),
            self._executors.call,
            lambda: self._audit_actor().drain.remote(),
            node_id,
            adopt=False,
        )

    def _publish_secret_key(self) -> None:
        # For the executor actors, which open provider credentials: never an actor argument. Before the
        # first actor is made (Ray must be up, which building the runtime does not need).
        if not self._published:
            actor_secrets.publish(self.config, actor_secrets.SECRET_KEY, self._secret_key)
            # Every actor opens the store with it: published before the first one is made, too.
            if self._store_uri is not None:
                actor_secrets.publish(self.config, actor_secrets.STORE_URI, self._store_uri)
            self._published = True

    def _signer(self) -> SignerKey:
        # Read (or made) when first needed: building a runtime touches no file.
        if self._signing_key is None:
            self._signing_key = load_signing_key(
                Path(self.config.data_dir), None, self.config.audit_log_origin
            )
        return self._signing_key

    @property
    def verifier_key(self) -> VerifierKey:
        """The public key the audit log's checkpoints verify with."""
        return self._signer().verifier()

    def start_pool(self) -> None:
        """Create the supervisors and the audit actor (idempotent): the supervisors resume at once what
        a previous run left unfinished, the audit actor chains what it left in the outbox."""
        self._publish_secret_key()
        if not self._supervisors:
            audit = self._audit_actor()
            self._supervisors = [
                factory.supervisor(SupervisorActor, self.config, i, audit)
                for i in range(self.config.supervisors)
            ]
            self._dispatch = [_dispatcher(s) for s in self._supervisors]

    def _audit_actor(self) -> Any:
        if self._audit is None:
            # For the audit actor, which signs the log's checkpoints: never an actor argument either.
            actor_secrets.publish(self.config, actor_secrets.SIGNING_KEY, self._signer().to_text())
            self._audit = factory.audit(self.config)
        return self._audit

    def _index(self, execution_id: str) -> int:
        self.start_pool()
        return int(hashlib.sha256(execution_id.encode()).hexdigest()[:8], 16) % len(self._supervisors)

    @property
    def front_door_host(self) -> str | None:
        """The lease owner of the executions this front door runs itself, if it runs any."""
        return self._local.owner if self._local is not None else None

    def start_lease(self) -> StartLease | None:
        """The lease to insert a new execution with when this front door will run it itself: while it
        runs fewer than ``front_door_runs`` (a lone caller then pays no Ray call to hand the start over
        or learn of its end, and no claim); None when it goes to a supervisor."""
        if self._local is None or self._local.running >= self.config.front_door_runs:
            return None
        return StartLease(self._local.owner, time.time() + self.config.lease_seconds)

    async def start(self, execution_id: str, claimed: Execution | None = None) -> None:
        """Hand the execution to its supervisor; returns at once, before the supervisor has it.

        ``claimed``: the execution as inserted with :meth:`start_lease`'s lease: it runs here.

        Queued on the supervisor's dispatcher: a lone start goes out when the caller next yields, those
        made while a hand-over is in flight go together in the next one (one Ray call per batch). The
        execution is durably recorded pending already: if the hand-over is lost (this process dies, the
        supervisor does not answer), a supervisor adopts it once it has waited a lease for its hand-over
        (:mod:`flowker.actors.leases`).
        """
        if claimed is not None and self._local is not None:
            self._local.host(execution_id, tracing.carrier() or None, claimed)
            return
        index = self._index(execution_id)  # makes the pool (and its dispatchers) on first use
        self._dispatch[index].post([(execution_id, tracing.carrier() or None)])

    async def wait(self, execution_id: str, seconds: float) -> None:
        """Wait up to ``seconds`` for a supervisor to say the execution ended (any execution, wherever it
        runs), or that the store is worth a look (:mod:`flowker.actors.end_waiters`)."""
        await self._waiters.wait(execution_id, seconds)

    @property
    def waiting(self) -> int:
        """Executions that ``Prefer: wait`` requests wait for now."""
        return self._waiters.waiting

    @property
    def polling(self) -> int:
        """Supervisors whose feed of endings is polled now (only while anyone waits)."""
        return self._waiters.polling

    def _feeds(self) -> list[Ask]:
        self.start_pool()
        feeds = [feed_of(s) for s in self._supervisors]
        return [*feeds, self._local.ended] if self._local is not None else feeds

    async def cancel(self, execution_id: str) -> None:
        """Tell the supervisor hosting the execution to stop it before its next step.

        Every supervisor is asked: after an adoption the host is not always the one its id routes to.
        """
        self.start_pool()
        if self._local is not None:
            self._local.cancel(execution_id)
        await asyncio.gather(*(s.cancel.remote(execution_id) for s in self._supervisors))

    async def record(self, events: Sequence[AuditEvent]) -> None:
        """Append audit events; returns once they are durable in the chain."""
        await self._audit_actor().append.remote(list(events))

    async def drain(self) -> None:
        """Have the audit actor chain what waits in the outbox."""
        await self._audit_actor().drain.remote()

    async def test_executor(self, config: ExecutorConfig) -> dict[str, Any]:
        """Run the connectivity test of ``config`` (secrets sealed) here; creates no actor."""
        return await check_connectivity(config, self._box, self.config.outbound(), self._tokens)

    async def test_provider(self, config: ProviderConfig, base_url: str) -> dict[str, Any]:
        """Run the connectivity test of a provider configuration here; creates no actor."""
        return await check_provider(config, base_url, self._box, self.config.outbound(), self._tokens)

    async def release_executor(self, executor_config_id: str) -> None:
        """End the configuration's executor actor, if it runs: its configuration is deleted or disabled.

        It takes no call from now on and exits as soon as the calls in flight end (they make no
        further attempt); it is not killed outright, which would lose the answers of requests already
        sent. Returns at once. The next call makes a fresh actor, which refuses while the configuration
        is disabled.
        """
        self._executors.forget(executor_config_id)
        try:
            handle = ray.get_actor(factory.executor_name(self.config, executor_config_id), factory.NAMESPACE)
        except ValueError:  # none runs
            return
        # Not awaited: the call returns only when the actor is gone, after its calls in flight.
        handle.retire.remote()

    async def config_changed(self, executor_config_id: str) -> None:
        """Have the configuration's executor actor, if it runs, read its configuration before its next
        call; returns once it has (the caller bounds the wait). Creates no actor."""
        try:
            handle = ray.get_actor(factory.executor_name(self.config, executor_config_id), factory.NAMESPACE)
        except ValueError:  # none runs: the next one reads the configuration as it starts
            return
        await handle.forget_config.remote()

    async def breaker(self, executor_config_id: str) -> dict[str, Any]:
        """The breaker state of a configuration's executor actor (made if none runs)."""
        self._publish_secret_key()
        return await self._executors.breaker(executor_config_id)

    async def executor_breaker(self, executor_config_id: str) -> BreakerRecord | None:
        """The live executor actor's breaker state; None when none runs or it does not answer in time."""
        return await self._ask_executor(executor_config_id, "breaker_state")

    async def reset_executor_breaker(self, executor_config_id: str) -> BreakerRecord | None:
        """Reset the live executor actor's breaker; None when none runs or it does not answer in time."""
        return await self._ask_executor(executor_config_id, "reset_breaker")

    async def _ask_executor(self, executor_config_id: str, method: str) -> BreakerRecord | None:
        # Looked up by name, as release_executor does: asking must not start an actor.
        try:
            handle = ray.get_actor(factory.executor_name(self.config, executor_config_id), factory.NAMESPACE)
        except ValueError:  # none runs
            return None
        try:
            record: BreakerRecord = await asyncio.wait_for(
                getattr(handle, method).remote(), timeout=BREAKER_LOOKUP_SECONDS
            )
        except (ray.exceptions.RayActorError, TimeoutError) as exc:
            log.info("executor %s: no breaker answer (%s)", executor_config_id, type(exc).__name__)
            return None
        return record

    async def live_executions(self) -> tuple[list[dict[str, Any]], int]:
        """The executions every supervisor runs now, and how many supervisors did not answer within
        :data:`METRICS_SCRAPE_SECONDS`."""
        self.start_pool()
        calls = [asyncio.ensure_future(_answer(s.live.remote())) for s in self._supervisors]
        done, late = await asyncio.wait(calls, timeout=METRICS_SCRAPE_SECONDS)
        for task in late:
            task.cancel()
        found: list[dict[str, Any]] = self._local.live() if self._local is not None else []
        silent = 0
        for task in calls:
            if task in done and not task.cancelled() and task.exception() is None:
                found.extend(task.result())
            else:
                silent += 1
        return found, silent

    async def snapshots(self) -> tuple[list[Snapshot], dict[str, int]]:
        """The metrics of every supervisor, the audit actor and every live executor actor of this service,
        and how many of each kind did not answer within :data:`METRICS_SCRAPE_SECONDS`. Creates no actor
        but the pool (which serving needs anyway)."""
        self.start_pool()
        targets: list[tuple[str, Any]] = [("supervisor", s) for s in self._supervisors]
        targets.append(("audit", self._audit))
        try:
            executors = await asyncio.to_thread(self._live_executor_handles)
        except Exception as exc:
            log.info("metrics: live executor actors not listed (%s)", type(exc).__name__)
            executors = []
        targets += [("executor", handle) for handle in executors]
        calls = {asyncio.ensure_future(_answer(handle.metrics.remote())): kind for kind, handle in targets}
        done, late = await asyncio.wait(calls, timeout=METRICS_SCRAPE_SECONDS)
        for task in late:
            task.cancel()
        snapshots: list[Snapshot] = []
        errors: dict[str, int] = {}
        for task, kind in calls.items():
            if task in done and not task.cancelled() and task.exception() is None:
                snapshots.append(task.result())
            else:
                errors[kind] = errors.get(kind, 0) + 1
        return snapshots, errors

    def _live_executor_handles(self) -> list[Any]:
        prefix = factory.executor_name(self.config, "")
        handles = []
        for name in _actor_names(self.config):
            if name.startswith(prefix):
                with contextlib.suppress(ValueError):  # exited since it was listed
                    handles.append(ray.get_actor(name, namespace=factory.NAMESPACE))
        return handles

    async def close(self) -> None:
        """Send the starts still queued (waiting briefly), release the waiters; kill this service's actors
        when they are private to it. The executions this front door runs get a few seconds to end; a
        supervisor takes up the rest once their leases lapse."""
        if self._local is not None:
            left = await self._local.stop(FRONT_DOOR_STOP_SECONDS)
            if left:
                log.info("%d execution(s) left to the supervisors; they go on from their last step", left)
        await self._executors.close()
        await asyncio.gather(*(dispatch.flush(CLOSE_FLUSH_SECONDS) for dispatch in self._dispatch))
        await self._waiters.close()
        if self.config.prefix:
            for name in _actor_names(self.config):
                with contextlib.suppress(ValueError):
                    ray.kill(ray.get_actor(name, namespace=factory.NAMESPACE))
            actor_secrets.withdraw(self.config, actor_secrets.SECRET_KEY)
            actor_secrets.withdraw(self.config, actor_secrets.SIGNING_KEY)
            actor_secrets.withdraw(self.config, actor_secrets.STORE_URI)


async def _opened(store: Store) -> Store:
    return store


def _dispatcher(supervisor: Any) -> Coalescer[tuple[str, dict[str, str] | None]]:
    return Coalescer(lambda batch: supervisor.host.remote(batch))


def feed_of(supervisor: Any) -> Ask:
    """How a front door asks ``supervisor`` for the executions that ended there."""

    async def ask(after: int | None, incarnation: str | None) -> EndedAnswer:
        answer: EndedAnswer = await supervisor.ended.remote(after, incarnation)
        return answer

    return ask


def _actor_names(config: RuntimeConfig) -> list[str]:
    named = ray.util.list_named_actors(all_namespaces=True)
    return [
        a["name"]
        for a in named
        if a["namespace"] == factory.NAMESPACE and a["name"].startswith(config.prefix)
    ]


async def _answer(ref: Any) -> Any:
    return await ref
