"""The lease under which a calling process sends a provider call's first attempt itself: both ends, Ray-free.

A supervisor that sent every call through the configuration's executor actor paid two Ray round trips per
call (about 3 ms each here). So a caller may send a call's first attempt straight to the provider
(:mod:`flowker.actors.direct_calls`), but only under a fresh :class:`Lease` from that actor, which stays
the one owner of the configuration's breaker and retry budget for the whole cluster:

* the caller asks for a lease with the outcomes of the attempts it sent since its last request
  (:class:`Report`, in one batch); the actor (:class:`LeaseDesk`) applies them to its breaker and its
  retry budget, and answers with its breaker's state and generation, the configuration's revision, and
  whether calls may go direct at all;
* a lease is used for at most :data:`~flowker.tunables.DIRECT_LEASE_SECONDS` after its request was
  *sent* (:class:`LeaseHolder`), and only while it says CLOSED. So once the actor's breaker opens, no
  caller starts a direct attempt more than that long later: a breaker change reaches every caller within
  ``DIRECT_LEASE_SECONDS``, and the outcomes that cause it reach the actor within the caller's next lease
  request (every :data:`~flowker.tunables.DIRECT_LEASE_REFRESH_SECONDS` while it has calls) plus a Ray
  round trip; the process whose call through the actor failed (and so may have opened its breaker) drops
  its lease at once (:meth:`LeaseHolder.revoke`);
* a report carries the actor's incarnation and the breaker generation of the lease it was sent under:
  one made in an older generation (the breaker moved since) or for an actor that was replaced is not a
  verdict, as a stale :class:`~flowker.actors.breaker.Permit` is not; every report still counts as a
  call in the retry budget.

Half-open trials are never made under a lease: the actor arbitrates them, as before.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flowker.actors.breaker import BreakerState, CircuitBreaker, Outcome, Permit
from flowker.actors.retry_budget import RetryBudget
from flowker.tunables import DIRECT_LEASE_SECONDS, DIRECT_MAX_PENDING_REPORTS


@dataclass(frozen=True)
class Report:
    """The outcome of one attempt a caller sent under a lease.

    Attributes:
        epoch: The incarnation of the executor actor that granted the lease.
        generation: The breaker generation the lease was granted in.
        outcome: What the attempt tells about the provider; None for no verdict (nothing was sent, or
            the attempt was cancelled).
        seconds: How long the attempt took (slow calls count).
    """

    epoch: str
    generation: int
    outcome: Outcome | None
    seconds: float = 0.0


@dataclass(frozen=True)
class Lease:
    """What an executor actor answers a lease request with.

    Attributes:
        epoch: The actor's incarnation (a restarted actor has a new one, and a new breaker generation).
        state: The breaker's state.
        generation: The breaker's generation.
        retry_after: Seconds until an open breaker admits a trial (0 when not open).
        revision: The configuration's revision; None when it is gone, disabled or cannot be used.
        direct: Whether calls may go direct: the configuration's credentials are static and the lane is
            on (``FLOWKER_DIRECT_CALLS``).
        retiring: The actor is exiting: calls go to it (it refuses them), then to a fresh one.
    """

    epoch: str
    state: BreakerState
    generation: int
    retry_after: float
    revision: int | None
    direct: bool
    retiring: bool = False

    @property
    def usable(self) -> bool:
        """Whether a call may go direct under this lease while it is fresh."""
        return (
            self.direct
            and not self.retiring
            and self.revision is not None
            and self.state is BreakerState.CLOSED
        )


class LeaseDesk:
    """The executor actor's end: applies the reports to its breaker and budget, and grants leases."""

    def __init__(self, breaker: CircuitBreaker, budget: RetryBudget | None) -> None:
        self._breaker = breaker
        self._budget = budget
        self.epoch = uuid.uuid4().hex
        self.leases = 0
        self.reports = 0
        self.stale = 0

    def apply(self, reports: Sequence[Report]) -> None:
        """Count each reported attempt as a call, and give its outcome to the breaker unless stale."""
        for report in reports:
            self.reports += 1
            if self._budget is not None:
                self._budget.record_call()
            if report.outcome is None:
                continue
            if report.epoch != self.epoch or report.generation != self._breaker.generation:
                self.stale += 1
                continue
            permit = self._breaker.try_acquire()
            if permit is None:  # cannot happen in the generation of a closed lease; never a verdict then
                self.stale += 1
                continue
            self._breaker.record_outcome(permit, report.outcome, report.seconds)

    def grant(self, *, revision: int | None, direct: bool, retiring: bool) -> Lease:
        """The lease to answer with, from the breaker as it is now."""
        self.leases += 1
        return Lease(
            epoch=self.epoch,
            state=self._breaker.state,
            generation=self._breaker.generation,
            retry_after=self._breaker.retry_after(),
            revision=revision,
            direct=direct,
            retiring=retiring,
        )

    def stats(self) -> dict[str, int]:
        """Leases granted, reports applied, stale reports (diagnostics and tests)."""
        return {"leases": self.leases, "reports": self.reports, "staleReports": self.stale}


class LeasedBreaker:
    """The breaker of one direct attempt, as :class:`~flowker.actors.caller.ProviderCaller` sees it.

    Made for one call under a lease that said CLOSED: it admits the one attempt, and keeps its outcome
    as the :class:`Report` to send the actor (``report``), stamped with the lease's generation.
    """

    def __init__(self, lease: Lease) -> None:
        self._lease = lease
        self._serials = itertools.count(1)
        #: The attempt's outcome, once it ended.
        self.report: Report | None = None

    @classmethod
    def admitting_none(cls) -> LeasedBreaker:
        """A view that admits no attempt: a direct caller's own breaker, never used but through a lease."""
        return cls(Lease("", BreakerState.OPEN, -1, 0.0, None, direct=False))

    @property
    def state(self) -> BreakerState:
        return self._lease.state

    def try_acquire(self) -> Permit | None:
        if self._lease.state is not BreakerState.CLOSED:
            return None
        return Permit(self._lease.generation, next(self._serials))

    def record_outcome(self, permit: Permit, outcome: Outcome, seconds: float = 0.0) -> None:
        self.report = Report(self._lease.epoch, permit.generation, outcome, seconds)

    def release(self, permit: Permit) -> None:
        self.report = Report(self._lease.epoch, permit.generation, None)

    def retry_after(self) -> float:
        return self._lease.retry_after


class LeaseHolder:
    """The caller's end for one configuration: its last lease, when it was asked for, and the reports
    waiting for the next request.

    Args:
        clock: Monotonic seconds; injected.
        lease_seconds: How long after its request was sent a lease may be used.
        max_pending: Reports kept while no lease request succeeds; the oldest are dropped beyond (a
            verdict lost, never one invented).
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        lease_seconds: float = DIRECT_LEASE_SECONDS,
        max_pending: int = DIRECT_MAX_PENDING_REPORTS,
    ) -> None:
        self._clock = clock
        self._lease_seconds = lease_seconds
        self._max_pending = max_pending
        self._lease: Lease | None = None
        self._asked_at = 0.0
        self._pending: list[Report] = []

    def fresh(self) -> Lease | None:
        """The lease a call may go direct under now: asked at most ``lease_seconds`` ago, and usable."""
        lease = self._lease
        if lease is None or not lease.usable or self._clock() - self._asked_at > self._lease_seconds:
            return None
        return lease

    @property
    def last(self) -> Lease | None:
        """The last lease granted, fresh or not."""
        return self._lease

    def asking(self) -> tuple[float, list[Report]]:
        """A lease request is sent now: when (for :meth:`granted`), and the reports it carries."""
        reports, self._pending = self._pending, []
        return self._clock(), reports

    def granted(self, lease: Lease, asked_at: float) -> None:
        """The answer to the request sent at ``asked_at`` (an older one than the lease held is ignored)."""
        if asked_at >= self._asked_at:
            self._lease, self._asked_at = lease, asked_at

    def revoke(self) -> None:
        """Trust no lease asked for before now: a call through the actor just failed, which may have
        opened its breaker. No call goes direct until the answer to a later request arrives, so a caller
        that saw the breaker open never sends a direct attempt after it (others within the lease bound)."""
        self._lease, self._asked_at = None, self._clock()

    def failed(self, reports: list[Report]) -> None:
        """The request carrying ``reports`` failed: no lease, and the reports go with the next one."""
        self._lease = None
        self._pending[:0] = reports
        del self._pending[: max(0, len(self._pending) - self._max_pending)]

    def report(self, report: Report) -> None:
        """Queue the outcome of a direct attempt for the next lease request."""
        self._pending.append(report)
        if len(self._pending) > self._max_pending:
            del self._pending[0]

    @property
    def pending(self) -> int:
        """Reports waiting for the next request."""
        return len(self._pending)
