"""Offline verification of a large audit export: ``flowker audit verify``'s work, timed.

::

    .venv/bin/python -m bench.audit_verify                      # 1,000,000 events (target: under 10 s)
    .venv/bin/python -m bench.audit_verify --events 100000 --keep /tmp/export.ndjson

It first writes an export file (not timed) of ``--events`` events shaped like an execution's (started,
provider call started / completed, completed: ids, a timestamp, a little metadata), sealed as the audit
writer seals them (``hashScheme`` ``sha256-jcs``), with a checkpoint signed every
``--checkpoint-every`` events, in the format of ``GET /v1/audit/export``. Then, in the same run:

* **baseline**: read the file line by line and SHA-256 each line (what hashing the same bytes once costs);
* **verify**: :func:`flowker.audit_offline.verify_file` with the verifier key and a saved checkpoint
  (both passes: checkpoints, then every event parsed, re-canonicalised, hashed, chained, put in the
  tree; every checkpoint's signature and root).

Prints events/s, wall and CPU seconds of each (the CPU time is what the work costs whatever else runs
on the machine; the wall time is what the auditor waits), and the ratio; the last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from flowker import audit_offline
from flowker.domain import audit_export
from flowker.domain.audit import AuditAction, AuditEvent, ResourceType, seal
from flowker.domain.checkpoint import Checkpoint, sign_checkpoint
from flowker.domain.merkle import Frontier, entry_leaf_hash
from flowker.domain.signed_note import VerifierKey, b64encode, generate_key

ORIGIN = "bench.flowker/audit"
KINDS = ("EXECUTION_STARTED", "PROVIDER_CALL_STARTED", "PROVIDER_CALL_COMPLETED", "EXECUTION_COMPLETED")


def generate(path: Path, count: int, every: int) -> tuple[str, str]:
    """Write the export; answers the verifier key's text and a saved checkpoint (the one at half)."""
    key = generate_key(ORIGIN)
    frontier = Frontier()
    previous: str | None = None
    saved = ""
    workflow = str(uuid.uuid4())
    with path.open("wb") as out:
        out.write(audit_export.header_line(ORIGIN, count, "2026-12-01T12:00:00.000000Z"))
        checkpoints = 0
        for sequence in range(1, count + 1):
            event = AuditEvent(
                event_type=KINDS[sequence % 4],
                action=AuditAction.EXECUTE,
                resource_type=ResourceType.EXECUTION,
                resource_id=str(uuid.uuid4()),
                metadata={"workflowId": workflow, "stepNumber": sequence % 4, "runAttempt": 1},
            )
            minute, second, milli = sequence // 60_000 % 60, sequence // 1000 % 60, sequence % 1000
            stamp = f"2026-12-01T12:{minute:02d}:{second:02d}.{milli:03d}000Z"
            record = seal(event.body(stamp, sequence), previous)
            previous = record["hash"]
            frontier.append(entry_leaf_hash(previous))
            out.write(audit_export.event_line(record))
            if sequence % every == 0 or sequence == count:
                root = frontier.root()
                note = sign_checkpoint(Checkpoint(ORIGIN, sequence, root), key)
                rendered = {
                    "treeSize": sequence,
                    "rootHash": b64encode(root),
                    "createdAt": stamp,
                    "note": note,
                }
                out.write(audit_export.checkpoint_line(rendered))
                checkpoints += 1
                if not saved and sequence >= count // 2:
                    saved = note
        out.write(audit_export.end_line(count, checkpoints))
    return str(key.verifier()), saved


def baseline(path: Path) -> tuple[float, float]:
    """Wall and CPU seconds to SHA-256 each line of the file."""
    started, cpu = time.perf_counter(), time.process_time()
    with path.open("rb") as file:
        for line in file:
            hashlib.sha256(line).digest()
    return time.perf_counter() - started, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_verify", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    parser.add_argument(
        "--keep", type=Path, help="write the export here and keep it (default: a temporary file)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flowker-bench-") as tmp:
        path = args.keep or Path(tmp) / "export.ndjson"
        started = time.perf_counter()
        key_text, saved = generate(path, args.events, args.checkpoint_every)
        generated = time.perf_counter() - started
        size = path.stat().st_size
        print(f"generated {args.events:,} events ({size / 1e6:.0f} MB) in {generated:.1f} s", file=sys.stderr)
        hashed, hashed_cpu = baseline(path)
        key = VerifierKey.parse(key_text)
        started, cpu = time.perf_counter(), time.process_time()
        result, _ = audit_offline.verify_file(path, key, saved, progress=sys.stderr)
        verified, verified_cpu = time.perf_counter() - started, time.process_time() - cpu
    if not result.is_valid:
        print(f"verification failed: {result.message}", file=sys.stderr)
        return 1
    rows = [
        ("baseline: sha256 of each line", hashed, hashed_cpu),
        ("verify: chain, tree, signatures", verified, verified_cpu),
    ]
    for name, seconds, cpu_seconds in rows:
        print(
            f"{name:36} {seconds:7.2f} s ({cpu_seconds:6.2f} s CPU)  {args.events / seconds:12,.0f} events/s"
        )
    print(f"verify / baseline: {verified / hashed:.1f}x; {result.checkpoints_checked:,} checkpoints held")
    print(
        json.dumps(
            {
                "events": args.events,
                "bytes": size,
                "checkpoints": result.checkpoints_checked,
                "baselineSeconds": round(hashed, 3),
                "verifySeconds": round(verified, 3),
                "verifyCpuSeconds": round(verified_cpu, 3),
                "eventsPerSecond": round(args.events / verified),
                "targetSeconds": 10,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
