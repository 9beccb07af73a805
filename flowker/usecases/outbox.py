"""Handing committed audit events to the audit writer, best effort.

Every change is committed with its audit events in the store's outbox, so the events are safe once the
change is. The use cases then ask the audit writer to chain them at once, so that the trail shows them
without waiting for the writer's next outbox round. That request may fail or hang (the audit actor is
restarting); the change was made all the same, so the client is not told it failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from flowker.domain.audit import AuditEvent
from flowker.tunables import PUBLISH_WAIT_SECONDS

log = logging.getLogger("flowker.audit")


async def publish(
    record: Callable[[Sequence[AuditEvent]], Awaitable[object]],
    events: Sequence[AuditEvent],
    wait: float | None = None,
) -> None:
    """Ask ``record`` to chain ``events`` now; never raises (the outbox brings them later)."""
    if events:
        names = ", ".join(e.event_type for e in events)
        await _best_effort(record(events), f"audit events {names} are committed but not chained yet", wait)


async def settle(drain: Callable[[], Awaitable[object]], wait: float | None = None) -> None:
    """Ask the audit writer to chain what waits in the outbox; never raises."""
    await _best_effort(drain(), "the audit outbox could not be drained now", wait)


async def _best_effort(call: Awaitable[object], what: str, wait: float | None) -> None:
    try:
        async with asyncio.timeout(PUBLISH_WAIT_SECONDS if wait is None else wait):
            await call
    except Exception as exc:
        log.warning("%s (%s); the outbox keeps them", what, type(exc).__name__)
