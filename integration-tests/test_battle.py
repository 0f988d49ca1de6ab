"""
Battles of real node processes on 127.0.0.1 (``a27 battle up | score | down``): 4 blue validators, a referee (light
node) and one red team whose node (validator or light) runs a registered attack, defences on; each ends as
``a27 attack NAME`` does in simulation (failed, stolen 0, honest nodes agree, no supply above the genesis and rewards).

The first battle's red runs ``vote-equivocation``'s node behaviour. With the defences on, the
referee's chain records the evidence, slashes red, and red gains nothing; the honest nodes' stored chains agree and keep
the supply invariant; and ``a27 attack vote-equivocation`` in simulation ends the same way (failed, stolen 0, the
attacker slashed, honest nodes agree, no supply above the genesis and rewards). While the battle runs, the
referee's REST API serves the live scoreboard (``battle up`` prints its URL): its JSON, and the page in headless
chromium if installed. The honest workload (4 transfers round the blue validators, declared by ``battle up
--workload 4``) is sent through the referee's API by ``a27 battle workload`` and scored as finalized.

The others run every other attack that runs on a real node (``Attack.real_node``; the rest are simulation-only,
BATTLE.md): the validator behaviours that work without ``act`` (``Attack.node_settings_for``), and the light-node
attacks whose ``act`` the red node runs through its own arena (``Attack.real_node_act``: ``double-spend-pos``,
``flood``), each with the attack's own defended signature on the referee's chain and in the red node's log.
``censor`` runs with its victim named as a battle node (``--team red=censor:victim=blue1``, which ``battle up``
resolves into blue1's account) and an honest workload of 4 transfers, one of them blue1's, sent through the referee's
API (which resubmits a transfer a censoring validator sits on). (``mempool-flood`` runs on a real node too; it is not
battled here, to keep the suite's time down. ``sybil`` and ``eclipse``, whose victim is a light node its operator
restarts, run in ``test_real_sybil_eclipse.py``.)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from realnet import stored_chain

from a27_attacks import account_key
from a27_harness.battle.declaration import load_declaration
from a27_harness.battle.referee import score_folder
from a27_harness.battle.scoring import BattleError, Scoreboard, TeamScore
from a27_harness.processes import LOG_NAME, PID_NAME

A27 = [sys.executable, "-m", "a27_harness.entry"]
BATTLE_SECONDS = 45.0
"""The most a battle may run before red's defended signature must show on the referee's chain."""
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _score(folder: Path) -> Scoreboard | None:
    try:
        return score_folder(folder)
    except BattleError:
        return None  # the referee has stored no chain yet


def _red(board: Scoreboard) -> TeamScore:
    return next(team for team in board.teams if team.name == "red")


@contextmanager
def _battle(folder: Path, behaviour: str, workload: int = 0) -> Iterator[str]:
    """``a27 battle up`` with one red team running ``behaviour``; yields the live page's URL. At the end ``a27 battle
    down`` must stop every node itself (none killed, no pid file left) and write the report."""
    up = subprocess.run([*A27, "battle", "up", str(folder), "--team", f"red={behaviour}", "--workload", str(workload)],
                        check=True, capture_output=True, text=True, timeout=60)
    found = re.search(r"live scoreboard: (http://127\.0\.0\.1:\d+/battle)\n", up.stdout)
    assert found is not None, up.stdout
    try:
        yield found[1]
    finally:
        down = subprocess.run([*A27, "battle", "down", str(folder)], check=False, capture_output=True, text=True,
                              timeout=90)
    assert down.returncode == 0, down.stderr
    assert "killed" not in down.stdout and not list(folder.glob(f"*/{PID_NAME}"))


def _wait_until(folder: Path, done: Callable[[Scoreboard], bool], what: str) -> Scoreboard:
    """The referee's scoreboard once ``done`` holds for it (polled every second, at most ``BATTLE_SECONDS``)."""
    deadline = time.monotonic() + BATTLE_SECONDS
    board = _score(folder)
    while board is None or not done(board):
        assert time.monotonic() < deadline, f"not {what} within {BATTLE_SECONDS} s: {board}"
        time.sleep(1.0)
        board = _score(folder)
    return board


def _final_teams(folder: Path, behaviour: str) -> dict[str, Any]:
    """The report's teams by name, after checking that nobody gained: red and blue 0, no undeclared account."""
    report = json.loads((folder / "report" / "report.json").read_text(encoding="utf-8"))
    teams = {team["name"]: team for team in report["scoreboard"]["teams"]}
    assert teams["red"]["gained"] == 0, teams["red"]
    assert teams["blue"]["gained"] == 0 and teams["blue"]["slashed"] == 0, teams["blue"]
    assert report["scoreboard"]["unowned_gained"] == 0
    assert (folder / "report" / "scoreboard.png").stat().st_size > 0
    assert f"| red | red | {behaviour} |" in (folder / "report" / "report.md").read_text(encoding="utf-8")
    return teams


def _honest_chains_agree(folder: Path, at_least: int) -> list[Any]:
    """The honest nodes (referee and blue validators), stopped: their stores reopen, keep the supply invariant
    (genesis plus rewards minus what slashing burned), and hold one chain of at least ``at_least`` blocks; the
    referee's blocks."""
    honest = [path for path in sorted(folder.glob("*/node.toml")) if not path.parent.name.startswith("red")]
    assert len(honest) == 5, honest
    chains = [stored_chain(path) for path in honest]
    ids = [[block.block_id for block in chain] for chain in chains]
    common = min(len(chain) for chain in ids)
    assert common >= at_least and len({tuple(chain[:common]) for chain in ids}) == 1, "the honest chains differ"
    return next(chain for path, chain in zip(honest, chains, strict=True) if path.parent.name == "referee")


def _simulated(name: str, out: Path) -> dict[str, Any]:
    """``a27 attack NAME`` in simulation, defended: failed, nothing stolen or broken, honest nodes agree, no supply
    above the genesis and rewards; its report."""
    subprocess.run([*A27, "attack", name, "--duration", "20", "--light-nodes", "4", "--out", str(out)], check=True,
                   capture_output=True, timeout=120)
    sim: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert (sim["succeeded"], sim["stolen"], sim["broken"]) == (False, 0, [])
    assert sim["audit"]["agreement"] and sim["audit"]["excess_supply"] == 0
    return sim


@pytest.mark.timeout(240)
def test_a_red_vote_equivocator_is_slashed_and_gains_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "battle"
    with _battle(folder, "vote-equivocation", workload=4) as page:
        workload = subprocess.run([*A27, "battle", "workload", str(folder), "--timeout", "30"], check=False,
                                  capture_output=True, text=True, timeout=90)
        assert workload.returncode == 0, (workload.stdout, workload.stderr)
        assert workload.stdout.count("final at height") == 4
        board = _wait_until(folder, lambda board: board.height >= 5 and bool(_red(board).slashed), "slashed")
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
    teams = _final_teams(folder, "vote-equivocation")
    assert teams["red"]["slashed"] > 0 and teams["red"]["detections"]
    _honest_chains_agree(folder, 5)

    # The same attack in simulation: the same kind of outcome.
    sim = _simulated("vote-equivocation", tmp_path / "simulated")
    assert sim["cost"]["slashed"] > 0


def _red_log(folder: Path) -> str:
    return (folder / "red" / LOG_NAME).read_text(encoding="utf-8", errors="replace")


def _invalid_blocks_built(folder: Path) -> list[int]:
    """The heights at which the red node built a block holding its conflicting transfers (its log)."""
    return [int(height) for height in re.findall(r"with \d+ conflicting transactions built at height (\d+)",
                                                 _red_log(folder))]


# Per attack: when the battle has shown enough (on the referee's scoreboard and the red node's log), and then the
# attack's defended signature on the final report's red team, the referee's chain, and the simulation's report.
SIGNATURES: dict[str, tuple[Callable[[Path, Scoreboard], bool], Callable[[Path, dict[str, Any], list[Any],
                                                                            dict[str, Any]], None]]] = {}


def _signature(name: str, done: Callable[[Path, Scoreboard], bool]) -> Callable[
        [Callable[[Path, dict[str, Any], list[Any], dict[str, Any]], None]],
        Callable[[Path, dict[str, Any], list[Any], dict[str, Any]], None]]:
    def register(check: Callable[[Path, dict[str, Any], list[Any], dict[str, Any]], None]) -> Callable[
            [Path, dict[str, Any], list[Any], dict[str, Any]], None]:
        SIGNATURES[name] = (done, check)
        return check
    return register


@_signature("proposal-equivocation", lambda _folder, board: board.height >= 5 and bool(_red(board).slashed))
def _twin_proposals_are_slashed(_folder: Path, red: dict[str, Any], chain: list[Any], sim: dict[str, Any]) -> None:
    """Red proposed twins: proposal evidence in a finalized block, red slashed (as in simulation)."""
    assert red["slashed"] > 0 and red["detections"], red
    assert any(block.evidence for block in chain)
    assert sim["cost"]["slashed"] > 0 and sim["notes"]["a0 validates at the end"] == "False"


def _red_transfers(folder: Path, chain: list[Any]) -> list[Any]:
    """The finalized transactions sent from the red node's account (the red team's first declared account; the
    others are the node-less accounts its attack pays), on ``chain``."""
    declaration, _referee, _members = load_declaration(folder)
    account = next(team.accounts for team in declaration.teams if team.name == "red")[0]
    return [transaction for block in chain for transaction in block.transactions if transaction.sender == account]


@_signature("invalid-block", lambda folder, board: min(_invalid_blocks_built(folder), default=board.height) + 3
            <= board.height)
def _invalid_blocks_are_refused(folder: Path, red: dict[str, Any], chain: list[Any], sim: dict[str, Any]) -> None:
    """Red built blocks with its double spend; none was finalized (no block of red's, no transfer from red's account)
    and the chain went on at least 3 heights past the first; red not slashed (as in simulation)."""
    built = _invalid_blocks_built(folder)
    assert built and min(built) + 3 <= len(chain), (built, len(chain))
    assert red["blocks_proposed"] == 0 and red["slashed"] == 0, red
    assert not _red_transfers(folder, chain)
    assert sim["notes"]["blocks proposed by a0 in the honest chain"] == "0" and sim["cost"]["slashed"] == 0
    assert sim["notes"]["credited to sink-a and sink-b"] == "0"


@_signature("withhold", lambda _folder, board: board.height >= 8)
def _withheld_rounds_only_delay(_folder: Path, red: dict[str, Any], chain: list[Any], sim: dict[str, Any]) -> None:
    """Red's proposals are withheld: the chain goes on without a block of red's; red is not slashed (as in
    simulation)."""
    assert red["blocks_proposed"] == 0 and red["slashed"] == 0 and not red["detections"], red
    assert len(chain) >= 8
    assert sim["cost"]["slashed"] == 0 and not sim["detections"]


def _finalized_once_acted(folder: Path, node: str, attack: str) -> list[int]:
    """The heights ``node``'s log shows finalized, once the red node's log shows ``attack``'s act finished (empty
    until then): read after that line, so no clock of either process is compared."""
    if f"{attack}: act finished at" not in _red_log(folder):
        return []
    return [int(height) for height in re.findall(r"finalized height (\d+) \(",
                                                 (folder / node / LOG_NAME).read_text(encoding="utf-8"))]




def _double_spend_final(folder: Path, board: Scoreboard) -> bool:
    """Red's act finished and the red light node finalized a block with a transaction; the referee holds it too."""
    log = _red_log(folder)
    if "double-spend-pos: act finished at" not in log:
        return False
    carrying = [int(height) for height, count in re.findall(r"finalized height (\d+) \((\d+) transactions\)", log)
                if int(count)]
    return bool(carrying) and board.height >= min(carrying)


@_signature("double-spend-pos", _double_spend_final)
def _one_of_the_two_transfers_is_final(folder: Path, red: dict[str, Any], chain: list[Any],
                                       sim: dict[str, Any]) -> None:
    """The red light node signed two same-nonce transfers of its whole balance to sink-a and sink-b and sent them
    to two validators at once (its log: both sends and both verdicts); exactly one is final on the referee's chain,
    so red's balance moved into its own sink (gained 0, checked by ``_final_teams``). In simulation: one credit on
    every honest node, nothing paid twice."""
    log = _red_log(folder)
    sent = re.findall(r"double-spend-pos sends transaction (\w+) \(nonce 0, fee 0, from \w+\) to (\w+) at ", log)
    answered = re.findall(r"double-spend-pos: (\w+) answered transaction (\w+) .*: (admitted|refused.*)", log)
    assert len(sent) == 2 and len({validator for _tx, validator in sent}) == 2, log
    assert sorted((tx, validator) for validator, tx, _verdict in answered) == sorted(sent), log
    assert "double-spend-pos: to sink-a via " in log and "double-spend-pos: to sink-b via " in log
    (final,) = _red_transfers(folder, chain)
    sinks = {account_key(name).public_key: name for name in ("sink-a", "sink-b")}
    assert final.nonce == 0 and final.body.recipient in sinks and final.body.amount == 1_000_000, final
    assert final.tx_id.hex()[:16] in {tx for tx, _validator in sent}
    assert red["held"] == red["start"] == 1_000_000 and red["slashed"] == 0, red
    assert sim["audit"]["paid_twice"] == 0 and sim["notes"]["amount signed twice"] != "0"
    assert all(node["attacker_holds"] == int(sim["notes"]["amount signed twice"]) and
               node["digest"] != node["replay_digest"] for node in sim["nodes"] if node["role"] == "validator")


FLOOD_VICTIM: dict[Path, tuple[str, int]] = {}
"""Per battle folder: the flooded validator and the last height its log showed when red's flood had been sent."""


def _flood_victim_finalizes(folder: Path, board: Scoreboard) -> bool:
    """Red's flood was sent, and since then the victim validator finalized 3 more heights (its own log)."""
    found = re.search(r"flood: victim: (\w+)", _red_log(folder))
    if found is None or not (heights := _finalized_once_acted(folder, found[1], "flood")):
        return False
    _victim, first = FLOOD_VICTIM.setdefault(folder, (found[1], max(heights)))
    return max(heights) >= first + 3 and board.height >= first + 3


@_signature("flood", _flood_victim_finalizes)
def _the_flooded_validator_keeps_finalizing(folder: Path, red: dict[str, Any], chain: list[Any],
                                            sim: dict[str, Any]) -> None:
    """The red light node sent the whole flood (its log) at a blue validator, which kept finalizing; red gained
    nothing (``_final_teams``) and none of its junk transfers cost it a fee. In simulation: not flooded (the
    defences drop it before signature checks)."""
    log = _red_log(folder)
    assert re.search(r"flood: packets sent: 9020\b", log), log
    assert FLOOD_VICTIM[folder][0].startswith("blue")
    assert red["held"] == red["start"] and red["slashed"] == 0, red
    assert len(chain) >= FLOOD_VICTIM[folder][1] + 3
    assert sim["notes"]["packets sent"] == "9020"


CENSOR_WORKLOAD = 4
"""Declared blue transfers of the censor's battle (blue0 -> blue1 -> blue2 -> blue3 -> blue0: one from the victim)."""
WORKLOADS = {"censor:victim=blue1": CENSOR_WORKLOAD}
"""Per battled behaviour, the honest workload ``a27 battle workload`` sends (every one must be final); none else."""


def _account_of(folder: Path, node: str) -> bytes:
    """The account of battle node ``node`` (its position among its team's declared accounts)."""
    declaration, _referee, members = load_declaration(folder)
    team = next(team for team in declaration.teams if node in members[team.name])
    return team.accounts[members[team.name].index(node)]


@_signature("censor:victim=blue1", lambda _folder, board: board.workload_finalized == CENSOR_WORKLOAD
            and board.height >= 10 and _red(board).blocks_proposed > 0)
def _the_victims_transfers_are_final_in_honest_blocks(folder: Path, red: dict[str, Any], chain: list[Any],
                                                      sim: dict[str, Any]) -> None:
    """Every workload transfer is final (``a27 battle workload``, the scoreboard), the victim blue1's among them, in
    blocks red did not propose; red proposed blocks, and each block its log says it built without a victim's
    transfer was followed by an honest block that holds it. Red gains 0 (``_final_teams``), is not slashed. In
    simulation (victim l0): failed, l0's transfers no more failed than in the replay."""
    victim, red_account = _account_of(folder, "blue1"), _account_of(folder, "red")
    victims = {transaction.tx_id.hex()[:16]: block.header.height for block in chain
               for transaction in block.transactions if transaction.sender == victim}
    assert len(victims) == 1, victims
    assert red["blocks_proposed"] > 0 and red["slashed"] == 0 and not red["detections"], red
    assert not any(transaction.sender == victim for block in chain if block.header.proposer == red_account
                   for transaction in block.transactions)
    assert all(chain[height - 1].header.proposer != red_account for height in victims.values())
    for height, left_out in re.findall(r"censor: \d+ transactions of a victim left out of the block built at height "
                                       r"(\d+): ([\w ]+)", _red_log(folder)):
        assert all(victims[tx_id] > int(height) for tx_id in left_out.split()), (height, left_out, victims)
    assert sim["honest_effect"]["l0: failed transfers"] <= sim["honest_effect"]["l0: failed in the replay"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("behaviour", sorted(SIGNATURES))
def test_a_red_attack_gains_nothing_on_real_nodes(tmp_path: Path, behaviour: str) -> None:
    done, signature = SIGNATURES[behaviour]
    folder = tmp_path / "battle"
    workload = WORKLOADS.get(behaviour, 0)
    with _battle(folder, behaviour, workload):
        if workload:
            sent = subprocess.run([*A27, "battle", "workload", str(folder), "--timeout", "30"], check=False,
                                  capture_output=True, text=True, timeout=90)
            assert sent.returncode == 0 and sent.stdout.count("final at height") == workload, sent
        _wait_until(folder, lambda board: done(folder, board), f"{behaviour}'s defended signature")
    teams = _final_teams(folder, behaviour)
    chain = _honest_chains_agree(folder, 5)
    signature(folder, teams["red"], chain, _simulated(behaviour.partition(":")[0], tmp_path / "simulated"))


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
