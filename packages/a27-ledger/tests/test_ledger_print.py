"""The balances table."""

from __future__ import annotations

from a27_ledger import LedgerSnapshot, format_balances, short_id


def snapshot() -> LedgerSnapshot:
    a, b, c = b"\x0a" * 32, b"\x0b" * 32, b"\x0c" * 32
    return LedgerSnapshot(
        genesis_digest=bytes(32),
        balances=((a, 900), (b, 1_000), (c, 50)),
        nonces=((a, 2),),
        escrows=(("channel", b"\xcc" * 32, 20), ("fees", b"", 5), ("stake", a, 25)),
        data=(),
        total_supply=2_000,
        applied=2,
    )


def test_table_lists_accounts_escrows_and_totals() -> None:
    a, b, c = b"\x0a" * 32, b"\x0b" * 32, b"\x0c" * 32
    text = format_balances(snapshot(), {a: "v10", b: "v2"})
    lines = text.splitlines()
    assert lines[0].split() == ["account", "balance", "next", "nonce", "escrow"]
    rows = [line.split() for line in lines[2:-3]]
    assert rows == [
        [short_id(c), "50", "0", "0"],
        ["v2", "1000", "0", "0"],
        ["v10", "900", "2", "25"],
        ["channel:" + short_id(b"\xcc" * 32), "20"],
        ["fees", "5"],
    ]
    assert lines[-2].split() == ["total", "1950", "50"]
    assert lines[-1].split() == ["supply", "2000"]
    assert text.endswith("\n")


def test_columns_are_aligned() -> None:
    lines = format_balances(snapshot()).splitlines()
    header_end = len(lines[0])
    assert all(len(line) == header_end for line in lines[2:5])
