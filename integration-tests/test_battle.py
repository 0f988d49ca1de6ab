"""
A battle of real node processes on 127.0.0.1 (``a27 battle up | score | down``): 4 blue validators, a referee (light
node) and one red team whose validator runs ``vote-equivocation``'s node behaviour. With the defences on, the
referee's chain records the evidence, slashes red, and red gains nothing; the honest nodes' stored chains agree and keep
the supply invariant; and ``a27 attack vote-equivocation`` in simulation ends the same way (failed, stolen 0, the
attacker slashed, honest nodes agree, no supply above the genesis and rewards). While the battle runs, the
referee's REST API serves the live scoreboard (``battle up`` prints its URL): its JSON, and the page in headless
chromium if installed. The honest workload (4 transfers round the blue validators, declared by ``battle up
--workload 4``) is sent through the referee's API by ``a27 battle workload`` and scored as finalized.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from realnet import stored_chain

from a27_harness.battle.referee import score_folder
from a27_harness.battle.scoring import BattleError, Scoreboard
from a27_harness.processes import PID_NAME

A27 = [sys.executable, "-m", "a27_harness.entry"]
BATTLE_SECONDS = 45.0
"""The most the battle may run before the red validator must have been slashed."""
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _score(folder: Path) -> Scoreboard | None:
    try:
        return score_folder(folder)
    except BattleError:
        return None  # the referee has stored no chain yet


@pytest.mark.timeout(240)
def test_a_red_vote_equivocator_is_slashed_and_gains_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "battle"
    up = subprocess.run([*A27, "battle", "up", str(folder), "--team", "red=vote-equivocation", "--workload", "4"],
                        check=True, capture_output=True, text=True, timeout=60)
    found = re.search(r"live scoreboard: (http://127\.0\.0\.1:\d+/battle)\n", up.stdout)
    assert found is not None, up.stdout
    page = found[1]
    try:
        workload = subprocess.run([*A27, "battle", "workload", str(folder), "--timeout", "30"], check=False,
                                  capture_output=True, text=True, timeout=90)
        assert workload.returncode == 0, (workload.stdout, workload.stderr)
        assert workload.stdout.count("final at height") == 4
        deadline = time.monotonic() + BATTLE_SECONDS
        board = _score(folder)
        while board is None or board.height < 5 or not board.teams[1].slashed:
            assert time.monotonic() < deadline, f"no slashing within {BATTLE_SECONDS} s: {board}"
            time.sleep(1.0)
            board = _score(folder)
        printed = subprocess.run([*A27, "battle", "score", str(folder), "--json"], check=True, capture_output=True,
                                 text=True, timeout=60)
        assert json.loads(printed.stdout)["chain_id"] == "a27-battle"
        with urllib.request.urlopen(f"{page}/score", timeout=10) as answer:
            live = json.loads(answer.read())
        assert live["chain_id"] == "a27-battle" and live["height"] >= board.height
        assert (live["workload_declared"], live["workload_finalized"]) == (4, 4)
        teams = {team["name"]: team for team in live["teams"]}
        assert set(teams) == {"blue", "red"} and teams["red"]["slashed"] > 0 and teams["red"]["detections"]
        if CHROMIUM is not None:
            _check_the_page_in_chromium(page, folder)
    finally:
        down = subprocess.run([*A27, "battle", "down", str(folder)], check=False, capture_output=True, text=True,
                              timeout=90)
    assert down.returncode == 0, down.stderr
    assert "killed" not in down.stdout and not list(folder.glob(f"*/{PID_NAME}"))
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


def _check_the_page_in_chromium(page: str, folder: Path) -> None:
    """The live page's script, run by headless chromium against the referee, draws red's row: slashed, detected."""
    assert CHROMIUM is not None
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-extensions", f"--user-data-dir={folder / 'chromium-profile'}",
                          "--virtual-time-budget=5000", "--dump-dom", page],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    rows = dict(re.findall(r'<tr class="\w+" data-team="(\w+)">(.*?)</tr>', dom))
    assert set(rows) == {"blue", "red"}, dom
    red = dict(re.findall(r'data-column="(\w+)"[^>]*>([^<]*)</td>', rows["red"]))
    assert int(red["slashed"]) > 0 and int(red["detections"]) > 0 and red["behaviour"] == "vote-equivocation"
    assert re.search(r"chain a27-battle at height \d+", dom), dom
