"""The direct lane: a provider call's first attempt sent from the calling process, under a lease from the
configuration's executor actor (:mod:`flowker.actors.call_lease`). Ray-free: the lease request is injected.

A call goes direct when, and only when, the process holds a fresh lease that says the breaker is CLOSED
and the configuration's credentials are static (none, API key, bearer, basic): token-based
configurations always go through the actor, which keeps the one token cache. The lane reads the
configuration itself, as the actor does (:class:`~flowker.actors.caller_source.CallerSource` over its own
store, secrets opened with the service's secret key, an outbound session with the same protections), and
builds its caller again when the lease names another revision.

The direct attempt is one attempt, never retried here (:meth:`ProviderCaller.first_attempt`). Its
outcome waits for the next lease request, which carries it to the actor's breaker and budget. A call
that succeeded or failed for good ends here; one that failed retryably, or whose credentials the provider
refused, is handed to the actor with what happened (:class:`~flowker.actors.caller.Handover`, carrying its
outcome): the actor goes on at attempt 2 after the policy's wait, counting the retry in its budget. The
request keeps its Idempotency-Key throughout.

Otherwise (no fresh lease, a breaker open or half-open, token credentials, a configuration this process
cannot read) :meth:`DirectLane.call` answers None and the call goes through the actor as before; a call
that found no fresh lease starts the lease requests, so that the next one can go direct. The lane asks for
a lease every :data:`~flowker.tunables.DIRECT_LEASE_REFRESH_SECONDS` while it has calls, and lets it
lapse :data:`~flowker.tunables.DIRECT_LANE_IDLE_SECONDS` after the last one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable

from flowker.actors.call_lease import Lease, LeasedBreaker, LeaseHolder, Report
from flowker.actors.caller import CallRequest, CallResult, Handover, ProviderCaller
from flowker.actors.caller_source import CallerSource
from flowker.actors.provider_auth import Authenticator, authenticator_for, is_static
from flowker.domain.executor_config import ExecutorConfig
from flowker.tunables import DIRECT_LANE_IDLE_SECONDS, DIRECT_LEASE_REFRESH_SECONDS

log = logging.getLogger("flowker.direct_calls")

#: Asks the configuration's executor actor for a lease, with the reports since the last request.
AskLease = Callable[[list[Report]], Awaitable[Lease]]
#: Makes the lane's own view of the configuration (store, secret key, session: the process's).
MakeSource = Callable[[], Awaitable[CallerSource]]
Sleep = Callable[[float], Awaitable[None]]


def static_only(clear: ExecutorConfig) -> Authenticator:
    """The authenticator of a clear configuration with static credentials; ValueError for a token type
    (the lane's :class:`CallerSource` then refuses it, and its calls go through the actor)."""
    # Without a session the token types are refused here: no token is ever fetched outside the actor.
    authenticator = authenticator_for(clear.authentication, config_name=clear.name)
    if not is_static(authenticator):
        raise ValueError(f"authentication type {clear.authentication.get('type')} is not static")
    return authenticator


class DirectLane:
    """One process's direct lane to one configuration's provider.

    Args:
        config_id: The configuration.
        ask: The lease request (a Ray call to the executor actor; a fake in tests).
        make_source: Builds the lane's :class:`CallerSource` on its first direct call; a source made
            with static authenticators only (a token type is refused there, and goes through the actor).
        holder: The lease and its reports (its clock tells freshness).
        background: Whether :meth:`call` keeps leases coming in a task of its own; tests call
            :meth:`refresh` themselves.
    """

    def __init__(
        self,
        config_id: str,
        ask: AskLease,
        make_source: MakeSource,
        *,
        holder: LeaseHolder | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        refresh_seconds: float = DIRECT_LEASE_REFRESH_SECONDS,
        idle_seconds: float = DIRECT_LANE_IDLE_SECONDS,
        background: bool = True,
    ) -> None:
        self.config_id = config_id
        self._ask = ask
        self._make_source = make_source
        self._clock = clock
        self.holder = holder if holder is not None else LeaseHolder(clock)
        self._sleep = sleep
        self._refresh_seconds = refresh_seconds
        self._idle_seconds = idle_seconds
        self._background = background
        self._source: CallerSource | None = None
        self._opening = asyncio.Lock()
        self._broken = False  # the configuration cannot be read here: every call goes to the actor
        self._unusable: int | None = None  # a revision this process cannot call with (see _caller)
        self._in_flight = 0
        self._last_call = clock()
        self._refresher: asyncio.Task[None] | None = None

    async def call(self, request: CallRequest) -> CallResult | Handover | None:
        """The call's result, made here; its hand-over to the actor; or None: it goes to the actor."""
        self._last_call = self._clock()
        self._keep_leasing()
        if self._broken or request.handover is not None or self.holder.fresh() is None:
            return None
        try:
            caller = await self._caller()
        except Exception:  # nothing was sent: the actor makes the call
            log.exception("executor %s: cannot prepare a direct call", self.config_id)
            caller = None
        # Checked again: reading the configuration may have taken a while.
        lease = self.holder.fresh()
        if caller is None or lease is None or caller.config.revision != lease.revision:
            return None
        view = LeasedBreaker(lease)
        outcome: CallResult | Handover | None = None
        self._in_flight += 1
        try:
            outcome = await caller.first_attempt(request, view)
        finally:
            self._in_flight -= 1
            self._last_call = self._clock()
            # A hand-over carries its outcome to the actor itself; others wait for the next lease request.
            if not isinstance(outcome, Handover) and view.report is not None:
                self.holder.report(view.report)
        if isinstance(outcome, Handover):
            return dataclasses.replace(outcome, report=view.report)
        return outcome

    async def _caller(self) -> ProviderCaller | None:
        lease = self.holder.fresh()
        if lease is None or lease.revision == self._unusable:
            return None
        source = await self._opened()
        if source is None:
            return None
        if source.current is not None and source.current.config.revision != lease.revision:
            source.forget()  # the actor has seen a newer revision: read it now, not after the TTL
        resolved = await source.resolve()
        if isinstance(resolved, CallResult):
            # Gone, disabled, a secret this process cannot open, token credentials: the actor decides
            # (and refuses, or calls with its token). Tried again with the next revision.
            self._unusable = lease.revision
            return None
        if resolved.config.revision != lease.revision:
            source.forget()  # this process's store read is behind the actor's: try again next call
            return None
        return resolved

    async def _opened(self) -> CallerSource | None:
        async with self._opening:
            if self._source is None and not self._broken:
                try:
                    self._source = await self._make_source()
                except Exception:
                    log.exception("executor %s: no direct calls from this process", self.config_id)
                    self._broken = True
        return self._source

    def _keep_leasing(self) -> None:
        if self._background and (self._refresher is None or self._refresher.done()):
            self._refresher = asyncio.get_running_loop().create_task(self._lease_while_busy())

    async def _lease_while_busy(self) -> None:
        while True:
            await self.refresh()
            if self._in_flight == 0 and self._clock() - self._last_call >= self._idle_seconds:
                return
            last = self.holder.last
            # Token credentials (or the lane off): no call goes direct, so the lease is only watched for
            # a change of configuration, at the idle pace rather than every 50 ms.
            slow = last is not None and not last.direct and not last.retiring
            await self._sleep(self._idle_seconds if slow else self._refresh_seconds)

    async def refresh(self) -> None:
        """Ask for a lease now, with the reports waiting; without one when the request fails."""
        asked_at, reports = self.holder.asking()
        try:
            lease = await self._ask(reports)
        except Exception as exc:
            # The actor is gone or restarting: calls go through it, and ExecutorHandles deals with that.
            log.debug("executor %s: lease refused (%s)", self.config_id, type(exc).__name__)
            self.holder.failed(reports)
            return
        self.holder.granted(lease, asked_at)

    async def close(self) -> None:
        """Stop asking for leases."""
        if self._refresher is not None:
            self._refresher.cancel()
