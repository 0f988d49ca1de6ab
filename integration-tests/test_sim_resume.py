"""`a27 sim --db DIR` resumes the stored chains: after a SIGKILL partway through a run, and after a finished run."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

SHAPE = ("--seed", "3", "--validators", "4", "--light-nodes", "4", "--transfer-interval", "2")
NODES = ("v0", "v1", "v2", "v3", "l0", "l1", "l2", "l3")


def _command(db: Path, out: Path, duration: float) -> list[str]:
    return [sys.executable, "-m", "a27_harness.cli", "sim", *SHAPE, "--duration", str(duration), "--db", str(db),
            "--out", str(out), "--no-progress"]


def _stored_height(path: Path) -> int:
    """The highest block in a node's chain store (0 if none yet); read-only, while the writer may be running."""
    if not path.exists():
        return 0
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            row = connection.execute("SELECT MAX(height) FROM blocks").fetchone()
        finally:
            connection.close()
    except sqlite3.OperationalError:
        return 0  # the schema is not there yet
    return int(row[0] or 0)


def _stored_heights(db: Path) -> dict[str, int]:
    return {name: _stored_height(db / f"{name}.chain.db") for name in NODES}


def _resume_and_check(db: Path, out: Path) -> dict[str, object]:
    stored = _stored_heights(db)
    resumed = subprocess.run(_command(db, out, 15), capture_output=True, text=True, check=False, timeout=120)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "VERDICT: OK" in resumed.stdout
    report = json.loads((out / "report.json").read_text())
    target = report["verdict"]["target_height"]
    assert target > max(stored.values()) + 3, (stored, target)
    nodes = report["nodes"]
    assert len(nodes) == len(NODES)
    assert len({(node["block_id_at_target"], node["digest_at_target"]) for node in nodes}) == 1
    assert all(node["block_id_at_target"] for node in nodes)
    assert all(node["height"] >= target for node in nodes)
    assert _stored_heights(db)["v0"] >= target
    # Blocks of this run were stamped by a clock that continued after the stored chain: a clock restarted at 0
    # gets its proposals dropped as too far ahead until it catches up, and reports negative finality.
    new = [block for block in report["blocks"]["list"] if block["finality"] is not None]
    assert len(new) >= 5
    assert all(0 < block["finality"] < 5 for block in new), [block["finality"] for block in new]
    return report


@pytest.mark.timeout(120)
def test_a_run_killed_partway_resumes_from_its_stores_and_agrees(tmp_path: Path) -> None:
    db = tmp_path / "db"
    running = subprocess.Popen(_command(db, tmp_path / "killed", 10_000), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while min(_stored_heights(db).values()) < 40 and time.monotonic() < deadline and running.poll() is None:
            time.sleep(0.2)
        assert running.poll() is None, "the first run ended before it could be killed"
        assert min(_stored_heights(db).values()) >= 40, "40 blocks not stored within 60 s"
    finally:
        running.send_signal(signal.SIGKILL)
        running.wait()
    assert running.returncode == -signal.SIGKILL
    _resume_and_check(db, tmp_path / "resumed")


@pytest.mark.timeout(120)
def test_a_finished_run_resumed_adds_blocks_after_its_stored_chain(tmp_path: Path) -> None:
    db = tmp_path / "db"
    first = subprocess.run(_command(db, tmp_path / "first", 60), capture_output=True, text=True, check=False,
                           timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    report = _resume_and_check(db, tmp_path / "resumed")
    blocks = report["blocks"]["list"]
    stored = [block for block in blocks if block["finality"] is None]
    assert stored, "the blocks of the first run are reported, marked as earlier"
    new = [block for block in blocks if block["finality"] is not None]
    assert min(block["timestamp"] for block in new) > max(block["timestamp"] for block in stored)
