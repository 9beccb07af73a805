"""One provider call with retries and the circuit breaker: the Ray-free core of an executor actor.

Retries only what may succeed next time (network errors, timeouts, 5xx, 429 — honouring
``Retry-After``); a 4xx other than 429 fails at once. Each attempt's outcome and duration go to the
breaker, which counts 5xx, network errors and timeouts (429 only when configured to) and slow calls: a
provider that answers 400 is up. An open breaker fails the call at once (FLK-0507).
Whether a failed attempt is retried is :func:`flowker.actors.retry_decision.decide`'s call.

A call never raises but for cancellation: every failure is a :class:`CallResult` with a code from
``docs/errors.md`` and ``may_have_reached`` telling whether the provider may have seen the request. A run
that crashed on an exception would be adopted and call the provider again: a payment sent twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from opentelemetry.trace import SpanKind

from flowker.actors import transport
from flowker.actors.breaker import BreakerState, BreakerView, Permit, outcome_of_error, outcome_of_status
from flowker.actors.call_lease import Report
from flowker.actors.delivery import Delivery
from flowker.actors.outbound import DestinationRefused
from flowker.actors.provider_auth import Authenticator
from flowker.actors.retry_budget import RetryBudget
from flowker.actors.retry_decision import Attempt, GiveUp, decide, resume
from flowker.actors.retry_policy import RetryPolicy, Verdict
from flowker.actors.transport import (
    AnswerOutOfBounds,
    ProviderRequest,
    ProviderResponse,
    ResponseTooDeep,
    ResponseTooLarge,
    UnfilledPath,
    UnknownEndpoint,
    build_request,
    send,
)
from flowker.codes import (
    UNKNOWN_ENDPOINT,
)
from flowker.domain.executor_config import ExecutorConfig
from flowker.dsl.retry import NodeRetry
from flowker.dsl.run_state import Route
from flowker.errors import (
    CallRefused,
    CircuitOpen,
    DestinationNotAllowed,
    InternalCallError,
    ProviderCallFailed,
    TokenUnavailable,
    UnstorableAnswer,
    UpstreamFailed,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from flowker.telemetry import catalog, tracing
from flowker.telemetry.recorder import RECORDER
from flowker.tunables import MAX_RESPONSE_BYTES

log = logging.getLogger("flowker.executor")

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Handover:
    """A first attempt the calling process sent itself (:mod:`flowker.actors.direct_calls`), handed to the
    executor actor to go on with: it failed retryably, or the provider refused the credentials.

    It names no exception and no URL (texts can carry credentials): only what the actor needs to go on
    and to describe a failure.

    Attributes:
        attempts: Requests already sent (1).
        may_have_reached: Whether one of them may have reached the provider.
        wait_seconds: The policy's wait before the next attempt (unused after a refusal).
        refused: The provider refused the credentials (the authenticator's ``refused``): the actor's one
            renewal and one more request follow at once, not counted as an attempt.
        last_error: What the last attempt ended with ("provider answered HTTP 503").
        failure: The :class:`~flowker.errors.ProviderCallFailed` subclass it was, by name.
        response: The last answer's envelope, when one arrived.
        duration_ms: How long the direct attempt took.
        report: Its outcome for the actor's breaker and budget (applied when the actor takes the call).
    """

    attempts: int
    may_have_reached: bool
    wait_seconds: float
    refused: bool
    last_error: str
    failure: str
    response: dict[str, Any] | None = field(default=None, repr=False)
    duration_ms: int = 0
    report: Report | None = None


@dataclass(frozen=True)
class CallRequest:
    """What a supervisor asks of an executor actor."""

    executor_config_id: str
    endpoint_name: str
    body: Any
    idempotency_key: str
    request_id: str
    #: The node's own retry policy (``data.retry``), merged with the server's by the executor.
    retry: NodeRetry | None = None
    #: The W3C trace context of the step's span (``traceparent``), when tracing is on.
    trace: dict[str, str] | None = None
    #: A catalog-form node's route (its provider configuration's call target; see build_request).
    route: Route | None = None
    #: The first attempt, when the calling process sent it itself and the actor is to go on.
    handover: Handover | None = None


@dataclass(frozen=True)
class CallResult:
    """The call's outcome; ``response`` is the envelope ``{status, headers, body}`` when one arrived.

    Attributes:
        ok: The provider answered 2xx.
        attempts: Requests sent.
        duration_ms: Time the call took, retries and waits included.
        response: The last answer's envelope, when one arrived; always serialisable by orjson.
        failure: Why the call failed (a :class:`~flowker.errors.ProviderCallFailed`), when it did.
    """

    ok: bool
    attempts: int
    duration_ms: int
    response: dict[str, Any] | None = None
    failure: ProviderCallFailed | None = None

    @property
    def error(self) -> str | None:
        """The failure's message, for an operator."""
        return self.failure.message if self.failure else None

    @property
    def code(self) -> str | None:
        """The failure's FLK code."""
        return self.failure.code if self.failure else None

    @property
    def may_have_reached(self) -> bool:
        """Whether the provider may have received the request (see :class:`ProviderCallFailed`)."""
        return self.failure.may_have_reached if self.failure else True

    @classmethod
    def failed(cls, failure: ProviderCallFailed, *, attempts: int = 0, **fields: Any) -> CallResult:
        """A failed call."""
        return cls(
            ok=False, attempts=attempts, duration_ms=fields.pop("duration_ms", 0), failure=failure, **fields
        )

    @classmethod
    def refused(cls, error: str, code: str) -> CallResult:
        """A call not made: nothing was sent."""
        return cls.failed(CallRefused(error, code=code))

    @classmethod
    def internal_error(cls, error: BaseException, *, may_have_reached: bool, attempts: int = 0) -> CallResult:
        """A bug in Flowker: the class name only, since exception texts can carry URLs or data."""
        reached = "the request may have reached the provider" if may_have_reached else "nothing was sent"
        message = f"internal error in the executor ({type(error).__name__}); {reached}"
        return cls.failed(InternalCallError(message, may_have_reached=may_have_reached), attempts=attempts)


@dataclass
class _Progress:
    """How far a call got, for the report of a failure that interrupts it."""

    sent: int = 0


class ProviderCaller:
    """Calls the endpoints of one executor configuration."""

    def __init__(
        self,
        config: ExecutorConfig,
        authenticator: Authenticator,
        session: aiohttp.ClientSession,
        policy: RetryPolicy,
        breaker: BreakerView,
        sleep: Sleep = asyncio.sleep,
        budget: RetryBudget | None = None,
        draw: Callable[[], float] = random.random,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.config = config
        self._auth = authenticator
        self._session = session
        self._policy = policy
        self._breaker = breaker
        self._sleep = sleep
        self._budget = budget
        #: Random numbers in [0, 1) for the jitter, and the time for HTTP-date Retry-After: injected.
        self._draw = draw
        self._now = now
        self._max_response_bytes = max_response_bytes
        #: Set when the configuration is deleted or disabled: calls in flight make no further attempt.
        self.halted = False

    async def call(self, request: CallRequest) -> CallResult:
        """Make the call, retrying transient failures; never raises but for cancellation.

        A request with a :class:`Handover` goes on where the calling process's first attempt left it: the
        next attempt after the policy's wait (the retry counted in the budget), its attempts counted.
        """
        result = await self._spanned(request, self._breaker, only_one=False)
        assert isinstance(result, CallResult)
        return result

    async def first_attempt(self, request: CallRequest, breaker: BreakerView) -> CallResult | Handover:
        """One attempt under ``breaker`` (a lease's view), never retried here: its result when it
        succeeded or failed for good, else the :class:`Handover` for the executor actor to go on with."""
        return await self._spanned(request, breaker, only_one=True)

    async def _spanned(
        self, request: CallRequest, breaker: BreakerView, *, only_one: bool
    ) -> CallResult | Handover:
        with tracing.tracer().start_as_current_span(
            tracing.EXECUTE_WITH_PROVIDER,
            context=tracing.parent(request.trace),
            attributes={
                "flowker.executor_config_id": self.config.id,
                "flowker.endpoint_name": request.endpoint_name,
            },
        ) as span:
            result = await self._traced(request, breaker, only_one)
            if isinstance(result, Handover):
                span.set_attribute("flowker.outcome", "handed_over")
            else:
                span.set_attribute("flowker.outcome", "ok" if result.ok else str(result.code))
            span.set_attribute("flowker.attempts", result.attempts)
            return result

    async def _traced(
        self, request: CallRequest, breaker: BreakerView, only_one: bool
    ) -> CallResult | Handover:
        try:
            outgoing = build_request(
                self.config,
                request.endpoint_name,
                request.body,
                idempotency_key=request.idempotency_key,
                request_id=request.request_id,
                max_response_bytes=self._max_response_bytes,
                route=request.route,
            )
        except UnfilledPath as exc:
            return CallResult.refused(f"executor configuration {self.config.name!r}: {exc}", UNKNOWN_ENDPOINT)
        except UnknownEndpoint:
            # The configuration changed under a run that uses it (a PATCH removed the endpoint).
            return CallResult.refused(
                f"executor configuration {self.config.name!r} has no endpoint {request.endpoint_name!r} "
                "(removed since the workflow was activated?)",
                UNKNOWN_ENDPOINT,
            )
        progress = _Progress()
        handover = None if only_one else request.handover
        try:
            result = await self._call(
                outgoing, progress, self._policy.merged(request.retry), breaker, handover, only_one
            )
        except Exception as exc:
            log.exception("executor %s: call %s failed in Flowker", self.config.id, request.idempotency_key)
            reached = progress.sent > 0 or (handover is not None and handover.may_have_reached)
            result = CallResult.internal_error(exc, may_have_reached=reached, attempts=progress.sent)
        if isinstance(result, CallResult):  # a hand-over is counted once, where the call ends
            RECORDER.inc(catalog.PROVIDER_CALLS, self.config.id, "ok" if result.ok else str(result.code))
        return result

    async def _call(
        self,
        outgoing: ProviderRequest,
        progress: _Progress,
        policy: RetryPolicy,
        breaker: BreakerView,
        handover: Handover | None = None,
        only_one: bool = False,
    ) -> CallResult | Handover:
        started = time.perf_counter()
        attempt = 0
        last: dict[str, Any] | None = None  # the last answer's envelope
        reached = False
        renewed = False  # the one forced credential renewal of this call is used
        if handover is not None:
            # The calling process sent the first attempt: go on from there, as if it had been sent here.
            started -= handover.duration_ms / 1000
            progress.sent = attempt = handover.attempts
            reached, last = handover.may_have_reached, handover.response
            if handover.refused:
                renewed = True  # the renewal's one more request goes out at once, not as an attempt
                attempt -= 1
            else:
                resumed = resume(
                    handover.wait_seconds,
                    config_name=self.config.name,
                    halted=self.halted,
                    budget=self._budget,
                )
                if isinstance(resumed, GiveUp):
                    reason = f"; {resumed.reason}" if resumed.reason else ""
                    return self._given_up(
                        _KINDS.get(handover.failure, UpstreamFailed),
                        attempt,
                        handover.last_error + reason,
                        resumed.code,
                        reached,
                        progress,
                        started,
                        last,
                    )
                RECORDER.inc(catalog.PROVIDER_RETRIES, self.config.id)
                await self._sleep(resumed.seconds)
        while True:
            attempt += 1
            if breaker.state is BreakerState.OPEN:
                # Failing fast needs no credentials: an open breaker must not cause token requests.
                return self._circuit_open(breaker, progress, started, reached, last)
            # Credentials next: a token source that fails must not hold a breaker permit.
            try:
                authed = await self._auth.apply(outgoing)
            except TokenUnavailable as exc:
                # Nothing was sent to the provider: its breaker is left alone. Transient failures are
                # retried under the call's policy, like the provider's own.
                retry = exc.retryable and not (self.halted or only_one)
                if retry and policy.should_retry(attempt, Verdict.RETRY):
                    pause = policy.wait(attempt, self._draw())
                    assert isinstance(pause, float)  # only a Retry-After can be too long
                    RECORDER.inc(catalog.PROVIDER_RETRIES, self.config.id)
                    await self._sleep(pause)
                    continue
                return CallResult.failed(
                    type(exc)(exc.message, code=exc.code, may_have_reached=reached),
                    attempts=progress.sent,
                    duration_ms=_since(started),
                    response=last,
                )
            permit = breaker.try_acquire()
            if permit is None:  # opened meanwhile, or half-open with every trial slot taken
                return self._circuit_open(breaker, progress, started, reached, last)
            progress.sent += 1
            if attempt == 1 and self._budget is not None and handover is None:
                # (A handed-over call was counted when its first attempt's report was applied.)
                self._budget.record_call()
            verdict, response, last_error, kind, failed = await self._attempt(
                authed, permit, attempt, breaker
            )
            if response is not None:
                last = response.envelope()
            if verdict == Verdict.SUCCESS:
                assert last is not None
                return CallResult(ok=True, attempts=progress.sent, duration_ms=_since(started), response=last)
            reached = reached or failed.may_have_reached
            if (
                response is not None
                and not (renewed or self.halted)
                and self._auth.refused(authed, response.status)
            ):
                if only_one:
                    return self._handover(progress, reached, 0.0, True, last_error, kind, last, started)
                # One forced token renewal and one more request (never a loop), not counted as an attempt.
                renewed = True
                attempt -= 1
                continue
            next_step = decide(
                policy,
                failed,
                config_name=self.config.name,
                halted=self.halted,
                budget=self._budget,
                draw=self._draw(),
                now=self._now(),
            )
            if isinstance(next_step, GiveUp):
                if next_step.reason:
                    last_error += f"; {next_step.reason}"
                return self._given_up(
                    kind, attempt, last_error, next_step.code, reached, progress, started, last
                )
            if only_one:
                # The retry, its wait and its budget are the executor actor's: it holds the budget.
                return self._handover(
                    progress, reached, next_step.seconds, False, last_error, kind, last, started
                )
            RECORDER.inc(catalog.PROVIDER_RETRIES, self.config.id)
            await self._sleep(next_step.seconds)

    @staticmethod
    def _given_up(
        kind: type[ProviderCallFailed],
        attempt: int,
        last_error: str,
        code: str | None,
        reached: bool,
        progress: _Progress,
        started: float,
        last: dict[str, Any] | None,
    ) -> CallResult:
        return CallResult.failed(
            kind(
                f"executor call failed after {attempt} attempt{'s' * (attempt > 1)}: {last_error}",
                code=code,
                may_have_reached=reached,
            ),
            attempts=progress.sent,
            duration_ms=_since(started),
            response=last,
        )

    @staticmethod
    def _handover(
        progress: _Progress,
        reached: bool,
        wait: float,
        refused: bool,
        last_error: str,
        kind: type[ProviderCallFailed],
        last: dict[str, Any] | None,
        started: float,
    ) -> Handover:
        return Handover(
            attempts=progress.sent,
            may_have_reached=reached,
            wait_seconds=wait,
            refused=refused,
            last_error=last_error,
            failure=kind.__name__,
            response=last,
            duration_ms=_since(started),
        )

    def _circuit_open(
        self,
        breaker: BreakerView,
        progress: _Progress,
        started: float,
        reached: bool,
        response: dict[str, Any] | None,
    ) -> CallResult:
        wait = breaker.retry_after()
        return CallResult.failed(
            CircuitOpen(
                f"circuit open for executor configuration {self.config.name!r}; retry in {wait:.0f} s",
                may_have_reached=reached,
            ),
            attempts=progress.sent,
            duration_ms=_since(started),
            response=response,
        )

    async def _attempt(
        self, request: ProviderRequest, permit: Permit, number: int, breaker: BreakerView
    ) -> tuple[Verdict, ProviderResponse | None, str, type[ProviderCallFailed], Attempt]:
        """One attempt: its verdict, the answer if any, a description, the kind of failure it is, and
        how it ended (for the retry decision)."""
        with tracing.tracer().start_as_current_span(
            tracing.PROVIDER_REQUEST,
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": request.method, "flowker.attempt": number},
        ) as span:
            for name, value in tracing.carrier().items():
                request = request.with_header(name, value)
            ended = await self._attempt_sent(request, permit, number, breaker)
            if ended[1] is not None:
                span.set_attribute("http.response.status_code", ended[1].status)
            return ended

    async def _attempt_sent(
        self, request: ProviderRequest, permit: Permit, number: int, breaker: BreakerView
    ) -> tuple[Verdict, ProviderResponse | None, str, type[ProviderCallFailed], Attempt]:
        delivery = Delivery()
        begun = time.perf_counter()
        try:
            response = await send(self._session, request, delivery)
        except DestinationRefused as exc:
            # Refused before any connection: the provider's health is not in question.
            breaker.release(permit)
            ended = Attempt(number, request.method, error=exc, may_have_reached=False)
            return Verdict.FAIL, None, str(exc), DestinationNotAllowed, ended
        except (AnswerOutOfBounds, aiohttp.ClientError, OSError, TimeoutError) as exc:
            verdict = self._policy.classify_error(exc)
            _count_request(self.config.id, "timeout" if isinstance(exc, TimeoutError) else "network", begun)
            # The breaker judges by its own rules (breaker.py): what it counts, and slow calls.
            breaker.record_outcome(permit, outcome_of_error(exc), time.perf_counter() - begun)
            reached = isinstance(exc, AnswerOutOfBounds) or delivery.may_have_reached(exc)
            ended = Attempt(number, request.method, error=exc, may_have_reached=reached)
            return verdict, None, _describe(exc), _failure_of(exc), ended
        except BaseException:
            breaker.release(permit)
            raise
        verdict = self._policy.classify_status(response.status)
        _count_request(self.config.id, f"{response.status // 100}xx", begun)
        breaker.record_outcome(permit, outcome_of_status(response.status), time.perf_counter() - begun)
        kind = UpstreamFailed if verdict == Verdict.RETRY else UpstreamRejected
        ended = Attempt(
            number, request.method, status=response.status, retry_after=response.headers.get("Retry-After")
        )
        return verdict, response, f"provider answered HTTP {response.status}", kind, ended


#: The failures a hand-over can name (the kinds an attempt's failure has: see ``_attempt_sent``).
_KINDS: dict[str, type[ProviderCallFailed]] = {
    kind.__name__: kind
    for kind in (
        UpstreamFailed,
        UpstreamRejected,
        UpstreamTimeout,
        UpstreamUnreachable,
        UnstorableAnswer,
        DestinationNotAllowed,
    )
}


def _count_request(config_id: str, outcome: str, begun: float) -> None:
    RECORDER.inc(catalog.PROVIDER_REQUESTS, config_id, outcome)
    RECORDER.observe(catalog.PROVIDER_REQUEST_SECONDS, config_id, value=time.perf_counter() - begun)


def _failure_of(error: BaseException) -> type[ProviderCallFailed]:
    if isinstance(error, AnswerOutOfBounds):
        return UnstorableAnswer
    if isinstance(error, TimeoutError):
        return UpstreamTimeout
    return UpstreamUnreachable


def _since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ResponseTooLarge):
        return f"provider answer larger than {transport.describe_size(error.limit)}"
    if isinstance(error, ResponseTooDeep):
        return f"provider answer nests deeper than {transport.MAX_ANSWER_DEPTH} levels"
    # Class names only: exception texts can carry URLs with query-string credentials.
    return f"network error ({type(error).__name__})"
