"""Limits on a request's head, over a raw socket: each refused with its status and FLK code, the value of an
over-long header never echoed."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.conftest import API_KEY


async def _raw(server: str, head: bytes) -> tuple[int, bytes, bytes]:
    host, port = server.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), headers, body


def _request(path: str = "/v1/workflows", *extra: bytes) -> bytes:
    lines = [f"GET {path} HTTP/1.1".encode(), b"Host: test", b"X-API-Key: " + API_KEY.encode(), *extra]
    return b"\r\n".join([*lines, b"Connection: close", b"", b""])


@pytest.mark.parametrize(
    ("extra", "status", "code"),
    [
        ((b"X-Big: " + b"s" * 9000,), 431, "FLK-0316"),
        (tuple(b"X-H%d: v" % i for i in range(101)), 431, "FLK-0316"),
        (tuple(b"X-H%d: " % i + b"v" * 8000 for i in range(5)), 431, "FLK-0316"),
    ],
    ids=["one-long-header", "too-many-headers", "too-much-in-all"],
)
async def test_an_oversized_head_is_refused_with_its_code(
    server: str, extra: tuple[bytes, ...], status: int, code: str
) -> None:
    got, headers, body = await _raw(server, _request("/v1/workflows", *extra))
    assert got == status and b"application/json" in headers
    error = json.loads(body)
    assert error["code"] == code and set(error) == {"code", "title", "message"}
    assert b"sss" not in body and b"vvv" not in body


async def test_a_url_over_the_limit_is_414(server: str) -> None:
    got, _, body = await _raw(server, _request("/v1/workflows?name=" + "n" * 9000))
    assert (got, json.loads(body)["code"]) == (414, "FLK-0317")


async def test_heads_within_the_limits_are_served(server: str) -> None:
    extra = (b"X-Fine: " + b"f" * 8000, *(b"X-H%d: v" % i for i in range(90)))
    got, _, _ = await _raw(server, _request("/v1/workflows", *extra))
    assert got == 200


async def test_a_head_over_the_parsers_own_limit_is_still_a_client_error(server: str) -> None:
    got, _, body = await _raw(server, _request("/v1/workflows", b"X-Huge: " + b"h" * 40_000))
    assert got == 400 and b"h" * 200 not in body
