"""The executor actor: one per executor configuration (``executor:<configId>``).

It owns what must be shared by every execution that calls the provider: one HTTP connection pool,
the credentials, and the circuit breaker — one view of the provider's health for the cluster. It
re-reads its configuration when it changed, so a PATCH or a disable takes effect on the next call.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import aiohttp

from flowker.actors.breaker import BreakerConfig, CircuitBreaker
from flowker.actors.caller import CallRequest, CallResult, ProviderCaller
from flowker.actors.config import RuntimeConfig
from flowker.actors.faults import PausePoints
from flowker.actors.provider_auth import authenticator_for
from flowker.actors.retry_policy import RetryPolicy
from flowker.domain.authentication import open_authentication
from flowker.domain.executor_config import ExecutorConfig, ExecutorStatus
from flowker.secretbox import SecretBox
from flowker.store.embedded import EmbeddedStore

#: How stale an executor actor's copy of its configuration may be.
CONFIG_TTL_SECONDS = 1.0


class ExecutorActor:
    """Ray actor shell around :class:`ProviderCaller`."""

    def __init__(self, config: RuntimeConfig, executor_config_id: str) -> None:
        self._runtime = config
        self._id = executor_config_id
        self._box = SecretBox.from_text(config.secret_key)
        self._policy = RetryPolicy(
            attempts=config.retry_attempts,
            backoff_seconds=config.retry_backoff_seconds,
            max_delay_seconds=config.retry_max_delay_seconds,
        )
        self._breaker = CircuitBreaker(
            BreakerConfig(
                failure_threshold=config.breaker_failure_threshold,
                open_seconds=config.breaker_open_seconds,
                half_open_max_calls=config.breaker_half_open_calls,
            )
        )
        self._store: EmbeddedStore | None = None
        self._session: aiohttp.ClientSession | None = None
        self._caller: ProviderCaller | None = None
        self._fetched: tuple[ExecutorConfig | None, float] | None = None
        self._opening = asyncio.Lock()
        self._pauses = PausePoints(config.pause_points, config.data_dir)

    async def _current(self) -> ProviderCaller | CallResult:
        async with self._opening:
            if self._store is None:
                self._store = await EmbeddedStore(Path(self._runtime.data_dir)).open()
                self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        config = await self._config()
        if config is None:
            return CallResult.refused(f"executor configuration {self._id} not found", "FLK-0250")
        if config.status != ExecutorStatus.ACTIVE:
            return CallResult.refused(f"executor configuration {config.name!r} is disabled", "FLK-0154")
        if self._caller is None or self._caller.config.revision != config.revision:
            clear = config.model_copy(
                update={"authentication": open_authentication(config.authentication, self._box)}
            )
            try:
                authenticator = authenticator_for(clear.authentication)
            except NotImplementedError:
                kind = clear.authentication.get("type")
                return CallResult.refused(f"authentication type {kind!r} is not supported yet", "FLK-0269")
            assert self._session is not None
            self._caller = ProviderCaller(clear, authenticator, self._session, self._policy, self._breaker)
        return self._caller

    async def _config(self) -> ExecutorConfig | None:
        # Read at most once a CONFIG_TTL_SECONDS: a PATCH or a disable takes effect within that time,
        # and a busy provider does not cost a store read per call.
        now = time.monotonic()
        if self._fetched is None or now - self._fetched[1] > CONFIG_TTL_SECONDS:
            assert self._store is not None
            self._fetched = (await self._store.executor_configs.get(self._id), now)
        return self._fetched[0]

    async def call(self, request: CallRequest) -> CallResult:
        """Call the provider for one step."""
        caller = await self._current()
        if isinstance(caller, CallResult):
            return caller
        await self._pauses.reach("executor_before_send", request.idempotency_key)
        result = await caller.call(request)
        await self._pauses.reach("executor_after_send", request.idempotency_key)
        return result

    async def pid(self) -> int:
        """This actor's process id (crash tests kill it)."""
        return os.getpid()

    async def breaker(self) -> dict[str, object]:
        """The breaker's state, for diagnostics and tests."""
        return self._breaker.snapshot()
