"""Telling ``Prefer: wait`` of the ends without Ray: a supervisor's bounded feed of endings and the front
door's waiters, which one poller per feed resolves."""

from __future__ import annotations

import asyncio

from flowker.actors.end_waiters import EndWaiters
from flowker.actors.ended_feed import EndedAnswer, EndedFeed


def test_a_reader_gets_the_endings_after_its_cursor_in_order() -> None:
    feed = EndedFeed(size=10)
    first = feed.since(None, None)
    assert first.gap and first.last == 0  # no cursor yet: the reader learns where the feed is
    feed.add("a", "completed")
    feed.add("b", "failed")
    answer = feed.since(first.cursor, first.incarnation)
    assert not answer.gap
    assert [(e.seq, e.execution_id, e.status) for e in answer.endings] == [
        (1, "a", "completed"),
        (2, "b", "failed"),
    ]
    assert feed.since(answer.cursor, answer.incarnation).endings == []
    assert [e.execution_id for e in feed.since(1, feed.incarnation).endings] == ["b"]


def test_a_cursor_out_of_the_window_or_of_another_incarnation_is_a_gap() -> None:
    feed = EndedFeed(size=3)
    for i in range(5):
        feed.add(f"e{i}", "completed")
    assert feed.since(1, feed.incarnation).gap  # e1 (seq 2) fell out: the window holds seq 3..5
    assert [e.seq for e in feed.since(2, feed.incarnation).endings] == [3, 4, 5]
    restarted = EndedFeed(size=3)
    assert restarted.since(2, feed.incarnation).gap
    assert feed.since(9, feed.incarnation).gap  # ahead of the feed: not this feed's cursor


async def test_a_long_poll_answers_when_an_execution_ends_and_empty_when_none_does() -> None:
    feed = EndedFeed()
    polling = asyncio.create_task(feed.wait(0, feed.incarnation, 30))
    await asyncio.sleep(0)
    assert not polling.done()
    feed.add("a", "completed")
    answer = await asyncio.wait_for(polling, 5)  # well before its 30 s
    assert [e.execution_id for e in answer.endings] == ["a"]
    quiet = await feed.wait(answer.cursor, feed.incarnation, 0.01)
    assert quiet.endings == [] and not quiet.gap


class Supervisor:
    """One feed asked as the front door asks a supervisor; counts the asks, can fail them."""

    def __init__(self) -> None:
        self.feed = EndedFeed()
        self.asks = 0
        self.down = False

    async def ask(self, after: int | None, incarnation: str | None) -> EndedAnswer:
        self.asks += 1
        if self.down:
            raise ConnectionError("supervisor gone")
        return await self.feed.wait(after, incarnation, 0.05)


async def test_a_waiter_is_told_of_its_end_by_any_supervisor_and_nothing_stays_behind() -> None:
    supervisors = [Supervisor(), Supervisor()]
    waiters = EndWaiters(lambda: [s.ask for s in supervisors], retry_seconds=0.01)
    waiting = asyncio.create_task(waiters.wait("x", 30))
    await asyncio.sleep(0.01)  # the pollers' first answers (gaps) resolve it: it would read the store
    await asyncio.wait_for(waiting, 5)
    waiting = asyncio.create_task(waiters.wait("x", 30))
    await asyncio.sleep(0.01)
    assert not waiting.done() and waiters.waiting == 1
    supervisors[1].feed.add("other", "completed")
    supervisors[1].feed.add("x", "completed")
    await asyncio.wait_for(waiting, 5)
    assert waiters.waiting == 0
    await asyncio.sleep(0.2)  # nobody waits: the pollers stop after their long poll
    assert waiters.polling == 0
    await waiters.close()


async def test_a_waiter_that_times_out_leaves_nothing_behind() -> None:
    supervisor = Supervisor()
    waiters = EndWaiters(lambda: [supervisor.ask])
    await asyncio.sleep(0)
    first = asyncio.create_task(waiters.wait("x", 30))
    await asyncio.wait_for(first, 5)  # the first gap
    await waiters.wait("x", 0.05)
    assert waiters.waiting == 0
    await asyncio.sleep(0.2)
    assert waiters.polling == 0
    asks = supervisor.asks
    await asyncio.sleep(0.2)
    assert supervisor.asks == asks  # nothing polls for a waiter that left
    await waiters.close()


async def test_a_supervisor_that_does_not_answer_resolves_the_waiters_once() -> None:
    supervisor = Supervisor()
    waiters = EndWaiters(lambda: [supervisor.ask], retry_seconds=0.01)
    await asyncio.wait_for(waiters.wait("x", 30), 5)  # the first gap
    waiting = asyncio.create_task(waiters.wait("x", 30))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    supervisor.down = True
    await asyncio.wait_for(waiting, 5)  # told: the store is worth a look
    again = asyncio.create_task(waiters.wait("x", 30))
    await asyncio.sleep(0.1)
    assert not again.done()  # not told again while it stays down
    supervisor.down = False
    await asyncio.wait_for(again, 5)  # back, with a new cursor: a gap, told once more
    await waiters.close()
