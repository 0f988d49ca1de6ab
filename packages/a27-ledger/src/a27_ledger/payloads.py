"""
Messages of the ledger community (``a27/ledger/v1``). PROTOCOL.md at the repository root is their contract.

Every message is signed with IPv8's standard layout (see ``overlay.py``). Field formats are IPv8 serializer
formats, all big-endian: ``B`` u8, ``H`` u16, ``I`` u32, ``Q`` u64, ``32s`` 32 raw bytes, ``varlenH`` a u16
length then that many bytes, ``varlenHutf8`` the same holding UTF-8 text.
"""

from __future__ import annotations

from ipv8.messaging.lazy_payload import VariablePayload, vp_compile


@vp_compile
class SubmitTransaction(VariablePayload):
    """Light node -> validator: please admit this transaction (canonical encoding, see the transaction format)."""

    msg_id = 1
    format_list = ["varlenH"]
    names = ["transaction"]
    transaction: bytes


@vp_compile
class TransactionResult(VariablePayload):
    """Validator -> submitter: the verdict on a submission (code 0 accepted, 255 queued, else a ledger error)."""

    msg_id = 2
    format_list = ["32s", "B", "Q", "varlenHutf8"]
    names = ["tx_id", "code", "sequence", "reason"]
    tx_id: bytes
    code: int
    sequence: int
    reason: str


@vp_compile
class LogEntryMessage(VariablePayload):
    """Validator -> every node: the transaction at position ``sequence`` of the sender's log."""

    msg_id = 3
    format_list = ["Q", "varlenH"]
    names = ["sequence", "transaction"]
    sequence: int
    transaction: bytes


@vp_compile
class LogHead(VariablePayload):
    """Validator -> every node, periodically: the position of the last entry of the sender's log."""

    msg_id = 4
    format_list = ["Q"]
    names = ["head"]
    head: int


@vp_compile
class SyncRequest(VariablePayload):
    """Node -> validator: resend entries ``start .. start + count - 1`` of your log (count at most 64)."""

    msg_id = 5
    format_list = ["Q", "H"]
    names = ["start", "count"]
    start: int
    count: int


@vp_compile
class BalanceQuery(VariablePayload):
    """Light node -> validator: what is this account's balance and next nonce?"""

    msg_id = 6
    format_list = ["I", "32s"]
    names = ["request_id", "account"]
    request_id: int
    account: bytes


@vp_compile
class BalanceReply(VariablePayload):
    """Validator -> light node: an account's balance and next nonce, and the validator's log head."""

    msg_id = 7
    format_list = ["I", "32s", "Q", "Q", "Q"]
    names = ["request_id", "account", "balance", "next_nonce", "head"]
    request_id: int
    account: bytes
    balance: int
    next_nonce: int
    head: int


LEDGER_MESSAGES = (SubmitTransaction, TransactionResult, LogEntryMessage, LogHead, SyncRequest, BalanceQuery,
                   BalanceReply)
"""Every message class of the ledger community, in message id order."""
