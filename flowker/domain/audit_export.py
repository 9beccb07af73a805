"""The audit log's export format (``GET /v1/audit/export``): NDJSON, one JSON object a line — pure.

Lines, each a JSON object ending in ``"\\n"`` whose ``type`` says what it is:

1. ``{"type": "header", "format": "flowker-audit-export", "version": 1, "origin": …, "treeSize": N,
   "exportedAt": …}``: first, once. ``treeSize``: the events that follow (the log's size when the export
   began); ``origin``: the log's checkpoint origin (its signing key's name).
2. ``{"type": "event", "event": {…}}``: each event in sequence order, ``event`` exactly as stored and
   served by ``GET /v1/audit-events/{id}`` (hashes included).
3. ``{"type": "checkpoint", "treeSize": …, "rootHash": …, "createdAt": …, "note": …}``: each stored
   checkpoint, as ``GET /v1/audit/checkpoints`` lists it (``note`` is the signed note's exact text),
   right after the event of sequence ``treeSize``; those beyond the last event (a truncated log) after
   the last event.
4. ``{"type": "end", "events": E, "checkpoints": C}``: last, once: how many of each came before, so that
   a file cut short is told from a complete one.

Nothing in the file is trusted by the offline verifier but what it recomputes: the header's numbers
are compared with what follows, the checkpoints' signatures with a key the auditor brings.
"""

from __future__ import annotations

from typing import Any

import orjson

FORMAT = "flowker-audit-export"
VERSION = 1
MEDIA_TYPE = "application/x-ndjson"


def header_line(origin: str, tree_size: int, exported_at: str) -> bytes:
    return _line(
        {
            "type": "header",
            "format": FORMAT,
            "version": VERSION,
            "origin": origin,
            "treeSize": tree_size,
            "exportedAt": exported_at,
        }
    )


def event_line(record: dict[str, Any]) -> bytes:
    return _line({"type": "event", "event": record})


def checkpoint_line(rendered: dict[str, Any]) -> bytes:
    """``rendered``: the checkpoint as the API lists it (``{treeSize, rootHash, createdAt, note}``)."""
    return _line({"type": "checkpoint", **rendered})


def end_line(events: int, checkpoints: int) -> bytes:
    return _line({"type": "end", "events": events, "checkpoints": checkpoints})


def _line(value: dict[str, Any]) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)
