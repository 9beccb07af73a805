"""``flowker audit verify FILE [--checkpoint NOTE_FILE] [--public-key KEY_FILE]``: an export, offline.

Verifies a file written by ``GET /v1/audit/export`` (:mod:`flowker.domain.audit_export`) with no access
to the service, in two passes over the file and bounded memory (the checkpoints, then the events one
line at a time through a :class:`~flowker.domain.audit_verify.LogVerifier`):

* the chain: every event's sequence, ``previousHash`` and ``hash`` recomputed by its hash scheme;
* the tree: the RFC 9162 root of the log at each checkpoint's size;
* the signatures of the file's checkpoints, with ``--public-key`` (a file holding the verifier key as
  ``GET /v1/audit/public-key`` gives it: the key text, or that JSON answer); without it they are read
  unverified and the output says so;
* ``--checkpoint``: a checkpoint the auditor kept earlier (a signed note's exact text, e.g. a
  ``note`` of ``GET /v1/audit/checkpoints`` or an entry of the checkpoint sink file): the root of the
  log's first ``treeSize`` events must be its root, and with ``--public-key`` its signature verify;
* the file itself: a header first, an ``end`` line last whose counts are what came before (a file cut
  short, or with events removed and no checkpoint after them, is ``truncated``).

It prints what it checked and the first problem to stdout, a progress line every
``PROGRESS_EVERY`` events to stderr, and exits 0 when everything checked holds, 1 when something does
not, 2 when the command line or an input file cannot be used.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import orjson

from flowker.domain import audit_export
from flowker.domain.audit_verify import LogVerification, LogVerifier, Reason, claimed_size
from flowker.domain.signed_note import KeyFormatError, VerifierKey

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
PROGRESS_EVERY = 200_000

_EVENT_PREFIX = b'{"type":"event","event":'
_EVENT_SUFFIX = b"}\n"


class UsageError(Exception):
    """An input that cannot be used at all (exit 2)."""


@dataclass
class _Scan:
    """The first pass: the header, the checkpoint notes, the end line, and how many events."""

    header: dict[str, Any]
    notes: list[str]
    end: dict[str, Any] | None
    events: int


def read_key(path: Path) -> VerifierKey:
    text = _read_text(path, "public key").strip()
    if text.startswith("{"):
        try:
            text = str(orjson.loads(text)["verifierKey"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise UsageError(f"{path}: not a verifier key nor a {{verifierKey}} answer") from None
    try:
        return VerifierKey.parse(text)
    except KeyFormatError:
        raise UsageError(f"{path}: not a verifier key (<name>+<hex id>+<base64 key>)") from None


def read_note(path: Path) -> str:
    """A saved checkpoint: one signed note (a blank line after it, as in the sink file, is allowed)."""
    text = _read_text(path, "checkpoint")
    while text.endswith("\n\n"):
        text = text[:-1]
    if claimed_size(text) is None:
        raise UsageError(f"{path}: not a signed checkpoint note")
    return text


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the {what} file {path}: {exc}") from None


def _load(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def _scan(file: BinaryIO, path: Path) -> _Scan:
    first = _load(file.readline())
    if (
        not isinstance(first, dict)
        or first.get("type") != "header"
        or first.get("format") != audit_export.FORMAT
    ):
        raise UsageError(f"{path}: not a Flowker audit export (no header line)")
    if first.get("version") != audit_export.VERSION:
        raise UsageError(
            f"{path}: export version {first.get('version')!r}, this tool reads {audit_export.VERSION}"
        )
    notes: list[str] = []
    end: dict[str, Any] | None = None
    events = 0
    for line in file:
        if line.startswith(_EVENT_PREFIX):
            events += 1
            continue
        value = _load(line)
        kind = value.get("type") if isinstance(value, dict) else None
        if kind == "checkpoint":
            notes.append(value.get("note") if isinstance(value.get("note"), str) else "")
        elif kind == "end":
            end = value
    return _Scan(first, notes, end, events)


def verify_file(
    path: Path,
    key: VerifierKey | None,
    saved: str | None,
    progress: TextIO | None = None,
) -> tuple[LogVerification, _Scan]:
    """Verify the export at ``path``; UsageError when it is not one or cannot be read."""
    try:
        with path.open("rb") as file:
            scan = _scan(file, path)
            file.seek(0)
            file.readline()
            return _verify(file, scan, key, saved, progress), scan
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def _verify(
    file: BinaryIO, scan: _Scan, key: VerifierKey | None, saved: str | None, progress: TextIO | None
) -> LogVerification:
    verifier = LogVerifier(key, parsed=True)  # every record comes from orjson.loads
    for note in sorted(scan.notes, key=lambda n: claimed_size(n) or 0):
        verifier.expect(note, "checkpoint in the file")
    if saved is not None:
        verifier.expect(saved, "saved checkpoint")
    add, loads = verifier.add, orjson.loads
    cut, end_seen = len(_EVENT_PREFIX), False
    for line in file:
        if line.startswith(_EVENT_PREFIX) and line.endswith(_EVENT_SUFFIX) and not end_seen:
            try:
                record = loads(line[cut:-2])
            except orjson.JSONDecodeError:
                value = _load(line)
                record = value.get("event") if isinstance(value, dict) else line
            if not add(record):
                break
            if progress is not None and verifier.size % PROGRESS_EVERY == 0:
                print(f"flowker audit verify: {verifier.size:,} events verified", file=progress, flush=True)
            continue
        value = _load(line)
        kind = value.get("type") if isinstance(value, dict) else None
        if kind == "checkpoint" and not end_seen:
            continue
        if kind == "end" and not end_seen:
            end_seen = True
            continue
        # Anything else where an event should be (or after the end) is not one of the log's events.
        if not add(line):
            break
    if verifier.problem is None:
        _check_counts(verifier, scan)
    return verifier.finish()


def _check_counts(verifier: LogVerifier, scan: _Scan) -> None:
    size = verifier.size
    if scan.end is None:
        verifier.report(
            Reason.TRUNCATED, f"truncated: the file ends after event {size} with no end line", size + 1
        )
        return
    claimed = {
        "the header's treeSize": scan.header.get("treeSize"),
        "the end line's events": scan.end.get("events"),
    }
    for what, value in claimed.items():
        if value != size:
            verifier.report(
                Reason.TRUNCATED, f"truncated: the file holds {size} events but {what} is {value!r}", size + 1
            )
            return
    if scan.end.get("checkpoints") != len(scan.notes):
        verifier.report(
            Reason.TRUNCATED,
            f"truncated: the file holds {len(scan.notes)} checkpoints but the end line says "
            f"{scan.end.get('checkpoints')!r}",
            size + 1,
        )


def main(file: Path, checkpoint: Path | None, public_key: Path | None, out: TextIO | None = None) -> int:
    """Run the command; its exit status."""
    out = out if out is not None else sys.stdout
    try:
        key = read_key(public_key) if public_key is not None else None
        saved = read_note(checkpoint) if checkpoint is not None else None
        result, scan = verify_file(file, key, saved, progress=sys.stderr)
    except UsageError as exc:
        print(f"flowker audit verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    origin = scan.header.get("origin")
    print(f"file: {file}", file=out)
    print(f"origin (from the header): {origin}", file=out)
    print(f"events read: {result.total_checked}; verified (sequence, link, hash): {result.checked}", file=out)
    print(f"tree: size {result.tree_size}, root {result.to_dict()['rootHash']}", file=out)
    signatures = f"signatures verified with {key}" if key else "signatures NOT checked (no --public-key)"
    print(
        f"checkpoints: {len(scan.notes)} in the file{' + 1 saved' if saved else ''}; "
        f"{result.checkpoints_checked} held (roots); {signatures}",
        file=out,
    )
    if result.is_valid:
        print("result: VALID", file=out)
        return EXIT_VALID
    where = f" at sequence {result.first_invalid_sequence}" if result.first_invalid_sequence else ""
    event = f" (event {result.first_invalid_id})" if result.first_invalid_id else ""
    print(f"result: INVALID: {result.reason}{where}{event}: {result.message}", file=out)
    return EXIT_INVALID
