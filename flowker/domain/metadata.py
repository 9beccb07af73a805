"""Free-form ``metadata`` of workflows and executor configurations, within bounds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowker.codes import METADATA_KEY_TOO_LONG, TOO_MANY_METADATA_ENTRIES
from flowker.errors import BadRequest

MAX_ENTRIES = 50
MAX_KEY = 100


def check_metadata(metadata: Mapping[str, Any] | None) -> None:
    """Refuse metadata with too many entries or overlong keys (the original's FLK-0312/0315)."""
    if metadata is None:
        return
    if len(metadata) > MAX_ENTRIES:
        raise BadRequest(f"metadata has more than {MAX_ENTRIES} entries", code=TOO_MANY_METADATA_ENTRIES)
    for key in metadata:
        if len(key) > MAX_KEY:
            raise BadRequest(
                f"metadata key {key[:20]!r}… is longer than {MAX_KEY} characters", code=METADATA_KEY_TOO_LONG
            )
