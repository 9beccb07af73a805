"""The checkpoint issuer over the in-memory store with a fake clock: a checkpoint every N events or
every T seconds, only when the tree grew; each a signed note that verifies with the log's key and
commits to the stored tree's root; one per tree size; copied to a sink file when one is set."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowker.actors.checkpoint_sink import CheckpointPoster
from flowker.actors.checkpointer import Checkpointer, CheckpointPolicy
from flowker.actors.sequencer import Sequencer
from flowker.domain.audit import AuditAction, AuditEvent, ResourceType
from flowker.domain.checkpoint import open_checkpoint
from flowker.domain.signed_note import NoteError, generate_key
from flowker.store.ports import StoredCheckpoint
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import MemoryStore
from tests.helpers.checkpoint_receiver import Receiver
from tests.helpers.merkle_reference import naive_root

ORIGIN = "flowker.test/audit"


def event(n: int) -> AuditEvent:
    return AuditEvent(
        "WORKFLOW_CREATED", AuditAction.CREATE, ResourceType.WORKFLOW, f"w{n}", metadata={"n": n}
    )


class Rig:
    def __init__(
        self,
        every_events: int = 5,
        every_seconds: float = 60.0,
        sink: Path | None = None,
        url: str | None = None,
    ) -> None:
        self.store = MemoryStore()
        self.seconds = FakeClock(1_800_000_000.0)
        self.key = generate_key(ORIGIN)
        self.sequencer = Sequencer(self.store.audit)
        self.checkpointer = Checkpointer(
            self.store.audit,
            self.store.checkpoints,
            self.key,
            CheckpointPolicy(every_events, every_seconds, sink, url),
            clock=lambda: datetime.fromtimestamp(self.seconds(), UTC),
            post=CheckpointPoster(url, timeout_seconds=2.0) if url else None,
        )
        self.count = 0

    async def append(self, count: int) -> StoredCheckpoint | None:
        await self.sequencer.append([event(self.count + n) for n in range(count)])
        self.count += count
        return await self.checkpointer.check()

    async def hashes(self) -> list[str]:
        return [h for _, h in await self.store.audit.entry_hashes(0, 10_000)]


async def test_a_checkpoint_every_n_events() -> None:
    rig = Rig(every_events=5)
    assert await rig.checkpointer.check() is None  # empty log: nothing to commit
    for _ in range(4):
        assert await rig.append(1) is None
    issued = await rig.append(1)
    assert issued is not None and issued.tree_size == 5
    assert await rig.append(4) is None
    # A batch past the threshold: the checkpoint is of the size the tree has when it is checked.
    issued = await rig.append(3)
    assert issued is not None and issued.tree_size == 12
    assert [c.tree_size for c in await rig.store.checkpoints.newest(10)] == [12, 5]


async def test_a_checkpoint_every_t_seconds_only_when_the_tree_grew() -> None:
    rig = Rig(every_events=1000, every_seconds=60.0)
    assert await rig.append(2) is None
    rig.seconds.advance(59.9)
    assert await rig.checkpointer.check() is None
    rig.seconds.advance(0.1)
    issued = await rig.checkpointer.check()
    assert issued is not None and issued.tree_size == 2
    # A quiet log: no new checkpoint however long it stays quiet.
    rig.seconds.advance(3600)
    assert await rig.checkpointer.check() is None
    assert await rig.append(1) is not None  # grew, and the period has passed
    assert await rig.append(1) is None  # grew, but the period starts again
    assert [c.tree_size for c in await rig.store.checkpoints.newest(10)] == [3, 2]


async def test_each_checkpoint_verifies_and_commits_to_the_stored_root() -> None:
    rig = Rig(every_events=3)
    for _ in range(4):
        await rig.append(3)
    hashes = await rig.hashes()
    stored = await rig.store.checkpoints.newest(10)
    assert [c.tree_size for c in stored] == [12, 9, 6, 3]
    for checkpoint in stored:
        opened = open_checkpoint(checkpoint.note, [rig.key.verifier()], ORIGIN)
        assert opened.tree_size == checkpoint.tree_size
        assert opened.root_hash == checkpoint.root_hash == naive_root(hashes[: checkpoint.tree_size])
        with pytest.raises(NoteError):
            open_checkpoint(checkpoint.note, [generate_key(ORIGIN).verifier()], ORIGIN)


async def test_a_restarted_issuer_continues_from_the_stored_checkpoint() -> None:
    rig = Rig(every_events=5, every_seconds=60.0)
    await rig.append(5)
    rig.seconds.advance(30)
    await rig.sequencer.append([event(100), event(101)])
    again = Checkpointer(
        rig.store.audit,
        rig.store.checkpoints,
        rig.key,
        CheckpointPolicy(5, 60.0),
        clock=lambda: datetime.fromtimestamp(rig.seconds(), UTC),
    )
    assert await again.check() is None  # 2 events since the stored one, 30 s after it
    rig.seconds.advance(30)
    issued = await again.check()
    assert issued is not None and issued.tree_size == 7


async def test_one_checkpoint_per_tree_size() -> None:
    rig = Rig(every_events=2)
    await rig.append(2)
    other = Checkpointer(rig.store.audit, rig.store.checkpoints, rig.key, CheckpointPolicy(1, 60.0))
    assert await other.check() is None  # another issuer (a handover) of the same size stores nothing
    assert len(await rig.store.checkpoints.newest(10)) == 1


async def test_checkpoints_are_appended_to_the_sink_file(tmp_path: Path) -> None:
    sink = tmp_path / "checkpoints.txt"
    rig = Rig(every_events=2, sink=sink)
    await rig.append(2)
    await rig.append(2)
    notes = [c.note for c in reversed(await rig.store.checkpoints.newest(10))]
    assert sink.read_text() == "".join(note + "\n" for note in notes)
    # Each note is a body and its signature lines, followed by a blank line.
    parts = sink.read_text().split("\n\n")
    assert parts[-1] == ""
    read = [parts[i] + "\n\n" + parts[i + 1] + "\n" for i in range(0, len(parts) - 1, 2)]
    assert read == notes
    assert [open_checkpoint(n, [rig.key.verifier()], ORIGIN).tree_size for n in read] == [2, 4]


async def test_a_sink_that_cannot_be_written_is_logged_and_the_checkpoint_stands(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(every_events=1, sink=tmp_path / "missing" / "checkpoints.txt")
    with caplog.at_level(logging.ERROR, "flowker.audit"):
        issued = await rig.append(1)
    assert issued is not None
    assert await rig.store.checkpoints.latest() == issued
    assert "could not be written" in caplog.text


async def test_checkpoints_are_posted_to_the_sink_url_as_signed() -> None:
    async with Receiver() as receiver:
        rig = Rig(every_events=2, url=receiver.url)
        await rig.append(2)
        await rig.append(3)
        notes = [c.note for c in reversed(await rig.store.checkpoints.newest(10))]
        assert receiver.received == [("text/plain", note) for note in notes]
        assert [open_checkpoint(n, [rig.key.verifier()], ORIGIN).tree_size for _, n in receiver.received] == [
            2,
            5,
        ]


@pytest.mark.parametrize("status", [500, 302])
async def test_a_url_that_does_not_take_the_note_is_logged_and_the_next_one_goes_out(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A refusal, or a redirect (never followed), leaves the stored checkpoint standing."""
    async with Receiver(status) as receiver:
        rig = Rig(every_events=1, url=receiver.url)
        with caplog.at_level(logging.ERROR, "flowker.audit"):
            first = await rig.append(1)
        assert first is not None and await rig.store.checkpoints.latest() == first
        assert f"was not taken by {receiver.url}: HTTP {status}" in caplog.text
        receiver.answer(200)
        second = await rig.append(1)
        assert second is not None
        assert [note for _, note in receiver.received] == [first.note, second.note]  # nothing from elsewhere


async def test_a_url_where_nothing_listens_is_logged_and_the_checkpoint_stands(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with Receiver() as receiver:
        url = receiver.url
    rig = Rig(every_events=1, url=url)  # the receiver has gone: the port is closed
    with caplog.at_level(logging.ERROR, "flowker.audit"):
        issued = await rig.append(1)
    assert issued is not None and await rig.store.checkpoints.latest() == issued
    assert "was not taken by" in caplog.text
