"""RFC 6962 / RFC 9162 §2.1 Merkle tree hashing, proofs and their verification.

    leaf hash  = SHA-256(0x00 || entry)
    node hash  = SHA-256(0x01 || left || right)
    MTH({})    = SHA-256("")
    for n > 1, MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n.

This module only computes. Storage keeps the hashes of *complete* subtrees, addressed
as ``(level, index)``: the node covering leaves ``[index·2^level, (index+1)·2^level)``.
Every range that a proof or a root needs is a right fold over such nodes, so the
functions below first say which nodes they need (``*_nodes``) and then compute
from a mapping the caller filled (one storage read per node, O(log n) nodes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from .errors import VerificationError

__all__ = [
    "EMPTY_ROOT",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "Node",
    "append_leaf",
    "consistency_proof",
    "consistency_proof_nodes",
    "frontier_nodes",
    "inclusion_proof",
    "inclusion_proof_nodes",
    "leaf_hash",
    "node_hash",
    "range_hash",
    "range_nodes",
    "root_from_frontier",
    "verify_consistency",
    "verify_inclusion",
]

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

Node = tuple[int, int]
"""A complete subtree: (level, index) covers leaves [index << level, (index + 1) << level)."""


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: SHA-256(0x01 || MTH(left) || MTH(right))."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k (n > 1): the RFC 6962 split point."""
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(lo: int, hi: int) -> list[Node]:
    """Complete subtrees covering [lo, hi), largest first.

    Valid for the ranges RFC 6962 recursion produces: lo is a multiple of the
    smallest power of two >= hi - lo (always true for roots and proof elements).
    """
    nodes: list[Node] = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        nodes.append((level, lo >> level))
        lo += 1 << level
    return nodes


def range_hash(lo: int, hi: int, hashes: Mapping[Node, bytes]) -> bytes:
    """MTH(D[lo:hi]) from the complete subtrees of :func:`range_nodes`."""
    if lo == hi:
        return EMPTY_ROOT
    nodes = range_nodes(lo, hi)
    acc = hashes[nodes[-1]]
    for node in reversed(nodes[:-1]):
        acc = node_hash(hashes[node], acc)
    return acc


def frontier_nodes(size: int) -> list[Node]:
    """The complete subtrees whose fold is the root of a tree of ``size`` leaves."""
    return range_nodes(0, size)


def root_from_frontier(size: int, hashes: Mapping[Node, bytes]) -> bytes:
    """MTH(D[0:size]) from the frontier (see :func:`frontier_nodes`)."""
    return range_hash(0, size, hashes)


def _inclusion_ranges(index: int, lo: int, hi: int) -> list[tuple[int, int]]:
    """RFC 9162 §2.1.3.1 PATH(m, D[lo:hi]) as ranges, leaf sibling first."""
    ranges: list[tuple[int, int]] = []
    while hi - lo > 1:
        k = _largest_power_of_two_below(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo = lo + k
    ranges.reverse()
    return ranges


def _consistency_ranges(m: int, lo: int, hi: int, whole: bool) -> list[tuple[int, int]]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[lo:hi], b) as ranges."""
    if m == hi - lo:
        return [] if whole else [(lo, hi)]
    k = _largest_power_of_two_below(hi - lo)
    if m <= k:
        return [*_consistency_ranges(m, lo, lo + k, whole), (lo + k, hi)]
    return [*_consistency_ranges(m - k, lo + k, hi, False), (lo, lo + k)]


def _check_index(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise VerificationError(f"leaf index {index} is outside a tree of size {size}")


def _check_sizes(old: int, new: int) -> None:
    if not 0 <= old <= new:
        raise VerificationError(f"consistency needs 0 <= old <= new, got old={old}, new={new}")


def _nodes_of(ranges: Sequence[tuple[int, int]]) -> list[Node]:
    return [node for lo, hi in ranges for node in range_nodes(lo, hi)]


def inclusion_proof_nodes(index: int, size: int) -> list[Node]:
    """The stored nodes an inclusion proof for ``index`` in a tree of ``size`` reads."""
    _check_index(index, size)
    return _nodes_of(_inclusion_ranges(index, 0, size))


def inclusion_proof(index: int, size: int, hashes: Mapping[Node, bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 inclusion path, leaf sibling first."""
    _check_index(index, size)
    return [range_hash(lo, hi, hashes) for lo, hi in _inclusion_ranges(index, 0, size)]


def consistency_proof_nodes(old: int, new: int) -> list[Node]:
    """The stored nodes a consistency proof between ``old`` and ``new`` reads."""
    _check_sizes(old, new)
    if old in (0, new):
        return []
    return _nodes_of(_consistency_ranges(old, 0, new, True))


def consistency_proof(old: int, new: int, hashes: Mapping[Node, bytes]) -> list[bytes]:
    """RFC 9162 §2.1.4.1 consistency proof; empty for old = 0 or old = new."""
    _check_sizes(old, new)
    if old in (0, new):
        return []
    return [range_hash(lo, hi, hashes) for lo, hi in _consistency_ranges(old, 0, new, True)]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2: raise VerificationError unless ``proof`` links ``leaf`` to ``root``."""
    _check_index(index, size)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerificationError(f"inclusion proof too long: {len(proof)} hashes")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError(f"inclusion proof too short: {len(proof)} hashes")
    if r != root:
        raise VerificationError(
            f"inclusion proof for leaf {index} gives root {r.hex()[:16]}…, "
            f"expected {root.hex()[:16]}…"
        )


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2: raise VerificationError unless ``proof`` shows old ⊑ new."""
    _check_sizes(old, new)
    if old == new or old == 0:
        if proof:
            raise VerificationError(f"consistency proof for old={old} must be empty")
        if old == new and old_root != new_root:
            raise VerificationError("equal sizes with different roots")
        return
    path = list(proof)
    if old & (old - 1) == 0:  # old is a power of two: its root is the first node
        path.insert(0, old_root)
    if not path:
        raise VerificationError("consistency proof is empty")
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError(f"consistency proof too long: {len(proof)} hashes")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError(f"consistency proof too short: {len(proof)} hashes")
    if fr != old_root:
        raise VerificationError(f"consistency proof does not reproduce the old root at {old}")
    if sr != new_root:
        raise VerificationError(f"consistency proof does not reproduce the new root at {new}")


def append_leaf(size: int, leaf: bytes, frontier: Mapping[Node, bytes]) -> dict[Node, bytes]:
    """The complete subtrees that leaf number ``size`` completes, itself included.

    ``frontier`` holds :func:`frontier_nodes` of the tree before the append; the
    caller persists what this returns (compute here, persist there).
    """
    new: dict[Node, bytes] = {(0, size): leaf}
    level, index, h = 0, size, leaf
    while index & 1:
        h = node_hash(frontier[(level, index - 1)], h)
        level, index = level + 1, index >> 1
        new[(level, index)] = h
    return new
