"""Transactions submitted to a validator, and a submitter's own nonces: the decisions, without the network.

`SubmissionDesk` is a validator's side: whether a submitted or gossiped transaction enters the mempool, what to
answer, whether to gossip it on, and whom to tell when a block makes it final. `NonceCounter` is a submitter's side:
which nonce its next transaction carries, also after a transaction it sent was lost. `PosCommunity` sends and
receives what these decide.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Hashable, Sequence
from typing import Generic, TypeVar

import attrs

from a27_ledger import DuplicateTransaction, LedgerError, LedgerState, Transaction
from a27_pos.block import Block
from a27_pos.errors import PosError
from a27_pos.mempool import Mempool

ADMITTED = 0
"""TransactionStatus code of a transaction admitted to the mempool."""

Submitter = TypeVar("Submitter", bound=Hashable)
_K = TypeVar("_K")
_V = TypeVar("_V")


@attrs.frozen
class SubmissionVerdict:
    """What a validator answers a submission: `code` (ADMITTED or an error code) and `reason`.

    `gossip`: pass the transaction on to the other validators (it is new in this mempool). `final`: the transaction
    is in a block finalized here already, (height, block id), to be told to the submitter as well.
    """

    tx_id: bytes
    code: int
    reason: str
    gossip: bool = False
    final: tuple[int, bytes] | None = None

    @property
    def admitted(self) -> bool:
        """Whether the transaction is (or was) accepted."""
        return self.code == ADMITTED


@attrs.frozen
class FinalityNotice(Generic[Submitter]):
    """Tell `submitter` that the transaction `tx_id` is final in the block `block_id` at `height`."""

    submitter: Submitter
    tx_id: bytes
    height: int
    block_id: bytes


class SubmissionDesk(Generic[Submitter]):
    """A validator's decisions on transactions it is given, and its memory of who gave them.

    Both memories (submitters waiting for finality, transactions finalized lately) hold at most `max_tracked`
    entries, forgetting the oldest: submissions from ever new keys cannot grow them without bound.
    """

    def __init__(self, mempool: Mempool, *, max_tracked: int = 10_000) -> None:
        """Admit into `mempool`."""
        if max_tracked < 1:
            raise ValueError("max_tracked must be positive")
        self.mempool = mempool
        self.max_tracked = max_tracked
        self._submitters: OrderedDict[bytes, Submitter] = OrderedDict()
        self._recently_final: OrderedDict[bytes, tuple[int, bytes]] = OrderedDict()

    def submit(self, transaction: Transaction, submitter: Submitter, state: LedgerState,
               now: float) -> SubmissionVerdict:
        """`submitter` sent `transaction` (possibly again, its first answer lost): admit it and decide the answer."""
        tx_id = transaction.tx_id
        final = self._recently_final.get(tx_id)
        if final is not None:
            return SubmissionVerdict(tx_id, ADMITTED, "", final=final)
        gossip = True
        try:
            self.mempool.add(transaction, state, now=now)
        except DuplicateTransaction:
            if tx_id not in self.mempool:
                return SubmissionVerdict(tx_id, DuplicateTransaction.code, "another transaction holds this nonce")
            gossip = False
        except (LedgerError, PosError) as error:
            return SubmissionVerdict(tx_id, error.code, f"{error.reason}: {error}")
        _remember(self._submitters, tx_id, submitter, self.max_tracked)
        return SubmissionVerdict(tx_id, ADMITTED, "", gossip=gossip)

    def gossiped(self, transaction: Transaction, state: LedgerState, now: float) -> str:
        """Another validator gossiped `transaction`: admit it if new; the outcome, as a label for statistics.

        "gossip duplicate", "gossip admitted", or "gossip refused: <reason>" (another validator's view can differ,
        its chain may be ahead: a refusal is not a fault)."""
        if transaction.tx_id in self.mempool:
            return "gossip duplicate"
        try:
            self.mempool.add(transaction, state, now=now)
        except (LedgerError, PosError) as error:
            return f"gossip refused: {error.reason}"
        return "gossip admitted"

    def finalized(self, block: Block) -> list[FinalityNotice[Submitter]]:
        """`block` is final here: remember its transactions (for retransmitted submissions), and whom to tell."""
        notices: list[FinalityNotice[Submitter]] = []
        for tx in block.transactions:
            tx_id = tx.tx_id
            _remember(self._recently_final, tx_id, (block.height, block.block_id), self.max_tracked)
            submitter = self._submitters.pop(tx_id, None)
            if submitter is not None:
                notices.append(FinalityNotice(submitter, tx_id, block.height, block.block_id))
        return notices

    @property
    def waiting(self) -> int:
        """Submitters waiting to be told of finality."""
        return len(self._submitters)


class NonceCounter:
    """A submitter's next nonce: the chain's, or one past the last transaction a validator admitted if higher.

    Transactions admitted but not yet final hold their nonces; after one of them times out (a mempool may have dropped
    it), the count starts again from the chain, or every later transaction would wait behind a nonce that never comes.
    """

    def __init__(self) -> None:
        """No transaction admitted yet."""
        self._next = 0

    def next_nonce(self, chain_next: int) -> int:
        """The nonce of the next transaction, given the chain's next nonce for this account."""
        return max(chain_next, self._next)

    def admitted(self, nonce: int) -> None:
        """A validator admitted this account's transaction with `nonce`."""
        self._next = max(self._next, nonce + 1)

    def timed_out(self, chain_next: int) -> None:
        """A transaction did not become final in time: take the next nonce from the chain again."""
        self._next = chain_next


def next_submission_target(validators: Sequence[_K], tried: Collection[_K]) -> _K | None:
    """The validator to submit a still unfinished transaction to next: the first of `validators` (in the order the
    submitter knows them) not `tried` yet, or None when every one was tried. A censoring validator can hold back a
    transaction only until the submitter's next try reaches an honest one, which relays it to the others."""
    return next((validator for validator in validators if validator not in tried), None)


def _remember(memory: OrderedDict[_K, _V], key: _K, value: _V, limit: int) -> None:
    """Keep `key` as the newest entry of a bounded memory, forgetting the oldest beyond `limit`."""
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > limit:
        memory.popitem(last=False)
