"""
The battle folder's declaration file, ``battle.toml``: the chain id, the referee's node folder, the teams (name, side,
behaviour, node folders, public keys) and the honest workload. ``a27 battle up`` writes it; the referee reads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..node.config import ConfigError, check_name, read_toml
from .scoring import BattleDeclaration, BattleError, ScheduledTransfer, Team

DECLARATION_FILE = "battle.toml"
TOP_KEYS = ("chain_id", "referee", "teams", "workload")
TEAM_KEYS = ("name", "side", "behaviour", "nodes", "public_keys")
WORKLOAD_KEYS = ("sender", "recipient", "amount", "at")


def _key(where: str, text: object) -> bytes:
    if not isinstance(text, str) or len(text) != 64:
        raise BattleError(f"{where}: expected 64 hex characters, got {text!r}")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise BattleError(f"{where}: not hex: {text!r}") from None


def _table_list(where: str, value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(table, dict) for table in value):
        raise BattleError(f"{where}: expected [[{where}]] tables")
    return value


def _unknown(where: str, table: dict[str, Any], known: tuple[str, ...]) -> None:
    for key in table:
        if key not in known:
            raise BattleError(f"{where}: unknown key {key!r}; keys are {', '.join(known)}")


def load_declaration(folder: Path, name: str = DECLARATION_FILE) -> tuple[BattleDeclaration, str,
                                                                         dict[str, tuple[str, ...]]]:
    """
    Read ``folder/battle.toml`` (or ``folder/NAME``): the declaration, the referee's node folder name and each team's
    node folders.

    :raises BattleError: for an unreadable file or any field that is missing, unknown or malformed.
    """
    try:
        document = read_toml(folder / name, "battle declaration")
    except ConfigError as error:
        raise BattleError(str(error)) from None
    _unknown("battle.toml", document, TOP_KEYS)
    chain_id, referee = document.get("chain_id"), document.get("referee")
    if not isinstance(chain_id, str) or not chain_id:
        raise BattleError(f"chain_id: expected a non-empty string, got {chain_id!r}")
    try:
        referee = check_name("referee", referee)
    except ConfigError as error:
        raise BattleError(str(error)) from None
    teams, nodes = [], {}
    for index, table in enumerate(_table_list("teams", document.get("teams"))):
        where = f"teams[{index}]"
        _unknown(where, table, TEAM_KEYS)
        keys = table.get("public_keys")
        team_nodes = table.get("nodes", [])
        if not isinstance(keys, list) or not isinstance(team_nodes, list):
            raise BattleError(f"{where}: public_keys and nodes must be lists")
        team = Team(table.get("name"), table.get("side"),  # type: ignore[arg-type]
                    tuple(_key(f"{where}.public_keys[{number}]", text) for number, text in enumerate(keys)),
                    table.get("behaviour", "honest"))
        try:
            nodes[team.name] = tuple(check_name(f"{where}.nodes", name) for name in team_nodes)
        except ConfigError as error:
            raise BattleError(str(error)) from None
        teams.append(team)
    workload = []
    for index, table in enumerate(_table_list("workload", document.get("workload", []))):
        where = f"workload[{index}]"
        _unknown(where, table, WORKLOAD_KEYS)
        at = table.get("at", 0.0)
        if type(at) not in (int, float) or not 0 <= at < 1e9:
            raise BattleError(f"{where}.at: expected seconds from 0, got {at!r}")
        workload.append(ScheduledTransfer(_key(f"{where}.sender", table.get("sender")),
                                          _key(f"{where}.recipient", table.get("recipient")),
                                          table.get("amount"), float(at)))  # type: ignore[arg-type]
    return BattleDeclaration(chain_id, tuple(teams), tuple(workload)), referee, nodes


def render_declaration(declaration: BattleDeclaration, referee: str, nodes: dict[str, tuple[str, ...]]) -> str:
    """The ``battle.toml`` text for ``declaration`` (read back by ``load_declaration``)."""
    lines = ["# a27 battle declaration (BATTLE.md): written by `a27 battle up`, read by the referee's scoring.",
             "# Add the honest workload as [[workload]] tables (sender, recipient, amount, at) before the battle.",
             f"chain_id = {json.dumps(declaration.chain_id)}", f"referee = {json.dumps(referee)}"]
    for team in declaration.teams:
        lines += ["", "[[teams]]", f"name = {json.dumps(team.name)}", f"side = {json.dumps(team.side)}",
                  f"behaviour = {json.dumps(team.behaviour)}", f"nodes = {json.dumps(list(nodes.get(team.name, ())))}",
                  f"public_keys = {json.dumps([account.hex() for account in team.accounts])}"]
    for transfer in declaration.workload:
        lines += ["", "[[workload]]", f'sender = "{transfer.sender.hex()}"',
                  f'recipient = "{transfer.recipient.hex()}"', f"amount = {transfer.amount}", f"at = {transfer.at!r}"]
    return "\n".join(lines) + "\n"
