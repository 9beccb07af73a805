"""Signed notes and their Ed25519 keys agree byte for byte with Go's ``golang.org/x/mod/sumdb/note``.

The vectors (the ``PeterNeumann`` and ``EnochRoot`` keys, the note they sign, the mangled keys and the
malformed notes) come from golang.org/x/mod's ``sumdb/note/note_test.go`` (GitHub mirror ``golang/mod``,
commit 02c991387e35f9e4c0a9b7ce137717055f8d716d), ported test by test; the rest are our own.
"""

from __future__ import annotations

import base64
import itertools

import pytest

from flowker.domain.signed_note import (
    MAX_LINE_BYTES,
    MAX_NOTE_BYTES,
    KeyFormatError,
    NoteError,
    NoteProblem,
    Signature,
    SignerKey,
    VerifierKey,
    generate_key,
    key_id,
    open_note,
    sign_note,
)

EM = "\u2014"  # the em dash that opens a signature line

# --- Vectors from golang/mod sumdb/note/note_test.go --------------------------------------------------
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_B64 = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
ENOCH_B64 = "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
PETER_SIG = f"{EM} PeterNeumann {PETER_B64}\n"
ENOCH_SIG = f"{EM} EnochRoot {ENOCH_B64}\n"
# TestNewVerifier's two hand-made bad keys, each with its key id adjusted so that only the named check fails.
WRONG_LENGTH_VKEY = "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
UNKNOWN_ALGORITHM_VKEY = "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"


def _signature(name: str, key: int, b64: str) -> Signature:
    return Signature(name, key, base64.b64decode(b64)[4:])


PETER = _signature("PeterNeumann", 0xC74F20A3, PETER_B64)
ENOCH = _signature("EnochRoot", 0xAF0CFE78, ENOCH_B64)


@pytest.fixture
def peter() -> VerifierKey:
    return VerifierKey.parse(PETER_VKEY)


@pytest.fixture
def enoch() -> VerifierKey:
    return VerifierKey.parse(ENOCH_VKEY)


# --- Keys ---------------------------------------------------------------------------------------------
def test_the_verifier_key_vector_parses_and_prints_back_unchanged(peter: VerifierKey) -> None:
    assert (peter.name, peter.key_id) == ("PeterNeumann", 0xC74F20A3)
    assert key_id("PeterNeumann", peter.public_key) == 0xC74F20A3
    assert str(peter) == PETER_VKEY
    assert str(VerifierKey.from_public_key("PeterNeumann", peter.public_key)) == PETER_VKEY


def test_the_signer_key_vector_gives_the_verifier_key_vector() -> None:
    signer = SignerKey.parse(PETER_SKEY)
    assert (signer.name, signer.key_id) == ("PeterNeumann", 0xC74F20A3)
    assert str(signer.verifier()) == PETER_VKEY
    assert signer.to_text() == PETER_SKEY


def _manglings(key: str) -> list[str]:
    """As Go's TestNewVerifier/TestNewSigner: every proper substring, and each byte incremented."""
    subs = {key[i:j] for i, j in itertools.combinations(range(len(key) + 1), 2) if (i, j) != (0, len(key))}
    bumped = {key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :] for i in range(len(key))}
    return sorted(subs | bumped)


def test_every_mangled_verifier_key_is_refused() -> None:
    for text in [*_manglings(PETER_VKEY), WRONG_LENGTH_VKEY, UNKNOWN_ALGORITHM_VKEY]:
        with pytest.raises(KeyFormatError):
            VerifierKey.parse(text)


def test_the_hand_made_bad_keys_fail_the_check_they_were_made_for() -> None:
    with pytest.raises(KeyFormatError, match="malformed"):
        VerifierKey.parse(WRONG_LENGTH_VKEY)
    with pytest.raises(KeyFormatError, match="unknown verifier key algorithm"):
        VerifierKey.parse(UNKNOWN_ALGORITHM_VKEY)


def test_every_mangled_signer_key_is_refused_without_repeating_it() -> None:
    secret = PETER_SKEY.rsplit("+", 2)[-2:]
    for text in _manglings(PETER_SKEY):
        with pytest.raises(KeyFormatError) as refused:
            SignerKey.parse(text)
        assert not any(part in str(refused.value) for part in secret)


def test_keys_in_other_spellings_are_refused() -> None:
    upper_id = PETER_VKEY.replace("c74f20a3", "C74F20A3")  # Go would take it; we print and read lower case
    for text in [upper_id, PETER_VKEY + "\n", " " + PETER_VKEY, PETER_VKEY.replace("+", " "), PETER_SKEY]:
        with pytest.raises(KeyFormatError):
            VerifierKey.parse(text)


def test_a_signer_key_never_shows_its_seed() -> None:
    signer = SignerKey.parse(PETER_SKEY)
    seed_b64 = PETER_SKEY.rsplit("+", 1)[1]
    for shown in (repr(signer), str(signer), f"{signer}", repr([signer])):
        assert "********" in shown
        assert seed_b64 not in shown and "AYEKFALV" not in shown


def test_a_generated_key_is_self_consistent_and_comes_from_the_injected_randomness() -> None:
    seed = bytes(range(32))
    signer = generate_key("flowker.example/audit", lambda n: seed[:n])
    assert signer == SignerKey.from_seed("flowker.example/audit", seed)
    assert SignerKey.parse(signer.to_text()) == signer
    verifier = VerifierKey.parse(str(signer.verifier()))
    assert verifier.key_id == signer.key_id == key_id("flowker.example/audit", verifier.public_key)
    signature = signer.sign(b"hi")
    assert verifier.verify(b"hi", signature)
    assert not verifier.verify(b"hj", signature)
    assert not verifier.verify(b"hi", bytes([signature[0] ^ 1]) + signature[1:])
    assert not verifier.verify(b"hi", signature[:-1])
    assert generate_key("a").to_text() != generate_key("a").to_text()


@pytest.mark.parametrize("name", ["", "a+b", "a b", "a\u00a0b", "a\u3000b", "a\tb", "a\nb"])
def test_key_names_with_a_space_or_a_plus_are_refused(name: str) -> None:
    with pytest.raises(KeyFormatError):
        generate_key(name, lambda n: bytes(n))


# --- Signing ------------------------------------------------------------------------------------------
def test_signing_the_vector_text_gives_gos_exact_note() -> None:
    assert sign_note(TEXT, [SignerKey.parse(PETER_SKEY)]) == TEXT + "\n" + PETER_SIG


def test_a_signers_existing_signature_is_replaced() -> None:
    stale = Signature("PeterNeumann", 0xC74F20A3, b"BADSIGN")
    assert sign_note(TEXT, [SignerKey.parse(PETER_SKEY)], keep=[stale]) == TEXT + "\n" + PETER_SIG


def test_other_signatures_are_kept_before_the_new_one() -> None:
    signed = sign_note(TEXT, [SignerKey.parse(PETER_SKEY)], keep=[ENOCH])
    assert signed == TEXT + "\n" + ENOCH_SIG + PETER_SIG


@pytest.mark.parametrize(
    ("text", "keep"),
    [
        ("abc", ()),  # Go's "short text": no final newline
        (TEXT, (Signature("a+b", 1, b"ABCD"),)),  # Go's "bad name" in a kept signature
        ("tab\there\n", ()),
        ("a" * (MAX_LINE_BYTES + 1) + "\n", ()),
        ("a\n" * (MAX_NOTE_BYTES // 2), ()),
    ],
)
def test_what_could_not_be_opened_is_not_signed(text: str, keep: tuple[Signature, ...]) -> None:
    with pytest.raises(NoteError) as refused:
        sign_note(text, [SignerKey.parse(PETER_SKEY)] if not keep else [], keep=keep)
    assert refused.value.problem is NoteProblem.MALFORMED


def test_a_note_needs_a_signature() -> None:
    with pytest.raises(NoteError):
        sign_note(TEXT, [])


# --- Opening (Go's TestOpen, then ours) ---------------------------------------------------------------
def test_one_signature_verified_and_one_by_an_unknown_key_ignored(peter: VerifierKey) -> None:
    note = open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [peter])
    assert note.text == TEXT
    assert note.signatures == (PETER,)
    assert note.unverified == (ENOCH,)


def test_both_signatures_verified(peter: VerifierKey, enoch: VerifierKey) -> None:
    note = open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [peter, enoch])
    assert note.signatures == (PETER, ENOCH)
    assert note.unverified == ()


def test_a_note_no_known_key_signed_is_refused_with_its_unverified_parse() -> None:
    with pytest.raises(NoteError) as refused:
        open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])
    assert refused.value.problem is NoteProblem.NO_VERIFIED_SIGNATURE
    assert str(refused.value) == "note has no verifiable signatures"
    assert refused.value.note is not None
    assert refused.value.note.signatures == ()
    assert refused.value.note.unverified == (PETER, ENOCH)


def test_a_key_known_twice_is_ambiguous_only_when_a_signature_needs_it(
    peter: VerifierKey, enoch: VerifierKey
) -> None:
    with pytest.raises(NoteError) as refused:
        open_note(TEXT + "\n" + ENOCH_SIG, [enoch, peter, enoch])
    assert refused.value.problem is NoteProblem.AMBIGUOUS_KEY
    assert str(refused.value) == "ambiguous key: EnochRoot+af0cfe78"
    assert open_note(TEXT + "\n" + PETER_SIG, [enoch, peter, enoch]).signatures == (PETER,)


@pytest.mark.parametrize("known", [True, False])
def test_more_than_a_hundred_signatures_are_refused(peter: VerifierKey, known: bool) -> None:
    with pytest.raises(NoteError) as refused:
        open_note(TEXT + "\n" + PETER_SIG * 101, [peter] if known else [])
    assert refused.value.problem is NoteProblem.MALFORMED
    assert open_note(TEXT + "\n" + PETER_SIG * 100, [peter]).signatures == (PETER,)


def test_a_bad_signature_by_a_known_key_refuses_the_note(peter: VerifierKey) -> None:
    with pytest.raises(NoteError) as refused:
        open_note(TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:], [peter])
    assert refused.value.problem is NoteProblem.BAD_SIGNATURE
    assert str(refused.value) == "invalid signature: PeterNeumann+c74f20a3"


def test_repeated_signatures_are_counted_once(peter: VerifierKey) -> None:
    enoch_abcd = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    note = open_note(TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd, [peter])
    assert note.signatures == (PETER,)
    assert note.unverified == (ENOCH, _signature("EnochRoot", 0xAF0CFE78, enoch_abcd.split(" ")[2]))


@pytest.mark.parametrize(
    "message",
    [
        # Go's "invalid encoded message syntax" list
        TEXT.encode(),
        (TEXT + "\n").encode(),
        (TEXT + "\n" + PETER_SIG[:-1]).encode(),
        ("\x01" + TEXT + "\n" + PETER_SIG).encode(),
        b"\xff" + (TEXT + "\n" + PETER_SIG).encode(),
        (TEXT + "\n" + f"{EM} Bad Name {PETER_B64}").encode(),
        (TEXT + "\n" + PETER_SIG + "Unexpected line.\n").encode(),
        # ours
        (TEXT + "\n" + f"{EM} Bad Name {PETER_B64}\n").encode(),
        (TEXT + "\n" + f"- PeterNeumann {PETER_B64}\n").encode(),  # hyphen, not em dash
        (TEXT + "\n" + f"\u2013 PeterNeumann {PETER_B64}\n").encode(),  # en dash
        (TEXT + "\n" + f"{EM}PeterNeumann {PETER_B64}\n").encode(),
        (TEXT + "\n" + f"{EM} PeterNeumann  {PETER_B64}\n").encode(),
        (TEXT + "\n" + f"{EM} PeterNeumann {PETER_B64} \n").encode(),
        (TEXT + "\n" + f"{EM} PeterNeumann {PETER_B64.rstrip('=')}\n").encode(),  # unpadded
        (TEXT + "\n" + f"{EM} PeterNeumann {PETER_B64[:-2]}N=\n").encode(),  # stray padding bits
        (TEXT + "\n" + f"{EM} PeterNeumann {PETER_B64.replace('/', '_')}\n").encode(),  # URL alphabet
        (TEXT + "\n" + f"{EM} PeterNeumann \n").encode(),
        (TEXT + "\n" + f"{EM} PeterNeumann AAAAAA==\n").encode(),  # a key id and no signature
        (TEXT + "\n" + f"{EM} Peter+Neumann {PETER_B64}\n").encode(),
        (TEXT + "\n" + f"{EM} Peter\u00a0Neumann {PETER_B64}\n").encode(),
        (TEXT.replace("\n", "\r\n", 1) + "\n" + PETER_SIG).encode(),
        ("tab\t" + TEXT + "\n" + PETER_SIG).encode(),
        ("a" * (MAX_LINE_BYTES + 1) + "\n" + TEXT + "\n" + PETER_SIG).encode(),
        (TEXT + "\n" + PETER_SIG[:-1] + "A" * MAX_LINE_BYTES + "\n").encode(),
        ("a\n" * (MAX_NOTE_BYTES // 2) + TEXT + "\n" + PETER_SIG).encode(),
        b"\xed\xa0\x80" + (TEXT + "\n" + PETER_SIG).encode(),  # an encoded surrogate is not UTF-8
        b"",
    ],
)
def test_every_malformed_note_is_refused(peter: VerifierKey, message: bytes) -> None:
    with pytest.raises(NoteError) as refused:
        open_note(message, [peter])
    assert refused.value.problem is NoteProblem.MALFORMED


def test_a_string_with_a_lone_surrogate_is_refused(peter: VerifierKey) -> None:
    with pytest.raises(NoteError) as refused:
        open_note("\ud800" + TEXT + "\n" + PETER_SIG, [peter])
    assert refused.value.problem is NoteProblem.MALFORMED


def test_a_signature_sharing_only_the_name_or_only_the_id_of_a_known_key_is_ignored(
    peter: VerifierKey,
) -> None:
    other_id = Signature("PeterNeumann", 0xC74F20A4, PETER.signature).line()
    other_name = Signature("PeterNeuman", 0xC74F20A3, PETER.signature).line()
    with pytest.raises(NoteError) as refused:
        open_note(TEXT + "\n" + other_id + other_name, [peter])
    assert refused.value.problem is NoteProblem.NO_VERIFIED_SIGNATURE
    assert open_note(TEXT + "\n" + other_id + other_name + PETER_SIG, [peter]).signatures == (PETER,)


def test_any_change_to_the_signed_text_breaks_the_signature(peter: VerifierKey) -> None:
    for i, ch in enumerate(TEXT):
        if ch == "\n":
            continue
        altered = TEXT[:i] + ("x" if ch != "x" else "y") + TEXT[i + 1 :]
        with pytest.raises(NoteError) as refused:
            open_note(altered + "\n" + PETER_SIG, [peter])
        assert refused.value.problem is NoteProblem.BAD_SIGNATURE, i
    for altered in (TEXT[:-1] + " \n", TEXT + "more\n", "\n" + TEXT, TEXT.replace("\n", "\n\n", 1)):
        with pytest.raises(NoteError) as refused:
            open_note(altered + "\n" + PETER_SIG, [peter])
        assert refused.value.problem is NoteProblem.BAD_SIGNATURE


def test_sign_then_open_round_trips_any_text_and_keeps_a_witness_signature() -> None:
    log = generate_key("flowker.example/audit", lambda n: b"\x01" * n)
    witness = generate_key("witness.example", lambda n: b"\x02" * n)
    for text in ["\n", "a\n\nb\n", "\u2014 not a signature\n", "trailing blank\n\n", "é ✓ \U0001f600\n"]:
        cosigned = sign_note(text, [witness])
        witness_signature = open_note(cosigned, [witness.verifier()]).signatures[0]
        signed = sign_note(text, [log], keep=[witness_signature])
        note = open_note(signed, [log.verifier()])
        assert note.text == text
        assert [s.name for s in note.signatures] == ["flowker.example/audit"]
        assert note.unverified == (witness_signature,)
        both = open_note(signed, [log.verifier(), witness.verifier()])
        assert [s.name for s in both.signatures] == ["witness.example", "flowker.example/audit"]
