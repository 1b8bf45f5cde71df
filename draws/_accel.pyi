"""Types of the optional C extension built from draws/_accel.c (see setup.py)."""

from collections.abc import Sequence

def build_leaves(
    host_secret: bytes, identities: Sequence[str | bytes], weights: Sequence[int], /
) -> tuple[list[bytes], list[int], bytes, list[bytes]]: ...
def merkle_root(leaves: Sequence[bytes], /) -> bytes: ...
