"""The audit log's signed checkpoints as the API shows them, and the key they verify with.

Checkpoints are issued by the audit writer (:mod:`flowker.actors.checkpointer`); here they are only
read, newest (largest tree size) first. ``note`` is the signed note's exact text, so a client verifies
it as stored, with any C2SP ``signed-note`` implementation and the verifier key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flowker.codes import INVALID_AUDIT_CURSOR, INVALID_LIMIT
from flowker.domain.signed_note import b64encode
from flowker.errors import BadRequest
from flowker.store.ports import CheckpointLog, StoredCheckpoint

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def parse_limit(params: Mapping[str, str]) -> int:
    """``limit``: 1..100, default 20; anything else 400 FLK-0309."""
    raw = params.get("limit") or str(DEFAULT_LIMIT)
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}", code=INVALID_LIMIT)
    return int(raw)


def render(checkpoint: StoredCheckpoint) -> dict[str, Any]:
    return {
        "treeSize": checkpoint.tree_size,
        "rootHash": b64encode(checkpoint.root_hash),
        "createdAt": checkpoint.created_at,
        "note": checkpoint.note,
    }


def parse_cursor(params: Mapping[str, str]) -> int | None:
    """``cursor``: the tree size of the previous page's last checkpoint, in decimal; else 400 FLK-0610."""
    raw = params.get("cursor") or None
    if raw is not None and not re.fullmatch(r"[0-9]{1,18}", raw):
        raise BadRequest("cursor is not one this API issued", code=INVALID_AUDIT_CURSOR)
    return int(raw) if raw is not None else None


async def newest(checkpoints: CheckpointLog, params: Mapping[str, str]) -> dict[str, Any]:
    """``{items, nextCursor, hasMore}``: up to ``limit`` checkpoints, largest tree size first, those
    below the ``cursor`` only; the cursor is the page's last tree size, as audit events' is their
    sequence."""
    limit, cursor = parse_limit(params), parse_cursor(params)
    found = await checkpoints.newest(limit + 1, cursor)
    page, more = found[:limit], len(found) > limit
    return {
        "items": [render(c) for c in page],
        "nextCursor": str(page[-1].tree_size) if more and page else "",
        "hasMore": more,
    }
