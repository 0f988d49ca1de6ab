"""A node config's ``[defences]`` table: checked names, written commented by ``a27 node init``, applied to the node."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from a27_harness.entry import main
from a27_harness.node.config import ConfigError, load_config, load_or_create_key, render_config, render_genesis
from a27_harness.node.process import prepare
from a27_ledger import PeerDefences
from a27_pos import PosDefences


def _node(tmp_path: Path, defences: str | None = None, layers: tuple[str, ...] = ("ledger", "pos")) -> Path:
    folder = tmp_path / "v0"
    folder.mkdir()
    config = folder / "node.toml"
    text = render_config("v0", "validator", list(layers), 9000, ["127.0.0.1:9001"])
    if defences is not None:
        text = text.replace("\noff = []\n", f"\noff = {defences}\n")
    config.write_text(text, encoding="utf-8")
    return config


def _with_genesis(tmp_path: Path, config: Path) -> Path:
    loaded = load_config(config)
    nodes = [(loaded, load_or_create_key(loaded.key_file))]
    (tmp_path / "genesis.toml").write_text(render_genesis("a27-test", nodes, 1_000, 100_000), encoding="utf-8")
    return config


def test_the_written_config_explains_the_table_and_switches_nothing_off(tmp_path: Path) -> None:
    path = _with_genesis(tmp_path, _node(tmp_path))
    text = path.read_text(encoding="utf-8")
    assert "[defences]" in text
    assert "a27 attack --without" in text
    config = load_config(path)
    assert config.defences_off == ()
    assert prepare(config)[2] == {"pos": {"validator": True}}


def test_defences_listed_off_reach_the_layers_settings_and_the_rest_stay_on(tmp_path: Path) -> None:
    path = _with_genesis(tmp_path, _node(tmp_path, '["pos.checkpoints", "peers.rate_limit", "pos.checkpoints"]'))
    config = load_config(path)
    assert config.defences_off == ("pos.checkpoints", "peers.rate_limit")
    _spec, _genesis, settings = prepare(config)
    assert settings["pos"]["validator"] is True
    assert settings["pos"]["defences"] == PosDefences(checkpoints=False)
    assert settings["pos"]["peer_defences"] == PeerDefences(rate_limit=False)
    assert attrs.asdict(settings["pos"]["defences"]) == {**attrs.asdict(PosDefences()), "checkpoints": False}
    assert "ledger" not in settings  # a PoS node's ledger has no community of its own: the PoS one carries them


@pytest.mark.parametrize(("value", "message"), [
    ('["pos.nosuch"]', r"\[defences\] off\[0\]: unknown defence 'pos.nosuch': the pos layer has no such defence "),
    ('["checkpoints"]', r"\[defences\] off\[0\]: unknown defence 'checkpoints': no defence layer 'checkpoints'"),
    ('"pos.checkpoints"', r"\[defences\] off: expected a list of strings, got 'pos.checkpoints'"),
    ("[1]", r"\[defences\] off: expected a list of strings"),
])
def test_a_bad_defence_name_is_refused_naming_the_setting(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_node(tmp_path, value))


def test_an_unknown_key_of_the_table_is_refused(tmp_path: Path) -> None:
    path = _node(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("\noff = []\n", '\nof = ["pos.checkpoints"]\n'),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[defences\]: unknown key 'of'; keys are off"):
        load_config(path)


def test_a_node_run_with_an_unknown_defence_prints_one_line_and_exits_2(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = _node(tmp_path, '["peers.nosuch"]')
    assert main(["node", "run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("a27 node run: [defences] off[0]: unknown defence 'peers.nosuch'"), err
    assert err.count("\n") == 1


def test_switching_a_defence_off_loads_neither_the_simulator_nor_the_attack_runner(tmp_path: Path) -> None:
    path = _with_genesis(tmp_path, _node(tmp_path, '["pos.checkpoints"]'))
    code = (f"import sys, json\nfrom a27_harness.node.config import load_config\n"
            f"from a27_harness.node.process import prepare\nprepare(load_config({str(path)!r}))\n"
            "print(json.dumps(sorted(name for name in ('a27_netsim', 'a27_harness.attacks.runner', 'a27_harness.labs',"
            " 'matplotlib') if name in sys.modules)))")
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(finished.stdout) == []
