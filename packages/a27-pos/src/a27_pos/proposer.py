"""Proposer choice: two strategies behind one interface, each a pure function of chain data.

Every honest node computes the same proposer for a height and round, and anyone holding the chain can check it.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar, Protocol

import attrs

from a27_pos.encoding import u32, u64
from a27_pos.validators import ValidatorSet

LOTTERY_DOMAIN = b"a27/pos/lottery/v1"


@attrs.frozen
class ChainContext:
    """The chain data a strategy may use besides the validator set: the id of the block before this height."""

    previous_block_id: bytes


class ProposerStrategy(Protocol):
    """Chooses the proposer of a height and round."""

    name: ClassVar[str]

    def proposer(self, validator_set: ValidatorSet, height: int, round_number: int, context: ChainContext) -> bytes:
        """The account that proposes at (`height`, `round_number`)."""
        ...


class WeightedRoundRobin:
    """CometBFT's proposer priority: exact stake-proportional turns, deterministic, nothing to grind.

    The proposer of round r is the validator chosen by the (r + 1)-th repetition of the priority algorithm from the
    priorities stored in the height's validator set (see `ValidatorSet.increment_priorities`).
    """

    name: ClassVar[str] = "weighted-round-robin"

    def proposer(self, validator_set: ValidatorSet, height: int, round_number: int, context: ChainContext) -> bytes:
        """The winner of the (round_number + 1)-th repetition."""
        _, chosen = validator_set.increment_priorities(round_number + 1)
        return chosen[-1]


class Lottery:
    """A stake-weighted draw seeded by sha256(domain | previous block id | height u64 | round u32).

    Each round is an independent draw with probability stake / total. The previous proposer chooses the previous
    block id, so it can grind: try many blocks and publish one that makes it (or an ally) the next proposer.
    """

    name: ClassVar[str] = "lottery"

    def proposer(self, validator_set: ValidatorSet, height: int, round_number: int, context: ChainContext) -> bytes:
        """The validator whose cumulative-stake interval (accounts in order) holds the ticket."""
        seed = hashlib.sha256(LOTTERY_DOMAIN + context.previous_block_id + u64(height) + u32(round_number)).digest()
        ticket = int.from_bytes(seed, "big") % validator_set.total_power
        for validator in validator_set.validators:
            if ticket < validator.power:
                return validator.account
            ticket -= validator.power
        raise AssertionError("the ticket is below the total power")


STRATEGIES: dict[str, ProposerStrategy] = {strategy.name: strategy for strategy in (WeightedRoundRobin(), Lottery())}
"""The strategies by name."""


def strategy_named(name: str) -> ProposerStrategy:
    """The strategy called `name`; ValueError for an unknown name."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown proposer strategy {name!r}; known: {', '.join(STRATEGIES)}") from None
