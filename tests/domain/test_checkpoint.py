"""Checkpoint bodies (C2SP tlog-checkpoint) and their signing and verification.

Real checkpoints: signed tree heads served by Go's checksum database, sum.golang.org, whose body is this
same format (origin ``go.sum database tree``), verified with the verifier key the go command ships
(golang/go ``src/cmd/go/internal/modfetch/key.go``). The notes were found quoted in public write-ups; that
they verify under Go's key is what shows they are genuine. The unsigned body example is the one in the
C2SP tlog-checkpoint specification (C2SP/C2SP ``tlog-checkpoint.md``).
"""

from __future__ import annotations

import base64

import pytest

from flowker.domain.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    CheckpointError,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from flowker.domain.signed_note import (
    NoteError,
    NoteProblem,
    Signature,
    SignerKey,
    VerifierKey,
    generate_key,
    open_note,
    sign_note,
)

EM = "\u2014"
GO_SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
GO_ORIGIN = "go.sum database tree"
GO_CHECKPOINTS = [
    (
        15368405,
        "/g9am3I6YWNKaZX/jkne1fqd9zEyjss+JXyPXG0WfkY=",
        "Az3grqJGUaSGukG9p8nI2vKgiFn7qGHxn0W+mrwyI6Gz3F0t1J3LzmWk/p96Ybf295EjwdSwlzgijq5WA9d1Ded7owM=",
    ),
    (
        59045944,
        "LE6Lx+GNVyuFBv/jKcFIiPkG1WC7DHwG0clpfN/TBlA=",
        "Az3grk9ctaTv+CITXOwxCEHU3APAw5X7Ck14+fvFlh0GCktwX15+XPzy//GgL2G50ZgY05e8eXFTWcvW6pN5tozsLQQ=",
    ),
    (
        63512409,
        "F7eHRPqN/cqPtqti14NKdGGaI1Giw8coWP3KxihFZbg=",
        "Az3gri1OBHKT87Xj8UXU8zjoHGy/X+7Nl94f8TZkELVaasolmGApUsWqwVG9vE6hgqYb/ph/w2vdkLIVRH7bMB/FPQ4=",
    ),
]
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_SIGNATURE = (
    f"{EM} example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
ORIGIN = "flowker.example/audit"
ROOT = bytes(range(32))


def _go_note(size: int, root: str, signature: str) -> str:
    return f"{GO_ORIGIN}\n{size}\n{root}\n\n{EM} sum.golang.org {signature}\n"


@pytest.fixture
def signer() -> SignerKey:
    return generate_key(ORIGIN, lambda n: b"\x07" * n)


@pytest.mark.parametrize(("size", "root", "signature"), GO_CHECKPOINTS)
def test_real_sum_golang_org_checkpoints_verify_with_gos_key(size: int, root: str, signature: str) -> None:
    go_key = VerifierKey.parse(GO_SUMDB_VKEY)
    checkpoint = open_checkpoint(_go_note(size, root, signature), [go_key], GO_ORIGIN)
    assert checkpoint == Checkpoint(GO_ORIGIN, size, base64.b64decode(root))
    with pytest.raises(NoteError) as refused:
        open_checkpoint(_go_note(size + 1, root, signature), [go_key], GO_ORIGIN)
    assert refused.value.problem is NoteProblem.BAD_SIGNATURE


def test_the_specifications_example_parses_and_formats_back_unchanged() -> None:
    checkpoint = parse_checkpoint(SPEC_BODY)
    assert (checkpoint.origin, checkpoint.tree_size, checkpoint.extensions) == (
        "example.com/behind-the-sofa",
        20852163,
        (),
    )
    assert checkpoint.body() == SPEC_BODY
    # its signature is by a key nobody has: a well-formed note with no verified signature
    with pytest.raises(NoteError) as refused:
        open_note(SPEC_BODY + "\n" + SPEC_SIGNATURE, [])
    assert refused.value.problem is NoteProblem.NO_VERIFIED_SIGNATURE
    assert refused.value.note is not None
    [signature] = refused.value.note.unverified
    assert (signature.name, signature.key_id) == ("example.com/behind-the-sofa", 0x033DE0AE)


@pytest.mark.parametrize(
    "checkpoint",
    [
        Checkpoint(ORIGIN, 0, ROOT),
        Checkpoint(ORIGIN, 1, ROOT),
        Checkpoint(ORIGIN, MAX_TREE_SIZE, ROOT),
        Checkpoint("any origin, even with spaces", 42, ROOT, ("ext one", "— ext two +")),
    ],
)
def test_bodies_round_trip(checkpoint: Checkpoint) -> None:
    body = checkpoint.body()
    assert body.endswith("\n") and body.count("\n") == 3 + len(checkpoint.extensions)
    assert parse_checkpoint(body) == checkpoint


def test_the_body_is_exactly_the_three_lines() -> None:
    root = base64.b64encode(ROOT).decode()
    assert Checkpoint(ORIGIN, 1234, ROOT).body() == f"{ORIGIN}\n1234\n{root}\n"
    assert Checkpoint(ORIGIN, 0, ROOT, ("x",)).body() == f"{ORIGIN}\n0\n{root}\nx\n"


ROOT_B64 = base64.b64encode(ROOT).decode()
URL_SAFE_ROOT = base64.urlsafe_b64encode(bytes([0xFF] * 32)).decode()


@pytest.mark.parametrize(
    "body",
    [
        f"{ORIGIN}\n5\n{ROOT_B64}",  # no final newline
        f"{ORIGIN}\n5\n",
        f"{ORIGIN}\n{ROOT_B64}\n",
        f"\n5\n{ROOT_B64}\n",  # empty origin
        f"{ORIGIN}\n\n{ROOT_B64}\n",
        f"{ORIGIN}\n5\n\n",
        f"{ORIGIN}\n5\n{ROOT_B64}\n\n",  # an empty extension line
        f"{ORIGIN}\n5\n{ROOT_B64}\next\n\n",
        *(
            f"{ORIGIN}\n{size}\n{ROOT_B64}\n"
            for size in ("+5", "-1", " 5", "5 ", "05", "00", "1_000", "5.0", "0x5", "\u0665", "five")
        ),
        f"{ORIGIN}\n{MAX_TREE_SIZE + 1}\n{ROOT_B64}\n",
        f"{ORIGIN}\n5\n{base64.b64encode(ROOT[:31]).decode()}\n",
        f"{ORIGIN}\n5\n{base64.b64encode(ROOT + b'x').decode()}\n",
        f"{ORIGIN}\n5\n{ROOT_B64.rstrip('=')}\n",  # unpadded
        f"{ORIGIN}\n5\n{ROOT_B64[:-2]}9=\n",  # non-zero padding bits: not the canonical spelling
        f"{ORIGIN}\n5\n{URL_SAFE_ROOT}\n",  # URL-safe alphabet
        f"{ORIGIN}\n5\n {ROOT_B64}\n",
        f"{ORIGIN}\r\n5\n{ROOT_B64}\n",
        f"{ORIGIN}\t\n5\n{ROOT_B64}\n",
        f"{ORIGIN}\n5\n{ROOT_B64}\next\x00\n",
    ],
)
def test_every_malformed_body_is_refused(body: str) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint(body)


@pytest.mark.parametrize(
    "fields",
    [
        ("", 1, ROOT, ()),
        ("a\nb", 1, ROOT, ()),
        (ORIGIN, -1, ROOT, ()),
        (ORIGIN, MAX_TREE_SIZE + 1, ROOT, ()),
        (ORIGIN, True, ROOT, ()),
        (ORIGIN, 5.0, ROOT, ()),
        (ORIGIN, "5", ROOT, ()),
        (ORIGIN, 1, ROOT_B64[:32], ()),
        (ORIGIN, 1, ROOT[:31], ()),
        (ORIGIN, 1, ROOT, ("",)),
        (ORIGIN, 1, ROOT, ("a\nb",)),
    ],
)
def test_a_checkpoint_that_could_not_be_written_is_not_made(fields: tuple) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint(*fields)


def test_a_signed_checkpoint_opens_with_the_logs_verifier_key(signer: SignerKey) -> None:
    checkpoint = Checkpoint(ORIGIN, 7, ROOT)
    note = sign_checkpoint(checkpoint, signer)
    assert note.startswith(checkpoint.body() + "\n" + f"{EM} {ORIGIN} ")
    verifier_key = VerifierKey.parse(str(signer.verifier()))  # as an auditor keeps it
    assert open_checkpoint(note, [verifier_key], ORIGIN) == checkpoint
    assert open_checkpoint(note.encode(), [verifier_key], ORIGIN) == checkpoint


def _replace_body(note: str, body: str) -> str:
    return body + note[note.rindex("\n\n") + 1 :]


def test_a_checkpoint_whose_size_or_root_was_altered_is_refused(signer: SignerKey) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 7, ROOT), signer)
    altered = [
        Checkpoint(ORIGIN, 6, ROOT),
        Checkpoint(ORIGIN, 8, ROOT),
        Checkpoint(ORIGIN, 7, bytes([ROOT[0] ^ 1]) + ROOT[1:]),
        Checkpoint(ORIGIN, 7, ROOT[:-1] + bytes([ROOT[-1] ^ 0x80])),
        Checkpoint(ORIGIN, 7, ROOT, ("extra",)),
        Checkpoint(ORIGIN + "x", 7, ROOT),
    ]
    for checkpoint in altered:
        with pytest.raises(NoteError) as refused:
            open_checkpoint(_replace_body(note, checkpoint.body()), [signer.verifier()], checkpoint.origin)
        assert refused.value.problem is NoteProblem.BAD_SIGNATURE


def test_a_checkpoint_re_signed_without_the_logs_key_is_refused(signer: SignerKey) -> None:
    forger = generate_key(ORIGIN, lambda n: b"\x08" * n)  # same name, another key: another key id
    forged = sign_checkpoint(Checkpoint(ORIGIN, 3, ROOT), forger)
    with pytest.raises(NoteError) as refused:
        open_checkpoint(forged, [signer.verifier()], ORIGIN)
    assert refused.value.problem is NoteProblem.NO_VERIFIED_SIGNATURE
    # the forger can copy the log's key id into the line, but not make the signature verify
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    spoofed = body + "\n" + Signature(ORIGIN, signer.key_id, forger.sign(body.encode())).line()
    with pytest.raises(NoteError) as refused:
        open_checkpoint(spoofed, [signer.verifier()], ORIGIN)
    assert refused.value.problem is NoteProblem.BAD_SIGNATURE


def test_another_logs_checkpoint_is_not_taken_for_ours(signer: SignerKey) -> None:
    other = Checkpoint("other.example/log", 7, ROOT)
    with pytest.raises(CheckpointError, match="another origin"):
        open_checkpoint(sign_checkpoint(other, signer), [signer.verifier()], ORIGIN)


def test_a_signed_note_that_is_not_a_checkpoint_is_refused(signer: SignerKey) -> None:
    with pytest.raises(CheckpointError):
        open_checkpoint(sign_note("hello\n", [signer]), [signer.verifier()], ORIGIN)


def test_a_witness_cosigned_checkpoint_opens_with_either_key(signer: SignerKey) -> None:
    witness = generate_key("witness.example", lambda n: b"\x09" * n)
    checkpoint = Checkpoint(ORIGIN, 9, ROOT)
    note = sign_checkpoint(checkpoint, signer)
    witness_signature = Signature(witness.name, witness.key_id, witness.sign(checkpoint.body().encode()))
    cosigned = note + witness_signature.line()
    assert open_checkpoint(cosigned, [signer.verifier()], ORIGIN) == checkpoint
    assert open_checkpoint(cosigned, [witness.verifier()], ORIGIN) == checkpoint
    assert open_note(cosigned, [signer.verifier()]).unverified == (witness_signature,)
