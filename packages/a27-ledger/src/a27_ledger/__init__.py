"""a27 ledger layer: accounts, signed transactions, balances and their storage, and the Lab 1 overlay.

The core is pure and synchronous (no networking, no asyncio): transactions in, state changes and receipts out.
The IPv8 overlay (``A27Community``, ``signed_handler``, ``LedgerCommunity``, the payloads) is exported here too, but
loaded only when one of its names is first used, so that importing the core (``a27_ledger.state``, or any core name
from this package) loads neither asyncio nor ``ipv8.community``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from a27_ledger.__about__ import __version__
from a27_ledger.behaviour import (
    HONEST_LEDGER,
    KEEP_EVERY_PEER,
    HonestLedgerBehaviour,
    KeepEveryPeer,
    LedgerBehaviour,
    PeerPolicy,
)
from a27_ledger.cache import BoundedLRU, CacheStats, decode_shared, decoded_objects, signature_cache
from a27_ledger.defences import LedgerDefences
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
    NoValidator,
    QueueFull,
    SelfTransfer,
    StoreError,
    SubmissionTimeout,
    SupplyInvariantViolated,
    UnknownTransactionKind,
    error_for_code,
)
from a27_ledger.genesis import Genesis, GenesisAccount
from a27_ledger.keys import SIGNATURE_LENGTH, KeyPair, public_key_from_ipv8, short_id, verify_signature
from a27_ledger.lazy import lazy_exports
from a27_ledger.ledger_print import format_balances
from a27_ledger.peer_defences import (
    PeerAdmission,
    PeerDefences,
    PeerLimits,
    TokenBuckets,
    address_group,
    decide_admission,
)
from a27_ledger.pending import FutureNonceQueue, NonceView
from a27_ledger.records import Receipt, StateChanges, StoreMeta, SupplyEvent
from a27_ledger.registry import TransactionRegistry, default_registry
from a27_ledger.replication import (
    ACCEPTED,
    DOUBLE_SPEND_NAMESPACE,
    QUEUED,
    DoubleSpend,
    DoubleSpendProof,
    EntryOutcome,
    LedgerReplica,
    LogAdmission,
    LogEntry,
    MissingRange,
)
from a27_ledger.snapshot import LedgerSnapshot
from a27_ledger.state import FEE_POOL, LedgerState, PreparedBlock, StalePreparedBlock, StateTransition
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
from a27_ledger.vectors import (
    EncodingVectors,
    main_rewrite_vectors,
    read_vector_file,
    rewrite_vectors,
    vector_file_text,
    write_vector_file,
)

if TYPE_CHECKING:
    from a27_ledger.community import (
        LEDGER_COMMUNITY_NAME,
        SYNC_BATCH,
        BalanceInfo,
        LedgerCommunity,
        LedgerSettings,
        SubmitOutcome,
    )
    from a27_ledger.overlay import (
        A27Community,
        DropLogLimiter,
        DroppedMessage,
        account_of,
        community_id_for,
        decode_signed,
        encode_signed,
        signed_handler,
    )
    from a27_ledger.payloads import (
        LEDGER_MESSAGES,
        BalanceQuery,
        BalanceReply,
        LogEntryMessage,
        LogHead,
        SubmitTransaction,
        SyncRequest,
        TransactionResult,
    )

_OVERLAY_NAMES: dict[str, tuple[str, ...]] = {
    "a27_ledger.overlay": ("A27Community", "DropLogLimiter", "DroppedMessage", "account_of", "community_id_for",
                           "decode_signed", "encode_signed", "signed_handler"),
    "a27_ledger.community": ("LEDGER_COMMUNITY_NAME", "SYNC_BATCH", "BalanceInfo", "LedgerCommunity", "LedgerSettings",
                             "SubmitOutcome"),
    "a27_ledger.payloads": ("LEDGER_MESSAGES", "BalanceQuery", "BalanceReply", "LogEntryMessage", "LogHead",
                            "SubmitTransaction", "SyncRequest", "TransactionResult"),
}
"""Overlay names exported lazily (loaded on first use), by the module that defines them."""

__all__ = [
    "ACCEPTED",
    "DOUBLE_SPEND_NAMESPACE",
    "FEE_POOL",
    "HONEST_LEDGER",
    "KEEP_EVERY_PEER",
    "LEDGER_COMMUNITY_NAME",
    "LEDGER_MESSAGES",
    "MAX_UINT64",
    "QUEUED",
    "SIGNATURE_LENGTH",
    "SIGNING_DOMAIN",
    "SYNC_BATCH",
    "TX_VERSION",
    "A27Community",
    "BadSignature",
    "BalanceInfo",
    "BalanceQuery",
    "BalanceReply",
    "BoundedLRU",
    "CacheStats",
    "DoubleSpend",
    "DoubleSpendProof",
    "DropLogLimiter",
    "DroppedMessage",
    "DuplicateTransaction",
    "EncodingVectors",
    "EntryOutcome",
    "FutureNonceQueue",
    "Genesis",
    "GenesisAccount",
    "GenesisError",
    "HonestLedgerBehaviour",
    "InsufficientBalance",
    "InvalidAmount",
    "KeepEveryPeer",
    "KeyPair",
    "LedgerBehaviour",
    "LedgerCommunity",
    "LedgerDefences",
    "LedgerError",
    "LedgerReplica",
    "LedgerSettings",
    "LedgerSnapshot",
    "LedgerState",
    "LedgerStore",
    "LogAdmission",
    "LogEntry",
    "LogEntryMessage",
    "LogHead",
    "MalformedTransaction",
    "MemoryStore",
    "MissingRange",
    "NoValidator",
    "NonceGap",
    "NonceReplay",
    "NonceView",
    "PeerAdmission",
    "PeerDefences",
    "PeerLimits",
    "PeerPolicy",
    "PreparedBlock",
    "QueueFull",
    "Receipt",
    "SQLiteStore",
    "SelfTransfer",
    "StalePreparedBlock",
    "StateChanges",
    "StateTransition",
    "StoreError",
    "StoreMeta",
    "SubmissionTimeout",
    "SubmitOutcome",
    "SubmitTransaction",
    "SupplyEvent",
    "SupplyInvariantViolated",
    "SyncRequest",
    "TokenBuckets",
    "Transaction",
    "TransactionBody",
    "TransactionRegistry",
    "TransactionResult",
    "Transfer",
    "UnknownTransactionKind",
    "__version__",
    "account_of",
    "address_group",
    "community_id_for",
    "decide_admission",
    "decode_shared",
    "decode_signed",
    "decoded_objects",
    "default_registry",
    "encode_signed",
    "error_for_code",
    "format_balances",
    "lazy_exports",
    "main_rewrite_vectors",
    "public_key_from_ipv8",
    "read_vector_file",
    "rewrite_vectors",
    "short_id",
    "sign_transfer",
    "signature_cache",
    "signed_handler",
    "vector_file_text",
    "verify_signature",
    "write_vector_file",
]


__getattr__, __dir__ = lazy_exports(__name__, _OVERLAY_NAMES, __all__)
