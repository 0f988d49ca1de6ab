"""The live scoreboard page in a real headless browser (Debian's chromium): after its script ran, the DOM shows each
team's row with the numbers ``GET /battle/score`` gives, and a screenshot is written."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from ipv8.REST.base_endpoint import BaseEndpoint

from a27_harness.battle.page import BattleEndpoint, live_scoreboard, scoreboard_page
from a27_harness.battle.scoring import BattleDeclaration, Team
from a27_ledger import sign_transfer
from a27_ledger.testing import make_keys
from a27_pos import PREVOTE, Chain, Vote
from a27_pos.testing import extend, make_pos_genesis
from a27_pos.votes import Evidence

KEYS = make_keys(5, seed=43)
GENESIS = make_pos_genesis(KEYS, [10_000] * 4)
DECLARATION = BattleDeclaration(GENESIS.chain_id, (
    Team("blue", "blue", tuple(key.public_key for key in (*KEYS[:3], KEYS[4]))),
    Team("red", "red", (KEYS[3].public_key,), "vote-equivocation")))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chain() -> Chain:
    """Red received 1,234 it was not owed and was slashed for a double vote."""
    chain = Chain.start(GENESIS)
    extend(chain, KEYS[:4], [sign_transfer(KEYS[4], KEYS[3].public_key, 1_234, 0)])
    twins = [Vote(PREVOTE, 1, 0, block_id, KEYS[3].public_key).signed(KEYS[3], GENESIS.chain_id)
             for block_id in (bytes(32), bytes([7]) * 32)]
    extend(chain, KEYS[:4], evidence=[Evidence.from_votes(*twins)])
    return chain


@pytest.fixture
def served() -> Iterator[str]:
    """The endpoint mounted at /battle in a root endpoint, as the referee's REST manager mounts it; its URL."""
    root = BaseEndpoint()
    root.add_endpoint("/battle", BattleEndpoint(live_scoreboard(DECLARATION, GENESIS, _chain())))
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(root.app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/battle"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_the_page_loads_nothing_external() -> None:
    assert not re.search(r"(src|href)=|https?://|@import", scoreboard_page())


@pytest.mark.timeout(60)
def test_score_json_gives_the_scoring_core_numbers(served: str) -> None:
    with urllib.request.urlopen(f"{served}/score", timeout=10) as answer:
        board = json.loads(answer.read())
    red = next(team for team in board["teams"] if team["name"] == "red")
    assert (red["gained"], red["slashed"], len(red["detections"])) == (1_234, 1_000, 1)
    assert red["score"] == 234


@pytest.mark.timeout(90)
@pytest.mark.slow
def test_a_headless_browser_shows_the_json_numbers_and_takes_a_screenshot(served: str, tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y --no-install-recommends chromium)")
    with urllib.request.urlopen(f"{served}/score", timeout=10) as answer:
        board = json.loads(answer.read())
    screenshot = tmp_path / "scoreboard.png"
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
              f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,400", "--virtual-time-budget=5000"]
    dom = subprocess.run([*common, "--dump-dom", served], capture_output=True, text=True, timeout=60, check=True)
    subprocess.run([*common, f"--screenshot={screenshot}", served], capture_output=True, timeout=60, check=True)
    for team in board["teams"]:
        row = re.search(rf'<tr class="{team["side"]}" data-team="{team["name"]}">(.*?)</tr>', dom.stdout)
        assert row is not None, dom.stdout
        cells = dict(re.findall(r'data-column="(\w+)"[^>]*>([^<]*)</td>', row[1]))
        assert cells["gained"] == str(team["gained"]) and cells["slashed"] == str(team["slashed"])
        assert cells["score"] == str(team["score"]) and cells["detections"] == str(len(team["detections"]))
    assert f"at height {board['height']}" in dom.stdout
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 5_000
