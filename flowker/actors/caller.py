"""One provider call with retries and the circuit breaker: the Ray-free core of an executor actor.

Retries only what may succeed next time (network errors, timeouts, 5xx, 429 — honouring
``Retry-After``); a 4xx other than 429 fails at once. Only those transient failures count against
the breaker: a provider that answers 400 is up. An open breaker fails the call at once (FLK-0507).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from flowker.actors.breaker import CircuitBreaker, Permit
from flowker.actors.provider_auth import Authenticator
from flowker.actors.retry_policy import RetryPolicy, Verdict
from flowker.actors.transport import ProviderResponse, ResponseTooLarge, build_request, send
from flowker.domain.executor_config import ExecutorConfig

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class CallRequest:
    """What a supervisor asks of an executor actor."""

    executor_config_id: str
    endpoint_name: str
    body: Any
    idempotency_key: str
    request_id: str


@dataclass(frozen=True)
class CallResult:
    """The call's outcome; ``response`` is the envelope ``{status, headers, body}`` when one arrived."""

    ok: bool
    attempts: int
    duration_ms: int
    response: dict[str, Any] | None = None
    error: str | None = None
    code: str | None = None

    @classmethod
    def refused(cls, error: str, code: str) -> CallResult:
        return cls(ok=False, attempts=0, duration_ms=0, error=error, code=code)


class ProviderCaller:
    """Calls the endpoints of one executor configuration."""

    def __init__(
        self,
        config: ExecutorConfig,
        authenticator: Authenticator,
        session: aiohttp.ClientSession,
        policy: RetryPolicy,
        breaker: CircuitBreaker,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.config = config
        self._auth = authenticator
        self._session = session
        self._policy = policy
        self._breaker = breaker
        self._sleep = sleep

    async def call(self, request: CallRequest) -> CallResult:
        """Make the call, retrying transient failures; never raises for a provider's failure."""
        started = time.perf_counter()
        attempt = 0
        last_error = "no attempt made"
        response: ProviderResponse | None = None
        while True:
            attempt += 1
            permit = self._breaker.try_acquire()
            if permit is None:
                wait = self._breaker.retry_after()
                return CallResult(
                    ok=False,
                    attempts=attempt - 1,
                    duration_ms=_since(started),
                    response=response.envelope() if response else None,
                    error=f"circuit open for executor configuration {self.config.name!r}; "
                    f"retry in {wait:.0f} s",
                    code="FLK-0507",
                )
            verdict, response, last_error = await self._attempt(request, permit)
            if verdict == Verdict.SUCCESS:
                return CallResult(
                    ok=True, attempts=attempt, duration_ms=_since(started), response=response.envelope()
                )
            if not self._policy.should_retry(attempt, verdict):
                return CallResult(
                    ok=False,
                    attempts=attempt,
                    duration_ms=_since(started),
                    response=response.envelope() if response else None,
                    error=f"executor call failed after {attempt} attempt{'s' * (attempt > 1)}: {last_error}",
                )
            retry_after = response.headers.get("Retry-After") if response else None
            await self._sleep(self._policy.delay(attempt, retry_after))

    async def _attempt(self, request: CallRequest, permit: Permit) -> tuple[Verdict, Any, str]:
        outgoing = build_request(
            self.config,
            request.endpoint_name,
            request.body,
            idempotency_key=request.idempotency_key,
            request_id=request.request_id,
        )
        try:
            response = await send(self._session, await self._auth.apply(outgoing))
        except (ResponseTooLarge, aiohttp.ClientError, OSError, TimeoutError) as exc:
            verdict = self._policy.classify_error(exc)
            self._judge(permit, verdict)
            return verdict, None, _describe(exc)
        except BaseException:
            self._breaker.release(permit)
            raise
        verdict = self._policy.classify_status(response.status)
        self._judge(permit, verdict)
        return verdict, response, f"provider answered HTTP {response.status}"

    def _judge(self, permit: Permit, verdict: Verdict) -> None:
        if verdict == Verdict.RETRY:
            self._breaker.record_failure(permit)
        else:
            self._breaker.record_success(permit)


def _since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ResponseTooLarge):
        return "response too large"
    # Class names only: exception texts can carry URLs with query-string credentials.
    return f"network error ({type(error).__name__})"
