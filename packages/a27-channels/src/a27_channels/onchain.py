"""The on-chain side of channels: transaction kinds, the channel record, the preimage registry.

Everything lives in the ledger state and changes only through `StateTransition`, so it is committed atomically with
the block that changes it and supply is conserved by construction (deposits are locked in an escrow, payouts
unlocked from it):

===================================  ===========================================================================
escrow ``("channel", channel_id)``    the channel's deposits, until paid out
data ``("channel", channel_id)``      the channel record (`ChannelRecord.encode`); kept after the close, so that a
                                      funding consent can never be replayed
data ``("channel/preimage", hash)``   height (u64) at which a preimage of ``hash`` was first revealed on chain
===================================  ===========================================================================

Heights: a transaction's height is that of the block including it (`inclusion_height`), read from a27-pos's chain
head, which during a block still names the previous block.
"""

from __future__ import annotations

import enum
import struct
from typing import Any, ClassVar

import attrs

from a27_channels.errors import (
    BadPreimage,
    ChallengePeriod,
    ChannelError,
    ChannelExists,
    ExpiryTooSoon,
    FundingExpired,
    InvalidChannelSignature,
    InvalidChannelState,
    InvalidHtlc,
    MalformedChannelData,
    NotAChannelParty,
    StaleState,
    UnknownChannel,
    WrongChannelStatus,
)
from a27_channels.state import (
    CLOSE_DOMAIN,
    PARTY_A,
    SIGNATURE_LENGTH,
    STATE_DOMAIN,
    ChannelState,
    ChannelTerms,
    Htlc,
    SignedState,
    payment_hash_of,
)
from a27_ledger import (
    MAX_UINT64,
    InvalidAmount,
    LedgerState,
    LedgerStore,
    MemoryStore,
    StateTransition,
    Transaction,
    TransactionRegistry,
)
from a27_pos import Chain, ChainStore, MemoryChainStore, PosGenesis, PosGenesisError, pos_registry
from a27_pos.staking import StateReader, chain_head

CHANNEL = "channel"
"""Escrow name and data namespace of channel records."""
PREIMAGES = "channel/preimage"
"""Data namespace of the preimage registry."""
RECORD_VERSION = 1

_RECORD_HEAD = struct.Struct(">BBB100s32sQQQBH")
_U16 = struct.Struct(">H")
_U64 = struct.Struct(">Q")
_CLAIM = struct.Struct(">32sQ32s")
_REFUND = struct.Struct(">32sQ")


class ChannelStatus(enum.IntEnum):
    """Where a channel is in its life on chain."""

    OPEN = 1
    CLOSING = 2
    """A state was published; the challenge period runs until the deadline."""
    SETTLING = 3
    """Balances paid out; some HTLCs of the published state are still undecided."""
    CLOSED = 4
    """Everything paid out."""


class CloseOutcome(enum.IntEnum):
    """How a channel closed."""

    NONE = 0
    COOPERATIVE = 1
    UNILATERAL = 2
    PENALTY = 3


@attrs.frozen
class ChannelRecord:
    """What the chain knows of a channel: its terms and funding, and once closing, the published state."""

    terms: ChannelTerms
    status: ChannelStatus
    funding_tx_id: bytes
    funding_height: int
    outcome: CloseOutcome = CloseOutcome.NONE
    close_height: int = 0
    deadline: int = 0
    """Last height at which a Challenge is accepted."""
    publisher: int = PARTY_A
    """The party whose state is published (0 = a, 1 = b)."""
    published: ChannelState | None = None
    pending_htlcs: tuple[int, ...] = ()
    """Ids of the published state's HTLCs not yet paid out (while SETTLING)."""

    @property
    def channel_id(self) -> bytes:
        """The channel id."""
        return self.terms.channel_id

    def encode(self) -> bytes:
        """``version u8 | status u8 | outcome u8 | terms 100 | funding_tx_id 32 | funding_height u64 | close_height
        u64 | deadline u64 | publisher u8 | pending_count u16 | pending ids u64* | state_length u16 | state``."""
        state = b"" if self.published is None else self.published.encode()
        return (_RECORD_HEAD.pack(RECORD_VERSION, self.status, self.outcome, self.terms.encode(), self.funding_tx_id,
                                  self.funding_height, self.close_height, self.deadline, self.publisher,
                                  len(self.pending_htlcs))
                + b"".join(_U64.pack(htlc_id) for htlc_id in self.pending_htlcs) + _U16.pack(len(state)) + state)

    @classmethod
    def decode(cls, data: bytes) -> ChannelRecord:
        """Parse a record; MalformedChannelData on anything else."""
        if len(data) < _RECORD_HEAD.size + _U16.size:
            raise MalformedChannelData("channel record too short")
        (version, status, outcome, terms, funding_tx_id, funding_height, close_height, deadline, publisher,
         count) = _RECORD_HEAD.unpack_from(data)
        if version != RECORD_VERSION:
            raise MalformedChannelData(f"channel record version {version}")
        offset = _RECORD_HEAD.size
        pending = tuple(_U64.unpack_from(data, offset + 8 * index)[0] for index in range(count))
        offset += 8 * count
        (length,) = _U16.unpack_from(data, offset)
        offset += _U16.size
        if len(data) != offset + length:
            raise MalformedChannelData("channel record length mismatch")
        published = ChannelState.decode(data[offset:]) if length else None
        try:
            return cls(ChannelTerms.decode(terms), ChannelStatus(status), funding_tx_id, funding_height,
                       CloseOutcome(outcome), close_height, deadline, publisher, published, pending)
        except ValueError as error:
            raise MalformedChannelData(str(error)) from error


def channel_record(reader: StateReader, channel_id: bytes) -> ChannelRecord | None:
    """The chain's record of a channel, or None."""
    data = reader.get_data(CHANNEL, channel_id)
    return None if data is None else ChannelRecord.decode(data)


def preimage_height(reader: StateReader, payment_hash: bytes) -> int | None:
    """The height at which a preimage of `payment_hash` was first revealed on chain, or None."""
    data = reader.get_data(PREIMAGES, payment_hash)
    return None if data is None else int.from_bytes(data, "big")


class HtlcOutcome(enum.Enum):
    """Who an HTLC of a published state pays, at a height."""

    RECEIVER = "receiver"
    OFFERER = "offerer"
    UNDECIDED = "undecided"


def htlc_outcome(htlc: Htlc, height: int, registered: int | None) -> HtlcOutcome:
    """RECEIVER if its preimage was registered before its expiry, OFFERER once `height` reached the expiry without
    that, else UNDECIDED. `registered` is `preimage_height` of its hash."""
    if registered is not None and registered < htlc.expiry:
        return HtlcOutcome.RECEIVER
    if height >= htlc.expiry:
        return HtlcOutcome.OFFERER
    return HtlcOutcome.UNDECIDED


def inclusion_height(ctx: StateTransition) -> int:
    """The height of the block being applied: the chain head's height plus one."""
    head = chain_head(ctx)
    if head is None:
        raise ChannelError("channel transactions need a proof-of-stake chain")
    return head.height + 1


def _record(ctx: StateTransition, channel_id: bytes) -> ChannelRecord:
    record = channel_record(ctx, channel_id)
    if record is None:
        raise UnknownChannel(f"no channel {channel_id.hex()[:16]} on chain")
    return record


def _party(record: ChannelRecord, account: bytes) -> int:
    party = record.terms.party_of(account)
    if party is None:
        raise NotAChannelParty(f"{account.hex()[:8]} is not a party of channel {record.channel_id.hex()[:16]}")
    return party


def _put(ctx: StateTransition, record: ChannelRecord) -> None:
    ctx.put_data(CHANNEL, record.channel_id, record.encode())


def _payout(ctx: StateTransition, record: ChannelRecord, party: int, amount: int) -> None:
    ctx.unlock(CHANNEL, record.channel_id, record.terms.parties[party], amount)


def _check_published(record: ChannelRecord, signed: SignedState) -> None:
    state = signed.state
    if state.channel_id != record.channel_id:
        raise InvalidChannelState("the state belongs to another channel")
    state.check(record.terms.capacity)
    signed.verify(record.terms.party_a, record.terms.party_b)


def _signed_field(domain: bytes) -> Any:
    def check(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is not SignedState or value.domain != domain:
            raise MalformedChannelData("expected a SignedState with the matching signature domain")

    return check


class _SignedStateBody:
    """Bodies that carry one signed state."""

    KIND: ClassVar[int]
    NAME: ClassVar[str]
    signed: SignedState

    def encode(self) -> bytes:
        """The signed state's encoding."""
        return self.signed.encode()

    def check(self, tx: Transaction) -> None:
        """Nothing beyond the encoding: the rules need the channel record."""

    def debit(self) -> int:
        """Nothing leaves the sender's balance but the fee."""
        return 0


@attrs.frozen
class ChannelOpen:
    """Party a opens a channel (kind 20): both deposits move into the channel's escrow.

    Carries the terms and party b's funding signature; valid up to the terms' funding deadline, once per channel id.
    """

    KIND: ClassVar[int] = 20
    NAME: ClassVar[str] = "channel_open"
    terms: ChannelTerms
    signature_b: bytes = attrs.field()

    @signature_b.validator
    def _check_signature(self, _attribute: attrs.Attribute[bytes], value: bytes) -> None:
        if type(value) is not bytes or len(value) != SIGNATURE_LENGTH:
            raise MalformedChannelData("the funding signature must be 64 bytes")

    def encode(self) -> bytes:
        """``terms 100 | signature_b 64``."""
        return self.terms.encode() + self.signature_b

    @classmethod
    def decode(cls, data: bytes) -> ChannelOpen:
        """Parse a 164-byte body."""
        if len(data) != 100 + SIGNATURE_LENGTH:
            raise MalformedChannelData(f"channel open body is {len(data)} bytes, expected 164")
        return cls(ChannelTerms.decode(data[:100]), data[100:])

    def check(self, tx: Transaction) -> None:
        """Sender is party a, terms are sound, deposit + fee fit a u64, party b's signature verifies."""
        self.terms.check()
        if tx.sender != self.terms.party_a:
            raise NotAChannelParty("a channel is opened by its party a")
        if self.terms.deposit_a + tx.fee > MAX_UINT64:
            raise InvalidAmount("deposit + fee exceeds 2**64-1")
        if not self.terms.verify_funding_signature(self.signature_b):
            raise InvalidChannelSignature("party b's funding signature does not verify")

    def debit(self) -> int:
        """Party a's deposit."""
        return self.terms.deposit_a

    def apply(self, tx: Transaction, ctx: StateTransition) -> None:
        """Lock both deposits and write the record."""
        height = inclusion_height(ctx)
        terms = self.terms
        if height > terms.funding_deadline:
            raise FundingExpired(f"height {height} is past the funding deadline {terms.funding_deadline}")
        channel_id = terms.channel_id
        if ctx.get_data(CHANNEL, channel_id) is not None:
            raise ChannelExists(f"channel {channel_id.hex()[:16]} already exists")
        ctx.lock(terms.party_a, CHANNEL, channel_id, terms.deposit_a)
        ctx.lock(terms.party_b, CHANNEL, channel_id, terms.deposit_b)
        _put(ctx, ChannelRecord(terms, ChannelStatus.OPEN, tx.tx_id, height))


@attrs.frozen
class CooperativeClose(_SignedStateBody):
    """Both parties' final balances (kind 21): paid out at once. The state has no HTLCs and is signed with the close
    domain; either party sends it, while the channel is open or closing."""

    KIND: ClassVar[int] = 21
    NAME: ClassVar[str] = "channel_cooperative_close"
    signed: SignedState = attrs.field(validator=_signed_field(CLOSE_DOMAIN))

    @classmethod
    def decode(cls, data: bytes) -> CooperativeClose:
        """Parse a signed state (close domain)."""
        return cls(SignedState.decode(data, CLOSE_DOMAIN))

    def check(self, tx: Transaction) -> None:
        """The final state has no pending HTLCs."""
        if self.signed.state.htlcs:
            raise InvalidChannelState("a cooperative close settles every HTLC first")

    def apply(self, tx: Transaction, ctx: StateTransition) -> None:
        """Pay both balances and close."""
        record = _record(ctx, self.signed.state.channel_id)
        if record.status not in (ChannelStatus.OPEN, ChannelStatus.CLOSING):
            raise WrongChannelStatus(f"channel is {record.status.name.lower()}")
        _party(record, tx.sender)
        _check_published(record, self.signed)
        state = self.signed.state
        _payout(ctx, record, 0, state.balance_a)
        _payout(ctx, record, 1, state.balance_b)
        _put(ctx, attrs.evolve(record, status=ChannelStatus.CLOSED, outcome=CloseOutcome.COOPERATIVE,
                               close_height=inclusion_height(ctx), published=state, pending_htlcs=()))


@attrs.frozen
class UnilateralClose(_SignedStateBody):
    """A party publishes a state signed by both (kind 22); the challenge period starts."""

    KIND: ClassVar[int] = 22
    NAME: ClassVar[str] = "channel_unilateral_close"
    signed: SignedState = attrs.field(validator=_signed_field(STATE_DOMAIN))

    @classmethod
    def decode(cls, data: bytes) -> UnilateralClose:
        """Parse a signed state."""
        return cls(SignedState.decode(data))

    def apply(self, tx: Transaction, ctx: StateTransition) -> None:
        """Record the published state and the deadline."""
        record = _record(ctx, self.signed.state.channel_id)
        if record.status is not ChannelStatus.OPEN:
            raise WrongChannelStatus(f"channel is {record.status.name.lower()}, not open")
        publisher = _party(record, tx.sender)
        _check_published(record, self.signed)
        height = inclusion_height(ctx)
        _put(ctx, attrs.evolve(record, status=ChannelStatus.CLOSING, close_height=height,
                               deadline=height + record.terms.challenge_period, publisher=publisher,
                               published=self.signed.state))


@attrs.frozen
class Challenge(_SignedStateBody):
    """The other party answers a published state with a newer one (kind 23), up to the deadline.

    If the newer state's proposer is the publisher of the older one, the publisher knew it was superseded: the
    challenger receives the whole channel (penalty). Otherwise the newer state replaces the published one.
    """

    KIND: ClassVar[int] = 23
    NAME: ClassVar[str] = "channel_challenge"
    signed: SignedState = attrs.field(validator=_signed_field(STATE_DOMAIN))

    @classmethod
    def decode(cls, data: bytes) -> Challenge:
        """Parse a signed state."""
        return cls(SignedState.decode(data))

    def apply(self, tx: Transaction, ctx: StateTransition) -> None:
        """Replace the published state, or pay the whole escrow to the challenger."""
        record = _record(ctx, self.signed.state.channel_id)
        if record.status is not ChannelStatus.CLOSING or record.published is None:
            raise WrongChannelStatus(f"channel is {record.status.name.lower()}, not closing")
        height = inclusion_height(ctx)
        if height > record.deadline:
            raise ChallengePeriod(f"the challenge period ended at height {record.deadline}")
        challenger = _party(record, tx.sender)
        if challenger == record.publisher:
            raise NotAChannelParty("only the other party challenges a published state")
        state = self.signed.state
        if state.sequence <= record.published.sequence:
            raise StaleState(f"state {state.sequence} is not newer than the published {record.published.sequence}")
        _check_published(record, self.signed)
        if state.proposer == record.publisher:
            _payout(ctx, record, challenger, ctx.escrow(CHANNEL, record.channel_id))
            _put(ctx, attrs.evolve(record, status=ChannelStatus.CLOSED, outcome=CloseOutcome.PENALTY,
                                   published=state, publisher=challenger, pending_htlcs=()))
        else:
            _put(ctx, attrs.evolve(record, published=state, publisher=challenger))


def _settle_htlcs(ctx: StateTransition, record: ChannelRecord, htlc_ids: tuple[int, ...], height: int) -> ChannelRecord:
    """Pay out every decided HTLC among `htlc_ids`; the record with the rest pending (CLOSED if none is)."""
    assert record.published is not None
    pending = []
    for htlc_id in htlc_ids:
        htlc = record.published.htlc(htlc_id)
        outcome = htlc_outcome(htlc, height, preimage_height(ctx, htlc.payment_hash))
        if outcome is HtlcOutcome.UNDECIDED:
            pending.append(htlc_id)
        else:
            _payout(ctx, record, htlc.receiver if outcome is HtlcOutcome.RECEIVER else htlc.offerer, htlc.amount)
    status = ChannelStatus.SETTLING if pending else ChannelStatus.CLOSED
    return attrs.evolve(record, status=status, pending_htlcs=tuple(pending))


@attrs.frozen
class Settle:
    """After the deadline, pay out the published state (kind 24): balances, and every HTLC already decided."""

    KIND: ClassVar[int] = 24
    NAME: ClassVar[str] = "channel_settle"
    channel_id: bytes = attrs.field()

    @channel_id.validator
    def _check_id(self, _attribute: attrs.Attribute[bytes], value: bytes) -> None:
        if type(value) is not bytes or len(value) != 32:
            raise MalformedChannelData("channel id must be 32 bytes")

    def encode(self) -> bytes:
        """``channel_id 32``."""
        return self.channel_id

    @classmethod
    def decode(cls, data: bytes) -> Settle:
        """Parse a 32-byte body."""
        if len(data) != 32:
            raise MalformedChannelData(f"settle body is {len(data)} bytes, expected 32")
        return cls(data)

    def check(self, tx: Transaction) -> None:
        """Nothing beyond the encoding; anyone may settle."""

    def debit(self) -> int:
        """Nothing but the fee."""
        return 0

    def apply(self, tx: Transaction, ctx: StateTransition) -> None:
        """Pay the balances and decided HTLCs; the others stay pending."""
        record = _record(ctx, self.channel_id)
        if record.status is not ChannelStatus.CLOSING or record.published is None:
            raise WrongChannelStatus(f"channel is {record.status.name.lower()}, not closing")
        height = inclusion_height(ctx)
        if height <= record.deadline:
            raise ChallengePeriod(f"the challenge period runs until height {record.deadline}")
        state = record.published
        _payout(ctx, record, 0, state.balance_a)
        _payout(ctx, record, 1, state.balance_b)
        settled = _settle_htlcs(ctx, record, tuple(htlc.htlc_id for htlc in state.htlcs), height)
        _put(ctx, attrs.evolve(settled, outcome=CloseOutcome.UNILATERAL))


def _pending_htlc(record: ChannelRecord, htlc_id: int) -> Htlc:
    if record.published is None or record.status not in (ChannelStatus.CLOSING, ChannelStatus.SETTLING):
        raise WrongChannelStatus(f"channel is {record.status.name.lower()}: no published HTLCs pending")
    htlc = record.published.htlc(htlc_id)
    if record.status is ChannelStatus.SETTLING and htlc_id not in record.pending_htlcs:
        raise InvalidHtlc(f"HTLC {htlc_id} was already paid out")
    return htlc


@attrs.frozen
class HtlcClaim:
    """Reveal the preimage of a published HTLC (kind 25): registers it; pays the receiver once the channel settled.

    Valid before the HTLC's expiry, or after it if the preimage was registered in time by an earlier claim.
    """

    KIND: ClassVar[int] = 25
    NAME: ClassVar[str] = "channel_htlc_claim"
    channel_id: bytes = attrs.field()
    htlc_id: int = attrs.field()
    preimage: bytes = attrs.field()

    @channel_id.validator
    @preimage.validator
    def _check_bytes(self, attribute: attrs.Attribute[bytes], value: bytes) -> None:
        if type(value) is not bytes or len(value) != 32:
            raise MalformedChannelData(f"{attribute.name} must be 32 bytes")

    @htlc_id.validator
    def _check_id(self, _attribute: attrs.Attribute[int], value: int) -> None:
        if type(value) is not int or not 0 <= value <= MAX_UINT64:
            raise MalformedChannelData("htlc_id must be a u64")

    def encode(self) -> bytes:
        """``channel_id 32 | htlc_id u64 | preimage 32``."""
        return _CLAIM.pack(self.channel_id, self.htlc_id, self.preimage)

    @classmethod
    def decode(cls, data: bytes) -> HtlcClaim:
        """Parse a 72-byte body."""
        if len(data) != _CLAIM.size:
            raise MalformedChannelData(f"HTLC claim body is {len(data)} bytes, expected {_CLAIM.size}")
        return cls(*_CLAIM.unpack(data))

    def check(self, tx: Transaction) -> None:
        """Nothing beyond the encoding; anyone may claim, the receiver is paid."""

    def debit(self) -> int:
        """Nothing but the fee."""
        return 0

    def apply(self, tx: Transaction, ctx: StateTransition) -> None:
        """Register the preimage; pay the receiver if the channel settled."""
        record = _record(ctx, self.channel_id)
        htlc = _pending_htlc(record, self.htlc_id)
        if payment_hash_of(self.preimage) != htlc.payment_hash:
            raise BadPreimage(f"the preimage does not hash to HTLC {htlc.htlc_id}'s payment hash")
        height = inclusion_height(ctx)
        registered = preimage_height(ctx, htlc.payment_hash)
        if registered is None:
            if height >= htlc.expiry:
                raise ExpiryTooSoon(f"HTLC {htlc.htlc_id} expired at height {htlc.expiry}")
            ctx.put_data(PREIMAGES, htlc.payment_hash, _U64.pack(height))
            registered = height
        elif record.status is ChannelStatus.CLOSING:
            raise InvalidHtlc("the preimage is already registered; the HTLC is paid when the channel settles")
        if registered >= htlc.expiry:
            raise ExpiryTooSoon(f"the preimage was revealed at {registered}, after the expiry {htlc.expiry}")
        if record.status is ChannelStatus.SETTLING:
            _put(ctx, _settle_htlcs(ctx, record, record.pending_htlcs, height))


@attrs.frozen
class HtlcRefund:
    """Return an expired HTLC of a settled channel to its offerer (kind 26), if no preimage was revealed in time."""

    KIND: ClassVar[int] = 26
    NAME: ClassVar[str] = "channel_htlc_refund"
    channel_id: bytes = attrs.field()
    htlc_id: int = attrs.field()

    @channel_id.validator
    def _check_channel(self, _attribute: attrs.Attribute[bytes], value: bytes) -> None:
        if type(value) is not bytes or len(value) != 32:
            raise MalformedChannelData("channel_id must be 32 bytes")

    @htlc_id.validator
    def _check_id(self, _attribute: attrs.Attribute[int], value: int) -> None:
        if type(value) is not int or not 0 <= value <= MAX_UINT64:
            raise MalformedChannelData("htlc_id must be a u64")

    def encode(self) -> bytes:
        """``channel_id 32 | htlc_id u64``."""
        return _REFUND.pack(self.channel_id, self.htlc_id)

    @classmethod
    def decode(cls, data: bytes) -> HtlcRefund:
        """Parse a 40-byte body."""
        if len(data) != _REFUND.size:
            raise MalformedChannelData(f"HTLC refund body is {len(data)} bytes, expected {_REFUND.size}")
        return cls(*_REFUND.unpack(data))

    def check(self, tx: Transaction) -> None:
        """Nothing beyond the encoding; anyone may ask, the offerer is paid."""

    def debit(self) -> int:
        """Nothing but the fee."""
        return 0

    def apply(self, tx: Transaction, ctx: StateTransition) -> None:
        """Pay the HTLC back to its offerer."""
        record = _record(ctx, self.channel_id)
        if record.status is not ChannelStatus.SETTLING:
            raise WrongChannelStatus(f"channel is {record.status.name.lower()}: refunds follow the settlement")
        htlc = _pending_htlc(record, self.htlc_id)
        height = inclusion_height(ctx)
        outcome = htlc_outcome(htlc, height, preimage_height(ctx, htlc.payment_hash))
        if outcome is HtlcOutcome.RECEIVER:
            raise InvalidHtlc(f"HTLC {htlc.htlc_id}'s preimage was revealed in time: it pays the receiver")
        if outcome is HtlcOutcome.UNDECIDED:
            raise ExpiryTooSoon(f"HTLC {htlc.htlc_id} expires at height {htlc.expiry}")
        _put(ctx, _settle_htlcs(ctx, record, record.pending_htlcs, height))


CHANNEL_KINDS = (ChannelOpen, CooperativeClose, UnilateralClose, Challenge, Settle, HtlcClaim, HtlcRefund)
"""The transaction kinds of this layer, by kind number (20..26)."""


def channels_registry(base: TransactionRegistry | None = None) -> TransactionRegistry:
    """A copy of `base` (default: a27-pos's registry: transfer, bond, unbond) with the channel kinds added.

    `base` is not changed.
    """
    registry = pos_registry() if base is None else base.copy()
    for kind in CHANNEL_KINDS:
        registry.register(kind)
    return registry


def channel_chain(genesis: PosGenesis, ledger_store: LedgerStore | None = None,
                  chain_store: ChainStore | None = None) -> Chain:
    """A27-pos's chain of `genesis` whose ledger accepts the channel kinds; resumes what the stores hold.

    A SQLite chain store must be opened with `channels_registry()` as its registry, so that it decodes blocks
    holding channel transactions.
    """
    ledger_store = MemoryStore() if ledger_store is None else ledger_store
    chain_store = MemoryChainStore() if chain_store is None else chain_store
    if ledger_store.meta().genesis_digest is None:
        # A fresh store: a27-pos writes the genesis and the chain's start, with no transaction to decode yet.
        Chain.start(genesis, ledger_store, chain_store)
    state = LedgerState(ledger_store, channels_registry())
    if state.get_data("pos", b"genesis") != genesis.digest():
        raise PosGenesisError("the stores hold another proof-of-stake chain")
    return Chain(state, chain_store)
