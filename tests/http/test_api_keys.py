"""API keys: plain and hashed entries, read-only scope, and the slow-down and audit of failed attempts."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from flowker.domain.api_keys import KeyRing, Scope, key_id, parse_api_key, parse_api_keys
from flowker.errors import ConfigError
from flowker.http.app import create_app
from flowker.http.auth_throttle import AuthThrottle
from flowker.http.keys import Services
from flowker.settings import Settings
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient

READER = "reader-key-" + "r" * 16
HASHED = "hashed-key-" + "h" * 16
HASHED_ENTRY = "sha256:" + hashlib.sha256(HASHED.encode()).hexdigest()


def test_entries_name_plain_or_hashed_keys_with_a_scope() -> None:
    plain, reader, hashed, hashed_reader = parse_api_keys(
        [API_KEY, "read:" + READER, HASHED_ENTRY, "read:" + HASHED_ENTRY.upper().replace("SHA256", "sha256")]
    )
    assert (plain.scope, reader.scope, hashed.scope, hashed_reader.scope) == (
        Scope.FULL,
        Scope.READ,
        Scope.FULL,
        Scope.READ,
    )
    ring = KeyRing([plain, reader, hashed])
    assert ring.match(API_KEY.encode()) is plain
    assert ring.match(HASHED.encode()) is hashed
    assert ring.match(READER.encode()) is reader
    assert ring.match(HASHED_ENTRY.encode()) is None  # the digest itself is no key
    assert ring.match(b"") is None and ring.match(API_KEY.encode()[:-1]) is None
    # A key has the same id whether it is configured plain or hashed.
    assert hashed.id == key_id(HASHED) == parse_api_key("full:" + HASHED).id
    assert HASHED not in repr(hashed) and hashed.digest.hex() not in repr(hashed)
    assert reader.allows("GET") and reader.allows("head") and not reader.allows("POST")
    assert plain.allows("DELETE")


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("short-key", "key #1 is shorter than 16 characters"),
        ("read:short-key", "key #1 is shorter than 16 characters"),
        ("sha256:abc", "key #1 is not sha256: and 64 hex digits"),
        ("sha256:" + "g" * 64, "key #1 is not sha256: and 64 hex digits"),
    ],
)
def test_a_bad_entry_is_refused_without_echoing_it(entry: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as caught:
        Settings.from_env({"FLOWKER_API_KEYS": entry})
    assert entry not in str(caught.value)


@pytest.fixture
async def front_door(settings: Settings, services: Services) -> AsyncIterator[str]:
    keys = (API_KEY, "read:" + READER, HASHED_ENTRY)
    throttle = AuthThrottle(free_failures=2, base_delay=0.2, max_delay=0.2, window_seconds=60)
    runner = web.AppRunner(create_app(settings, services, keys, auth_throttle=throttle))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def _as(base: str, key: str | None, method: str, path: str, body: object = None) -> tuple[int, object]:
    headers = {} if key is None else {"X-API-Key": key}
    async with aiohttp.ClientSession(base, headers=headers) as session:
        reply = await ApiClient(session).call(method, path, body)
        return reply.status, reply.body


WORKFLOW = {"name": "scoped", "nodes": [{"id": "t", "type": "trigger", "data": {"triggerType": "api"}}]}


async def test_a_read_only_key_reads_but_every_write_is_refused(front_door: str) -> None:
    status, created = await _as(front_door, HASHED, "POST", "/v1/workflows", WORKFLOW)
    assert status == 201, created
    workflow_id = created["workflowId"]  # type: ignore[index]
    assert (await _as(front_door, READER, "GET", f"/v1/workflows/{workflow_id}"))[0] == 200
    writes = [
        ("POST", "/v1/workflows", WORKFLOW),
        ("PUT", f"/v1/workflows/{workflow_id}", WORKFLOW),
        ("POST", f"/v1/workflows/{workflow_id}/activate", None),
        ("DELETE", f"/v1/workflows/{workflow_id}", None),
        ("POST", "/v1/executors", {}),
    ]
    for method, path, body in writes:
        status, reply = await _as(front_door, READER, method, path, body)
        assert (status, reply["code"]) == (403, "FLK-0401"), (method, path)  # type: ignore[index]
        assert READER not in str(reply)
    status, shown = await _as(front_door, API_KEY, "GET", f"/v1/workflows/{workflow_id}")
    assert (status, shown["status"]) == (200, "draft")  # type: ignore[index]


async def test_repeated_failures_are_slowed_down_and_audited_once_per_window(front_door: str) -> None:
    loop = asyncio.get_running_loop()
    took = []
    for _ in range(4):
        started = loop.time()
        assert (await _as(front_door, "wrong-key-" + "w" * 20, "GET", "/v1/workflows"))[0] == 401
        took.append(loop.time() - started)
    # Two free failures, then each waits the (capped) 0.2 s delay: a lower bound only.
    assert took[2] >= 0.2 and took[3] >= 0.2
    await asyncio.sleep(0.2)  # the audit report is not awaited by the 401
    status, page = await _as(front_door, API_KEY, "GET", "/v1/audit-events?eventType=AUTHENTICATION_FAILED")
    assert status == 200
    events = page["items"]  # type: ignore[index]
    assert len(events) == 1, events
    event = events[0]
    assert (event["action"], event["result"], event["resourceType"]) == ("AUTHENTICATE", "FAILED", "api_key")
    assert event["actor"]["ipAddress"] == "127.0.0.1"
    assert event["metadata"] == {"request.method": "GET", "request.path": "/v1/workflows"}
    assert "wrong-key" not in str(event)


def test_the_throttle_doubles_its_delay_up_to_the_cap_and_forgets_old_windows() -> None:
    throttle = AuthThrottle(
        free_failures=2, base_delay=0.25, max_delay=1.0, window_seconds=60, max_addresses=3
    )
    delays = [throttle.failed("10.0.0.1", now=float(i)) for i in range(7)]
    assert [v.delay for v in delays] == [0, 0, 0.25, 0.5, 1.0, 1.0, 1.0]
    assert [v.first_in_window for v in delays] == [True] + [False] * 6
    fresh = throttle.failed("10.0.0.1", now=61.0)
    assert (fresh.delay, fresh.first_in_window, fresh.failures) == (0, True, 1)
    for address in ("a", "b", "c", "d"):
        throttle.failed(address, now=62.0)
    assert len(throttle) == 3  # the least recently failed address was forgotten
    assert throttle.failed("10.0.0.1", now=63.0).first_in_window
