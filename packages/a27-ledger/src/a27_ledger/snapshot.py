"""A frozen copy of the whole ledger state, with a digest that nodes compare to check agreement."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import attrs

SNAPSHOT_DOMAIN = b"a27/snapshot/v1"

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


def _short_field(value: bytes) -> bytes:
    return _U16.pack(len(value)) + value


@attrs.frozen
class LedgerSnapshot:
    """The state at one moment: every non-zero balance, nonce and escrow, every data record, sorted by key."""

    genesis_digest: bytes
    balances: tuple[tuple[bytes, int], ...]
    nonces: tuple[tuple[bytes, int], ...]
    escrows: tuple[tuple[str, bytes, int], ...]
    data: tuple[tuple[str, bytes, bytes], ...]
    total_supply: int
    applied: int

    def balance(self, account: bytes) -> int:
        """The balance of `account` in this snapshot (0 if absent)."""
        return dict(self.balances).get(account, 0)

    def digest(self) -> bytes:
        """sha256 over the canonical encoding; equal digests mean equal snapshots."""
        parts = [SNAPSHOT_DOMAIN, self.genesis_digest, _U64.pack(self.total_supply), _U64.pack(self.applied)]
        parts.append(_U32.pack(len(self.balances)))
        parts.extend(account + _U64.pack(balance) for account, balance in self.balances)
        parts.append(_U32.pack(len(self.nonces)))
        parts.extend(account + _U64.pack(nonce) for account, nonce in self.nonces)
        parts.append(_U32.pack(len(self.escrows)))
        parts.extend(
            _short_field(name.encode()) + _short_field(key) + _U64.pack(amount) for name, key, amount in self.escrows
        )
        parts.append(_U32.pack(len(self.data)))
        parts.extend(
            _short_field(namespace.encode()) + _short_field(key) + _U32.pack(len(value)) + value
            for namespace, key, value in self.data
        )
        return hashlib.sha256(b"".join(parts)).digest()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form with hex keys, including the digest."""
        return {
            "genesis_digest": self.genesis_digest.hex(),
            "digest": self.digest().hex(),
            "total_supply": self.total_supply,
            "applied": self.applied,
            "balances": {account.hex(): balance for account, balance in self.balances},
            "nonces": {account.hex(): nonce for account, nonce in self.nonces},
            "escrows": [{"name": name, "key": key.hex(), "amount": amount} for name, key, amount in self.escrows],
            "data": [{"namespace": ns, "key": key.hex(), "value": value.hex()} for ns, key, value in self.data],
        }
