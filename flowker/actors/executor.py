"""The executor actor: one per executor configuration (``executor:<configId>``).

It owns what must be shared by every execution that calls the provider: one HTTP connection pool,
the credentials, the circuit breaker — one view of the provider's health for the cluster — and the
retry budget. It
re-reads its configuration when it changed, so a PATCH or a disable takes effect on the next call.
The breaker's transitions are written to the store in the background, and an actor that starts (after a
crash, or a release) takes up the state its predecessor left, open window included.

:meth:`ExecutorActor.submit` and :meth:`ExecutorActor.results` are the two halves of a call channel
(:mod:`flowker.actors.call_channel`): calls arrive in batches and start at once, their results leave in
batches through a long poll, so that Ray's cost is paid per batch, not per call. A call never fails but
for cancellation: a configuration that is gone, disabled, or changed under a run, a secret that cannot be
opened, a bug — each is a failed :class:`CallResult` that says whether the provider may have seen the
request. An exception would crash the run, which would be adopted and call the provider again.
:meth:`ExecutorActor.call` makes one call in one Ray call, the same way: a channel sends a call alone this
way when it waits for nothing else (a single caller pays one Ray call per provider call, not two).

An actor with no call for ``executor_idle_seconds`` exits for good (``ray.actor.exit_actor``), so that
configurations nobody calls cost no process. It decides and exits with no call in flight and no result
waiting for its poll, and refuses any call that arrives after the decision (a submit's tickets refused;
:data:`~flowker.actors.caller.EXECUTOR_RETIRED` from :meth:`ExecutorActor.call`; nothing sent):
:class:`~flowker.actors.executor_handle.ExecutorHandles` then makes the call on a fresh actor.
:meth:`ExecutorActor.retire` ends an actor whose configuration was deleted or disabled the same way,
once the calls it has in flight end and their results are fetched.

:meth:`ExecutorActor.lease` grants the leases under which callers send the first attempt of a call with
static credentials themselves (:mod:`flowker.actors.call_lease`, :mod:`flowker.actors.direct_calls`): it
applies the outcomes they report to this actor's breaker and retry budget, which stay the only ones of
the configuration, and answers with the breaker's state. A call a caller hands over after a retryable
failure arrives through ``call`` or ``submit`` like any other, carrying that first attempt.

``call``, ``submit``, ``results`` and ``lease`` are never retried by Ray (``max_task_retries=0``, against the
actors' ``-1``): after a crash, Ray would hand a lost call or submit to the restarted actor while the
caller sends the same calls again (more than one request again for a step), and a lost poll to an actor
that never saw the calls (a wait for nothing). The caller sends the calls that were outstanding once,
itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable

import aiohttp
import ray
from ray.exceptions import AsyncioActorExit

from flowker.actors import actor_secrets, delivery
from flowker.actors.breaker import BreakerState, CircuitBreaker
from flowker.actors.breaker_persistence import BreakerPersister
from flowker.actors.breaker_settings import breaker_config
from flowker.actors.call_channel import ReadyResults, Ticket, retired
from flowker.actors.call_lease import Lease, LeaseDesk, Report
from flowker.actors.call_targets import CallTargets
from flowker.actors.caller import CallRequest, CallResult, ProviderCaller
from flowker.actors.caller_source import CallerSource
from flowker.actors.config import RuntimeConfig
from flowker.actors.faults import PausePoints
from flowker.actors.outbound import outbound_session
from flowker.actors.provider_auth import STATIC_TYPES, Authenticator, authenticator_for
from flowker.actors.retry_budget import BudgetConfig, RetryBudget
from flowker.actors.retry_policy import RetryPolicy
from flowker.actors.store_access import open_actor_store
from flowker.actors.token_source import TokenSettings
from flowker.domain.breaker_state import BreakerRecord
from flowker.domain.executor_config import ExecutorConfig
from flowker.secretbox import SecretBox
from flowker.store.ports import Store
from flowker.telemetry import catalog, logs, tracing
from flowker.telemetry.recorder import RECORDER, Snapshot

log = logging.getLogger("flowker.executor")

#: How often a released actor looks whether the results of its last calls were fetched.
_DRAIN_POLL_SECONDS = 0.02
#: How long a released actor lives on after the last result left in a poll's answer, so that Ray has
#: sent that answer before the process ends (a lost answer would be taken for a call never delivered).
_DELIVERY_GRACE_SECONDS = 0.2


class ExecutorActor:
    """Ray actor shell around :class:`ProviderCaller`."""

    def __init__(self, config: RuntimeConfig, executor_config_id: str) -> None:
        self._runtime = config
        tracing.setup(config.otel_enabled, config.otel_endpoint, config.otel_service_name, "executor")
        logs.configure(config.log_format, node_id=ray.get_runtime_context().get_node_id(), role="executor")
        self._id = executor_config_id
        # Read from Ray's internal store: the key is no constructor argument, which Ray would show.
        self._box = SecretBox.from_text(actor_secrets.fetch(config, actor_secrets.SECRET_KEY))
        self._policy = RetryPolicy.of_server(config)
        self._budget = RetryBudget(
            BudgetConfig(
                ratio=config.retry_budget_ratio,
                window_seconds=config.retry_budget_window_seconds,
                min_retries=config.retry_budget_min_retries,
            )
        )
        # Wall-clock time: the persisted open window means the same to the actor that reloads it.
        self._persister = BreakerPersister(executor_config_id)
        self._breaker = CircuitBreaker(breaker_config(config), time.time, self._persister.save)
        self._desk = LeaseDesk(self._breaker, self._budget)
        self._tokens = TokenSettings.of(config)
        self._store: Store | None = None
        self._session: aiohttp.ClientSession | None = None
        self._source: CallerSource | None = None
        self._opening = asyncio.Lock()
        self._pauses = PausePoints(config.pause_points, config.data_dir)
        self._in_flight = 0  # calls made through call(); the channels' are counted by ReadyResults
        self._channels = ReadyResults()
        self._singles = 0  # calls made alone, through call()
        self._channel_calls: set[asyncio.Task[None]] = set()
        self._last_active = time.monotonic()
        self._retiring = False
        self._exiting = asyncio.Event()
        self._idle_watch = asyncio.get_event_loop().create_task(self._retire_when_idle())

    async def _open(self) -> CallerSource:
        async with self._opening:
            if self._source is None:
                store = await open_actor_store(self._runtime)
                session = outbound_session(self._runtime.outbound(), trace_configs=[delivery.tracing()])
                self._store, self._session = store, session
                # The breaker state a previous actor of this configuration left (killed, or idle exit).
                stored = await store.breakers.get(self._id)
                config = await store.executor_configs.get(self._id)
                if config is not None:
                    self._breaker.reconfigure(breaker_config(self._runtime, config.circuitBreaker))
                if stored is not None:
                    self._breaker.restore(stored)
                self._persister.attach(store.breakers)
                self._source = CallerSource(
                    self._id,
                    CallTargets(store),
                    self._box,
                    self._caller(session),
                    make_authenticator=lambda clear: authenticator_for(
                        clear.authentication, session=session, tokens=self._tokens, config_name=clear.name
                    ),
                )
        return self._source

    def _caller(
        self, session: aiohttp.ClientSession
    ) -> Callable[[ExecutorConfig, Authenticator], ProviderCaller]:
        def make(clear: ExecutorConfig, auth: Authenticator) -> ProviderCaller:
            # A new revision of the configuration may change its breaker override.
            self._breaker.reconfigure(breaker_config(self._runtime, clear.circuitBreaker))
            return ProviderCaller(
                clear,
                auth,
                session,
                self._policy,
                self._breaker,
                budget=self._budget,
                max_response_bytes=self._runtime.max_response_bytes,
            )

        return make

    async def _current(self) -> ProviderCaller | CallResult:
        return await (await self._open()).resolve()

    @ray.method(max_task_retries=0)
    async def submit(self, channel_id: str, calls: list[tuple[Ticket, CallRequest]]) -> list[Ticket]:
        """Start the calls of a channel; returns at once, with the tickets refused (all, or none).

        Their results wait for the channel's :meth:`results`. Refused means that the actor is exiting
        and nothing was sent: the caller goes to a fresh actor.
        """
        self._channels.expire()
        if self._retiring:
            return [ticket for ticket, _ in calls]
        # Counted before this returns: no idle check between the acceptance and the calls' start.
        self._channels.started(channel_id, len(calls))
        self._last_active = time.monotonic()
        RECORDER.inc(catalog.CHANNEL_REQUESTS, self._id, "submit")
        RECORDER.inc(catalog.CHANNEL_CALLS, self._id, by=len(calls))
        loop = asyncio.get_running_loop()
        for ticket, request in calls:
            task = loop.create_task(self._channel_call(channel_id, ticket, request))
            self._channel_calls.add(task)
            task.add_done_callback(self._channel_calls.discard)
        return []

    @ray.method(max_task_retries=0)
    async def results(self, channel_id: str) -> list[tuple[Ticket, CallResult]]:
        """Every ready result of the channel, once one is ready; none after ``CHANNEL_POLL_SECONDS``."""
        RECORDER.inc(catalog.CHANNEL_REQUESTS, self._id, "results")
        ready = await self._channels.poll(channel_id)
        self._last_active = time.monotonic()
        return ready

    async def channel_stats(self) -> dict[str, int]:
        """Submits and polls served, calls they carried, calls made alone, channels held, leases granted
        and reports applied (diagnostics)."""
        return {**self._channels.stats(), "singles": self._singles, **self._desk.stats()}

    @ray.method(max_task_retries=0)
    async def lease(self, reports: list[Report]) -> Lease:
        """Apply the outcomes a caller reports of its direct attempts, and grant it a lease.

        Counts as activity for the idle exit. An exiting actor applies nothing and grants a lease that
        says so: the caller's calls come here (refused), then go to a fresh actor.
        """
        self._last_active = time.monotonic()
        RECORDER.inc(catalog.CHANNEL_REQUESTS, self._id, "lease")
        if self._retiring:
            return self._desk.grant(revision=None, direct=False, retiring=True)
        try:
            # Opened first: the breaker a predecessor left is restored before any report is applied.
            caller = await self._current()
        except Exception:
            log.exception("executor %s: cannot read the configuration for a lease", self._id)
            caller = None
        self._desk.apply(reports)
        if not isinstance(caller, ProviderCaller):
            # Gone, disabled, unreadable: the caller's calls come here, which refuses them.
            return self._desk.grant(revision=None, direct=False, retiring=self._retiring)
        kind = caller.config.authentication.get("type") or "none"
        direct = self._runtime.direct_calls and kind in STATIC_TYPES
        return self._desk.grant(revision=caller.config.revision, direct=direct, retiring=self._retiring)

    async def _channel_call(self, channel_id: str, ticket: Ticket, request: CallRequest) -> None:
        logs.EXECUTION_ID.set(request.request_id)  # the execution's id, for this call's log lines
        result = await self._call(request)
        # No await between the call's end and its result waiting: it counts as undelivered throughout.
        self._channels.finished(channel_id, ticket, result)
        self._last_active = time.monotonic()

    @ray.method(max_task_retries=0)
    async def call(self, request: CallRequest) -> CallResult:
        """Call the provider for one step in one Ray call; never raises but for cancellation."""
        if self._retiring:
            # Between the decision to exit and the exit itself: the caller goes to a fresh actor.
            return retired(self._id)
        RECORDER.inc(catalog.CHANNEL_REQUESTS, self._id, "call")
        RECORDER.inc(catalog.CHANNEL_CALLS, self._id)
        self._singles += 1
        self._in_flight += 1
        self._last_active = time.monotonic()
        logs.EXECUTION_ID.set(request.request_id)  # the execution's id, for this call's log lines
        try:
            return await self._call(request)
        finally:
            self._in_flight -= 1
            self._last_active = time.monotonic()

    async def _call(self, request: CallRequest) -> CallResult:
        try:
            caller = await self._current()
        except Exception as exc:
            log.exception("executor %s: cannot prepare call %s", self._id, request.idempotency_key)
            return CallResult.internal_error(exc, may_have_reached=False)
        if request.handover is not None and request.handover.report is not None:
            # The first attempt, sent by the caller: its outcome counts here, with the call in the budget.
            self._desk.apply([request.handover.report])
        if isinstance(caller, CallResult):
            return caller
        try:
            await self._pauses.reach("executor_before_send", request.idempotency_key)
            result = await caller.call(request)
            await self._pauses.reach("executor_after_send", request.idempotency_key)
        except Exception as exc:
            log.exception("executor %s: call %s failed in Flowker", self._id, request.idempotency_key)
            return CallResult.internal_error(exc, may_have_reached=True)
        return result

    async def metrics(self) -> Snapshot:
        """What this process recorded, with its breaker's state now (``GET /metrics``)."""
        RECORDER.clear(catalog.BREAKER_STATE)
        for state in BreakerState:
            current = 1.0 if self._breaker.state == state else 0.0
            RECORDER.set(catalog.BREAKER_STATE, self._id, state.value, value=current)
        return RECORDER.snapshot("executor")

    def __repr__(self) -> str:
        # Ray takes an actor's repr once, when it starts (dashboard, log prefix): the breaker state it
        # started with; the current one is GET /v1/executors/{id} and /metrics (flowker_breaker_state).
        return f"ExecutorActor(configuration {self._id}, breaker {self._breaker.state.value} at start)"

    async def pid(self) -> int:
        """This actor's process id (crash tests kill it); once it is exiting, only as it exits.

        A caller refused by an exiting actor waits for its death with this call
        (:mod:`~flowker.actors.executor_handle`): a released actor still serves its channels' polls
        until the results of its last calls are fetched, but this answers only as it exits (Ray ends
        the process once its running calls end), and the caller's next one fails.
        """
        if self._retiring:
            await self._exiting.wait()
        return os.getpid()

    def _exit(self) -> None:
        """Let the calls that wait for the exit end (Ray ends the process after them), and exit."""
        self._exiting.set()
        self._channels.wake_all()
        ray.actor.exit_actor()

    async def forget_config(self) -> None:
        """Its configuration was changed: read it again on the next call (a new secret drops the token)."""
        if self._source is not None:
            self._source.forget()

    async def breaker(self) -> dict[str, object]:
        """The breaker's state, for diagnostics and tests."""
        return self._breaker.snapshot()

    async def breaker_state(self) -> BreakerRecord:
        """The breaker's state as ``GET /v1/executors/{id}`` shows it (loaded from the store first)."""
        await self._open()
        return self._breaker.record()

    async def reset_breaker(self) -> BreakerRecord:
        """Force the breaker closed (an operator's reset) and return once that is persisted."""
        await self._open()
        self._breaker.reset()
        await self._persister.flush()
        return self._breaker.record()

    async def retire(self) -> None:
        """Take no more calls and exit for good once the calls in flight end (its configuration is
        deleted or disabled).

        Calls in flight make no further attempt but return what their provider answered: a request that
        was sent is not cut off, so its answer is never lost. It exits once their results were fetched by
        their channels' polls (or the channel expired: its supervisor is gone). Ray fails the calls it had
        not handed over yet with ActorDiedError (INTENDED_USER_EXIT): their callers know they were not
        delivered; submits that arrive before the exit are refused.
        """
        self._retiring = True
        if self._source is not None and self._source.current is not None:
            self._source.current.halted = True
        pending = self._in_flight + self._channels.undelivered
        log.info("executor %s: released, exiting once %d call(s) in flight end", self._id, pending)
        while self._in_flight or self._channels.undelivered:
            self._channels.expire()
            await asyncio.sleep(_DRAIN_POLL_SECONDS)
        await asyncio.sleep(_DELIVERY_GRACE_SECONDS)
        # Ray lets the running calls finish (the polls that wait answer at once, with nothing), then ends
        # the process.
        self._exit()

    def _idle(self) -> bool:
        # An open or half-open breaker is the cluster's memory of a failing provider: keep it. A result
        # not fetched yet is a call in flight: its caller's poll must find this actor.
        self._channels.expire()
        return (
            self._in_flight == 0
            and self._channels.undelivered == 0
            and time.monotonic() - self._last_active >= self._runtime.executor_idle_seconds
            and self._breaker.state == BreakerState.CLOSED
        )

    async def _retire_when_idle(self) -> None:
        idle = self._runtime.executor_idle_seconds
        while True:
            # Wake when the last call is `idle` old; a call since then only postpones the check.
            await asyncio.sleep(max(self._last_active + idle - time.monotonic(), idle / 10))
            if self._idle():
                break
        # No await between the idle check and _retiring: no call can start in between, and every call
        # that starts after it is refused unsent.
        self._retiring = True
        log.info("executor %s: no call for %.0f s, exiting", self._id, idle)
        if self._session is not None:
            await self._session.close()
        if self._store is not None:
            await self._store.close()
        # Exits for good, restarts notwithstanding; calls Ray has not handed over yet fail with
        # ActorDiedError (INTENDED_USER_EXIT), which tells their callers that they were not delivered.
        # (Calling an own method to exit from there instead leaves the actor hanging in Ray 2.60.)
        with contextlib.suppress(AsyncioActorExit):  # raised to end the calling task
            self._exit()
