"""The call channel without Ray: both ends (the caller's CallChannel, the actor's ReadyResults) with the
two remote operations played by plain coroutines — batches both ways, one poll at a time, refusals,
failures that close the channel, and expiry of a channel nobody polls."""

from __future__ import annotations

import asyncio

import pytest

from flowker.actors.call_channel import CallChannel, ChannelClosed, ReadyResults, Ticket
from flowker.actors.caller import CallRequest, CallResult
from flowker.codes import EXECUTOR_RETIRED


def request(key: str) -> CallRequest:
    return CallRequest("cfg-1", "pay", {"key": key}, idempotency_key=key, request_id="r-1")


class FakeActor:
    """An executor actor's two channel methods over a real ReadyResults; each call waits for its gate."""

    def __init__(self, poll_seconds: float = 5.0) -> None:
        self.board = ReadyResults(poll_seconds=poll_seconds)
        self.submits: list[list[str]] = []
        self.polls = 0
        self.polling = 0
        self.most_polling = 0
        self.retiring = False
        self.gates: dict[str, asyncio.Event] = {}
        self.fail_submit: Exception | None = None
        self.fail_poll: Exception | None = None
        self.fail_one: Exception | None = None
        self.singles: list[str] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def gate(self, key: str) -> asyncio.Event:
        return self.gates.setdefault(key, asyncio.Event())

    def open_all(self) -> None:
        for key in list(self.gates):
            self.gates[key].set()

    async def submit(self, channel_id: str, calls: list[tuple[Ticket, CallRequest]]) -> list[Ticket]:
        await asyncio.sleep(0.001)  # the hop
        if self.fail_submit is not None:
            raise self.fail_submit
        self.submits.append([r.idempotency_key for _, r in calls])
        if self.retiring:
            return [ticket for ticket, _ in calls]
        self.board.started(channel_id, len(calls))
        for ticket, call in calls:
            task = asyncio.get_running_loop().create_task(self._run(channel_id, ticket, call))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return []

    async def _run(self, channel_id: str, ticket: Ticket, call: CallRequest) -> None:
        await self.gate(call.idempotency_key).wait()
        result = CallResult(ok=True, attempts=1, duration_ms=1, response={"body": call.body})
        self.board.finished(channel_id, ticket, result)

    async def results(self, channel_id: str) -> list[tuple[Ticket, CallResult]]:
        self.polls += 1
        self.polling += 1
        self.most_polling = max(self.most_polling, self.polling)
        try:
            await asyncio.sleep(0.001)
            ready = await self.board.poll(channel_id)
            if self.fail_poll is not None:  # the answer is lost on its way back
                raise self.fail_poll
            return ready
        finally:
            self.polling -= 1

    async def one(self, call: CallRequest) -> CallResult:
        await asyncio.sleep(0.001)
        self.singles.append(call.idempotency_key)
        if self.fail_one is not None:
            raise self.fail_one
        await self.gate(call.idempotency_key).wait()
        return CallResult(ok=True, attempts=1, duration_ms=1, response={"body": call.body})

    def channel(self, alone: bool = False) -> CallChannel:
        return CallChannel(self.submit, self.results, self.one if alone else None)


async def test_a_lone_call_goes_at_once_and_its_result_comes_back() -> None:
    actor = FakeActor()
    actor.gate("k-0").set()
    result = await asyncio.wait_for(actor.channel().call(request("k-0")), 5)
    assert (result.ok, result.response) == (True, {"body": {"key": "k-0"}})
    assert actor.submits == [["k-0"]]
    assert actor.board.undelivered == 0


async def test_calls_made_while_a_submit_is_under_way_ride_the_next_and_results_come_back_together() -> None:
    actor = FakeActor()
    channel = actor.channel()
    first = asyncio.ensure_future(channel.call(request("k-0")))
    await asyncio.sleep(0)  # the first submit is under way
    rest = [asyncio.ensure_future(channel.call(request(f"k-{i}"))) for i in range(1, 50)]
    await asyncio.sleep(0.05)
    assert actor.submits == [["k-0"], [f"k-{i}" for i in range(1, 50)]]
    assert actor.board.undelivered == 50
    actor.open_all()
    results = await asyncio.wait_for(asyncio.gather(first, *rest), 5)
    assert [r.response for r in results] == [{"body": {"key": f"k-{i}"}} for i in range(50)]
    # One poll at a time, and far fewer polls than results: each poll takes every ready one.
    assert actor.most_polling == 1
    assert actor.polls <= 3
    assert actor.board.undelivered == 0


async def test_polls_stop_when_nothing_is_outstanding_and_start_again_with_the_next_call() -> None:
    actor = FakeActor(poll_seconds=0.01)
    channel = actor.channel()
    actor.gate("k-0").set()
    await channel.call(request("k-0"))
    polls = actor.polls
    await asyncio.sleep(0.1)
    assert actor.polls == polls  # no poll while the channel waits for nothing
    slow = asyncio.ensure_future(channel.call(request("k-1")))
    await asyncio.sleep(0.1)  # polls that time out empty are followed by the next
    assert actor.polls > polls + 1 and actor.most_polling == 1
    actor.gate("k-1").set()
    assert (await asyncio.wait_for(slow, 5)).ok


async def test_calls_refused_by_an_exiting_actor_say_so_and_nothing_was_sent() -> None:
    actor = FakeActor(poll_seconds=0.01)
    actor.retiring = True
    results = await asyncio.gather(*(actor.channel().call(request(f"k-{i}")) for i in range(3)))
    assert [(r.ok, r.code, r.may_have_reached) for r in results] == [(False, EXECUTOR_RETIRED, False)] * 3
    await asyncio.sleep(0.05)
    assert actor.polling == 0  # the poll sent beside the submit ended, and no other followed
    polls = actor.polls
    await asyncio.sleep(0.05)
    assert actor.polls == polls


@pytest.mark.parametrize("where", ["submit", "poll"])
async def test_a_failed_submit_or_poll_fails_every_waiting_call_and_closes_the_channel(where: str) -> None:
    actor = FakeActor()
    channel = actor.channel()
    first = asyncio.ensure_future(channel.call(request("k-0")))
    await asyncio.sleep(0.05)  # sent; its poll waits
    lost = ConnectionError("the actor died")
    if where == "submit":
        actor.fail_submit = lost
    else:
        actor.fail_poll = lost
        actor.gate("k-0").set()  # the poll answers, and fails
    later = asyncio.ensure_future(channel.call(request("k-1")))
    outcomes = await asyncio.wait_for(asyncio.gather(first, later, return_exceptions=True), 5)
    # The first call was taken (and its answer lost, for the poll): it fails with the later one.
    assert outcomes == [lost, lost]
    assert channel.closed
    with pytest.raises(ChannelClosed):
        await channel.call(request("k-2"))


async def test_a_cancelled_caller_leaves_the_others_their_results() -> None:
    actor = FakeActor()
    channel = actor.channel()
    gone = asyncio.ensure_future(channel.call(request("k-0")))
    kept = asyncio.ensure_future(channel.call(request("k-1")))
    await asyncio.sleep(0.05)
    gone.cancel()
    actor.open_all()
    assert (await asyncio.wait_for(kept, 5)).ok
    await asyncio.sleep(0.05)
    assert actor.board.undelivered == 0


async def test_a_channel_nobody_polls_is_dropped_once_no_call_runs_with_its_results() -> None:
    now = [0.0]
    board = ReadyResults(clock=lambda: now[0], poll_seconds=0.01, expiry_seconds=60.0)
    board.started("dead", 2)
    board.finished("dead", 0, CallResult(ok=True, attempts=1, duration_ms=1))
    now[0] = 1000.0
    assert board.expire() == 0  # a call of it still runs
    board.finished("dead", 1, CallResult(ok=True, attempts=1, duration_ms=1))
    assert board.undelivered == 2
    board.started("live", 1)
    board.finished("live", 0, CallResult(ok=True, attempts=1, duration_ms=1))
    now[0] = 1059.0
    assert board.expire() == 1
    assert board.undelivered == 1 and board.stats()["channels"] == 1
    assert [ticket for ticket, _ in await board.poll("live")] == [0]
    assert board.undelivered == 0


async def test_a_call_made_while_the_channel_waits_for_nothing_goes_alone_and_the_others_in_batches() -> None:
    actor = FakeActor()
    channel = actor.channel(alone=True)
    first = asyncio.ensure_future(channel.call(request("k-0")))
    await asyncio.sleep(0)
    rest = [asyncio.ensure_future(channel.call(request(f"k-{i}"))) for i in range(1, 10)]
    await asyncio.sleep(0.05)
    assert (actor.singles, actor.submits) == (["k-0"], [[f"k-{i}" for i in range(1, 10)]])
    actor.open_all()
    results = await asyncio.wait_for(asyncio.gather(first, *rest), 5)
    assert [r.response for r in results] == [{"body": {"key": f"k-{i}"}} for i in range(10)]
    # Nothing outstanding again: the next call goes alone.
    actor.gate("k-10").set()
    assert (await asyncio.wait_for(channel.call(request("k-10")), 5)).ok
    assert actor.singles == ["k-0", "k-10"] and len(actor.submits) == 1


async def test_a_lone_call_that_fails_in_transit_closes_the_channel_with_the_others() -> None:
    actor = FakeActor()
    channel = actor.channel(alone=True)
    lost = ConnectionError("the actor died")
    actor.fail_one = lost
    first = asyncio.ensure_future(channel.call(request("k-0")))
    await asyncio.sleep(0)
    batched = asyncio.ensure_future(channel.call(request("k-1")))
    outcomes = await asyncio.wait_for(asyncio.gather(first, batched, return_exceptions=True), 5)
    assert outcomes == [lost, lost] and channel.closed


async def test_an_exiting_actor_ends_the_polls_that_wait() -> None:
    board = ReadyResults(poll_seconds=60.0)
    board.started("c-1", 1)
    waiting = asyncio.ensure_future(board.poll("c-1"))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    board.wake_all()
    assert await asyncio.wait_for(waiting, 5) == []
