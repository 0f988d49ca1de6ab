"""The Merkle tree that block headers commit to (RFC 6962 shape).

Leaf hash ``sha256(0x00 + leaf)``, node hash ``sha256(0x01 + left + right)``; the domain bytes keep a leaf from
passing for a node. A level with an odd number of nodes promotes its last node unchanged, rather than pairing it
with a copy of itself (Bitcoin's rule, which lets two different lists share a root). Zero leaves hash to
``sha256(b"")``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The 32-byte root of `leaves`, in order."""
    if not leaves:
        return EMPTY_ROOT
    sha256 = hashlib.sha256
    level = [sha256(LEAF_PREFIX + leaf).digest() for leaf in leaves]
    while len(level) > 1:
        paired = [sha256(NODE_PREFIX + level[index] + level[index + 1]).digest()
                  for index in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]
