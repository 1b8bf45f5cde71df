"""RFC 9162 Merkle tree hash (SHA-256), audit paths and their verification.

Why RFC 9162 and not a home-made tree: its leaf/node prefixes (0x00 / 0x01) stop a node
from passing as a leaf, and a stranger can check us against any Certificate Transparency
library. Building is bottom-up: pair neighbours, promote an odd last node unchanged; that
gives exactly RFC 9162's MTH (largest power of two split), see the tests.

Speed: a million leaves means two million SHA-256 calls, so hashing runs through ``map``
over the C functions (no Python frame per hash), or, when the optional extension
``draws._accel`` is built, in C altogether (same bytes; ``tests/draws/test_accel.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from operator import add

try:
    from draws import _accel
except ImportError:  # not built (see setup.py): the pure code gives the same answers
    _accel = None  # type: ignore[assignment]

_sha256 = hashlib.sha256
_digest = type(_sha256()).digest
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


def hash_leaves(leaves: Sequence[bytes]) -> list[bytes]:
    """``SHA-256(0x00 || leaf)`` for each leaf."""
    return list(map(_digest, map(_sha256, map(LEAF_PREFIX.__add__, leaves))))


def hash_node(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return _sha256(NODE_PREFIX + left + right).digest()


def _next_level(level: list[bytes]) -> list[bytes]:
    pairs = map(add, level[0::2], level[1::2])
    parents = list(map(_digest, map(_sha256, map(NODE_PREFIX.__add__, pairs))))
    if len(level) % 2:
        parents.append(level[-1])
    return parents


def tree_levels(leaf_hashes: Sequence[bytes], height: int | None = None) -> list[list[bytes]]:
    """Levels 0 (the leaf hashes) up to the root, or up to ``height`` exactly.

    With ``height``, a slice of the leaves that starts at a multiple of ``2**height`` yields
    the global tree's nodes over that slice (an odd last node is promoted unchanged, as in
    the whole tree), so slices can be built apart and joined by ``MerkleTree.from_parts``.
    """
    levels = [list(leaf_hashes)]
    while len(levels[-1]) > 1 and (height is None or len(levels) <= height):
        levels.append(_next_level(levels[-1]))
    while height is not None and len(levels) <= height:
        levels.append(levels[-1])  # a lone node rises unchanged
    return levels


class MerkleTree:
    """All levels of the tree over given leaf hashes, kept to answer audit paths.

    Each level is stored as one bytes object, its 32-byte hashes back to back: a million
    leaves make two million nodes, which as separate objects cost more than hashing them.
    """

    __slots__ = ("_blobs",)

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self._blobs = [b"".join(level) for level in tree_levels(leaf_hashes)]

    @classmethod
    def from_blobs(cls, blobs: Sequence[bytes]) -> MerkleTree:
        """A tree from its levels, each one bytes object (what ``draws._accel`` returns)."""
        if not blobs or any(len(b) % 32 for b in blobs):
            raise ValueError("levels are whole 32-byte hashes")
        tree = cls.__new__(cls)
        tree._blobs = list(blobs)
        return tree

    @classmethod
    def from_parts(cls, parts: Sequence[list[list[bytes]]]) -> MerkleTree:
        """Join ``tree_levels(slice, height)`` of consecutive slices of the leaves.

        Every slice but the last must hold a multiple of ``2**height`` leaves; the levels
        above ``height`` are then built from the joined nodes at ``height``.
        """
        height = len(parts[0]) - 1
        if any(len(p) != height + 1 for p in parts) or any(len(p[0]) % (1 << height) for p in parts[:-1]):
            raise ValueError("slices must share a height and align to 2**height leaves")
        levels = [[node for p in parts for node in p[j]] for j in range(height + 1)]
        top = next((j for j, level in enumerate(levels) if len(level) <= 1), height)
        return cls.from_blobs([b"".join(level) for level in levels[:top] + tree_levels(levels[top])])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MerkleTree) and self._blobs == other._blobs

    __hash__ = None  # type: ignore[assignment]

    @property
    def levels(self) -> list[list[bytes]]:
        """Level 0 (the leaf hashes) up to the root, as lists of 32-byte hashes."""
        return [[blob[i : i + 32] for i in range(0, len(blob), 32)] for blob in self._blobs]

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._blobs[0]) // 32

    @property
    def root(self) -> bytes:
        """RFC 9162 MTH; the hash of the empty string for an empty tree."""
        return self._blobs[-1][:32] if self._blobs[0] else EMPTY_ROOT

    def audit_path(self, index: int) -> list[bytes]:
        """RFC 9162 PATH(index, D[n]): sibling hashes from the leaf up to the root."""
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} outside a tree of {self.size}")
        path: list[bytes] = []
        for blob in self._blobs[:-1]:
            sibling = (index ^ 1) * 32
            if sibling < len(blob):
                path.append(blob[sibling : sibling + 32])
            index >>= 1
        return path


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Root over raw leaves (hashing them as RFC 9162 leaves); in C when it is built."""
    if _accel is not None:
        return _accel.merkle_root(leaves)
    return merkle_root_pure(leaves)


def merkle_root_pure(leaves: Sequence[bytes]) -> bytes:
    """``merkle_root`` in Python only: the reference the accelerator is tested against."""
    level = hash_leaves(leaves)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def verify_inclusion(leaf_hash: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: does ``path`` prove leaf ``index`` of ``size`` under ``root``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hash_node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hash_node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root
