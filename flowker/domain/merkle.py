"""The audit log's Merkle tree (RFC 9162 §2.1, the hashing of RFC 6962): pure, no I/O, stdlib only.

Hashing (RFC 9162 §2.1.1): a leaf hashes as ``SHA-256(0x00 ‖ leaf bytes)``, an inner node as
``SHA-256(0x01 ‖ left ‖ right)``, and the empty tree as ``SHA-256("")``. A tree of ``n > 1`` leaves splits
at ``k``, the largest power of two below ``n``: its root is the node hash of the roots of the first ``k``
leaves and of the other ``n - k``. In the audit log, leaf ``s - 1`` is the event with sequence number
``s`` and its bytes are the 32 bytes of that event's entry hash (:func:`entry_leaf_hash`).

Storage. Every *complete* subtree — ``2**level`` leaves starting at leaf ``index · 2**level`` — is a
node ``NodeId(level, index)`` whose hash never changes once its last leaf is in. The tree keeps exactly
those, through the small :class:`NodeStore` protocol (an SQLite or MongoDB store keeps them as rows
``(level, index, hash)``; :class:`InMemoryNodeStore` is the reference). The writer, :class:`MerkleTree`,
also holds the :class:`Frontier`: the hashes of the complete subtrees that make up the whole log (one
per set bit of its size ``n``, so at most ``⌊log₂ n⌋ + 1``), loaded with that many reads when it opens.
An append then reads nothing and writes the new leaf plus the subtrees it completes — under two nodes
per append on average, ``1 + ⌊log₂ n⌋`` at worst — in one ``write_nodes`` call per batch.

Reading. Any range the RFC's recursion visits starts at a multiple of the power of two at or above its
length, so it is the concatenation of stored complete subtrees, one per set bit of its length, folded
right to left. Hence the root of any size ``N`` at or below the current size takes ``popcount(N)`` reads
(:func:`root_at`), and an inclusion or consistency proof at most ``2 · bit_length(N)`` reads; each asks
the store once, for all its nodes together.

Proofs. :func:`inclusion_proof` follows RFC 9162 §2.1.3.1 (``PATH(m, D[n])``), :func:`consistency_proof`
§2.1.4.1 (``PROOF(m, D[n])``); hashes are raw 32-byte values ordered from the leaves up, as the RFC
sends them. :func:`verify_inclusion` and :func:`verify_consistency` are the RFC's §2.1.3.2 and §2.1.4.2
algorithms, standalone so an auditor's offline tool can use them with nothing but this module: they
answer ``True`` or ``False`` for any input and never raise. Beyond the RFC's preconditions they hold
that a proof between equal sizes is empty and only the two roots being equal proves it, and that
nothing is consistent with the empty tree (size 0), as transparency-dev/merkle does. ``to_json`` /
``from_json`` give the API shapes ``{leafIndex, treeSize, hashes}`` and ``{from, to, hashes}`` with the
hashes in standard, padded base64.

A range the tree does not hold (``treeSize`` beyond its size, a leaf at or past ``treeSize``, a
consistency proof from 0 or backwards) is a :class:`ProofRangeError`, a ``ValueError`` with no FLK
code: the HTTP layer is to turn it into a 4xx answer. One :class:`MerkleTree` is the only writer of its
store (the audit actor is to own it); readers need only a :class:`NodeStore` and the module functions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofRangeError(ValueError):
    """A size, leaf index or pair of sizes the tree cannot answer for."""


class NodeId(NamedTuple):
    """A complete subtree: ``2**level`` leaves from leaf ``index * 2**level`` on."""

    level: int
    index: int


# --- hashing (RFC 9162 §2.1.1) ---------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 ‖ data)``."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 ‖ left ‖ right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def entry_leaf_hash(entry_hash: str) -> bytes:
    """The leaf hash of an audit event: ``SHA-256(0x00 ‖ the 32 bytes of its hex entry hash)``."""
    if not isinstance(entry_hash, str) or len(entry_hash) != 2 * HASH_SIZE:
        raise ValueError("an entry hash is 64 hexadecimal digits")
    try:
        raw = bytes.fromhex(entry_hash)
    except ValueError:
        raw = b""
    if len(raw) != HASH_SIZE:  # bytes.fromhex skips whitespace
        raise ValueError("an entry hash is 64 hexadecimal digits")
    return leaf_hash(raw)


def _fold(hashes: Sequence[bytes]) -> bytes:
    """The root of consecutive complete subtrees, largest first: folded from the right."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _split(length: int) -> int:
    """``k``, the largest power of two below ``length`` (``length > 1``)."""
    return 1 << ((length - 1).bit_length() - 1)


def _subtrees(start: int, end: int) -> list[NodeId]:
    """The complete subtrees that make up leaves ``[start, end)``, largest first.

    ``start`` is a multiple of the power of two at or above ``end - start``, as for every range the
    RFC's recursion visits, so each piece is aligned to its own size.
    """
    ids: list[NodeId] = []
    while start < end:
        level = (end - start).bit_length() - 1
        assert start % (1 << level) == 0, "unaligned range"
        ids.append(NodeId(level, start >> level))
        start += 1 << level
    return ids


# --- storage ---------------------------------------------------------------------------------------


class NodeStore(Protocol):
    """Where the hashes of complete subtrees live; ``leaf_count`` is how many level-0 nodes it holds."""

    def leaf_count(self) -> int: ...

    def read_nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        """The hashes of ``ids``, in their order; ``KeyError`` when one is missing."""
        ...

    def write_nodes(self, nodes: Sequence[tuple[NodeId, bytes]]) -> None:
        """Adds one append's (or one batch's) nodes, all or none."""
        ...


class InMemoryNodeStore:
    """The reference :class:`NodeStore`: a dict. Refuses to change a node it holds (append-only)."""

    def __init__(self) -> None:
        self._nodes: dict[NodeId, bytes] = {}
        self._leaves = 0
        self.reads = 0  # nodes read so far: lets tests see the O(log n) bounds

    def leaf_count(self) -> int:
        return self._leaves

    def read_nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        self.reads += len(ids)
        return [self._nodes[NodeId(*node)] for node in ids]

    def write_nodes(self, nodes: Sequence[tuple[NodeId, bytes]]) -> None:
        staged: dict[NodeId, bytes] = {}
        for node, digest in nodes:
            key = NodeId(*node)
            held = self._nodes.get(key, staged.get(key))
            if held is not None and held != digest:
                raise ValueError(f"node {tuple(key)} is already stored with another hash")
            staged[key] = digest
        fresh = [key for key in staged if key not in self._nodes]
        self._nodes.update(staged)
        self._leaves += sum(1 for key in fresh if key.level == 0)

    def __len__(self) -> int:
        return len(self._nodes)


# --- the writer ------------------------------------------------------------------------------------


class Frontier:
    """The complete subtrees covering leaves ``[0, size)``, largest first: the root of a growing tree
    in O(log n) memory. An offline verifier can stream a log through one to get its root at any size.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        ids = _subtrees(0, size)
        if size < 0 or len(hashes) != len(ids):
            raise ValueError(f"a frontier of size {size} has {len(ids)} hashes")
        self._size = size
        self._nodes: list[tuple[NodeId, bytes]] = list(zip(ids, hashes, strict=True))

    @classmethod
    def load(cls, store: NodeStore) -> Frontier:
        """The frontier of everything ``store`` holds (``popcount(size)`` reads)."""
        size = store.leaf_count()
        return cls(size, store.read_nodes(_subtrees(0, size)))

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The complete subtrees' hashes, largest (leftmost) first."""
        return tuple(digest for _, digest in self._nodes)

    def copy(self) -> Frontier:
        twin = Frontier()
        twin._size, twin._nodes = self._size, list(self._nodes)
        return twin

    def append(self, leaf: bytes) -> list[tuple[NodeId, bytes]]:
        """Adds a leaf hash; answers the nodes it completes: the leaf, then each parent up."""
        _check_hash(leaf, "a leaf hash")
        node, digest = NodeId(0, self._size), leaf
        completed = [(node, digest)]
        while self._nodes and self._nodes[-1][0].level == node.level:
            _, left = self._nodes.pop()
            node, digest = NodeId(node.level + 1, node.index >> 1), node_hash(left, digest)
            completed.append((node, digest))
        self._nodes.append((node, digest))
        self._size += 1
        return completed

    def root(self) -> bytes:
        """``MTH`` of the leaves so far (``SHA-256("")`` for none)."""
        return _fold([digest for _, digest in self._nodes]) if self._nodes else EMPTY_ROOT


class MerkleTree:
    """The single writer of a :class:`NodeStore`, plus the reads of the module functions.

    Not thread-safe: one owner (the audit actor) appends.
    """

    def __init__(self, store: NodeStore) -> None:
        self._store = store
        self._frontier = Frontier.load(store)

    @property
    def size(self) -> int:
        return self._frontier.size

    def append(self, leaves: Iterable[bytes]) -> int:
        """Adds leaf hashes (32 bytes each, in sequence order) with one store write; answers the size.

        The tree changes only once the store has taken the nodes: a failed write leaves both as they were.
        """
        frontier = self._frontier.copy()
        nodes: list[tuple[NodeId, bytes]] = []
        for leaf in leaves:
            nodes += frontier.append(leaf)
        if nodes:
            self._store.write_nodes(nodes)
        self._frontier = frontier
        return frontier.size

    def root(self, tree_size: int | None = None) -> bytes:
        """The root now (no read), or at an earlier ``tree_size`` (``popcount(tree_size)`` reads)."""
        if tree_size is None or (tree_size == self.size and not isinstance(tree_size, bool)):
            return self._frontier.root()
        return root_at(self._store, tree_size)

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> InclusionProof:
        return inclusion_proof(self._store, leaf_index, tree_size)

    def consistency_proof(self, first: int, second: int) -> ConsistencyProof:
        return consistency_proof(self._store, first, second)


# --- reading: roots and proofs (RFC 9162 §2.1.3.1, §2.1.4.1) --------------------------------------


def _check_range(tree_size: int, size: int) -> None:
    if not isinstance(tree_size, int) or isinstance(tree_size, bool) or tree_size < 0:
        raise ProofRangeError(f"treeSize must be a whole number, got {tree_size!r}")
    if tree_size > size:
        raise ProofRangeError(f"treeSize {tree_size} is beyond the log's {size} events")


def _hash_ranges(store: NodeStore, ranges: Sequence[tuple[int, int]]) -> tuple[bytes, ...]:
    """``MTH`` of each range, with one read for all their nodes."""
    pieces = [_subtrees(start, end) for start, end in ranges]
    wanted = list(dict.fromkeys(node for piece in pieces for node in piece))
    found = dict(zip(wanted, store.read_nodes(wanted), strict=True))
    return tuple(_fold([found[node] for node in piece]) for piece in pieces)


def root_at(store: NodeStore, tree_size: int) -> bytes:
    """``MTH`` of the first ``tree_size`` leaves, from ``popcount(tree_size)`` stored nodes."""
    _check_range(tree_size, store.leaf_count())
    return _hash_ranges(store, [(0, tree_size)])[0] if tree_size else EMPTY_ROOT


def _inclusion_ranges(leaf_index: int, tree_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose roots make ``PATH(leaf_index, D[tree_size])``, from the leaf up."""
    ranges: list[tuple[int, int]] = []
    start, end = 0, tree_size
    while end - start > 1:
        middle = start + _split(end - start)
        if leaf_index < middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((start, middle))
            start = middle
    return ranges[::-1]


def _consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The leaf ranges whose roots make ``PROOF(first, D[second])``, from the bottom up."""
    ranges: list[tuple[int, int]] = []
    start, end, whole = 0, second, True  # ``whole``: the RFC's b, "first's subtree is a root of the tree"
    left = first  # leaves of the old tree within [start, end)
    while left != end - start:
        k = _split(end - start)
        if left <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, left, whole = start + k, left - k, False
    if not whole:
        ranges.append((start, end))
    return ranges[::-1]


def inclusion_proof(store: NodeStore, leaf_index: int, tree_size: int) -> InclusionProof:
    """The audit path of leaf ``leaf_index`` in the tree of the first ``tree_size`` leaves."""
    _check_range(tree_size, store.leaf_count())
    if not isinstance(leaf_index, int) or isinstance(leaf_index, bool) or not 0 <= leaf_index < tree_size:
        raise ProofRangeError(f"leaf {leaf_index!r} is not in a tree of {tree_size} leaves")
    hashes = _hash_ranges(store, _inclusion_ranges(leaf_index, tree_size))
    return InclusionProof(leaf_index, tree_size, hashes)


def consistency_proof(store: NodeStore, first: int, second: int) -> ConsistencyProof:
    """The proof that the tree of ``second`` leaves extends the tree of its first ``first``."""
    _check_range(second, store.leaf_count())
    if not isinstance(first, int) or isinstance(first, bool) or not 0 < first <= second:
        raise ProofRangeError(f"a consistency proof needs 0 < from <= to, got from={first!r}, to={second}")
    hashes = _hash_ranges(store, _consistency_ranges(first, second)) if first < second else ()
    return ConsistencyProof(first, second, hashes)


def frontier_nodes(size: int) -> list[NodeId]:
    """The nodes a :class:`Frontier` of ``size`` leaves holds (what :meth:`Frontier.load` reads)."""
    return _subtrees(0, size)


def proof_nodes(leaf_index: int | None, tree_size: int, first: int | None = None) -> list[NodeId]:
    """Every stored node that the root at ``tree_size`` and, with ``leaf_index``, its inclusion proof or,
    with ``first``, the consistency proof from ``first`` read: an async store can fetch them together
    and answer through a :class:`NodeSnapshot`. Sizes are the caller's to check first."""
    ranges: list[tuple[int, int]] = [(0, tree_size)] if tree_size else []
    if leaf_index is not None and 0 <= leaf_index < tree_size:
        ranges += _inclusion_ranges(leaf_index, tree_size)
    if first is not None and 0 < first < tree_size:
        ranges += [(0, first), *_consistency_ranges(first, tree_size)]
    return list(dict.fromkeys(node for start, end in ranges for node in _subtrees(start, end)))


class NodeSnapshot:
    """A read-only :class:`NodeStore` of nodes fetched beforehand, for a tree of ``size`` leaves."""

    def __init__(self, size: int, nodes: Mapping[NodeId, bytes]) -> None:
        self._size = size
        self._nodes = {NodeId(*node): digest for node, digest in nodes.items()}

    def leaf_count(self) -> int:
        return self._size

    def read_nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        return [self._nodes[NodeId(*node)] for node in ids]

    def write_nodes(self, nodes: Sequence[tuple[NodeId, bytes]]) -> None:
        raise TypeError("a node snapshot is read-only")


# --- verification (RFC 9162 §2.1.3.2, §2.1.4.2), standalone ---------------------------------------


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_hash(value: object, what: str) -> None:
    if not _is_hash(value):
        raise ValueError(f"{what} is {HASH_SIZE} bytes")


def root_from_inclusion(
    leaf: bytes, leaf_index: int, tree_size: int, hashes: Sequence[bytes]
) -> bytes | None:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2 steps 1-4), or None for a malformed one."""
    if not (_is_hash(leaf) and _is_count(leaf_index) and _is_count(tree_size) and leaf_index < tree_size):
        return None
    if not isinstance(hashes, list | tuple):
        return None
    fn, sn, result = leaf_index, tree_size - 1, leaf
    for sibling in hashes:
        if sn == 0 or not _is_hash(sibling):
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    return result if sn == 0 else None


def verify_inclusion(
    leaf: bytes, leaf_index: int, tree_size: int, hashes: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``hashes`` prove leaf hash ``leaf`` at ``leaf_index`` in the ``tree_size`` tree of ``root``."""
    return _is_hash(root) and root_from_inclusion(leaf, leaf_index, tree_size, hashes) == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, hashes: Sequence[bytes]
) -> bool:
    """Whether ``hashes`` prove the tree of ``second`` leaves with ``second_root`` extends the tree of
    ``first`` leaves with ``first_root`` (RFC 9162 §2.1.4.2)."""
    if not (_is_count(first) and _is_count(second) and 0 < first <= second):
        return False
    if not isinstance(hashes, list | tuple) or not all(_is_hash(h) for h in hashes):
        return False
    if not (_is_hash(first_root) and _is_hash(second_root)):
        return False
    if first == second:
        return not hashes and first_root == second_root
    path = list(hashes)
    if not path:
        return False
    if first & (first - 1) == 0:  # an exact power of two: the old root is the first node
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(node, fr), node_hash(node, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, node)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


# --- the API shapes --------------------------------------------------------------------------------


def encode_hashes(hashes: Iterable[bytes]) -> list[str]:
    """Standard, padded base64 of each hash."""
    return [base64.b64encode(h).decode("ascii") for h in hashes]


def decode_hashes(values: object) -> tuple[bytes, ...]:
    """The inverse of :func:`encode_hashes`, strict: a list of base64 strings of 32 bytes each."""
    if not isinstance(values, list):
        raise ValueError("hashes must be a list of base64 strings")
    decoded: list[bytes] = []
    for position, value in enumerate(values):
        try:
            raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != HASH_SIZE or base64.b64encode(raw).decode("ascii") != value:
            raise ValueError(f"hashes[{position}] is not the base64 of {HASH_SIZE} bytes")
        decoded.append(raw)
    return tuple(decoded)


def _field(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if not _is_count(value):
        raise ValueError(f"{name} must be a whole number")
    return int(value)


@dataclass(frozen=True)
class InclusionProof:
    """RFC 9162 §2.1.3: leaf ``leaf_index`` is in the tree of ``tree_size`` leaves."""

    leaf_index: int
    tree_size: int
    hashes: tuple[bytes, ...]

    def verify(self, leaf: bytes, root: bytes) -> bool:
        return verify_inclusion(leaf, self.leaf_index, self.tree_size, self.hashes, root)

    def to_json(self) -> dict[str, Any]:
        return {
            "leafIndex": self.leaf_index,
            "treeSize": self.tree_size,
            "hashes": encode_hashes(self.hashes),
        }

    @classmethod
    def from_json(cls, data: object) -> InclusionProof:
        if not isinstance(data, Mapping):
            raise ValueError("an inclusion proof is an object")
        return cls(_field(data, "leafIndex"), _field(data, "treeSize"), decode_hashes(data.get("hashes")))


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 §2.1.4: the tree of ``second`` leaves extends the tree of its first ``first``."""

    first: int
    second: int
    hashes: tuple[bytes, ...]

    def verify(self, first_root: bytes, second_root: bytes) -> bool:
        return verify_consistency(self.first, self.second, first_root, second_root, self.hashes)

    def to_json(self) -> dict[str, Any]:
        return {"from": self.first, "to": self.second, "hashes": encode_hashes(self.hashes)}

    @classmethod
    def from_json(cls, data: object) -> ConsistencyProof:
        if not isinstance(data, Mapping):
            raise ValueError("a consistency proof is an object")
        return cls(_field(data, "from"), _field(data, "to"), decode_hashes(data.get("hashes")))
