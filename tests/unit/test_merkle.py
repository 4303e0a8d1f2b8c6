"""trace/merkle.py against a naive, recursive RFC 9162 §2.1 reference (Hypothesis)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insutrace.trace.errors import VerificationError
from insutrace.trace.merkle import (
    EMPTY_ROOT,
    Node,
    append_leaf,
    consistency_proof,
    consistency_proof_nodes,
    frontier_nodes,
    inclusion_proof,
    inclusion_proof_nodes,
    leaf_hash,
    root_from_frontier,
    verify_consistency,
    verify_inclusion,
)

# --- the reference: RFC 9162 §2.1, transcribed --------------------------------------------


def ref_leaf(d: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + d).digest()


def ref_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def ref_split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    """§2.1.1 MTH(D[n])."""
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return ref_leaf(d[0])
    k = ref_split(len(d))
    return ref_node(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    """§2.1.3.1 PATH(m, D[n])."""
    if len(d) == 1:
        return []
    k = ref_split(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """§2.1.4.1 SUBPROOF(m, D[n], b)."""
    if m == len(d):
        return [] if b else [ref_mth(d)]
    k = ref_split(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: list[bytes]) -> list[bytes]:
    """§2.1.4.1 PROOF(m, D[n]); empty for m = 0 (no old tree to prove)."""
    return [] if m == 0 else ref_subproof(m, d, True)


# --- helpers --------------------------------------------------------------------------------


def build(entries: list[bytes]) -> dict[Node, bytes]:
    """Every complete subtree, as the ledger stores them: append by append."""
    nodes: dict[Node, bytes] = {}
    for i, entry in enumerate(entries):
        frontier = {n: nodes[n] for n in frontier_nodes(i)}
        nodes.update(append_leaf(i, leaf_hash(entry), frontier))
    return nodes


def only(nodes: dict[Node, bytes], wanted: list[Node]) -> dict[Node, bytes]:
    """The mapping a storage read of exactly ``wanted`` would give."""
    return {n: nodes[n] for n in wanted}


def flip(proof: list[bytes], i: int, bit: int) -> list[bytes]:
    h = bytearray(proof[i])
    h[bit // 8] ^= 1 << (bit % 8)
    return [*proof[:i], bytes(h), *proof[i + 1 :]]


entries_st = st.lists(st.binary(max_size=8), max_size=70)
nonempty_st = st.lists(st.binary(max_size=8), min_size=1, max_size=70)
bit_st = st.integers(0, 255)


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int]:
    entries = draw(nonempty_st)
    return entries, draw(st.integers(0, len(entries) - 1))


@st.composite
def tree_and_old_size(draw: st.DrawFn, min_old: int = 0) -> tuple[list[bytes], int]:
    entries = draw(nonempty_st)
    return entries, draw(st.integers(min_old, len(entries)))


# --- properties -------------------------------------------------------------------------------


def test_known_answers() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"") == ref_leaf(b"")
    assert root_from_frontier(0, {}) == EMPTY_ROOT


@given(entries_st)
def test_root_matches_reference_at_every_size(entries: list[bytes]) -> None:
    nodes = build(entries)
    for size in range(len(entries) + 1):
        frontier = only(nodes, frontier_nodes(size))
        assert root_from_frontier(size, frontier) == ref_mth(entries[:size])


@given(tree_and_index())
def test_inclusion_matches_reference_and_verifies(case: tuple[list[bytes], int]) -> None:
    entries, index = case
    size, nodes = len(entries), build(entries)
    proof = inclusion_proof(index, size, only(nodes, inclusion_proof_nodes(index, size)))
    assert proof == ref_path(index, entries)
    verify_inclusion(ref_leaf(entries[index]), index, size, proof, ref_mth(entries))


@given(tree_and_old_size())
def test_consistency_matches_reference_and_verifies(case: tuple[list[bytes], int]) -> None:
    entries, old = case
    size, nodes = len(entries), build(entries)
    proof = consistency_proof(old, size, only(nodes, consistency_proof_nodes(old, size)))
    assert proof == ref_proof(old, entries)
    verify_consistency(old, size, ref_mth(entries[:old]), ref_mth(entries), proof)


@given(tree_and_index(), st.data())
def test_inclusion_with_one_flipped_hash_is_rejected(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    entries, index = case
    proof, root, leaf = ref_path(index, entries), ref_mth(entries), ref_leaf(entries[index])
    # position len(proof) flips the leaf, len(proof) + 1 the root
    where, bit = data.draw(st.integers(0, len(proof) + 1)), data.draw(bit_st)
    values = flip([*proof, leaf, root], where, bit)
    *proof, leaf, root = values
    with pytest.raises(VerificationError, match="inclusion proof for leaf"):
        verify_inclusion(leaf, index, len(entries), proof, root)


@given(tree_and_old_size(min_old=1), st.data())
def test_consistency_with_one_flipped_hash_is_rejected(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    """Old size 0 is left out: the empty tree is a prefix of every tree, whatever the roots."""
    entries, old = case
    size = len(entries)
    values = [*ref_proof(old, entries), ref_mth(entries[:old]), ref_mth(entries)]
    where, bit = data.draw(st.integers(0, len(values) - 1)), data.draw(bit_st)
    *proof, old_root, new_root = flip(values, where, bit)
    with pytest.raises(VerificationError):
        verify_consistency(old, size, old_root, new_root, proof)


@given(tree_and_index(), st.data())
def test_inclusion_of_wrong_length_is_rejected(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    entries, index = case
    proof, root = ref_path(index, entries), ref_mth(entries)
    longer = [*proof, data.draw(st.binary(min_size=32, max_size=32))]
    with pytest.raises(VerificationError, match="too long"):
        verify_inclusion(ref_leaf(entries[index]), index, len(entries), longer, root)
    if proof:
        with pytest.raises(VerificationError, match="too short"):
            verify_inclusion(ref_leaf(entries[index]), index, len(entries), proof[:-1], root)


@given(tree_and_old_size(), st.data())
def test_consistency_of_wrong_length_is_rejected(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    entries, old = case
    size, proof = len(entries), ref_proof(old, entries)
    old_root, new_root = ref_mth(entries[:old]), ref_mth(entries)
    longer = [*proof, data.draw(st.binary(min_size=32, max_size=32))]
    with pytest.raises(VerificationError):
        verify_consistency(old, size, old_root, new_root, longer)
    if proof:
        with pytest.raises(VerificationError):
            verify_consistency(old, size, old_root, new_root, proof[:-1])


@given(tree_and_index())
def test_inclusion_at_another_index_is_rejected(case: tuple[list[bytes], int]) -> None:
    entries, index = case
    if len(entries) < 2:
        return
    other = (index + 1) % len(entries)
    proof, root = ref_path(index, entries), ref_mth(entries)
    if ref_leaf(entries[index]) == ref_leaf(entries[other]) or proof == ref_path(other, entries):
        return  # duplicate entries make both claims true
    with pytest.raises(VerificationError):
        verify_inclusion(ref_leaf(entries[index]), other, len(entries), proof, root)


@pytest.mark.parametrize(("index", "size"), [(-1, 5), (5, 5), (0, 0)])
def test_inclusion_index_outside_tree(index: int, size: int) -> None:
    with pytest.raises(VerificationError, match="outside a tree"):
        verify_inclusion(EMPTY_ROOT, index, size, [], EMPTY_ROOT)
    with pytest.raises(VerificationError, match="outside a tree"):
        inclusion_proof_nodes(index, size)


def test_consistency_sizes_out_of_order() -> None:
    with pytest.raises(VerificationError, match="old <= new"):
        verify_consistency(5, 4, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(VerificationError, match="old <= new"):
        consistency_proof_nodes(-1, 4)


def test_equal_sizes_need_equal_roots_and_an_empty_proof() -> None:
    root = ref_mth([b"a", b"b"])
    verify_consistency(2, 2, root, root, [])
    with pytest.raises(VerificationError, match="different roots"):
        verify_consistency(2, 2, root, EMPTY_ROOT, [])
    with pytest.raises(VerificationError, match="must be empty"):
        verify_consistency(2, 2, root, root, [root])
    with pytest.raises(VerificationError, match="must be empty"):
        verify_consistency(0, 2, EMPTY_ROOT, root, [root])


def test_append_leaf_returns_exactly_the_completed_subtrees() -> None:
    nodes = build([b"a", b"b", b"c"])
    new = append_leaf(3, leaf_hash(b"d"), only(nodes, frontier_nodes(3)))
    assert set(new) == {(0, 3), (1, 1), (2, 0)}
    assert new[(2, 0)] == ref_mth([b"a", b"b", b"c", b"d"])
