"""Byzantine behaviours for the tests and the benchmarks, through the behaviour seam (`a27_pos.behaviour`).

They are not part of the layer (a27-attacks will hold the real ones): tests import this module, the benchmarks add
this folder to `sys.path`. The same object works on the in-memory `MessageBus` and in a `PosCommunity`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import attrs

from a27_ledger import Transaction
from a27_pos import NIL, ConsensusEngine, HonestBehaviour, Vote
from a27_pos.behaviour import ConsensusMessage

Recipient = TypeVar("Recipient")

CONFLICTING_ID = bytes([0xEE]) * 32
"""The block id an equivocator's twin of a nil vote votes for."""


class Silent(HonestBehaviour):
    """A crashed or withholding validator: sends no proposal, vote or evidence, serves no block, announces nothing,
    relays no transaction; it still receives."""

    name = "silent"

    def outgoing(self, engine: ConsensusEngine, message: ConsensusMessage,
                 recipients: Sequence[Recipient]) -> list[tuple[ConsensusMessage, Sequence[Recipient]]]:
        """Nothing."""
        return []

    def relay_transaction(self, transaction: Transaction, recipients: Sequence[Recipient]) -> Sequence[Recipient]:
        """Nobody."""
        return []

    def serves_blocks(self, requester: object, start: int) -> bool:
        """Never."""
        return False

    def announces_status(self, height: int) -> bool:
        """Never."""
        return False


class Equivocate(HonestBehaviour):
    """Signs a second, conflicting vote for every vote it casts and sends both to every validator, in opposite
    orders to the two halves of them, trying to split them."""

    name = "equivocate"

    def outgoing(self, engine: ConsensusEngine, message: ConsensusMessage,
                 recipients: Sequence[Recipient]) -> list[tuple[ConsensusMessage, Sequence[Recipient]]]:
        """The vote and its twin to each recipient (the first half gets the real one first); anything else as is."""
        key = engine.key
        if not isinstance(message, Vote) or key is None or message.validator != key.public_key:
            return [(message, recipients)]
        twin = attrs.evolve(message, block_id=CONFLICTING_ID if message.is_nil else NIL).signed(
            key, engine.chain.chain_id)
        half = len(recipients) // 2
        sends: list[tuple[ConsensusMessage, Sequence[Recipient]]] = []
        for position, recipient in enumerate(recipients):
            first, second = (message, twin) if position < half else (twin, message)
            sends += [(first, [recipient]), (second, [recipient])]
        return sends
