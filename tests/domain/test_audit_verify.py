"""The streaming verifier finds every kind of tampering, with the right reason and position.

Property tests over a log of sealed events with signed checkpoints: flipping any byte of any event,
deleting, reordering, duplicating or inserting events, editing a searched column, truncating the tail
after a checkpoint, and re-chaining the log without the signing key (with or without forged
checkpoints) are each detected; legacy events (sealed before hash schemes) still verify.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from flowker.domain.audit import seal
from flowker.domain.audit_verify import LogVerification, LogVerifier, Reason, verify_records
from flowker.domain.merkle import EMPTY_ROOT
from flowker.domain.signed_note import generate_key
from tests.helpers.audit_log import (
    KEY,
    ORIGIN,
    TIMESTAMP,
    build_log,
    checkpoint_note,
    event,
    reseal,
    searched,
)
from tests.helpers.merkle_reference import naive_root

SIZE = 40
CHECKPOINT_SIZES = (10, 20, 30, 40)
LOG = build_log(SIZE, legacy=5)
NOTES = [checkpoint_note(LOG, size) for size in CHECKPOINT_SIZES]
VERIFIER = KEY.verifier()

indices = st.integers(0, SIZE - 1)


def run(records: list[Any], notes: list[str] = NOTES, columns: list[Any] | None = None) -> LogVerification:
    """Verify as a store reader does: records in order, each checkpoint fed before the log reaches it."""
    if columns is None:
        return verify_records(records, notes, VERIFIER)
    verifier = LogVerifier(VERIFIER)
    for note in notes:
        verifier.expect(note)
    verifier.feed(records, columns)
    return verifier.finish()


def assert_problem(result: LogVerification, reason: Reason, sequence: int | None, checked: int) -> None:
    assert result.is_valid is False, result
    assert (result.reason, result.first_invalid_sequence, result.checked) == (reason, sequence, checked), (
        result
    )


def test_an_intact_log_verifies_with_every_checkpoint() -> None:
    result = run(LOG)
    assert result.is_valid and result.reason is None and result.message == "hash chain is valid"
    assert (result.checked, result.total_checked, result.checkpoints_checked) == (SIZE, SIZE, 4)
    assert result.root_hash == naive_root([r["hash"] for r in LOG])
    assert result.to_dict() == {
        "isValid": True,
        "totalChecked": SIZE,
        "message": "hash chain is valid",
        "checked": SIZE,
        "checkpointsChecked": 4,
        "treeSize": SIZE,
        "rootHash": result.to_dict()["rootHash"],
    }


def test_new_events_record_their_scheme_and_legacy_ones_have_none() -> None:
    assert all("hashScheme" not in r for r in LOG[:5])
    assert all(r["hashScheme"] == "sha256-jcs" for r in LOG[5:])


def test_the_compact_range_root_is_the_rfc_root_at_every_size() -> None:
    records = build_log(300)
    verifier = LogVerifier(None)
    assert verifier.root() == EMPTY_ROOT
    for size, record in enumerate(records, 1):
        assert verifier.add(record)
        assert verifier.root() == naive_root([r["hash"] for r in records[:size]])


@settings(max_examples=300, deadline=None)
@given(indices, st.data())
def test_flipping_any_byte_of_any_event_is_detected_there(index: int, data: st.DataObject) -> None:
    raw = bytearray(orjson.dumps(LOG[index]))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]))
    try:
        changed: Any = orjson.loads(bytes(raw))
    except orjson.JSONDecodeError:
        changed = bytes(raw)  # no longer JSON: what a reader has is not an event
    assume(changed != LOG[index])
    result = run([*LOG[:index], changed, *LOG[index + 1 :]])
    expected = index + 1
    sequence = changed.get("sequence") if isinstance(changed, dict) else None
    if type(sequence) is int and sequence != expected:
        reason = Reason.DUPLICATE_SEQUENCE if sequence < expected else Reason.SEQUENCE_GAP
        assert_problem(result, reason, sequence, index)
    elif (
        isinstance(changed, dict)
        and type(sequence) is int
        and changed.get("previousHash", 0) != LOG[index]["previousHash"]
    ):
        assert_problem(result, Reason.PREVIOUS_HASH_MISMATCH, expected, index)
    else:
        assert_problem(result, Reason.ENTRY_HASH_MISMATCH, expected, index)
    if isinstance(changed, dict) and isinstance(changed.get("eventId"), str):
        assert result.first_invalid_id == changed["eventId"]


@settings(max_examples=100, deadline=None)
@given(st.integers(0, SIZE - 2))
def test_deleting_an_event_is_a_gap_at_its_place(index: int) -> None:
    result = run([*LOG[:index], *LOG[index + 1 :]])
    assert_problem(result, Reason.SEQUENCE_GAP, index + 2, index)
    assert result.first_invalid_id == LOG[index + 1]["eventId"]
    assert result.total_checked == index + 1


@settings(max_examples=100, deadline=None)
@given(indices, indices)
def test_reordering_events_is_a_gap_at_the_first_moved(first: int, second: int) -> None:
    assume(first != second)
    first, second = sorted((first, second))
    records = list(LOG)
    records[first], records[second] = records[second], records[first]
    assert_problem(run(records), Reason.SEQUENCE_GAP, second + 1, first)


@settings(max_examples=100, deadline=None)
@given(indices, indices)
def test_a_duplicated_event_is_named_where_it_repeats(index: int, after: int) -> None:
    assume(after >= index)
    records = [*LOG[: after + 1], LOG[index], *LOG[after + 1 :]]
    assert_problem(run(records), Reason.DUPLICATE_SEQUENCE, index + 1, after + 1)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, SIZE))
def test_an_inserted_event_is_detected_where_it_lands(index: int) -> None:
    previous = LOG[index - 1]["hash"] if index else None
    forged = seal(event(999).body(TIMESTAMP, index + 1), previous)  # a well-formed, well-linked event
    result = run([*LOG[:index], forged, *LOG[index:]])
    if index == SIZE:
        # Appended after the last checkpoint: indistinguishable from a genuine new event.
        assert result.is_valid
        return
    # The genuine event of the same number now repeats it ... unless a checkpoint comes first.
    reached = next(size for size in CHECKPOINT_SIZES if size >= index + 1)
    if reached == index + 1:
        assert_problem(result, Reason.CHECKPOINT_MISMATCH, reached, index + 1)
    else:
        assert_problem(result, Reason.DUPLICATE_SEQUENCE, index + 1, index + 1)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, SIZE - 1), st.sampled_from(sorted(searched(LOG[0]))))
def test_an_edited_searched_column_is_a_column_mismatch(index: int, name: str) -> None:
    columns = [searched(r) for r in LOG]
    value = columns[index][name]
    columns[index] = {**columns[index], name: value + 1 if isinstance(value, int) else value + "x"}
    assert_problem(run(LOG, columns=columns), Reason.COLUMN_MISMATCH, index + 1, index)
    assert run(LOG, columns=[searched(r) for r in LOG]).is_valid


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(CHECKPOINT_SIZES[:-1]), st.data())
def test_truncating_the_tail_after_a_checkpoint_is_truncated(size: int, data: st.DataObject) -> None:
    keep = data.draw(st.integers(0, SIZE - 1))
    result = run(LOG[:keep])
    assert_problem(result, Reason.TRUNCATED, keep + 1, keep)
    assert result.first_invalid_id is None
    assert run(LOG[:keep], [n for s, n in zip(CHECKPOINT_SIZES, NOTES, strict=True) if s <= keep]).is_valid


@settings(max_examples=100, deadline=None)
@given(indices)
def test_a_log_rechained_without_the_key_fails_at_the_next_checkpoint(index: int) -> None:
    records = copy.deepcopy(LOG)
    records[index]["metadata"]["workflow.name"] = "rewritten"
    forged = reseal(records, index)
    reached = next(size for size in CHECKPOINT_SIZES if size >= index + 1)
    # The chain alone holds ...
    assert verify_records(forged).is_valid
    # ... the checkpoints do not: the first one covering the edit fails, and all before it held.
    result = run(forged)
    assert_problem(result, Reason.CHECKPOINT_MISMATCH, reached, reached)
    assert result.checkpoints_checked == CHECKPOINT_SIZES.index(reached)
    # Checkpoints re-signed by the forger's own key do not verify with the log's.
    other = generate_key(ORIGIN)
    resigned = [checkpoint_note(forged, size, other) for size in CHECKPOINT_SIZES]
    assert_problem(run(forged, resigned), Reason.BAD_SIGNATURE, CHECKPOINT_SIZES[0], CHECKPOINT_SIZES[0])


def test_checkpoints_of_another_origin_or_altered_notes_are_bad_signatures() -> None:
    other_origin = checkpoint_note(LOG, 10, generate_key("elsewhere/audit"), "elsewhere/audit")
    assert_problem(run(LOG, [other_origin]), Reason.BAD_SIGNATURE, 10, 10)
    altered = NOTES[1].replace("\n20\n", "\n21\n")
    assert_problem(run(LOG, [altered]), Reason.BAD_SIGNATURE, 21, 21)
    assert_problem(run(LOG, ["not a note"]), Reason.BAD_SIGNATURE, None, 0)


def test_a_store_copy_of_size_or_root_unlike_its_note_is_a_checkpoint_mismatch() -> None:
    verifier = LogVerifier(VERIFIER)
    verifier.expect(NOTES[0], "stored checkpoint", (10, bytes(32)))
    verifier.feed(LOG)
    assert_problem(verifier.finish(), Reason.CHECKPOINT_MISMATCH, 10, 10)


def test_without_a_key_roots_are_still_compared() -> None:
    forged = reseal([*LOG[:3], {**LOG[3], "resourceType": "execution"}, *LOG[4:]], 3)
    result = verify_records(forged, NOTES, None)
    assert_problem(result, Reason.CHECKPOINT_MISMATCH, 10, 10)
    assert verify_records(LOG, NOTES, None).is_valid


def test_a_legacy_event_edited_is_caught_and_an_unknown_scheme_never_verifies() -> None:
    edited = [*LOG[:2], {**LOG[2], "resourceId": LOG[3]["resourceId"]}, *LOG[3:]]
    assert_problem(run(edited), Reason.ENTRY_HASH_MISMATCH, 3, 2)
    later = copy.deepcopy(LOG)
    later[7]["hashScheme"] = "sha512-future"
    assert_problem(run(reseal(later, 8)), Reason.ENTRY_HASH_MISMATCH, 8, 7)


@pytest.mark.parametrize("bad", [None, [], "x", 3, {"sequence": "1"}])
def test_what_is_not_an_event_is_refused_as_an_entry(bad: Any) -> None:
    assert_problem(run([bad], []), Reason.ENTRY_HASH_MISMATCH, 1, 0)


def test_nothing_is_accepted_after_the_first_problem() -> None:
    verifier = LogVerifier(VERIFIER)
    assert verifier.add(LOG[0]) and not verifier.add(LOG[2]) and not verifier.add(LOG[1])
    assert verifier.finish().first_invalid_sequence == 3
    assert verifier.expect(NOTES[0]) is False


def test_records_sealed_by_the_writer_before_hash_schemes_still_verify_and_chain_on() -> None:
    """``data/legacy_audit_records.json``: five events sealed by the audit writer as it was before the
    ``hashScheme`` field (commit 9f97323), kept byte for byte."""
    legacy = orjson.loads((Path(__file__).parent / "data" / "legacy_audit_records.json").read_bytes())
    assert all("hashScheme" not in r for r in legacy)
    assert run(legacy, []).is_valid
    previous, grown = legacy[-1]["hash"], list(legacy)
    for number in range(6, 9):
        record = seal(event(number).body(TIMESTAMP, number), previous)
        grown.append(record)
        previous = record["hash"]
    notes = [checkpoint_note(grown, 5), checkpoint_note(grown, 8)]
    result = run(grown, notes)
    assert result.is_valid and result.checkpoints_checked == 2
    edited = copy.deepcopy(grown)
    edited[1]["metadata"]["n"] = 20
    assert_problem(run(edited, notes), Reason.ENTRY_HASH_MISMATCH, 2, 1)


def test_an_event_with_values_rfc8785_cannot_write_is_sealed_writable_and_verifies() -> None:
    odd = {"big": 2**60, "nan": float("nan"), "inf": float("-inf"), "lone": "a\ud800b", "ok": 1.5}
    record = seal(event(1, metadata=odd).body(TIMESTAMP, 1), None)
    assert record["metadata"] == {
        "big": str(2**60),
        "nan": "nan",
        "inf": "-inf",
        "lone": "a\ufffdb",
        "ok": 1.5,
    }
    stored = orjson.loads(orjson.dumps(record))  # what a store keeps and gives back
    assert run([stored], []).is_valid
