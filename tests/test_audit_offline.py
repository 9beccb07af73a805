"""``flowker audit verify``: an export verified offline, its exit status and what it prints."""

from __future__ import annotations

import base64
import contextlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from flowker import audit_offline, cli
from flowker.domain import audit_export
from flowker.domain.signed_note import generate_key
from tests.helpers.audit_log import KEY, ORIGIN, build_log, checkpoint_note, reseal

SIZE = 30
SIZES = (8, 16, 24, 30)
LOG = build_log(SIZE, legacy=3)


def export_lines(
    records: list[dict[str, Any]], sizes: tuple[int, ...] = SIZES, notes: dict[int, str] | None = None
) -> list[bytes]:
    """An export as ``GET /v1/audit/export`` writes it."""
    notes = notes if notes is not None else {size: checkpoint_note(LOG, size) for size in sizes}
    lines = [audit_export.header_line(ORIGIN, len(records), "2026-12-01T12:00:00.000000Z")]

    def checkpoint(size: int) -> bytes:
        root = base64.b64encode(bytes(32)).decode()  # the file's copy is informative; the note is checked
        return audit_export.checkpoint_line(
            {"treeSize": size, "rootHash": root, "createdAt": "2026-12-01T12:00:00Z", "note": notes[size]}
        )

    for record in records:
        lines.append(audit_export.event_line(record))
        lines += [checkpoint(s) for s in sorted(notes) if s == record["sequence"]]
    lines += [checkpoint(s) for s in sorted(notes) if s > len(records)]
    lines.append(audit_export.end_line(len(records), len(notes)))
    return lines


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(lines))
    return path


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "public-key"
    path.write_text(str(KEY.verifier()) + "\n")
    return path


def run(
    tmp_path: Path, lines: list[bytes], *extra: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    path = write(tmp_path / "export.ndjson", lines)
    status = cli.main(["audit", "verify", str(path), *extra])
    return status, capsys.readouterr().out


def test_an_intact_export_verifies(
    tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run(tmp_path, export_lines(LOG), "--public-key", str(key_file), capsys=capsys)
    assert status == 0, out
    assert "result: VALID" in out and f"verified (sequence, link, hash): {SIZE}" in out
    assert "4 held" in out and f"signatures verified with {KEY.verifier()}" in out


def test_without_a_key_signatures_are_said_to_be_unchecked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run(tmp_path, export_lines(LOG), capsys=capsys)
    assert status == 0 and "signatures NOT checked" in out


def test_the_key_may_be_the_endpoints_json_answer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answer = tmp_path / "key.json"
    answer.write_bytes(orjson.dumps({"verifierKey": str(KEY.verifier())}))
    status, out = run(tmp_path, export_lines(LOG), "--public-key", str(answer), capsys=capsys)
    assert status == 0, out


def test_a_saved_checkpoint_holds_the_log_to_its_root(
    tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "saved.note"
    saved.write_text(checkpoint_note(LOG, 11) + "\n")  # as the sink file keeps it: a blank line after
    status, out = run(
        tmp_path, export_lines(LOG), "--checkpoint", str(saved), "--public-key", str(key_file), capsys=capsys
    )
    assert status == 0 and "+ 1 saved" in out and "5 held" in out, out
    # A log rewritten (and re-exported with checkpoints forged by another key) ...
    forged_log = reseal([*LOG[:4], {**LOG[4], "resourceId": LOG[5]["resourceId"]}, *LOG[5:]], 4)
    other = generate_key(ORIGIN)
    forged_notes = {size: checkpoint_note(forged_log, size, other) for size in SIZES}
    lines = export_lines(forged_log, notes=forged_notes)
    # ... fails the saved checkpoint even when the file's own checkpoints are taken unverified,
    status, out = run(tmp_path, lines, "--checkpoint", str(saved), capsys=capsys)
    assert status == 1 and "checkpoint_mismatch at sequence 11" in out and "saved checkpoint" in out, out
    # and its checkpoints' signatures with the key.
    status, out = run(
        tmp_path, lines, "--checkpoint", str(saved), "--public-key", str(key_file), capsys=capsys
    )
    assert status == 1 and "bad_signature at sequence 8" in out, out


def test_a_saved_checkpoint_beyond_the_export_is_truncation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "saved.note"
    saved.write_text(checkpoint_note(LOG, 30))
    status, out = run(
        tmp_path, export_lines(LOG[:20], sizes=(8, 16)), "--checkpoint", str(saved), capsys=capsys
    )
    assert status == 1 and "truncated at sequence 21" in out, out


def test_a_file_cut_short_or_with_events_removed_is_truncated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = export_lines(LOG)
    status, out = run(tmp_path, lines[:-3], capsys=capsys)
    assert status == 1 and "truncated" in out and "no end line" in out, out
    # The last events dropped and the header and end line made to match: the last checkpoint says more.
    shortened = export_lines(LOG[:26])
    status, out = run(tmp_path, shortened, capsys=capsys)
    assert status == 1 and "truncated at sequence 27" in out, out
    # Counts that do not match what the file holds.
    edited = [*lines[:-1], audit_export.end_line(SIZE + 1, len(SIZES))]
    status, out = run(tmp_path, edited, capsys=capsys)
    assert status == 1 and "truncated" in out and "end line" in out, out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, SIZE - 1), st.data())
def test_flipping_any_byte_of_any_event_line_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], index: int, data: st.DataObject
) -> None:
    lines = export_lines(LOG)
    position = next(i for i, line in enumerate(lines) if line == audit_export.event_line(LOG[index]))
    raw = bytearray(lines[position])
    at = data.draw(st.integers(0, len(raw) - 2))  # the newline aside
    raw[at] = data.draw(st.integers(0, 255).filter(lambda b: b not in (raw[at], 0x0A)))
    with contextlib.suppress(orjson.JSONDecodeError):
        assume(orjson.loads(bytes(raw)) != orjson.loads(lines[position]))
    lines[position] = bytes(raw)
    status, out = run(tmp_path, lines, capsys=capsys)
    assert status == 1 and "result: INVALID" in out, out
    assert f"; verified (sequence, link, hash): {index}\n" in out  # the events before it verified


@pytest.mark.parametrize(
    "problem",
    ["missing", "not an export", "bad key", "bad note"],
)
def test_unusable_input_exits_2(
    tmp_path: Path, key_file: Path, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    export = write(tmp_path / "export.ndjson", export_lines(LOG))
    args = [str(export)]
    if problem == "missing":
        args = [str(tmp_path / "nowhere.ndjson")]
    elif problem == "not an export":
        args = [str(write(tmp_path / "other.ndjson", [b'{"type":"event"}\n']))]
    elif problem == "bad key":
        (tmp_path / "bad-key").write_text("not a key")
        args += ["--public-key", str(tmp_path / "bad-key")]
    else:
        (tmp_path / "bad.note").write_text("hello\n")
        args += ["--checkpoint", str(tmp_path / "bad.note")]
    assert cli.main(["audit", "verify", *args]) == audit_offline.EXIT_USAGE
    assert "flowker audit verify:" in capsys.readouterr().err


def test_a_usage_error_exits_2() -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["audit", "verify"])
    assert exited.value.code == 2


def test_checkpoint_lines_may_stand_anywhere_in_the_file(
    tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = export_lines(LOG)
    checkpoints = [line for line in lines if line.startswith(b'{"type":"checkpoint"')]
    others = [line for line in lines if line not in checkpoints]
    moved = [others[0], *reversed(checkpoints), *others[1:]]
    status, out = run(tmp_path, moved, "--public-key", str(key_file), capsys=capsys)
    assert status == 0 and "4 held" in out, out


def test_lines_after_the_end_line_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = export_lines(LOG[:10], sizes=(8,))
    extra = audit_export.event_line(LOG[10])
    status, out = run(tmp_path, [*lines, extra], capsys=capsys)
    assert status == 1 and "entry_hash_mismatch at sequence 11" in out, out
