"""Checkpoints of the audit log: C2SP ``tlog-checkpoint`` bodies, signed as C2SP signed notes.

A checkpoint commits the log, at one tree size, to the root of its RFC 6962 / 9162 Merkle tree, in the
format the transparency-log ecosystem (Go's checksum database, Trillian/Tessera, Sigstore, witnesses)
reads::

    flowker.example/audit
    20852163
    CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

    — flowker.example/audit <base64(key id ‖ Ed25519 signature)>

The body (the note text) is, each line ending in ``"\\n"``:

1. the **origin**, the log's identity: non-empty; Flowker uses its signing key's name (no spaces, no
   ``+``), as the specification recommends, but reads any origin another log chose;
2. the **tree size**, ASCII decimal without leading zeros (``0`` for the empty tree), below 2⁶⁴;
3. the **root hash**, standard padded base64 of the 32-byte SHA-256 root;
4. optional **extension lines**, opaque and each non-empty (the specification discourages them;
   Flowker issues none, but reads and keeps them).

Parsing is strict: anything else is a :class:`CheckpointError` — a missing final newline, an empty
line, a size with a sign, spaces, leading zeros, non-ASCII digits or beyond 64 bits, a hash that is not
canonical base64 of exactly 32 bytes, a control character. So a checkpoint has exactly one spelling and
``parse_checkpoint(c.body()) == c``.

:func:`sign_checkpoint` signs the body with the log's key (:mod:`flowker.domain.signed_note`);
:func:`open_checkpoint` verifies a signed checkpoint against the keys an auditor trusts, then checks
that its origin is the one expected, so that a checkpoint of another log signed by a trusted key is
not taken for ours. A body altered after signing (a tree size or root changed) fails the signature;
a forged body with a fresh signature by an unknown key has no verified signature. Both are
:class:`~flowker.domain.signed_note.NoteError`. Nothing here performs I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from flowker.domain.signed_note import (
    SignerKey,
    VerifierKey,
    b64encode,
    decode_base64,
    open_note,
    sign_note,
)

#: Bytes in a root hash (SHA-256).
ROOT_HASH_BYTES = 32
#: Tree sizes are unsigned 64-bit numbers, as in every implementation of the format.
MAX_TREE_SIZE = 2**64 - 1

_TREE_SIZE = re.compile(r"0|[1-9][0-9]*")


class CheckpointError(ValueError):
    """A checkpoint body refused, or a checkpoint of another origin than the one expected."""


def _check_line(line: str, what: str) -> None:
    if line == "":
        raise CheckpointError(f"empty {what}")
    if any(ord(ch) < 0x20 for ch in line):
        raise CheckpointError(f"control character in the {what}")


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log's origin, its size and root hash, and any extension lines."""

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        size = self.tree_size
        if type(size) is not int or not 0 <= size <= MAX_TREE_SIZE:
            raise CheckpointError("the tree size must be an integer between 0 and 2^64 - 1")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != ROOT_HASH_BYTES:
            raise CheckpointError("the root hash must be 32 bytes")
        for line in self.extensions:
            _check_line(line, "extension line")

    def body(self) -> str:
        """The checkpoint's note text, every line ending in a newline."""
        lines = [self.origin, str(self.tree_size), b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """The checkpoint a note text holds; a CheckpointError unless it is exactly in the format."""
    if not text.endswith("\n"):
        raise CheckpointError("a checkpoint ends with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("a checkpoint has an origin, a tree size and a root hash")
    origin, size, encoded, *extensions = lines
    for line, what in ((origin, "origin"), (size, "tree size"), (encoded, "root hash")):
        _check_line(line, what)
    if not _TREE_SIZE.fullmatch(size) or int(size) > MAX_TREE_SIZE:
        raise CheckpointError("malformed tree size")
    root_hash = decode_base64(encoded)
    if root_hash is None or len(root_hash) != ROOT_HASH_BYTES:
        raise CheckpointError("malformed root hash")
    return Checkpoint(origin, int(size), root_hash, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: SignerKey) -> str:
    """The signed note of ``checkpoint`` (its exact text is what is stored, listed and exported)."""
    return sign_note(checkpoint.body(), [signer])


def open_checkpoint(message: bytes | str, known: Iterable[VerifierKey], origin: str) -> Checkpoint:
    """Verify a signed checkpoint against the ``known`` keys and read it; its origin must be ``origin``.

    Raises NoteError when the note is malformed or no known key's signature verifies, CheckpointError
    when the signed body is not a checkpoint or is another log's.
    """
    note = open_note(message, known)
    checkpoint = parse_checkpoint(note.text)
    if checkpoint.origin != origin:
        raise CheckpointError("the checkpoint is of another origin")
    return checkpoint
