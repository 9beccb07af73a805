"""A small JSON client for tests: every call returns status, headers and the decoded body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy


@dataclass
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: Any
    text: str

    def error(self, status: int, code: str) -> Reply:
        """Assert an error reply of this status and code; return self for more checks."""
        assert (self.status, self.body.get("code") if isinstance(self.body, dict) else None) == (
            status,
            code,
        ), (
            self.status,
            self.text,
        )
        assert set(self.body) == {"code", "title", "message"}, self.body
        return self


class ApiClient:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def call(self, method: str, path: str, json: Any = None, **kwargs: Any) -> Reply:
        async with self.session.request(method, path, json=json, **kwargs) as response:
            text = await response.text()
            try:
                body = await response.json(content_type=None) if text else None
            except ValueError:
                body = None
            return Reply(response.status, response.headers, body, text)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, json: Any = None, **kwargs: Any) -> Reply:
        return await self.call("POST", path, json, **kwargs)

    async def put(self, path: str, json: Any = None, **kwargs: Any) -> Reply:
        return await self.call("PUT", path, json, **kwargs)

    async def patch(self, path: str, json: Any = None, **kwargs: Any) -> Reply:
        return await self.call("PATCH", path, json, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("DELETE", path, **kwargs)
