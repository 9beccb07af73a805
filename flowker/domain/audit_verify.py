"""Verifying the audit log as a stream: chain, tree and signed checkpoints, in O(1) state — pure, no I/O.

A :class:`LogVerifier` is fed the log's records in sequence order (:meth:`~LogVerifier.add` one,
:meth:`~LogVerifier.feed` a batch) and the checkpoints to hold it to (:meth:`~LogVerifier.expect`), in
any order and interleaved as the caller reads them. It keeps the previous hash, a count and the Merkle
tree's compact range (one hash per set bit of the size: RFC 9162 roots at any size reached), plus the
checkpoints still ahead. It stops at the first problem; :meth:`~LogVerifier.finish` answers the
:class:`LogVerification`. The service's verify endpoint and the offline ``flowker audit verify`` both
run it; it never raises on bad input.

Each record must, in this order (the first failure is the answer, with its :class:`Reason`):

1. have the next ``sequence`` (1, 2, ...): a smaller one repeats a verified event
   (``duplicate_sequence``), a larger one skips events (``sequence_gap``);
2. link to the record before: ``previousHash`` is its ``hash``, ``null`` for the first
   (``previous_hash_mismatch``);
3. have the ``hash`` of its own content by its hash scheme (:mod:`flowker.domain.audit`); a record
   that is not a JSON object, names an unknown scheme or has no sequence is one too
   (``entry_hash_mismatch``);
4. when the store gave the values it searches by (its indexed columns), equal them
   (``column_mismatch``): an edited column would steer searches while the hashed document stays intact.

Each checkpoint — a C2SP signed note of a ``tlog-checkpoint`` — is checked when the log reaches its tree
size, or at the end for one beyond it: its signature must verify with the log's verifier key and its
origin be the key's name (``bad_signature``; without a key only the body is read, unverified), and its
root must be the RFC 9162 root of the log's first ``treeSize`` events (``checkpoint_mismatch``; also
when a store's copy of the size or root differs from its note). A checkpoint beyond the end of the log
means events after it were removed (``truncated``).

Positions: ``firstInvalidSequence`` is the stored ``sequence`` of the first bad record (the gap's far
side, the repeated number), and ``firstInvalidId`` its ``eventId``; for ``checkpoint_mismatch`` and
``bad_signature`` it is the checkpoint's tree size (no event named: the chain alone holds, so the log was
rewritten somewhere up to there, after the last checkpoint that matched); for ``truncated``, the first
missing sequence. ``checked`` counts the events that verified, ``totalChecked`` those read (one more
when a record was refused), ``checkpointsChecked`` the checkpoints that held.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flowker.domain.audit import GENESIS, canonical_body
from flowker.domain.checkpoint import Checkpoint, CheckpointError, open_checkpoint, parse_checkpoint
from flowker.domain.merkle import EMPTY_ROOT
from flowker.domain.signed_note import NoteError, NoteProblem, VerifierKey, b64encode, open_note

VALID_MESSAGE = "hash chain is valid"
_MISSING = object()


class Reason(StrEnum):
    """Why a log failed verification (the ``reason`` field's values)."""

    ENTRY_HASH_MISMATCH = "entry_hash_mismatch"
    PREVIOUS_HASH_MISMATCH = "previous_hash_mismatch"
    SEQUENCE_GAP = "sequence_gap"
    DUPLICATE_SEQUENCE = "duplicate_sequence"
    COLUMN_MISMATCH = "column_mismatch"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    BAD_SIGNATURE = "bad_signature"
    TRUNCATED = "truncated"


#: The ``reason`` values, for the API document.
REASONS = tuple(reason.value for reason in Reason)


@dataclass(frozen=True)
class Problem:
    reason: Reason
    message: str
    sequence: int | None
    event_id: str | None = None


@dataclass(frozen=True)
class LogVerification:
    """The answer of a verification: the original's fields, then ``checked``, ``reason`` and the tree."""

    is_valid: bool
    total_checked: int
    message: str
    checked: int
    checkpoints_checked: int
    tree_size: int
    root_hash: bytes
    reason: Reason | None = None
    first_invalid_id: str | None = None
    first_invalid_sequence: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "isValid": self.is_valid,
            "totalChecked": self.total_checked,
            "message": self.message,
            "checked": self.checked,
            "checkpointsChecked": self.checkpoints_checked,
            "treeSize": self.tree_size,
            "rootHash": b64encode(self.root_hash),
        }
        if not self.is_valid:
            out["reason"] = str(self.reason)
            out["firstInvalidSequence"] = self.first_invalid_sequence
            if self.first_invalid_id is not None:
                out["firstInvalidId"] = self.first_invalid_id
        return out


@dataclass(frozen=True)
class _Expected:
    """A checkpoint to hold the log to at its tree size."""

    tree_size: int
    note: str
    label: str
    #: What a store keeps beside the note (its size and root columns), to be equal to the note's.
    stored: tuple[int, bytes] | None


class LogVerifier:
    """Verifies a log fed in sequence order against the checkpoints it is told to expect."""

    def __init__(self, verifier_key: VerifierKey | None, *, parsed: bool = False) -> None:
        """``verifier_key``: the log's key (its name is the checkpoints' origin); None checks no signature.
        ``parsed``: every record will be what ``orjson.loads`` gave (a faster canonical check applies)."""
        self._key = verifier_key
        self._parsed = parsed
        self._size = 0
        self._previous: str | None = None
        self._prefix = GENESIS.encode() + b"|"  # what the next entry hash starts with
        self._range: list[bytes] = []  # the compact range: complete subtrees' hashes, largest first
        self._expected: list[_Expected] = []  # by tree size, ascending
        self._read = 0
        self._checkpoints = 0
        self._problem: Problem | None = None

    @property
    def size(self) -> int:
        """The events verified so far."""
        return self._size

    @property
    def problem(self) -> Problem | None:
        return self._problem

    def root(self) -> bytes:
        """The RFC 9162 root of the events verified so far."""
        if not self._range:
            return EMPTY_ROOT
        result = self._range[-1]
        for left in reversed(self._range[:-1]):
            result = hashlib.sha256(b"\x01" + left + result).digest()
        return result

    def expect(self, note: str, label: str = "checkpoint", stored: tuple[int, bytes] | None = None) -> bool:
        """Hold the log to the signed checkpoint ``note`` (``label`` names it in messages); False once a
        problem is found. Its size is read from the note unverified here; the signature is checked when
        the log reaches that size."""
        if self._problem is not None:
            return False
        size = claimed_size(note)
        if size is None:
            self._fail(Reason.BAD_SIGNATURE, f"the {label} is not a well-formed signed checkpoint", None)
            return False
        if size < self._size:
            raise ValueError(f"the {label} of tree size {size} comes after event {self._size}")
        bisect.insort(self._expected, _Expected(size, note, label, stored), key=lambda e: e.tree_size)
        if size == self._size:
            self._reach()
        return self._problem is None

    def feed(
        self, records: Iterable[Any], searched: Iterable[Mapping[str, Any] | None] | None = None
    ) -> bool:
        """:meth:`add` each record (with the store's searched values of each, when given); False on a
        problem."""
        if searched is None:
            return all(self.add(record) for record in records)
        return all(self.add(record, values) for record, values in zip(records, searched, strict=True))

    def add(self, record: Any, searched: Mapping[str, Any] | None = None) -> bool:
        """Verify the next record, as a JSON parser gives it; False (and nothing more is accepted) when
        it is not the next one. (The hot path of a million-event verification: kept flat.)"""
        if self._problem is not None:
            return False
        self._read += 1
        expected = self._size + 1
        if type(record) is not dict:
            self._fail(Reason.ENTRY_HASH_MISMATCH, f"event {expected} is not a JSON object", expected)
            return False
        sequence = record.get("sequence")
        if sequence != expected or type(sequence) is not int:
            self._bad_sequence(record, sequence, expected)
            return False
        previous = self._previous
        if record.get("previousHash", _MISSING) != previous:
            self._fail(
                Reason.PREVIOUS_HASH_MISMATCH,
                f"chain break at sequence {expected}: previousHash is not the hash of event {expected - 1}",
                expected,
                _event_id(record),
            )
            return False
        body = dict(record)
        entry = body.pop("hash", None)
        del body["previousHash"]
        try:
            digest = hashlib.sha256(self._prefix + canonical_body(body, parsed=self._parsed)).digest()
        except (ValueError, TypeError):  # an unknown scheme, a value without canonical bytes
            digest = b""
        computed = digest.hex()
        if entry != computed or not digest:
            self._fail(
                Reason.ENTRY_HASH_MISMATCH,
                f"hash mismatch at sequence {expected}: the event's content was altered",
                expected,
                _event_id(record),
            )
            return False
        if searched is not None:
            for name, value in searched.items():
                if record.get(name) != value or type(record.get(name)) is not type(value):
                    self._fail(
                        Reason.COLUMN_MISMATCH,
                        f"column mismatch at sequence {expected}: the store's {name} is not the event's",
                        expected,
                        _event_id(record),
                    )
                    return False
        # The leaf joins the compact range: one node hash per trailing set bit of the old size.
        node, size, compact = hashlib.sha256(b"\x00" + digest).digest(), self._size, self._range
        while size & 1:
            node = hashlib.sha256(b"\x01" + compact.pop() + node).digest()
            size >>= 1
        compact.append(node)
        self._size = expected
        self._previous = computed
        self._prefix = computed.encode() + b"|"
        if self._expected and self._expected[0].tree_size == expected:
            self._reach()
        return self._problem is None

    def _bad_sequence(self, record: dict[str, Any], sequence: Any, expected: int) -> None:
        if type(sequence) is not int:
            reason, message = Reason.ENTRY_HASH_MISMATCH, f"event {expected} has no sequence number"
            sequence = expected
        elif sequence < expected:
            reason = Reason.DUPLICATE_SEQUENCE
            message = f"duplicate sequence: expected {expected}, found {sequence} again"
        else:
            reason, message = Reason.SEQUENCE_GAP, f"sequence gap: expected {expected}, found {sequence}"
        self._fail(reason, message, sequence, _event_id(record))

    def finish(self, log_end: int | None = None) -> LogVerification:
        """The answer once the records are all in. A checkpoint beyond the log's end (its signature
        checked) means the log was truncated. ``log_end``: the last sequence stored, when the log was
        read only up to an earlier event; checkpoints past what was read are then only held to it."""
        end = self._size if log_end is None else max(log_end, self._size)
        beyond = [e for e in self._expected if e.tree_size > end]
        if self._problem is None and beyond and self._open(beyond[0]) is not None:
            self._fail(
                Reason.TRUNCATED,
                f"truncated: the log ends at sequence {end} but the {beyond[0].label} of tree size "
                f"{beyond[0].tree_size} commits to {beyond[0].tree_size} events",
                end + 1,
            )
        problem = self._problem
        common = {
            "checked": self._size,
            "checkpoints_checked": self._checkpoints,
            "tree_size": self._size,
            "root_hash": self.root(),
        }
        if problem is None:
            return LogVerification(True, self._read, VALID_MESSAGE, **common)
        return LogVerification(
            False,
            self._read,
            problem.message,
            reason=problem.reason,
            first_invalid_id=problem.event_id,
            first_invalid_sequence=problem.sequence,
            **common,
        )

    def report(self, reason: Reason, message: str, sequence: int | None) -> None:
        """Record a problem the caller found around the records (a file cut short); the first one stands."""
        self._fail(reason, message, sequence)

    # --- inside ------------------------------------------------------------------------------------

    def _reach(self) -> None:
        """Compare the checkpoints of the current size."""
        root = None
        while self._expected and self._expected[0].tree_size == self._size:
            expected = self._expected.pop(0)
            checkpoint = self._open(expected)
            if checkpoint is None:
                return
            root = self.root() if root is None else root
            if checkpoint.root_hash != root or (
                expected.stored is not None
                and expected.stored != (checkpoint.tree_size, checkpoint.root_hash)
            ):
                if checkpoint.root_hash != root:
                    message = (
                        f"checkpoint mismatch: the {expected.label} of tree size {self._size} is not the "
                        f"root of the log's first {self._size} events (rewritten after the last "
                        "checkpoint that matched)"
                    )
                else:
                    message = (
                        f"checkpoint mismatch: the stored tree size or root of the {expected.label} of tree "
                        f"size {self._size} is not its signed note's"
                    )
                self._fail(Reason.CHECKPOINT_MISMATCH, message, self._size)
                return
            self._checkpoints += 1

    def _open(self, expected: _Expected) -> Checkpoint | None:
        """The checkpoint, its signature verified (when there is a key); None after a failure."""
        try:
            if self._key is None:
                checkpoint = parse_checkpoint(_unverified_text(expected.note))
            else:
                checkpoint = open_checkpoint(expected.note, [self._key], self._key.name)
        except (NoteError, CheckpointError) as exc:
            self._fail(
                Reason.BAD_SIGNATURE,
                f"bad signature: the {expected.label} of tree size {expected.tree_size} does not verify "
                f"with the log's key ({exc})",
                expected.tree_size,
            )
            return None
        return checkpoint

    def _fail(self, reason: Reason, message: str, sequence: int | None, event_id: str | None = None) -> None:
        if self._problem is None:
            self._problem = Problem(reason, message, sequence, event_id)


def _event_id(record: dict[str, Any]) -> str | None:
    event_id = record.get("eventId")
    return event_id if type(event_id) is str else None


def _unverified_text(note: str) -> str:
    """A signed note's text, its signatures not checked."""
    try:
        return open_note(note, []).text
    except NoteError as exc:
        if exc.problem is NoteProblem.NO_VERIFIED_SIGNATURE and exc.note is not None:
            return exc.note.text
        raise


def claimed_size(note: Any) -> int | None:
    """The tree size a signed checkpoint claims (not verified), or None when it is not one."""
    if not isinstance(note, str):
        return None
    try:
        return parse_checkpoint(_unverified_text(note)).tree_size
    except (NoteError, CheckpointError):
        return None


def verify_records(
    records: Iterable[Any],
    checkpoints: Iterable[str] = (),
    verifier_key: VerifierKey | None = None,
) -> LogVerification:
    """Verify a whole log held in memory (tests, small tools): records in order, then checkpoints."""
    verifier = LogVerifier(verifier_key)
    notes = sorted(((claimed_size(n) or 0), n) for n in checkpoints)
    pending = list(notes)
    for record in records:
        while pending and pending[0][0] <= verifier.size:
            verifier.expect(pending.pop(0)[1])
        if not verifier.add(record):
            break
    while pending and verifier.problem is None:
        verifier.expect(pending.pop(0)[1])
    return verifier.finish()
