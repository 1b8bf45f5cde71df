"""Salted private leaves, their sorted order, inclusion receipts and the public leaves file.

Why salted: the published leaves must not reveal who entered. ``salt = HMAC-SHA256(
host_secret, identity)`` is deterministic (a re-import gives the same tree) yet unguessable
without the host secret; ``id_commit = SHA-256(salt || identity)`` binds the entrant, who
receives the salt in a receipt and can check the binding.

The leaf is a fixed 40-byte layout, ``id_commit (32) || weight (8, big-endian)``: a
canonical encoding of ``{id_commit, weight}`` that costs one concatenation per entry
(a JSON object per entry would cost seconds at a million entries).

``build_leaves`` runs in C when the optional extension ``draws._accel`` is built (see
setup.py), else ``build_leaves_pure``; both give the same bytes (tests/draws/test_accel.py).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from operator import add, itemgetter
from typing import Any, overload

from draws.errors import ReceiptInvalid
from draws.merkle import MerkleTree, hash_leaves, verify_inclusion

try:
    from draws import _accel
except ImportError:  # not built (see setup.py): the pure code gives the same answers
    _accel = None  # type: ignore[assignment]

#: True when ``build_leaves`` and ``merkle_root`` run in C (``draws._accel``).
ACCELERATED = _accel is not None

LEAF_SIZE = 40
LEAVES_MAGIC = b"fairlot-leaves/1\n"
_sha256 = hashlib.sha256
_digest = type(_sha256()).digest


def _hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\x00")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def salts_for(host_secret: bytes, identities: Sequence[bytes]) -> list[bytes]:
    """HMAC-SHA256(host_secret, identity) for each identity (RFC 2104, computed in bulk).

    Same output as ``hmac.digest``; written out because OpenSSL 3's one-shot HMAC costs
    ~4 µs a call here against ~1 µs for two plain SHA-256 calls.
    """
    ipad, opad = _hmac_pads(host_secret)
    inner = map(_digest, map(_sha256, map(ipad.__add__, identities)))
    return list(map(_digest, map(_sha256, map(opad.__add__, inner))))


def id_commits_for(salts: Sequence[bytes], identities: Sequence[bytes]) -> list[bytes]:
    """``SHA-256(salt || identity)`` for each pair."""
    return list(map(_digest, map(_sha256, map(add, salts, identities))))


def encode_leaf(id_commit: bytes, weight: int) -> bytes:
    """The 40-byte canonical leaf."""
    return id_commit + weight.to_bytes(8, "big")


def leaf_weights(leaves: Sequence[bytes]) -> list[int]:
    """Weight of every leaf (in C when the accelerator is built)."""
    if _accel is not None and (weights := _accel.leaf_weights(leaves)) is not None:
        return weights
    return leaf_weights_pure(leaves)


def leaf_weights_pure(leaves: Sequence[bytes]) -> list[int]:
    """``leaf_weights`` in Python only, in one C-speed pass over the joined leaves."""
    return [w for (w,) in struct.iter_unpack(">32xQ", b"".join(leaves))]


def leaf_weight(leaf: bytes) -> int:
    """Weight field of a 40-byte leaf."""
    return int.from_bytes(leaf[32:], "big")


class SortedView(Sequence[bytes]):
    """``item(order[i])`` at position i, computed on access (nothing is copied).

    Salts and identities are needed in sorted order only for the odd receipt; building a
    million-item list of them would cost more than hashing them did.
    """

    __slots__ = ("_item", "_order")

    def __init__(self, order: Sequence[int], item: Callable[[int], bytes]) -> None:
        self._order = order
        self._item = item

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, i: int) -> bytes: ...
    @overload
    def __getitem__(self, i: slice) -> list[bytes]: ...
    def __getitem__(self, i: int | slice) -> bytes | list[bytes]:
        if isinstance(i, slice):
            return list(map(self._item, self._order[i]))
        return self._item(self._order[i])

    def __iter__(self) -> Iterator[bytes]:
        return map(self._item, self._order)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SortedView({len(self)} items)"


@dataclass(frozen=True, slots=True)
class PrivateLeaves:
    """The host's view: sorted leaves, the tree, and which entry sits at each position.

    ``order[i]`` is the index (in the eligible entries) of the entry at sorted position i;
    ``salts`` and ``identities`` are in sorted order too, for receipts.
    """

    leaves: list[bytes]
    order: list[int]
    salts: Sequence[bytes]
    identities: Sequence[bytes]
    tree: MerkleTree

    @property
    def root(self) -> bytes:
        """Merkle root over the sorted leaves."""
        return self.tree.root

    @property
    def total_weight(self) -> int:
        """Sum of all leaf weights."""
        return sum(leaf_weights(self.leaves))

    def receipt(self, position: int) -> Receipt:
        """The inclusion receipt for the entry at sorted ``position`` (private to it)."""
        return Receipt(
            identity=self.identities[position].decode("utf-8"),
            salt=self.salts[position],
            weight=leaf_weight(self.leaves[position]),
            index=position,
            size=len(self.leaves),
            audit_path=tuple(self.tree.audit_path(position)),
        )


def weight_bytes(weights: Sequence[int]) -> list[bytes]:
    """8-byte big-endian weight fields; each distinct weight is encoded once (few distinct)."""
    table = {w: w.to_bytes(8, "big") for w in set(weights)}
    return list(map(table.__getitem__, weights))


def unsorted_leaves(
    host_secret: bytes, ids: Sequence[bytes], weights: Sequence[int]
) -> tuple[list[bytes], list[bytes]]:
    """Salts and 40-byte leaves of the entrants, in input order (independent per entry).

    Each entry's leaf depends on that entry alone, so a runner may compute slices of the
    entries in other processes and concatenate the results.
    """
    if len(host_secret) < 16:
        raise ValueError("the host secret must be at least 16 bytes")
    if len(ids) != len(weights):
        raise ValueError("one weight per identity")
    salts = salts_for(host_secret, ids)
    leaves = list(map(add, id_commits_for(salts, ids), weight_bytes(weights)))
    return salts, leaves


def index_keys(leaves: Sequence[bytes], start: int = 0) -> list[bytes]:
    """``leaf || u32be(start + i)``: sorting these bytes is a stable sort of the leaves.

    Bytes compare in C (memcmp), while ``key=`` sorting calls back per comparison; the
    suffix breaks ties between equal leaves by input position, as a stable sort does.
    """
    n = len(leaves)
    if start + n > 2**32:
        raise ValueError("at most 2**32 entries")
    suffixes = struct.iter_unpack("4s", struct.pack(f">{n}I", *range(start, start + n)))
    return list(map(add, leaves, map(itemgetter(0), suffixes)))


def split_keys(keys: Sequence[bytes]) -> tuple[list[bytes], list[int]]:
    """Inverse of ``index_keys`` over sorted keys: the sorted leaves and their positions."""
    pairs = list(struct.iter_unpack(">40sI", b"".join(keys)))
    return list(map(itemgetter(0), pairs)), list(map(itemgetter(1), pairs))


def build_leaves(host_secret: bytes, identities: Sequence[str], weights: Sequence[int]) -> PrivateLeaves:
    """Salt, commit, encode, sort and tree the eligible entries (in C when it is built)."""
    if _accel is None:
        return build_leaves_pure(host_secret, identities, weights)
    if len(host_secret) < 16:
        raise ValueError("the host secret must be at least 16 bytes")
    if len(identities) != len(weights):
        raise ValueError("one weight per identity")
    ids = tuple(identities)
    leaves, order, salts, levels = _accel.build_leaves(host_secret, ids, weights)
    return PrivateLeaves(
        leaves=leaves,
        order=order,
        salts=SortedView(order, lambda j: salts[32 * j : 32 * j + 32]),
        identities=SortedView(order, lambda j: ids[j].encode()),
        tree=MerkleTree.from_blobs(levels),
    )


def build_leaves_pure(host_secret: bytes, identities: Sequence[str], weights: Sequence[int]) -> PrivateLeaves:
    """``build_leaves`` in Python only: the reference the accelerator is tested against."""
    ids = list(map(str.encode, identities))  # UTF-8
    salts, leaves = unsorted_leaves(host_secret, ids, weights)
    sorted_leaves, order = split_keys(sorted(index_keys(leaves)))
    return PrivateLeaves(
        leaves=sorted_leaves,
        order=order,
        salts=list(map(salts.__getitem__, order)),
        identities=list(map(ids.__getitem__, order)),
        tree=MerkleTree(hash_leaves(sorted_leaves)),
    )


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof, given to one entrant, that their entry is leaf ``index`` of ``size``."""

    identity: str
    salt: bytes
    weight: int
    index: int
    size: int
    audit_path: tuple[bytes, ...]

    def leaf(self) -> bytes:
        """Recompute this entrant's leaf from identity, salt and weight."""
        commit = hashlib.sha256(self.salt + self.identity.encode("utf-8")).digest()
        return encode_leaf(commit, self.weight)

    def to_json(self, draw_id: str, root: bytes) -> dict[str, Any]:
        """JSON receipt; names the draw and root it belongs to."""
        return {
            "type": "fairlot/receipt",
            "draw_id": draw_id,
            "merkle_root": root.hex(),
            "identity": self.identity,
            "salt": self.salt.hex(),
            "weight": self.weight,
            "index": self.index,
            "size": self.size,
            "audit_path": [p.hex() for p in self.audit_path],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Receipt:
        """Parse a JSON receipt (the draw id and root are checked by the verifier)."""
        try:
            return cls(
                identity=str(data["identity"]),
                salt=bytes.fromhex(data["salt"]),
                weight=int(data["weight"]),
                index=int(data["index"]),
                size=int(data["size"]),
                audit_path=tuple(bytes.fromhex(p) for p in data["audit_path"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ReceiptInvalid(f"malformed receipt: {exc}") from exc


def check_receipt(receipt: Receipt, root: bytes, size: int) -> bool:
    """True iff the receipt's recomputed leaf is at its index under ``root``."""
    if receipt.size != size or not 1 <= receipt.weight < 2**64:
        return False
    leaf_hash = hash_leaves([receipt.leaf()])[0]
    return verify_inclusion(leaf_hash, receipt.index, size, receipt.audit_path, root)


def encode_leaves_file(leaves: Sequence[bytes]) -> bytes:
    """The public leaves file: magic line, then the sorted 40-byte leaves back to back."""
    return LEAVES_MAGIC + b"".join(leaves)


def decode_leaves_file(data: bytes) -> list[bytes]:
    """Split a public leaves file; refuses a bad magic, a ragged tail or unsorted leaves."""
    if not data.startswith(LEAVES_MAGIC):
        raise ValueError("not a fairlot leaves file (bad magic line)")
    body = memoryview(data)[len(LEAVES_MAGIC) :]
    if len(body) % LEAF_SIZE:
        raise ValueError(f"leaves file length is not a multiple of {LEAF_SIZE}")
    leaves = list(map(itemgetter(0), struct.iter_unpack(f"{LEAF_SIZE}s", body)))
    if any(map(bytes.__gt__, leaves, islice(leaves, 1, None))):
        raise ValueError("leaves are not sorted")
    return leaves
