"""The feed of executions that ended on one supervisor, which front doors long-poll to answer
``Prefer: wait`` without polling the store.

Each ending gets the next sequence number; the feed keeps the last few thousand (bounded: nothing grows
with executions done). A reader keeps a cursor (the last number it saw and the feed's incarnation, a
random id drawn when the supervisor starts). A cursor that fell out of the window, or that names another
incarnation (the supervisor restarted, its feed is new), is answered with a gap: the reader cannot know
what it missed and its waiters read the store once. Ray-free: the supervisor exposes it as ``ended``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections import deque
from dataclasses import dataclass, field

from flowker.tunables import ENDED_FEED_SIZE


@dataclass(frozen=True)
class Ending:
    """One execution that ended: ``seq`` in its feed, its id and final status."""

    seq: int
    execution_id: str
    status: str


@dataclass(frozen=True)
class EndedAnswer:
    """What the feed answers a reader.

    Attributes:
        incarnation: The feed's: the reader's next cursor names it.
        last: The highest sequence number given so far: the reader's next cursor when ``gap``.
        endings: The endings after the reader's cursor, oldest first.
        gap: The cursor is of another incarnation or fell out of the window: endings may be missing.
    """

    incarnation: str
    last: int
    endings: list[Ending] = field(default_factory=list)
    gap: bool = False

    @property
    def cursor(self) -> int:
        """Where the next read starts."""
        return self.endings[-1].seq if self.endings else self.last


class EndedFeed:
    """The bounded, numbered list of the executions that ended here."""

    def __init__(self, size: int = ENDED_FEED_SIZE, incarnation: str | None = None) -> None:
        self.incarnation = incarnation or uuid.uuid4().hex
        self._endings: deque[Ending] = deque(maxlen=size)
        self._last = 0
        # Replaced on each ending: a reader waits on the one that was current when it found nothing.
        self._arrived = asyncio.Event()

    def add(self, execution_id: str, status: str) -> None:
        """Record that ``execution_id`` ended with ``status`` and wake the readers waiting."""
        self._last += 1
        self._endings.append(Ending(self._last, execution_id, status))
        arrived, self._arrived = self._arrived, asyncio.Event()
        arrived.set()

    def since(self, after: int | None, incarnation: str | None) -> EndedAnswer:
        """The endings after ``after`` at once (perhaps none), or a gap."""
        oldest = self._endings[0].seq if self._endings else self._last + 1
        if after is None or incarnation != self.incarnation or after > self._last or after < oldest - 1:
            return EndedAnswer(self.incarnation, self._last, gap=True)
        skip = after - oldest + 1
        return EndedAnswer(self.incarnation, self._last, list(itertools.islice(self._endings, skip, None)))

    async def wait(self, after: int | None, incarnation: str | None, seconds: float) -> EndedAnswer:
        """As :meth:`since`, but when nothing ended after ``after`` wait up to ``seconds`` for something
        to (a long poll: one call per batch of endings, not one per ending)."""
        answer = self.since(after, incarnation)
        if answer.gap or answer.endings:
            return answer
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), seconds)
        return self.since(after, incarnation)
