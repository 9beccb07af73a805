"""The configuration core of executor actors, without Ray: each store adapter, a clock the test moves."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

from flowker.actors.caller import CallResult, ProviderCaller
from flowker.actors.caller_source import CallerSource
from flowker.actors.provider_auth import ApiKeyAuth, Authenticator
from flowker.codes import (
    EXECUTOR_CONFIG_DISABLED,
    EXECUTOR_CONFIG_NOT_FOUND,
    INVALID_AUTHENTICATION_FIELD,
    UNREADABLE_SECRET,
)
from flowker.domain.authentication import seal_authentication
from flowker.domain.executor_config import ExecutorConfig, ExecutorStatus
from flowker.secretbox import SecretBox
from flowker.store.ports import Store
from tests.fakes.clock import FakeClock


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every test of this module runs once per store adapter (embedded, memory)."""
    return any_store


BOX = SecretBox(os.urandom(32))
TTL = 1.0


class Built:
    """Records every caller the source builds (a stand-in for a real session, policy and breaker)."""

    def __init__(self) -> None:
        self.configs: list[ExecutorConfig] = []
        self.authenticators: list[Authenticator] = []

    def __call__(self, config: ExecutorConfig, authenticator: Authenticator) -> ProviderCaller:
        self.configs.append(config)
        self.authenticators.append(authenticator)
        return ProviderCaller(config, authenticator, None, None, None)  # type: ignore[arg-type]


async def stored(store: Store, authentication: dict[str, Any], box: SecretBox = BOX) -> ExecutorConfig:
    config = ExecutorConfig(
        id=str(uuid.uuid4()),
        name=f"kyc-{uuid.uuid4().hex[:6]}",
        baseUrl="https://kyc.example.com/v1",
        endpoints=[{"name": "validate", "path": "/validate", "method": "POST", "timeout": 30}],
        authentication=seal_authentication(authentication, box),
        status=ExecutorStatus.ACTIVE,
        createdAt="2026-12-01T00:00:00.000000Z",
        updatedAt="2026-12-01T00:00:00.000000Z",
    )
    return await store.executor_configs.create(config)


API_KEY_AUTH = {"type": "api_key", "config": {"key": "provider-secret-1", "header_name": "X-API-Key"}}


def source(store: Store, config_id: str, built: Built, clock: FakeClock) -> CallerSource:
    return CallerSource(config_id, store.executor_configs, BOX, built, ttl=TTL, now=clock)


async def test_the_secret_is_opened_and_the_caller_reused_until_the_revision_changes(
    store: Store,
) -> None:
    config, built, clock = await stored(store, API_KEY_AUTH), Built(), FakeClock()
    callers = source(store, config.id, built, clock)
    first = await callers.resolve()
    assert isinstance(first, ProviderCaller) and callers.current is first
    authenticator = built.authenticators[0]
    assert isinstance(authenticator, ApiKeyAuth) and authenticator.key == "provider-secret-1"
    clock.now += 10
    assert await callers.resolve() is first  # re-read, same revision: same caller
    await store.executor_configs.replace(config.model_copy(update={"description": "patched"}))
    assert await callers.resolve() is first  # within the TTL the copy is not re-read
    clock.now += TTL + 0.1
    second = await callers.resolve()
    assert second is not first and built.configs[-1].description == "patched"


async def test_a_disabled_or_deleted_configuration_is_refused_with_nothing_sent(store: Store) -> None:
    config, clock = await stored(store, API_KEY_AUTH), FakeClock()
    callers = source(store, config.id, Built(), clock)
    assert isinstance(await callers.resolve(), ProviderCaller)
    disabled = await store.executor_configs.replace(
        config.model_copy(update={"status": ExecutorStatus.DISABLED})
    )
    clock.now += TTL + 0.1
    refused = await callers.resolve()
    assert (
        isinstance(refused, CallResult)
        and refused.code == EXECUTOR_CONFIG_DISABLED
        and not refused.may_have_reached
    )
    await store.executor_configs.delete(disabled)
    clock.now += TTL + 0.1
    gone = await callers.resolve()
    assert (
        isinstance(gone, CallResult) and gone.code == EXECUTOR_CONFIG_NOT_FOUND and not gone.may_have_reached
    )


async def test_a_secret_sealed_with_another_key_is_refused_without_its_value(store: Store) -> None:
    config = await stored(store, API_KEY_AUTH, box=SecretBox(os.urandom(32)))
    refused = await source(store, config.id, Built(), FakeClock()).resolve()
    assert isinstance(refused, CallResult) and refused.code == UNREADABLE_SECRET
    assert "provider-secret-1" not in (refused.error or "")


async def test_an_oidc_type_without_a_session_is_refused_with_nothing_built(store: Store) -> None:
    oidc = {
        "type": "oidc_client_credentials",
        "config": {"issuer_url": "https://id.example.com", "client_id": "c", "client_secret": "s3cr3t-value"},
    }
    config = await stored(store, oidc)
    built = Built()
    refused = await source(store, config.id, built, FakeClock()).resolve()
    assert isinstance(refused, CallResult) and refused.code == INVALID_AUTHENTICATION_FIELD
    assert "needs an HTTP session" in (refused.error or "") and "s3cr3t-value" not in (refused.error or "")
    assert built.configs == []


async def test_the_authenticator_outlives_revisions_that_leave_the_credentials_alone(store: Store) -> None:
    """A token is kept while the clear authentication block and the base URL stay; a new secret or
    base URL drops it. forget() makes the next call read the configuration at once."""
    config, built, clock = await stored(store, API_KEY_AUTH), Built(), FakeClock()
    callers = source(store, config.id, built, clock)
    assert isinstance(await callers.resolve(), ProviderCaller)
    first = built.authenticators[0]
    tested = await store.executor_configs.replace(
        config.model_copy(update={"lastTestedAt": config.createdAt})
    )
    callers.forget()  # no clock move: without forget() the change would wait for the TTL
    assert isinstance(await callers.resolve(), ProviderCaller)
    assert len(built.configs) == 2 and built.authenticators[1] is first
    new_secret = {"type": "api_key", "config": {"key": "provider-secret-2", "header_name": "X-API-Key"}}
    rotated = await store.executor_configs.replace(
        tested.model_copy(update={"authentication": seal_authentication(new_secret, BOX)})
    )
    callers.forget()
    await callers.resolve()
    assert built.authenticators[2] is not first
    assert (
        isinstance(built.authenticators[2], ApiKeyAuth) and built.authenticators[2].key == "provider-secret-2"
    )
    await store.executor_configs.replace(rotated.model_copy(update={"baseUrl": "https://kyc2.example.com"}))
    callers.forget()
    await callers.resolve()
    assert built.authenticators[3] is not built.authenticators[2]
