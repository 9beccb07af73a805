"""After a failed attempt: retry (and after how long), or give up (and why). Pure; the caller acts on it.

The checks, in order; the first that applies decides:

1. the failure is not retried by the policy: a status outside ``retryOn`` (by default 429 and 5xx
   are retried; other 4xx never), an error that is not transient, an answer out of bounds, or a POST or
   PATCH that may have reached the provider while ``retryNonIdempotent`` is off;
2. no attempt is left;
3. the configuration was deleted or disabled meanwhile;
4. the provider's ``Retry-After`` asks for longer than the policy allows (FLK-0284);
5. the configuration's retry budget is spent (FLK-0285).

Otherwise the call is retried after the policy's wait. Only the budget is changed by a decision: a
retry it grants is counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flowker.actors.retry_budget import RetryBudget
from flowker.actors.retry_policy import RetryAfterTooLong, RetryPolicy, Verdict
from flowker.actors.transport import AnswerOutOfBounds
from flowker.codes import RETRY_AFTER_TOO_LONG, RETRY_BUDGET_SPENT


@dataclass(frozen=True)
class Attempt:
    """How one failed attempt ended.

    Attributes:
        number: The attempt, counted from 1.
        method: The request's HTTP method.
        status: The answer's status, when one arrived.
        retry_after: The answer's ``Retry-After`` header, when it had one.
        error: Why no usable answer arrived, when none did.
        may_have_reached: Whether the request may have reached the provider.
    """

    number: int
    method: str
    status: int | None = None
    retry_after: str | None = None
    error: BaseException | None = None
    may_have_reached: bool = True


@dataclass(frozen=True)
class RetryIn:
    """Retry after ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class GiveUp:
    """Do not retry.

    Attributes:
        reason: Appended to the failure's message (``"; not retried: …"``), when there is more to say
            than the failure itself.
        code: The failure's FLK code when it is not the failure's own.
    """

    reason: str | None = None
    code: str | None = None


def decide(
    policy: RetryPolicy,
    attempt: Attempt,
    *,
    config_name: str,
    halted: bool = False,
    budget: RetryBudget | None = None,
    draw: float = 1.0,
    now: datetime | None = None,
) -> RetryIn | GiveUp:
    """What to do after ``attempt`` failed (see the module's list of checks).

    Args:
        policy: The call's policy (the server's, merged with the node's).
        attempt: How the attempt ended.
        config_name: The executor configuration's name, for messages.
        halted: The configuration was deleted or disabled since the call started.
        budget: The configuration's retry budget; ``None`` for none.
        draw: A random number in ``[0, 1)`` for the jitter.
        now: The current time, for an HTTP-date ``Retry-After``.
    """
    refusal = _refusal(policy, attempt)
    if refusal is not None:
        return refusal
    if not policy.has_attempts_left(attempt.number):
        return GiveUp()
    if halted:
        return GiveUp("not retried: the configuration was deleted or disabled meanwhile")
    wait = policy.wait(attempt.number, draw, attempt.retry_after, now)
    if isinstance(wait, RetryAfterTooLong):
        return GiveUp(
            f"not retried: the provider asked to wait {wait.asked:g} s (Retry-After), more than the "
            f"{wait.bound:g} s allowed (FLOWKER_RETRY_AFTER_MAX_SECONDS)",
            RETRY_AFTER_TOO_LONG,
        )
    return _afford(wait, config_name, budget)


def resume(
    wait: float, *, config_name: str, halted: bool = False, budget: RetryBudget | None = None
) -> RetryIn | GiveUp:
    """What to do with a call whose failed attempt another process sent and judged worth a retry after
    ``wait`` seconds (checks 1, 2 and 4 passed there; :mod:`flowker.actors.direct_calls`): checks 3 and
    5, here, where the configuration's state and its retry budget are."""
    if halted:
        return GiveUp("not retried: the configuration was deleted or disabled meanwhile")
    return _afford(wait, config_name, budget)


def _afford(wait: float, config_name: str, budget: RetryBudget | None) -> RetryIn | GiveUp:
    if budget is not None and not budget.try_retry():
        spent = budget.snapshot()
        return GiveUp(
            f"not retried: the retry budget of executor configuration {config_name!r} is spent "
            f"({spent['retries']:g} retries for {spent['calls']:g} calls in the last "
            f"{budget.config.window_seconds:g} s)",
            RETRY_BUDGET_SPENT,
        )
    return RetryIn(wait)


def _refusal(policy: RetryPolicy, attempt: Attempt) -> GiveUp | None:
    """Why the policy does not retry this failure at all, or None when it does."""
    if attempt.error is None:
        assert attempt.status is not None
        return None if policy.retries_status(attempt.status) else GiveUp()
    if isinstance(attempt.error, AnswerOutOfBounds):
        return GiveUp("not retried: the request reached the provider, and asking again could repeat it")
    if policy.retries_error(attempt.error, attempt.method, attempt.may_have_reached):
        return None
    if policy.classify_error(attempt.error) is Verdict.RETRY:
        return GiveUp(
            f"not retried: the {attempt.method} may have reached the provider, and the policy does not "
            "repeat a POST or PATCH then (retryNonIdempotent is off)"
        )
    return GiveUp()
