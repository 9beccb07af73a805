"""Waiting for something to become true, without fixed sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], until: Callable[[T], bool], within: float = 20.0
) -> T:
    """Call ``probe`` until ``until(result)`` holds; fail with the last result after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {within} s; last result: {result!r}")
        await asyncio.sleep(0.05)
