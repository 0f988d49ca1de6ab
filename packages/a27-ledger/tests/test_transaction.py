"""Transactions: canonical encoding, golden vectors, strict decoding, signatures and stateless checks."""

from __future__ import annotations

import contextlib
import hashlib
import json
import struct
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from a27_ledger import (
    MAX_UINT64,
    SIGNING_DOMAIN,
    BadSignature,
    InvalidAmount,
    KeyPair,
    MalformedTransaction,
    SelfTransfer,
    StateTransition,
    Transaction,
    TransactionRegistry,
    Transfer,
    UnknownTransactionKind,
    default_registry,
    sign_transfer,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "transfer_v1.json").read_text())
SENDER = KeyPair.from_seed(bytes.fromhex(VECTORS["sender_seed"]))
RECIPIENT = KeyPair.from_seed(bytes.fromhex(VECTORS["recipient_seed"]))


def sample() -> Transaction:
    return sign_transfer(SENDER, RECIPIENT.public_key, VECTORS["amount"], VECTORS["nonce"], VECTORS["fee"])


def test_golden_vector_encodes_to_the_stored_bytes() -> None:
    tx = sample()
    assert tx.sender.hex() == VECTORS["sender"]
    assert tx.signing_bytes().hex() == VECTORS["signing_bytes"]
    assert tx.signature.hex() == VECTORS["signature"]
    assert tx.encode().hex() == VECTORS["encoded"]
    assert tx.tx_id.hex() == VECTORS["tx_id"]


def test_golden_vector_decodes_to_the_sample() -> None:
    tx = Transaction.decode(bytes.fromhex(VECTORS["encoded"]))
    assert tx == sample()
    assert tx.kind == VECTORS["kind"] == Transfer.KIND
    assert tx.body == Transfer(RECIPIENT.public_key, VECTORS["amount"])
    assert tx.tx_id.hex() == VECTORS["tx_id"]
    assert tx.verify_signature()


def test_layout_matches_the_documented_table() -> None:
    encoded = sample().encode()
    version, kind, sender, nonce, fee, body_length = struct.unpack_from(">BH32sQQI", encoded)
    assert (version, kind, sender, nonce, fee, body_length) == (1, 1, SENDER.public_key, 7, 3, 40)
    assert encoded[55:87] == RECIPIENT.public_key
    assert int.from_bytes(encoded[87:95], "big") == 1234
    assert len(encoded) == 55 + 40 + 64


def test_signature_covers_the_domain_and_signing_bytes() -> None:
    tx = sample()
    assert tx.signature == SENDER.sign(SIGNING_DOMAIN + tx.signing_bytes())
    assert tx.signature != SENDER.sign(tx.signing_bytes())


def test_tx_id_ignores_the_signature_and_is_computed_once() -> None:
    tx = sample()
    unsigned = Transaction(tx.sender, tx.nonce, tx.fee, tx.body)
    assert unsigned.tx_id == tx.tx_id == hashlib.sha256(tx.signing_bytes()).digest()
    assert tx.tx_id is tx.tx_id


def test_signed_keeps_fields_and_refuses_a_foreign_key() -> None:
    unsigned = Transaction(SENDER.public_key, 1, 0, Transfer(RECIPIENT.public_key, 5))
    signed = unsigned.signed(SENDER)
    assert (signed.sender, signed.nonce, signed.fee, signed.body) == (unsigned.sender, 1, 0, unsigned.body)
    assert signed.verify_signature()
    with pytest.raises(ValueError, match="sender"):
        unsigned.signed(RECIPIENT)


def test_unsigned_transaction_cannot_be_encoded() -> None:
    unsigned = Transaction(SENDER.public_key, 0, 0, Transfer(RECIPIENT.public_key, 5))
    assert not unsigned.verify_signature()
    with pytest.raises(BadSignature):
        unsigned.encode()


@pytest.mark.parametrize(
    "change",
    [
        {"nonce": 8},
        {"fee": 4},
        {"body": Transfer(RECIPIENT.public_key, 1235)},
        {"signature": bytes(64)},
    ],
)
def test_any_change_breaks_the_signature(change: dict[str, Any]) -> None:
    tampered = attrs.evolve(sample(), **change)
    assert not tampered.verify_signature()


def test_signature_by_another_key_does_not_verify() -> None:
    tx = sample()
    forged = Transaction(tx.sender, tx.nonce, tx.fee, tx.body, RECIPIENT.sign(SIGNING_DOMAIN + tx.signing_bytes()))
    assert not forged.verify_signature()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"sender": b"short"}, MalformedTransaction),
        ({"nonce": -1}, MalformedTransaction),
        ({"nonce": MAX_UINT64 + 1}, MalformedTransaction),
        ({"fee": -1}, InvalidAmount),
        ({"fee": MAX_UINT64 + 1}, InvalidAmount),
        ({"fee": 1.5}, InvalidAmount),
        ({"signature": b"x" * 63}, MalformedTransaction),
    ],
)
def test_unrepresentable_envelopes_are_refused(fields: dict[str, object], error: type[Exception]) -> None:
    values: dict[str, object] = {"sender": SENDER.public_key, "nonce": 0, "fee": 0, "body": Transfer(bytes(32), 1)}
    values.update(fields)
    with pytest.raises(error):
        Transaction(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("recipient", "amount", "error"),
    [
        (b"\x00" * 31, 1, MalformedTransaction),
        (b"\x00" * 32, -1, InvalidAmount),
        (b"\x00" * 32, MAX_UINT64 + 1, InvalidAmount),
        (b"\x00" * 32, True, InvalidAmount),
    ],
)
def test_unrepresentable_transfers_are_refused(recipient: bytes, amount: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        Transfer(recipient, amount)


def test_transfer_check_rules() -> None:
    ok = Transaction(SENDER.public_key, 0, MAX_UINT64 - 5, Transfer(RECIPIENT.public_key, 5))
    ok.body.check(ok)
    with pytest.raises(InvalidAmount, match="not positive"):
        zero = Transaction(SENDER.public_key, 0, 0, Transfer(RECIPIENT.public_key, 0))
        zero.body.check(zero)
    with pytest.raises(InvalidAmount, match="amount\\+fee"):
        overflow = Transaction(SENDER.public_key, 0, MAX_UINT64 - 4, Transfer(RECIPIENT.public_key, 5))
        overflow.body.check(overflow)
    with pytest.raises(SelfTransfer):
        itself = Transaction(SENDER.public_key, 0, 0, Transfer(SENDER.public_key, 5))
        itself.body.check(itself)


def test_transfer_debit_is_the_amount() -> None:
    assert Transfer(RECIPIENT.public_key, 77).debit() == 77


def _replace(data: bytes, offset: int, value: bytes) -> bytes:
    return data[:offset] + value + data[offset + len(value) :]


@pytest.mark.parametrize(
    ("mutate", "error", "match"),
    [
        (lambda data: data[:-1], MalformedTransaction, "does not fit"),
        (lambda data: data + b"\x00", MalformedTransaction, "does not fit"),
        (lambda data: data[:100], MalformedTransaction, "shorter"),
        (lambda data: _replace(data, 0, b"\x02"), MalformedTransaction, "version"),
        (lambda data: _replace(data, 1, b"\x00\x09"), UnknownTransactionKind, "kind 9"),
        (lambda data: _replace(data, 51, struct.pack(">I", 41)), MalformedTransaction, "does not fit"),
        (lambda data: _replace(data, 51, struct.pack(">I", 2**32 - 1)), MalformedTransaction, "does not fit"),
        (lambda data: _replace(data, 51, struct.pack(">I", 39))[:-1], MalformedTransaction, "transfer body"),
    ],
)
def test_decoding_is_strict(mutate: object, error: type[Exception], match: str) -> None:
    data = mutate(sample().encode())  # type: ignore[operator]
    with pytest.raises(error, match=match):
        Transaction.decode(data)


def test_decode_accepts_bytes_like_and_refuses_other_types() -> None:
    encoded = sample().encode()
    assert Transaction.decode(bytearray(encoded)) == sample()
    assert Transaction.decode(memoryview(encoded)) == sample()
    with pytest.raises(MalformedTransaction):
        Transaction.decode(encoded.hex())  # type: ignore[arg-type]


def test_decoded_transaction_keeps_the_received_signing_bytes() -> None:
    tx = Transaction.decode(sample().encode())
    assert tx.signing_bytes() == bytes.fromhex(VECTORS["signing_bytes"])


@attrs.frozen
class _Sloppy:
    """A kind whose decoder accepts padding and raises odd exceptions, to exercise decode's guards."""

    KIND: ClassVar[int] = 77
    NAME: ClassVar[str] = "sloppy"
    value: int

    def encode(self) -> bytes:
        return bytes([self.value])

    @classmethod
    def decode(cls, data: bytes) -> _Sloppy:
        if data == b"boom":
            raise KeyError("a decoder bug")
        return cls(data[0])

    def check(self, tx: Transaction) -> None:
        """No rules."""

    def debit(self) -> int:
        return 0

    def apply(self, tx: Transaction, ctx: StateTransition) -> None:
        """No effects."""


def _sloppy_encoding(body: bytes) -> bytes:
    header = struct.pack(">BH32sQQI", 1, _Sloppy.KIND, SENDER.public_key, 0, 0, len(body))
    return header + body + bytes(64)


def test_decode_turns_any_body_decoder_failure_into_malformed() -> None:
    registry = TransactionRegistry()
    registry.register(_Sloppy)
    assert Transaction.decode(_sloppy_encoding(b"\x05"), registry).body == _Sloppy(5)
    with pytest.raises(MalformedTransaction, match="sloppy body"):
        Transaction.decode(_sloppy_encoding(b"boom"), registry)
    with pytest.raises(MalformedTransaction, match="sloppy body"):
        Transaction.decode(_sloppy_encoding(b""), registry)
    with pytest.raises(MalformedTransaction, match="canonical"):
        Transaction.decode(_sloppy_encoding(b"\x05\x00"), registry)
    with pytest.raises(UnknownTransactionKind):
        Transaction.decode(_sloppy_encoding(b"\x05"))


def test_default_registry_holds_transfer() -> None:
    assert default_registry.body_class(1) is Transfer


keys = st.binary(min_size=32, max_size=32)
uint64 = st.integers(min_value=0, max_value=MAX_UINT64)
transactions = st.builds(
    Transaction,
    sender=keys,
    nonce=uint64,
    fee=uint64,
    body=st.builds(Transfer, recipient=keys, amount=uint64),
    signature=st.binary(min_size=64, max_size=64),
)


@given(transactions)
def test_decode_inverts_encode(tx: Transaction) -> None:
    decoded = Transaction.decode(tx.encode())
    assert decoded == tx
    assert decoded.tx_id == tx.tx_id
    assert decoded.encode() == tx.encode()


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_decoding_errors(data: bytes) -> None:
    with contextlib.suppress(MalformedTransaction, UnknownTransactionKind):
        Transaction.decode(data)


@given(st.lists(st.tuples(st.integers(min_value=0, max_value=158), st.integers(0, 255)), max_size=6), st.integers(0, 3))
def test_corrupted_encodings_decode_or_raise_decoding_errors(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(sample().encode())
    for offset, value in flips:
        data[offset] = value
    try:
        decoded = Transaction.decode(bytes(data[: len(data) - cut]))
    except (MalformedTransaction, UnknownTransactionKind):
        return
    assert decoded.encode() == bytes(data)
