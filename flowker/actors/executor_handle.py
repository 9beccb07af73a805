"""Calls to executor actors that survive the actor being gone.

A process that calls providers (a supervisor; the front door for diagnostics) keeps one handle per
executor configuration, and one call channel to it (:mod:`flowker.actors.call_channel`): calls travel to
the actor in batches and their results come back in batches, one Ray call per batch each way (a call
made while the channel waits for nothing goes alone, in one Ray call). The actor behind a handle can be
gone: it exited when idle, or was released when its configuration was deleted or disabled, or it crashed
(Ray restarts it, ``max_restarts=-1``, but retries no call of the channel: see
:mod:`flowker.actors.executor`).

:meth:`ExecutorHandles.call` then makes the call once more on a fresh (or restarted) actor, and never
raises but for cancellation:

* the actor exited (Ray reports ``INTENDED_USER_EXIT``: idle, or released — both wait for the calls in
  flight to end and their results to be fetched), or refused the call because it was exiting
  (:data:`~flowker.codes.EXECUTOR_RETIRED`): the call was not delivered, so the second try is
  the only one that can reach the provider;
* the actor was killed (``kill -9``, ``ray.kill``) or lost otherwise, during a call of the channel: the
  calls the channel still waited for may have been in flight. Each is sent once more with the same
  ``Idempotency-Key``, once the actor answers again; when that is refused unsent (the configuration is
  disabled, say) the result still says that the first may have reached the provider, and a second loss
  is an :class:`~flowker.errors.ExecutorLost` failure.

Before that, a call of a configuration with static credentials may go direct
(:mod:`flowker.actors.direct_calls`): its first attempt sent from this process under a lease from the
actor, and handed to the actor (as above) only when it is to be retried. The lane reads configurations
from this process's store (``open_store``: the supervisor's own) and opens their secrets with the
service's secret key, published in Ray's internal store; ``FLOWKER_DIRECT_CALLS=false`` turns it off.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import ray

from flowker.actors import actor_secrets, delivery, factory
from flowker.actors.call_channel import CallChannel
from flowker.actors.call_lease import Lease, LeasedBreaker, Report
from flowker.actors.call_targets import CallTargets
from flowker.actors.caller import CallRequest, CallResult, Handover, ProviderCaller
from flowker.actors.caller_source import CallerSource
from flowker.actors.config import RuntimeConfig
from flowker.actors.direct_calls import DirectLane, static_only
from flowker.actors.outbound import outbound_session
from flowker.actors.provider_auth import Authenticator
from flowker.actors.retry_policy import RetryPolicy
from flowker.actors.store_access import open_actor_store
from flowker.codes import EXECUTOR_RETIRED
from flowker.domain.executor_config import ExecutorConfig
from flowker.errors import ExecutorLost
from flowker.secretbox import SecretBox
from flowker.store.ports import Store
from flowker.telemetry import catalog
from flowker.telemetry.recorder import RECORDER
from flowker.tunables import EXIT_WAIT_SECONDS

log = logging.getLogger("flowker.executor_handle")

#: How Ray describes the death of an actor that called ``exit_actor()`` (the executor's idle exit); a
#: killed actor is "killed by `ray.kill`". Should Ray reword it, idle exits are merely reported as
#: possibly delivered when the second try is refused.
IDLE_EXIT_MARK = "INTENDED_USER_EXIT"
_EXIT_POLL_SECONDS = 0.02

Create = Callable[[RuntimeConfig, str], Any]
OpenStore = Callable[[], Awaitable[Store]]


@dataclass(frozen=True)
class _LaneParts:
    """What every direct lane of this process shares: its store, the secret key, one outbound session."""

    store: Store
    box: SecretBox
    session: aiohttp.ClientSession
    policy: RetryPolicy
    owned_store: bool


class ExecutorHandles:
    """One process's handles to the executor actors, made on first use and made again when gone.

    Args:
        open_store: The process's store for the direct lanes (default: one opened for them).
        direct: Whether calls may go direct (default: the configuration's ``direct_calls``).
    """

    def __init__(
        self,
        config: RuntimeConfig,
        create: Create = factory.executor,
        *,
        open_store: OpenStore | None = None,
        direct: bool | None = None,
    ) -> None:
        self._config = config
        self._create = create
        self._handles: dict[str, Any] = {}
        # The channel to each cached handle's actor; a closed one (its submit or poll failed) is replaced.
        self._channels: dict[str, tuple[Any, CallChannel]] = {}
        self._direct = config.direct_calls if direct is None else direct
        self._open_store = open_store
        self._lanes: dict[str, DirectLane] = {}
        self._parts: _LaneParts | None = None
        self._parts_lock = asyncio.Lock()

    def handle(self, executor_config_id: str) -> Any:
        """The cached handle of the configuration's actor, creating the actor when there is none."""
        handle = self._handles.get(executor_config_id)
        if handle is None:
            handle = self._handles[executor_config_id] = self._create(self._config, executor_config_id)
        return handle

    def forget(self, executor_config_id: str, handle: Any = None) -> None:
        """Drop the cached handle and its channel (only if it is still ``handle``, when given).

        Calls already on the channel still get their results through it.
        """
        if handle is None or self._handles.get(executor_config_id) is handle:
            self._handles.pop(executor_config_id, None)
            self._channels.pop(executor_config_id, None)

    def channel(self, executor_config_id: str) -> tuple[Any, CallChannel]:
        """The handle of the configuration's actor and the open channel to it."""
        handle = self.handle(executor_config_id)
        bound = self._channels.get(executor_config_id)
        if bound is None or bound[0] is not handle or bound[1].closed:
            bound = self._channels[executor_config_id] = (handle, _channel_to(handle))
        return bound

    async def call(self, request: CallRequest) -> CallResult:
        """Make the call: its first attempt direct when a lease allows it, else (and for its retries)
        through the configuration's executor actor, on a fresh actor once if it is gone."""
        config_id = request.executor_config_id
        lane = self._lane(config_id)
        handover: Handover | None = None
        if lane is not None:
            self.handle(config_id)  # the actor the lane asks for its leases
            direct = await lane.call(request)
            if isinstance(direct, CallResult):
                RECORDER.inc(catalog.CALLS_BY_LANE, config_id, "direct")
                return direct
            handover = direct
        RECORDER.inc(catalog.CALLS_BY_LANE, config_id, "handed_over" if handover else "actor")
        result = await self._through_actor(
            dataclasses.replace(request, handover=handover) if handover else request
        )
        if lane is not None and not result.ok:
            # Its breaker may have opened on this call: no direct attempt from here until a new lease says.
            lane.holder.revoke()
        return _after_handover(result, handover) if handover else result

    def _lane(self, config_id: str) -> DirectLane | None:
        if not self._direct:
            return None
        lane = self._lanes.get(config_id)
        if lane is None:
            lane = self._lanes[config_id] = DirectLane(
                config_id,
                lambda reports: self._ask_lease(config_id, reports),
                lambda: self._lane_source(config_id),
            )
        return lane

    async def _ask_lease(self, config_id: str, reports: list[Report]) -> Lease:
        # Only the cached handle: making one here could find an exiting actor by its name again, which
        # the call path waits out (see call).
        handle = self._handles.get(config_id)
        if handle is None:
            raise LookupError(f"no executor actor of configuration {config_id} to ask")
        lease: Lease = await handle.lease.remote(reports)
        return lease

    async def _lane_source(self, config_id: str) -> CallerSource:
        parts = await self._lane_parts()

        def make(clear: ExecutorConfig, auth: Authenticator) -> ProviderCaller:
            # No budget here: retries are the actor's. The breaker is each attempt's lease view.
            return ProviderCaller(
                clear,
                auth,
                parts.session,
                parts.policy,
                LeasedBreaker.admitting_none(),
                budget=None,
                max_response_bytes=self._config.max_response_bytes,
            )

        return CallerSource(
            config_id, CallTargets(parts.store), parts.box, make, make_authenticator=static_only
        )

    async def _lane_parts(self) -> _LaneParts:
        async with self._parts_lock:
            if self._parts is None:
                config = self._config
                # Read from Ray's internal store, as the executor actors do: never an argument.
                box = SecretBox.from_text(actor_secrets.fetch(config, actor_secrets.SECRET_KEY))
                owned = self._open_store is None
                store = await (open_actor_store(config) if self._open_store is None else self._open_store())
                session = outbound_session(config.outbound(), trace_configs=[delivery.tracing()])
                self._parts = _LaneParts(store, box, session, RetryPolicy.of_server(config), owned)
        return self._parts

    async def close(self) -> None:
        """Stop the lanes' lease requests, and close what they opened."""
        for lane in self._lanes.values():
            await lane.close()
        if self._parts is not None:
            await self._parts.session.close()
            if self._parts.owned_store:
                await self._parts.store.close()
            self._parts = None

    async def _through_actor(self, request: CallRequest) -> CallResult:
        config_id = request.executor_config_id
        handle, channel = self.channel(config_id)
        try:
            result = await channel.call(request)
        except ray.exceptions.RayActorError as exc:
            self.forget(config_id, handle)
            maybe_delivered = IDLE_EXIT_MARK not in str(exc)
            log.info("executor %s is gone (%s); calling a fresh one", config_id, _cause(exc))
        except Exception as exc:
            log.exception("executor %s: call %s failed in Ray", config_id, request.idempotency_key)
            return CallResult.internal_error(exc, may_have_reached=True)
        else:
            if result.code != EXECUTOR_RETIRED:
                return result
            self.forget(config_id, handle)
            log.info("executor %s was exiting; calling a fresh one", config_id)
            # The actor is exiting and still holds its name: making it anew now would find it again.
            await _gone(handle)
            maybe_delivered = False
        if maybe_delivered:
            # A crashed actor is restarted under the same name: wait until it answers again, or the
            # second try would be sent to the dead one and be lost as well.
            handle = self.handle(config_id)
            if not await _answering(handle):
                self.forget(config_id, handle)
        second = await self._call_fresh(request)
        if maybe_delivered and not second.may_have_reached:
            assert second.failure is not None
            message = (
                f"{second.error}; an earlier attempt was cut off when its executor actor was stopped, "
                "and may have reached the provider"
            )
            second = dataclasses.replace(
                second, failure=type(second.failure)(message, code=second.code, may_have_reached=True)
            )
        return second

    async def _call_fresh(self, request: CallRequest) -> CallResult:
        config_id = request.executor_config_id
        handle, channel = self.channel(config_id)
        try:
            result = await channel.call(request)
        except ray.exceptions.RayActorError as exc:
            self.forget(config_id, handle)
            return CallResult.failed(
                ExecutorLost(
                    f"the executor actor of configuration {config_id} stopped during the call twice "
                    f"({_cause(exc)}); the request may have reached the provider"
                )
            )
        except Exception as exc:
            log.exception("executor %s: call %s failed in Ray", config_id, request.idempotency_key)
            return CallResult.internal_error(exc, may_have_reached=True)
        if result.code == EXECUTOR_RETIRED:
            self.forget(config_id, handle)
        return result

    async def breaker(self, executor_config_id: str) -> dict[str, Any]:
        """The breaker state of the configuration's actor (a fresh actor's when it was gone)."""
        handle = self.handle(executor_config_id)
        try:
            snapshot: dict[str, Any] = await handle.breaker.remote()
        except ray.exceptions.RayActorError:
            self.forget(executor_config_id, handle)
            snapshot = await self.handle(executor_config_id).breaker.remote()
        return snapshot


def _after_handover(result: CallResult, handover: Handover) -> CallResult:
    """The result of a handed-over call, counting the direct attempt when the actor did not go on from it
    (it refused the call unsent: the configuration was disabled meanwhile, say)."""
    if result.attempts >= handover.attempts or result.failure is None:
        return result
    failure = result.failure
    message = f"{failure.message}; a first attempt sent before failed ({handover.last_error})"
    reached = failure.may_have_reached or handover.may_have_reached
    return dataclasses.replace(
        result,
        attempts=result.attempts + handover.attempts,
        duration_ms=result.duration_ms + handover.duration_ms,
        failure=type(failure)(message, code=failure.code, may_have_reached=reached),
    )


def _channel_to(handle: Any) -> CallChannel:
    # ObjectRefs are awaitable; the three methods carry max_task_retries=0 (see flowker.actors.executor).
    return CallChannel(
        lambda channel_id, calls: handle.submit.remote(channel_id, calls),
        lambda channel_id: handle.results.remote(channel_id),
        lambda request: handle.call.remote(request),
    )


async def _answering(handle: Any) -> bool:
    """Whether the actor behind ``handle`` answers (Ray holds the call while it restarts); False once it
    is gone for good, or after :data:`EXIT_WAIT_SECONDS`."""
    try:
        await asyncio.wait_for(handle.pid.remote(), timeout=EXIT_WAIT_SECONDS)
    except (ray.exceptions.RayActorError, TimeoutError):
        return False
    return True


async def _gone(handle: Any) -> None:
    """Return once the actor behind ``handle`` is dead, or after :data:`EXIT_WAIT_SECONDS`."""
    deadline = time.monotonic() + EXIT_WAIT_SECONDS
    while (left := deadline - time.monotonic()) > 0:
        try:
            # An exiting actor runs no new method: this waits for its death, or answers if it is
            # not exiting after all.
            await asyncio.wait_for(handle.pid.remote(), timeout=left)
        except (ray.exceptions.RayActorError, TimeoutError):
            return
        await asyncio.sleep(_EXIT_POLL_SECONDS)


def _cause(error: ray.exceptions.RayActorError) -> str:
    # Ray's text ends with the cause ("...killed by `ray.kill`."); it names no secret.
    lines = str(error).strip().splitlines()
    return lines[-1].strip() if lines else type(error).__name__
