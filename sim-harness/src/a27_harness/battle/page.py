"""
The live scoreboard, served by the referee's REST server: ``GET /battle`` is an HTML page whose small inline script
polls ``GET /battle/score`` (the scoreboard as JSON, from the scoring core over the referee's live chain) every
``POLL_SECONDS`` and redraws the table. The page loads nothing from anywhere else.

Mount it in an IPv8 REST manager's root endpoint: ``root.add_endpoint("/battle", BattleEndpoint(source))``; a node
whose config's ``[rest]`` table names a declaration (``battle = "../battle.toml"``, written by ``a27 battle up`` for
the referee) mounts it over its own chain (``load_battle`` then ``battle_endpoint``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from aiohttp import web
from ipv8.REST.base_endpoint import BaseEndpoint, Response

from a27_pos import PosGenesis

from .declaration import load_declaration
from .scoring import BattleDeclaration, BattleError, FinalizedChain, Scoreboard, score_battle

POLL_SECONDS = 2.0
COLUMNS = ("name", "side", "behaviour", "gained", "slashed", "score", "blocks_proposed", "detections")
"""The scoreboard page's columns: fields of a team's row in the JSON (``detections`` shown as a count)."""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>a27 battle scoreboard</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }} table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #999; padding: 0.3em 0.8em; }} td.number {{ text-align: right; }}
tr.red {{ background: #fdd; }} tr.blue {{ background: #ddf; }}
</style></head>
<body><h1>a27 battle scoreboard</h1>
<p id="status">waiting for the referee's first answer</p>
<table><thead><tr>{headers}</tr></thead><tbody id="scoreboard"></tbody></table>
<script>
const columns = {columns};
async function refresh() {{
  try {{
    const answer = await fetch(location.pathname.replace(/\\/$/, "") + "/score", {{cache: "no-store"}});
    const board = await answer.json();
    const body = document.getElementById("scoreboard");
    body.replaceChildren(...board.teams.map(team => {{
      const row = document.createElement("tr");
      row.className = team.side;
      row.dataset.team = team.name;
      for (const column of columns) {{
        const cell = document.createElement("td");
        const value = column === "detections" ? team.detections.length : team[column];
        cell.textContent = String(value);
        cell.dataset.column = column;
        if (typeof value === "number") cell.className = "number";
        row.appendChild(cell);
      }}
      return row;
    }}));
    document.getElementById("status").textContent =
      `chain ${{board.chain_id}} at height ${{board.height}}; accounts of no team gained ${{board.unowned_gained}}`;
  }} catch (error) {{
    document.getElementById("status").textContent = `referee unreachable: ${{error}}`;
  }}
}}
refresh();
setInterval(refresh, {poll_ms});
</script></body></html>
"""


def scoreboard_page() -> str:
    """The HTML of ``GET /battle``."""
    return PAGE.format(headers="".join(f"<th>{column.replace('_', ' ')}</th>" for column in COLUMNS),
                       columns=json.dumps(list(COLUMNS)), poll_ms=int(POLL_SECONDS * 1000))


def live_scoreboard(declaration: BattleDeclaration, genesis: PosGenesis,
                    chain: FinalizedChain) -> Callable[[], Scoreboard]:
    """A source of the scoreboard over a running node's chain, recomputed only when the chain has grown."""
    kept: dict[int, Scoreboard] = {}

    def current() -> Scoreboard:
        height = chain.height
        if height not in kept:
            kept.clear()
            kept[height] = score_battle(declaration, genesis, chain)
        return kept[height]

    return current


class BattleEndpoint(BaseEndpoint[Any]):
    """``GET /battle`` (the live page) and ``GET /battle/score`` (the scoreboard JSON) of the referee's REST API."""

    def __init__(self, scoreboard: Callable[[], Scoreboard], middlewares: Iterable[Any] = ()) -> None:
        """Serve the scoreboard ``scoreboard()`` returns (``live_scoreboard`` over the referee's chain)."""
        self._scoreboard = scoreboard
        super().__init__(middlewares)

    def setup_routes(self) -> None:
        """The page and the JSON."""
        self.app.add_routes([web.get("", self.page), web.get("/score", self.score)])

    async def page(self, _request: web.Request) -> web.Response:
        """The HTML page."""
        return Response(scoreboard_page(), content_type="text/html")

    async def score(self, _request: web.Request) -> web.Response:
        """The scoreboard as JSON."""
        return Response(self._scoreboard().to_dict())


def load_battle(path: Path, genesis: PosGenesis) -> BattleDeclaration:
    """
    The declaration in ``path`` that a node of the network of ``genesis`` serves the scoreboard of.

    :raises BattleError: for a bad declaration, or one of another chain than the genesis's.
    """
    declaration, _referee, _nodes = load_declaration(path.parent, path.name)
    if declaration.chain_id != genesis.chain_id:
        raise BattleError(f"{path}: chain_id {declaration.chain_id!r} is not the genesis's {genesis.chain_id!r}")
    return declaration


def battle_endpoint(declaration: BattleDeclaration, genesis: PosGenesis, chain: FinalizedChain) -> BattleEndpoint:
    """The ``/battle`` endpoint of a running node: the live scoreboard of ``declaration`` over its ``chain``."""
    return BattleEndpoint(live_scoreboard(declaration, genesis, chain))
