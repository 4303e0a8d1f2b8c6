"""Write the log's test vectors into fixtures/ — deterministic: no clock, no randomness.

    fixtures/merkle-vectors.json        RFC 9162 §2.1 roots, inclusion and consistency proofs
    fixtures/note-vectors.json          C2SP signed-note, tlog-checkpoint, tlog-cosignature
    fixtures/test-only-note-keys.json   the Ed25519 seeds behind note-vectors.json (TEST ONLY)

Every value comes from the project's own code (``insutrace.trace.merkle`` and
``insutrace.trace.note``); tests/unit/test_fixtures.py regenerates and diffs the
files and re-verifies them, and tests/interop/go/vectors cross-checks them with
Go's golang.org/x/mod/sumdb/tlog and sumdb/note. Ed25519 signatures (RFC 8032)
are deterministic, so the same seeds give the same bytes on every run.

Usage: python scripts/make_fixtures.py [--out DIR]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from insutrace.trace.checkpoint import Checkpoint
from insutrace.trace.merkle import (
    Node,
    append_leaf,
    consistency_proof,
    frontier_nodes,
    inclusion_proof,
    leaf_hash,
    root_from_frontier,
)
from insutrace.trace.note import (
    ALG_COSIGNATURE_V1,
    NoteSigner,
    Signature,
    cosignature_key_id,
    cosignature_message,
    sign_note,
)

GENERATOR = "scripts/make_fixtures.py"
SIZES = (
    0,
    1,
    2,
    3,
    4,
    5,
    7,
    8,
    9,
    15,
    16,
    17,
    31,
    32,
    33,
    63,
    64,
    65,
    127,
    128,
    129,
    255,
    256,
    257,
)
LEAF_RULE = "leaf 0 is the empty byte string; leaf i >= 1 is the ASCII text 'leaf <i>' (no newline)"
SEED_RULE = "seed = SHA-256('insutrace-test-only:' + name + ':' + counter), counter from 0"
LOG_NAME = "vectors.insutrace.test/log"
WITNESS_NAME = "witness.insutrace.test/w1"
OTHER_NAME = "other.insutrace.test/key"
CHECKPOINT_SIZE = 257
COSIGNATURE_TIME = 1795334400  # 2026-11-22T08:00:00Z, the test suite's fixed clock start


def leaf(i: int) -> bytes:
    return b"" if i == 0 else f"leaf {i}".encode()


def _hexes(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def tree_nodes(size: int) -> dict[Node, bytes]:
    """Every complete subtree of the tree of ``size`` leaves, built by appends."""
    nodes: dict[Node, bytes] = {}
    for i in range(size):
        frontier = {n: nodes[n] for n in frontier_nodes(i)}
        nodes.update(append_leaf(i, leaf_hash(leaf(i)), frontier))
    return nodes


def _within(candidates: list[int], hi: int) -> list[int]:
    return sorted({c for c in candidates if 0 <= c <= hi})


def tree_vector(size: int, nodes: dict[Node, bytes]) -> dict[str, Any]:
    """Root, inclusion proofs for a few indexes, consistency proofs from a few sizes."""
    indexes = _within([0, 1, size // 2, size - 2, size - 1], size - 1)
    olds = _within([0, 1, size // 2, size - 1, size], size)
    return {
        "size": size,
        "root": root_from_frontier(size, nodes).hex(),
        "inclusion": [
            {
                "index": i,
                "leaf_hash": leaf_hash(leaf(i)).hex(),
                "proof": _hexes(inclusion_proof(i, size, nodes)),
            }
            for i in indexes
        ],
        "consistency": [
            {
                "old": m,
                "old_root": root_from_frontier(m, nodes).hex(),
                "proof": _hexes(consistency_proof(m, size, nodes)),
            }
            for m in olds
        ],
    }


def merkle_vectors() -> dict[str, Any]:
    nodes = tree_nodes(max(SIZES))
    return {
        "description": "RFC 6962 Merkle tree test vectors for the InsuTrace log",
        "spec": "RFC 9162 §2.1: leaf hash SHA-256(0x00 || d), node hash SHA-256(0x01 || l || r), "
        "empty root SHA-256(''); inclusion proofs leaf sibling first (§2.1.3), consistency "
        "proofs per §2.1.4 (empty for old = 0 and old = size)",
        "generator": GENERATOR,
        "encoding": "leaves and hashes are lowercase hex",
        "leaves": {"rule": LEAF_RULE, "hex": [leaf(i).hex() for i in range(max(SIZES))]},
        "trees": [tree_vector(size, nodes) for size in SIZES],
    }


def _public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def seed_for(name: str, want_plus: bool = False) -> tuple[bytes, int]:
    """A deterministic seed; with ``want_plus`` the first whose verifier key's base64 has '+'."""
    counter = 0
    while True:
        seed = hashlib.sha256(f"insutrace-test-only:{name}:{counter}".encode()).digest()
        vkey = NoteSigner(name, Ed25519PrivateKey.from_private_bytes(seed)).verifier.vkey()
        if not want_plus or "+" in vkey.split("+", 2)[2]:
            return seed, counter
        counter += 1


def cosignature_vkey(name: str, key: Ed25519PrivateKey) -> str:
    """C2SP tlog-cosignature verifier key: name+hex(key id)+base64(0x04 || public key)."""
    key_id = cosignature_key_id(name, key.public_key())
    blob = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + _public(key)).decode()
    return f"{name}+{key_id.hex()}+{blob}"


def cosign(text: str, name: str, key: Ed25519PrivateKey, timestamp: int) -> Signature:
    """C2SP tlog-cosignature v1: u64 timestamp || Ed25519(cosignature message)."""
    sig = struct.pack(">Q", timestamp) + key.sign(cosignature_message(text, timestamp))
    return Signature(name, cosignature_key_id(name, key.public_key()), sig)


def _flip_last_signature_byte(note: str) -> str:
    text, _, line = note[:-1].rpartition("\n")
    dash, name, b64 = line.split(" ")
    blob = bytearray(base64.b64decode(b64))
    blob[-1] ^= 0x01
    return f"{text}\n{dash} {name} {base64.b64encode(bytes(blob)).decode()}\n"


def note_cases(
    text: str, log: NoteSigner, other: NoteSigner, cosigned: str
) -> list[dict[str, Any]]:
    signed = sign_note(text, log)
    tampered = signed.replace(f"\n{CHECKPOINT_SIZE}\n", f"\n{CHECKPOINT_SIZE + 1}\n", 1)
    renamed = signed.replace(f"— {log.name} ", f"— {log.name}.renamed ", 1)
    separated = sign_note(text, other)[:-1] + "\u2028" + log.sign(text).line()
    cases = [
        ("signed", signed, True, "signed by the log key"),
        ("unknown-signature", sign_note(text, log, other), True, "unknown key ignored"),
        ("cosigned", cosigned, True, "a witness cosignature is an unknown key to the log"),
        ("tampered-text", tampered, False, "text changed after signing"),
        ("bad-known-signature", _flip_last_signature_byte(signed), False, "log signature fails"),
        ("not-signed-by-log", sign_note(text, other), False, "no signature by the log key"),
        ("wrong-key-name", renamed, False, "signature line names another key"),
        ("crlf-line-endings", signed.replace("\n", "\r\n"), False, "control character CR"),
        ("line-separator", separated, False, "U+2028 does not end a signature line"),
    ]
    return [{"name": n, "note": note, "valid": ok, "why": why} for n, note, ok, why in cases]


def note_vectors(root: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """The public note vectors, and the test-only seeds behind them."""
    seeds = {
        LOG_NAME: seed_for(LOG_NAME, want_plus=True),
        WITNESS_NAME: seed_for(WITNESS_NAME),
        OTHER_NAME: seed_for(OTHER_NAME),
    }
    keys = {n: Ed25519PrivateKey.from_private_bytes(s) for n, (s, _) in seeds.items()}
    log, other = NoteSigner(LOG_NAME, keys[LOG_NAME]), NoteSigner(OTHER_NAME, keys[OTHER_NAME])
    checkpoint = Checkpoint(LOG_NAME, CHECKPOINT_SIZE, root)
    text = checkpoint.text()
    witness_key = keys[WITNESS_NAME]
    cosig = cosign(text, WITNESS_NAME, witness_key, COSIGNATURE_TIME)
    cosigned = sign_note(text, log) + cosig.line()
    public = {
        "description": "C2SP signed-note / tlog-checkpoint / tlog-cosignature test vectors",
        "spec": "C2SP signed-note v1.0.0, tlog-checkpoint v1.0.0, tlog-cosignature v1.0.1",
        "generator": GENERATOR,
        "private_keys": "test-only-note-keys.json (test-only seeds, never for real use)",
        "log": {"name": LOG_NAME, "vkey": log.verifier.vkey()},
        "other": {"name": OTHER_NAME, "vkey": other.verifier.vkey()},
        "witness": {"name": WITNESS_NAME, "vkey": cosignature_vkey(WITNESS_NAME, witness_key)},
        "checkpoint": {
            "origin": LOG_NAME,
            "size": CHECKPOINT_SIZE,
            "root": root.hex(),
            "text": text,
            "merkle_vector": f"merkle-vectors.json tree of size {CHECKPOINT_SIZE}",
        },
        "notes": note_cases(text, log, other, cosigned),
        "cosignature": {
            "witness": WITNESS_NAME,
            "timestamp": COSIGNATURE_TIME,
            "message": cosignature_message(text, COSIGNATURE_TIME).decode(),
            "line": cosig.line(),
            "note": cosigned,
        },
    }
    private = {
        "warning": "TEST-ONLY keys for fixtures/note-vectors.json; published, never use them",
        "generator": GENERATOR,
        "rule": SEED_RULE + "; the log key takes the first counter whose verifier key has '+' "
        "in its base64 part",
        "keys": [
            {"name": name, "counter": counter, "seed": seed.hex()}
            for name, (seed, counter) in seeds.items()
        ],
    }
    return public, private


def dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_all(out: Path) -> list[Path]:
    """Write every fixture file into ``out``; return their paths."""
    merkle = merkle_vectors()
    tree = next(t for t in merkle["trees"] if t["size"] == CHECKPOINT_SIZE)
    public, private = note_vectors(bytes.fromhex(tree["root"]))
    files = {
        "merkle-vectors.json": merkle,
        "note-vectors.json": public,
        "test-only-note-keys.json": private,
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_text(dump(data), encoding="utf-8", newline="\n")
    return [out / name for name in files]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parent.parent / "fixtures"
    parser.add_argument("--out", type=Path, default=default, help=f"default {default}")
    for path in write_all(parser.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()
