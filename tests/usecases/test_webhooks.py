"""The webhook use case over the in-memory store and a runtime that never runs anything, with a clock
the test moves: the derived idempotency key and its window, the explicit key, the route checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from multidict import CIMultiDict

from flowker.domain.audit import AuditEvent
from flowker.dsl.model import WorkflowDefinition
from flowker.errors import ConfigError, Conflict, NotFound, Unauthorized
from flowker.settings import Settings
from flowker.usecases.executions import Executions
from flowker.usecases.webhooks import Delivery, Webhooks, delivery_id, visible_headers
from flowker.usecases.workflows import Workflows
from tests.fakes.memory_store import MemoryStore
from tests.usecases.test_audit_outbox import IdleRuntime

WINDOW = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Recorded(IdleRuntime):
    async def record(self, events: list[AuditEvent]) -> None:
        pass


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def world(clock: Clock) -> dict[str, Any]:
    store = MemoryStore()
    runtime = Recorded()
    workflows = Workflows(store, runtime, clock)
    executions = Executions(store, runtime, 60, clock)
    webhooks = Webhooks(store, executions, WINDOW, clock)
    return {"store": store, "workflows": workflows, "webhooks": webhooks}


async def active_hook(workflows: Workflows, name: str = "hook", **trigger: Any) -> str:
    data = {"triggerId": "webhook", "path": "/e2e/webhook-test", "method": "POST", **trigger}
    definition = WorkflowDefinition.model_validate(
        {
            "name": name,
            "nodes": [
                {"id": "start", "type": "trigger", "data": data},
                {"id": "out", "type": "action", "data": {"actionType": "set_output", "output": {"ok": True}}},
            ],
            "edges": [{"id": "e1", "source": "start", "target": "out"}],
        }
    )
    created = await workflows.create(definition)
    await workflows.transition(created.id, "activate")
    return created.id


def delivery(body: bytes = b'{"document": "12345"}', **overrides: Any) -> Delivery:
    fields: dict[str, Any] = {
        "method": "POST",
        "path": "e2e/webhook-test",
        "body": orjson.loads(body) if body.strip() else {},
        "raw_body": body,
        "headers": {"Content-Type": "application/json", "X-Retry": "1"},
        "query": {},
        "remote_ip": "127.0.0.1",
        **overrides,
    }
    return Delivery(**fields)


async def receive(webhooks: Webhooks, sent: Delivery, token: bytes | None = None) -> Any:
    route = await webhooks.route(sent.method, sent.path, token)
    return (await webhooks.receive(route, sent)).started


async def test_a_retried_delivery_within_the_window_answers_the_first_execution(
    world: dict[str, Any], clock: Clock
) -> None:
    await active_hook(world["workflows"])
    first = await receive(world["webhooks"], delivery())
    assert first.created and first.execution.idempotencyKey.startswith("webhook-")
    # Retried with other headers and from another address: the same delivery.
    clock.advance(WINDOW - 1)
    again = await receive(world["webhooks"], delivery(headers={"X-Retry": "2"}, remote_ip="10.0.0.9"))
    assert not again.created and again.execution.id == first.execution.id
    # Another body is another delivery.
    other = await receive(world["webhooks"], delivery(b'{"document": "54321"}'))
    assert other.created and other.execution.id != first.execution.id


async def test_the_window_is_counted_from_the_first_delivery(world: dict[str, Any], clock: Clock) -> None:
    await active_hook(world["workflows"])
    # Half a window before a window boundary: the retry falls into the next window of the clock.
    clock.now = datetime.fromtimestamp((int(clock.now.timestamp() // WINDOW) + 1) * WINDOW - 10, UTC)
    first = await receive(world["webhooks"], delivery())
    clock.advance(20)
    across = await receive(world["webhooks"], delivery())
    assert across.execution.id == first.execution.id
    clock.advance(WINDOW - 20)  # exactly one window after the first: a new execution
    later = await receive(world["webhooks"], delivery())
    assert later.created and later.execution.id != first.execution.id
    clock.advance(60)
    assert (await receive(world["webhooks"], delivery())).execution.id == later.execution.id


async def test_a_delivery_id_header_tells_two_deliveries_of_one_body_apart(world: dict[str, Any]) -> None:
    await active_hook(world["workflows"])
    one = await receive(world["webhooks"], delivery(delivery_id=("Webhook-Id", "msg_1")))
    two = await receive(world["webhooks"], delivery(delivery_id=("Webhook-Id", "msg_2")))
    again = await receive(world["webhooks"], delivery(delivery_id=("Webhook-Id", "msg_1")))
    assert one.execution.id != two.execution.id
    assert again.execution.id == one.execution.id
    assert delivery_id({"X-GitHub-Delivery": "abc"}) == ("X-GitHub-Delivery", "abc")
    assert delivery_id({"X-Other": "abc"}) is None


async def test_an_explicit_key_is_bound_to_the_body_not_the_metadata(world: dict[str, Any]) -> None:
    await active_hook(world["workflows"])
    first = await receive(world["webhooks"], delivery(idempotency_key="order-42"))
    assert first.execution.idempotencyKey == "order-42"
    again = await receive(world["webhooks"], delivery(idempotency_key="order-42", remote_ip="10.1.1.1"))
    assert again.execution.id == first.execution.id
    with pytest.raises(Conflict) as caught:
        await receive(world["webhooks"], delivery(b'{"document": "other"}', idempotency_key="order-42"))
    assert caught.value.code == "FLK-0505"


async def test_input_is_the_body_plus_webhook_metadata(world: dict[str, Any]) -> None:
    await active_hook(world["workflows"])
    sent = delivery(
        b'{"document": "12345", "_webhook": "forged"}',
        headers={"X-API-Key": "k", "Authorization": "Bearer t", "X-Webhook-Token": "s", "X-Trace": "1"},
        query={"a": "1"},
    )
    started = await receive(world["webhooks"], sent)
    assert started.execution.inputData == {
        "document": "12345",
        "_webhook": {
            "method": "POST",
            "path": "/e2e/webhook-test",
            "headers": {"X-Trace": "1"},
            "query": {"a": "1"},
            "remote_ip": "127.0.0.1",
        },
    }
    empty = await receive(world["webhooks"], delivery(b""))
    assert set(empty.execution.inputData) == {"_webhook"}


async def test_unknown_routes_and_tokens(world: dict[str, Any]) -> None:
    workflow_id = await active_hook(world["workflows"], verify_token="my-secret-token")
    webhooks: Webhooks = world["webhooks"]
    for method, path in (("GET", "e2e/webhook-test"), ("POST", "e2e/other"), ("POST", "E2E/webhook-test")):
        with pytest.raises(NotFound) as missing:
            await webhooks.route(method, path, b"my-secret-token")
        assert missing.value.code == "FLK-0361"
    for token in (None, b"", b"my-secret-tokenX", b"MY-SECRET-TOKEN"):
        with pytest.raises(Unauthorized) as refused:
            await webhooks.route("POST", "e2e/webhook-test", token)
        assert refused.value.code == "FLK-0362"
        assert "my-secret-token" not in refused.value.message
    route = await webhooks.route("post", "/e2e/webhook-test/", b"my-secret-token")
    assert route.workflow_id == workflow_id
    await world["workflows"].transition(workflow_id, "deactivate")
    with pytest.raises(NotFound):
        await webhooks.route("POST", "e2e/webhook-test", b"my-secret-token")


def test_repeated_headers_are_joined_and_credentials_dropped() -> None:
    headers = CIMultiDict([("Accept", "a"), ("Accept", "b"), ("cookie", "c"), ("Proxy-Authorization", "p")])
    assert visible_headers(headers) == {"Accept": "a, b"}


def test_the_dedup_window_setting() -> None:
    assert Settings.from_env({}).webhook_dedup_seconds == 86400.0
    assert Settings.from_env({"FLOWKER_WEBHOOK_DEDUP_SECONDS": "600"}).webhook_dedup_seconds == 600.0
    for bad in ("0", "-5", "abc", str(31 * 86400)):
        with pytest.raises(ConfigError) as caught:
            Settings.from_env({"FLOWKER_WEBHOOK_DEDUP_SECONDS": bad})
        assert "FLOWKER_WEBHOOK_DEDUP_SECONDS" in str(caught.value)
