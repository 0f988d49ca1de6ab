"""Error classes and their wire codes."""

from __future__ import annotations

import pytest

import a27_pos
from a27_ledger import LedgerError
from a27_pos import PosError, pos_error_for_code

# The wire table: these numbers must never change. The ledger owns 0..63.
CODES = {
    "PosError": 64,
    "MalformedBlock": 65,
    "MalformedVote": 66,
    "InvalidSignature": 67,
    "WrongChain": 68,
    "WrongProposer": 69,
    "BadMerkleRoot": 70,
    "BadTimestamp": 71,
    "InvalidCertificate": 72,
    "NotAValidator": 73,
    "InvalidBlock": 74,
    "InvalidEvidence": 75,
    "FutureMessage": 76,
    "StaleMessage": 77,
    "MempoolFull": 78,
    "NonceTooFarAhead": 79,
    "TransactionTooLarge": 80,
    "ChainStoreError": 81,
    "PosGenesisError": 82,
    "ConflictingCommit": 83,
    "ConflictingProposal": 84,
}


@pytest.mark.parametrize(("name", "code"), CODES.items())
def test_codes_are_stable_and_map_back(name: str, code: int) -> None:
    error = getattr(a27_pos, name)
    assert issubclass(error, PosError)
    assert not issubclass(error, LedgerError)
    assert error.code == code
    assert pos_error_for_code(code) is error
    assert error.reason


# Local refinements: raised and reported here, never a wire code of their own (they send their parent's).
REFINEMENTS = {"CheckpointMismatch": "WrongChain"}


def test_every_error_class_is_listed() -> None:
    classes = {name for name, value in vars(a27_pos).items() if isinstance(value, type) and issubclass(value, PosError)}
    assert classes == set(CODES) | set(REFINEMENTS)


@pytest.mark.parametrize(("name", "parent"), REFINEMENTS.items())
def test_refinements_share_their_parents_code(name: str, parent: str) -> None:
    error, parent_error = getattr(a27_pos, name), getattr(a27_pos, parent)
    assert issubclass(error, parent_error)
    assert error.code == parent_error.code
    assert pos_error_for_code(error.code) is parent_error
    assert error.reason != parent_error.reason


def test_unknown_codes_map_to_the_base_class() -> None:
    assert pos_error_for_code(3) is PosError
    assert pos_error_for_code(200) is PosError


def test_message_defaults_to_the_reason() -> None:
    assert str(a27_pos.WrongProposer()) == "wrong proposer"
    assert str(a27_pos.WrongProposer("by 0a0b0c0d")) == "by 0a0b0c0d"
