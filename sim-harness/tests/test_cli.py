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


def test_small_run_prints_ledger_and_verdict(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["sim", "--validators", "2", "--light-nodes", "3", "--duration", "10", "--out", str(tmp_path),
                 "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert "VERDICT: OK" in out
    assert "Every node's ledger:" in out
    assert (tmp_path / "report.md").exists()
