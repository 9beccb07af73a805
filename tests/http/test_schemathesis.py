"""The whole API against its own OpenAPI document, fuzzed by schemathesis: a few thousand generated requests
(valid and invalid), with a full key, with a read-only key and with none. No answer may be a 5xx or stray
from the document; no request without a key is served, and no write with a read-only key.

The front door runs in a thread of its own (schemathesis calls it synchronously), over the real embedded
store and the in-process runtime, so generated executions really run. Generation is derandomised: the
same requests every run, so that a failure can be replayed.
"""

from __future__ import annotations

import asyncio
import base64
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from flowker.bootstrap import build_services
from flowker.http.app import create_app
from flowker.http.auth_throttle import AuthThrottle
from flowker.http.openapi import openapi_document
from flowker.secretbox import SecretBox
from flowker.settings import Settings
from flowker.store.embedded import EmbeddedStore
from tests.fakes.runtime import InProcessRuntime

FULL_KEY = "fuzz-full-key-" + base64.urlsafe_b64encode(os.urandom(12)).decode()
READ_KEY = "fuzz-read-key-" + base64.urlsafe_b64encode(os.urandom(12)).decode()
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
READ_METHODS = {"GET", "HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def front_door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A front door on 127.0.0.1 in a thread with its own event loop; yields its base URL."""
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    settings = Settings(
        data_dir=data_dir, port=0, api_keys=(FULL_KEY, "read:" + READ_KEY), retry_backoff_seconds=0.01
    )
    started = threading.Event()
    state: dict[str, Any] = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        state["loop"] = loop

        async def main() -> None:
            store = await EmbeddedStore(data_dir).open()
            box = SecretBox(os.urandom(32))
            runtime = InProcessRuntime(store, box, settings)
            services = build_services(
                store, box, runtime, execution_timeout_seconds=30, verifier_key=runtime.verifier_key
            )
            # Thousands of refused keys from one address: the slow-down would only slow the test.
            quick = AuthThrottle(base_delay=0.0, max_delay=0.0)
            runner = web.AppRunner(create_app(settings, services, settings.api_keys, auth_throttle=quick))
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            state["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}"
            state["stop"] = stop = asyncio.Event()
            started.set()
            await stop.wait()
            await runner.cleanup()
            await runtime.close()
            await store.close()

        loop.run_until_complete(main())
        loop.close()

    thread = threading.Thread(target=serve, name="fuzzed-front-door", daemon=True)
    thread.start()
    assert started.wait(30)
    yield state["url"]
    state["loop"].call_soon_threadsafe(state["stop"].set)
    thread.join(30)


def _fuzz(
    examples: int,
    mode: GenerationMode,
    check: Callable[[Any], None],
    operations: Callable[[Any], bool] = lambda op: True,
) -> tuple[int, list[str]]:
    """Run ``check(case)`` on ``examples`` generated cases of every operation; (requests, failures)."""
    schema = schemathesis.openapi.from_dict(openapi_document())
    sent = 0
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operations(operation):
            sent += _run_operation(operation, examples, mode, check, failures)
    return sent, failures


def _run_operation(
    operation: Any, examples: int, mode: GenerationMode, check: Callable[[Any], None], failures: list[str]
) -> int:
    sent = 0

    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        nonlocal sent
        sent += 1
        try:
            check(case)
        except Exception as exc:  # every failure is collected, then shown together
            failures.append(f"{operation.label}: {str(exc)[:500]}")

    run()
    return sent


def _v1(operation: Any) -> bool:
    return bool(operation.path.startswith("/v1"))


# 60 cases of each of some 50 operations (the catalog and provider configurations made it half as many
# again): more than the default 120 s on a loaded 2-core machine.
@pytest.mark.timeout(600)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_requests_with_a_key_get_answers_true_to_the_document(
    front_door: str, mode: GenerationMode
) -> None:
    examples = 60 if mode is GenerationMode.POSITIVE else 30
    sent, failures = _fuzz(
        examples,
        mode,
        lambda case: case.call_and_validate(
            base_url=front_door, headers={"X-API-Key": FULL_KEY}, checks=CHECKS
        ),
    )
    assert sent >= 20 * examples, sent  # every operation was exercised (there are about 50)
    assert failures == [], "\n".join(failures[:10])


def test_no_generated_request_without_a_valid_key_is_served(front_door: str) -> None:
    def check(case: Any) -> None:
        for headers in ({}, {"X-API-Key": FULL_KEY[:-1]}, {"X-API-Key": "sha256:" + "0" * 64}):
            response = case.call(base_url=front_door, headers=headers)
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "x-api-key"}
            assert response.status_code == 401, (case.method, case.formatted_path, response.status_code)

    sent, failures = _fuzz(8, GenerationMode.POSITIVE, check, _v1)
    assert sent >= 100, sent
    assert failures == [], "\n".join(failures[:10])


def test_a_read_only_key_reads_and_no_generated_write_gets_through(front_door: str) -> None:
    def check(case: Any) -> None:
        headers = {"X-API-Key": READ_KEY}
        if case.method.upper() in READ_METHODS:
            case.call_and_validate(base_url=front_door, headers=headers, checks=CHECKS)
            return
        response = case.call(base_url=front_door, headers=headers)
        assert response.status_code == 403, (case.method, case.formatted_path, response.status_code)
        assert response.json()["code"] == "FLK-0401"

    sent, failures = _fuzz(15, GenerationMode.POSITIVE, check, _v1)
    assert sent >= 300, sent
    assert failures == [], "\n".join(failures[:10])


def test_the_fuzzed_service_kept_its_data_consistent(front_door: str) -> None:
    # After all the above, the trail still verifies: nothing the fuzzing did broke the hash chain.
    listed = requests.get(
        f"{front_door}/v1/audit-events", params={"limit": "1"}, headers={"X-API-Key": FULL_KEY}, timeout=30
    )
    assert listed.status_code == 200
    items = listed.json()["items"]
    if items:
        verified = requests.get(
            f"{front_door}/v1/audit-events/{items[0]['eventId']}/verify",
            headers={"X-API-Key": FULL_KEY},
            timeout=60,
        )
        assert verified.status_code == 200 and verified.json()["isValid"] is True, verified.text
