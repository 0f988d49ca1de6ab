"""Genesis: TOML reading and writing, validation, canonical digest."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from a27_ledger import MAX_UINT64, Genesis, GenesisAccount, GenesisError
from a27_ledger.testing import make_keys

EXAMPLE = Path(__file__).parent.parent / "examples" / "genesis.toml"
KEYS = [key.public_key for key in make_keys(3, seed=5)]


def account_table(key: bytes, balance: object = 10, validator: str = "true", **extra: object) -> str:
    lines = ["[[accounts]]", f'public_key = "{key.hex()}"']
    if balance is not None:
        lines.append(f"balance = {balance}")
    lines.append(f"validator = {validator}")
    lines += [f"{name} = {value}" for name, value in extra.items()]
    return "\n".join(lines) + "\n"


def test_the_example_file_loads() -> None:
    genesis = Genesis.from_toml(EXAMPLE)
    assert genesis.chain_id == "a27-lab"
    assert len(genesis.validators) == 3
    assert genesis.total_supply == 3_500_000
    assert sorted(genesis.names.values()) == ["alice", "v0", "v1", "v2"]
    assert Genesis.from_toml(str(EXAMPLE)) == genesis
    assert Genesis.from_toml(EXAMPLE.read_text()) == genesis


def test_to_toml_round_trips_including_awkward_strings() -> None:
    genesis = Genesis(
        'chain "quoted" \\ ünïcode \x7f\t',
        (GenesisAccount(KEYS[0], MAX_UINT64, True, "v\n0"), GenesisAccount(KEYS[1], 0, False, "")),
    )
    assert Genesis.from_toml(genesis.to_toml()) == genesis


def test_build_sorts_accounts_and_gives_validators_a_zero_balance() -> None:
    genesis = Genesis.build("c", {KEYS[2]: 5, KEYS[1]: 7}, [KEYS[0]], {KEYS[1]: "b"})
    assert [account.public_key for account in genesis.accounts] == sorted(KEYS)
    assert genesis.balances == {KEYS[0]: 0, KEYS[1]: 7, KEYS[2]: 5}
    assert genesis.validators == (KEYS[0],)
    assert genesis.names == {KEYS[1]: "b"}


def test_digest_is_canonical_and_covers_every_field() -> None:
    base = Genesis.build("c", {KEYS[0]: 5, KEYS[1]: 7}, [KEYS[0]])
    reordered = Genesis("c", tuple(reversed(base.accounts)))
    assert reordered == base
    assert reordered.digest() == base.digest()
    variants = [
        Genesis.build("d", {KEYS[0]: 5, KEYS[1]: 7}, [KEYS[0]]),
        Genesis.build("c", {KEYS[0]: 6, KEYS[1]: 7}, [KEYS[0]]),
        Genesis.build("c", {KEYS[0]: 5, KEYS[1]: 7}, [KEYS[0], KEYS[1]]),
        Genesis.build("c", {KEYS[0]: 5, KEYS[1]: 7}, [KEYS[0]], {KEYS[1]: "x"}),
        Genesis.build("c", {KEYS[0]: 5, KEYS[2]: 7}, [KEYS[0]]),
    ]
    assert len({base.digest(), *(variant.digest() for variant in variants)}) == len(variants) + 1


BAD_DOCUMENTS = {
    "not toml": ("chain_id = ", "not valid TOML"),
    "no chain id": (account_table(KEYS[0]), "chain_id"),
    "empty chain id": ('chain_id = ""\n' + account_table(KEYS[0]), "chain_id"),
    "chain id not a string": ("chain_id = 5\n" + account_table(KEYS[0]), "chain_id"),
    "no accounts": ('chain_id = "c"\n', "accounts"),
    "accounts not tables": ('chain_id = "c"\naccounts = [1]\n', "accounts"),
    "unknown top-level key": ('chain_id = "c"\nextra = 1\n' + account_table(KEYS[0]), "unknown genesis keys: extra"),
    "unknown account key": ('chain_id = "c"\n' + account_table(KEYS[0], stake=5), "unknown keys stake"),
    "short key": ('chain_id = "c"\n[[accounts]]\npublic_key = "abcd"\nbalance = 1\nvalidator = true\n', "64 hex"),
    "bad hex": ('chain_id = "c"\n[[accounts]]\npublic_key = "' + "zz" * 32 + '"\nbalance = 1\n', "not hex"),
    "missing balance": ('chain_id = "c"\n' + account_table(KEYS[0], balance=None), "balance is missing"),
    "negative balance": ('chain_id = "c"\n' + account_table(KEYS[0], balance=-1), "balance -1"),
    "overflowing balance": ('chain_id = "c"\n' + account_table(KEYS[0], balance=2**64), "balance"),
    "boolean balance": ('chain_id = "c"\n' + account_table(KEYS[0], balance="true"), "balance True"),
    "string validator": ('chain_id = "c"\n' + account_table(KEYS[0], validator='"yes"'), "validator"),
    "number name": ('chain_id = "c"\n' + account_table(KEYS[0], name=5), "name"),
    "duplicate key": ('chain_id = "c"\n' + account_table(KEYS[0]) + account_table(KEYS[0]), "duplicate public key"),
    "duplicate name": (
        'chain_id = "c"\n' + account_table(KEYS[0], name='"v"') + account_table(KEYS[1], name='"v"'),
        "duplicate name",
    ),
    "total supply overflow": (
        'chain_id = "c"\n' + account_table(KEYS[0], balance=MAX_UINT64) + account_table(KEYS[1], balance=1),
        "total supply",
    ),
    "no validator": ('chain_id = "c"\n' + account_table(KEYS[0], validator="false"), "no validator"),
}


@pytest.mark.parametrize(("text", "match"), BAD_DOCUMENTS.values(), ids=BAD_DOCUMENTS.keys())
def test_bad_documents_raise_genesis_error(text: str, match: str) -> None:
    with pytest.raises(GenesisError, match=match):
        Genesis.from_toml(text)


def test_unreadable_files_raise_genesis_error(tmp_path: Path) -> None:
    with pytest.raises(GenesisError, match="cannot read"):
        Genesis.from_toml(tmp_path / "missing.toml")
    with pytest.raises(GenesisError, match="cannot read"):
        Genesis.from_toml(str(tmp_path / "missing.toml"))
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(GenesisError, match="cannot read"):
        Genesis.from_toml(binary)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(GenesisError, match="public_key"):
        Genesis("c", (GenesisAccount(b"short", 1, True),))
    with pytest.raises(GenesisError, match="GenesisAccount"):
        Genesis("c", ("not an account",))  # type: ignore[arg-type]


def test_the_digest_is_computed_once_per_genesis_and_not_carried_into_a_changed_copy() -> None:
    keys = make_keys(3, seed=5)
    genesis = Genesis.build("once", {key.public_key: 10 for key in keys}, [keys[0].public_key])
    first = genesis.digest()
    assert genesis.digest() is first
    renamed = attrs.evolve(genesis, chain_id="twice")
    assert renamed.digest() != first
    assert renamed == Genesis.build("twice", {key.public_key: 10 for key in keys}, [keys[0].public_key])
    assert hash(genesis) == hash(Genesis.build("once", {key.public_key: 10 for key in keys}, [keys[0].public_key]))
