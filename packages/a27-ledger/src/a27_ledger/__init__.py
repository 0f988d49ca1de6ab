"""a27 ledger layer: accounts, signed transactions, balances and their storage.

The core is pure and synchronous (no networking, no asyncio): transactions in, state changes and receipts out.
"""

from a27_ledger.__about__ import __version__
from a27_ledger.community import BalanceInfo, LedgerCommunity, LedgerSettings, SubmissionTimeout, SubmitOutcome
from a27_ledger.errors import (
    BadSignature,
    DuplicateTransaction,
    GenesisError,
    InsufficientBalance,
    InvalidAmount,
    LedgerError,
    MalformedTransaction,
    NonceGap,
    NonceReplay,
    QueueFull,
    SelfTransfer,
    StoreError,
    SupplyInvariantViolated,
    UnknownTransactionKind,
    error_for_code,
)
from a27_ledger.genesis import Genesis, GenesisAccount
from a27_ledger.keys import KeyPair, public_key_from_ipv8, short_id, verify_signature
from a27_ledger.ledger_print import format_balances
from a27_ledger.pending import FutureNonceQueue, NonceView
from a27_ledger.records import Receipt, StateChanges, StoreMeta, SupplyEvent
from a27_ledger.registry import TransactionRegistry, default_registry
from a27_ledger.snapshot import LedgerSnapshot
from a27_ledger.state import FEE_POOL, LedgerState, StateTransition
from a27_ledger.store import LedgerStore, MemoryStore, SQLiteStore
from a27_ledger.transaction import (
    MAX_UINT64,
    SIGNING_DOMAIN,
    TX_VERSION,
    Transaction,
    TransactionBody,
    Transfer,
    sign_transfer,
)

__all__ = [
    "FEE_POOL",
    "MAX_UINT64",
    "SIGNING_DOMAIN",
    "TX_VERSION",
    "BadSignature",
    "BalanceInfo",
    "DuplicateTransaction",
    "FutureNonceQueue",
    "Genesis",
    "GenesisAccount",
    "GenesisError",
    "InsufficientBalance",
    "InvalidAmount",
    "KeyPair",
    "LedgerCommunity",
    "LedgerError",
    "LedgerSettings",
    "LedgerSnapshot",
    "LedgerState",
    "LedgerStore",
    "MalformedTransaction",
    "MemoryStore",
    "NonceGap",
    "NonceReplay",
    "NonceView",
    "QueueFull",
    "Receipt",
    "SQLiteStore",
    "SelfTransfer",
    "StateChanges",
    "StateTransition",
    "StoreError",
    "StoreMeta",
    "SubmissionTimeout",
    "SubmitOutcome",
    "SupplyEvent",
    "SupplyInvariantViolated",
    "Transaction",
    "TransactionBody",
    "TransactionRegistry",
    "Transfer",
    "UnknownTransactionKind",
    "__version__",
    "default_registry",
    "error_for_code",
    "format_balances",
    "public_key_from_ipv8",
    "short_id",
    "sign_transfer",
    "verify_signature",
]
