"""Plain-text tables of ledger state, for terminals and reports."""

from __future__ import annotations

import re
from collections.abc import Mapping

from a27_ledger.keys import short_id
from a27_ledger.snapshot import LedgerSnapshot

_DIGITS = re.compile(r"(\d+)")


def _natural_key(label: str) -> list[tuple[int, int | str]]:
    # So that "v2" sorts before "v10".
    return [(1, int(part)) if part.isdigit() else (0, part) for part in _DIGITS.split(label)]


def format_balances(snapshot: LedgerSnapshot, names: Mapping[bytes, str] | None = None) -> str:
    """A table of accounts (name or short id, balance, next nonce, escrow keyed by the account), then the escrows
    not keyed by an account, then totals. Rows are sorted by label, numbers in labels compared as numbers.
    """
    names = names or {}
    balances = dict(snapshot.balances)
    nonces = dict(snapshot.nonces)
    accounts = set(balances) | set(nonces)
    account_escrow: dict[bytes, int] = {}
    other_escrows: list[tuple[str, int]] = []
    for name, key, amount in snapshot.escrows:
        if key in accounts:
            account_escrow[key] = account_escrow.get(key, 0) + amount
        else:
            other_escrows.append((f"{name}:{short_id(key)}" if key else name, amount))

    def label(account: bytes) -> str:
        return names.get(account) or short_id(account)

    rows = [
        (
            label(account),
            str(balances.get(account, 0)),
            str(nonces.get(account, 0)),
            str(account_escrow.get(account, 0)),
        )
        for account in sorted(accounts, key=lambda account: (_natural_key(label(account)), account))
    ]
    rows += [(escrow_label, "", "", str(amount)) for escrow_label, amount in sorted(other_escrows)]
    total_balance = sum(balances.values())
    total_escrow = sum(amount for _, _, amount in snapshot.escrows)
    footer = [
        ("total", str(total_balance), "", str(total_escrow)),
        ("supply", str(snapshot.total_supply), "", ""),
    ]
    header = ("account", "balance", "next nonce", "escrow")
    widths = [max(len(row[column]) for row in [header, *rows, *footer]) for column in range(4)]

    def line(row: tuple[str, str, str, str]) -> str:
        return "  ".join(
            [row[0].ljust(widths[0]), *(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))]
        ).rstrip()

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    return "\n".join([line(header), rule, *map(line, rows), rule, *map(line, footer)]) + "\n"
