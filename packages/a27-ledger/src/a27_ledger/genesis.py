"""The genesis: chain id, initial balances and the initial validator set, read from and written to TOML.

File format::

    chain_id = "a27-lab"

    [[accounts]]
    public_key = "<64 hex characters: the Ed25519 public key>"
    balance = 1000
    validator = true      # optional, default false
    name = "v0"           # optional, for printing
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from a27_ledger.errors import GenesisError
from a27_ledger.transaction import MAX_UINT64

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

GENESIS_DOMAIN = b"a27/genesis/v1"
_MAX_TEXT_BYTES = 255
_ACCOUNT = struct.Struct(">32sQB")
_ACCOUNT_KEYS = frozenset({"public_key", "balance", "validator", "name"})


@attrs.frozen
class GenesisAccount:
    """One account in the genesis: its key, starting balance, whether it validates, and a display name."""

    public_key: bytes
    balance: int
    validator: bool = False
    name: str = ""


def _sorted_accounts(accounts: Iterable[GenesisAccount]) -> tuple[GenesisAccount, ...]:
    try:
        return tuple(sorted(accounts, key=lambda account: account.public_key))
    except (AttributeError, TypeError) as exc:
        raise GenesisError(f"accounts must be GenesisAccount values with bytes keys: {exc}") from exc


def _text_field(value: str) -> bytes:
    encoded = value.encode()
    return struct.pack(">H", len(encoded)) + encoded


def _toml_string(value: str) -> str:
    # A JSON string is a valid TOML basic string except for DEL, which TOML requires escaped.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


@attrs.frozen
class Genesis:
    """A chain's starting point; accounts are kept sorted by public key, so equal contents compare equal.

    Construction raises GenesisError on a bad key, a negative or overflowing balance, a duplicate key or name, a
    total supply above 2**64-1, or no validator.
    """

    chain_id: str
    accounts: tuple[GenesisAccount, ...] = attrs.field(converter=_sorted_accounts)
    _digest: bytes | None = attrs.field(init=False, default=None, eq=False, repr=False)
    _balances: Mapping[bytes, int] | None = attrs.field(init=False, default=None, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        """Validate the whole genesis."""
        if type(self.chain_id) is not str or not self.chain_id or len(self.chain_id.encode()) > _MAX_TEXT_BYTES:
            raise GenesisError(f"chain_id must be a non-empty string of at most {_MAX_TEXT_BYTES} bytes")
        names: set[str] = set()
        keys: set[bytes] = set()
        for account in self.accounts:
            _validate_account(account)
            if account.public_key in keys:
                raise GenesisError(f"duplicate public key {account.public_key.hex()}")
            keys.add(account.public_key)
            if account.name:
                if account.name in names:
                    raise GenesisError(f"duplicate name {account.name!r}")
                names.add(account.name)
        if self.total_supply > MAX_UINT64:
            raise GenesisError(f"total supply {self.total_supply} exceeds 2**64-1")
        if not any(account.validator for account in self.accounts):
            raise GenesisError("the genesis names no validator")

    @property
    def validators(self) -> tuple[bytes, ...]:
        """Public keys of the validators, sorted."""
        return tuple(account.public_key for account in self.accounts if account.validator)

    @property
    def balances(self) -> Mapping[bytes, int]:
        """Starting balance of every account: one read-only mapping per genesis, which every `MemoryStore` started
        from it shares as its base (a simulation's nodes then hold only what changed, not N copies of N accounts)."""
        balances = self._balances
        if balances is None:
            balances = MappingProxyType({account.public_key: account.balance for account in self.accounts})
            object.__setattr__(self, "_balances", balances)
        return balances

    @property
    def names(self) -> dict[bytes, str]:
        """Display names of the accounts that have one."""
        return {account.public_key: account.name for account in self.accounts if account.name}

    @property
    def total_supply(self) -> int:
        """Sum of the starting balances."""
        return sum(account.balance for account in self.accounts)

    def digest(self) -> bytes:
        """sha256 of the canonical encoding: the identity of this chain's start.

        Computed once per genesis object: every node of a simulation starts from the same one, and the encoding is
        linear in the number of accounts."""
        if self._digest is None:
            parts = [GENESIS_DOMAIN, _text_field(self.chain_id), struct.pack(">I", len(self.accounts))]
            for account in self.accounts:
                parts.append(_ACCOUNT.pack(account.public_key, account.balance, account.validator))
                parts.append(_text_field(account.name))
            object.__setattr__(self, "_digest", hashlib.sha256(b"".join(parts)).digest())
        assert self._digest is not None
        return self._digest

    @classmethod
    def build(
        cls,
        chain_id: str,
        balances: Mapping[bytes, int],
        validators: Iterable[bytes],
        names: Mapping[bytes, str] | None = None,
    ) -> Genesis:
        """Assemble a genesis; a validator missing from `balances` starts with 0."""
        validator_keys = set(validators)
        names = names or {}
        keys = set(balances) | validator_keys
        return cls(
            chain_id,
            tuple(GenesisAccount(key, balances.get(key, 0), key in validator_keys, names.get(key, "")) for key in keys),
        )

    @classmethod
    def from_toml(cls, path_or_text: str | os.PathLike[str]) -> Genesis:
        """Read a genesis from a TOML file or TOML text; GenesisError on anything wrong.

        A path object is read as a file; a string is TOML text if it contains a newline or "=", else a file path.
        """
        if isinstance(path_or_text, os.PathLike) or ("\n" not in path_or_text and "=" not in path_or_text):
            try:
                text = Path(path_or_text).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise GenesisError(f"cannot read genesis file: {exc}") from exc
        else:
            text = path_or_text
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise GenesisError(f"genesis is not valid TOML: {exc}") from exc
        return cls._from_document(document)

    @classmethod
    def _from_document(cls, document: dict[str, Any]) -> Genesis:
        unknown = set(document) - {"chain_id", "accounts"}
        if unknown:
            raise GenesisError(f"unknown genesis keys: {', '.join(sorted(unknown))}")
        chain_id = document.get("chain_id")
        if not isinstance(chain_id, str):
            raise GenesisError("chain_id must be a string")
        tables = document.get("accounts")
        if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
            raise GenesisError("the genesis needs [[accounts]] tables")
        return cls(chain_id, tuple(_account_from_table(index, table) for index, table in enumerate(tables)))

    def to_toml(self) -> str:
        """Write the genesis as TOML that `from_toml` reads back to an equal Genesis."""
        lines = [f"chain_id = {_toml_string(self.chain_id)}"]
        for account in self.accounts:
            lines += ["", "[[accounts]]", f'public_key = "{account.public_key.hex()}"', f"balance = {account.balance}"]
            lines.append(f"validator = {'true' if account.validator else 'false'}")
            if account.name:
                lines.append(f"name = {_toml_string(account.name)}")
        return "\n".join(lines) + "\n"


def _validate_account(account: GenesisAccount) -> None:
    label = account.name or repr(account.public_key)
    if type(account.public_key) is not bytes or len(account.public_key) != 32:
        raise GenesisError(f"account {label}: public_key must be 32 bytes")
    if type(account.balance) is not int or not 0 <= account.balance <= MAX_UINT64:
        raise GenesisError(f"account {label}: balance {account.balance!r} is not an integer in 0..2**64-1")
    if type(account.validator) is not bool:
        raise GenesisError(f"account {label}: validator must be true or false")
    if type(account.name) is not str or len(account.name.encode()) > _MAX_TEXT_BYTES:
        raise GenesisError(f"account {label}: name must be a string of at most {_MAX_TEXT_BYTES} bytes")


def _account_from_table(index: int, table: dict[str, Any]) -> GenesisAccount:
    unknown = set(table) - _ACCOUNT_KEYS
    if unknown:
        raise GenesisError(f"accounts[{index}]: unknown keys {', '.join(sorted(unknown))}")
    public_key = table.get("public_key")
    if not isinstance(public_key, str) or len(public_key) != 64:
        raise GenesisError(f"accounts[{index}]: public_key must be 64 hex characters")
    try:
        key = bytes.fromhex(public_key)
    except ValueError as exc:
        raise GenesisError(f"accounts[{index}]: public_key is not hex") from exc
    if "balance" not in table:
        raise GenesisError(f"accounts[{index}]: balance is missing")
    return GenesisAccount(key, table["balance"], table.get("validator", False), table.get("name", ""))
