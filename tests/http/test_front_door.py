"""The front door over real HTTP: API keys, the error shape, body limits, fuzzing, request ids, CORS and
the system routes (``/health``, ``/readyz``, ``/version``, ``/openapi.json``)."""

from __future__ import annotations

import asyncio
import base64
import gzip
import io
import json
import os
import random
import re
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web

from flowker import __version__
from flowker.actors.config import RuntimeConfig
from flowker.actors.runtime import RayRuntime
from flowker.bootstrap import build_services
from flowker.domain.signed_note import generate_key
from flowker.http.app import create_app
from flowker.http.keys import ReadinessCheck, Services
from flowker.secretbox import SecretBox
from flowker.settings import Settings
from flowker.store.embedded import EmbeddedStore
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient, Reply
from tests.helpers.fixtures import kyc_executor

UNAUTHORIZED = {"code": "UNAUTHORIZED", "title": "Unauthorized", "message": "API Key missing or invalid"}
ERROR_KEYS = {"code", "title", "message"}
EMPTY_PAGE = {"items": [], "nextCursor": "", "hasMore": False}
CONSOLE = "https://console.example"
OTHER_ORIGIN = "https://evil.example"
SYSTEM_ROUTES = ("/health", "/readyz", "/health/live", "/health/ready", "/version", "/openapi.json")
JSON_HEADERS = {"Content-Type": "application/json"}
SOME_ID = "3f2b8a51-6c1d-4e0a-9b7f-2d4c6e8a0b1c"


# --------------------------------------------------------------------------------------------- helpers


def v1_routes() -> list[tuple[str, str]]:
    """Every ``(method, path template)`` under ``/v1``, from the router of an app built as conftest does."""
    # Building the router calls nothing: neither the store nor the runtime is ever used here.
    runtime = RayRuntime(
        RuntimeConfig.from_settings(Settings(data_dir=Path("never-opened"))),
        base64.urlsafe_b64encode(bytes(32)).decode(),
    )
    services = build_services(
        EmbeddedStore(Path("never-opened")),
        SecretBox(bytes(32)),
        runtime,
        execution_timeout_seconds=300,
        verifier_key=generate_key("flowker.test/audit").verifier(),
    )
    app = create_app(Settings(api_keys=(API_KEY,)), services, (API_KEY,))
    found = {
        (method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/v1")
        # A route of any method stands for each method it declares.
        for method in (
            route.handler.openapi_operation["methods"] if route.method == "*" else [route.method]  # type: ignore[attr-defined]
        )
    }
    return sorted(found)


V1_ROUTES = v1_routes()


@asynccontextmanager
async def running(
    settings: Settings, services: Services, keys: tuple[str, ...] = (API_KEY,)
) -> AsyncIterator[str]:
    """A front door on 127.0.0.1 (as the ``server`` fixture builds it); yields its base URL."""
    runner = web.AppRunner(create_app(settings, services, keys))
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def client(base_url: str, key: str | None = API_KEY) -> AsyncIterator[ApiClient]:
    headers = {} if key is None else {"X-API-Key": key}
    async with aiohttp.ClientSession(base_url, headers=headers) as session:
        yield ApiClient(session)


def services_over(
    store: EmbeddedStore, runtime: RayRuntime, checks: Mapping[str, ReadinessCheck] | None = None
) -> Services:
    return build_services(
        store,
        SecretBox(os.urandom(32)),
        runtime,
        execution_timeout_seconds=300,
        extra_checks=checks,
        verifier_key=generate_key("flowker.test/audit").verifier(),
    )


def body_for(method: str) -> Any:
    return {"name": "unauthorised write"} if method in ("POST", "PUT", "PATCH") else None


def workflow(name: str = "front door workflow", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [
            {"id": "start", "type": "trigger", "name": "Start", "data": {"triggerId": "webhook"}},
            {
                "id": "done",
                "type": "action",
                "name": "Done",
                "data": {"actionType": "set_output", "output": {"ok": True}},
            },
        ],
        "edges": [{"id": "e1", "source": "start", "target": "done"}],
        **fields,
    }


def assert_error_shape(reply: Reply, what: Any = None) -> None:
    """An error reply: JSON with exactly code, title and message, all strings."""
    assert isinstance(reply.body, dict), (what, reply.status, reply.text[:300])
    assert set(reply.body) == ERROR_KEYS, (what, reply.body)
    assert all(isinstance(reply.body[k], str) and reply.body[k] for k in ERROR_KEYS), (what, reply.body)


def assert_not_server_error(reply: Reply, what: Any) -> None:
    assert reply.status < 500, (what, reply.status, reply.text[:300])
    assert reply.headers.get("X-Request-Id"), (what, dict(reply.headers))
    if reply.status >= 400:
        assert_error_shape(reply, what)


async def post_raw(api: ApiClient, path: str, raw: bytes, method: str = "POST", **headers: str) -> Reply:
    # aiohttp's client warns about large raw bytes; a file-like body is sent the same, with Content-Length
    data: bytes | io.BytesIO = io.BytesIO(raw) if len(raw) > 64 * 1024 else raw
    return await api.call(method, path, data=data, headers={**JSON_HEADERS, **headers})


async def names(api: ApiClient, resource: str) -> list[str]:
    reply = await api.get(f"/v1/{resource}", params={"limit": "100"})
    assert reply.status == 200, reply.text
    return sorted(item["name"] for item in reply.body["items"])


async def create_workflow(api: ApiClient, body: dict[str, Any] | None = None) -> str:
    reply = await api.post("/v1/workflows", body or workflow())
    assert reply.status == 201, reply.text
    return reply.body["workflowId"]


def header_list(value: str | None) -> set[str]:
    return {part.strip().lower() for part in (value or "").split(",") if part.strip()}


# ------------------------------------------------------------------------------------------ API key


def test_route_enumeration_covers_the_known_routes() -> None:
    expected = {
        ("POST", "/v1/workflows"),
        ("GET", "/v1/workflows"),
        ("GET", "/v1/workflows/{id}"),
        ("PUT", "/v1/workflows/{id}"),
        ("DELETE", "/v1/workflows/{id}"),
        ("POST", "/v1/workflows/{id}/clone"),
        ("POST", "/v1/workflows/{id}/activate"),
        ("POST", "/v1/workflows/{id}/deactivate"),
        ("POST", "/v1/workflows/{id}/draft"),
        ("POST", "/v1/executors"),
        ("GET", "/v1/executors"),
        ("GET", "/v1/executors/{id}"),
        ("PATCH", "/v1/executors/{id}"),
        ("DELETE", "/v1/executors/{id}"),
        ("POST", "/v1/executors/{id}/disable"),
        ("POST", "/v1/executors/{id}/enable"),
    }
    assert expected <= set(V1_ROUTES), expected - set(V1_ROUTES)


@pytest.mark.parametrize(("method", "path"), V1_ROUTES, ids=[f"{m} {p}" for m, p in V1_ROUTES])
@pytest.mark.parametrize(
    "key",
    [
        None,
        "",
        "wrong-key-wrong-key-wrong",
        API_KEY + "x",
        API_KEY[:-1],
        API_KEY.upper(),
        f"Bearer {API_KEY}",
    ],
    ids=["missing", "empty", "wrong", "one-extra-char", "one-char-short", "upper-case", "bearer"],
)
async def test_every_v1_route_refuses_a_missing_or_wrong_key(
    api: ApiClient, anon: ApiClient, method: str, path: str, key: str | None
) -> None:
    workflow_id = await create_workflow(api)
    headers = {} if key is None else {"X-API-Key": key}

    concrete = re.sub(r"\{[^}]+\}", workflow_id, path)  # every path parameter, whatever its name

    reply = await anon.call(method, concrete, body_for(method), headers=headers)

    assert reply.status == 401, reply.text
    assert reply.headers.get("X-Request-Id")
    if method != "HEAD":
        assert reply.body == UNAUTHORIZED
    # nothing was changed by the refused request
    shown = await api.get(f"/v1/workflows/{workflow_id}")
    assert (shown.status, shown.body["name"], shown.body["status"]) == (200, "front door workflow", "draft")
    assert await names(api, "workflows") == ["front door workflow"]
    assert await names(api, "executors") == []


async def test_key_header_name_is_case_insensitive(anon: ApiClient) -> None:
    reply = await anon.get("/v1/workflows", headers={"x-api-key": API_KEY})
    assert (reply.status, reply.body) == (200, EMPTY_PAGE)


async def test_key_in_query_string_is_not_accepted(anon: ApiClient) -> None:
    reply = await anon.get("/v1/workflows", params={"X-API-Key": API_KEY, "api_key": API_KEY})
    assert (reply.status, reply.body) == (401, UNAUTHORIZED)


@pytest.mark.parametrize("path", SYSTEM_ROUTES)
@pytest.mark.parametrize("key", [None, "wrong-key-wrong-key-wrong"], ids=["no-key", "wrong-key"])
async def test_system_routes_need_no_key(anon: ApiClient, path: str, key: str | None) -> None:
    reply = await anon.get(path, headers={} if key is None else {"X-API-Key": key})
    assert reply.status == 200, reply.text
    assert reply.headers["Content-Type"].startswith("application/json")
    assert isinstance(reply.body, dict) and reply.body


async def test_two_keys_both_open_the_api_for_rotation(
    settings: Settings, store: EmbeddedStore, runtime: RayRuntime
) -> None:
    keys = ("key-one-xxxxxxxxxxxx", "key-two-yyyyyyyyyyyy")
    async with running(settings, services_over(store, runtime), keys) as base:
        async with client(base, keys[0]) as first:
            created = await first.post("/v1/workflows", workflow("made with key one"))
            assert created.status == 201, created.text
        async with client(base, keys[1]) as second:
            shown = await second.get(f"/v1/workflows/{created.body['workflowId']}")
            assert (shown.status, shown.body["name"]) == (200, "made with key one")
            assert (await second.get("/v1/executors")).status == 200
        for other in (API_KEY, keys[0] + keys[1], "key-three-zzzzzzzzzz", keys[1][:-1]):
            async with client(base, other) as stranger:
                reply = await stranger.get("/v1/workflows")
                assert (reply.status, reply.body) == (401, UNAUTHORIZED), other


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1"),
        ("GET", "/v1/"),
        ("GET", "/v1/nothing-here"),
        ("POST", "/v1/secret-admin/reset"),
        ("GET", f"/v1/workflows/{SOME_ID}/nothing-here"),
        ("PATCH", "/v1/workflows"),
        ("PUT", "/v1/executors"),
    ],
)
async def test_unknown_v1_routes_are_not_revealed_without_a_key(
    anon: ApiClient, api: ApiClient, method: str, path: str
) -> None:
    hidden = await anon.call(method, path)
    assert (hidden.status, hidden.body) == (401, UNAUTHORIZED)
    shown = await api.call(method, path)
    assert shown.status in (404, 405), shown.text
    shown.error(shown.status, "FLK-0400" if shown.status == 404 else "FLK-0401")


# -------------------------------------------------------------------------------------- error shape


@pytest.mark.parametrize(
    "path", ["/v1/nothing-here", f"/v1/workflows/{SOME_ID}/nothing-here", "/v1/executors/x/y/z", "/nothing"]
)
async def test_unknown_route_is_json_404(api: ApiClient, path: str) -> None:
    reply = (await api.get(path)).error(404, "FLK-0400")
    assert reply.body["title"] == "Not Found"
    assert reply.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PATCH", "/v1/workflows", {"GET", "POST"}),
        ("DELETE", "/v1/workflows", {"GET", "POST"}),
        ("PUT", "/v1/executors", {"GET", "POST"}),
        ("PATCH", "/v1/workflows/{id}", {"GET", "PUT", "DELETE"}),
        ("GET", "/v1/workflows/{id}/activate", {"POST"}),
        ("POST", "/health", {"GET"}),
    ],
)
async def test_wrong_method_is_json_405(api: ApiClient, method: str, path: str, allowed: set[str]) -> None:
    workflow_id = await create_workflow(api)
    reply = (await api.call(method, path.format(id=workflow_id))).error(405, "FLK-0401")
    assert reply.body["title"] == "Method Not Allowed"
    assert all(m in reply.body["message"] for m in allowed), reply.body["message"]
    assert await names(api, "workflows") == ["front door workflow"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PATCH", "/v1/workflows", {"GET", "POST"}),
        ("PUT", "/v1/executors", {"GET", "POST"}),
        ("POST", "/health", {"GET"}),
    ],
)
async def test_wrong_method_answers_the_allow_header(
    api: ApiClient, method: str, path: str, allowed: set[str]
) -> None:
    """RFC 9110 15.5.6: a 405 response MUST carry ``Allow`` listing the target's methods."""
    reply = await api.call(method, path)
    assert reply.status == 405
    assert allowed <= {m.upper() for m in header_list(reply.headers.get("Allow"))}, dict(reply.headers)


MALFORMED = {
    "truncated": b'{"name": "x"',
    "single-quotes": b"{'name': 'x'}",
    "trailing-comma": b'{"name": "x",}',
    "nan-literal": b'{"name": "x", "metadata": {"n": NaN}}',
    "infinity-literal": b"Infinity",
    "huge-exponent": b'{"name": "x", "metadata": {"n": 1e400}}',
    "comment": b'{"name": "x" /* hi */}',
    "two-documents": b'{"name": "x"} {"name": "y"}',
    "invalid-utf8": b'{"name": "\xff\xfe broken"}',
    "invalid-utf8-only": b"\xc3\x28\xa0\xa1",
    "latin1-encoded": '{"name": "café"}'.encode("latin-1"),
    "lone-surrogate-escape": b'{"name": "\\ud800"}',
    "array": b'[{"name": "x"}]',
    "empty-array": b"[]",
    "string": b'"front door workflow"',
    "number": b"42",
    "null": b"null",
    "true": b"true",
    "empty": b"",
    "blank": b" \n\t ",
}


@pytest.mark.parametrize("raw", list(MALFORMED.values()), ids=list(MALFORMED))
@pytest.mark.parametrize("target", ["create-workflow", "replace-workflow", "create-executor"])
async def test_malformed_or_non_object_body_is_400_flk_0001(api: ApiClient, raw: bytes, target: str) -> None:
    workflow_id = await create_workflow(api)
    before = (await api.get(f"/v1/workflows/{workflow_id}")).body
    method, path = {
        "create-workflow": ("POST", "/v1/workflows"),
        "replace-workflow": ("PUT", f"/v1/workflows/{workflow_id}"),
        "create-executor": ("POST", "/v1/executors"),
    }[target]

    reply = (await post_raw(api, path, raw, method)).error(400, "FLK-0001")

    assert reply.body["title"] == "Bad Request"
    assert await names(api, "workflows") == ["front door workflow"]
    assert await names(api, "executors") == []
    assert (await api.get(f"/v1/workflows/{workflow_id}")).body == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5}, "name"),
        ({"name": ["x"]}, "name"),
        ({"name": "x", "nodes": "no"}, "nodes"),
        ({"name": "x", "nodes": ["no"]}, "nodes[0]"),
        ({"name": "x", "nodes": [{"id": "t", "type": "trigger", "data": [1]}]}, "nodes[0].data"),
        (
            {"name": "x", "nodes": [{"id": "t", "type": "trigger", "position": {"x": "left"}}]},
            "nodes[0].position.x",
        ),
        ({"name": "x", "edges": {"id": "e1"}}, "edges"),
        ({"name": "x", "edges": [{"id": "e1", "source": 7}]}, "edges[0].source"),
        ({"name": "x", "metadata": ["team"]}, "metadata"),
        ({"name": "x", "description": {"text": "y"}}, "description"),
    ],
)
async def test_workflow_field_of_wrong_type_is_400_naming_the_field(
    api: ApiClient, body: dict[str, Any], field: str
) -> None:
    reply = (await api.post("/v1/workflows", body)).error(400, "FLK-0302")
    assert reply.body["message"].startswith(f"{field}: "), reply.body["message"]
    assert await names(api, "workflows") == []


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [("name", 5, "name"), ("endpoints", "validate", "endpoints"), ("baseUrl", ["x"], "baseUrl")],
)
async def test_executor_field_of_wrong_type_is_400_naming_the_field(
    api: ApiClient, path: str, value: Any, field: str
) -> None:
    reply = (await api.post("/v1/executors", {**kyc_executor(), path: value})).error(400, "FLK-0302")
    assert reply.body["message"].startswith(f"{field}: "), reply.body["message"]
    assert await names(api, "executors") == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/workflows/not-a-uuid"),
        ("PUT", "/v1/workflows/12345"),
        ("DELETE", "/v1/workflows/%00"),
        ("POST", "/v1/workflows/zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz/activate"),
        ("POST", "/v1/workflows/" + "a" * 300 + "/clone"),
        ("GET", "/v1/executors/not-a-uuid"),
        ("PATCH", "/v1/executors/1"),
        ("POST", "/v1/executors/%20/disable"),
    ],
)
async def test_bad_id_is_400_flk_0002(api: ApiClient, method: str, path: str) -> None:
    reply = (await api.call(method, path, body_for(method))).error(400, "FLK-0002")
    assert reply.body["title"] == "Bad Request"
    assert len(reply.body["message"]) < 200, reply.body["message"]


def _oversized(max_bytes: int) -> bytes:
    body = json.dumps(workflow("too big", metadata={"blob": "x" * max_bytes})).encode()
    assert len(body) > max_bytes
    return body


async def _chunks(raw: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(raw), 64 * 1024):
        yield raw[start : start + 64 * 1024]


@pytest.mark.parametrize("transfer", ["content-length", "chunked", "gzip"])
async def test_body_over_the_limit_is_413_and_creates_nothing(
    api: ApiClient, settings: Settings, transfer: str
) -> None:
    raw = _oversized(settings.max_body_bytes)
    if transfer == "content-length":
        reply = await post_raw(api, "/v1/workflows", raw)
    elif transfer == "chunked":
        reply = await api.call("POST", "/v1/workflows", data=_chunks(raw), headers=JSON_HEADERS)
    else:  # small on the wire, over the limit once decompressed
        packed = gzip.compress(raw)
        assert len(packed) < settings.max_body_bytes // 100
        reply = await post_raw(api, "/v1/workflows", packed, **{"Content-Encoding": "gzip"})

    reply.error(413, "FLK-0506")
    assert str(settings.max_body_bytes) in reply.body["message"]
    assert reply.headers.get("X-Request-Id")
    assert await names(api, "workflows") == []
    assert (await api.get("/health")).status == 200


async def test_oversized_body_title_is_the_originals(api: ApiClient, settings: Settings) -> None:
    """Reference 1.2: the original's 413 title is "Payload Too Large"."""
    reply = (await post_raw(api, "/v1/workflows", _oversized(settings.max_body_bytes))).error(413, "FLK-0506")
    assert reply.body["title"] == "Payload Too Large"


async def test_oversized_executor_body_is_413(api: ApiClient, settings: Settings) -> None:
    raw = json.dumps({**kyc_executor(), "metadata": {"blob": "y" * settings.max_body_bytes}}).encode()
    (await post_raw(api, "/v1/executors", raw)).error(413, "FLK-0506")
    assert await names(api, "executors") == []


@pytest.mark.parametrize("margin", [0, 1, 4096], ids=["exactly-the-limit", "one-byte-under", "4k-under"])
async def test_body_at_or_just_under_the_limit_works(api: ApiClient, settings: Settings, margin: int) -> None:
    frame = json.dumps(workflow("big but allowed", metadata={"blob": "", "team": "ops"})).encode()
    filler = settings.max_body_bytes - margin - len(frame)
    raw = json.dumps(workflow("big but allowed", metadata={"blob": "z" * filler, "team": "ops"})).encode()
    assert len(raw) == settings.max_body_bytes - margin

    created = await post_raw(api, "/v1/workflows", raw)

    assert created.status == 201, created.text[:300]
    shown = await api.get(f"/v1/workflows/{created.body['workflowId']}")
    assert shown.status == 200
    assert shown.body["metadata"] == {"blob": "z" * filler, "team": "ops"}


# ------------------------------------------------------------------------------------------- fuzzing

ODD_TEXT = [
    "",
    " ",
    "\u0000",
    "\u0000\u0001\u001f",
    "\u202eevil\u202c",
    "\ufeffbom",
    "\u200b\u200d",
    "👩‍👩‍👧‍👦",
    "\U0001d518\U0001d52b\U0001d526",  # mathematical fraktur letters
    "Ω≈ç√∫",
    "日本語のワークフロー",
    "\u0301\u0301\u0301",
    "a" * 5000,
    "<script>alert(1)</script>",
    "'; DROP TABLE workflows; --",
    "../../etc/passwd",
    "${jndi:ldap://x}",
    "%00%ff",
    "\\",
    '"',
]
ODD_NUMBERS = [0, -0.0, -1, 2**53 + 1, 2**63, -(2**63) - 1, 10**30, 1e308, -1e308, 5e-324, 0.1]


def _value(rng: random.Random, depth: int) -> Any:
    kind = rng.randrange(8 if depth < 5 else 5)
    if kind == 0:
        return rng.choice(ODD_TEXT)
    if kind == 1:
        return rng.choice(ODD_NUMBERS)
    if kind == 2:
        return rng.choice([None, True, False])
    if kind == 3:
        return "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(12)))
    if kind == 4:
        return rng.randrange(-(10**6), 10**6)
    if kind in (5, 6):
        keys = ["name", "nodes", "edges", "metadata", "id", "type", "data", "position", "x", "source"]
        return {rng.choice([*keys, *ODD_TEXT[:8]]): _value(rng, depth + 1) for _ in range(rng.randrange(5))}
    return [_value(rng, depth + 1) for _ in range(rng.randrange(5))]


def _shaped(rng: random.Random) -> dict[str, Any]:
    """An object with the fields of a workflow or an executor, each of a random value."""
    fields = [
        "name",
        "description",
        "nodes",
        "edges",
        "metadata",
        "baseUrl",
        "endpoints",
        "authentication",
        "status",
        "id",
    ]
    body = {field: _value(rng, 1) for field in rng.sample(fields, rng.randrange(1, len(fields)))}
    if rng.random() < 0.5:
        body["name"] = rng.choice(ODD_TEXT[1:]) + str(rng.randrange(10**6))
    return body


def fuzz_bodies() -> list[bytes]:
    rng = random.Random(20261129)
    fixed = [
        b"[" * 10_000 + b"]" * 10_000,
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b'{"name": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        b"NaN",
        b'{"name": NaN}',
        b'{"name": -Infinity}',
        b'{"name": "x", "name": "y", "name": 3}',
        b'{"name": "dup", "nodes": [], "nodes": "no"}',
        b"123456789012345678901234567890123456789012345678901234567890",
        b'{"name": "big", "metadata": {"n": 123456789012345678901234567890123456789}}',
        b'{"name": "x", "metadata": {"n": -1e-400}}',
        b"\xef\xbb\xbf{}",
        '{"name": "utf16"}'.encode("utf-16"),
        b"\x00\x00\x00",
        b'{"name": "\\u0000"}',
        b'{"name": "x", "nodes": [{"id": "\\udfff"}]}',
        b"{" * 100,
        b'"' + b"\\" * 1001 + b'"',
        b'{"": "", "\\u0000": null}',
        bytes(range(256)),
    ]
    randoms: list[bytes] = []
    for index in range(30):
        if index % 3 == 0:
            randoms.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
        elif index % 3 == 1:
            randoms.append(json.dumps(_value(rng, 0)).encode())
        else:
            randoms.append(json.dumps(_shaped(rng), ensure_ascii=rng.random() < 0.5).encode())
    return fixed + randoms


FUZZ_BODIES = fuzz_bodies()


async def test_fuzzed_bodies_never_cause_a_server_error(api: ApiClient) -> None:
    assert len(FUZZ_BODIES) == 50
    workflow_id = await create_workflow(api)
    executor = await api.post("/v1/executors", kyc_executor())
    assert executor.status == 201, executor.text
    targets = [
        ("POST", "/v1/workflows"),
        ("POST", "/v1/executors"),
        ("PUT", f"/v1/workflows/{workflow_id}"),
        ("PATCH", f"/v1/executors/{executor.body['id']}"),
        ("POST", f"/v1/workflows/{workflow_id}/clone"),
    ]
    statuses: set[int] = set()
    for index, raw in enumerate(FUZZ_BODIES):
        for method, path in targets:
            reply = await post_raw(api, path, raw, method)
            assert_not_server_error(reply, (index, method, path, raw[:120]))
            statuses.add(reply.status)
    assert 400 in statuses
    assert (await api.get("/health")).status == 200
    assert (await api.get(f"/v1/workflows/{workflow_id}")).status == 200


def fuzz_queries() -> list[str]:
    rng = random.Random(4021)
    fixed = [
        "limit=-1",
        "limit=0",
        "limit=1e3",
        "limit=101",
        "limit=99999999999999999999999999",
        "limit=0x10",
        "limit=%20 5",
        "limit=",
        "limit=1&limit=2",
        "cursor=%00",
        "cursor=%FF%FE",
        "cursor=" + "A" * 4000,
        "cursor=eyJpZCI6MX0",
        "cursor=W10",
        "cursor=bnVsbA",
        "sortBy=__proto__",
        "sortBy=name;DROP",
        "sortOrder=%00",
        "sortOrder=asc",
        "status=DRAFT",
        "status=%E2%80%AE",
        "%00=%00",
        "&&&===&",
        "a=" + "b" * 6000,
    ]
    params = ["limit", "cursor", "sortBy", "sortOrder", "status", "x"]
    randoms: list[str] = []
    for _ in range(26):
        pairs = []
        for _ in range(rng.randrange(1, 4)):
            value = rng.choice(
                [
                    rng.choice(ODD_TEXT[:12]),
                    str(rng.choice(ODD_NUMBERS)),
                    "".join(chr(rng.randrange(0x21, 0x7F)) for _ in range(rng.randrange(1, 30))),
                ]
            )
            pairs.append(f"{rng.choice(params)}={quote(value, safe='')}")
        randoms.append("&".join(pairs))
    return fixed + randoms


FUZZ_QUERIES = fuzz_queries()


async def test_fuzzed_query_strings_never_cause_a_server_error(api: ApiClient) -> None:
    assert len(FUZZ_QUERIES) == 50
    await create_workflow(api)
    for query in FUZZ_QUERIES:
        for path in ("/v1/workflows", "/v1/executors"):
            reply = await api.get(f"{path}?{query}")
            assert_not_server_error(reply, (path, query[:120]))
            if reply.status == 200:
                assert set(reply.body) == {"items", "nextCursor", "hasMore"}, reply.body


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("limit=-1", "FLK-0309"),
        ("limit=0", "FLK-0309"),
        ("limit=000", "FLK-0309"),
        ("limit=1e3", "FLK-0309"),
        ("limit=ten", "FLK-0309"),
        ("limit=%C2%B2", "FLK-0309"),  # "²": a digit to str.isdigit(), not to int()
        ("limit=%E2%91%A0", "FLK-0309"),  # "①"
        ("cursor=%00", "INVALID_CURSOR"),
        ("cursor=not-base64-at-all!", "INVALID_CURSOR"),
        ("sortBy=nope", "FLK-0304"),
        ("sortOrder=sideways", "FLK-0310"),
        ("status=running", "FLK-0304"),
    ],
)
@pytest.mark.parametrize("path", ["/v1/workflows", "/v1/executors"])
async def test_bad_list_query_is_400_with_its_code(api: ApiClient, path: str, query: str, code: str) -> None:
    reply = (await api.get(f"{path}?{query}")).error(400, code)
    assert reply.body["title"] == "Bad Request"


@pytest.mark.parametrize(
    ("target", "raw"),
    [
        ("workflow", b'{"name": "deep", "metadata": {"m": ' + b"[" * 300 + b"]" * 300 + b"}}"),
        ("workflow", b'{"name": "deep", "metadata": {"m": ' + b"[" * 1000 + b"]" * 1000 + b"}}"),
        (
            "workflow",
            b'{"name": "deep", "nodes": [{"id": "t", "type": "trigger", "data": {"x": '
            + b'{"a": ' * 400
            + b"1"
            + b"}" * 400
            + b"}}]}",
        ),
        ("workflow", b'{"name": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"),
        ("workflow", b"[" * 10_000 + b"]" * 10_000),
        ("executor", b'{"name": "deep", "metadata": {"m": ' + b"[" * 300 + b"]" * 300 + b"}}"),
    ],
    ids=[
        "metadata-300-deep",
        "metadata-1000-deep",
        "node-data-400-deep",
        "name-10k-deep",
        "top-level-10k-deep",
        "executor-metadata-300-deep",
    ],
)
async def test_deeply_nested_json_is_never_a_server_error(api: ApiClient, target: str, raw: bytes) -> None:
    path = "/v1/workflows" if target == "workflow" else "/v1/executors"
    if target == "executor":  # a complete executor configuration with the deep metadata spliced in
        complete = json.dumps({**kyc_executor(), "metadata": {"m": "PLACEHOLDER"}}).encode()
        raw = complete.replace(b'"PLACEHOLDER"', b"[" * 300 + b"]" * 300)

    reply = await post_raw(api, path, raw)

    assert_not_server_error(reply, raw[:80])
    if reply.status == 201:  # accepted: then it must also be readable
        created_id = reply.body.get("workflowId") or reply.body.get("id")
        shown = await api.get(f"{path}/{created_id}")
        assert shown.status == 200, shown.text[:300]
    else:
        assert reply.status == 400, reply.text[:300]


# ------------------------------------------------------------------------------------- X-Request-Id


@pytest.mark.parametrize(
    "incoming",
    ["abc-123", str(uuid.uuid4()), "trace.id:42_A-b", "x" * 128, "0"],
    ids=["plain", "uuid", "punctuation", "128-chars", "one-char"],
)
async def test_sane_request_id_is_echoed(api: ApiClient, incoming: str) -> None:
    reply = await api.get("/v1/workflows", headers={"X-Request-Id": incoming})
    assert reply.status == 200
    assert reply.headers["X-Request-Id"] == incoming


def assert_generated_id(value: str | None) -> None:
    assert value is not None
    assert str(uuid.UUID(value)) == value
    assert uuid.UUID(value).version == 4


async def test_missing_request_id_is_generated_and_unique(api: ApiClient) -> None:
    first = await api.get("/v1/workflows")
    second = await api.get("/v1/workflows")
    assert_generated_id(first.headers.get("X-Request-Id"))
    assert_generated_id(second.headers.get("X-Request-Id"))
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]


@pytest.mark.parametrize(
    "incoming",
    ["x" * 129, "a" * 1000, "has space", "tab\there", "semi;colon", "ünïcödé", "<script>", "a/b", "id=1,2"],
    ids=["129-chars", "1000-chars", "space", "tab", "semicolon", "non-ascii", "markup", "slash", "comma"],
)
async def test_insane_request_id_is_replaced(api: ApiClient, incoming: str) -> None:
    reply = await api.get("/v1/workflows", headers={"X-Request-Id": incoming})
    assert reply.status == 200
    assert reply.headers["X-Request-Id"] != incoming
    assert_generated_id(reply.headers.get("X-Request-Id"))


@pytest.mark.parametrize(
    ("method", "path", "raw", "status"),
    [
        ("GET", "/v1/workflows", None, 401),
        ("GET", "/v1/nothing-here", None, 404),
        ("GET", "/v1/workflows/not-a-uuid", None, 400),
        ("POST", "/v1/workflows", b"{", 400),
        ("PATCH", "/v1/workflows", None, 405),
    ],
)
async def test_request_id_is_on_error_responses(
    server: str, method: str, path: str, raw: bytes | None, status: int
) -> None:
    async with client(server, None if status == 401 else API_KEY) as caller:
        echoed = await caller.call(method, path, data=raw, headers={"X-Request-Id": "err-trace-1"})
        generated = await caller.call(method, path, data=raw)
    assert (echoed.status, echoed.headers.get("X-Request-Id")) == (status, "err-trace-1")
    assert_error_shape(echoed)
    assert generated.status == status
    assert_generated_id(generated.headers.get("X-Request-Id"))


# -------------------------------------------------------------------------------------------- CORS


def preflight_headers(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type, x-api-key, idempotency-key",
    }


@pytest.fixture
async def cors_server(settings: Settings, store: EmbeddedStore, runtime: RayRuntime) -> AsyncIterator[str]:
    configured = Settings(
        data_dir=settings.data_dir, port=0, api_keys=(API_KEY,), cors_allowed_origins=(CONSOLE,)
    )
    async with running(configured, services_over(store, runtime)) as base:
        yield base


async def test_no_cors_origins_by_default(api: ApiClient, anon: ApiClient) -> None:
    reply = await api.get("/v1/workflows", headers={"Origin": CONSOLE})
    assert reply.status == 200
    assert "Access-Control-Allow-Origin" not in reply.headers
    assert "Access-Control-Allow-Credentials" not in reply.headers

    preflight = await anon.call("OPTIONS", "/v1/workflows", headers=preflight_headers(CONSOLE))
    assert preflight.status == 403
    assert_error_shape(preflight)
    assert preflight.body["title"] == "Forbidden"
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Methods" not in preflight.headers


@pytest.mark.parametrize("path", ["/v1/workflows", f"/v1/executors/{SOME_ID}", "/health"])
async def test_preflight_from_configured_origin_needs_no_key(cors_server: str, path: str) -> None:
    async with client(cors_server, key=None) as anon:
        reply = await anon.call("OPTIONS", path, headers=preflight_headers(CONSOLE, "PATCH"))
    assert reply.status == 204, reply.text
    assert reply.text == ""
    assert reply.headers["Access-Control-Allow-Origin"] == CONSOLE
    assert {"get", "post", "put", "patch", "delete"} <= header_list(
        reply.headers.get("Access-Control-Allow-Methods")
    )
    assert {"idempotency-key", "x-api-key", "content-type"} <= header_list(
        reply.headers.get("Access-Control-Allow-Headers")
    )
    assert reply.headers["Access-Control-Max-Age"] == "3600"
    assert "Access-Control-Allow-Credentials" not in reply.headers
    assert "origin" in header_list(reply.headers.get("Vary"))


async def test_configured_origin_can_read_responses_and_401s(cors_server: str) -> None:
    async with client(cors_server) as api:
        ok = await api.get("/v1/workflows", headers={"Origin": CONSOLE})
    async with client(cors_server, key=None) as anon:
        refused = await anon.get("/v1/workflows", headers={"Origin": CONSOLE})
    assert (ok.status, ok.body) == (200, EMPTY_PAGE)
    assert ok.headers["Access-Control-Allow-Origin"] == CONSOLE
    assert "x-request-id" in header_list(ok.headers.get("Access-Control-Expose-Headers"))
    assert "Access-Control-Allow-Credentials" not in ok.headers
    assert (refused.status, refused.body) == (401, UNAUTHORIZED)
    assert refused.headers["Access-Control-Allow-Origin"] == CONSOLE
    assert "Access-Control-Allow-Credentials" not in refused.headers


@pytest.mark.parametrize(
    "origin", [OTHER_ORIGIN, CONSOLE + ".evil.example", "http://console.example", "null"]
)
async def test_other_origins_get_no_cors(cors_server: str, origin: str) -> None:
    async with client(cors_server) as api:
        reply = await api.get("/v1/workflows", headers={"Origin": origin})
        preflight = await api.call("OPTIONS", "/v1/workflows", headers=preflight_headers(origin))
    assert reply.status == 200  # the server answers; the browser withholds it
    assert "Access-Control-Allow-Origin" not in reply.headers
    assert preflight.status == 403
    assert_error_shape(preflight)
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Methods" not in preflight.headers


# ---------------------------------------------------------------------------------- system routes


async def test_readyz_is_healthy_with_the_store_up(anon: ApiClient) -> None:
    reply = await anon.get("/readyz")
    assert reply.status == 200, reply.text
    assert reply.body["status"] == "healthy"
    assert reply.body["checks"]["store"]["status"] == "up"
    assert reply.body["version"] == __version__


async def test_readyz_reports_a_failing_check_down(
    settings: Settings, store: EmbeddedStore, runtime: RayRuntime
) -> None:
    async def failing() -> None:
        raise RuntimeError("ray is gone; password=hunter2-secret")

    async with (
        running(settings, services_over(store, runtime, {"ray": failing})) as base,
        client(base, None) as anon,
    ):
        reply = await anon.get("/readyz")
    assert reply.status == 503, reply.text
    assert reply.body["status"] == "unhealthy"
    assert reply.body["checks"]["ray"]["status"] == "down"
    assert reply.body["checks"]["store"]["status"] == "up"
    assert "hunter2" not in reply.text


async def test_readyz_counts_a_hanging_check_down_within_three_seconds(
    settings: Settings, store: EmbeddedStore, runtime: RayRuntime
) -> None:
    async def hanging() -> None:
        await asyncio.sleep(60)

    async with (
        running(settings, services_over(store, runtime, {"ray": hanging})) as base,
        client(base, None) as anon,
    ):
        started = time.monotonic()
        reply = await anon.get("/readyz")
        elapsed = time.monotonic() - started
    assert reply.status == 503, reply.text
    assert reply.body["checks"]["ray"]["status"] == "down"
    assert reply.body["checks"]["store"]["status"] == "up"
    assert 1.5 <= elapsed < 3.0, elapsed


async def test_readyz_is_503_while_draining(
    settings: Settings, store: EmbeddedStore, runtime: RayRuntime
) -> None:
    services = services_over(store, runtime)
    async with running(settings, services) as base, client(base, None) as anon:
        assert (await anon.get("/readyz")).status == 200
        services.draining = True
        draining = await anon.get("/readyz")
        health = await anon.get("/health")
    assert draining.status == 503, draining.text
    assert draining.body["status"] != "healthy"
    assert health.status == 200  # still alive while draining


async def test_health_live_and_ready_answer_as_health_and_readyz(
    settings: Settings, store: EmbeddedStore, runtime: RayRuntime
) -> None:
    """The aliases older clients call give the same status and body as the probes they stand for."""

    async def failing() -> None:
        raise RuntimeError("down")

    def steady(body: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in body.items() if key not in ("uptime", "timestamp")}

    healthy = services_over(store, runtime)
    async with running(settings, healthy) as base, client(base, None) as anon:
        live, health = await anon.get("/health/live"), await anon.get("/health")
        assert (
            (live.status, steady(live.body))
            == (health.status, steady(health.body))
            == (200, steady(live.body))
        )
        assert set(live.body) == set(health.body)
        ready, readyz = await anon.get("/health/ready"), await anon.get("/readyz")
        assert ready.status == readyz.status == 200
        assert ready.body["status"] == readyz.body["status"] == "healthy"
        assert set(ready.body["checks"]) == set(readyz.body["checks"]) == {"store"}
        healthy.draining = True
        ready, readyz = await anon.get("/health/ready"), await anon.get("/readyz")
        assert (ready.status, ready.body) == (readyz.status, readyz.body) == (503, readyz.body)
    async with (
        running(settings, services_over(store, runtime, {"ray": failing})) as base,
        client(base, None) as anon,
    ):
        ready, readyz = await anon.get("/health/ready"), await anon.get("/readyz")
    assert ready.status == readyz.status == 503
    assert (
        ready.body["checks"]["ray"]
        == readyz.body["checks"]["ray"]
        == {"status": "down", "error": "RuntimeError"}
    )


def parse_time(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_health_reports_version_uptime_and_time(anon: ApiClient) -> None:
    before = datetime.now().astimezone()
    reply = await anon.get("/health")
    assert reply.status == 200
    assert reply.body["status"] == "healthy"
    assert reply.body["version"] == __version__
    assert isinstance(reply.body["uptime"], int | float) and 0 <= reply.body["uptime"] < 60
    assert abs((parse_time(reply.body["timestamp"]) - before).total_seconds()) < 60


async def test_version_reports_version_and_request_date(anon: ApiClient) -> None:
    before = datetime.now().astimezone()
    reply = await anon.get("/version")
    assert reply.status == 200
    assert set(reply.body) == {"version", "requestDate"}
    assert reply.body["version"] == __version__
    assert abs((parse_time(reply.body["requestDate"]) - before).total_seconds()) < 60
