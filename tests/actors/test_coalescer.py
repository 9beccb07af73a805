"""The coalescer without Ray: what arrives while a send is under way rides the next send, in order."""

from __future__ import annotations

import asyncio

import pytest

from flowker.actors.coalescer import Coalescer
from flowker.tunables import COALESCE_MAX_ITEMS


class Sink:
    """A send that takes ``delay`` seconds and records each batch; it can fail one send."""

    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay
        self.batches: list[list[int]] = []
        self.fail_next: Exception | None = None

    async def __call__(self, items: list[int]) -> None:
        await asyncio.sleep(self.delay)
        failure, self.fail_next = self.fail_next, None
        if failure is not None:
            raise failure
        self.batches.append(items)


async def test_a_lone_item_is_sent_at_once_and_later_ones_ride_together_in_order() -> None:
    sink = Sink()
    coalescer = Coalescer(sink)
    first = asyncio.create_task(coalescer.submit([0]))
    await asyncio.sleep(0)  # the first send is under way
    rest = [asyncio.create_task(coalescer.submit([i])) for i in range(1, 50)]
    await asyncio.gather(first, *rest)
    assert sink.batches[0] == [0]
    assert [item for batch in sink.batches for item in batch] == list(range(50))
    assert len(sink.batches) == 2


async def test_batches_hold_at_most_the_tunable_number_of_items() -> None:
    sink = Sink()
    coalescer = Coalescer(sink)
    blocker = asyncio.create_task(coalescer.submit([-1]))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(coalescer.submit(list(range(i * 100, i * 100 + 100)))) for i in range(25)]
    await asyncio.gather(blocker, *waiting)
    assert all(len(batch) <= COALESCE_MAX_ITEMS for batch in sink.batches)
    assert sum(len(batch) for batch in sink.batches) == 2501


async def test_a_failed_send_fails_its_submitters_only_and_the_next_send_goes_on() -> None:
    sink = Sink()
    coalescer = Coalescer(sink)
    sink.fail_next = ConnectionError("audit actor unreachable")
    with pytest.raises(ConnectionError):
        await coalescer.submit([1])
    await coalescer.submit([2])
    assert sink.batches == [[2]]


async def test_nothing_to_send_sends_nothing() -> None:
    sink = Sink()
    await Coalescer(sink).submit([])
    assert sink.batches == []


async def test_posted_items_are_sent_without_the_poster_waiting_and_ride_together() -> None:
    sink = Sink()
    coalescer = Coalescer(sink)
    coalescer.post([0])  # returns at once: nothing is sent until this task yields
    assert sink.batches == []
    await asyncio.sleep(0)  # the lone item's send is under way
    for i in range(1, 50):
        coalescer.post([i])
    await coalescer.flush(5)
    assert sink.batches == [[0], list(range(1, 50))]


async def test_a_failed_posted_send_is_dropped_and_the_next_goes_on() -> None:
    sink = Sink()
    coalescer = Coalescer(sink)
    sink.fail_next = ConnectionError("supervisor unreachable")
    coalescer.post([1])
    await coalescer.flush(5)
    coalescer.post([2])
    await coalescer.flush(5)
    assert sink.batches == [[2]]


async def test_posts_beyond_the_bound_are_dropped_until_the_queue_drains_and_submits_never_are(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = Sink(delay=0.05)
    coalescer = Coalescer(sink, max_posted=4)
    coalescer.post([0])
    await asyncio.sleep(0)  # [0] is on its way: it no longer counts against the bound
    for i in range(1, 9):
        coalescer.post([i])  # 1-4 fit, 5-8 are dropped (they are safe elsewhere: the outbox)
    await coalescer.submit([100])  # a submit is never dropped
    await coalescer.flush(5)
    assert [item for batch in sink.batches for item in batch] == [0, 1, 2, 3, 4, 100]
    assert sum("dropped" in record.getMessage() for record in caplog.records) == 1  # once per overflow
    coalescer.post([9])  # drained: posts are taken again
    await coalescer.flush(5)
    assert sink.batches[-1] == [9]


async def test_with_a_gap_what_is_posted_after_a_send_waits_for_the_gap_and_rides_one_send() -> None:
    sink = Sink(delay=0)
    coalescer = Coalescer(sink, gap=0.2)
    coalescer.post([0])
    await asyncio.sleep(0.02)  # sent at once (a lone item), the gap under way
    assert sink.batches == [[0]]
    for i in range(1, 4):
        coalescer.post([i])
        await asyncio.sleep(0.02)
    assert sink.batches == [[0]]  # within the gap: nothing more was sent
    await coalescer.flush(5)
    assert sink.batches == [[0], [1, 2, 3]]
