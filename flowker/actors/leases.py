"""Which runs a supervisor renews, gives up, stops and adopts: the Ray-free core of its reconcile loop.

A supervisor holds a lease on every run it hosts. Each round (every third of the lease) it renews the
leases its runners hold and learns which it lost (another supervisor adopted the run: its runner must
stop), which hosted runs were asked to cancel, and which unfinished runs nobody runs (a dead
supervisor's, one a front door died handing over, or its own from before a restart) — those it adopts.
The clock is injected, so that tests decide when leases expire.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flowker.clock import iso
from flowker.store.ports import ExecutionRepository
from flowker.tunables import ADOPT_BATCH

Seconds = Callable[[], float]


@dataclass(frozen=True)
class Round:
    """What one reconcile round found.

    Attributes:
        lost: Hosted runs whose lease another supervisor holds now: stop their runners.
        cancel: Hosted runs asked to cancel: tell their runners.
        adopt: Runs nobody runs: run them here.
    """

    lost: frozenset[str]
    cancel: frozenset[str]
    adopt: list[str]


class LeaseKeeper:
    """The lease decisions of one supervisor, named ``owner`` in the store."""

    def __init__(
        self, executions: ExecutionRepository, owner: str, lease_seconds: float, now: Seconds = time.time
    ) -> None:
        self._executions = executions
        self._owner = owner
        self._lease_seconds = lease_seconds
        self._now = now

    @property
    def interval(self) -> float:
        """Seconds between rounds: a lease is renewed twice before it could expire."""
        return self._lease_seconds / 3

    async def reconcile(
        self, hosted: Collection[str], leased: Collection[str], *, adopt: bool = True
    ) -> Round:
        """One round over the runs ``hosted`` here, of which those in ``leased`` hold their lease; looks
        for orphans only when it may ``adopt`` them."""
        now = self._now()
        lost = await self._executions.renew(self._owner, list(leased), now + self._lease_seconds)
        cancel = await self._executions.cancel_requested(list(hosted))
        if not adopt:
            return Round(lost=frozenset(lost), cancel=frozenset(cancel), adopt=[])
        # A new execution is unclaimed until its front door hands it over; only a long wait means it died.
        handover = iso(datetime.fromtimestamp(now, UTC) - timedelta(seconds=self._lease_seconds))
        orphans = await self._executions.orphans(self._owner, now, ADOPT_BATCH, handover)
        adopt = [execution_id for execution_id in orphans if execution_id not in hosted]
        return Round(lost=frozenset(lost), cancel=frozenset(cancel), adopt=adopt)
