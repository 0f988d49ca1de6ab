"""Chain-wide parameters and the PoS genesis: the ledger genesis plus the stakes bonded at the start."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from a27_ledger import Genesis, GenesisError
from a27_pos.errors import PosGenesisError
from a27_pos.validators import ValidatorSet

POS_GENESIS_DOMAIN = b"a27/pos/genesis/v1"
STRATEGY_NAMES = ("weighted-round-robin", "lottery")
"""Proposer strategies by wire number (1, 2); see proposer.py."""
_PARAMS = struct.Struct(">QQIIBIIHB")
_STAKE = struct.Struct(">32sQ")


def _positive_int(limit: int, minimum: int = 1) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is not int or not minimum <= value <= limit:
            raise PosGenesisError(f"{attribute.name} {value!r} is not an integer in {minimum}..{limit}")

    return check


def _strategy(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in STRATEGY_NAMES:
        raise PosGenesisError(f"proposer_strategy {value!r} is not one of {', '.join(STRATEGY_NAMES)}")


@attrs.frozen
class PosParams:
    """Parameters every node of a chain must share (they are part of the PoS genesis digest). See DESIGN.md."""

    block_reward: int = attrs.field(default=100, validator=_positive_int(2**64 - 1, minimum=0))
    min_stake: int = attrs.field(default=1_000, validator=_positive_int(2**64 - 1))
    unbonding_delay: int = attrs.field(default=20, validator=_positive_int(2**32 - 1))
    evidence_max_age: int = attrs.field(default=10, validator=_positive_int(2**32 - 1))
    slash_percent: int = attrs.field(default=10, validator=_positive_int(100, minimum=0))
    max_block_transactions: int = attrs.field(default=256, validator=_positive_int(2**32 - 1, minimum=0))
    max_block_bytes: int = attrs.field(default=60_000, validator=_positive_int(2**32 - 1, minimum=1_024))
    max_evidence_per_block: int = attrs.field(default=4, validator=_positive_int(0xFFFF, minimum=0))
    proposer_strategy: str = attrs.field(default="weighted-round-robin", validator=_strategy)

    def __attrs_post_init__(self) -> None:
        """Stake bonded at an offence must still be slashable when the evidence can be included."""
        if self.evidence_max_age > self.unbonding_delay:
            raise PosGenesisError(f"evidence_max_age {self.evidence_max_age} exceeds unbonding_delay "
                                  f"{self.unbonding_delay}: unbonding would escape slashing")

    def encode(self) -> bytes:
        """The canonical encoding (part of the PoS genesis digest)."""
        return _PARAMS.pack(self.block_reward, self.min_stake, self.unbonding_delay, self.evidence_max_age,
                            self.slash_percent, self.max_block_transactions, self.max_block_bytes,
                            self.max_evidence_per_block, STRATEGY_NAMES.index(self.proposer_strategy) + 1)

    @classmethod
    def decode(cls, data: bytes) -> PosParams:
        """Parse the canonical encoding; PosGenesisError on anything wrong."""
        if len(data) != _PARAMS.size:
            raise PosGenesisError(f"parameters are {_PARAMS.size} bytes, not {len(data)}")
        (block_reward, min_stake, unbonding_delay, evidence_max_age, slash_percent, max_block_transactions,
         max_block_bytes, max_evidence_per_block, strategy) = _PARAMS.unpack(data)
        if not 1 <= strategy <= len(STRATEGY_NAMES):
            raise PosGenesisError(f"unknown proposer strategy number {strategy}")
        return cls(block_reward, min_stake, unbonding_delay, evidence_max_age, slash_percent, max_block_transactions,
                   max_block_bytes, max_evidence_per_block, STRATEGY_NAMES[strategy - 1])


def _sorted_stakes(stakes: Mapping[bytes, int] | Iterable[tuple[bytes, int]]) -> tuple[tuple[bytes, int], ...]:
    items = stakes.items() if isinstance(stakes, Mapping) else stakes
    return tuple(sorted(items))


@attrs.frozen
class PosGenesis:
    """A chain's start: the ledger genesis, the stakes bonded from it, and the chain parameters.

    Each stake is taken out of its account's genesis balance when the chain starts. The accounts with a stake are
    exactly the ledger genesis's validators. Construction raises PosGenesisError on anything inconsistent.
    """

    ledger: Genesis
    stakes: tuple[tuple[bytes, int], ...] = attrs.field(converter=_sorted_stakes)
    params: PosParams = attrs.field(factory=PosParams)

    def __attrs_post_init__(self) -> None:
        """Check the stakes against the ledger genesis and the parameters."""
        balances = self.ledger.balances
        for account, stake in self.stakes:
            if type(stake) is not int or stake < self.params.min_stake:
                raise PosGenesisError(f"stake {stake!r} of {account.hex()[:8]} is below min_stake "
                                      f"{self.params.min_stake}")
            if balances.get(account, 0) < stake:
                raise PosGenesisError(f"{account.hex()[:8]} stakes {stake} but its genesis balance is "
                                      f"{balances.get(account, 0)}")
        if {account for account, _ in self.stakes} != set(self.ledger.validators):
            raise PosGenesisError("the accounts with a stake must be exactly the genesis validators")

    @classmethod
    def build(
        cls,
        chain_id: str,
        balances: Mapping[bytes, int],
        stakes: Mapping[bytes, int],
        params: PosParams | None = None,
        names: Mapping[bytes, str] | None = None,
    ) -> PosGenesis:
        """A genesis where each account holds `balances[account]` to spend plus `stakes[account]` bonded."""
        totals = {account: balances.get(account, 0) + stakes.get(account, 0) for account in set(balances) | set(stakes)}
        try:
            ledger = Genesis.build(chain_id, totals, [account for account, stake in stakes.items() if stake], names)
        except GenesisError as error:
            raise PosGenesisError(f"ledger genesis: {error}") from error
        return cls(ledger, stakes, PosParams() if params is None else params)

    @property
    def chain_id(self) -> str:
        """The chain id."""
        return self.ledger.chain_id

    def validator_set(self) -> ValidatorSet:
        """The validator set of height 1: every genesis stake, priorities 0."""
        return ValidatorSet.from_powers(dict(self.stakes))

    def digest(self) -> bytes:
        """sha256 over the ledger genesis digest, the stakes and the parameters: the parent id of block 1."""
        parts = [POS_GENESIS_DOMAIN, self.ledger.digest(), struct.pack(">H", len(self.stakes))]
        parts.extend(_STAKE.pack(account, stake) for account, stake in self.stakes)
        parts.append(self.params.encode())
        return hashlib.sha256(b"".join(parts)).digest()
