"""Lab 1 end to end in simulation: agreement, determinism, loss, SQLite, and the `a27 sim` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from a27_harness import SimScenario, run_lab1
from a27_harness.reports.lab1 import format_terminal
from a27_ledger import LedgerState, SQLiteStore

SMALL = {"layers": "ledger", "validators": 3, "light_nodes": 6, "duration": 20.0, "transfer_interval": 2.0}


def test_default_shape_agrees_and_conserves_supply() -> None:
    result = run_lab1(SimScenario(seed=1, **SMALL))
    assert result.agreed
    assert result.supply_ok
    accepted = [record for record in result.transfers if record.accepted]
    rejected = [record for record in result.transfers if not record.accepted]
    assert len(accepted) > 20
    # The workload tries a few overdrafts on purpose: each must be refused for that reason.
    assert rejected
    assert all("insufficient balance" in record.reason for record in rejected)
    assert all(record.everywhere_latency is not None for record in accepted)
    applied = {report.applied for report in result.nodes}
    assert applied == {len(accepted)}


def test_ten_percent_loss_still_ends_in_agreement() -> None:
    result = run_lab1(SimScenario(seed=3, loss=0.10, **SMALL))
    assert result.agreed, format_terminal(result)
    assert result.supply_ok
    assert result.network["totals"]["dropped"]["messages"] > 0
    assert sum(record.accepted for record in result.transfers) > 20


def test_same_seed_same_result_different_seed_different_result() -> None:
    first = format_terminal(run_lab1(SimScenario(seed=11, latency="lognormal:0.03,0.5", **SMALL)))
    second = format_terminal(run_lab1(SimScenario(seed=11, latency="lognormal:0.03,0.5", **SMALL)))
    other = format_terminal(run_lab1(SimScenario(seed=12, latency="lognormal:0.03,0.5", **SMALL)))
    assert first == second
    assert first != other


def test_sqlite_ledgers_reopen_with_the_agreed_state(tmp_path: Path) -> None:
    result = run_lab1(SimScenario(seed=5, db=str(tmp_path), **SMALL))
    assert result.agreed
    for report in result.nodes:
        store = SQLiteStore(tmp_path / f"{report.name}.db")
        try:
            state = LedgerState(store)
            assert state.snapshot().digest().hex() == report.digest
            state.check_invariants()
        finally:
            store.close()


def _a27(*arguments: str, cwd: Path, hash_seed: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run([sys.executable, "-m", "a27_harness.cli", *arguments], cwd=cwd, env=environment,
                          capture_output=True, text=True, check=False, timeout=600)


def test_a27_sim_prints_the_same_bytes_twice_and_writes_a_report(tmp_path: Path) -> None:
    arguments = ("sim", "--layers", "ledger", "--seed", "7", "--validators", "3", "--light-nodes", "5",
                 "--duration", "15")
    first = _a27(*arguments, "--out", "one", cwd=tmp_path, hash_seed="1")
    second = _a27(*arguments, "--out", "two", cwd=tmp_path, hash_seed="2")
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout == second.stdout
    assert "VERDICT: OK" in first.stdout
    report = json.loads((tmp_path / "one" / "report.json").read_text(encoding="utf-8"))
    assert report["verdict"]["agreed"] is True
    assert (tmp_path / "one" / "report.md").read_text(encoding="utf-8").startswith("# a27 sim")
    assert (tmp_path / "one" / "lab1.png").read_bytes().startswith(b"\x89PNG")


def test_a27_sim_rejects_bad_options_with_a_clear_message(tmp_path: Path) -> None:
    result = _a27("sim", "--validators", "0", cwd=tmp_path, hash_seed="0")
    assert result.returncode == 2
    assert result.stderr == "a27 sim: validators: expected an integer from 1 to 1,000, got 0\n"
