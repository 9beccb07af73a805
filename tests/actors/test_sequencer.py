"""The audit Sequencer without Ray: group commit, restart, a second writer and store failures, over a
real EmbeddedStore in the test's temporary folder."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from flowker.actors.sequencer import Sequencer
from flowker.domain.audit import AuditAction, AuditEvent, ResourceType, chain_hash
from flowker.domain.audit_verify import verify_records as verify
from flowker.errors import StateChanged
from flowker.settings import Settings
from flowker.store.embedded import EmbeddedStore


def event(n: int) -> AuditEvent:
    return AuditEvent(
        event_type="WORKFLOW_CREATED",
        action=AuditAction.CREATE,
        resource_type=ResourceType.WORKFLOW,
        resource_id=f"00000000-0000-4000-8000-{n:012d}",
        metadata={"n": n},
    )


def events(first: int, count: int) -> list[AuditEvent]:
    return [event(first + i) for i in range(count)]


class CountingAppend:
    """Wraps ``store.audit.append``: counts transactions and can fail some of them."""

    def __init__(self, original: Any) -> None:
        self.original = original
        self.calls: list[int] = []  # records per call
        self.fail_next: BaseException | None = None
        self.fail_after_commit = False

    async def __call__(
        self, records: Sequence[dict[str, Any]], unstage: Sequence[str] = (), nodes: Sequence[Any] = ()
    ) -> None:
        self.calls.append(len(records))
        failure, self.fail_next = self.fail_next, None
        if failure is not None and not self.fail_after_commit:
            raise failure
        await self.original(records, unstage, nodes)
        if failure is not None:
            raise failure


@pytest.fixture
def counter(store: EmbeddedStore, monkeypatch: pytest.MonkeyPatch) -> CountingAppend:
    wrapper = CountingAppend(store.audit.append)
    monkeypatch.setattr(store.audit, "append", wrapper)
    return wrapper


@pytest.fixture
async def other_store(settings: Settings, store: EmbeddedStore) -> AsyncIterator[EmbeddedStore]:
    """A second connection to the same database file, as a second process would have."""
    opened = await EmbeddedStore(settings.data_dir).open()
    yield opened
    await opened.close()


def assert_stored_in_order(stored: list[dict[str, Any]], calls: list[list[AuditEvent]], got: list[list[int]]):
    """Each call's events sit at exactly the sequence numbers it was given, in its order."""
    by_sequence = {r["sequence"]: r for r in stored}
    for sent, numbers in zip(calls, got, strict=True):
        assert len(numbers) == len(sent)
        assert numbers == list(range(numbers[0], numbers[0] + len(sent)))
        assert [by_sequence[n]["eventId"] for n in numbers] == [e.event_id for e in sent]
        assert [by_sequence[n]["metadata"] for n in numbers] == [e.metadata for e in sent]


async def test_group_commit_of_500_concurrent_appends(store: EmbeddedStore, counter: CountingAppend) -> None:
    sequencer = Sequencer(store.audit)
    rng = random.Random(7)
    calls = [events(i * 10, 1 + i % 3) for i in range(500)]
    delays = [rng.uniform(0, 0.05) for _ in calls]

    async def one(batch: list[AuditEvent], delay: float) -> list[int]:
        await asyncio.sleep(delay)  # arrivals overlap with the writes in flight
        return await sequencer.append(batch)

    got = await asyncio.gather(*(one(c, d) for c, d in zip(calls, delays, strict=True)))

    total = sum(len(c) for c in calls)
    assert total == 999
    flat = [n for numbers in got for n in numbers]
    assert len(flat) == total
    assert sorted(flat) == list(range(1, total + 1))
    stored = await store.audit.up_to(total)
    assert [r["sequence"] for r in stored] == list(range(1, total + 1))
    assert_stored_in_order(stored, calls, list(got))
    result = verify(stored)
    assert (result.is_valid, result.total_checked, result.message) == (True, total, "hash chain is valid")
    assert stored[0]["previousHash"] is None
    assert await store.audit.head() == (total, stored[-1]["hash"])
    # Group commit: a handful of transactions, not one per call.
    assert 1 <= len(counter.calls) < 100, counter.calls
    assert sum(counter.calls) == total


async def test_empty_append_writes_nothing(store: EmbeddedStore, counter: CountingAppend) -> None:
    assert await Sequencer(store.audit).append([]) == []
    assert counter.calls == []
    assert await store.audit.head() == (0, None)


async def test_a_restarted_sequencer_continues_from_the_stored_head(
    store: EmbeddedStore, settings: Settings
) -> None:
    first = Sequencer(store.audit)
    assert await first.append(events(0, 3)) == [1, 2, 3]
    assert await first.append(events(3, 2)) == [4, 5]
    head = await store.audit.head()
    assert head[0] == 5

    reopened = await EmbeddedStore(settings.data_dir).open()
    try:
        restarted = Sequencer(reopened.audit)
        assert await restarted.append(events(5, 2)) == [6, 7]
    finally:
        await reopened.close()

    stored = await store.audit.up_to(7)
    assert [r["sequence"] for r in stored] == [1, 2, 3, 4, 5, 6, 7]
    assert stored[5]["previousHash"] == head[1] == stored[4]["hash"]
    assert stored[6]["previousHash"] == stored[5]["hash"]
    assert stored[5]["hash"] == chain_hash(
        head[1], {k: v for k, v in stored[5].items() if k not in ("hash", "previousHash")}
    )
    assert verify(stored).is_valid is True


async def test_a_stale_writer_reloads_the_head_on_state_changed(
    store: EmbeddedStore, other_store: EmbeddedStore, counter: CountingAppend
) -> None:
    loser = Sequencer(store.audit)
    assert await loser.append(events(0, 1)) == [1]  # the loser now caches head (1, h1)
    winner = Sequencer(other_store.audit)
    assert await winner.append(events(1, 4)) == [2, 3, 4, 5]
    counter.calls.clear()

    assert await loser.append(events(5, 2)) == [6, 7]
    # First insert of sequences 2..3 collided, then the reloaded head gave 6..7.
    assert counter.calls == [2, 2]
    stored = await store.audit.up_to(10)
    assert [r["sequence"] for r in stored] == [1, 2, 3, 4, 5, 6, 7]
    assert stored[5]["previousHash"] == stored[4]["hash"]
    assert [r["metadata"]["n"] for r in stored] == [0, 1, 2, 3, 4, 5, 6]
    assert verify(stored).is_valid is True


async def test_two_writers_at_once_keep_one_linear_chain(
    store: EmbeddedStore, other_store: EmbeddedStore
) -> None:
    """Two writers (each over its own connection, as two processes would be) append at once, in rounds;
    each round starts a fresh pair, as after restarts. Every append must land, on one linear chain."""
    sent: list[list[AuditEvent]] = []
    got: list[list[int]] = []
    failures: list[BaseException] = []

    async def append(sequencer: Sequencer, batch: list[AuditEvent]) -> None:
        try:
            numbers = await sequencer.append(batch)
        except Exception as exc:
            failures.append(exc)
            return
        sent.append(batch)
        got.append(numbers)

    async def writer(sequencer: Sequencer, base: int) -> None:
        for i in range(60):
            await append(sequencer, events(base + i * 10, 1 + i % 2))

    async def burst(sequencer: Sequencer, base: int) -> None:
        await asyncio.gather(*(append(sequencer, events(base + i * 10, 1 + i % 3)) for i in range(40)))

    rounds = 4
    for r in range(rounds):
        first, second = Sequencer(store.audit), Sequencer(other_store.audit)
        base = r * 1_000_000
        await asyncio.gather(
            writer(first, base + 100_000),
            writer(second, base + 200_000),
            burst(first, base + 300_000),
            burst(second, base + 400_000),
        )

    assert failures == [], f"{len(failures)} appends lost: {failures[:3]!r}"
    total = rounds * (2 * (30 * 1 + 30 * 2) + 2 * sum(1 + i % 3 for i in range(40)))
    flat = [n for numbers in got for n in numbers]
    assert len(flat) == total == 1352
    assert len(set(flat)) == total  # no sequence handed out twice
    assert sorted(flat) == list(range(1, total + 1))  # and none skipped
    stored = await store.audit.up_to(total + 10)
    assert [r["sequence"] for r in stored] == list(range(1, total + 1))
    assert_stored_in_order(stored, sent, got)
    # Linear: every record links to the one just before it.
    for before, after in itertools.pairwise(stored):
        assert after["previousHash"] == before["hash"]
    result = verify(stored)
    assert (result.is_valid, result.total_checked) == (True, total)
    assert await other_store.audit.head() == (total, stored[-1]["hash"])


async def test_a_writer_that_loses_several_races_in_a_row_still_writes(
    store: EmbeddedStore, other_store: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other writer commits between this writer's head reload and its insert, twice running: each
    loss means the chain moved on, so the loser must reload and try again until its events land."""
    loser, winner = Sequencer(store.audit), Sequencer(other_store.audit)
    assert await loser.append(events(0, 1)) == [1]
    assert await winner.append(events(1, 1)) == [2]  # the loser's cached head is now stale
    original_head = store.audit.head
    interferences = [3, 4]

    async def head_then_interfere() -> tuple[int, str | None]:
        head = await original_head()
        if interferences:
            assert await winner.append(events(interferences.pop(0), 1)) == [head[0] + 1]
        return head

    monkeypatch.setattr(store.audit, "head", head_then_interfere)
    assert await loser.append(events(10, 1)) == [5]
    stored = await store.audit.up_to(10)
    assert [r["metadata"]["n"] for r in stored] == [0, 1, 3, 4, 10]
    assert verify(stored).is_valid is True


async def test_a_failing_store_append_fails_its_batch_and_the_chain_continues(
    store: EmbeddedStore, counter: CountingAppend
) -> None:
    sequencer = Sequencer(store.audit)
    assert await sequencer.append(events(0, 3)) == [1, 2, 3]
    counter.calls.clear()

    boom = OSError("disk I/O error")
    counter.fail_next = boom
    calls = [events(100 + i * 10, 1 + i % 2) for i in range(5)]
    outcomes = await asyncio.gather(*(sequencer.append(c) for c in calls), return_exceptions=True)
    assert all(o is boom for o in outcomes), outcomes
    assert counter.calls == [7]  # the five calls were one batch, and it failed once, untried again
    assert await store.audit.head() == (3, (await store.audit.up_to(3))[2]["hash"])

    assert await sequencer.append(events(200, 2)) == [4, 5]
    stored = await store.audit.up_to(100)
    assert [r["sequence"] for r in stored] == [1, 2, 3, 4, 5]
    assert [r["metadata"]["n"] for r in stored] == [0, 1, 2, 200, 201]
    assert stored[3]["previousHash"] == stored[2]["hash"]
    result = verify(stored)
    assert (result.is_valid, result.total_checked) == (True, 5)


async def test_a_failure_reported_after_the_commit_does_not_fork_the_chain(
    store: EmbeddedStore, counter: CountingAppend
) -> None:
    sequencer = Sequencer(store.audit)
    assert await sequencer.append(events(0, 2)) == [1, 2]
    boom = ConnectionError("connection lost after commit")
    counter.fail_next = boom
    counter.fail_after_commit = True
    lost = events(10, 2)
    with pytest.raises(ConnectionError) as raised:
        await sequencer.append(lost)
    assert raised.value is boom
    # The write was durable although its caller saw an error: the next batch follows it.
    assert await sequencer.append(events(20, 1)) == [5]
    # The caller retrying the very same events gets their first places back; nothing is written twice.
    counter.calls.clear()
    assert await sequencer.append(lost) == [3, 4]
    assert await Sequencer(store.audit).append([lost[1], *events(30, 1)]) == [4, 6]
    assert counter.calls == [1]
    stored = await store.audit.up_to(10)
    assert [r["metadata"]["n"] for r in stored] == [0, 1, 10, 11, 20, 30]
    assert [r["eventId"] for r in stored[2:4]] == [e.event_id for e in lost]
    assert stored[4]["previousHash"] == stored[3]["hash"]
    assert verify(stored).is_valid is True


async def test_state_changed_on_every_attempt_is_reported_not_forked(
    store: EmbeddedStore, counter: CountingAppend
) -> None:
    sequencer = Sequencer(store.audit)
    assert await sequencer.append(events(0, 1)) == [1]

    original = counter.original

    async def always_taken(
        records: Sequence[dict[str, Any]], unstage: Sequence[str] = (), nodes: Sequence[Any] = ()
    ) -> None:
        raise StateChanged("the audit log (another writer appended first)")

    counter.original = always_taken
    counter.calls.clear()
    with pytest.raises(StateChanged):
        await sequencer.append(events(10, 1))
    assert len(counter.calls) >= 2  # it reloaded the head and tried again before giving up
    counter.original = original
    assert await sequencer.append(events(20, 1)) == [2]
    stored = await store.audit.up_to(10)
    assert [r["metadata"]["n"] for r in stored] == [0, 20]
    assert verify(stored).is_valid is True
