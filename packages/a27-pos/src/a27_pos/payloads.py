"""
Messages of the PoS community (``a27/pos/v1``). PROTOCOL.md at the repository root is their contract.

Every message is signed with IPv8's standard layout (see ``a27_ledger.overlay``). Blocks, proposals, votes, evidence
and certificates travel in their canonical encodings (``raw``: the rest of the message, or ``varlenI``: a u32
length first), which carry their own signatures, so any node may relay them. Field formats are IPv8 serializer
formats, big-endian: ``B`` u8, ``H`` u16, ``Q`` u64, ``32s`` 32 raw bytes, ``varlenH`` a u16 length then the bytes,
``varlenHutf8`` the same holding UTF-8 text.
"""

from __future__ import annotations

from ipv8.messaging.lazy_payload import VariablePayload, vp_compile


@vp_compile
class SubmitTransaction(VariablePayload):
    """Any node -> validator: admit this transaction (canonical encoding) to your mempool."""

    msg_id = 1
    format_list = ["varlenH"]
    names = ["transaction"]
    transaction: bytes


@vp_compile
class TransactionStatus(VariablePayload):
    """Validator -> submitter: 0 when the transaction is in the mempool (not yet final), else an error code."""

    msg_id = 2
    format_list = ["32s", "B", "varlenHutf8"]
    names = ["tx_id", "code", "reason"]
    tx_id: bytes
    code: int
    reason: str


@vp_compile
class TransactionGossip(VariablePayload):
    """Validator -> validators: a transaction it admitted, for their mempools (no answer)."""

    msg_id = 3
    format_list = ["varlenH"]
    names = ["transaction"]
    transaction: bytes


@vp_compile
class ProposalMessage(VariablePayload):
    """Validator -> validators: a signed proposal (the round's proposer's, possibly relayed)."""

    msg_id = 4
    format_list = ["raw"]
    names = ["proposal"]
    proposal: bytes


@vp_compile
class VoteMessage(VariablePayload):
    """Validator -> validators: a signed prevote or precommit (141 bytes, possibly relayed)."""

    msg_id = 5
    format_list = ["raw"]
    names = ["vote"]
    vote: bytes


@vp_compile
class EvidenceMessage(VariablePayload):
    """Validator -> validators: proof that a validator equivocated: vote evidence (282 bytes) or, from revision 3,
    proposal evidence (245 bytes); the first byte tells which."""

    msg_id = 6
    format_list = ["raw"]
    names = ["evidence"]
    evidence: bytes


@vp_compile
class Status(VariablePayload):
    """Every node -> peers, periodically and after each finalized block: its last finalized height and block."""

    msg_id = 7
    format_list = ["Q", "32s"]
    names = ["height", "block_id"]
    height: int
    block_id: bytes


@vp_compile
class BlockRequest(VariablePayload):
    """Node -> peer: send finalized blocks ``start .. start + count - 1`` with their certificates."""

    msg_id = 8
    format_list = ["Q", "H"]
    names = ["start", "count"]
    start: int
    count: int


@vp_compile
class BlockResponse(VariablePayload):
    """Peer -> node: one finalized block and its commit certificate."""

    msg_id = 9
    format_list = ["varlenI", "raw"]
    names = ["block", "certificate"]
    block: bytes
    certificate: bytes


@vp_compile
class TransactionFinal(VariablePayload):
    """Validator -> submitter: the submitted transaction is in the finalized block ``block_id`` at ``height``."""

    msg_id = 10
    format_list = ["32s", "Q", "32s"]
    names = ["tx_id", "height", "block_id"]
    tx_id: bytes
    height: int
    block_id: bytes


POS_MESSAGES = (SubmitTransaction, TransactionStatus, TransactionGossip, ProposalMessage, VoteMessage,
                EvidenceMessage, Status, BlockRequest, BlockResponse, TransactionFinal)
"""Every message class of the PoS community, in message id order."""
