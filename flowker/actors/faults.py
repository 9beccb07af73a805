"""Fault injection for crash tests: a process stops at a named point so that a test can kill -9 it there.

Off unless ``RuntimeConfig.pause_points`` names points (never in production). At a listed point the
process writes ``<data_dir>/pauses/<point>--<key>`` holding its pid, then waits forever; the marker file
makes it pass the same point freely after it is restarted, so each point pauses once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Collection
from pathlib import Path

PAUSE_DIR = "pauses"


class PausePoints:
    def __init__(self, points: Collection[str], data_dir: str) -> None:
        self._points = frozenset(points)
        self._directory = Path(data_dir) / PAUSE_DIR

    async def reach(self, point: str, key: str) -> None:
        """Return at once, unless ``point`` is listed and has not paused for ``key`` before."""
        if point not in self._points:
            return
        self._directory.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self._directory / f"{point}--{key}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        with os.fdopen(fd, "w") as marker:
            marker.write(str(os.getpid()))
        await asyncio.Event().wait()


NO_PAUSES = PausePoints((), ".")
