"""Fault injection for crash tests: a process stops at a named point so that a test can kill -9 it there.

Off unless ``RuntimeConfig.pause_points`` names points (never in production), and then only once a test
has armed it by creating ``<data_dir>/pauses/armed``. At a listed point the process writes
``<data_dir>/pauses/<point>`` holding its pid and what it was doing (``key``), then waits forever; the
marker makes every process pass that point freely afterwards, so each point pauses once.

A point listed as ``raise:<point>`` raises :class:`InjectedFault` there instead, once: the bug that a
test needs to show what a run does on an unexpected exception.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Collection
from pathlib import Path

PAUSE_DIR = "pauses"
ARMED = "armed"


class InjectedFault(RuntimeError):
    """The exception a ``raise:<point>`` fault raises."""


class PausePoints:
    def __init__(self, points: Collection[str], data_dir: str) -> None:
        self._points = frozenset(points)
        self._directory = Path(data_dir) / PAUSE_DIR

    async def reach(self, point: str, key: str) -> None:
        """Return at once, unless ``point`` is listed, armed, and has not paused (or raised) before."""
        raises = f"raise:{point}" in self._points
        if not (raises or point in self._points) or not (self._directory / ARMED).exists():
            return
        try:
            fd = os.open(self._directory / point, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        with os.fdopen(fd, "w") as marker:
            marker.write(f"{os.getpid()}\n{key}\n")
        if raises:
            raise InjectedFault(f"fault injected at {point}")
        await asyncio.Event().wait()


NO_PAUSES = PausePoints((), ".")
