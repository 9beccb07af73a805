from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from flowker.actors.retry_policy import RetryAfterTooLong, RetryPolicy, Verdict, parse_retry_after
from flowker.actors.transport import ResponseTooDeep, ResponseTooLarge
from flowker.dsl.retry import NodeRetry

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
POLICY = RetryPolicy()


def test_defaults_match_the_reference_product() -> None:
    assert RetryPolicy() == RetryPolicy(
        attempts=5,
        backoff_seconds=1.0,
        backoff_coefficient=2.0,
        max_delay_seconds=30.0,
        retry_after_max_seconds=60.0,
        jitter=True,
        retry_on=None,
        retry_non_idempotent=False,
    )


def test_the_server_policy_is_read_from_the_settings() -> None:
    from flowker.settings import Settings

    settings = Settings(
        retry_attempts=3,
        retry_backoff_seconds=0.5,
        retry_max_delay_seconds=4.0,
        retry_after_max_seconds=9.0,
        retry_jitter=False,
    )
    assert RetryPolicy.of_server(settings) == RetryPolicy(
        attempts=3, backoff_seconds=0.5, max_delay_seconds=4.0, retry_after_max_seconds=9.0, jitter=False
    )


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (100, Verdict.FAIL),
        (200, Verdict.SUCCESS),
        (201, Verdict.SUCCESS),
        (204, Verdict.SUCCESS),
        (299, Verdict.SUCCESS),
        (301, Verdict.FAIL),
        (304, Verdict.FAIL),
        (400, Verdict.FAIL),
        (401, Verdict.FAIL),
        (403, Verdict.FAIL),
        (404, Verdict.FAIL),
        (409, Verdict.FAIL),
        (422, Verdict.FAIL),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (502, Verdict.RETRY),
        (503, Verdict.RETRY),
        (504, Verdict.RETRY),
        (599, Verdict.RETRY),
        (600, Verdict.FAIL),
    ],
)
def test_classify_status(status: int, verdict: Verdict) -> None:
    assert POLICY.classify_status(status) is verdict


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (OSError("network unreachable"), Verdict.RETRY),
        (ConnectionError("reset"), Verdict.RETRY),
        (ConnectionRefusedError("refused"), Verdict.RETRY),
        (TimeoutError(), Verdict.RETRY),
        (aiohttp.ClientConnectionError("gone"), Verdict.RETRY),
        (aiohttp.ClientOSError(111, "connection refused"), Verdict.RETRY),
        (aiohttp.ClientPayloadError("truncated body"), Verdict.RETRY),
        (aiohttp.ServerDisconnectedError(), Verdict.RETRY),
        (aiohttp.ServerTimeoutError("read timeout"), Verdict.RETRY),
        (ValueError("bad json"), Verdict.FAIL),
        (KeyError("missing"), Verdict.FAIL),
        (aiohttp.InvalidURL("not a url"), Verdict.FAIL),
        (asyncio.CancelledError(), Verdict.FAIL),
        # The request reached the provider: asking again could make a payment twice.
        (ResponseTooLarge("provider answer larger than 10 MiB"), Verdict.FAIL),
        (ResponseTooDeep("provider answer nests deeper than 64 levels"), Verdict.FAIL),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_classify_error(error: BaseException, verdict: Verdict) -> None:
    assert POLICY.classify_error(error) is verdict


#: What random() would draw at its highest: without jitter or with this draw, waits are the ceilings.
TOP = 1.0
FIXED = RetryPolicy(jitter=False)


def waits(policy: RetryPolicy, draw: float = TOP, count: int = 4) -> list[float | RetryAfterTooLong]:
    return [policy.wait(attempt, draw) for attempt in range(1, count + 1)]


def test_waits_double_from_one_second_as_in_the_seed() -> None:
    assert waits(FIXED) == [1.0, 2.0, 4.0, 8.0]
    assert waits(FIXED, draw=0.0) == [1.0, 2.0, 4.0, 8.0]  # no jitter: the draw does not matter
    assert waits(POLICY, draw=TOP) == [1.0, 2.0, 4.0, 8.0]


def test_full_jitter_draws_each_wait_between_zero_and_its_ceiling() -> None:
    assert waits(POLICY, draw=0.5) == [0.5, 1.0, 2.0, 4.0]
    assert waits(POLICY, draw=0.0) == [0.0, 0.0, 0.0, 0.0]
    assert waits(POLICY, draw=0.25, count=7)[4:] == [4.0, 7.5, 7.5]  # the cap of 30 s, jittered


def test_waits_grow_by_the_coefficient_and_stop_at_the_cap() -> None:
    policy = RetryPolicy(attempts=10, backoff_seconds=0.5, backoff_coefficient=3.0, max_delay_seconds=10.0)
    assert waits(policy, count=5) == [0.5, 1.5, 4.5, 10.0, 10.0]
    assert RetryPolicy(backoff_coefficient=1.0, jitter=False).wait(4, TOP) == 1.0
    assert FIXED.wait(10_000, TOP) == 30.0  # no overflow however many attempts


def test_zero_backoff_never_waits() -> None:
    assert RetryPolicy(backoff_seconds=0.0).wait(10_000, TOP) == 0.0


def test_wait_rejects_attempt_zero() -> None:
    with pytest.raises(ValueError) as info:
        POLICY.wait(0, TOP)
    assert str(info.value) == "attempt counts from 1, got 0"


def test_retry_after_seconds_replaces_the_backoff_and_is_not_jittered() -> None:
    assert POLICY.wait(1, 0.1, retry_after="7", now=NOW) == 7.0
    assert POLICY.wait(4, 0.1, retry_after="0", now=NOW) == 0.0
    assert POLICY.wait(1, 0.1, retry_after=" 3 ", now=NOW) == 3.0


def test_retry_after_beyond_the_backoff_cap_is_honoured_up_to_its_own_bound() -> None:
    assert POLICY.wait(1, 0.1, retry_after="45", now=NOW) == 45.0  # over the 30 s backoff cap
    assert POLICY.wait(1, 0.1, retry_after="60", now=NOW) == 60.0


def test_retry_after_over_the_bound_is_refused_not_shortened() -> None:
    assert POLICY.wait(1, TOP, retry_after="61", now=NOW) == RetryAfterTooLong(61.0, 60.0)
    bounded = RetryPolicy(retry_after_max_seconds=5.0)
    assert bounded.wait(2, TOP, retry_after="Sun, 29 Nov 2026 12:00:12 GMT", now=NOW) == RetryAfterTooLong(
        12.0, 5.0
    )


def test_retry_after_http_date_in_the_future() -> None:
    assert POLICY.wait(1, 0.3, retry_after="Sun, 29 Nov 2026 12:00:12 GMT", now=NOW) == 12.0


def test_retry_after_http_date_in_the_past_means_now() -> None:
    assert POLICY.wait(3, 0.3, retry_after="Sun, 29 Nov 2026 11:59:00 GMT", now=NOW) == 0.0


def test_unparseable_retry_after_falls_back_to_the_backoff() -> None:
    assert FIXED.wait(3, TOP, retry_after="soon", now=NOW) == 4.0
    assert FIXED.wait(2, TOP, retry_after="-5", now=NOW) == 2.0


def test_retry_after_http_date_defaults_to_the_system_clock() -> None:
    moment = datetime.now(UTC) + timedelta(seconds=20)
    header = moment.strftime("%a, %d %b %Y %H:%M:%S GMT")
    wait = POLICY.wait(1, TOP, retry_after=header)
    assert isinstance(wait, float) and 18.0 <= wait <= 20.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("120", 120.0),
        ("  42\t", 42.0),
        ("Sun, 29 Nov 2026 12:01:30 GMT", 90.0),  # IMF-fixdate
        ("Sunday, 29-Nov-26 12:00:05 GMT", 5.0),  # obsolete RFC 850
        ("Sun Nov 29 12:00:10 2026", 10.0),  # obsolete asctime, GMT implied
        ("Sun, 29 Nov 2026 13:00:20 +0100", 20.0),  # a zone other than GMT still means that instant
        ("Sun, 29 Nov 2026 11:00:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str, seconds: float) -> None:
    assert parse_retry_after(value, NOW) == seconds


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "soon",
        "-5",
        "1.5",
        "+5",
        "1e3",
        "12 seconds",
        "Sun, 32 Nov 2026 12:00:00 GMT",
        "Sun, 29 Nov 99999999999999999999 12:00:00 GMT",
    ],
)
def test_parse_retry_after_rejects_garbage(value: str) -> None:
    assert parse_retry_after(value, NOW) is None


@pytest.mark.parametrize(
    ("attempt", "verdict", "expected"),
    [
        (1, Verdict.RETRY, True),
        (4, Verdict.RETRY, True),
        (5, Verdict.RETRY, False),
        (6, Verdict.RETRY, False),
        (1, Verdict.FAIL, False),
        (1, Verdict.SUCCESS, False),
    ],
)
def test_should_retry(attempt: int, verdict: Verdict, expected: bool) -> None:
    assert POLICY.should_retry(attempt, verdict) is expected


def test_a_single_attempt_is_never_retried() -> None:
    assert RetryPolicy(attempts=1).should_retry(1, Verdict.RETRY) is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attempts": 0}, "attempts must be at least 1, got 0"),
        ({"backoff_seconds": -0.5}, "backoff_seconds must be finite and not negative, got -0.5"),
        ({"backoff_seconds": float("inf")}, "backoff_seconds must be finite and not negative, got inf"),
        ({"max_delay_seconds": -1.0}, "max_delay_seconds must be finite and not negative, got -1.0"),
        ({"max_delay_seconds": float("nan")}, "max_delay_seconds must be finite and not negative, got nan"),
        (
            {"retry_after_max_seconds": -1.0},
            "retry_after_max_seconds must be finite and not negative, got -1.0",
        ),
        ({"backoff_coefficient": 0.5}, "backoff_coefficient must be finite and at least 1, got 0.5"),
    ],
)
def test_policy_validation(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError) as info:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_provider_call_failures_are_typed_keep_their_flag_and_code_across_pickling() -> None:
    import pickle

    from flowker.codes import BREAKER_OPEN, PROVIDER_FAILED, UNKNOWN_ENDPOINT
    from flowker.errors import CallRefused, CircuitOpen, FlowkerError, ProviderCallFailed, UpstreamRejected

    refused = CallRefused("no endpoint 'b'", code=UNKNOWN_ENDPOINT)
    assert isinstance(refused, FlowkerError) and isinstance(refused, ProviderCallFailed)
    assert (refused.may_have_reached, refused.retryable) == (False, False)
    assert (CircuitOpen("open").code, CircuitOpen("open").retryable) == (BREAKER_OPEN, True)
    rejected = UpstreamRejected("HTTP 400", may_have_reached=True)
    assert (rejected.code, rejected.retryable) == (PROVIDER_FAILED, False)
    again = pickle.loads(pickle.dumps(refused))
    assert type(again) is CallRefused
    assert (again.message, again.code, again.may_have_reached) == (refused.message, UNKNOWN_ENDPOINT, False)


@pytest.mark.parametrize(
    ("status", "retry_on", "retried"),
    [
        (503, None, True),
        (429, None, True),
        (500, None, True),
        (400, None, False),
        (404, None, False),
        (409, None, False),
        (200, None, False),
        (503, frozenset({429}), False),
        (429, frozenset({429}), True),
        (408, frozenset({408, 503}), True),
        (500, frozenset({408, 503}), False),
        (503, frozenset(), False),
    ],
)
def test_retried_statuses_follow_retry_on(
    status: int, retry_on: frozenset[int] | None, retried: bool
) -> None:
    assert RetryPolicy(retry_on=retry_on).retries_status(status) is retried


@pytest.mark.parametrize(
    ("method", "reached", "non_idempotent", "retried"),
    [
        ("POST", False, False, True),  # nothing was sent: always safe to send
        ("POST", True, False, False),  # it may have made the payment
        ("POST", True, True, True),
        ("PATCH", True, False, False),
        ("PATCH", True, True, True),
        ("GET", True, False, True),
        ("PUT", True, False, True),
        ("DELETE", True, False, True),
        ("post", True, False, False),
    ],
)
def test_an_ambiguous_failure_repeats_a_post_or_patch_only_when_the_policy_says_so(
    method: str, reached: bool, non_idempotent: bool, retried: bool
) -> None:
    policy = RetryPolicy(retry_non_idempotent=non_idempotent)
    assert policy.retries_error(TimeoutError(), method, reached) is retried
    assert policy.retries_error(aiohttp.ServerDisconnectedError(), method, reached) is retried


def test_an_error_that_is_not_transient_is_never_retried() -> None:
    policy = RetryPolicy(retry_non_idempotent=True)
    assert policy.retries_error(ValueError("bug"), "GET", False) is False
    assert policy.retries_error(ResponseTooLarge("big"), "GET", True) is False


def test_a_node_overrides_the_fields_it_names_and_keeps_the_others() -> None:
    server = RetryPolicy(
        attempts=5, backoff_seconds=1.0, max_delay_seconds=30.0, retry_after_max_seconds=60.0
    )
    assert server.merged(None) is server
    assert server.merged(NodeRetry()) == server
    merged = server.merged(
        NodeRetry(
            max_attempts=3,
            initial_interval_ms=250,
            backoff_coefficient=3.0,
            max_interval_ms=1000,
            retry_on=(429, 503),
            retry_non_idempotent=True,
        )
    )
    assert merged == RetryPolicy(
        attempts=3,
        backoff_seconds=0.25,
        backoff_coefficient=3.0,
        max_delay_seconds=1.0,
        retry_after_max_seconds=60.0,
        jitter=True,
        retry_on=frozenset({429, 503}),
        retry_non_idempotent=True,
    )
    assert [merged.backoff_ceiling(n) for n in (1, 2, 3)] == [0.25, 0.75, 1.0]


def test_a_node_beyond_the_server_limits_is_held_to_them() -> None:
    # Saved before a limit was lowered, say: validation refuses these today, the call clamps them.
    merged = RetryPolicy().merged(
        NodeRetry(max_attempts=99, initial_interval_ms=10**9, backoff_coefficient=99.0, retry_on=(404, 503))
    )
    assert (merged.attempts, merged.backoff_seconds, merged.backoff_coefficient) == (10, 60.0, 10.0)
    assert merged.retry_on == frozenset({503})
