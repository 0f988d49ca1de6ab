"""
``a27 battle up | score | down``: a battle of real nodes on this host (BATTLE.md).

``up DIR --team NAME=BEHAVIOUR ...`` (BEHAVIOUR: ``honest``, or ``ATTACK[:PARAM=VALUE[,PARAM=VALUE...]]``, the
parameters of ``a27 attack ATTACK --param PARAM=VALUE``; a value naming a battle node, ``victim=blue1``, becomes that
node's account in the team's ``behaviour_params``) writes the blue validators', each team's and the referee's keys and
node configs (``a27 node init``'s renderer), the genesis (``a27 node genesis``'s), ``battle.toml`` (the declaration),
and starts the processes (``a27_harness.processes``, as ``a27 net`` does). The referee serves the live scoreboard from
its REST API (``[rest] battle``), on loopback. ``score DIR`` prints the scoreboard from the referee's stored chain;
``down DIR`` stops the processes and writes the final report (report.md, report.json, scoreboard.png) into
``DIR/report``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..node.builder import LIGHT, VALIDATOR
from ..node.command import CONFIG_NAME
from ..node.config import (
    HONEST,
    ConfigError,
    RestConfig,
    check_name,
    load_config,
    load_or_create_key,
    render_config,
    render_genesis,
)
from ..processes import NOT_RUNNING, free_ports, running_pid, start_node, stop_processes
from .declaration import DECLARATION_FILE, load_declaration, render_declaration
from .referee import score_folder
from .report import scoreboard_markdown, write_battle_report
from .scoring import BattleDeclaration, BattleError, Team
from .workload import declare_workload, submit_workload

if TYPE_CHECKING:
    from a27_attacks import Attack

REFEREE = "referee"
BLUE = "blue"
BLUE_LIGHT = "blue-light"
"""The blue light nodes' names: blue-light0, blue-light1..."""


def split_behaviour(behaviour: str) -> tuple[str, tuple[str, ...]]:
    """A team's behaviour ``ATTACK[:PARAM=VALUE[,PARAM=VALUE...]]`` (or ``honest``) as its name and its ``PARAM=VALUE``
    texts.

    :raises BattleError: for an empty name, an empty or ``=``-less parameter, or parameters given to ``honest``.
    """
    name, sep, listed = behaviour.partition(":")
    pairs = tuple(pair.strip() for pair in listed.split(",")) if sep else ()
    if not name or any(not pair.partition("=")[0].strip() or "=" not in pair for pair in pairs):
        raise BattleError(f"--team: expected ATTACK[:PARAM=VALUE[,PARAM=VALUE...]] or {HONEST}, got {behaviour!r}")
    if name == HONEST and pairs:
        raise BattleError(f"--team: {HONEST} takes no parameters (the team's own node reads its own config), got "
                          f"{behaviour!r}")
    return name, pairs


def _resolved(pairs: Sequence[str], accounts: dict[str, bytes]) -> tuple[str, ...]:
    """``PARAM=VALUE`` texts with each value that names a battle node (``accounts``: node name -> its account)
    replaced by that account in hex: a node knows other nodes only by key."""
    resolved = []
    for pair in pairs:
        key, _, value = pair.partition("=")
        account = accounts.get(value.strip())
        resolved.append(pair if account is None else f"{key.strip()}={account.hex()}")
    return tuple(resolved)


def _team_attack(behaviour: str) -> Attack | None:
    """The attack a team's node runs (None when honest), with its parameters, checked for a battle: it runs on real
    nodes (``Attack.real_node``), attacks a layer a battle runs (pos, or channels: ``battle_layers``), and needs no
    more than the one bonded validator a battle gives a team (``coalition`` and ``long-range`` need two).

    :raises BattleError: naming the attack and why not.
    """
    name, pairs = split_behaviour(behaviour)
    if name == HONEST:
        return None
    from a27_attacks import AttackError, attack_named  # noqa: PLC0415 - only when a team runs an attack

    try:
        attack = attack_named(name).from_params(list(pairs))
    except AttackError as error:
        raise BattleError(f"--team: {error}") from None
    if not attack.real_node:
        raise BattleError(f"--team: attack {name!r} needs the simulator and runs only in `a27 attack` (BATTLE.md, "
                          "\"Which attacks run on real nodes\")")
    if attack.lab == "ledger":
        raise BattleError(f"--team: attack {name!r} attacks the {attack.lab} lab; a battle runs ledger and pos "
                          "(run it on a network of layers = [\"ledger\"] nodes instead)")
    validators = [node.name for node in attack.attacker_nodes() if node.role == "validator"]
    if len(validators) > 1:
        raise BattleError(f"--team: attack {name!r} needs {len(validators)} bonded attacker validators "
                          f"({', '.join(validators)}) and a battle bonds one per team: no fair fight; run it with "
                          "`a27 node` processes (BATTLE.md, \"Which attacks run on real nodes\")")
    return attack


def battle_layers(teams: Sequence[tuple[str, str]]) -> list[str]:
    """The layers every node of a battle runs: ledger and pos, and channels when a team's attack attacks them."""
    attacks = [_team_attack(behaviour) for _name, behaviour in teams]
    channels = any(attack is not None and attack.lab == "channels" for attack in attacks)
    return ["ledger", "pos", "channels"] if channels else ["ledger", "pos"]


def _check_team(behaviour: str, nodes: Sequence[str]) -> None:
    """Refuse, before anything is written, a team's attack whose parameters do not fit a real node
    (``Attack.check_real_node``), each value naming one of the battle's ``nodes`` standing for that node's account.

    :raises BattleError: as ``_team_attack``, or naming the parameter.
    """
    attack = _team_attack(behaviour)
    if attack is None:
        return
    from a27_attacks import AttackError  # noqa: PLC0415 - only when a team runs an attack

    from ..node.arena import ArenaError, check_identities  # noqa: PLC0415 - the arena loads the attacks

    try:
        type(attack).from_params(list(_resolved(split_behaviour(behaviour)[1], dict.fromkeys(nodes, bytes(32))))
                                 ).check_real_node()
    except AttackError as error:
        raise BattleError(f"--team: {error} (a battle node's name, such as blue1, or blue-light0 with --blue-light, "
                          "stands for its account)") from None
    try:
        check_identities(attack)
    except ArenaError as error:
        raise BattleError(f"--team: {error}") from None


def _team_role(behaviour: str, role: str | None) -> str:
    """The role of a team's node: its attack's first node's role, or ``role`` (default validator) when honest."""
    attack = _team_attack(behaviour)
    return (role or VALIDATOR) if attack is None else attack.attacker_nodes()[0].role


def _attack_accounts(teams: Sequence[tuple[str, str]]) -> dict[str, tuple[bytes, ...]]:
    """Per team, the node-less accounts of its attack (``Attack.accounts``, with the keys ``a27_attacks.account_key``
    gives a real node): the red node pays them, so they count as the team's.

    :raises BattleError: when two teams' attacks pay the same account (its key is derived from its name).
    """
    owners: dict[str, str] = {}
    accounts: dict[str, tuple[bytes, ...]] = {}
    for name, behaviour in teams:
        attack = _team_attack(behaviour)
        if attack is None or not attack.accounts:
            continue
        for account in attack.accounts:
            if account in owners:
                raise BattleError(f"--team: {owners[account]} and {name} both run attacks paying {account} (its key is "
                                  "derived from its name): one such team per battle")
            owners[account] = name
        from a27_attacks import account_key  # noqa: PLC0415 - only when a team runs an attack

        accounts[name] = tuple(account_key(account).public_key for account in attack.accounts)
    return accounts


def set_up_battle(folder: Path, teams: list[tuple[str, str]], *, blue_validators: int, chain_id: str,
                  balance: int, stake: int, base_port: int | None, listen: str = "127.0.0.1",
                  rest_port: int | None = None, workload: int = 0, blue_light: int = 0) -> list[Path]:
    """Write every node's folder, the genesis and battle.toml into ``folder``; the node configs, referee first. The
    referee's config serves the live scoreboard on 127.0.0.1:``rest_port`` (default: a free TCP port); ``workload``
    transfers between the blue accounts are declared (``a27 battle workload`` sends them). ``blue_light`` honest light
    nodes (``blue-light0``...) join the blue team: with channels, the nodes a red hub or cheat opens channels with."""
    if (folder / DECLARATION_FILE).exists():
        raise BattleError(f"{folder / DECLARATION_FILE} exists: a battle is set up there (use another folder)")
    if blue_light < 0:
        raise BattleError(f"--blue-light: expected 0 or more light nodes, got {blue_light}")
    nodes = [(REFEREE, LIGHT, HONEST, "")] + [(f"{BLUE}{index}", VALIDATOR, HONEST, BLUE)
                                              for index in range(blue_validators)]
    nodes += [(f"{BLUE_LIGHT}{index}", LIGHT, HONEST, BLUE) for index in range(blue_light)]
    nodes += [(name, _team_role(behaviour, None), behaviour, name) for name, behaviour in teams]
    layers = battle_layers(teams)
    for _name, behaviour in teams:
        _check_team(behaviour, [node for node, _role, _b, _t in nodes])
    attack_accounts = _attack_accounts(teams)
    folder.mkdir(parents=True, exist_ok=True)  # only once every check passed: a refused battle leaves nothing
    count = len(nodes)
    ports = free_ports(count) if base_port is None else list(range(base_port, base_port + count))
    bootstrap = [f"{listen}:{port}" for (name, role, _b, team), port in zip(nodes, ports, strict=True)
                 if role == VALIDATOR or name == REFEREE or team == BLUE]
    referee_rest = RestConfig("127.0.0.1", rest_port or free_ports(1, socket.SOCK_STREAM)[0],
                              battle=Path("..") / DECLARATION_FILE)
    # Blue light nodes serve their operators a REST API with a key (their channels, invoices and payments).
    rests = {REFEREE: referee_rest} | {
        name: RestConfig("127.0.0.1", rest, secrets.token_urlsafe(24))
        for name, rest in zip([name for name, *_ in nodes if name.startswith(BLUE_LIGHT)],
                              free_ports(blue_light, socket.SOCK_STREAM) if blue_light else [], strict=True)}

    def write_config(name: str, role: str, behaviour: str, port: int, params: Sequence[str]) -> Path:
        attack, _pairs = split_behaviour(behaviour)
        text = render_config(name, role, layers, port, bootstrap, listen=listen, behaviour=attack,
                             behaviour_params=params, rest=rests.get(name))
        path = folder / name / CONFIG_NAME
        # Mode 0600 (as `a27 node init` writes it): a blue light node's config holds its REST API key.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
            handle.write(text)
        return path

    configs = []
    for (name, role, behaviour, _team), port in zip(nodes, ports, strict=True):
        (folder / name).mkdir(parents=True, exist_ok=False)
        configs.append(write_config(name, role, behaviour, port, ()))
    loaded = [(load_config(path), load_or_create_key(load_config(path).key_file)) for path in configs]
    # A node knows other nodes only by key: now that every key exists, parameters naming a node get its account.
    accounts = {name: key.public_key for (name, _r, _b, _t), (_config, key) in zip(nodes, loaded, strict=True)}
    for (name, role, behaviour, _team), port in zip(nodes, ports, strict=True):
        if params := _resolved(split_behaviour(behaviour)[1], accounts):
            write_config(name, role, behaviour, port, params)
    (folder / "genesis.toml").write_text(render_genesis(chain_id, loaded, balance, stake), encoding="utf-8")
    by_team: dict[str, list[tuple[str, bytes]]] = {}
    for (name, _role, _behaviour, team), (_config, key) in zip(nodes, loaded, strict=True):
        if team:
            by_team.setdefault(team, []).append((name, key.public_key))
    declared = [Team(BLUE, "blue", tuple(key for _n, key in by_team[BLUE]))] if BLUE in by_team else []
    declared += [Team(name, "red", (*(key for _n, key in by_team[name]), *attack_accounts.get(name, ())), behaviour)
                 for name, behaviour in teams]
    blue = [(name, key) for name, key in by_team.get(BLUE, []) if not name.startswith(BLUE_LIGHT)]
    declaration = BattleDeclaration(chain_id, tuple(declared), declare_workload([key for _n, key in blue], workload))
    (folder / DECLARATION_FILE).write_text(render_declaration(
        declaration, REFEREE, {team: tuple(name for name, _key in members) for team, members in by_team.items()}),
        encoding="utf-8")
    return configs


def battle_configs(folder: Path) -> list[Path]:
    """The node configs of the battle in ``folder``: the referee's, then each team's nodes."""
    _declaration, referee, nodes = load_declaration(folder)
    names = [referee, *(name for team_nodes in nodes.values() for name in team_nodes)]
    return [folder / name / CONFIG_NAME for name in names]


def _team(text: str) -> tuple[str, str]:
    name, _, behaviour = text.partition("=")
    try:
        check_name("--team NAME", name)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if name in (REFEREE, BLUE) or name.startswith(BLUE) or not behaviour:
        raise argparse.ArgumentTypeError(f"expected NAME=BEHAVIOUR with NAME not {REFEREE!r} or {BLUE}*, got {text!r}")
    try:
        split_behaviour(behaviour)
    except BattleError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--team: ")) from None
    return name, behaviour


def _up(arguments: argparse.Namespace) -> int:
    folder = Path(arguments.directory).resolve()
    configs = set_up_battle(folder, arguments.team or [], blue_validators=arguments.blue_validators,
                            chain_id=arguments.chain_id, balance=arguments.balance, stake=arguments.stake,
                            base_port=arguments.base_port, listen=arguments.listen, rest_port=arguments.rest_port,
                            workload=arguments.workload, blue_light=arguments.blue_light)
    team_names = {name for name, _behaviour in arguments.team or []}
    started = [start_node(config.parent) for config in configs
               if not (arguments.teams_elsewhere and config.parent.name in team_names)]
    rest = load_config(configs[0]).rest
    assert rest is not None  # set_up_battle gives the referee its [rest] table
    print(f"{folder}: battle up, {len(started)} node processes (logs in each node's node.log); "
          f"`a27 battle score {arguments.directory}` for the scoreboard")
    print(f"live scoreboard: {rest.url}/battle")
    return 0


def _workload(arguments: argparse.Namespace) -> int:
    failed = submit_workload(Path(arguments.directory), float(arguments.timeout), print)
    if failed:
        print(f"a27 battle workload: {failed} declared transfers not final", file=sys.stderr)
    return 1 if failed else 0


def _score(arguments: argparse.Namespace) -> int:
    board = score_folder(Path(arguments.directory))
    if arguments.json:
        print(json.dumps(board.to_dict(), indent=2, sort_keys=True))
    else:
        print(scoreboard_markdown(board), end="")
    return 0


def _down(arguments: argparse.Namespace) -> int:
    folder = Path(arguments.directory)
    folders = [config.parent for config in battle_configs(folder)]
    pids = {node: running_pid(node) for node in folders}
    for node, ended in stop_processes(folders).items():
        print(f"{node.name}: {ended}" + ("" if ended == NOT_RUNNING else f" (pid {pids[node]})"))
    board = score_folder(folder)
    out = Path(arguments.out) if arguments.out else folder / "report"
    path = write_battle_report(board, out, arguments.argv if hasattr(arguments, "argv") else None,
                               {"battle": DECLARATION_FILE, "height": board.height})
    print(f"report: {path} (and report.json, scoreboard.png)")
    return 0


def add_battle_parser(commands: argparse._SubParsersAction) -> None:
    """Add ``battle`` and its commands (up, workload, score, down) to the ``a27`` command's subcommands."""
    battle = commands.add_parser("battle", help="a red/blue battle of real nodes with a referee (BATTLE.md)",
                                 description="Set up, score and stop a battle of real nodes on this host.")
    kinds = battle.add_subparsers(dest="battle_command", required=True)
    up = kinds.add_parser("up", help="write every node's config, key and the genesis, and start the nodes")
    up.add_argument("directory", metavar="DIR", help="the battle's folder (must not hold a battle)")
    up.add_argument("--team", type=_team, action="append", metavar="NAME=BEHAVIOUR",
                    help="a red team: its name and honest (its own node) or an attack (`a27 attack --list`) with "
                         "its parameters as ATTACK[:PARAM=VALUE[,PARAM=VALUE...]], as `a27 attack ATTACK --param "
                         "PARAM=VALUE` takes them; a value naming a battle node (victim=blue1) becomes its account")
    up.add_argument("--blue-validators", type=int, default=4, help="blue validators (default 4)")
    up.add_argument("--blue-light", type=int, default=0, metavar="N",
                    help="blue light nodes blue-light0... (default 0): with a channel attack, its victims")
    up.add_argument("--chain-id", default="a27-battle", help="the chain id (default a27-battle)")
    up.add_argument("--balance", type=int, default=1_000_000, help="each account's balance (default 1000000)")
    up.add_argument("--stake", type=int, default=100_000, help="each validator's stake (default 100000)")
    up.add_argument("--base-port", type=int, help="first UDP port, then one per node (default: free ports)")
    up.add_argument("--listen", default="127.0.0.1",
                    help="the IPv4 address the nodes listen on and bootstrap to (default 127.0.0.1; in a classroom "
                         "the referee host's LAN address)")
    up.add_argument("--rest-port", type=int, metavar="PORT",
                    help="the referee's REST API and live scoreboard port on 127.0.0.1 (default: a free TCP port)")
    up.add_argument("--workload", type=int, default=0, metavar="N",
                    help="declare N honest transfers between the blue accounts in battle.toml (default 0); "
                         "`a27 battle workload DIR` sends them")
    up.add_argument("--teams-elsewhere", action="store_true",
                    help="write the teams' folders but start only the referee and blue (classroom: each team runs "
                         "its node on its own host)")
    up.set_defaults(battle_handler=_up)
    workload = kinds.add_parser("workload", help="send the declared honest workload through the referee's REST API")
    workload.add_argument("directory", metavar="DIR", help="the battle's folder")
    workload.add_argument("--timeout", type=int, default=60, help="seconds each transfer may take (default 60)")
    workload.set_defaults(battle_handler=_workload)
    score = kinds.add_parser("score", help="print the scoreboard from the referee's stored chain")
    score.add_argument("directory", metavar="DIR", help="the battle's folder")
    score.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    score.set_defaults(battle_handler=_score)
    down = kinds.add_parser("down", help="stop the nodes and write the final report")
    down.add_argument("directory", metavar="DIR", help="the battle's folder")
    down.add_argument("--out", metavar="DIR", help="report folder (default DIR/report)")
    down.set_defaults(battle_handler=_down)
    battle.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """Run the ``a27 battle`` command parsed into ``arguments``; a bad battle is one line on stderr and exit 2."""
    try:
        return int(arguments.battle_handler(arguments))
    except (BattleError, ConfigError, OSError) as error:
        print(f"a27 battle {arguments.battle_command}: {error}", file=sys.stderr)
        return 2
