"""`a27 experiment stake` end to end: a tiny experiment through the command line, its report and key figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TINY = ("experiment", "stake", "--seeds", "1", "--duration", "20", "--proposer", "weighted-round-robin",
        "--cases", "equal,10x-more", "--silence-duration", "10", "--restake-duration", "30", "--restake-seeds", "2",
        "--no-progress")


def _a27(*arguments: str, cwd: Path, hash_seed: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run([sys.executable, "-m", "a27_harness.cli", *arguments], cwd=cwd, env=environment,
                          capture_output=True, text=True, check=False, timeout=600)


def test_tiny_stake_experiment_reports_shares_thresholds_and_silence(tmp_path: Path) -> None:
    first = _a27(*TINY, "--jobs", "2", "--out", "one", cwd=tmp_path, hash_seed="1")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "VERDICT: OK" in first.stdout
    folder = tmp_path / "one"
    for name in ("report.md", "report.json", "block_shares.png", "finality.png", "silence.png", "restake.png",
                 "gini.png"):
        assert (folder / name).stat().st_size > 0, name
    data = json.loads((folder / "report.json").read_text(encoding="utf-8"))

    shares = {(item["case"], item["strategy"]): item for item in data["shares"]}
    big = shares["10x-more", "weighted-round-robin"]
    assert big["blocks"] >= 10
    assert big["validators"][0]["block_share"]["share"] > 0.5
    # The round robin follows stake shares by construction: nowhere near a significant deviation.
    assert big["chi_square"]["p_value"] > 0.5
    equal = shares["equal", "weighted-round-robin"]
    assert all(abs(validator["block_share"]["share"] - 0.25) < 0.1 for validator in equal["validators"])

    thresholds = {item["case"]: item for item in data["thresholds"]}
    assert thresholds["10x-more"]["finalizes_alone"] == [True, False, False, False]
    assert thresholds["equal"]["halts_alone"] == [False] * 4

    silence = {(item["case"], tuple(item["silent"])): item for item in data["silence"]}
    silent_majority = silence["10x-more", ("v0",)]
    assert silent_majority["predicted_halt"]
    assert silent_majority["blocks"] == 0
    assert silent_majority["transfers_final"] == 0
    alone = silence["10x-more", ("v1", "v2", "v3")]
    assert alone["blocks"] > 0
    assert alone["proposers"] == ["v0"]
    assert silence["equal", ("v0",)]["blocks"] > 0

    boundary = {item["case"]: item for item in data["boundary"]}
    assert boundary["v0 at 1/3"]["blocks"] == boundary["v0 at 1/3 + 1"]["blocks"] == 0
    assert boundary["v0 at 1/3 - 1"]["blocks"] > 0
    assert all(item["as_predicted"] for item in data["boundary"])
    controls = {item["case"]: item for item in data["restake_controls"]}
    assert controls["10x-more"]["seeds"] == 2
    assert controls["10x-more"]["transfers_without_transfers"] == 0

    restake = {item["case"]: item for item in data["restake"]}
    assert restake["10x-more"]["bonds_admitted"] > 0
    assert sum(restake["10x-more"]["stakes"][-1]) > sum(restake["10x-more"]["stakes"][0])

    second = _a27(*TINY, "--jobs", "1", "--out", "two", cwd=tmp_path, hash_seed="2")
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout


def test_bad_case_is_reported_before_anything_runs(tmp_path: Path) -> None:
    outcome = _a27("experiment", "stake", "--cases", "equal,lots-more", "--no-progress", cwd=tmp_path,
                   hash_seed="0")
    assert outcome.returncode == 2
    assert "unknown stake case 'lots-more'" in outcome.stderr
    assert not (tmp_path / "a27-out").exists()
