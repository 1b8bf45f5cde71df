"""Salted leaves, receipts (acceptance 4) and the public leaves file."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from draws import Receipt, ReceiptInvalid, build_leaves, check_receipt
from draws.leaves import decode_leaves_file, encode_leaves_file, index_keys, salts_for, split_keys
from draws.merkle import MerkleTree, tree_levels

SECRET = hashlib.sha256(b"leaves").digest()
IDS = [f"ig/id/{i}" for i in range(13)]
WEIGHTS = [i % 3 + 1 for i in range(13)]


def test_bulk_hmac_equals_stdlib_hmac() -> None:
    for key in (SECRET, b"k" * 16, b"long" * 40):
        ids = [i.encode() for i in IDS]
        assert salts_for(key, ids) == [hmac.digest(key, i, "sha256") for i in ids]


def test_receipt_proves_inclusion_for_entrants_only() -> None:
    private = build_leaves(SECRET, IDS, WEIGHTS)
    for position in range(len(IDS)):
        receipt = private.receipt(position)
        assert check_receipt(receipt, private.root, len(IDS))
        back = Receipt.from_json(receipt.to_json("d", private.root))
        assert back == receipt
    r = private.receipt(3)
    stranger = Receipt("ig/id/999", r.salt, r.weight, r.index, r.size, r.audit_path)
    guessed_salt = Receipt(r.identity, bytes(32), r.weight, r.index, r.size, r.audit_path)
    heavier = Receipt(r.identity, r.salt, r.weight + 1, r.index, r.size, r.audit_path)
    moved = Receipt(r.identity, r.salt, r.weight, (r.index + 1) % r.size, r.size, r.audit_path)
    for bad in (stranger, guessed_salt, heavier, moved):
        assert not check_receipt(bad, private.root, len(IDS))
    assert not check_receipt(r, private.root, len(IDS) + 1)
    # a changed entry changes the tree: the old receipt fails against the new root
    changed = build_leaves(SECRET, IDS, [*WEIGHTS[:-1], WEIGHTS[-1] + 1])
    assert changed.root != private.root
    with pytest.raises(ReceiptInvalid):
        Receipt.from_json({"identity": "x"})


def test_leaves_are_sorted_and_private() -> None:
    private = build_leaves(SECRET, IDS, WEIGHTS)
    assert private.leaves == sorted(private.leaves)
    assert private.total_weight == sum(WEIGHTS)
    assert all(i.encode() not in b"".join(private.leaves) for i in IDS)
    assert [IDS[i] for i in private.order] == [i.decode() for i in private.identities]
    with pytest.raises(ValueError):
        build_leaves(b"short", IDS, WEIGHTS)


def test_leaves_file_round_trip_and_errors() -> None:
    private = build_leaves(SECRET, IDS, WEIGHTS)
    data = encode_leaves_file(private.leaves)
    assert decode_leaves_file(data) == private.leaves
    with pytest.raises(ValueError, match="magic"):
        decode_leaves_file(b"x" + data)
    with pytest.raises(ValueError, match="multiple"):
        decode_leaves_file(data[:-3])
    with pytest.raises(ValueError, match="sorted"):
        decode_leaves_file(encode_leaves_file(private.leaves[::-1]))


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 9, 16, 17, 31, 64, 100])
def test_tree_from_aligned_slices_equals_whole_tree(size: int) -> None:
    hashes = [hashlib.sha256(bytes([i])).digest() for i in range(size)]
    whole = MerkleTree(hashes)
    for height in range(4):
        step = 1 << height
        for cut in range(0, size, step):
            parts = (
                [tree_levels(hashes[:cut], height), tree_levels(hashes[cut:], height)]
                if cut
                else [tree_levels(hashes, height)]
            )
            assert MerkleTree.from_parts(parts).levels == whole.levels
    if size > 3:
        with pytest.raises(ValueError, match="align"):
            MerkleTree.from_parts([tree_levels(hashes[:3], 1), tree_levels(hashes[3:], 1)])


def test_sorting_keys_is_a_stable_sort() -> None:
    leaves = [bytes([i % 3]) * 40 for i in range(10)]
    sorted_leaves, order = split_keys(sorted(index_keys(leaves)))
    assert order == sorted(range(10), key=leaves.__getitem__)
    assert sorted_leaves == sorted(leaves)
    assert split_keys(sorted(index_keys(leaves[5:], start=5)))[1] == [
        5 + i for i in sorted(range(5), key=leaves[5:].__getitem__)
    ]
