"""The ``[rest]`` config table, ``a27 node genesis --fund``, and the argument errors of ``a27 wallet`` and ``net``."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from a27_harness.entry import main
from a27_harness.node.config import ConfigError, check_rest, load_config, load_genesis
from a27_ledger import KeyPair


def _node(tmp_path: Path, *options: str) -> Path:
    assert main(["node", "init", str(tmp_path / "n"), "--port", "9555", *options]) == 0
    return tmp_path / "n" / "node.toml"


def test_init_writes_a_private_config_whose_rest_table_is_off_unless_a_port_is_given(tmp_path: Path) -> None:
    off = _node(tmp_path)
    assert stat.S_IMODE(off.stat().st_mode) == 0o600
    assert load_config(off).rest is None
    assert "# [rest]" in off.read_text(encoding="utf-8")
    on = load_config(_node(tmp_path / "on", "--rest-port", "8123"))
    assert on.rest is not None and (on.rest.address, on.rest.port) == ("127.0.0.1", 8123)
    assert on.rest.api_key is not None and len(on.rest.api_key) >= 32


def test_a_rest_api_off_loopback_without_a_key_is_refused_in_one_line_with_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _node(tmp_path, "--rest-port", "8123")
    text = config.read_text(encoding="utf-8").replace('address = "127.0.0.1"', 'address = "0.0.0.0"')
    config.write_text(text.replace(text[text.index("api_key = "):].splitlines()[0], 'api_key = ""'), encoding="utf-8")
    capsys.readouterr()
    assert main(["node", "run", str(config)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "0.0.0.0 is not a loopback address" in error
    assert check_rest({"address": "0.0.0.0", "api_key": "k"}).api_key == "k"
    for table in ({"port": float("nan")}, {"port": 0}, {"api_key": "has space"}, {"api_key": 5}, {"extra": 1}, []):
        with pytest.raises(ConfigError):
            check_rest(table)


def test_genesis_funds_extra_accounts_from_key_files_or_hex(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _node(tmp_path)
    wallet = tmp_path / "w.key"
    assert main(["wallet", "new", str(wallet)]) == 0
    public = KeyPair.load(wallet).public_key
    other = "ab" * 32
    assert main(["node", "genesis", str(tmp_path / "g.toml"), str(tmp_path / "n"), "--fund", f"{wallet}=500",
                 "--fund", f"{other}=7"]) == 0
    balances = dict(load_genesis(tmp_path / "g.toml").ledger.balances)
    assert balances[public] == 500 and balances[bytes.fromhex(other)] == 7
    capsys.readouterr()
    assert main(["node", "genesis", str(tmp_path / "h.toml"), str(tmp_path / "n"), "--fund", "nothing=5"]) == 2
    assert main(["node", "genesis", str(tmp_path / "h.toml"), str(tmp_path / "n"), "--fund", f"{other}=nan"]) == 2
    assert not (tmp_path / "h.toml").exists()


def test_wallet_new_writes_a_private_key_and_never_overwrites(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "k.key"
    assert main(["wallet", "new", str(path)]) == 0
    first = path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    capsys.readouterr()
    assert main(["wallet", "new", str(path)]) == 2
    assert "never overwritten" in capsys.readouterr().err
    assert path.read_bytes() == first


@pytest.mark.parametrize("arguments", [
    ["wallet", "send", "--key", "k", "zz", "5"],
    ["wallet", "send", "--key", "k", "ab" * 32, "nan"],
    ["wallet", "send", "--key", "k", "ab" * 32, "-5"],
    ["wallet", "send", "--key", "k", "ab" * 32, "0"],
    ["wallet", "send", "--key", "k", "ab" * 32, str(2**64)],
    ["wallet", "channel", "pay", "xyz", "5"],
    ["wallet", "balance", "--node", "http://127.0.0.1:1", "--limit", "3"],
    ["net", "up", "--validators", "0"],
    ["net", "up", "--light-nodes", "nan"],
])
def test_bad_wallet_and_net_arguments_are_one_line_and_exit_2(arguments: list[str],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_wallet_without_a_node_answering_exits_1_in_one_line(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["wallet", "new", str(tmp_path / "k")]) == 0
    capsys.readouterr()
    assert main(["wallet", "balance", "--key", str(tmp_path / "k"), "--node", "http://127.0.0.1:1"]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["wallet", "balance", "--node", str(tmp_path / "missing")]) == 2


def test_net_status_and_down_on_a_folder_without_nodes_exit_2(tmp_path: Path) -> None:
    assert main(["net", "status", str(tmp_path)]) == 2
    assert main(["net", "down", str(tmp_path)]) == 2
