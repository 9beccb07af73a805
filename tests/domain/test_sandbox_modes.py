"""The sandbox's failure/latency modes and its bounded attempt counter."""

from __future__ import annotations

from flowker.domain.sandbox_modes import NORMAL, Attempts, Mode, split_mode


def test_the_sandbox_object_is_taken_out_of_the_body() -> None:
    mode, body = split_mode({"document": "1", "sandbox": {"fail": "TIMEOUT", "delayMs": "7"}}, {})
    assert mode == Mode(fail="timeout", times=None, delay_ms=7)
    assert body == {"document": "1"}


def test_without_a_body_the_query_says_the_mode() -> None:
    mode, body = split_mode(None, {"sandboxFail": "429", "sandboxTimes": "3"})
    assert (mode, body) == (Mode(fail="429", times=3, delay_ms=0), None)
    # A body without a sandbox object: the query still counts (a POST with modes in its URL).
    assert split_mode({"a": 1}, {"sandboxDelayMs": "2"}) == (Mode(delay_ms=2), {"a": 1})
    assert split_mode({"a": 1}, {}) == (NORMAL, {"a": 1})


def test_attempts_count_per_call_and_forget_the_least_recent_beyond_capacity() -> None:
    attempts = Attempts(capacity=2)
    assert [attempts.next("a"), attempts.next("a"), attempts.next("b")] == [1, 2, 1]
    assert attempts.next("a") == 3  # "a" is now the most recent
    assert attempts.next("c") == 1  # "b" forgotten
    assert len(attempts) == 2
    assert attempts.next("b") == 1
    assert attempts.next("a") == 1  # forgotten when "b" came back
