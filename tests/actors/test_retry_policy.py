from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from flowker.actors.retry_policy import RetryPolicy, Verdict, parse_retry_after
from flowker.actors.transport import ResponseTooDeep, ResponseTooLarge

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
POLICY = RetryPolicy()


def test_defaults_match_the_reference_product() -> None:
    assert RetryPolicy() == RetryPolicy(attempts=5, backoff_seconds=1.0, max_delay_seconds=30.0)


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


def test_delays_double_from_one_second_with_the_defaults() -> None:
    assert [POLICY.delay(attempt) for attempt in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]


def test_delays_double_from_a_small_base() -> None:
    fast = RetryPolicy(backoff_seconds=0.01)
    assert [fast.delay(attempt) for attempt in (1, 2, 3, 4)] == pytest.approx([0.01, 0.02, 0.04, 0.08])


def test_delays_are_capped() -> None:
    capped = RetryPolicy(attempts=10, backoff_seconds=1.0, max_delay_seconds=5.0)
    assert [capped.delay(attempt) for attempt in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert POLICY.delay(6) == 30.0
    assert POLICY.delay(10_000) == 30.0


def test_zero_backoff_never_waits() -> None:
    assert RetryPolicy(backoff_seconds=0.0).delay(10_000) == 0.0


def test_delay_rejects_attempt_zero() -> None:
    with pytest.raises(ValueError) as info:
        POLICY.delay(0)
    assert str(info.value) == "attempt counts from 1, got 0"


def test_retry_after_seconds_replaces_the_backoff() -> None:
    assert POLICY.delay(1, retry_after="7", now=NOW) == 7.0
    assert POLICY.delay(4, retry_after="0", now=NOW) == 0.0
    assert POLICY.delay(1, retry_after=" 3 ", now=NOW) == 3.0


def test_retry_after_is_capped() -> None:
    assert POLICY.delay(1, retry_after="120", now=NOW) == 30.0


def test_retry_after_http_date_in_the_future() -> None:
    assert POLICY.delay(1, retry_after="Sun, 29 Nov 2026 12:00:12 GMT", now=NOW) == 12.0


def test_retry_after_http_date_in_the_past_means_now() -> None:
    assert POLICY.delay(3, retry_after="Sun, 29 Nov 2026 11:59:00 GMT", now=NOW) == 0.0


def test_unparseable_retry_after_falls_back_to_the_backoff() -> None:
    assert POLICY.delay(3, retry_after="soon", now=NOW) == 4.0
    assert POLICY.delay(2, retry_after="-5", now=NOW) == 2.0


def test_retry_after_http_date_defaults_to_the_system_clock() -> None:
    moment = datetime.now(UTC) + timedelta(seconds=20)
    header = moment.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 18.0 <= POLICY.delay(1, retry_after=header) <= 20.0


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
