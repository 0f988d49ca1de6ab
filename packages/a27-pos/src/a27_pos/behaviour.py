"""The behaviour seam: what a PoS node proposes, votes, relays and withholds, which an attacker may replace.

`PosSettings.behaviour` (and `ConsensusEngine(behaviour=...)`, `make_engines(behaviours=...)` in memory) holds a
`ValidatorBehaviour`; the engine consults it where it builds a block, and the community (or `MessageBus`)
where the engine's messages and the node's blocks, transactions and status leave the node, on the simulator and on
UDP alike. `HonestBehaviour` is the default and what every honest node runs. Another implementation (a27-attacks
supplies them; this layer never imports it) usually subclasses it and overrides a hook. Whatever a behaviour
decides, the node still speaks only what PROTOCOL.md documents, and the honest nodes' defences (evidence and
slashing, round timeouts, certificate checks) still apply to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from a27_ledger import Transaction
from a27_pos.block import Proposal
from a27_pos.evidence import AnyEvidence
from a27_pos.votes import Vote

if TYPE_CHECKING:
    from a27_pos.consensus import ConsensusEngine

Recipient = TypeVar("Recipient")
ConsensusMessage = Proposal | Vote | AnyEvidence
"""What validators send each other."""


class ValidatorBehaviour(Protocol):
    """The decisions of a PoS node that a behaviour can replace (see the README, "Behaviour seam")."""

    def outgoing(self, engine: ConsensusEngine, message: ConsensusMessage,
                 recipients: Sequence[Recipient]) -> list[tuple[ConsensusMessage, Sequence[Recipient]]]:
        """What to send, to whom, when the engine asks to send `message` to the validators `recipients`.

        Called for every proposal, vote and evidence the engine sends (`SendToValidators`), in order; the pairs
        returned are sent in order. `engine` gives the node's key, chain and round state (to sign a twin)."""

    def block_contents(self, engine: ConsensusEngine, transactions: Sequence[Transaction],
                       evidence: Sequence[AnyEvidence]) -> tuple[Sequence[Transaction], Sequence[AnyEvidence]]:
        """The transactions and evidence of a block this validator proposes, given what the honest choice is.

        Called when the engine builds a new block (not when it proposes again its valid block); what it returns
        is built and signed as it is, and honest validators check it like any other block."""

    def relay_transaction(self, transaction: Transaction, recipients: Sequence[Recipient]) -> Sequence[Recipient]:
        """To which validators to gossip `transaction`, which this validator just admitted to its mempool."""

    def serves_blocks(self, requester: object, start: int) -> bool:
        """Whether to send finalized blocks from `start` to `requester` (a block request, or a lagging validator)."""

    def announces_status(self, height: int) -> bool:
        """Whether to announce this node's finalized `height` to its peers (periodically and after each block)."""


class HonestBehaviour:
    """What an honest node does: send every message to every validator, propose the mempool's choice, relay every
    admitted transaction, serve blocks and announce its height."""

    def outgoing(self, engine: ConsensusEngine, message: ConsensusMessage,
                 recipients: Sequence[Recipient]) -> list[tuple[ConsensusMessage, Sequence[Recipient]]]:
        """`message` to every recipient."""
        return [(message, recipients)]

    def block_contents(self, engine: ConsensusEngine, transactions: Sequence[Transaction],
                       evidence: Sequence[AnyEvidence]) -> tuple[Sequence[Transaction], Sequence[AnyEvidence]]:
        """The honest choice, unchanged."""
        return transactions, evidence

    def relay_transaction(self, transaction: Transaction, recipients: Sequence[Recipient]) -> Sequence[Recipient]:
        """Every validator."""
        return recipients

    def serves_blocks(self, requester: object, start: int) -> bool:
        """Always."""
        return True

    def announces_status(self, height: int) -> bool:
        """Always."""
        return True


def is_honest(behaviour: ValidatorBehaviour) -> bool:
    """Whether `behaviour` is the honest default itself (a subclass that overrides a hook counts as Byzantine)."""
    return type(behaviour) is HonestBehaviour
