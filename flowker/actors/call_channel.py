"""The channel that carries provider calls to an executor actor and their results back, in batches.

A Ray actor call costs about 0.3-0.5 ms of CPU on each side, and a W3 execution makes two provider calls:
one actor call per provider call would cap the cluster near the box's 1.5-2k actor calls/s. So a caller
(a supervisor) keeps one :class:`CallChannel` per executor actor, and pays Ray's cost per batch:

* a call made while the channel waits for nothing goes alone, in one Ray call that returns its result
  (``one``: :meth:`~flowker.actors.executor.ExecutorActor.call`), so a single caller pays what it paid
  before the channel. Calls made while any is outstanding travel in batches:
* ``submit(channel_id, [(ticket, request), ...])`` hands the actor a batch of calls and returns at once
  (the tickets it refused because it is exiting, or none). Calls made while a submit is under way ride
  the next one (as :mod:`~flowker.actors.coalescer`).
* ``results(channel_id)`` is a long poll: while the channel has calls handed to a submit, exactly one is
  outstanding (the first goes out beside the submit, not after it). The actor answers as soon as a
  result of the channel is ready, with every ready one ``[(ticket, result), ...]``, or with none after
  :data:`~flowker.tunables.CHANNEL_POLL_SECONDS`.

The actor keeps the ready results per channel in :class:`ReadyResults`. A channel id is unique per
:class:`CallChannel` (process id and a uuid), so a supervisor that restarts gets a fresh channel, and the
queue of one that died is dropped once it has no call running and has not been polled for
:data:`~flowker.tunables.CHANNEL_EXPIRY_SECONDS` (its runs are adopted and call again with the same
Idempotency-Key).

A Ray call of the channel that fails (the actor died, say) closes it: every call it still waits for
fails with that exception, and :class:`~flowker.actors.executor_handle.ExecutorHandles` decides what to
make of it. Both halves are plain asyncio, with the remote operations injected: tested without Ray.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from flowker.actors.caller import CallRequest, CallResult
from flowker.codes import EXECUTOR_RETIRED
from flowker.tunables import CHANNEL_EXPIRY_SECONDS, CHANNEL_POLL_SECONDS, COALESCE_MAX_ITEMS

Ticket = int
Submit = Callable[[str, list[tuple[Ticket, CallRequest]]], Awaitable[list[Ticket]]]
Poll = Callable[[str], Awaitable[list[tuple[Ticket, CallResult]]]]
One = Callable[[CallRequest], Awaitable[CallResult]]


class ChannelClosed(RuntimeError):
    """A call on a channel that a failure closed (the call was not sent)."""


def retired(executor_config_id: str) -> CallResult:
    """The result of a call that an exiting actor refused: nothing was sent."""
    return CallResult.refused(
        f"the executor actor of configuration {executor_config_id} is exiting; the call was not made",
        EXECUTOR_RETIRED,
    )


def new_channel_id() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex}"


class CallChannel:
    """The caller's end of one channel to one executor actor."""

    def __init__(
        self, submit: Submit, poll: Poll, one: One | None = None, channel_id: str | None = None
    ) -> None:
        self.id = channel_id or new_channel_id()
        self._submit = submit
        self._poll = poll
        self._one = one
        self._lone: set[asyncio.Task[None]] = set()
        self._tickets = itertools.count()
        self._unsent: list[tuple[Ticket, CallRequest]] = []
        # Every call not answered yet, sent or not; the sent ones are those handed to a submit.
        self._waiting: dict[Ticket, asyncio.Future[CallResult]] = {}
        self._sent: set[Ticket] = set()
        self._sender: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    @property
    def closed(self) -> bool:
        """Whether a failed submit or poll closed the channel (calls go to a new one)."""
        return self._failure is not None

    async def call(self, request: CallRequest) -> CallResult:
        """The call's result; raises what the submit or poll that carried it raised."""
        if self._failure is not None:
            raise ChannelClosed(f"channel {self.id} is closed")
        loop = asyncio.get_running_loop()
        ticket = next(self._tickets)
        answer: asyncio.Future[CallResult] = loop.create_future()
        if self._one is not None and not self._waiting:
            # The channel waits for nothing: this call goes alone, in one Ray call that brings its result
            # back (a submit and a poll would cost a single caller two). Calls made meanwhile are batched.
            self._waiting[ticket] = answer
            task = loop.create_task(self._call_one(ticket, request, self._one))
            self._lone.add(task)
            task.add_done_callback(self._lone.discard)
        else:
            self._waiting[ticket] = answer
            self._unsent.append((ticket, request))
            if self._sender is None or self._sender.done():
                self._sender = loop.create_task(self._send_all())
        # A cancelled caller leaves its ticket: the actor still runs the call, and its result is dropped.
        return await answer

    async def _send_all(self) -> None:
        while self._unsent and self._failure is None:
            batch, self._unsent = self._unsent[:COALESCE_MAX_ITEMS], self._unsent[COALESCE_MAX_ITEMS:]
            # Calls whose caller was cancelled before they left are not sent at all.
            batch = [(t, r) for t, r in batch if not self._settled(t)]
            if not batch:
                continue
            self._sent.update(ticket for ticket, _ in batch)
            # The poll goes out with the submit, not after it: a lone call then costs one round trip, as
            # one Ray call per call did. A poll that reaches the actor first waits for the calls there.
            if self._poller is None or self._poller.done():
                self._poller = asyncio.get_running_loop().create_task(self._poll_all())
            try:
                refused = set(await self._submit(self.id, batch))
            except Exception as exc:
                self._close(exc)
                return
            for ticket, request in batch:
                if ticket in refused:
                    self._sent.discard(ticket)
                    self._answer(ticket, retired(request.executor_config_id))

    async def _call_one(self, ticket: Ticket, request: CallRequest, one: One) -> None:
        try:
            result = await one(request)
        except Exception as exc:
            self._close(exc)
            return
        self._answer(ticket, result)

    async def _poll_all(self) -> None:
        while self._sent and self._failure is None:
            try:
                ready = await self._poll(self.id)
            except Exception as exc:
                self._close(exc)
                return
            for ticket, result in ready:
                self._sent.discard(ticket)
                self._answer(ticket, result)

    def _settled(self, ticket: Ticket) -> bool:
        answer = self._waiting.get(ticket)
        if answer is not None and answer.done():
            del self._waiting[ticket]
            return True
        return answer is None

    def _answer(self, ticket: Ticket, result: CallResult) -> None:
        answer = self._waiting.pop(ticket, None)
        if answer is not None and not answer.done():
            answer.set_result(result)

    def _close(self, failure: Exception) -> None:
        """Fail every call still waiting (sent or not) with ``failure``; later calls go to a new channel."""
        self._failure = failure
        waiting, self._waiting = self._waiting, {}
        self._unsent.clear()
        self._sent.clear()
        for answer in waiting.values():
            if not answer.done():
                answer.set_exception(failure)


@dataclass
class _Queue:
    polled: float
    running: int = 0
    ready: list[tuple[Ticket, CallResult]] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class ReadyResults:
    """The actor's end: which calls of each channel run, and the results not yet fetched by a poll."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        poll_seconds: float = CHANNEL_POLL_SECONDS,
        expiry_seconds: float = CHANNEL_EXPIRY_SECONDS,
    ) -> None:
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._expiry_seconds = expiry_seconds
        self._queues: dict[str, _Queue] = {}
        self.submits = 0
        self.polls = 0
        self.calls = 0

    def started(self, channel_id: str, count: int) -> None:
        """A submit of ``count`` calls was taken; they run until :meth:`finished`."""
        queue = self._queue(channel_id)
        queue.running += count
        self.submits += 1
        self.calls += count

    def finished(self, channel_id: str, ticket: Ticket, result: CallResult) -> None:
        """A call ended: its result waits for the channel's next poll."""
        # A channel with a call running is never dropped; an ending call does not count as a poll.
        queue = self._queues[channel_id]
        queue.running -= 1
        queue.ready.append((ticket, result))
        queue.wake.set()

    @property
    def undelivered(self) -> int:
        """Calls taken and not yet handed to a poll (running, or ended with the result waiting)."""
        return sum(q.running + len(q.ready) for q in self._queues.values())

    async def poll(self, channel_id: str) -> list[tuple[Ticket, CallResult]]:
        """The channel's ready results, waiting up to ``poll_seconds`` for one when there is none."""
        self.polls += 1
        queue = self._queue(channel_id)
        if not queue.ready:
            queue.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(queue.wake.wait(), self._poll_seconds)
        ready, queue.ready = queue.ready, []
        queue.polled = self._clock()
        return ready

    def wake_all(self) -> None:
        """End every poll that waits, with what is ready (the actor is exiting)."""
        for queue in self._queues.values():
            queue.wake.set()

    def expire(self) -> int:
        """Drop the channels with no call running that nobody polled for ``expiry_seconds``; how many."""
        stale = self._clock() - self._expiry_seconds
        gone = [cid for cid, q in self._queues.items() if q.running == 0 and q.polled < stale]
        for channel_id in gone:
            del self._queues[channel_id]
        return len(gone)

    def stats(self) -> dict[str, int]:
        """Counts for diagnostics and tests: submits and polls served, calls taken, channels held."""
        return {
            "submits": self.submits,
            "polls": self.polls,
            "calls": self.calls,
            "channels": len(self._queues),
        }

    def _queue(self, channel_id: str) -> _Queue:
        queue = self._queues.get(channel_id)
        if queue is None:
            queue = self._queues[channel_id] = _Queue(polled=self._clock())
        else:
            queue.polled = max(queue.polled, self._clock())
        return queue
