"""The a27 command line: options reach the scenario, errors are clear, output is the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from a27_harness.cli import build_parser, main


def test_sim_options_parse() -> None:
    arguments = build_parser().parse_args(["sim", "--validators", "3", "--loss", "0.1", "--no-progress"])
    assert arguments.validators == 3
    assert arguments.loss == 0.1
    assert arguments.progress is False


def test_bad_latency_model_is_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["sim", "--latency", "warp:9", "--out", str(tmp_path), "--no-progress"])
    assert code == 2
    assert "latency" in capsys.readouterr().err


def test_small_lab1_run_prints_ledger_and_verdict(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["sim", "--layers", "ledger", "--validators", "2", "--light-nodes", "3", "--duration", "10",
                 "--out", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Lab 1 ledger" in out
    assert "VERDICT: OK" in out
    assert "Every node's ledger:" in out
    assert (tmp_path / "lab1.png").exists()


def test_small_pos_run_prints_chain_and_verdict(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["sim", "--validators", "3", "--light-nodes", "2", "--duration", "8", "--stakes", "3000,1000,1000",
                 "--out", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Lab 2 proof of stake" in out
    assert "Chain (finality" in out
    assert "VERDICT: OK" in out
    assert (tmp_path / "lab2.png").exists()


def test_stakes_must_match_validators(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["sim", "--validators", "3", "--stakes", "1,2", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "2 stakes given for 3 validators" in capsys.readouterr().err


def test_stake_below_the_minimum_is_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["sim", "--validators", "2", "--stakes", "5000,10", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "below min_stake" in capsys.readouterr().err
