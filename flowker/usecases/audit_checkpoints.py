"""The audit log's signed checkpoints as the API shows them, and the key they verify with.

Checkpoints are issued by the audit writer (:mod:`flowker.actors.checkpointer`); here they are only
read, newest (largest tree size) first. ``note`` is the signed note's exact text, so a client verifies
it as stored, with any C2SP ``signed-note`` implementation and the verifier key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flowker.codes import INVALID_AUDIT_CURSOR
from flowker.domain.signed_note import b64encode
from flowker.errors import BadRequest
from flowker.store.ports import CheckpointLog, StoredCheckpoint
from flowker.usecases.pagination import parse_limit

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


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
    limit, cursor = parse_limit(params, DEFAULT_LIMIT, MAX_LIMIT), parse_cursor(params)
    found = await checkpoints.newest(limit + 1, cursor)
    page, more = found[:limit], len(found) > limit
    return {
        "items": [render(c) for c in page],
        "nextCursor": str(page[-1].tree_size) if more and page else "",
        "hasMore": more,
    }
