"""A copy of each audit checkpoint sent to a URL (``FLOWKER_AUDIT_CHECKPOINT_URL``): a witness, a
transparency-log monitor, or any store of the operator's that lives outside Flowker's database.

The note is POSTed as ``text/plain`` exactly as signed; a 2xx answer means received. Redirects are not
followed (a copy goes where the operator said or nowhere), and the request is bounded in time so that a
slow receiver delays no later checkpoint for long.
"""

from __future__ import annotations

import aiohttp

from flowker.tunables import AUDIT_CHECKPOINT_POST_TIMEOUT_SECONDS


class SinkRefused(Exception):
    """The receiver answered, but not with 2xx."""


class CheckpointPoster:
    """POSTs notes to one URL over a session of its own, opened on first use."""

    def __init__(self, url: str, timeout_seconds: float = AUDIT_CHECKPOINT_POST_TIMEOUT_SECONDS) -> None:
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, note: str) -> None:
        """Send ``note``; :class:`SinkRefused` or aiohttp's error when it was not received."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        async with self._session.post(
            self.url, data=note.encode(), headers=headers, allow_redirects=False
        ) as answer:
            if not 200 <= answer.status < 300:
                raise SinkRefused(f"HTTP {answer.status}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
