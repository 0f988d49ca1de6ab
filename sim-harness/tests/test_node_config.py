"""A real node's config, key file and genesis file (``a27_harness.node.config``) and the ``a27 node`` commands."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest

from a27_harness.entry import main
from a27_harness.node.config import (
    ConfigError,
    NodeConfig,
    create_key,
    load_config,
    load_genesis,
    load_or_create_key,
    render_config,
    render_genesis,
)
from a27_harness.node.process import (
    OffsetClockRuntime,
    behaviour_settings,
    lock_data_dir,
    node_settings,
    prepare,
    run_node,
)
from a27_ledger import KeyPair, SQLiteStore
from a27_pos import Chain, Checkpoint, SQLiteChainStore, pos_registry


def _write_node(tmp_path: Path, name: str = "v0", role: str = "validator", port: int = 9000,
                bootstrap: tuple[str, ...] = ("127.0.0.1:9001",)) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    config = folder / "node.toml"
    config.write_text(render_config(name, role, ["ledger", "pos"], port, list(bootstrap)), encoding="utf-8")
    return config


def _genesis_for(tmp_path: Path, *configs: Path, stake: int = 100_000) -> Path:
    nodes = [(config, load_or_create_key(config.key_file)) for config in map(load_config, configs)]
    target = tmp_path / "genesis.toml"
    target.write_text(render_genesis("a27-test", nodes, 1_000, stake), encoding="utf-8")
    return target


def test_the_written_config_reads_back_with_paths_relative_to_its_folder(tmp_path: Path) -> None:
    path = _write_node(tmp_path, bootstrap=("127.0.0.1:9001", "10.0.0.2:9100"))
    config = load_config(path)
    assert config.name == "v0"
    assert config.role == "validator"
    assert config.layers == ("ledger", "pos")
    assert config.behaviour == "honest"
    assert config.key_file == tmp_path / "v0" / "key.bin"
    assert config.genesis == tmp_path / "genesis.toml"
    assert config.data_dir == tmp_path / "v0" / "data"
    assert (config.listen, config.port) == ("127.0.0.1", 9000)
    assert config.bootstrap == (("127.0.0.1", 9001), ("10.0.0.2", 9100))
    assert config.max_peers is None
    path.write_text(path.read_text(encoding="utf-8").replace("port = 9000", "port = 9000\nmax_peers = 5"),
                    encoding="utf-8")
    assert load_config(path).max_peers == 5


BAD_CONFIGS = [
    ("port = 9000", "port = nan", "[network] port: expected an integer port from 1 to 65,535, got nan"),
    ("port = 9000", "port = 9000.0", "[network] port: expected an integer port from 1 to 65,535, got 9000.0"),
    ("port = 9000", "port = 0", "[network] port: expected an integer port"),
    ("port = 9000", "port = 65536", "[network] port: expected an integer port"),
    ("port = 9000", "port = true", "[network] port: expected an integer port"),
    ("port = 9000", "port = 9000\ncolour = 1", "[network]: unknown key 'colour'"),
    ("port = 9000", "port = 9000\nmax_peers = 0", "[network] max_peers: expected an integer from 1 to 100,000, got 0"),
    ("port = 9000", "port = 9000\nmax_peers = 5.0", "[network] max_peers: expected an integer from 1 to 100,000"),
    ('role = "validator"', 'role = "validator"\nrol = 1', "config: unknown key 'rol'"),
    ('role = "validator"', 'role = "miner"', "role: expected validator or light, got 'miner'"),
    ('layers = ["ledger", "pos"]', 'layers = ["pos"]', "layers: expected ledger or ledger,pos or"),
    ('layers = ["ledger", "pos"]', 'layers = ["ledger", "channels"]', "layers: expected"),
    ('name = "v0"', 'name = "../v0"', "name: expected 1 to 64 letters"),
    ('name = "v0"', "", "config: name is missing"),
    ('listen = "127.0.0.1"', 'listen = "localhost"', "[network] listen: expected an IPv4 address"),
    ('bootstrap = ["127.0.0.1:9001"]', 'bootstrap = ["127.0.0.1"]', "[network] bootstrap[0]: expected HOST:PORT"),
    ('bootstrap = ["127.0.0.1:9001"]', 'bootstrap = ["127.0.0.1:99999"]', "[network] bootstrap[0]: expected an"),
    ('bootstrap = ["127.0.0.1:9001"]', 'bootstrap = "127.0.0.1:9001"', "[network] bootstrap: expected a list"),
    ('data_dir = "data"', 'data_dir = "node.toml"', "data_dir: "),
    ('key_file = "key.bin"', 'key_file = "."', "key_file: "),
    ('key_file = "key.bin"', "key_file = 3", "key_file: expected a non-empty string, got 3"),
    ('name = "v0"', 'name = "v0"\nname = "v1"', "not valid TOML"),
    ('data_dir = "data"', 'data_dir = "data"\n[clock]\noffset_seconds = nan', "[clock] offset_seconds: expected a"),
    ('data_dir = "data"', 'data_dir = "data"\n[clock]\noffset_seconds = inf', "[clock] offset_seconds: expected a"),
    ('data_dir = "data"', 'data_dir = "data"\n[clock]\noffset_seconds = 86401', "from -86,400 to 86,400"),
    ('data_dir = "data"', 'data_dir = "data"\n[clock]\noffset_seconds = true', "[clock] offset_seconds: expected"),
    ('data_dir = "data"', 'data_dir = "data"\n[clock]\noffset_seconds = "60"', "[clock] offset_seconds: expected"),
    ('data_dir = "data"', 'data_dir = "data"\n[clock]\noffset = 60', "[clock]: unknown key 'offset'"),
    ('data_dir = "data"', 'data_dir = "data"\nclock = 60', "clock: expected a [clock] table"),
    ('# checkpoint = "', 'checkpoint = "-3:' + "ab" * 32 + '"\n#', '[pos] checkpoint: expected "<height>:<block id>"'),
    ('# checkpoint = "', 'checkpoint = "0:' + "ab" * 32 + '"\n#', "a height from 1 and 64 hex characters"),
    ('# checkpoint = "', 'checkpoint = "7:' + "zz" * 32 + '"\n#', "got '7:zzzz"),
    ('# checkpoint = "', 'checkpoint = "7:' + "ab" * 31 + '"\n#', "[pos] checkpoint: expected"),
    ('# checkpoint = "', 'checkpoint = "7"\n#', "[pos] checkpoint: expected"),
    ('# checkpoint = "', 'checkpoint = 7\n#', "[pos] checkpoint: expected \"<height>:<block id>\", a height from 1 and "
                                            "64 hex characters, got 7"),
    ('# checkpoint = "', 'height = 7\n#', "[pos]: unknown key 'height'; keys are checkpoint"),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD_CONFIGS)
def test_a_bad_config_is_refused_naming_the_setting(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = _write_node(tmp_path)
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path)


def test_a_checkpoint_in_the_config_reaches_the_pos_settings_and_a_ledger_node_refuses_one(tmp_path: Path) -> None:
    path = _write_node(tmp_path)
    _genesis_for(tmp_path, path)
    block_id = bytes(range(32))
    text = path.read_text(encoding="utf-8")
    assert '# checkpoint = "HEIGHT:BLOCK_ID"' in text  # the written config says where it goes
    path.write_text(text.replace('# checkpoint = "HEIGHT:BLOCK_ID"', f'checkpoint = "12:{block_id.hex().upper()}"'),
                    encoding="utf-8")
    config = load_config(path)
    assert config.checkpoint == Checkpoint(12, block_id)
    _spec, _genesis, settings = prepare(config)
    assert settings["pos"]["checkpoint"] == Checkpoint(12, block_id)
    assert load_config(_write_node(tmp_path, "v1")).checkpoint is None
    ledger = tmp_path / "ledger.toml"
    ledger.write_text(f'name = "l"\nrole = "validator"\nlayers = ["ledger"]\ngenesis = "g.toml"\n'
                      f'[pos]\ncheckpoint = "12:{block_id.hex()}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape("[pos]: this node runs no pos layer (layers = ledger)")):
        load_config(ledger)


def test_a_missing_config_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read it: No such file"):
        load_config(tmp_path / "nothing.toml")


def test_the_key_is_created_once_with_mode_0600_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "key.bin"
    key = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_bytes()
    assert load_or_create_key(path).public_key == key.public_key
    with pytest.raises(FileExistsError):
        create_key(path)
    assert path.read_bytes() == content
    assert [entry.name for entry in tmp_path.iterdir()] == ["key.bin"]  # no temporary file left behind


def test_a_file_that_is_not_a_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "key.bin").write_bytes(b"not a key")
    with pytest.raises(ConfigError, match=r"key_file: .*not an IPv8 curve25519 private key"):
        load_or_create_key(tmp_path / "key.bin")
    with pytest.raises(ConfigError, match=r"key_file: the folder .* does not exist"):
        load_or_create_key(tmp_path / "missing" / "key.bin")


def test_the_genesis_gives_validators_their_stake_and_every_account_its_balance(tmp_path: Path) -> None:
    validator = _write_node(tmp_path, "v0")
    light = _write_node(tmp_path, "l0", role="light")
    genesis = load_genesis(_genesis_for(tmp_path, validator, light, stake=5_000))
    v0, l0 = (load_or_create_key(load_config(path).key_file) for path in (validator, light))
    assert genesis.chain_id == "a27-test"
    assert dict(genesis.stakes) == {v0.public_key: 5_000}
    assert genesis.ledger.balances == {v0.public_key: 6_000, l0.public_key: 1_000}
    assert genesis.ledger.names == {v0.public_key: "v0", l0.public_key: "l0"}


@pytest.mark.parametrize(("old", "new", "message"), [
    ("balance = 1000\nstake", "balance = nan\nstake", r"accounts\[0\]\.balance: expected an integer"),
    ("stake = 100000", "stake = -1", r"accounts\[0\]\.stake: expected an integer from 1"),
    ("stake = 100000", "stake = 100000\ncolour = 1", r"accounts\[0\]: unknown key 'colour'"),
    ("block_reward = 100", "block_reward = 100\nreward = 1", r"\[params\]: unknown key 'reward'"),
    ("block_reward = 100", "min_stake = 200000", r"is below min_stake 200000"),
    ('public_key = "', 'public_key = "zz', r"accounts\[0\]\.public_key: expected 64 hex characters"),
])
def test_a_bad_genesis_is_refused_naming_the_setting(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = _genesis_for(tmp_path, _write_node(tmp_path))
    path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_genesis(path)


def _config(tmp_path: Path) -> NodeConfig:
    path = _write_node(tmp_path)
    _genesis_for(tmp_path, path)
    return load_config(path)


def test_a_validator_without_stake_and_an_unknown_attack_are_refused(tmp_path: Path, simulation_only: str) -> None:
    config = _config(tmp_path)
    spec, genesis, settings = prepare(config)
    assert settings == {"pos": {"validator": True}}
    stranger = attrs.evolve(spec, key=KeyPair.generate())
    with pytest.raises(ConfigError, match=r"role: v0 is a validator but the genesis .* gives its key .* no stake"):
        node_settings(config, stranger, genesis)
    (tmp_path / "file").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"data_dir: cannot create .*/file/data: Not a directory"):
        prepare(attrs.evolve(config, data_dir=tmp_path / "file" / "data"))
    with pytest.raises(ConfigError, match="behaviour: no attack named 'nosuch'"):
        behaviour_settings(attrs.evolve(config, behaviour="nosuch"))
    # Attacks whose attacker acts through the simulator's arena would run as honest code in a real node: refused.
    for name in (simulation_only,):
        with pytest.raises(ConfigError, match=rf"behaviour: attack '{name}' needs the simulator .* real nodes run "
                                              "censor, coalition, double-spend-lab1, double-spend-pos, eclipse, "
                                              "flood, hold-htlcs, invalid-block, long-range, mempool-flood, "
                                              "proposal-equivocation, superseded-state, sybil, vote-equivocation, "
                                              "withhold$"):
            behaviour_settings(attrs.evolve(config, behaviour=name))
    # censor runs on a real node once its victim is an account; a light node's name means nothing there.
    with pytest.raises(ConfigError, match=r"^behaviour: censor: on a real node victim must be an account \(its public "
                                          r"key in 64 hex characters, as a27 prints accounts\), got 'l0'$"):
        behaviour_settings(attrs.evolve(config, behaviour="censor"))
    # A Lab 1 attack runs on a ledger-only node, a PoS one on a node running pos.
    with pytest.raises(ConfigError, match=r"behaviour: attack 'double-spend-lab1' attacks the ledger lab and needs "
                                          r'layers = \["ledger"\] \(Lab 1\); this node runs ledger,pos$'):
        behaviour_settings(attrs.evolve(config, role="light", behaviour="double-spend-lab1"))
    with pytest.raises(ConfigError, match=r"behaviour: attack 'double-spend-pos' attacks the pos lab and needs the pos "
                                          r"layer; this node runs ledger$"):
        behaviour_settings(attrs.evolve(config, role="light", layers=("ledger",), behaviour="double-spend-pos"))
    assert behaviour_settings(attrs.evolve(config, role="light", layers=("ledger",), behaviour="double-spend-lab1")) \
        == {}
    with pytest.raises(ConfigError, match="behaviour: double-spend-lab1: forward=true needs the simulator"):
        behaviour_settings(attrs.evolve(config, role="light", layers=("ledger",), behaviour="double-spend-lab1",
                                        behaviour_params=("forward=true",)))
    # sybil and eclipse: their identities live in the node's process, a bounded number; the victim is the operator's.
    light = attrs.evolve(config, role="light")
    assert behaviour_settings(attrs.evolve(light, behaviour="sybil", behaviour_params=("sybils=32",))) == {}
    with pytest.raises(ConfigError, match=r"^behaviour: attack .sybil. has 33 attacker nodes; one node process hosts "
                                          r"at most 32 \(itself and its identities\)$"):
        behaviour_settings(attrs.evolve(light, behaviour="sybil", behaviour_params=("sybils=33",)))
    for name, param in (("sybil", "victim=1"), ("eclipse", "slots=3")):
        with pytest.raises(ConfigError, match=rf"^behaviour: {name}: {param.split('=')[0]} is the simulator's .* "
                                              r"restarts it with a small \[network\] max_peers$"):
            behaviour_settings(attrs.evolve(light, behaviour=name, behaviour_params=(param,)))
    with pytest.raises(ConfigError, match="behaviour: attack 'vote-equivocation' has no light node"):
        behaviour_settings(attrs.evolve(config, role="light", behaviour="vote-equivocation"))
    # superseded-state: its victim by account, online (only its operator takes it offline), on a channels node.
    light = attrs.evolve(config, role="light", layers=("ledger", "pos", "channels"), behaviour="superseded-state")
    with pytest.raises(ConfigError, match=r"^behaviour: superseded-state: on a real node victim_account must be the "
                                          r"victim's account .*, got ''$"):
        behaviour_settings(light)
    victim = ("victim_account=" + "ab" * 32,)
    with pytest.raises(ConfigError, match=r"^behaviour: superseded-state: victim_offline=true needs the simulator"):
        behaviour_settings(attrs.evolve(light, behaviour_params=victim))
    online = attrs.evolve(light, behaviour_params=(*victim, "victim_offline=false"))
    with pytest.raises(ConfigError, match=r"^behaviour: attack 'superseded-state' attacks the channels lab and needs "
                                          r"the channels layer; this node runs ledger,pos$"):
        behaviour_settings(attrs.evolve(online, layers=("ledger", "pos")))
    assert type(behaviour_settings(online)["channels"]["behaviour"]).__name__ == "PublishSupersededState"
    # A light channels node hands its appointments to the tower of the genesis validator with the lowest account.
    _spec, genesis, settings = prepare(attrs.evolve(online, behaviour="honest", behaviour_params=()))
    assert settings["channels"] == {"watchtower": min(account for account, _stake in genesis.stakes)}


def test_an_attack_behaviour_gives_the_settings_the_simulator_gives_its_node(tmp_path: Path) -> None:
    from a27_attacks import attack_named  # noqa: PLC0415

    config = attrs.evolve(_config(tmp_path), behaviour="vote-equivocation")
    attack = attack_named("vote-equivocation").from_params([])
    attacker = next(node for node in attack.attacker_nodes() if node.role == "validator")
    expected = attack.settings_for(attacker)
    settings = behaviour_settings(config)
    assert settings.keys() == expected.keys()
    assert {layer: {name: type(value) for name, value in options.items()} for layer, options in settings.items()} == \
        {layer: {name: type(value) for name, value in options.items()} for layer, options in expected.items()}
    _spec, _genesis, full = prepare(config)
    assert full["pos"]["validator"] is True
    assert type(full["pos"]["behaviour"]) is type(expected["pos"]["behaviour"])


def test_a_censor_node_censors_the_account_its_params_name_from_the_start(tmp_path: Path) -> None:
    from a27_attacks.censor import Censor  # noqa: PLC0415

    victim = bytes(range(32))
    config = attrs.evolve(_config(tmp_path), behaviour="censor", behaviour_params=(f"victim={victim.hex()}",))
    _spec, _genesis, full = prepare(config)
    behaviour = full["pos"]["behaviour"]
    assert isinstance(behaviour, Censor) and behaviour.victims == {victim}
    assert full["pos"]["validator"] is True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stored_height(database: Path) -> int:
    store = SQLiteChainStore(database, pos_registry())
    try:
        return store.head_height()
    finally:
        store.close()


def test_a_single_validator_finalizes_stops_with_its_stores_closed_and_resumes(tmp_path: Path) -> None:
    config = attrs.evolve(_config(tmp_path), port=_free_port(), bootstrap=())

    async def run_until(height: int) -> None:
        stop = asyncio.Event()
        runner = asyncio.ensure_future(run_node(config, stop))
        deadline = asyncio.get_running_loop().time() + 20
        database = config.data_dir / "v0.chain.db"
        while not (database.exists() and _stored_height(database) >= height):
            assert not runner.done(), runner.exception()
            assert asyncio.get_running_loop().time() < deadline, "no block finalized"
            await asyncio.sleep(0.1)
        stop.set()
        await runner

    asyncio.run(run_until(2))
    _spec, genesis, _settings = prepare(config)
    ledger, chain_store = SQLiteStore(config.data_dir / "v0.db"), SQLiteChainStore(config.data_dir / "v0.chain.db",
                                                                                     pos_registry())
    chain = Chain.start(genesis, ledger, chain_store)
    first = chain.height
    assert first >= 2
    chain.state.check_invariants()
    ledger.close()
    chain_store.close()
    asyncio.run(run_until(first + 1))


def test_node_commands_print_one_line_and_exit_2_on_bad_input(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["node", "init", str(tmp_path / "v0"), "--port", "9100", "--bootstrap", "127.0.0.1:9101"]) == 0
    assert stat.S_IMODE((tmp_path / "v0" / "key.bin").stat().st_mode) == 0o600
    key = (tmp_path / "v0" / "key.bin").read_bytes()
    capsys.readouterr()
    cases = [
        (["node", "init", str(tmp_path / "v0")], "a27 node init: " + str(tmp_path / "v0" / "node.toml") + " exists"),
        (["node", "init", str(tmp_path / "v1"), "--bootstrap", "host"], "a27 node init: --bootstrap[0]: expected"),
        (["node", "run", str(tmp_path / "v0" / "node.toml")], "a27 node run: genesis "),
        (["node", "run", str(tmp_path / "none.toml")], "a27 node run: config "),
        (["node", "genesis", str(tmp_path / "g.toml"), str(tmp_path / "nowhere")], "a27 node genesis: config "),
    ]
    for argv, start in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(start), err
        assert err.count("\n") == 1, err
    assert (tmp_path / "v0" / "key.bin").read_bytes() == key
    assert main(["node", "genesis", str(tmp_path / "genesis.toml"), str(tmp_path / "v0")]) == 0
    assert main(["node", "genesis", str(tmp_path / "genesis.toml"), str(tmp_path / "v0")]) == 2
    assert "is never overwritten" in capsys.readouterr().err


def test_a_node_command_loads_no_report_lab_or_plotting_code() -> None:
    code = ("import sys, json\nfrom a27_harness.entry import main\nmain(['node', 'run', '/nonexistent.toml'])\n"
            "print(json.dumps(sorted(name for name in ('matplotlib', 'scipy', 'a27_harness.reports', "
            "'a27_harness.labs', 'a27_harness.cli', 'a27_netsim') if name in sys.modules)))")
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(finished.stdout) == []


def test_a_node_refuses_a_taken_port_instead_of_moving_to_another(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        config = attrs.evolve(_config(tmp_path), port=int(taken.getsockname()[1]), bootstrap=())

        async def run() -> None:
            stop = asyncio.Event()
            stop.set()  # were the port silently moved, the node would start and stop at once
            await run_node(config, stop)

        with pytest.raises(OSError, match=r"UDP port 127\.0\.0\.1:\d+ for v0 is in use"):
            asyncio.run(run())


def test_two_nodes_cannot_share_a_data_directory(tmp_path: Path) -> None:
    config = attrs.evolve(_config(tmp_path), port=_free_port(), bootstrap=())
    prepare(config)
    stop = asyncio.Event()
    stop.set()  # without the lock, the second node would start and stop at once
    with lock_data_dir(config), pytest.raises(ConfigError, match=r"data_dir: .* is in use by another running node"):
        asyncio.run(run_node(config, stop))
    with lock_data_dir(config):  # released
        pass


def test_the_clock_offset_for_tests_shifts_the_node_time_base_and_is_absent_by_default(tmp_path: Path) -> None:
    path = _write_node(tmp_path)
    assert load_config(path).clock_offset == 0.0
    assert OffsetClockRuntime("127.0.0.1", 0, 0.0).pos_clock() is None  # Unix time, the PoS layer's default
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('data_dir = "data"', 'data_dir = "data"\n[clock]\noffset_seconds = -300', 1),
                    encoding="utf-8")
    config = load_config(path)
    assert config.clock_offset == -300.0
    clock = OffsetClockRuntime("127.0.0.1", 0, config.clock_offset).pos_clock()
    assert clock is not None
    before = time.time()
    shifted = clock()
    assert before - 300 <= shifted <= time.time() - 300
