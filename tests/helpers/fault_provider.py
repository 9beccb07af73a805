"""A provider on 127.0.0.1 that fails after the request reached it: it resets the connection or never answers.

Each request is read in full first (so it did reach the provider), recorded, and then:

* ``"reset"``: the connection is closed with a TCP RST (``SO_LINGER`` 0), no answer;
* ``"hang"``: nothing is sent until the test ends;
* ``"answer"``: :attr:`FaultProvider.answer` is sent.

:attr:`FaultProvider.script` may list a mode per request instead (the last one repeating).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Arrival:
    """One request as it arrived."""

    method: str
    path: str
    idempotency_key: str | None
    received_at: float


class FaultProvider:
    def __init__(self, mode: str = "reset") -> None:
        self.mode = mode
        self.script: list[str] = []
        self.answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        self.arrivals: list[Arrival] = []
        self.url = ""
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._stop = asyncio.Event()

    async def __aenter__(self) -> FaultProvider:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self._stop.set()
        for writer in list(self._open):
            writer.close()
        await self._server.wait_closed()

    def _next_mode(self) -> str:
        if not self.script:
            return self.mode
        index = min(len(self.arrivals) - 1, len(self.script) - 1)
        return self.script[index]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                fields = {
                    k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
                }
                await reader.readexactly(int(fields.get("content-length", "0") or 0))
                self.arrivals.append(Arrival(method, path, fields.get("idempotency-key"), time.monotonic()))
                mode = self._next_mode()
                if mode == "reset":
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if mode == "hang":
                    await self._stop.wait()
                    return
                writer.write(self.answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._open.discard(writer)
            writer.close()
