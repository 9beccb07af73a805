"""Telling a configuration's executor actor that the configuration changed or is gone: best effort, for
executor and provider configurations alike (the actor of a provider configuration serves its catalog-form
nodes)."""

from __future__ import annotations

import asyncio
import logging

from flowker.tunables import CONFIG_NOTICE_SECONDS
from flowker.usecases.ports import Runtime

log = logging.getLogger("flowker.executors")


async def notify_changed(runtime: Runtime, config_id: str) -> None:
    """Have the actor read the configuration before its next call; an actor not told reads the change
    within ``CONFIG_TTL_SECONDS`` anyway."""
    try:
        await asyncio.wait_for(runtime.config_changed(config_id), timeout=CONFIG_NOTICE_SECONDS)
    except Exception as exc:
        log.warning("executor actor of %s not told of its change (%s)", config_id, type(exc).__name__)


async def release(runtime: Runtime, config_id: str) -> None:
    """End the actor (deleted or disabled); one left running refuses calls by itself and exits when idle."""
    try:
        await runtime.release_executor(config_id)
    except Exception as exc:
        log.warning("executor actor of %s not released now (%s)", config_id, type(exc).__name__)
