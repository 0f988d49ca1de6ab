"""``a27 battle up``'s folder writer and ``battle.toml``: what it writes reads back; mistakes are one clear error."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from a27_attacks import account_key
from a27_harness.battle.command import battle_configs, set_up_battle
from a27_harness.battle.declaration import DECLARATION_FILE, load_declaration
from a27_harness.battle.referee import snapshot_database
from a27_harness.battle.scoring import BattleError
from a27_harness.battle.workload import declare_workload
from a27_harness.cli import main
from a27_harness.node.config import load_config, load_genesis, load_or_create_key


def _up(folder: Path, teams: list[tuple[str, str]]) -> list[Path]:
    return set_up_battle(folder, teams, blue_validators=4, chain_id="a27-battle", balance=1_000, stake=100_000,
                         base_port=9100)


def test_up_writes_every_node_the_genesis_and_a_declaration_that_reads_back(tmp_path: Path) -> None:
    configs = _up(tmp_path, [("red", "vote-equivocation"), ("eve", "honest")])
    assert [path.parent.name for path in configs] == ["referee", "blue0", "blue1", "blue2", "blue3", "red", "eve"]
    assert battle_configs(tmp_path) == configs
    declaration, referee, nodes = load_declaration(tmp_path)
    assert referee == "referee" and nodes == {"blue": ("blue0", "blue1", "blue2", "blue3"), "red": ("red",),
                                              "eve": ("eve",)}
    red = load_config(tmp_path / "red" / "node.toml")
    assert (red.role, red.behaviour, red.port) == ("validator", "vote-equivocation", 9105)
    assert load_config(tmp_path / "referee" / "node.toml").role == "light"
    genesis = load_genesis(tmp_path / "genesis.toml")
    stakes = dict(genesis.stakes)
    assert all(stakes[key] == 100_000 for team in declaration.teams for key in team.accounts)
    assert [team.side for team in declaration.teams] == ["blue", "red", "red"]


def test_up_refuses_a_folder_holding_a_battle_and_an_unknown_attack(tmp_path: Path, simulation_only: str) -> None:
    _up(tmp_path / "one", [("red", "honest")])
    with pytest.raises(BattleError, match="a battle is set up there"):
        _up(tmp_path / "one", [("red", "honest")])
    with pytest.raises(BattleError, match="no-such-attack"):
        _up(tmp_path / "two", [("red", "no-such-attack")])
    with pytest.raises(BattleError, match=f"attack '{simulation_only}' needs the simulator"):
        _up(tmp_path / "three", [("red", simulation_only)])
    # Two bonded attacker validators are no fair fight for a battle, which bonds one per team.
    for attack, nodes in (("coalition", "a0, a1"), ("long-range", "a0, a1")):
        with pytest.raises(BattleError, match=rf"^--team: attack '{attack}' needs 2 bonded attacker validators "
                                              rf"\({nodes}\) and a battle bonds one per team"):
            _up(tmp_path / "three", [("red", attack)])
    with pytest.raises(BattleError, match=r"--team: censor: on a real node victim must be an account .*, got 'l0' "
                                          r"\(a battle node's name, such as blue1, or blue-light0 with --blue-light, "
                                          r"stands for its account\)$"):
        _up(tmp_path / "three", [("red", "censor")])
    with pytest.raises(BattleError, match="got 'nobody'"):
        _up(tmp_path / "three", [("red", "censor:victim=nobody")])
    with pytest.raises(BattleError, match=r"--team: censor: unknown parameter 'victims=blue1' \(expected NAME=VALUE; "
                                          r"parameters: victim, stake_share, min_delay\)"):
        _up(tmp_path / "three", [("red", "censor:victims=blue1")])
    with pytest.raises(BattleError, match=r"^--team: attack 'sybil' has 33 attacker nodes; one node process hosts at "
                                          r"most 32 \(itself and its identities\)$"):
        _up(tmp_path / "three", [("red", "sybil:sybils=33")])
    with pytest.raises(BattleError, match=r"^--team: eclipse: victim is the simulator's"):
        _up(tmp_path / "three", [("red", "eclipse:victim=1")])
    with pytest.raises(BattleError, match="attack 'double-spend-lab1' attacks the ledger lab; a battle runs ledger "
                                          "and pos"):
        _up(tmp_path / "three", [("red", "double-spend-lab1")])
    with pytest.raises(BattleError, match="red1 and red2 both run attacks paying sink-a"):
        _up(tmp_path / "three", [("red1", "double-spend-pos"), ("red2", "invalid-block")])
    assert not (tmp_path / "three").exists()  # a refused battle leaves no folder behind


def test_a_light_red_team_owns_its_node_and_the_accounts_its_attack_pays(tmp_path: Path) -> None:
    _up(tmp_path, [("red", "double-spend-pos")])
    declaration, _referee, _nodes = load_declaration(tmp_path)
    red = load_config(tmp_path / "red" / "node.toml")
    assert (red.role, red.behaviour) == ("light", "double-spend-pos")
    key = load_or_create_key(red.key_file).public_key
    (team,) = (team for team in declaration.teams if team.name == "red")
    assert team.accounts == (key, account_key("sink-a").public_key, account_key("sink-b").public_key,
                             account_key("onward-a").public_key, account_key("onward-b").public_key)
    genesis = load_genesis(tmp_path / "genesis.toml")
    assert genesis.ledger.balances[key] == 1_000 and key not in dict(genesis.stakes)


def test_a_channel_attack_runs_every_node_with_channels_and_blue_light_nodes_as_victims(tmp_path: Path) -> None:
    team = ("red", "superseded-state:victim_account=blue-light0,victim_offline=false")
    configs = set_up_battle(tmp_path, [team], blue_validators=4, chain_id="a27-battle", balance=1_000, stake=100_000,
                            base_port=9100, blue_light=2, workload=2)
    names = [path.parent.name for path in configs]
    assert names == ["referee", "blue0", "blue1", "blue2", "blue3", "blue-light0", "blue-light1", "red"]
    loaded = {path.parent.name: load_config(path) for path in configs}
    assert {config.layers for config in loaded.values()} == {("ledger", "pos", "channels")}
    assert [loaded[name].role for name in ("blue-light0", "blue-light1", "red")] == ["light"] * 3
    victim = load_or_create_key(loaded["blue-light0"].key_file).public_key
    assert loaded["red"].behaviour_params == (f"victim_account={victim.hex()}", "victim_offline=false")
    assert ("127.0.0.1", 9105) in loaded["red"].bootstrap  # red meets the blue light nodes directly
    # Their operators reach them through a REST API with a key (channels, invoices, payments), in a 0600 config.
    rests = [loaded[name].rest for name in ("blue-light0", "blue-light1")]
    assert all(rest is not None and rest.address == "127.0.0.1" and rest.api_key for rest in rests)
    assert (tmp_path / "blue-light0" / "node.toml").stat().st_mode & 0o777 == 0o600
    assert loaded["red"].rest is None and loaded["blue0"].rest is None
    declaration, _referee, nodes = load_declaration(tmp_path)
    assert nodes["blue"] == ("blue0", "blue1", "blue2", "blue3", "blue-light0", "blue-light1")
    assert victim in declaration.teams[0].accounts
    validators = {key for key, _stake in load_genesis(tmp_path / "genesis.toml").stakes}
    assert all({transfer.sender, transfer.recipient} <= validators for transfer in declaration.workload)
    # Without a channel attack the nodes run ledger and pos, as before.
    plain = _up(tmp_path / "plain", [("red", "vote-equivocation")])
    assert {load_config(path).layers for path in plain} == {("ledger", "pos")}
    with pytest.raises(BattleError, match="--blue-light: expected 0 or more light nodes, got -1"):
        set_up_battle(tmp_path / "bad", [], blue_validators=4, chain_id="c", balance=1, stake=1, base_port=None,
                      blue_light=-1)


@pytest.mark.parametrize(("text", "message"), [
    ("chain_id = 'c'\nreferee = 'r'\nteams = 3\n", "expected \\[\\[teams\\]\\] tables"),
    ("chain_id = 'c'\nreferee = 'r'\nsurprise = 1\n", "unknown key 'surprise'"),
    ("chain_id = 'c'\nreferee = 'r'\n[[teams]]\nname = 'x'\nside = 'red'\npublic_keys = ['zz']\n", "64 hex"),
    ("chain_id = 'c'\nreferee = 'r'\n[[teams]]\nname = 'x'\nside = 'red'\npublic_keys = ['" + "ab" * 32 + "']\n"
     "[[workload]]\nsender = '" + "ab" * 32 + "'\nrecipient = '" + "cd" * 32 + "'\namount = -5\n", "amount"),
    ("chain_id = 'c'\nreferee = 'r'\n[[teams]]\nname = 'x'\nside = 'red'\npublic_keys = ['" + "ab" * 32 + "']\n"
     "[[workload]]\nsender = '" + "ab" * 32 + "'\nrecipient = '" + "cd" * 32 + "'\namount = 5\nat = nan\n", "at"),
    ("not toml [", "not valid TOML"),
])
def test_a_bad_declaration_file_is_one_error_naming_the_field(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / DECLARATION_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(BattleError, match=message):
        load_declaration(tmp_path)


def test_up_declares_the_honest_workload_round_the_blue_accounts(tmp_path: Path) -> None:
    set_up_battle(tmp_path, [("red", "honest")], blue_validators=3, chain_id="a27-battle", balance=1_000,
                  stake=100_000, base_port=9100, workload=4)
    declaration, _referee, _nodes = load_declaration(tmp_path)
    blue = declaration.teams[0].accounts
    assert [(transfer.sender, transfer.recipient, transfer.amount, transfer.at) for transfer in declaration.workload] \
        == [(blue[0], blue[1], 1_000, 0.0), (blue[1], blue[2], 1_000, 1.0), (blue[2], blue[0], 1_000, 2.0),
            (blue[0], blue[1], 1_000, 3.0)]
    with pytest.raises(BattleError, match="needs 2 or more"):
        declare_workload(blue[:1], 1)
    assert declare_workload(blue[:1], 0) == ()


def test_the_referee_databases_are_read_from_a_consistent_copy_and_never_written(tmp_path: Path) -> None:
    # `a27 battle score` runs while the referee writes: it copies each database with SQLite's online backup, from a
    # read-only connection, so it sees only committed rows and leaves the referee's file as it was.
    source = tmp_path / "referee.db"
    writer = sqlite3.connect(source)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE blocks (height INTEGER)")
    writer.execute("INSERT INTO blocks VALUES (1)")
    writer.commit()
    writer.execute("BEGIN")
    writer.execute("INSERT INTO blocks VALUES (2)")  # a commit under way in the referee
    before = source.read_bytes()
    copy = snapshot_database(source, tmp_path / "copy.db")
    with contextlib.closing(sqlite3.connect(copy)) as reader:
        assert reader.execute("SELECT height FROM blocks").fetchall() == [(1,)]
    assert source.read_bytes() == before
    writer.commit()
    writer.close()


def test_a_teams_parameters_naming_a_node_become_its_account_in_the_node_config(tmp_path: Path) -> None:
    _up(tmp_path, [("red", "censor:victim=blue1,min_delay=5"), ("eve", "censor:victim=red")])
    declaration, _referee, _nodes = load_declaration(tmp_path)
    assert [team.behaviour for team in declaration.teams] == ["honest", "censor:victim=blue1,min_delay=5",
                                                              "censor:victim=red"]
    keys = {name: load_or_create_key(load_config(tmp_path / name / "node.toml").key_file).public_key
            for name in ("blue1", "red")}
    red, eve = (load_config(tmp_path / name / "node.toml") for name in ("red", "eve"))
    assert (red.role, red.behaviour, red.behaviour_params) == ("validator", "censor",
                                                               (f"victim={keys['blue1'].hex()}", "min_delay=5"))
    assert eve.behaviour_params == (f"victim={keys['red'].hex()}",)
    # An account given in hex is kept as it is.
    account = "ab" * 32
    _up(tmp_path / "hex", [("red", f"censor:victim={account}")])
    assert load_config(tmp_path / "hex" / "red" / "node.toml").behaviour_params == (f"victim={account}",)


@pytest.mark.parametrize(("team", "message"), [
    ("red=censor:", "expected ATTACK[:PARAM=VALUE[,PARAM=VALUE...]] or honest, got 'censor:'"),
    ("red=censor:victim", "expected ATTACK[:PARAM=VALUE[,PARAM=VALUE...]] or honest, got 'censor:victim'"),
    ("red=censor:victim=blue1,", "got 'censor:victim=blue1,'"),
    ("red=censor:=blue1", "got 'censor:=blue1'"),
    ("red=:victim=blue1", "got ':victim=blue1'"),
    ("red=honest:stake=1", "honest takes no parameters"),
])
def test_a_malformed_team_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], team: str,
                                                  message: str) -> None:
    try:
        code = main(["battle", "up", str(tmp_path / "battle"), "--team", team])
    except SystemExit as error:  # argparse's errors exit through SystemExit
        code = error.code  # type: ignore[assignment]
    assert code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error, error
    assert not (tmp_path / "battle").exists()
