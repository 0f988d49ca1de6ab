"""The README's examples are real files: run them (the quickstart in memory and on SQLite, the custom node)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parent.parent / "examples"


def run_example(name: str, *arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def run_quickstart(*arguments: str) -> str:
    return run_example("quickstart.py", *arguments)


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


def test_a_custom_node_on_the_public_api_compares_ledger_digests() -> None:
    # Three nodes built on A27Community, signed_handler and LedgerState; then node 0259169d applies one more transfer.
    assert run_example("custom_node.py") == (
        "5a7b747a applied 1: 0259169d=agrees 760776b2=agrees\n"
        "760776b2 applied 1: 0259169d=agrees 5a7b747a=agrees\n"
        "0259169d applied 1: 5a7b747a=agrees 760776b2=agrees\n"
        "5a7b747a applied 1: 0259169d=differs 760776b2=agrees\n"
        "760776b2 applied 1: 0259169d=differs 5a7b747a=agrees\n"
        "0259169d applied 2: 5a7b747a=differs 760776b2=differs\n"
    )


def test_the_custom_node_uses_only_the_public_api() -> None:
    source = (EXAMPLES / "custom_node.py").read_text(encoding="utf-8")
    private = [line for line in source.splitlines()
               if line.startswith("from a27_ledger.") and not line.startswith("from a27_ledger.testing ")]
    assert private == []
