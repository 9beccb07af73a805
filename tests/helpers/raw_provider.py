"""A provider that sends whatever bytes a test wants, and random answers a provider could send.

aiohttp's own server refuses to send most of them (bytes that are not UTF-8 in headers, bad framing), so
this is a raw asyncio TCP server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any

from flowker.actors import transport


class RawProvider:
    """A raw TCP server on 127.0.0.1 that answers every request with the bytes in :attr:`reply`, or with
    what :attr:`replies` returns when it is set.

    aiohttp's server would refuse to send most of what these tests need a provider to send.
    """

    def __init__(self) -> None:
        self.reply = b"HTTP/1.1 204 No Content\r\n\r\n"
        self.replies: Callable[[], bytes] | None = None
        self.requests = 0
        #: The ``Idempotency-Key`` of every request, in arrival order.
        self.idempotency_keys: list[str] = []
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RawProvider:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            await reader.readexactly(length)
            self.requests += 1
            self.idempotency_keys += [
                line.split(b":", 1)[1].strip().decode()
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"idempotency-key:")
            ]
            writer.write(self.replies() if self.replies else self.reply)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def raw_response(
    status: int, headers: list[tuple[bytes, bytes]], body: bytes, *, framing: str = "length"
) -> bytes:
    """An HTTP/1.1 response: ``framing`` is ``length`` (Content-Length), ``chunked`` or ``close``."""
    lines = [f"HTTP/1.1 {status} X".encode()]
    lines += [name + b": " + value for name, value in headers]
    if framing == "length":
        lines.append(b"Content-Length: " + str(len(body)).encode())
    elif framing == "chunked":
        lines.append(b"Transfer-Encoding: chunked")
        body = (f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def nested(depth: int) -> bytes:
    """JSON arrays and objects nested ``depth`` levels deep around a number (0: just the number)."""
    opening = b"".join(b"[" if level % 2 else b'{"k":' for level in range(depth))
    closing = b"".join(b"]" if level % 2 else b"}" for level in reversed(range(depth)))
    return opening + b"1" + closing


_TOKEN = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_CONTENT_TYPES = [
    "application/json", "application/problem+json", "APPLICATION/JSON", "text/plain", "text/html",
    "application/octet-stream", "application/x-www-form-urlencoded", "",
]  # fmt: skip
_CHARSETS = [
    None, "utf-8", "latin-1", "utf-16", "utf-7", "unicode_escape", "hex", "idna", "punycode", "ascii",
    "no-such-charset", "utf-\x80", "",
]  # fmt: skip
_SCALARS = [
    b"1", b"-0", b"3.14", b"1e400", b"-1e400", b"NaN", b"Infinity", b"true", b"null", b'"ok"',
    b'"\\ud800"', b'"\\udc80 tail"', b'"\\ud83d\\ude00"', b'"\xff\xfe"', b'{"\\ud800": 1}',
    b"123456789012345678901234567890", b"-123456789012345678901234567890", b"18446744073709551616",
]  # fmt: skip


def _header_value(rng: random.Random) -> bytes:
    if rng.random() < 0.1:  # anything but CR and LF; the parser may well refuse it
        return bytes(b for b in rng.randbytes(rng.randint(0, 40)) if b not in b"\r\n")
    pool = [*range(0x20, 0x7F), *range(0x80, 0x100), 0x09]
    return bytes(rng.choice(pool) for _ in range(rng.randint(0, 40)))


def _random_json(rng: random.Random, depth: int) -> Any:
    if depth <= 0 or rng.random() < 0.3:
        return rng.choice(
            [
                rng.randint(-(2**70), 2**70),
                rng.random(),
                "".join(map(chr, rng.choices(range(0x20, 0x2FFF), k=5))),
                None,
                True,
            ]
        )
    if rng.random() < 0.5:
        return [_random_json(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    return {f"k{i}": _random_json(rng, depth - 1) for i in range(rng.randint(0, 3))}


def _body(rng: random.Random) -> tuple[bytes, str]:
    kind = rng.choice(["nested", "scalar", "document", "bytes", "bytes", "huge"])
    if kind == "nested":
        depth = rng.randint(0, 2000) if rng.random() < 0.5 else rng.randint(0, 100)
        return nested(depth).replace(b"1", rng.choice(_SCALARS), 1), f"nested {depth}"
    if kind == "scalar":
        return rng.choice(_SCALARS), "scalar"
    if kind == "document":
        return json.dumps(_random_json(rng, rng.randint(0, 6))).encode(), "document"
    if kind == "huge" and rng.random() < 0.2:
        size = transport.MAX_RESPONSE_BYTES + rng.choice([-1, 0, 1, 1000])
        return b"7" * size, f"{size} bytes"
    return rng.randbytes(rng.choice([0, 1, 10, 1000, 100_000])), "random bytes"


def random_reply(rng: random.Random) -> tuple[bytes, str]:
    """A response a provider could send, and a short description of it."""
    status = rng.choice([200, 200, 201, 204, 299, 302, 400, 404, 429, 500, 503, 600, 999])
    headers = []
    for _ in range(rng.randint(0, 6)):
        name = bytes(rng.choices(_TOKEN, k=rng.randint(1, 20)))
        headers.append((name, _header_value(rng)))
    content_type = rng.choice(_CONTENT_TYPES)
    charset = rng.choice(_CHARSETS)
    if content_type:
        value = content_type + (f"; charset={charset}" if charset is not None else "")
        headers.append((b"Content-Type", value.encode("utf-8", "surrogateescape")))
    body, what = _body(rng)
    framing = rng.choice(["length", "length", "chunked", "close"])
    described = f"HTTP {status}, {content_type or 'no type'}; charset={charset!r}, {what}, {framing}"
    return raw_response(status, headers, body, framing=framing), described
