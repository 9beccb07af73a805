"""Whatever bytes a client puts in a header, the front door answers 4xx (or 2xx where the header is
optional), never 500, and logs nothing at ERROR.

aiohttp's client will not send header values that are not valid text, so every request here is written
by hand, byte for byte, over a real socket to the real application on 127.0.0.1. Most tests run the
front door over a real store and a runtime that refuses every call: none of these requests may start
anything. One test needs an active workflow, and runs on the session's Ray cluster.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from aiohttp import web

from flowker.bootstrap import build_services
from flowker.domain.signed_note import generate_key
from flowker.http.app import create_app
from flowker.secretbox import SecretBox
from flowker.settings import Settings
from flowker.store.embedded import EmbeddedStore
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient

CONSOLE = "https://console.example"
SOME_ID = "3f2b8a51-6c1d-4e0a-9b7f-2d4c6e8a0b1c"
UNAUTHORIZED = {"code": "UNAUTHORIZED", "title": "Unauthorized", "message": "API Key missing or invalid"}
FLK_CODE = re.compile(r"FLK-[0-9]{4}")
KEY = f"X-API-Key: {API_KEY}".encode()

#: Header values aiohttp's parser accepts, each of which a client may send in any header.
ODD_VALUES = {
    "not-utf8": b"\xff\xfe\x80abc",
    "lone-continuation-byte": b"\x80",
    "latin-1": "café-clé-ñ".encode("latin-1"),
    "overlong-utf8-slash": b"\xc0\xaf",
    "utf8-encoded-surrogate": b"\xed\xa0\x80",
    "truncated-utf8": b"abc\xe2\x82",
    "valid-utf8-not-ascii": "ключ-🔑-日本".encode(),
    "escape-lookalike": b"\\xff\\udcff",
    "tab-and-spaces-inside": b"a\tb  c",
    "8000-bytes-not-utf8": b"\xff" * 8000,
    "8000-bytes-ascii": b"k" * 8000,
}
#: Bytes aiohttp's parser refuses in a header value: it answers 400 itself, before any middleware runs.
REFUSED_VALUES = {
    "nul": b"abc\x00def",
    "nul-only": b"\x00",
    "control-char": b"a\x01b",
    "escape-sequence": b"\x1b[31mred",
    "delete": b"a\x7fb",
    "bare-cr": b"a\rb",
    # Over the parser's line limit (four times Flowker's 8 KiB, which the front door refuses itself: 431).
    "over-the-line-limit": b"k" * 40_000,
}


# ----------------------------------------------------------------------------------------- raw HTTP


@dataclass
class RawReply:
    status: int
    #: Header names lower-cased; values as the bytes on the wire.
    headers: dict[str, bytes]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    def header(self, name: str) -> str | None:
        value = self.headers.get(name.lower())
        return None if value is None else value.decode("ascii")


def raw_request(method: str, path: str, headers: Sequence[bytes] = (), body: bytes | None = None) -> bytes:
    """An HTTP/1.1 request, byte for byte; the server closes the connection after its answer."""
    host = [] if any(h.lower().startswith(b"host:") for h in headers) else [b"Host: 127.0.0.1"]
    lines = [f"{method} {path} HTTP/1.1".encode(), *host, b"Connection: close", *headers]
    if body is not None:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def parse_reply(raw: bytes) -> RawReply:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.split(b"\r\n")
    headers: dict[str, bytes] = {}
    for line in lines:
        # Nothing a client sent may come back in a response header, and aiohttp could not write it.
        assert all(0x20 <= b < 0x7F or b == 0x09 for b in line), line
        name, _, value = line.partition(b":")
        headers[name.decode("ascii").lower()] = value.strip()
    return RawReply(int(status_line.split(b" ")[1]), headers, body)


async def send(port: int, request: bytes) -> RawReply:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
        await writer.wait_closed()
    return parse_reply(raw)


# ---------------------------------------------------------------------------------------- fixtures


class NoRuntime:
    """The runtime of a front door whose requests must start nothing: any call fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a header test reached the runtime ({name})")


@pytest.fixture
async def port(settings: Settings, store: EmbeddedStore) -> AsyncIterator[int]:
    """A front door with a CORS origin configured, over a real store and no runtime; yields its port."""
    configured = Settings(
        data_dir=settings.data_dir, port=0, api_keys=(API_KEY,), cors_allowed_origins=(CONSOLE,)
    )
    services = build_services(
        store,
        SecretBox(os.urandom(32)),
        NoRuntime(),
        execution_timeout_seconds=300,
        verifier_key=generate_key("flowker.test/audit").verifier(),
    )
    runner = web.AppRunner(create_app(configured, services, configured.api_keys))
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


def assert_no_error_logged(caplog: pytest.LogCaptureFixture, what: object) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, (what, [(r.name, r.getMessage(), r.exc_text) for r in errors])


def assert_error_body(reply: RawReply, what: object) -> dict[str, str]:
    """A Flowker error: JSON with exactly code, title and message; the code an FLK one or UNAUTHORIZED."""
    assert (reply.header("Content-Type") or "").startswith("application/json"), (what, reply)
    body = reply.json()
    assert set(body) == {"code", "title", "message"}, (what, body)
    assert all(isinstance(body[k], str) and body[k] for k in body), (what, body)
    assert body["code"] == "UNAUTHORIZED" or FLK_CODE.fullmatch(body["code"]), (what, body)
    return body


def assert_generated_request_id(reply: RawReply) -> None:
    value = reply.header("X-Request-Id")
    assert value is not None and uuid.UUID(value).version == 4, reply.headers


def with_value(template: bytes, value: bytes) -> bytes:
    return template.replace(b"{}", value)


def valid_idempotency_key(value: bytes) -> bool:
    return 0 < len(value) <= 255 and all(0x21 <= b <= 0x7E for b in value)


# -------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("value", list(ODD_VALUES.values()), ids=list(ODD_VALUES))
async def test_odd_api_key_bytes_are_a_wrong_key(
    port: int, caplog: pytest.LogCaptureFixture, value: bytes
) -> None:
    caplog.set_level(logging.INFO)
    for presented in (value, API_KEY.encode() + value, value + API_KEY.encode()):
        reply = await send(port, raw_request("GET", "/v1/workflows", [b"X-API-Key: " + presented]))
        assert (reply.status, reply.json()) == (401, UNAUTHORIZED), presented[:40]
        assert_error_body(reply, presented[:40])
        assert_generated_request_id(reply)
        health = await send(port, raw_request("GET", "/health", [b"X-API-Key: " + presented]))
        assert health.status == 200, presented[:40]
        assert health.json()["status"] == "healthy"
    assert_no_error_logged(caplog, value[:40])


# (header line with {} where the value goes, the /v1 request, what the answer must be)
V1_CASES: dict[str, tuple[bytes, tuple[str, str, bytes | None], int, str | None]] = {
    "x-request-id": (b"X-Request-Id: {}", ("GET", "/v1/workflows", None), 200, None),
    "origin": (b"Origin: {}", ("GET", "/v1/workflows", None), 200, None),
    "configured-origin-plus-bytes": (
        b"Origin: " + CONSOLE.encode() + b"{}",
        ("GET", "/v1/workflows", None),
        200,
        None,
    ),
    "idempotency-key": (
        b"Idempotency-Key: {}",
        ("POST", f"/v1/workflows/{SOME_ID}/executions", b'{"inputData": {}}'),
        400,
        "FLK-0509",
    ),
    "idempotency-key-after-a-valid-prefix": (
        b"Idempotency-Key: key-1{}",
        ("POST", f"/v1/workflows/{SOME_ID}/executions", b'{"inputData": {}}'),
        400,
        "FLK-0509",
    ),
    "content-type": (
        b"Content-Type: application/json; charset={}",
        ("PUT", f"/v1/workflows/{SOME_ID}", b'{"name": "x"}'),
        404,
        "FLK-0100",
    ),
    "content-type-whole": (
        b"Content-Type: {}",
        ("PUT", f"/v1/workflows/{SOME_ID}", b'{"name": "x"}'),
        404,
        "FLK-0100",
    ),
    "content-encoding": (
        b"Content-Encoding: {}",
        ("PUT", f"/v1/workflows/{SOME_ID}", b'{"name": "x"}'),
        404,
        "FLK-0100",
    ),
    "expect": (
        b"Expect: {}",
        ("POST", f"/v1/workflows/{SOME_ID}/executions", b'{"inputData": {}}'),
        400,
        "FLK-0509",
    ),
    "host": (b"Host: {}", ("GET", "/v1/workflows", None), 200, None),
    "forwarded": (b"X-Forwarded-For: {}\r\nForwarded: for={}", ("GET", "/v1/workflows", None), 200, None),
    "authorization": (b"Authorization: Bearer {}", ("GET", "/v1/workflows", None), 200, None),
    "accept-and-user-agent": (b"Accept: {}\r\nUser-Agent: {}", ("GET", "/v1/workflows", None), 200, None),
    "cookie-and-unknown": (b"Cookie: a={}\r\nX-Anything: {}", ("GET", "/v1/workflows", None), 200, None),
}


@pytest.mark.parametrize("case", list(V1_CASES), ids=list(V1_CASES))
async def test_odd_bytes_in_any_header_the_front_door_reads(
    port: int, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    caplog.set_level(logging.INFO)
    template, (method, path, body), expected_status, expected_code = V1_CASES[case]
    for name, value in ODD_VALUES.items():
        header = with_value(template, value)
        if max(map(len, header.split(b"\r\n"))) > 8100:  # within aiohttp's 8190-byte line limit
            header = with_value(template, value[:4000])
        status, code = expected_status, expected_code
        if case.startswith("idempotency-key") and valid_idempotency_key(header.partition(b": ")[2]):
            status, code = 404, "FLK-0100"  # printable ASCII is a good key: the workflow is looked up
        reply = await send(port, raw_request(method, path, [KEY, *header.split(b"\r\n")], body))

        assert reply.status == status, (case, name, reply.status, reply.body[:300])
        if code is not None:
            assert assert_error_body(reply, (case, name))["code"] == code, (case, name, reply.body)
        else:
            assert reply.json() == {"items": [], "nextCursor": "", "hasMore": False}
        assert reply.header("X-Request-Id"), (case, name)
        # Only the configured origin is ever allowed, and it is never followed by the client's bytes.
        assert reply.header("Access-Control-Allow-Origin") in (None, CONSOLE), (case, name)
        if case == "x-request-id":
            assert_generated_request_id(reply)

        health = await send(port, raw_request("GET", "/health", header.split(b"\r\n")))
        assert health.status == 200, (case, name, health.body[:300])
        assert health.json()["status"] == "healthy"
        assert health.header("X-Request-Id"), (case, name)
    assert_no_error_logged(caplog, case)


@pytest.mark.parametrize("path", ["/v1/workflows", "/health"])
async def test_odd_origin_bytes_are_a_refused_preflight(
    port: int, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    caplog.set_level(logging.INFO)
    for name, value in ODD_VALUES.items():
        for origin in (value, CONSOLE.encode() + value):
            headers = [b"Origin: " + origin, b"Access-Control-Request-Method: POST"]
            reply = await send(port, raw_request("OPTIONS", path, headers))

            assert reply.status == 403, (name, reply.status, reply.body[:300])
            body = assert_error_body(reply, name)
            assert body["code"] == "FLK-0401"
            assert body["message"].isascii() and "is not allowed" in body["message"], body
            assert reply.header("Access-Control-Allow-Origin") is None
    # The message shows the bytes as sent, escaped, rather than the surrogates aiohttp decoded them to.
    shown = await send(
        port, raw_request("OPTIONS", path, [b"Origin: a\xffb", b"Access-Control-Request-Method: X"])
    )
    assert shown.json()["message"] == "origin 'a\\xffb' is not allowed"
    assert_no_error_logged(caplog, path)


@pytest.mark.parametrize("path", ["/v1/workflows", "/health"])
async def test_odd_preflight_request_headers_from_the_configured_origin_are_ignored(
    port: int, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    caplog.set_level(logging.INFO)
    for name, value in ODD_VALUES.items():
        headers = [
            b"Origin: " + CONSOLE.encode(),
            b"Access-Control-Request-Method: " + value[:4000],
            b"Access-Control-Request-Headers: x-api-key, " + value[:4000],
        ]
        reply = await send(port, raw_request("OPTIONS", path, headers))
        assert reply.status == 204, (name, reply.status, reply.body[:300])
        assert reply.header("Access-Control-Allow-Origin") == CONSOLE
        assert reply.header("X-Request-Id")
    assert_no_error_logged(caplog, path)


async def test_a_body_that_does_not_decode_as_its_content_encoding_says_is_400(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for encoding in (b"gzip", b"deflate", b"GZIP"):
        request = raw_request(
            "PUT", f"/v1/workflows/{SOME_ID}", [KEY, b"Content-Encoding: " + encoding], b'{"name": "x"}'
        )
        reply = await send(port, request)
        assert reply.status == 400, (encoding, reply.body[:300])
        assert assert_error_body(reply, encoding)["code"] == "FLK-0001"
        assert reply.header("X-Request-Id")
    assert_no_error_logged(caplog, "content-encoding")


@pytest.mark.parametrize("value", list(REFUSED_VALUES.values()), ids=list(REFUSED_VALUES))
@pytest.mark.parametrize("header", [b"X-API-Key", b"Idempotency-Key", b"X-Request-Id", b"Origin", b"Prefer"])
async def test_bytes_the_http_parser_refuses_are_400_and_not_logged_as_errors(
    port: int, caplog: pytest.LogCaptureFixture, header: bytes, value: bytes
) -> None:
    """aiohttp answers these itself, in plain text, before any middleware runs: still a 400, and its
    log line is INFO, without the refused line (which would put an API key in the log)."""
    caplog.set_level(logging.DEBUG)
    secret = API_KEY.encode() + value
    for method, path in (("POST", f"/v1/workflows/{SOME_ID}/executions"), ("GET", "/health")):
        reply = await send(port, raw_request(method, path, [KEY, header + b": " + secret], b"{}"))
        assert reply.status == 400, (method, reply.status, reply.body[:300])
    assert_no_error_logged(caplog, (header, value[:20]))
    refusals = [r for r in caplog.records if "refused a malformed request" in r.getMessage()]
    assert len(refusals) == 2, [r.getMessage() for r in caplog.records]
    assert all(r.levelno == logging.INFO and r.exc_info is None for r in refusals)
    for record in caplog.records:
        assert API_KEY not in record.getMessage() + (record.exc_text or ""), record.getMessage()


async def test_expect_100_continue_still_works(port: int, caplog: pytest.LogCaptureFixture) -> None:
    """Flowker answers ``Expect`` itself (so that odd bytes in it are no error): the interim answer is
    still sent, and the body read after it."""
    caplog.set_level(logging.INFO)
    body = b'{"inputData": {"a": 1}}'
    head = raw_request(
        "POST",
        f"/v1/workflows/{SOME_ID}/executions",
        [KEY, b"Idempotency-Key: expect-1", b"Content-Type: application/json", b"Expect: 100-continue"],
        body,
    )[: -len(body)]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        await writer.drain()
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        writer.write(body)
        await writer.drain()
        final = parse_reply(await asyncio.wait_for(reader.read(), timeout=10))
    finally:
        writer.close()
        await writer.wait_closed()
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert final.status == 404
    assert assert_error_body(final, "expect")["code"] == "FLK-0100"
    assert_no_error_logged(caplog, "expect")


@pytest.mark.xfail(
    strict=True,
    reason="aiohttp answers Expect on a path no route matches with its own handler, before any middleware; "
    "an expectation that is not UTF-8 makes it fail with a 500",
)
async def test_odd_expect_bytes_on_an_unknown_path(port: int) -> None:
    reply = await send(port, raw_request("POST", "/v1/nothing-here", [KEY, b"Expect: \xff"], b"{}"))
    assert reply.status < 500


# ------------------------------------------------------------------------------- Prefer, on Ray


def _set_output_workflow(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [
            {"id": "start", "type": "trigger", "data": {"triggerId": "webhook"}},
            {"id": "done", "type": "action", "data": {"actionType": "set_output", "output": {"ok": True}}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "done"}],
    }


async def test_odd_prefer_bytes_are_ignored_when_an_execution_starts(
    server: str, api: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    created = await api.post("/v1/workflows", _set_output_workflow("prefer bytes"))
    assert created.status == 201, created.text
    workflow_id = created.body["workflowId"]
    assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200
    port = int(server.rsplit(":", 1)[1])
    path = f"/v1/workflows/{workflow_id}/executions"
    odd = {
        **{f"wait={name}": b"wait=" + value[:4000] for name, value in ODD_VALUES.items()},
        "not-utf8-alone": b"\xff\xfe",
        "nan": b"wait=nan",
        "arabic-indic-digit": "wait=٣".encode(),
        "after-a-valid-preference": b"respond-async, wait=1\x80",
    }
    for index, (name, prefer) in enumerate(odd.items()):
        headers = [KEY, b"Idempotency-Key: prefer-%d" % index, b"Prefer: " + prefer]
        reply = await send(port, raw_request("POST", path, headers, b'{"inputData": {}}'))
        assert reply.status == 201, (name, reply.status, reply.body[:300])
        assert reply.json()["executionId"], name
        assert reply.header("Preference-Applied") is None, name
    # The same request with a sane preference is honoured: the header is read, not dropped.
    honoured = await send(
        port, raw_request("POST", path, [KEY, b"Idempotency-Key: prefer-ok", b"Prefer: wait=10"], b"{}")
    )
    assert (honoured.status, honoured.header("Preference-Applied")) == (200, "wait=10"), honoured.body
    assert_no_error_logged(caplog, "prefer")
