"""a27 consensus layer: blocks, mempool, staking and stake-weighted BFT consensus with instant finality.

The core (blocks, votes, chain, mempool, engine) is pure and synchronous: messages and an explicit `now` in,
decisions out. `PosCommunity` carries it over IPv8. DESIGN.md describes the protocol.

The community's names (`PosCommunity`, `PosSettings`, `SubmissionAnswer`, `Finality`, `TransactionRefused`) are
imported on first use, so that importing the core (`import a27_pos.consensus`) does not load IPv8's community
machinery or asyncio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from a27_ledger import lazy_exports
from a27_pos.__about__ import __version__
from a27_pos.behaviour import HonestBehaviour, ValidatorBehaviour
from a27_pos.block import BLOCK_DOMAIN, NO_ROUND, Block, BlockHeader, Proposal
from a27_pos.chain import Chain
from a27_pos.checkpoint import Checkpoint
from a27_pos.consensus import (
    Action,
    Committed,
    ConsensusEngine,
    EvidenceFound,
    RefusedInput,
    RequestSync,
    ScheduleTimeout,
    SendToValidators,
    ServeSync,
    Step,
    Timeouts,
)
from a27_pos.defences import PosDefences
from a27_pos.errors import (
    BadMerkleRoot,
    BadTimestamp,
    ChainStoreError,
    CheckpointMismatch,
    ConflictingCommit,
    ConflictingProposal,
    FutureMessage,
    InvalidBlock,
    InvalidCertificate,
    InvalidEvidence,
    InvalidSignature,
    MalformedBlock,
    MalformedVote,
    MempoolFull,
    NonceTooFarAhead,
    NotAValidator,
    PosError,
    PosGenesisError,
    StaleMessage,
    TransactionTooLarge,
    WrongChain,
    WrongProposer,
    pos_error_for_code,
)
from a27_pos.evidence import (
    PROPOSAL_DOMAIN,
    PROPOSAL_EVIDENCE_KIND,
    AnyEvidence,
    ProposalEvidence,
    SignedProposal,
    decode_evidence,
)
from a27_pos.inmemory import MessageBus, make_engines
from a27_pos.mempool import Mempool
from a27_pos.merkle import merkle_root
from a27_pos.params import PosGenesis, PosParams
from a27_pos.proposer import STRATEGIES, ChainContext, Lottery, ProposerStrategy, WeightedRoundRobin, strategy_named
from a27_pos.staking import (
    STAKE,
    UNBONDING,
    Bond,
    ChainHead,
    Unbond,
    bonded_stake,
    pos_registry,
    sign_bond,
    sign_unbond,
    stakers,
    tombstone_height,
    unbonding_entries,
)
from a27_pos.store import ChainStore, MemoryChainStore, SQLiteChainStore
from a27_pos.submissions import NonceCounter, SubmissionDesk, SubmissionVerdict
from a27_pos.sync import BlockSync, HeldRequests
from a27_pos.validators import Validator, ValidatorSet
from a27_pos.votes import NIL, PRECOMMIT, PREVOTE, VOTE_DOMAIN, CommitCertificate, CommitSignature, Evidence, Vote

if TYPE_CHECKING:
    from a27_pos.community import Finality, PosCommunity, PosSettings, SubmissionAnswer, TransactionRefused

__all__ = [
    "BLOCK_DOMAIN",
    "NIL",
    "NO_ROUND",
    "PRECOMMIT",
    "PREVOTE",
    "PROPOSAL_DOMAIN",
    "PROPOSAL_EVIDENCE_KIND",
    "STAKE",
    "STRATEGIES",
    "UNBONDING",
    "VOTE_DOMAIN",
    "Action",
    "AnyEvidence",
    "BadMerkleRoot",
    "BadTimestamp",
    "Block",
    "BlockHeader",
    "BlockSync",
    "Bond",
    "Chain",
    "ChainContext",
    "ChainHead",
    "ChainStore",
    "ChainStoreError",
    "Checkpoint",
    "CheckpointMismatch",
    "CommitCertificate",
    "CommitSignature",
    "Committed",
    "ConflictingCommit",
    "ConflictingProposal",
    "ConsensusEngine",
    "Evidence",
    "EvidenceFound",
    "Finality",
    "FutureMessage",
    "HeldRequests",
    "HonestBehaviour",
    "InvalidBlock",
    "InvalidCertificate",
    "InvalidEvidence",
    "InvalidSignature",
    "Lottery",
    "MalformedBlock",
    "MalformedVote",
    "MemoryChainStore",
    "Mempool",
    "MempoolFull",
    "MessageBus",
    "NonceCounter",
    "NonceTooFarAhead",
    "NotAValidator",
    "PosCommunity",
    "PosDefences",
    "PosError",
    "PosGenesis",
    "PosGenesisError",
    "PosParams",
    "PosSettings",
    "Proposal",
    "ProposalEvidence",
    "ProposerStrategy",
    "RefusedInput",
    "RequestSync",
    "SQLiteChainStore",
    "ScheduleTimeout",
    "SendToValidators",
    "ServeSync",
    "SignedProposal",
    "StaleMessage",
    "Step",
    "SubmissionAnswer",
    "SubmissionDesk",
    "SubmissionVerdict",
    "Timeouts",
    "TransactionRefused",
    "TransactionTooLarge",
    "Unbond",
    "Validator",
    "ValidatorBehaviour",
    "ValidatorSet",
    "Vote",
    "WeightedRoundRobin",
    "WrongChain",
    "WrongProposer",
    "__version__",
    "bonded_stake",
    "decode_evidence",
    "make_engines",
    "merkle_root",
    "pos_error_for_code",
    "pos_registry",
    "sign_bond",
    "sign_unbond",
    "stakers",
    "strategy_named",
    "tombstone_height",
    "unbonding_entries",
]

_COMMUNITY_NAMES: dict[str, tuple[str, ...]] = {
    "a27_pos.community": ("Finality", "PosCommunity", "PosSettings", "SubmissionAnswer", "TransactionRefused"),
}
"""The community's names, exported lazily (loaded on first use)."""

__getattr__, __dir__ = lazy_exports(__name__, _COMMUNITY_NAMES, __all__)
