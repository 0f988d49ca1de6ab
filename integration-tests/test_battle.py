"""
A battle of real node processes on 127.0.0.1 (``a27 battle up | score | down``): 4 blue validators, a referee (light
node) and one red team whose validator runs ``vote-equivocation``'s node behaviour. With the defences on, the
referee's chain records the evidence, slashes red, and red gains nothing; the honest nodes' stored chains agree and keep
the supply invariant; and ``a27 attack vote-equivocation`` in simulation ends the same way (failed, stolen 0, the
attacker slashed, honest nodes agree, no supply above the genesis and rewards).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from realnet import stored_chain

from a27_harness.battle.processes import PID_FILE
from a27_harness.battle.referee import score_folder
from a27_harness.battle.scoring import BattleError, Scoreboard

A27 = [sys.executable, "-m", "a27_harness.entry"]
BATTLE_SECONDS = 45.0
"""The most the battle may run before the red validator must have been slashed."""


def _score(folder: Path) -> Scoreboard | None:
    try:
        return score_folder(folder)
    except BattleError:
        return None  # the referee has stored no chain yet


@pytest.mark.timeout(120)
def test_a_red_vote_equivocator_is_slashed_and_gains_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "battle"
    subprocess.run([*A27, "battle", "up", str(folder), "--team", "red=vote-equivocation"], check=True,
                   capture_output=True, timeout=60)
    try:
        deadline = time.monotonic() + BATTLE_SECONDS
        board = _score(folder)
        while board is None or board.height < 5 or not board.teams[1].slashed:
            assert time.monotonic() < deadline, f"no slashing within {BATTLE_SECONDS} s: {board}"
            time.sleep(1.0)
            board = _score(folder)
        printed = subprocess.run([*A27, "battle", "score", str(folder), "--json"], check=True, capture_output=True,
                                 text=True, timeout=60)
        assert json.loads(printed.stdout)["chain_id"] == "a27-battle"
    finally:
        down = subprocess.run([*A27, "battle", "down", str(folder)], check=False, capture_output=True, text=True,
                              timeout=90)
    assert down.returncode == 0, down.stderr
    assert "killed" not in down.stdout and not list(folder.glob(f"*/{PID_FILE}"))
    report = json.loads((folder / "report" / "report.json").read_text(encoding="utf-8"))
    teams = {team["name"]: team for team in report["scoreboard"]["teams"]}
    assert teams["red"]["gained"] == 0 and teams["red"]["slashed"] > 0 and teams["red"]["detections"]
    assert teams["blue"]["gained"] == 0 and teams["blue"]["slashed"] == 0
    assert report["scoreboard"]["unowned_gained"] == 0
    assert (folder / "report" / "scoreboard.png").stat().st_size > 0
    assert "| red | red | vote-equivocation |" in (folder / "report" / "report.md").read_text(encoding="utf-8")

    # The honest nodes (referee and blue validators), stopped: their stores reopen, keep the supply invariant (genesis
    # plus rewards minus what slashing burned), and hold one chain.
    honest = [path for path in sorted(folder.glob("*/node.toml")) if not path.parent.name.startswith("red")]
    assert len(honest) == 5, honest
    chains = [[block.block_id for block in stored_chain(path)] for path in honest]
    common = min(len(chain) for chain in chains)
    assert common >= 5 and len({tuple(chain[:common]) for chain in chains}) == 1, "the honest chains differ"

    # The same attack in simulation: the same kind of outcome.
    simulated = subprocess.run([*A27, "attack", "vote-equivocation", "--duration", "20", "--light-nodes", "4",
                                "--out", str(tmp_path / "simulated")], check=True, capture_output=True, timeout=120)
    assert simulated.returncode == 0
    sim = json.loads((tmp_path / "simulated" / "report.json").read_text(encoding="utf-8"))
    assert (sim["succeeded"], sim["stolen"], sim["broken"]) == (False, 0, [])
    assert sim["cost"]["slashed"] > 0 and sim["audit"]["agreement"] and sim["audit"]["excess_supply"] == 0
