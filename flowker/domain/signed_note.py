"""Signed notes (C2SP ``signed-note``, the format of ``golang.org/x/mod/sumdb/note``) with Ed25519 keys.

A signed note is a UTF-8 text ending in a newline, a blank line, then one or more signature lines::

    If you think cryptography is the answer to your problem,
    then you don't know what your problem is.

    — PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngo…

A signature line is an em dash (U+2014), a space, the key's name, a space and
``base64(key id ‖ signature)``, where the key id is 4 bytes big-endian and the signature is Ed25519
(RFC 8032) over the note text — every byte of it, its final newline included, the separating blank
line excluded. The key id of an Ed25519 key is the first four bytes of
``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)``. Keys travel as text:

* verifier key: ``<name>+<8 hex key id>+<base64(0x01 ‖ public key)>`` — public, what auditors keep;
* signer key: ``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 ‖ 32-byte seed)>`` — secret; a
  :class:`SignerKey` shows it only through :meth:`SignerKey.to_text`, never in its ``repr`` or ``str``.

Base64 is RFC 4648 standard, padded. Key names are non-empty and hold no Unicode space and no ``+``.

Opening a note (:func:`open_note`) follows the specification and Go's ``note.Open``:

* the whole message must be valid UTF-8 with no ASCII control character but the newline, at most
  :data:`MAX_NOTE_BYTES` long, with no line over :data:`MAX_LINE_BYTES`; the text ends at the *last*
  blank line, and what follows must be signature lines only, each ending in a newline;
* at most :data:`MAX_SIGNATURES` signature lines (the specification requires accepting at least 16;
  Go's limit is 100);
* a signature whose (name, key id) matches no known key is ignored (kept in ``unverified``), even when
  the name or the id alone matches a known key; one whose (name, key id) matches a known key must verify,
  else the whole note is refused (the specification's SHOULD, Go's behaviour); a note with no verified
  signature is refused; repeated signatures by one key are counted once; two known keys with the same
  (name, key id) are an error when a signature needs them.

Where Go is lenient we are stricter, never looser: key ids must be lower-case hex (as every
implementation writes them) and base64 must be canonical (no stray padding bits), so each key, note and
signature has exactly one accepted spelling. Nothing here performs I/O; random bytes for new keys come
from an injectable source.

Errors are :class:`NoteError` (a note refused, with a :class:`NoteProblem`) and :class:`KeyFormatError`
(a key string refused). Their messages never contain key material. They carry no FLK code: the layers
that show them to a client (HTTP, CLI) map them to their own codes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

#: The signature type byte of Ed25519 in key ids and key strings.
ED25519 = 0x01
#: The em dash and space that open a signature line.
SIGNATURE_PREFIX = "\u2014 "
#: Largest note accepted, in bytes (a checkpoint with a few signatures is well under 1 KiB).
MAX_NOTE_BYTES = 1024 * 1024
#: Longest line accepted, in bytes, newline excluded (room for a post-quantum signature of ~5 kB).
MAX_LINE_BYTES = 16 * 1024
#: Most signature lines a note may have.
MAX_SIGNATURES = 100
#: How a masked secret is shown.
MASK = "********"

_HEX_ID = re.compile(r"[0-9a-f]{8}")
_SEED_BYTES = 32
_SIGNATURE_BYTES = 64


class NoteProblem(StrEnum):
    """Why a note was refused."""

    MALFORMED = "malformed note"
    NO_VERIFIED_SIGNATURE = "note has no verifiable signatures"
    BAD_SIGNATURE = "invalid signature"
    AMBIGUOUS_KEY = "ambiguous key"


class NoteError(ValueError):
    """A note refused; ``problem`` says why, ``detail`` says where (never key material)."""

    def __init__(self, problem: NoteProblem, detail: str = "", note: Note | None = None) -> None:
        super().__init__(f"{problem.value}: {detail}" if detail else problem.value)
        self.problem = problem
        self.detail = detail
        #: For NO_VERIFIED_SIGNATURE: the parsed, unverified note (its text must not be trusted).
        self.note = note


class KeyFormatError(ValueError):
    """A verifier or signer key string refused (the message never repeats the key)."""


def is_valid_key_name(name: str) -> bool:
    """A key name: non-empty, no Unicode space (``str.isspace``), no ``+``, no control character."""
    return name != "" and "+" not in name and not any(ch.isspace() or ord(ch) < 0x20 for ch in name)


def key_id(name: str, public_key: bytes) -> int:
    """The Ed25519 key id: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4], big-endian."""
    if len(public_key) != 32:
        raise KeyFormatError("an Ed25519 public key is 32 bytes")
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def decode_base64(text: str) -> bytes | None:
    """Strict standard base64: the alphabet, padding, and the one canonical spelling; else None."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    return raw if base64.b64encode(raw).decode() == text else None


def b64encode(raw: bytes) -> str:
    """Standard padded base64."""
    return base64.b64encode(raw).decode()


def _public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class VerifierKey:
    """A named Ed25519 public key that checks signatures; ``str()`` gives its verifier key string."""

    name: str
    key_id: int
    public_key: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise KeyFormatError("invalid key name")
        if self.key_id != key_id(self.name, self.public_key):
            raise KeyFormatError("key id does not match the name and public key")
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key)
        except ValueError:
            raise KeyFormatError("not an Ed25519 public key") from None

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> VerifierKey:
        return cls(name, key_id(name, public_key) if is_valid_key_name(name) else 0, public_key)

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Read ``<name>+<hex id>+<base64(0x01 ‖ public key)>``; anything else is a KeyFormatError."""
        parts = text.split("+", 2)
        if len(parts) != 3:
            raise KeyFormatError("malformed verifier key")
        name, hex_id, encoded = parts
        return cls._from_parts(name, hex_id, encoded, "verifier")

    @classmethod
    def _from_parts(cls, name: str, hex_id: str, encoded: str, what: str) -> VerifierKey:
        raw = decode_base64(encoded)
        if not is_valid_key_name(name) or not _HEX_ID.fullmatch(hex_id) or not raw:
            raise KeyFormatError(f"malformed {what} key")
        if raw[0] != ED25519:
            raise KeyFormatError(f"unknown {what} key algorithm")
        if len(raw) != 33:
            raise KeyFormatError(f"malformed {what} key")
        if int(hex_id, 16) != key_id(name, raw[1:]):
            raise KeyFormatError(f"{what} key id does not match the name and key")
        return cls(name, int(hex_id, 16), raw[1:])

    def __str__(self) -> str:
        return f"{self.name}+{self.key_id:08x}+{b64encode(bytes([ED25519]) + self.public_key)}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message``."""
        if len(signature) != _SIGNATURE_BYTES:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, repr=False)
class SignerKey:
    """A named Ed25519 private key. Its ``repr``/``str`` mask the seed; :meth:`to_text` reveals it."""

    name: str
    key_id: int
    _seed: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise KeyFormatError("invalid key name")
        if len(self._seed) != _SEED_BYTES:
            raise KeyFormatError("an Ed25519 seed is 32 bytes")
        if self.key_id != key_id(self.name, self.verifier().public_key):
            raise KeyFormatError("key id does not match the name and key")

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> SignerKey:
        if len(seed) != _SEED_BYTES:
            raise KeyFormatError("an Ed25519 seed is 32 bytes")
        public = _public_bytes(Ed25519PrivateKey.from_private_bytes(seed).public_key())
        return cls(name, key_id(name, public) if is_valid_key_name(name) else 0, seed)

    @classmethod
    def parse(cls, text: str) -> SignerKey:
        """Read ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>``; else a KeyFormatError."""
        parts = text.split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise KeyFormatError("malformed signer key")
        _, _, name, hex_id, encoded = parts
        raw = decode_base64(encoded)
        if not is_valid_key_name(name) or not _HEX_ID.fullmatch(hex_id) or not raw:
            raise KeyFormatError("malformed signer key")
        if raw[0] != ED25519:
            raise KeyFormatError("unknown signer key algorithm")
        if len(raw) != 1 + _SEED_BYTES:
            raise KeyFormatError("malformed signer key")
        signer = cls.from_seed(name, raw[1:])
        if signer.key_id != int(hex_id, 16):
            raise KeyFormatError("signer key id does not match the name and key")
        return signer

    def to_text(self) -> str:
        """The signer key string — a secret: store it with care, never log or answer it."""
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{b64encode(bytes([ED25519]) + self._seed)}"

    def verifier(self) -> VerifierKey:
        public = _public_bytes(Ed25519PrivateKey.from_private_bytes(self._seed).public_key())
        return VerifierKey(self.name, key_id(self.name, public), public)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message`` (deterministic, RFC 8032)."""
        return Ed25519PrivateKey.from_private_bytes(self._seed).sign(message)

    def __repr__(self) -> str:
        return f"SignerKey(name={self.name!r}, key_id={self.key_id:#010x}, seed={MASK})"

    __str__ = __repr__


def generate_key(name: str, random_bytes: Callable[[int], bytes] = os.urandom) -> SignerKey:
    """A new signer key named ``name``; its verifier key is ``generate_key(...).verifier()``."""
    if not is_valid_key_name(name):
        raise KeyFormatError("invalid key name")
    return SignerKey.from_seed(name, random_bytes(_SEED_BYTES))


@dataclass(frozen=True)
class Signature:
    """One signature line: the key's name and id, and the signature bytes (without the id)."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        """The signature line, newline included."""
        encoded = b64encode(self.key_id.to_bytes(4, "big") + self.signature)
        return f"{SIGNATURE_PREFIX}{self.name} {encoded}\n"


@dataclass(frozen=True)
class Note:
    """An opened note: its text, the signatures verified, and those by keys not known (ignored)."""

    text: str
    signatures: tuple[Signature, ...]
    unverified: tuple[Signature, ...] = ()


def _check_text(text: str) -> None:
    """Refuse a note text that :func:`open_note` would not give back unchanged."""
    if not text.endswith("\n"):
        raise NoteError(NoteProblem.MALFORMED, "the text must end with a newline")
    _check_message(text.encode("utf-8", "surrogatepass"))


def _check_message(message: bytes) -> str:
    if len(message) > MAX_NOTE_BYTES:
        raise NoteError(NoteProblem.MALFORMED, "note too large")
    try:
        decoded = message.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError(NoteProblem.MALFORMED, "not valid UTF-8") from None
    if any(ord(ch) < 0x20 and ch != "\n" for ch in decoded):
        raise NoteError(NoteProblem.MALFORMED, "control character")
    if any(len(line) > MAX_LINE_BYTES for line in message.split(b"\n")):
        raise NoteError(NoteProblem.MALFORMED, "line too long")
    return decoded


def sign_note(text: str, signers: Iterable[SignerKey], keep: Iterable[Signature] = ()) -> str:
    """The signed note of ``text``: the signatures in ``keep`` (e.g. a witness's cosignature), except
    those by one of ``signers``, then a fresh signature by each signer."""
    signers, keep = list(signers), list(keep)
    if not signers and not keep:
        raise NoteError(NoteProblem.MALFORMED, "a note needs at least one signature")
    _check_text(text)
    message = text.encode()
    fresh = [Signature(s.name, s.key_id, s.sign(message)) for s in signers]
    mine = {(s.name, s.key_id) for s in signers}
    kept = [s for s in keep if (s.name, s.key_id) not in mine]
    for signature in kept:
        if not is_valid_key_name(signature.name) or not signature.signature:
            raise NoteError(NoteProblem.MALFORMED, "invalid signature to keep")
    signed = text + "\n" + "".join(s.line() for s in [*kept, *fresh])
    _check_message(signed.encode())
    return signed


def _parse_signature_line(line: str) -> Signature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError(NoteProblem.MALFORMED, "a line after the blank line is not a signature")
    name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    raw = decode_base64(encoded) if space else None
    if not is_valid_key_name(name) or raw is None or len(raw) < 5:
        raise NoteError(NoteProblem.MALFORMED, "malformed signature line")
    return Signature(name, int.from_bytes(raw[:4], "big"), raw[4:])


def open_note(message: bytes | str, known: Iterable[VerifierKey]) -> Note:
    """Parse ``message`` and verify its signatures against the ``known`` keys; see the module notes."""
    if isinstance(message, str):
        try:
            message = message.encode("utf-8")
        except UnicodeEncodeError:
            raise NoteError(NoteProblem.MALFORMED, "not valid UTF-8") from None
    decoded = _check_message(message)
    split = decoded.rfind("\n\n")
    if split < 0:
        raise NoteError(NoteProblem.MALFORMED, "no blank line before the signatures")
    text, block = decoded[: split + 1], decoded[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError(NoteProblem.MALFORMED, "the signatures must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(NoteProblem.MALFORMED, "too many signatures")
    keys: dict[tuple[str, int], list[VerifierKey]] = {}
    for key in known:
        keys.setdefault((key.name, key.key_id), []).append(key)
    body = text.encode()
    verified: list[Signature] = []
    unverified: list[Signature] = []
    for line in lines:
        signature = _parse_signature_line(line)
        candidates = keys.get((signature.name, signature.key_id))
        if candidates is None:
            if signature not in unverified:
                unverified.append(signature)
            continue
        if len(candidates) > 1:
            raise NoteError(NoteProblem.AMBIGUOUS_KEY, f"{signature.name}+{signature.key_id:08x}")
        if any((s.name, s.key_id) == (signature.name, signature.key_id) for s in verified):
            continue
        if not candidates[0].verify(body, signature.signature):
            raise NoteError(NoteProblem.BAD_SIGNATURE, f"{signature.name}+{signature.key_id:08x}")
        verified.append(signature)
    note = Note(text, tuple(verified), tuple(unverified))
    if not verified:
        raise NoteError(NoteProblem.NO_VERIFIED_SIGNATURE, note=note)
    return note
