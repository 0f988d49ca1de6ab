"""The README's example is a real file: run it, in memory and on SQLite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parent.parent / "examples"


def run_quickstart(*arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py"), *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_quickstart_in_memory() -> None:
    output = run_quickstart()
    assert output.startswith("rejected: InsufficientBalance (code 5): balance 498690 < amount+fee 1000000000\n")
    assert "alice     498690           1       0" in output
    assert "supply   3500000" in output


def test_quickstart_resumes_its_sqlite_ledger(tmp_path: Path) -> None:
    database = str(tmp_path / "ledger.db")
    first = run_quickstart(database)
    second = run_quickstart(database)
    assert "alice     498690           1" in first
    assert "alice     497380           2" in second
