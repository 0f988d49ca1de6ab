"""`a27 experiment topology` end to end: one command, a report with plots, the same bytes for the same seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ARGUMENTS = ("experiment", "topology", "--nodes", "14", "--payments", "80", "--max-amount", "30000",
             "--topologies", "complete,bottleneck", "--no-progress")


def _a27(*arguments: str, cwd: Path, hash_seed: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run([sys.executable, "-m", "a27_harness.cli", *arguments], cwd=cwd, env=environment,
                          capture_output=True, text=True, check=False, timeout=600)


def test_topology_experiment_writes_its_report_and_repeats_exactly(tmp_path: Path) -> None:
    first = _a27(*ARGUMENTS, "--out", "one", cwd=tmp_path, hash_seed="1")
    second = _a27(*ARGUMENTS, "--out", "two", cwd=tmp_path, hash_seed="2")
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout == second.stdout
    assert "bridge offline" in first.stdout
    report = json.loads((tmp_path / "one" / "report.json").read_text(encoding="utf-8"))
    assert report
    assert (tmp_path / "one" / "report.md").read_text(encoding="utf-8").startswith("# ")
    pngs = sorted(path.name for path in (tmp_path / "one").glob("*.png"))
    assert "success_by_amount.png" in pngs
    assert "liquidity.png" in pngs
    for name in pngs:
        assert (tmp_path / "one" / name).read_bytes().startswith(b"\x89PNG")


def test_unknown_topology_is_refused(tmp_path: Path) -> None:
    result = _a27("experiment", "topology", "--topologies", "ring", "--no-progress", cwd=tmp_path, hash_seed="0")
    assert result.returncode == 2
    assert "ring" in result.stderr
