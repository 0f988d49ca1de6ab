"""Signed transactions: one envelope (sender, nonce, fee, signature) around a typed body.

Canonical encoding, big-endian::

    version u8 (=1) | kind u16 | sender 32 bytes | nonce u64 | fee u64 | body_length u32 | body | signature 64 bytes

Everything before the signature is the signing encoding. The signature is Ed25519 over
``SIGNING_DOMAIN + signing_bytes`` and the transaction id is ``sha256(signing_bytes)``, so the id does not depend on
the signature. A transfer body is ``recipient 32 bytes | amount u64``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import attrs

from a27_ledger.cache import decode_shared
from a27_ledger.errors import (
    BadSignature,
    InvalidAmount,
    LedgerError,
    MalformedTransaction,
    SelfTransfer,
)
from a27_ledger.keys import PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, KeyPair, verify_signature
from a27_ledger.registry import TransactionRegistry, default_registry

if TYPE_CHECKING:
    from a27_ledger.state import StateTransition

MAX_UINT64 = 2**64 - 1
TX_VERSION = 1
SIGNING_DOMAIN = b"a27/tx/v1"

_HEADER = struct.Struct(">BH32sQQI")
_TRANSFER = struct.Struct(">32sQ")
_MIN_ENCODED_LENGTH = _HEADER.size + SIGNATURE_LENGTH

_BodyT = TypeVar("_BodyT", bound="TransactionBody")


class TransactionBody(Protocol):
    """What a transaction kind implements; register the class in a `TransactionRegistry`."""

    KIND: ClassVar[int]
    NAME: ClassVar[str]

    def encode(self) -> bytes:
        """The canonical body bytes."""
        ...

    @classmethod
    def decode(cls: type[_BodyT], data: bytes) -> _BodyT:
        """Parse canonical body bytes; raise MalformedTransaction on anything else."""
        ...

    def check(self, tx: Transaction) -> None:
        """Stateless checks (amount ranges, self transfer); raise a LedgerError subclass."""
        ...

    def debit(self) -> int:
        """Tokens taken from the sender's spendable balance besides the fee."""
        ...

    def apply(self, tx: Transaction, ctx: StateTransition) -> None:
        """Make the kind's state changes, through `ctx` only; raise a LedgerError subclass to reject."""
        ...


def _account_field(error: type[LedgerError]) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is not bytes or len(value) != PUBLIC_KEY_LENGTH:
            raise error(f"{attribute.name} must be {PUBLIC_KEY_LENGTH} bytes")

    return check


def _uint64_field(error: type[LedgerError]) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is not int or not 0 <= value <= MAX_UINT64:
            raise error(f"{attribute.name} {value!r} is not an integer in 0..2**64-1")

    return check


def _signature_field(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not bytes or len(value) not in (0, SIGNATURE_LENGTH):
        raise MalformedTransaction(f"signature must be empty or {SIGNATURE_LENGTH} bytes")


@default_registry.register
@attrs.frozen
class Transfer:
    """Move `amount` tokens from the sender to `recipient`."""

    KIND: ClassVar[int] = 1
    NAME: ClassVar[str] = "transfer"

    recipient: bytes = attrs.field(validator=_account_field(MalformedTransaction))
    amount: int = attrs.field(validator=_uint64_field(InvalidAmount))

    def encode(self) -> bytes:
        """``recipient 32 bytes | amount u64``."""
        return _TRANSFER.pack(self.recipient, self.amount)

    @classmethod
    def decode(cls, data: bytes) -> Transfer:
        """Parse a 40-byte transfer body."""
        if len(data) != _TRANSFER.size:
            raise MalformedTransaction(f"transfer body is {len(data)} bytes, expected {_TRANSFER.size}")
        recipient, amount = _TRANSFER.unpack(data)
        return cls(recipient, amount)

    def check(self, tx: Transaction) -> None:
        """Amount positive, amount+fee within uint64, recipient not the sender."""
        if self.amount <= 0:
            raise InvalidAmount(f"amount {self.amount} is not positive")
        if self.amount + tx.fee > MAX_UINT64:
            raise InvalidAmount(f"amount+fee {self.amount + tx.fee} exceeds 2**64-1")
        if self.recipient == tx.sender:
            raise SelfTransfer("recipient is the sender")

    def debit(self) -> int:
        """The amount."""
        return self.amount

    def apply(self, tx: Transaction, ctx: StateTransition) -> None:
        """Move the amount."""
        ctx.transfer(tx.sender, self.recipient, self.amount)


@attrs.frozen
class Transaction:
    """A signed envelope around a body: `sender` pays `fee` and must use exactly its next `nonce`.

    Construction checks only what the encoding can represent (MalformedTransaction for a wrong-length key or
    signature or an out-of-range nonce, InvalidAmount for an out-of-range fee); the ledger rules are in
    `LedgerState.check`.
    """

    sender: bytes = attrs.field(validator=_account_field(MalformedTransaction))
    nonce: int = attrs.field(validator=_uint64_field(MalformedTransaction))
    fee: int = attrs.field(validator=_uint64_field(InvalidAmount))
    body: TransactionBody
    signature: bytes = attrs.field(default=b"", validator=_signature_field)
    # Computed once per instance (lazily), and taken from the received bytes when decoded.
    _signing_bytes: bytes | None = attrs.field(default=None, init=False, eq=False, repr=False)
    _tx_id: bytes | None = attrs.field(default=None, init=False, eq=False, repr=False)

    @property
    def kind(self) -> int:
        """The body's kind number."""
        return self.body.KIND

    def signing_bytes(self) -> bytes:
        """The canonical encoding without the signature."""
        encoded = self._signing_bytes
        if encoded is None:
            body = self.body.encode()
            encoded = _HEADER.pack(TX_VERSION, self.body.KIND, self.sender, self.nonce, self.fee, len(body)) + body
            object.__setattr__(self, "_signing_bytes", encoded)
        return encoded

    def encode(self) -> bytes:
        """The canonical encoding: signing bytes then the 64-byte signature; BadSignature if unsigned."""
        if not self.signature:
            raise BadSignature("transaction is not signed")
        return self.signing_bytes() + self.signature

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview, registry: TransactionRegistry | None = None) -> Transaction:
        """Parse the canonical encoding strictly; raises only MalformedTransaction or UnknownTransactionKind.

        The same bytes decoded again with the same registry give the same (immutable, shared) object, from
        `a27_ledger.cache.decoded_objects`.
        """
        registry = default_registry if registry is None else registry
        return decode_shared(cls._decode, data, registry)

    @classmethod
    def _decode(cls, data: bytes, registry: TransactionRegistry) -> Transaction:
        if type(data) is not bytes:
            raise MalformedTransaction(f"expected bytes, not {type(data).__name__}")
        length = len(data)
        if length < _MIN_ENCODED_LENGTH:
            raise MalformedTransaction(f"{length} bytes is shorter than the minimum {_MIN_ENCODED_LENGTH}")
        version, kind, sender, nonce, fee, body_length = _HEADER.unpack_from(data)
        if version != TX_VERSION:
            raise MalformedTransaction(f"version {version} is not {TX_VERSION}")
        body_end = _HEADER.size + body_length
        if body_end + SIGNATURE_LENGTH != length:
            raise MalformedTransaction(f"body length {body_length} does not fit a {length}-byte transaction")
        body_class = registry.body_class(kind)
        body_bytes = data[_HEADER.size : body_end]
        try:
            body = body_class.decode(body_bytes)
            canonical = body.encode() == body_bytes
        except MalformedTransaction:
            raise
        except Exception as exc:
            # A body decoder may fail in any way on hostile bytes; callers rely on one error type.
            raise MalformedTransaction(f"{body_class.NAME} body: {exc}") from exc
        if not canonical:
            raise MalformedTransaction(f"{body_class.NAME} body is not in canonical encoding")
        transaction = cls(sender, nonce, fee, body, data[body_end:])
        object.__setattr__(transaction, "_signing_bytes", data[:body_end])
        return transaction

    @property
    def tx_id(self) -> bytes:
        """sha256 of the signing bytes (independent of the signature), computed once."""
        identifier = self._tx_id
        if identifier is None:
            identifier = hashlib.sha256(self.signing_bytes()).digest()
            object.__setattr__(self, "_tx_id", identifier)
        return identifier

    def signed(self, key: KeyPair) -> Transaction:
        """Return this transaction signed by `key`, which must be the sender's; ValueError otherwise."""
        if key.public_key != self.sender:
            raise ValueError("key does not belong to the sender")
        signing_bytes = self.signing_bytes()
        transaction = Transaction(
            self.sender, self.nonce, self.fee, self.body, key.sign(SIGNING_DOMAIN + signing_bytes)
        )
        object.__setattr__(transaction, "_signing_bytes", signing_bytes)
        object.__setattr__(transaction, "_tx_id", self._tx_id)
        return transaction

    def verify_signature(self) -> bool:
        """Whether the signature is the sender's over this transaction."""
        return verify_signature(self.sender, SIGNING_DOMAIN + self.signing_bytes(), self.signature)


def sign_transfer(key: KeyPair, recipient: bytes, amount: int, nonce: int, fee: int = 0) -> Transaction:
    """Build and sign a transfer of `amount` from `key`'s account to `recipient`."""
    return Transaction(key.public_key, nonce, fee, Transfer(recipient, amount)).signed(key)
