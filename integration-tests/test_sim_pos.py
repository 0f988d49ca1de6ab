"""Lab 2 end to end in simulation: the full stack agrees on one finalized chain, under loss, from SQLite, twice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from a27_harness import SimScenario
from a27_harness.labs.lab2 import run_lab2
from a27_harness.reports.lab2 import format_terminal
from a27_ledger import LedgerState, SQLiteStore
from a27_pos import Chain, SQLiteChainStore, pos_registry

SMALL = {"validators": 4, "light_nodes": 4, "duration": 20.0, "transfer_interval": 2.0}


def test_transfers_become_final_and_every_node_holds_the_same_chain() -> None:
    result = run_lab2(SimScenario(seed=1, **SMALL))
    assert result.agreed, format_terminal(result)
    assert result.supply_ok
    final = [record for record in result.transfers if record.outcome == "final"]
    assert len(final) > 10
    assert all(record.outcome in {"final", "refused"} for record in result.transfers)
    assert result.target_height >= 10
    assert result.snapshot.total_supply == result.genesis.ledger.total_supply + 100 * len(result.blocks)
    assert {validator.blocks for validator in result.validators} <= {len(result.blocks) // 4,
                                                                     len(result.blocks) // 4 + 1}


def test_ten_percent_loss_still_ends_in_one_chain() -> None:
    result = run_lab2(SimScenario(seed=4, loss=0.10, **SMALL))
    assert result.agreed, format_terminal(result)
    assert result.network["totals"]["dropped"]["messages"] > 0


def test_stake_weights_steer_the_proposer_choice() -> None:
    result = run_lab2(SimScenario(seed=2, stakes=(1_000_000, 100_000, 100_000, 100_000), **SMALL))
    assert result.agreed
    big = result.validators[0]
    assert big.stake_share > 0.76
    assert abs(big.blocks / len(result.blocks) - big.stake_share) < 0.1


def test_nodes_resume_their_chain_from_sqlite(tmp_path: Path) -> None:
    result = run_lab2(SimScenario(seed=3, db=str(tmp_path), **SMALL))
    assert result.agreed
    for report in result.nodes:
        registry = pos_registry()
        chain = Chain(LedgerState(SQLiteStore(tmp_path / f"{report.name}.db"), registry),
                      SQLiteChainStore(tmp_path / f"{report.name}.chain.db", registry))
        try:
            assert chain.height == report.height
            chain.check_invariants()
        finally:
            chain.state.close()


def _a27(*arguments: str, cwd: Path, hash_seed: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run([sys.executable, "-m", "a27_harness.cli", *arguments], cwd=cwd, env=environment,
                          capture_output=True, text=True, check=False, timeout=600)


def test_a27_sim_with_pos_prints_the_same_bytes_twice(tmp_path: Path) -> None:
    arguments = ("sim", "--seed", "7", "--validators", "4", "--light-nodes", "4", "--duration", "15",
                 "--proposer", "lottery", "--latency", "lognormal:0.03,0.5")
    first = _a27(*arguments, "--out", "one", cwd=tmp_path, hash_seed="1")
    second = _a27(*arguments, "--out", "two", cwd=tmp_path, hash_seed="2")
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout == second.stdout
    assert "VERDICT: OK" in first.stdout
    assert (tmp_path / "one" / "lab2.png").read_bytes().startswith(b"\x89PNG")
