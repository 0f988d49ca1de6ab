"""A red node process that holds the keys of several attacker nodes (``behaviour_node``, ``[behaviour_keys]``):
config checks, the genesis ``a27 node genesis`` writes for it, and its arena (``a27_harness.node.arena``) on the
simulated network."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import attrs
import pytest

from a27_attacks import BadParameter, attack_named
from a27_harness.entry import main
from a27_harness.node import LIGHT, VALIDATOR, A27Node, NodeSpec, SimulatedRuntime, build_node, introduce_all
from a27_harness.node.arena import ArenaError, NodeArena
from a27_harness.node.config import ConfigError, load_config, load_genesis, render_config
from a27_harness.node.process import behaviour_attack, prepare
from a27_ledger import account_of
from a27_ledger.testing import make_keys
from a27_netsim import Simulation
from a27_pos import PosGenesis


def _red(tmp_path: Path, keys: str = 'a0 = "a0.key"') -> Path:
    """Folders v0, v1 (honest validators) and red (long-range, playing a1 and holding a0's key)."""
    for name in ("v0", "v1"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "node.toml").write_text(render_config(name, "validator", ["ledger", "pos"], 9000, []),
                                                    encoding="utf-8")
    (tmp_path / "red").mkdir()
    text = render_config("red", "validator", ["ledger", "pos"], 9002, [], behaviour="long-range")
    text = text.replace('# behaviour_node = "a1"', 'behaviour_node = "a1"')
    config = tmp_path / "red" / "node.toml"
    config.write_text(text + f"\n[behaviour_keys]\n{keys}\n", encoding="utf-8")
    return config


def test_a_red_node_plays_a1_holds_a0s_key_and_the_genesis_bonds_both_as_asked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = load_config(_red(tmp_path))
    assert config.behaviour_node == "a1"
    assert config.behaviour_keys == (("a0", tmp_path / "red" / "a0.key"),)
    played = behaviour_attack(config)
    assert played is not None and played[1].name == "a1"
    genesis_path = tmp_path / "genesis.toml"
    assert main(["node", "genesis", str(genesis_path), *(str(tmp_path / name) for name in ("v0", "v1", "red"))]) == 0
    assert "4 accounts, 4 validators" in capsys.readouterr().out
    assert stat.S_IMODE((tmp_path / "red" / "a0.key").stat().st_mode) == 0o600
    genesis = load_genesis(genesis_path)
    by_name = {name: account for account, name in genesis.ledger.names.items()}
    stakes = dict(genesis.stakes)
    # Honest 100,000 each; a0 the smallest honest stake, a1 twice all honest stake plus one; the short unbonding delay.
    assert [stakes[by_name[name]] for name in ("v0", "v1", "red-a0", "red")] == [100_000, 100_000, 100_000, 400_001]
    assert (genesis.params.unbonding_delay, genesis.params.evidence_max_age) == (3, 2)
    spec, _genesis, settings = prepare(attrs.evolve(config, genesis=genesis_path))
    assert spec.key.public_key == by_name["red"] and settings["pos"]["validator"] is True


@pytest.mark.parametrize(("keys", "message"), [
    ('a1 = "a1.key"', "[behaviour_keys] a1: not another attacker node of long-range than the one this node plays "
                          "(a1; its nodes: a0 validator, a1 validator)"),
    ('a7 = "a7.key"', "[behaviour_keys] a7: not another attacker node"),
    ('a0 = "key.bin"', "[behaviour_keys] a0: "),
    ("a0 = 3", "[behaviour_keys] a0: expected a non-empty string, got 3"),
])
def test_bad_attacker_keys_are_one_line_naming_the_setting(tmp_path: Path, keys: str, message: str) -> None:
    path = _red(tmp_path, keys)
    with pytest.raises(ConfigError, match=re.escape(message)):
        behaviour_attack(load_config(path))


def test_a_node_plays_no_unknown_attacker_node_an_honest_one_holds_no_keys_and_settle_is_refused(
        tmp_path: Path) -> None:
    config = load_config(_red(tmp_path))
    with pytest.raises(ConfigError, match=re.escape("behaviour: attack 'long-range' has no validator 'a9' node (its "
                                                    "nodes: a0 validator, a1 validator)")):
        behaviour_attack(attrs.evolve(config, behaviour_node="a9"))
    with pytest.raises(ConfigError, match=r"^\[behaviour_keys\]: an honest node holds no attacker keys"):
        prepare(attrs.evolve(config, behaviour="honest"))
    with pytest.raises(ConfigError, match=r"^behaviour: long-range: settle: a real node judges no late node"):
        behaviour_attack(attrs.evolve(config, behaviour_params=("settle=5",)))
    assert behaviour_attack(attrs.evolve(config, behaviour_params=("serve_for=5", "lead=3"))) is not None


def test_the_arena_signs_with_the_held_keys_and_serves_blocks_to_a_peer_named_by_its_account(
        simulation: Simulation) -> None:
    keys = make_keys(4, seed=43)
    names = ["b0", "b1", "held", "red"]
    genesis = PosGenesis.build("a27-keys", {key.public_key: 50_000 for key in keys},
                               {keys[0].public_key: 200_000, keys[1].public_key: 200_000, keys[2].public_key: 100_000},
                               names={key.public_key: name for key, name in zip(keys, names, strict=True)})

    async def scenario() -> None:
        runtime = SimulatedRuntime(simulation.network)
        nodes: list[A27Node] = [
            await build_node(NodeSpec(names[index], keys[index], VALIDATOR if index < 3 else LIGHT, ("ledger", "pos")),
                             genesis, runtime, settings={"pos": {"validator": index < 3}}) for index in range(4)]
        introduce_all(nodes)
        red, held = nodes[-1], nodes[2]
        attack = attack_named("long-range").from_params([])
        holder = next(node for node in attack.attacker_nodes() if node.name == "a1")
        # a0 runs as an identity with the held key (a bonded validator); its account is no "honest" validator.
        arena = NodeArena(red, genesis.ledger, attack, holder, identities={"a0": held})
        assert not arena.simulated()
        assert arena.attacker_key("a0") is keys[2]
        assert arena.attacker_key("a1") is red.spec.key
        assert arena.attacker("a0").public_key == keys[2].public_key
        assert [handle.name for handle in arena.honest()] == sorted(["b0", "b1"], key=lambda name: dict(
            zip(names, (key.public_key for key in keys), strict=True))[name])
        with pytest.raises(ArenaError, match="attacker node 'a2' of long-range is not this process"):
            arena.attacker("a2")
        await arena.sleep(3.0)
        b0 = nodes[0]
        assert b0.pos.chain.height >= 1
        served = [(b0.pos.chain.block(1), b0.pos.chain.certificate(1))]
        assert arena.serve_blocks("a1", account_of(nodes[1].peer.public_key.key_to_bin()).hex(), served) == 1
        assert arena.serve_blocks("a1", "b0", served) == 1
        with pytest.raises(ArenaError, match=f"{'ab' * 32} is not a verified peer of {red.name}"):
            arena.serve_blocks("a1", "ab" * 32, served)
        # Played as a0 without a1's key (a battle's red node, say), the act stops at once, saying what it needs.
        spender = next(node for node in attack.attacker_nodes() if node.name == "a0")
        with pytest.raises(BadParameter, match=r"^long-range on a real node: the process plays a1 and holds a0's key "
                                               r"\(behaviour_node = \"a1\", .*attacker node 'a1' of long-range is not"):
            await attack.act(NodeArena(red, genesis.ledger, attack, spender))
        for node in nodes:
            await node.stop()

    simulation.run(scenario())
