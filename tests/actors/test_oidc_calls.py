"""Provider calls with OIDC tokens, without Ray: a real ProviderCaller, a local issuer and a provider API
that checks its tokens, all on 127.0.0.1; waits between attempts are recorded, not slept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from flowker.actors.breaker import BreakerConfig, CircuitBreaker, Outcome
from flowker.actors.caller import CallRequest, ProviderCaller
from flowker.actors.provider_auth import authenticator_for
from flowker.actors.retry_policy import RetryPolicy
from flowker.codes import BREAKER_OPEN, PROVIDER_FAILED, TOKEN_ENDPOINT_FAILED, TOKEN_REFUSED
from flowker.domain.executor_config import ExecutorConfig
from tests.helpers.oidc_provider import OidcProvider
from tests.helpers.stub_provider import StubProvider

SECRET = "cc-secret-Qw55-private"


@pytest.fixture
async def issuer() -> AsyncIterator[OidcProvider]:
    async with OidcProvider(expires_in=300) as started:
        started.add_client("flowker", SECRET)
        yield started


@pytest.fixture
async def api(issuer: OidcProvider) -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        stub.route("POST", "/accounts", issuer.protected((200, {"ok": True})))
        yield stub


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


class Waits:
    """An injected sleep that records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def caller(
    api: StubProvider, issuer: OidcProvider, session: aiohttp.ClientSession, waits: Waits, **auth: Any
) -> tuple[ProviderCaller, CircuitBreaker]:
    oidc = {"issuer_url": issuer.url, "client_id": "flowker", "client_secret": SECRET, **auth}
    block = {"type": "oidc_client_credentials", "config": oidc}
    config = ExecutorConfig(
        id="6f1c2a8e-0000-4000-8000-0000000000aa",
        name="accounts-api",
        baseUrl=api.url,
        endpoints=[{"name": "open", "path": "/accounts", "method": "POST", "timeout": 5}],
        authentication=block,
        createdAt="2026-01-01T00:00:00Z",
        updatedAt="2026-01-01T00:00:00Z",
    )
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=3, open_seconds=30))
    authenticator = authenticator_for(block, session=session, config_name=config.name)
    policy = RetryPolicy(attempts=5, backoff_seconds=1.0, max_delay_seconds=30.0)
    # The highest draw: waits are the backoff ceilings, 1, 2, 4 s.
    caller = ProviderCaller(config, authenticator, session, policy, breaker, sleep=waits, draw=lambda: 1.0)
    return caller, breaker


def request(n: int = 0) -> CallRequest:
    return CallRequest("6f1c2a8e-0000-4000-8000-0000000000aa", "open", {"n": n}, f"idem-{n}", f"req-{n}")


async def test_fifty_concurrent_calls_cause_one_token_request(
    api: StubProvider, issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    issuer.delay = 0.05
    provider, _breaker = caller(api, issuer, session, Waits())
    results = await asyncio.gather(*(provider.call(request(n)) for n in range(50)))
    assert all(r.ok for r in results)
    assert issuer.grants() == ["client_credentials"] and len(api.calls("/accounts")) == 50
    assert issuer.refused == []


async def test_a_401_forces_one_renewal_and_one_retry_not_counted_as_an_attempt(
    api: StubProvider, issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    waits = Waits()
    provider, breaker = caller(api, issuer, session, waits)
    assert (await provider.call(request(1))).ok
    issuer.revoke_access_tokens()  # the provider now refuses the kept token, though it has not expired
    result = await provider.call(request(2))
    # Two requests were sent (``attempts`` counts requests); the retry policy used none of its attempts:
    # there was no wait.
    assert result.ok and result.attempts == 2, result.error
    assert waits.seconds == []
    assert issuer.issued() == 2 and len(issuer.refused) == 1
    sent = api.calls("/accounts")
    assert len(sent) == 3 and sent[1].headers["Authorization"] != sent[2].headers["Authorization"]
    assert sent[1].headers["Idempotency-Key"] == sent[2].headers["Idempotency-Key"] == "idem-2"
    assert waits.seconds == []  # the forced retry waits for nothing
    assert breaker.snapshot()["consecutiveFailures"] == 0


async def test_a_second_401_fails_the_call_without_a_loop(
    api: StubProvider, issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    api.route("POST", "/accounts", (401, {"error": "invalid_token"}))
    provider, breaker = caller(api, issuer, session, Waits())
    result = await provider.call(request())
    assert (result.ok, result.code) == (False, PROVIDER_FAILED)
    assert "HTTP 401" in (result.error or "")
    assert len(api.calls("/accounts")) == 2 and issuer.issued() == 2
    assert breaker.snapshot()["consecutiveFailures"] == 0  # a 4xx says the provider is up


async def test_only_refresh_on_statuses_force_a_renewal(
    api: StubProvider, issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    api.route("POST", "/accounts", [(403, {"error": "insufficient_scope"}), (200, {"ok": True})])
    provider, _ = caller(api, issuer, session, Waits(), refresh_on=[403])
    assert (await provider.call(request())).ok and issuer.issued() == 2
    api.route("POST", "/accounts", (401, {"error": "invalid_token"}))
    failed = await provider.call(request(2))
    assert not failed.ok and issuer.issued() == 2 and len(api.calls("/accounts")) == 3


async def test_a_failing_token_endpoint_is_retried_with_the_policy_and_spares_the_breaker(
    api: StubProvider, issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    issuer.fail_next(503, {"error": "temporarily_unavailable"}, times=3)
    waits = Waits()
    provider, breaker = caller(api, issuer, session, waits)
    result = await provider.call(request())
    assert result.ok, result.error
    assert waits.seconds == [1.0, 2.0, 4.0]
    assert len(issuer.token_requests) == 4 and len(api.calls("/accounts")) == 1
    assert breaker.snapshot()["consecutiveFailures"] == 0


async def test_a_token_endpoint_failing_on_every_attempt_fails_with_nothing_sent(
    api: StubProvider, issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    issuer.fail_next(500, None, times=10)
    provider, breaker = caller(api, issuer, session, Waits())
    result = await provider.call(request())
    assert (result.ok, result.code, result.attempts, result.may_have_reached) == (
        False, TOKEN_ENDPOINT_FAILED, 0, False
    )  # fmt: skip
    assert "'accounts-api'" in (result.error or "") and "HTTP 500" in (result.error or "")
    assert len(issuer.token_requests) == 5 and api.requests == []
    assert breaker.snapshot()["state"] == "closed"


async def test_a_refused_secret_fails_at_once_with_the_issuers_code_and_not_the_secret(
    api: StubProvider, issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    issuer.add_client("flowker", "rotated-" + SECRET)  # the issuer no longer accepts the configured secret
    waits = Waits()
    provider, _ = caller(api, issuer, session, waits)
    result = await provider.call(request())
    assert (result.ok, result.code, result.attempts, result.may_have_reached) == (
        False, TOKEN_REFUSED, 0, False
    )  # fmt: skip
    assert "invalid_client" in (result.error or "") and SECRET not in (result.error or "")
    assert waits.seconds == [] and len(issuer.token_requests) == 1 and api.requests == []


async def test_a_token_failure_after_the_provider_was_reached_says_it_may_have_been(
    api: StubProvider, issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    api.route("POST", "/accounts", (503, {"error": "busy"}))
    provider, _ = caller(api, issuer, session, Waits(), cache={"enabled": False})
    issuer.fail_next(200, {"access_token": "first"})  # a usable token, then a refusal
    issuer.add_client("flowker", "rotated-" + SECRET)
    result = await provider.call(request())
    assert (result.code, result.may_have_reached, result.attempts) == (TOKEN_REFUSED, True, 1)


async def test_calls_refused_together_with_the_same_stale_token_cause_one_renewal(
    api: StubProvider, issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    provider, _ = caller(api, issuer, session, Waits())
    assert (await provider.call(request())).ok
    issuer.revoke_access_tokens()
    issuer.delay = 0.05  # the renewal is still on its way when the other refusals arrive
    results = await asyncio.gather(*(provider.call(request(n)) for n in range(1, 21)))
    assert all(r.ok for r in results)
    assert issuer.issued() == 2 and len(issuer.refused) == 20 and len(api.calls("/accounts")) == 41


async def test_an_open_breaker_fails_fast_without_asking_the_issuer_for_a_token(
    api: StubProvider, issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    provider, breaker = caller(api, issuer, session, Waits(), cache={"enabled": False})
    for _ in range(3):  # the threshold of caller()'s breaker
        permit = breaker.try_acquire()
        assert permit is not None
        breaker.record_outcome(permit, Outcome.FAILURE)
    result = await provider.call(request())
    assert (result.ok, result.code, result.may_have_reached) == (False, BREAKER_OPEN, False)
    assert issuer.token_requests == [] and api.requests == []
