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
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import ray

from flowker.actors import factory
from flowker.actors.call_channel import CallChannel
from flowker.actors.caller import CallRequest, CallResult
from flowker.actors.config import RuntimeConfig
from flowker.codes import EXECUTOR_RETIRED
from flowker.errors import ExecutorLost
from flowker.tunables import EXIT_WAIT_SECONDS

log = logging.getLogger("flowker.executor_handle")

#: How Ray describes the death of an actor that called ``exit_actor()`` (the executor's idle exit); a
#: killed actor is "killed by `ray.kill`". Should Ray reword it, idle exits are merely reported as
#: possibly delivered when the second try is refused.
IDLE_EXIT_MARK = "INTENDED_USER_EXIT"
_EXIT_POLL_SECONDS = 0.02

Create = Callable[[RuntimeConfig, str], Any]


class ExecutorHandles:
    """One process's handles to the executor actors, made on first use and made again when gone."""

    def __init__(self, config: RuntimeConfig, create: Create = factory.executor) -> None:
        self._config = config
        self._create = create
        self._handles: dict[str, Any] = {}
        # The channel to each cached handle's actor; a closed one (its submit or poll failed) is replaced.
        self._channels: dict[str, tuple[Any, CallChannel]] = {}

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
        """Make the call through the configuration's executor actor, on a fresh actor once if it is gone."""
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
