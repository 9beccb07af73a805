"""The executor actor on the real local Ray cluster: it never raises, exits when idle, and a caller
holding its handle survives that — every call made exactly once."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import ray

from flowker.actors import factory
from flowker.actors.caller import CallRequest, CallResult
from flowker.actors.executor_handle import ExecutorHandles
from flowker.actors.runtime import RayRuntime
from flowker.domain.executor_config import ExecutorConfig, ExecutorStatus
from flowker.secretbox import SecretBox
from flowker.settings import Settings
from flowker.store.embedded import EmbeddedStore
from tests.conftest import API_KEY
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider

#: Short enough for a test to watch an actor exit, long enough that calls in a burst keep it alive.
IDLE_SECONDS = 1.0
SECRET = "pay-secret-key-0123456789"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        port=0,
        api_keys=(API_KEY,),
        retry_backoff_seconds=0.01,
        breaker_open_seconds=1.0,
        executor_idle_seconds=IDLE_SECONDS,
    )


@pytest.fixture
async def provider() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        stub.route("POST", "/pay", lambda body, request: (200, {"paid": body}))
        yield stub


async def add_config(store: EmbeddedStore, secret_key: str, base_url: str, **changes: Any) -> ExecutorConfig:
    box = SecretBox.from_text(secret_key)
    config = ExecutorConfig(
        id=str(uuid.uuid4()),
        name=f"pay-{uuid.uuid4().hex[:6]}",
        baseUrl=base_url,
        endpoints=[{"name": "pay", "path": "/pay", "method": "POST", "timeout": 10}],
        authentication={"type": "api_key", "config": {"key": box.seal(SECRET)}},
        createdAt="2026-12-01T00:00:00Z",
        updatedAt="2026-12-01T00:00:00Z",
    )
    return await store.executor_configs.create(config.model_copy(update=changes))


def payment(config_id: str, key: str | None = None, endpoint: str = "pay") -> CallRequest:
    key = key or f"exec-{uuid.uuid4()}:pay"
    return CallRequest(config_id, endpoint, {"key": key}, idempotency_key=key, request_id="r-1")


def live_executors(runtime: RayRuntime) -> list[str]:
    prefix = runtime.config.name("executor:")
    return [
        a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["name"].startswith(prefix)
    ]


async def gone(runtime: RayRuntime, config_id: str) -> None:
    name = factory.executor_name(runtime.config, config_id)
    await eventually(lambda: asyncio.sleep(0, live_executors(runtime)), lambda live: name not in live)


def other_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.mark.parametrize(
    ("changes", "endpoint", "code", "message"),
    [
        ({"status": ExecutorStatus.DISABLED}, "pay", "FLK-0154", "is disabled"),
        ({}, "refund", "FLK-0153", "has no endpoint 'refund' (removed since the workflow was activated?)"),
        (
            {
                "authentication": {
                    "type": "api_key",
                    "config": {"key": SecretBox.from_text(other_key()).seal(SECRET)},
                }
            },
            "pay",
            "FLK-0253",
            "authentication.config.key cannot be opened: it was sealed with another secret key",
        ),
        (
            {"authentication": {"type": "api_key", "config": {"key": "enc:v1:bm90LWEtc2VhbGVkLXZhbHVl"}}},
            "pay",
            "FLK-0253",
            "authentication.config.key cannot be opened",
        ),
        (
            {
                "authentication": {
                    "type": "oidc_client_credentials",
                    "config": {
                        "token_url": "http://127.0.0.1:9/token",
                        "client_id": "c",
                        "client_secret": "s",
                    },
                }
            },
            "pay",
            "FLK-0259",
            "token endpoint http://127.0.0.1:9/token: network error",
        ),
    ],
    ids=["disabled", "endpoint-removed", "secret-of-another-key", "secret-corrupt", "oidc-issuer-down"],
)
async def test_a_call_that_cannot_be_made_is_a_refusal_with_nothing_sent(
    changes: dict[str, Any],
    endpoint: str,
    code: str,
    message: str,
    runtime: RayRuntime,
    store: EmbeddedStore,
    secret_key: str,
    provider: StubProvider,
) -> None:
    config = await add_config(store, secret_key, provider.url, **changes)
    result = await ExecutorHandles(runtime.config).call(payment(config.id, endpoint=endpoint))
    assert isinstance(result, CallResult)
    assert (result.ok, result.code, result.attempts, result.may_have_reached) == (False, code, 0, False)
    assert result.error is not None and message in result.error
    assert SECRET not in result.error
    assert provider.requests == []


async def test_a_deleted_configuration_is_a_refusal(runtime: RayRuntime, provider: StubProvider) -> None:
    missing = str(uuid.uuid4())
    result = await ExecutorHandles(runtime.config).call(payment(missing))
    assert (result.ok, result.code, result.may_have_reached) == (False, "FLK-0250", False)
    assert result.error == f"executor configuration {missing} not found"


async def test_an_idle_executor_actor_exits_and_the_next_call_makes_a_fresh_one(
    runtime: RayRuntime, store: EmbeddedStore, secret_key: str, provider: StubProvider
) -> None:
    config = await add_config(store, secret_key, provider.url)
    handles = ExecutorHandles(runtime.config)
    first = await handles.call(payment(config.id, "exec-1:pay"))
    assert first.ok, first
    first_pid = await handles.handle(config.id).pid.remote()
    assert live_executors(runtime) == [factory.executor_name(runtime.config, config.id)]

    await gone(runtime, config.id)
    # The cached handle now points at an actor that exited: the call goes to a fresh one.
    second = await handles.call(payment(config.id, "exec-2:pay"))
    assert second.ok, second
    assert await handles.handle(config.id).pid.remote() != first_pid
    assert [r.headers["Idempotency-Key"] for r in provider.calls("/pay")] == ["exec-1:pay", "exec-2:pay"]
    assert provider.calls("/pay")[0].headers["X-API-Key"] == SECRET


async def test_calls_racing_the_idle_exit_are_each_made_exactly_once(
    runtime: RayRuntime, store: EmbeddedStore, secret_key: str, provider: StubProvider
) -> None:
    config = await add_config(store, secret_key, provider.url)
    handles = ExecutorHandles(runtime.config)
    keys: list[str] = []
    # Bursts at moments around the idle timeout: before the actor decides to exit, while it exits,
    # and after it is gone.
    for round_number, pause in enumerate([0.9, 1.0, 1.05, 1.1, 1.15, 1.2, 1.3, 1.5, 2.0, 3.0]):
        burst = [f"exec-{round_number}-{i}:pay" for i in range(20)]
        keys += burst
        results = await asyncio.gather(*(handles.call(payment(config.id, key)) for key in burst))
        assert [(r.ok, r.code) for r in results] == [(True, None)] * len(burst), results
        await asyncio.sleep(pause * IDLE_SECONDS)
    sent = [r.headers["Idempotency-Key"] for r in provider.calls("/pay")]
    assert sorted(sent) == sorted(keys)


async def test_a_call_in_flight_when_its_configuration_is_disabled_keeps_its_answer(
    runtime: RayRuntime, store: EmbeddedStore, secret_key: str, provider: StubProvider
) -> None:
    provider.route("POST", "/pay", (200, {"paid": True}), delay=2.0)
    config = await add_config(store, secret_key, provider.url)
    handles = ExecutorHandles(runtime.config)
    in_flight = asyncio.ensure_future(handles.call(payment(config.id, "exec-1:pay")))
    await eventually(lambda: asyncio.sleep(0, provider.calls("/pay")), bool)
    # What disabling does: the store first, then the actor is released.
    await store.executor_configs.replace(config.model_copy(update={"status": ExecutorStatus.DISABLED}))
    await runtime.release_executor(config.id)
    later = await handles.call(payment(config.id, "exec-2:pay"))

    answered = await in_flight
    assert (answered.ok, answered.response and answered.response["body"]) == (True, {"paid": True})
    # The later call was never delivered to the released actor; a fresh one refused it.
    assert (later.ok, later.code, later.may_have_reached) == (False, "FLK-0154", False), later
    assert [r.headers["Idempotency-Key"] for r in provider.calls("/pay")] == ["exec-1:pay"]


async def test_a_call_cut_off_by_a_killed_actor_says_it_may_have_reached_the_provider(
    runtime: RayRuntime, store: EmbeddedStore, secret_key: str, provider: StubProvider
) -> None:
    provider.route("POST", "/pay", (200, {"paid": True}), delay=3.0)
    config = await add_config(store, secret_key, provider.url)
    handles = ExecutorHandles(runtime.config)
    in_flight = asyncio.ensure_future(handles.call(payment(config.id, "exec-1:pay")))
    await eventually(lambda: asyncio.sleep(0, provider.calls("/pay")), bool)
    await store.executor_configs.replace(config.model_copy(update={"status": ExecutorStatus.DISABLED}))
    ray.kill(handles.handle(config.id), no_restart=True)
    result = await in_flight
    assert (result.ok, result.code, result.may_have_reached) == (False, "FLK-0154", True)
    assert result.error is not None and result.error.endswith(
        "an earlier attempt was cut off when its executor actor was stopped, "
        "and may have reached the provider"
    )
    assert len(provider.calls("/pay")) == 1


async def test_release_of_a_configuration_without_an_actor_does_nothing(runtime: RayRuntime) -> None:
    await runtime.release_executor(str(uuid.uuid4()))
    assert live_executors(runtime) == []


async def test_concurrent_calls_travel_in_batches_each_with_its_own_result(
    runtime: RayRuntime, store: EmbeddedStore, secret_key: str, provider: StubProvider
) -> None:
    provider.route("POST", "/pay", lambda body, request: (200, {"paid": body}), delay=0.3)
    config = await add_config(store, secret_key, provider.url)
    handles = ExecutorHandles(runtime.config)
    keys = [f"exec-{i}:pay" for i in range(50)]
    results = await asyncio.gather(*(handles.call(payment(config.id, key)) for key in keys))
    assert [r.response and r.response["body"] for r in results] == [{"paid": {"key": key}} for key in keys]
    stats = await handles.handle(config.id).channel_stats.remote()
    # The first went alone (the channel waited for nothing), the others in batches: one Ray call per
    # batch each way, not one per call.
    assert (stats["singles"], stats["calls"]) == (1, len(keys) - 1), stats
    assert stats["singles"] + stats["submits"] + stats["polls"] < len(keys) / 2, stats
    assert sorted(r.headers["Idempotency-Key"] for r in provider.calls("/pay")) == sorted(keys)
