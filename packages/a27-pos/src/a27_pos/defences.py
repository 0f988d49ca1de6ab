"""The PoS layer's defences, each one switch: on by default, off only to show what an attack does without it.

A defence's full name is ``pos.<field>`` (``pos.proposal_evidence``). The switches are local: a node with a defence
off still accepts every block the protocol allows (evidence included by others, for instance), so honest nodes with
different switches still agree; an attack's effect shows when every honest node has the defence off.
`PosSettings.defences`, `ConsensusEngine(defences=...)` and `make_engines(defences=...)` take them.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class PosDefences:
    """Which PoS defences this node runs (README, "Defences")."""

    vote_evidence: bool = True
    """Stops a validator that signs two different votes for one height, round and type (vote equivocation) from
    going unpunished: the node that sees both builds evidence, gossips it, includes it in the blocks it proposes,
    and the offender is slashed and tombstoned. Off: the node neither builds, keeps nor includes vote evidence, so
    with every honest node off an equivocator keeps its whole stake and stays a validator."""

    vote_relay: bool = True
    """Stops a validator that splits its votes (one vote to some validators, a conflicting one for the same height,
    round and type to the others, so that no node receives both) from going unpunished: a validator relays to the
    other validators the first vote it holds from each validator for a round and type when that vote is for another
    block (or nil) than its own vote there, once per validator, round and type, and only after verifying it; a node
    holding the conflicting vote then builds vote evidence (`vote_evidence`). When every validator votes alike
    nothing is relayed. Off: a split equivocator keeps its stake and its seat."""

    proposal_evidence: bool = True
    """Stops a proposer that signs two different proposals for one height and round (sending each to part of the
    validators, to split their votes) from going unpunished: the node that sees both builds proposal evidence
    (PROTOCOL.md, revision 3), gossips it, includes it in its blocks, and the offender is slashed and tombstoned
    like a vote equivocator. Off: the node neither builds, keeps nor includes proposal evidence; with every honest
    node off the proposer keeps its stake and can split every round it proposes."""

    check_block_transactions: bool = True
    """Stops a Byzantine proposer's block whose transactions do not apply (a second transfer with a used nonce, a
    double spend, an overdraft) from getting honest prevotes: before voting for a proposal the node dry-runs its
    transactions on the parent state. WARNING, for demonstrations only: off, the node prevotes and precommits such
    a block without running its transactions; the block can then gather a commit certificate that no node can
    apply (the ledger still refuses the transactions when it applies a block, so nothing is credited twice), and
    the chain halts at that height for good: availability is lost."""

    checkpoints: bool = True
    """Weak subjectivity: the node refuses any chain whose block at a configured checkpoint height is not the
    checkpoint's block (`PosSettings.checkpoint`, `Chain.set_checkpoint`). Stops a long-range fork: validators that
    have unbonded (nothing left to slash) signing an alternative history from an old height, served to a node that
    syncs from genesis. Off: such a node adopts whichever certified chain it is served first, the fork included."""

    resubmit: bool = True
    """A light node whose admitted transfer is not final after `PosSettings.resubmit_after` seconds submits it again
    to the next validator it has not tried. Stops one censoring validator (the first a light node asks, since light
    nodes ask in account order) from holding a transfer back: it admits it, then neither relays nor includes it.
    Off: the light node waits on that validator until its transfer times out, and retries reach it again."""

    @classmethod
    def none(cls) -> PosDefences:
        """Every defence off."""
        return cls(**{field.name: False for field in attrs.fields(cls)})
