"""Error classes and their wire codes."""

from __future__ import annotations

import pytest

import a27_ledger
from a27_ledger import LedgerError, error_for_code

# The wire table: these numbers must never change.
CODES = {
    "MalformedTransaction": 1,
    "UnknownTransactionKind": 2,
    "BadSignature": 3,
    "InvalidAmount": 4,
    "InsufficientBalance": 5,
    "NonceReplay": 6,
    "NonceGap": 7,
    "SelfTransfer": 8,
    "GenesisError": 9,
    "SupplyInvariantViolated": 10,
    "StoreError": 11,
    "QueueFull": 12,
    "DuplicateTransaction": 13,
}


@pytest.mark.parametrize(("name", "code"), CODES.items())
def test_codes_are_stable_and_map_back(name: str, code: int) -> None:
    error = getattr(a27_ledger, name)
    assert issubclass(error, LedgerError)
    assert error.code == code
    assert error_for_code(code) is error
    assert error.reason


def test_every_error_class_has_a_distinct_code() -> None:
    classes = [
        value for value in vars(a27_ledger).values() if isinstance(value, type) and issubclass(value, LedgerError)
    ]
    assert sorted(error.code for error in classes) == list(range(len(CODES) + 1))


def test_unknown_codes_map_to_the_base_class() -> None:
    assert error_for_code(0) is LedgerError
    assert error_for_code(200) is LedgerError


def test_message_defaults_to_the_reason_and_carries_specifics() -> None:
    assert str(a27_ledger.InsufficientBalance()) == "insufficient balance"
    assert str(a27_ledger.InsufficientBalance("balance 5 < amount+fee 12")) == "balance 5 < amount+fee 12"
