"""An RFC 6962 Merkle tree hash computed the naive, recursive way, from audit events' hex entry hashes:
independent of flowker.domain.merkle, so tests can check the service's proofs against it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def naive_root(entry_hashes: Sequence[str]) -> bytes:
    """``MTH`` (RFC 6962 §2.1) of the leaves whose bytes are the 32 bytes of each hex entry hash."""
    return _mth([bytes.fromhex(h) for h in entry_hashes])


def naive_leaf(entry_hash: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(entry_hash)).digest()


def _mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()
