"""Channel terms, off-chain states, HTLCs and the operations that change them: data types and canonical encodings.

All integers are unsigned big-endian. Encodings (see PROTOCOL.md for the tables)::

    terms   party_a 32 | party_b 32 | deposit_a u64 | deposit_b u64 | challenge_period u32 | funding_deadline u64
            | salt u64                                                                           (100 bytes)
    state   version u8 (=1) | channel_id 32 | sequence u64 | proposer u8 | balance_a u64 | balance_b u64
            | htlc_count u16 | htlc* (sorted by id, strictly increasing)                        (60 + 57 n bytes)
    htlc    htlc_id u64 | offerer u8 | amount u64 | payment_hash 32 | expiry u64               (57 bytes)
    signed  state_length u16 | state | signature_a 64 | signature_b 64

Parties are numbered 0 (`a`, the opener) and 1 (`b`). The channel id is ``sha256("a27/channel/id/v1" | terms)``.
A state is signed by both parties over ``"a27/channel/state/v1" | state``; a final state for a cooperative close over
``"a27/channel/close/v1" | state``; the funding consent over ``"a27/channel/open/v1" | terms``.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any, ClassVar

import attrs

from a27_channels.errors import (
    BadPreimage,
    ExpiryTooSoon,
    InsufficientChannelBalance,
    InvalidChannelSignature,
    InvalidChannelState,
    InvalidHtlc,
    MalformedChannelData,
)
from a27_ledger import MAX_UINT64, InvalidAmount, KeyPair, verify_signature

STATE_VERSION = 1
STATE_DOMAIN = b"a27/channel/state/v1"
CLOSE_DOMAIN = b"a27/channel/close/v1"
OPEN_DOMAIN = b"a27/channel/open/v1"
CHANNEL_ID_DOMAIN = b"a27/channel/id/v1"
MAX_HTLCS = 64
"""HTLCs pending in one state at most, so that a published state fits a transaction."""
MAX_HTLCS_PER_PARTY = MAX_HTLCS // 2
"""HTLCs one party may have offered in one state, so that a peer cannot take every slot of the channel."""
PARTY_A = 0
PARTY_B = 1
SIGNATURE_LENGTH = 64

_TERMS = struct.Struct(">32s32sQQIQQ")
_STATE_HEAD = struct.Struct(">B32sQBQQH")
_HTLC = struct.Struct(">QBQ32sQ")
_U16 = struct.Struct(">H")
_U64 = struct.Struct(">Q")


def _bytes32(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise MalformedChannelData(f"{attribute.name} must be 32 bytes")


def _uint(limit: int) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is not int or not 0 <= value <= limit:
            raise InvalidAmount(f"{attribute.name} {value!r} is not an integer in 0..{limit}")

    return check


def _party(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in (PARTY_A, PARTY_B) or type(value) is not int:
        raise MalformedChannelData(f"{attribute.name} must be 0 (party a) or 1 (party b), not {value!r}")


def _signature(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not bytes or len(value) != SIGNATURE_LENGTH:
        raise MalformedChannelData(f"{attribute.name} must be {SIGNATURE_LENGTH} bytes")


def payment_hash_of(preimage: bytes) -> bytes:
    """The payment hash an HTLC locks to: sha256 of the 32-byte preimage."""
    return hashlib.sha256(preimage).digest()


@attrs.frozen
class ChannelTerms:
    """What both parties agree to when opening: accounts, deposits, challenge period, funding deadline, salt."""

    party_a: bytes = attrs.field(validator=_bytes32)
    party_b: bytes = attrs.field(validator=_bytes32)
    deposit_a: int = attrs.field(validator=_uint(MAX_UINT64))
    deposit_b: int = attrs.field(validator=_uint(MAX_UINT64))
    challenge_period: int = attrs.field(validator=_uint(2**32 - 1))
    funding_deadline: int = attrs.field(validator=_uint(MAX_UINT64))
    salt: int = attrs.field(default=0, validator=_uint(MAX_UINT64))
    _encoded: bytes | None = attrs.field(default=None, init=False, eq=False, repr=False)
    _channel_id: bytes | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def check(self) -> None:
        """Stateless rules: two distinct parties, a positive capacity within uint64, a challenge period >= 1."""
        if self.party_a == self.party_b:
            raise InvalidChannelState("a channel needs two distinct parties")
        if self.deposit_a + self.deposit_b > MAX_UINT64:
            raise InvalidAmount("deposits add up to more than 2**64-1")
        if self.deposit_a + self.deposit_b == 0:
            raise InvalidAmount("a channel needs a positive capacity")
        if self.challenge_period < 1:
            raise InvalidChannelState("the challenge period must be at least one block")

    @property
    def capacity(self) -> int:
        """Both deposits: what the channel holds."""
        return self.deposit_a + self.deposit_b

    @property
    def parties(self) -> tuple[bytes, bytes]:
        """(party a, party b)."""
        return self.party_a, self.party_b

    def party_of(self, account: bytes) -> int | None:
        """0 for party a, 1 for party b, None for anyone else."""
        if account == self.party_a:
            return PARTY_A
        if account == self.party_b:
            return PARTY_B
        return None

    def encode(self) -> bytes:
        """The 100-byte canonical encoding."""
        encoded = self._encoded
        if encoded is None:
            encoded = _TERMS.pack(self.party_a, self.party_b, self.deposit_a, self.deposit_b, self.challenge_period,
                                  self.funding_deadline, self.salt)
            object.__setattr__(self, "_encoded", encoded)
        return encoded

    @classmethod
    def decode(cls, data: bytes) -> ChannelTerms:
        """Parse the 100-byte encoding; MalformedChannelData otherwise."""
        if type(data) is not bytes or len(data) != _TERMS.size:
            raise MalformedChannelData(f"terms are {_TERMS.size} bytes")
        return cls(*_TERMS.unpack(data))

    @property
    def channel_id(self) -> bytes:
        """sha256 of the id domain and the terms (computed once)."""
        channel_id = self._channel_id
        if channel_id is None:
            channel_id = hashlib.sha256(CHANNEL_ID_DOMAIN + self.encode()).digest()
            object.__setattr__(self, "_channel_id", channel_id)
        return channel_id

    def funding_signature(self, key: KeyPair) -> bytes:
        """`key`'s consent to these terms (party b signs it; it goes into the ChannelOpen transaction)."""
        return key.sign(OPEN_DOMAIN + self.encode())

    def verify_funding_signature(self, signature: bytes) -> bool:
        """Whether `signature` is party b's consent to these terms."""
        return verify_signature(self.party_b, OPEN_DOMAIN + self.encode(), signature)

    def initial_state(self) -> ChannelState:
        """State 0: each party holds its deposit, no HTLCs."""
        return ChannelState(self.channel_id, 0, PARTY_A, self.deposit_a, self.deposit_b)


@attrs.frozen
class Htlc:
    """A hash-time-locked amount: the `offerer`'s `amount` goes to the other party for the preimage of
    `payment_hash` revealed before block height `expiry`, else back to the offerer."""

    htlc_id: int = attrs.field(validator=_uint(MAX_UINT64))
    offerer: int = attrs.field(validator=_party)
    amount: int = attrs.field(validator=_uint(MAX_UINT64))
    payment_hash: bytes = attrs.field(validator=_bytes32)
    expiry: int = attrs.field(validator=_uint(MAX_UINT64))

    @property
    def receiver(self) -> int:
        """The party the HTLC pays if the preimage is revealed in time."""
        return 1 - self.offerer

    def encode(self) -> bytes:
        """The 57-byte encoding."""
        return _HTLC.pack(self.htlc_id, self.offerer, self.amount, self.payment_hash, self.expiry)


def _htlcs(value: Any) -> tuple[Htlc, ...]:
    return tuple(value)


@attrs.frozen
class ChannelState:
    """One numbered state of a channel: balances and pending HTLCs, proposed by `proposer` (0 = a, 1 = b).

    Construction checks only what the encoding can represent; `check(capacity)` checks the accounting.
    """

    channel_id: bytes = attrs.field(validator=_bytes32)
    sequence: int = attrs.field(validator=_uint(MAX_UINT64))
    proposer: int = attrs.field(validator=_party)
    balance_a: int = attrs.field(validator=_uint(MAX_UINT64))
    balance_b: int = attrs.field(validator=_uint(MAX_UINT64))
    htlcs: tuple[Htlc, ...] = attrs.field(default=(), converter=_htlcs)
    _encoded: bytes | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        """HTLC ids strictly increasing (one canonical order), at most MAX_HTLCS."""
        if len(self.htlcs) > MAX_HTLCS:
            raise InvalidHtlc(f"{len(self.htlcs)} HTLCs, at most {MAX_HTLCS}")
        previous = -1
        for htlc in self.htlcs:
            if type(htlc) is not Htlc:
                raise MalformedChannelData("htlcs must be Htlc instances")
            if htlc.htlc_id <= previous:
                raise MalformedChannelData("HTLC ids must be strictly increasing")
            previous = htlc.htlc_id

    def balance(self, party: int) -> int:
        """Spendable balance of party 0 (a) or 1 (b)."""
        return self.balance_a if party == PARTY_A else self.balance_b

    @property
    def locked(self) -> int:
        """Tokens held in pending HTLCs."""
        return sum(htlc.amount for htlc in self.htlcs)

    def total(self) -> int:
        """Balances plus HTLCs: must equal the channel's capacity."""
        return self.balance_a + self.balance_b + self.locked

    def check(self, capacity: int) -> None:
        """InvalidChannelState unless balances and HTLCs add up to `capacity`."""
        if self.total() != capacity:
            raise InvalidChannelState(f"balances and HTLCs add up to {self.total()}, not the capacity {capacity}")

    def htlc(self, htlc_id: int) -> Htlc:
        """The pending HTLC with this id; InvalidHtlc if there is none."""
        for htlc in self.htlcs:
            if htlc.htlc_id == htlc_id:
                return htlc
        raise InvalidHtlc(f"no pending HTLC {htlc_id}")

    def encode(self) -> bytes:
        """The canonical encoding that both parties sign."""
        encoded = self._encoded
        if encoded is None:
            encoded = _STATE_HEAD.pack(STATE_VERSION, self.channel_id, self.sequence, self.proposer, self.balance_a,
                                       self.balance_b, len(self.htlcs)) + b"".join(h.encode() for h in self.htlcs)
            object.__setattr__(self, "_encoded", encoded)
        return encoded

    @classmethod
    def decode(cls, data: bytes) -> ChannelState:
        """Parse the canonical encoding strictly; MalformedChannelData on anything else."""
        if type(data) is not bytes:
            raise MalformedChannelData(f"expected bytes, not {type(data).__name__}")
        if len(data) < _STATE_HEAD.size:
            raise MalformedChannelData(f"a state is at least {_STATE_HEAD.size} bytes")
        version, channel_id, sequence, proposer, balance_a, balance_b, count = _STATE_HEAD.unpack_from(data)
        if version != STATE_VERSION:
            raise MalformedChannelData(f"state version {version} is not {STATE_VERSION}")
        if len(data) != _STATE_HEAD.size + count * _HTLC.size:
            raise MalformedChannelData(f"{count} HTLCs do not fit a {len(data)}-byte state")
        try:
            htlcs = tuple(Htlc(*_HTLC.unpack_from(data, _STATE_HEAD.size + index * _HTLC.size))
                          for index in range(count))
            state = cls(channel_id, sequence, proposer, balance_a, balance_b, htlcs)
        except InvalidHtlc as error:
            raise MalformedChannelData(str(error)) from error
        object.__setattr__(state, "_encoded", data)
        return state

    def signing_bytes(self) -> bytes:
        """What both parties sign for this state as an update: the state domain and the encoding."""
        return STATE_DOMAIN + self.encode()

    def sign(self, key: KeyPair) -> bytes:
        """`key`'s signature of this state as an update."""
        return key.sign(self.signing_bytes())

    def sign_close(self, key: KeyPair) -> bytes:
        """`key`'s signature of this state as the final state of a cooperative close."""
        return key.sign(CLOSE_DOMAIN + self.encode())


def _domain(value: Any) -> bytes:
    if value not in (STATE_DOMAIN, CLOSE_DOMAIN):
        raise MalformedChannelData("unknown signature domain")
    return bytes(value)


@attrs.frozen
class SignedState:
    """A state with both parties' signatures; `domain` is STATE_DOMAIN (an update) or CLOSE_DOMAIN (a final close)."""

    state: ChannelState
    signature_a: bytes = attrs.field(validator=_signature)
    signature_b: bytes = attrs.field(validator=_signature)
    domain: bytes = attrs.field(default=STATE_DOMAIN, converter=_domain)

    def signature(self, party: int) -> bytes:
        """The signature of party 0 (a) or 1 (b)."""
        return self.signature_a if party == PARTY_A else self.signature_b

    def verify(self, party_a: bytes, party_b: bytes) -> None:
        """InvalidChannelSignature unless both signatures verify against the parties' accounts."""
        message = self.domain + self.state.encode()
        if not verify_signature(party_a, message, self.signature_a):
            raise InvalidChannelSignature(f"party a's signature of state {self.state.sequence} does not verify")
        if not verify_signature(party_b, message, self.signature_b):
            raise InvalidChannelSignature(f"party b's signature of state {self.state.sequence} does not verify")

    def encode(self) -> bytes:
        """``state_length u16 | state | signature_a 64 | signature_b 64`` (the domain is implied by the use)."""
        state = self.state.encode()
        return _U16.pack(len(state)) + state + self.signature_a + self.signature_b

    @classmethod
    def decode(cls, data: bytes, domain: bytes = STATE_DOMAIN) -> SignedState:
        """Parse the encoding strictly; MalformedChannelData otherwise."""
        if type(data) is not bytes or len(data) < _U16.size:
            raise MalformedChannelData("a signed state starts with a u16 length")
        (length,) = _U16.unpack_from(data)
        end = _U16.size + length
        if len(data) != end + 2 * SIGNATURE_LENGTH:
            raise MalformedChannelData(f"a signed state of a {length}-byte state is {end + 128} bytes, not {len(data)}")
        state = ChannelState.decode(data[_U16.size:end])
        return cls(state, data[end:end + SIGNATURE_LENGTH], data[end + SIGNATURE_LENGTH:], domain)


# Operations ---------------------------------------------------------------------------------------------------------


def _op_uint(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int or not 0 <= value <= MAX_UINT64:
        raise InvalidAmount(f"{attribute.name} {value!r} is not an integer in 0..2**64-1")


@attrs.frozen
class Pay:
    """Move `amount` from the proposer's balance to the other party's."""

    CODE: ClassVar[int] = 1
    amount: int = attrs.field(validator=_op_uint)

    def encode(self) -> bytes:
        """``1 | amount u64``."""
        return bytes([self.CODE]) + _U64.pack(self.amount)


@attrs.frozen
class AddHtlc:
    """Lock `amount` of the proposer's balance in an HTLC to the other party."""

    CODE: ClassVar[int] = 2
    payment_hash: bytes = attrs.field(validator=_bytes32)
    amount: int = attrs.field(validator=_op_uint)
    expiry: int = attrs.field(validator=_op_uint)

    def encode(self) -> bytes:
        """``2 | payment_hash 32 | amount u64 | expiry u64``."""
        return bytes([self.CODE]) + self.payment_hash + _U64.pack(self.amount) + _U64.pack(self.expiry)


@attrs.frozen
class FulfillHtlc:
    """The HTLC's receiver (the proposer) takes its amount by revealing the preimage."""

    CODE: ClassVar[int] = 3
    htlc_id: int = attrs.field(validator=_op_uint)
    preimage: bytes = attrs.field(validator=_bytes32)

    def encode(self) -> bytes:
        """``3 | htlc_id u64 | preimage 32``."""
        return bytes([self.CODE]) + _U64.pack(self.htlc_id) + self.preimage


@attrs.frozen
class FailHtlc:
    """The HTLC's receiver (the proposer) gives it up: the amount returns to the offerer."""

    CODE: ClassVar[int] = 4
    htlc_id: int = attrs.field(validator=_op_uint)

    def encode(self) -> bytes:
        """``4 | htlc_id u64``."""
        return bytes([self.CODE]) + _U64.pack(self.htlc_id)


Operation = Pay | AddHtlc | FulfillHtlc | FailHtlc
"""One change to a channel state, proposed by one party and countersigned by the other."""


def decode_operation(data: bytes) -> Operation:
    """Parse an operation's encoding strictly; MalformedChannelData otherwise."""
    if type(data) is not bytes or not data:
        raise MalformedChannelData("an operation starts with its code")
    code, body = data[0], data[1:]
    try:
        if code == Pay.CODE and len(body) == 8:
            return Pay(_U64.unpack(body)[0])
        if code == AddHtlc.CODE and len(body) == 48:
            return AddHtlc(body[:32], _U64.unpack_from(body, 32)[0], _U64.unpack_from(body, 40)[0])
        if code == FulfillHtlc.CODE and len(body) == 40:
            return FulfillHtlc(_U64.unpack_from(body)[0], body[8:])
        if code == FailHtlc.CODE and len(body) == 8:
            return FailHtlc(_U64.unpack(body)[0])
    except InvalidAmount as error:
        raise MalformedChannelData(str(error)) from error
    raise MalformedChannelData(f"operation code {code} with a {len(body)}-byte body")


@attrs.frozen
class HtlcLimits:
    """Local rules for HTLC expiries, in blocks relative to the node's current height."""

    min_expiry_margin: int = 3
    """An HTLC must expire more than this many blocks ahead (time to act on it)."""
    max_expiry_ahead: int = 1_000
    """An HTLC may not expire further ahead than this (it would lock funds too long)."""


DEFAULT_LIMITS = HtlcLimits()


def apply_operation(state: ChannelState, operation: Operation, *, proposer: int, sequence: int, height: int,
                    limits: HtlcLimits = DEFAULT_LIMITS) -> ChannelState:
    """The state after `proposer` applies `operation` to `state`, numbered `sequence`, judged at block `height`.

    Raises the ChannelError (or InvalidAmount) that makes the operation invalid; `state` is never changed.
    """
    if sequence <= state.sequence:
        raise InvalidChannelState(f"sequence {sequence} does not follow {state.sequence}")
    balances = [state.balance_a, state.balance_b]
    htlcs = list(state.htlcs)
    other = 1 - proposer
    if isinstance(operation, Pay):
        if operation.amount <= 0:
            raise InvalidAmount("a payment must be positive")
        if balances[proposer] < operation.amount:
            raise InsufficientChannelBalance(f"balance {balances[proposer]} < payment {operation.amount}")
        balances[proposer] -= operation.amount
        balances[other] += operation.amount
    elif isinstance(operation, AddHtlc):
        if operation.amount <= 0:
            raise InvalidAmount("an HTLC must be positive")
        if balances[proposer] < operation.amount:
            raise InsufficientChannelBalance(f"balance {balances[proposer]} < HTLC {operation.amount}")
        if sum(1 for htlc in htlcs if htlc.offerer == proposer) >= MAX_HTLCS_PER_PARTY:
            raise InvalidHtlc(f"already {MAX_HTLCS_PER_PARTY} HTLCs offered by this party pending")
        if operation.expiry <= height + limits.min_expiry_margin:
            raise ExpiryTooSoon(f"expiry {operation.expiry} is not after height {height} + {limits.min_expiry_margin}")
        if operation.expiry > height + limits.max_expiry_ahead:
            raise InvalidHtlc(f"expiry {operation.expiry} is more than {limits.max_expiry_ahead} blocks ahead")
        balances[proposer] -= operation.amount
        htlcs.append(Htlc(sequence, proposer, operation.amount, operation.payment_hash, operation.expiry))
    elif isinstance(operation, (FulfillHtlc, FailHtlc)):
        htlc = state.htlc(operation.htlc_id)
        if htlc.receiver != proposer:
            raise InvalidHtlc(f"only the receiver of HTLC {htlc.htlc_id} may settle it")
        if isinstance(operation, FulfillHtlc):
            if payment_hash_of(operation.preimage) != htlc.payment_hash:
                raise BadPreimage(f"the preimage does not hash to HTLC {htlc.htlc_id}'s payment hash")
            if height >= htlc.expiry:
                raise ExpiryTooSoon(f"HTLC {htlc.htlc_id} expired at {htlc.expiry}")
            balances[proposer] += htlc.amount
        else:
            balances[htlc.offerer] += htlc.amount
        htlcs.remove(htlc)
    else:
        raise MalformedChannelData(f"unknown operation {operation!r}")
    return ChannelState(state.channel_id, sequence, proposer, balances[0], balances[1], htlcs)
