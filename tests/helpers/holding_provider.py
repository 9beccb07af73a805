"""A stub provider route that holds every call until the test releases it: an execution that stays running
for as long as the test needs it to."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from tests.helpers.stub_provider import Reply, StubProvider


class Hold:
    """``provider.route("POST", "/go", hold.reply)``; :meth:`release` lets every held call answer 200."""

    def __init__(self) -> None:
        self._released = asyncio.Event()
        self.arrived = asyncio.Event()

    async def reply(self, payload: Any, request: web.Request) -> Reply:
        self.arrived.set()
        await self._released.wait()
        return 200, {"ok": True}

    def release(self) -> None:
        self._released.set()


def holding(provider: StubProvider, path: str = "/go") -> Hold:
    """Route ``POST path`` of ``provider`` to a new :class:`Hold`."""
    hold = Hold()
    provider.route("POST", path, hold.reply)
    return hold
