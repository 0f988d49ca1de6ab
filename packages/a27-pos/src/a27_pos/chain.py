"""The chain of finalized blocks: validates blocks against the ledger state, applies them, and syncs from peers.

Applying block `h` writes the chain store first (block and certificate, one transaction), then the ledger (the
block's transactions and system effects, one commit that also records `h` as applied). A crash between the two
leaves the ledger one block behind the chain store; reopening re-applies that block. The ledger is never ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from a27_ledger import (
    KeyPair,
    LedgerError,
    LedgerState,
    LedgerStore,
    PreparedBlock,
    Receipt,
    StateTransition,
    SupplyInvariantViolated,
    Transaction,
)
from a27_pos.block import Block
from a27_pos.checkpoint import Checkpoint
from a27_pos.errors import (
    BadTimestamp,
    ChainStoreError,
    CheckpointMismatch,
    ConflictingCommit,
    InvalidBlock,
    InvalidCertificate,
    InvalidEvidence,
    PosGenesisError,
    WrongChain,
    WrongProposer,
)
from a27_pos.evidence import AnyEvidence
from a27_pos.params import PosGenesis, PosParams
from a27_pos.proposer import ChainContext, ProposerStrategy, strategy_named
from a27_pos.staking import (
    ChainHead,
    advance_head,
    chain_head,
    chain_params,
    pos_registry,
    release_due,
    slash,
    start_chain,
    stored_validator_set,
    tombstone_height,
)
from a27_pos.store import ChainStore, MemoryChainStore
from a27_pos.validators import ValidatorSet
from a27_pos.votes import CommitCertificate

REWARD_REASON = "block reward"
SLASH_REASON = "slashing"


class Chain:
    """One node's finalized chain over its ledger state. Create with `Chain.start`; `Chain(state, store)` reopens."""

    def __init__(self, state: LedgerState, store: ChainStore) -> None:
        """Reopen a chain whose ledger and chain store exist; finish applying a block stored before a crash."""
        head = chain_head(state)
        params = chain_params(state)
        genesis = state.get_data("pos", b"genesis")
        chain_id = state.get_data("pos", b"chain_id")
        if head is None or params is None or genesis is None or chain_id is None:
            raise PosGenesisError("the ledger holds no proof-of-stake chain; create one with Chain.start")
        if store.genesis_digest() != genesis:
            raise ChainStoreError("the chain store holds another chain than the ledger")
        self._state = state
        self._store = store
        self._params = params
        self._genesis_digest = genesis
        self._chain_id = chain_id.decode()
        self._strategy = strategy_named(params.proposer_strategy)
        self._head = head
        self._validator_sets: dict[int, ValidatorSet] = {}
        self._proposers: dict[tuple[int, int], bytes] = {}
        self._prepared: tuple[bytes, PreparedBlock] | None = None
        """The last block `check_block` ran against the current state, and what it computed (see `_apply`)."""
        self._last_certificate = store.certificate(head.height) if head.height else None
        self._checkpoint: Checkpoint | None = None
        stored = store.head_height()
        if stored == head.height + 1:
            self._finish_interrupted_commit()
        elif stored != head.height:
            raise ChainStoreError(f"chain store at height {stored} but ledger at {head.height}")
        if head.height and (block := store.block(head.height)) is not None and block.block_id != head.block_id:
            raise ChainStoreError(f"ledger applied another block at height {head.height} than the chain store holds")

    @classmethod
    def start(
        cls, genesis: PosGenesis, ledger_store: LedgerStore | None = None, chain_store: ChainStore | None = None,
        *, checkpoint: Checkpoint | None = None,
    ) -> Chain:
        """Start the chain of `genesis` (default stores: in memory), or resume it if the stores hold it.

        `checkpoint`: see `set_checkpoint` (CheckpointMismatch if the stores hold another history)."""
        chain_store = MemoryChainStore() if chain_store is None else chain_store
        state = LedgerState.from_genesis(genesis.ledger, ledger_store, pos_registry())
        digest = genesis.digest()
        existing = state.get_data("pos", b"genesis")
        if existing is None:
            if state.applied_count:
                raise PosGenesisError("the ledger already applied transactions outside a proof-of-stake chain")
            state.apply_block([], system=lambda ctx: start_chain(ctx, genesis, digest))
        elif existing != digest:
            raise PosGenesisError(f"the ledger holds PoS genesis {existing.hex()[:16]}, not {digest.hex()[:16]}")
        if chain_store.genesis_digest() is None:
            chain_store.initialize(digest)
        chain = cls(state, chain_store)
        chain.set_checkpoint(checkpoint)
        return chain

    # What the chain is -----------------------------------------------------------------------------------------

    @property
    def state(self) -> LedgerState:
        """The ledger state after the last finalized block."""
        return self._state

    @property
    def store(self) -> ChainStore:
        """The chain store."""
        return self._store

    @property
    def params(self) -> PosParams:
        """The chain parameters."""
        return self._params

    @property
    def chain_id(self) -> str:
        """The chain id."""
        return self._chain_id

    @property
    def genesis_digest(self) -> bytes:
        """The PoS genesis digest (the parent id of block 1)."""
        return self._genesis_digest

    @property
    def height(self) -> int:
        """Height of the last finalized block (0 before the first)."""
        return self._head.height

    @property
    def head(self) -> ChainHead:
        """Height, id and timestamp of the last finalized block."""
        return self._head

    @property
    def last_certificate(self) -> CommitCertificate | None:
        """The commit certificate of the last finalized block (None before the first)."""
        return self._last_certificate

    @property
    def checkpoint(self) -> Checkpoint | None:
        """The weak-subjectivity checkpoint this chain must contain (None: none configured)."""
        return self._checkpoint

    def set_checkpoint(self, checkpoint: Checkpoint | None) -> None:
        """Refuse from now on any block at `checkpoint.height` other than its block (None: no checkpoint).

        CheckpointMismatch (and nothing changes) if this chain already holds another block at that height: it is
        on another history, which a node never reverts by itself; start again from an empty store."""
        if checkpoint is not None and checkpoint.height <= self._head.height:
            own = self._own_block_id(checkpoint.height)
            if own != checkpoint.block_id:
                raise CheckpointMismatch(f"this chain holds {own.hex()[:8] if own else 'no block'} at height "
                                         f"{checkpoint.height}, the checkpoint {checkpoint.block_id.hex()[:8]}")
        self._checkpoint = checkpoint

    def checkpoint_at(self, height: int | None = None) -> Checkpoint:
        """This chain's block at `height` (default: the last finalized one) as a checkpoint, to hand another node.

        ValueError before the first block or for a height this chain does not hold."""
        height = self._head.height if height is None else height
        block_id = self._own_block_id(height) if 1 <= height <= self._head.height else None
        if block_id is None:
            raise ValueError(f"no finalized block at height {height} to checkpoint")
        return Checkpoint(height, block_id)

    def _own_block_id(self, height: int) -> bytes | None:
        if height == self._head.height:
            return self._head.block_id
        block = self._store.block(height)
        return None if block is None else block.block_id

    @property
    def strategy(self) -> ProposerStrategy:
        """The chain's proposer strategy."""
        return self._strategy

    def validator_set(self, height: int) -> ValidatorSet:
        """The validator set of `height` (kept for the next height and the last `evidence_max_age + 1`).

        KeyError for a height whose set is not kept.
        """
        cached = self._validator_sets.get(height)
        if cached is None:
            cached = stored_validator_set(self._state, height)
            if cached is None:
                raise KeyError(f"the validator set of height {height} is not kept")
            self._validator_sets[height] = cached
        return cached

    def proposer(self, height: int, round_number: int) -> bytes:
        """The proposer of `round_number` at the next height (`height` must be `self.height + 1`)."""
        if height != self._head.height + 1:
            raise ValueError(f"proposers are computed for the next height {self._head.height + 1}, not {height}")
        key = (height, round_number)
        proposer = self._proposers.get(key)
        if proposer is None:
            proposer = self._strategy.proposer(self.validator_set(height), height, round_number,
                                               ChainContext(self._head.block_id))
            self._proposers[key] = proposer
        return proposer

    def build_block(self, key: KeyPair, round_number: int, timestamp: int,
                    transactions: Sequence[Transaction] = (), evidence: Sequence[AnyEvidence] = ()) -> Block:
        """The next block with these contents, signed by `key`: parent, parent certificate and roots filled in.

        The timestamp (milliseconds) is raised to the parent's plus one if it is not after it.
        """
        return Block.build(key, chain_id=self._chain_id, height=self._head.height + 1, round=round_number,
                           timestamp=max(timestamp, self._head.timestamp + 1), parent_id=self._head.block_id,
                           transactions=transactions, evidence=evidence, last_commit=self._last_certificate)

    def block(self, height: int) -> Block | None:
        """The finalized block at `height`, or None."""
        return self._store.block(height)

    def certificate(self, height: int) -> CommitCertificate | None:
        """The commit certificate of the block at `height`, or None."""
        return self._store.certificate(height)

    # Validity ---------------------------------------------------------------------------------------------------

    def check_evidence(self, evidence: AnyEvidence, height: int) -> None:
        """Raise InvalidEvidence unless `evidence` may be included in the block at `height` (the next one)."""
        offence = evidence.height
        if not offence < height:
            raise InvalidEvidence(f"evidence of height {offence} cannot be included at height {height}")
        if height - offence > self._params.evidence_max_age:
            raise InvalidEvidence(f"evidence of height {offence} is older than {self._params.evidence_max_age} "
                                  f"blocks at height {height}")
        try:
            validator_set = self.validator_set(offence)
        except KeyError as error:
            raise InvalidEvidence(str(error)) from error
        evidence.check_offender(validator_set)
        evidence.verify(self.chain_id)
        if tombstone_height(self._state, evidence.offender) is not None:
            raise InvalidEvidence(f"{evidence.offender.hex()[:8]} was already punished")

    def check_block(self, block: Block, *, latest_timestamp: int | None = None,
                    check_transactions: bool = True) -> None:
        """Raise the PosError that makes `block` invalid as the next block; nothing changes either way.

        `latest_timestamp` (milliseconds) bounds the header timestamp from above: the receiver's clock plus the drift
        it tolerates, for live proposals; None for synced blocks. `check_transactions=False` skips the dry run of the
        transactions and system effects: only for the demonstration switch `pos.check_block_transactions`.
        """
        header = block.header
        height = self._head.height + 1
        if header.chain_id != self.chain_id:
            raise WrongChain(f"block of chain {header.chain_id!r}, not {self.chain_id!r}")
        if header.height != height:
            raise WrongChain(f"block height {header.height} is not the next height {height}")
        if header.parent_id != self._head.block_id:
            raise WrongChain(f"block parent {header.parent_id.hex()[:8]} is not the last block "
                             f"{self._head.block_id.hex()[:8]}")
        checkpoint = self._checkpoint
        if checkpoint is not None and checkpoint.height == height and block.block_id != checkpoint.block_id:
            raise CheckpointMismatch(f"block {block.block_id.hex()[:8]} at the checkpoint height {height}, the "
                                     f"checkpoint is {checkpoint.block_id.hex()[:8]}")
        expected = self.proposer(height, header.round)
        if header.proposer != expected:
            raise WrongProposer(f"block of round {header.round} by {header.proposer.hex()[:8]}, expected "
                                f"{expected.hex()[:8]}")
        block.verify_signature()
        if header.timestamp <= self._head.timestamp:
            raise BadTimestamp(f"timestamp {header.timestamp} is not after the parent's {self._head.timestamp}")
        if latest_timestamp is not None and header.timestamp > latest_timestamp:
            raise BadTimestamp(f"timestamp {header.timestamp} is ahead of the latest acceptable {latest_timestamp}")
        self._check_size(block)
        block.check_body()
        self._check_last_commit(block)
        offenders: set[bytes] = set()
        for evidence in block.evidence:
            if evidence.offender in offenders:
                raise InvalidEvidence(f"two evidence entries against {evidence.offender.hex()[:8]}")
            offenders.add(evidence.offender)
            self.check_evidence(evidence, height)
        if not check_transactions:
            return
        try:
            prepared = self._state.prepare_block(block.transactions, fee_recipient=header.proposer,
                                                 system=self._effects(block))
        except LedgerError as error:
            raise InvalidBlock(f"does not apply: {type(error).__name__}: {error}") from error
        # Kept for `_apply`: committing this block next writes what was just computed instead of running it again.
        self._prepared = (block.block_id, prepared)

    def _check_size(self, block: Block) -> None:
        params = self._params
        if len(block.transactions) > params.max_block_transactions:
            raise InvalidBlock(f"{len(block.transactions)} transactions, the limit is {params.max_block_transactions}")
        if len(block.evidence) > params.max_evidence_per_block:
            raise InvalidBlock(f"{len(block.evidence)} evidence entries, the limit is {params.max_evidence_per_block}")
        size = len(block.encode())
        if size > params.max_block_bytes:
            raise InvalidBlock(f"{size} bytes, the limit is {params.max_block_bytes}")

    def _check_last_commit(self, block: Block) -> None:
        height = block.height
        commit = block.last_commit
        if height == 1:
            if commit is not None:
                raise InvalidCertificate("the first block has no parent certificate")
            return
        if commit is None:
            raise InvalidCertificate("the block lacks its parent's certificate")
        if commit.height != height - 1 or commit.block_id != block.header.parent_id:
            raise InvalidCertificate("the parent certificate is for another block")
        commit.verify(self.validator_set(height - 1), self.chain_id)

    def _effects(self, block: Block) -> Callable[[StateTransition], None]:
        params = self._params
        header = block.header

        def effects(ctx: StateTransition) -> None:
            for evidence in block.evidence:
                slash(ctx, evidence.offender, evidence.height, params.slash_percent, SLASH_REASON)
            ctx.mint(header.proposer, params.block_reward, REWARD_REASON)
            release_due(ctx, header.height)
            advance_head(ctx, header.height, block.block_id, header.timestamp, params)

        return effects

    # Applying ---------------------------------------------------------------------------------------------------

    def commit(self, block: Block, certificate: CommitCertificate, *, checked: bool = False) -> list[Receipt]:
        """Append a finalized block: store it with its certificate, then apply it to the ledger.

        `checked=True` says the caller ran `check_block` on this block against the current state (the engine does,
        before prevoting), so signatures are not verified again. The certificate is trusted: the engine builds it
        from votes it verified; `apply_synced` verifies a peer's.
        """
        if certificate.block_id != block.block_id or certificate.height != block.height:
            raise InvalidCertificate("the certificate is not for this block")
        if not checked:
            self.check_block(block)
        self._store.put_block(block, certificate)
        return self._apply(block, certificate)

    def apply_synced(self, block: Block, certificate: CommitCertificate) -> list[Receipt]:
        """Verify a peer's finalized block and certificate, then commit it; the sync path.

        Raises ConflictingCommit for a valid certificate of another block at a height already finalized here.
        """
        if block.height <= self._head.height:
            self._check_conflict(block, certificate)
            return []
        if certificate.block_id != block.block_id or certificate.height != block.height:
            raise InvalidCertificate("the certificate is not for this block")
        if block.height == self._head.height + 1:
            certificate.verify(self.validator_set(block.height), self.chain_id)
        return self.commit(block, certificate)

    def _check_conflict(self, block: Block, certificate: CommitCertificate) -> None:
        own = self._store.block(block.height)
        if own is None or own.block_id == block.block_id:
            return
        try:
            certificate.verify(self.validator_set(block.height), self.chain_id)
        except (KeyError, InvalidCertificate):
            return
        if certificate.block_id == block.block_id:
            raise ConflictingCommit(f"a valid certificate finalizes {block.block_id.hex()[:8]} at height "
                                    f"{block.height}, where this node finalized {own.block_id.hex()[:8]}")

    def _apply(self, block: Block, certificate: CommitCertificate) -> list[Receipt]:
        kept, self._prepared = self._prepared, None
        if kept is not None and kept[0] == block.block_id and kept[1].version == self._state.commits:
            receipts = kept[1].receipts
            self._state.commit_prepared(kept[1])
        else:
            receipts = self._state.apply_block(block.transactions, fee_recipient=block.proposer,
                                               system=self._effects(block), verify_signature=False)
        self._head = ChainHead(block.height, block.block_id, block.header.timestamp)
        self._last_certificate = certificate
        self._proposers.clear()
        oldest_kept = block.height - self._params.evidence_max_age
        for height in [height for height in self._validator_sets if height < oldest_kept]:
            del self._validator_sets[height]
        return receipts

    def _finish_interrupted_commit(self) -> None:
        block = self._store.block(self._head.height + 1)
        certificate = self._store.certificate(self._head.height + 1)
        if block is None or certificate is None:
            raise ChainStoreError(f"the chain store lost block {self._head.height + 1}")
        self.check_block(block)
        self._apply(block, certificate)

    # Invariants -------------------------------------------------------------------------------------------------

    def check_invariants(self) -> None:
        """The ledger's invariant, and total supply == genesis supply + block_reward * height - burned.

        SupplyInvariantViolated otherwise.
        """
        self._state.check_invariants()
        meta = self._state.store.meta()
        rewards = self._params.block_reward * self._head.height
        if meta.minted != rewards:
            raise SupplyInvariantViolated(f"minted {meta.minted}, but {self._head.height} blocks reward {rewards}")
        expected = meta.genesis_supply + rewards - meta.burned
        if self._state.total_supply != expected:
            raise SupplyInvariantViolated(f"total supply {self._state.total_supply} != genesis {meta.genesis_supply}"
                                          f" + rewards {rewards} - burned {meta.burned}")

