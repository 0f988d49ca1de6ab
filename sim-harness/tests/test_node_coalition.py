"""``coalition`` in one red node process: the genesis ``a27 node genesis`` writes for it, the one coalition its
members share (the node it plays and the other, hosted under the key its config holds), and its act on the node's
arena (``a27_harness.node.arena``) on the simulated network."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from a27_attacks import attack_named
from a27_attacks.pos import CoalitionMember
from a27_harness.entry import main
from a27_harness.node import VALIDATOR, A27Node, NodeSpec, SimulatedRuntime, build_node, introduce_all
from a27_harness.node.arena import NodeArena, identity_key
from a27_harness.node.config import ConfigError, load_config, load_genesis, render_config
from a27_harness.node.process import behaviour_attack, load_behaviour_keys, node_settings, prepare
from a27_ledger.testing import make_keys
from a27_netsim import Simulation
from a27_pos import PosGenesis


def _red(tmp_path: Path, *, plays: str = "a0", holds: str | None = "a1") -> Path:
    """Folders v0, v1 (honest validators) and red (coalition at 0.3, playing ``plays``, holding ``holds``'s key)."""
    for name in ("v0", "v1"):
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / "node.toml").write_text(render_config(name, "validator", ["ledger", "pos"], 9000, []),
                                                    encoding="utf-8")
    (tmp_path / "red").mkdir(exist_ok=True)
    text = render_config("red", "validator", ["ledger", "pos"], 9002, [], behaviour="coalition",
                         behaviour_params=["stake_share=0.3"])
    text = text.replace('# behaviour_node = "a1"', f'behaviour_node = "{plays}"')
    if holds is not None:
        text += f'\n[behaviour_keys]\n{holds} = "{holds}.key"\n'
    config = tmp_path / "red" / "node.toml"
    config.write_text(text, encoding="utf-8")
    return config


def _coalition(settings: object) -> object:
    behaviour = settings["pos"]["behaviour"]  # type: ignore[index]
    assert isinstance(behaviour, CoalitionMember)
    return behaviour.coalition


@pytest.mark.parametrize(("plays", "holds"), [("a0", "a1"), ("a1", "a0")])
def test_both_members_are_bonded_and_share_one_coalition_whichever_the_process_plays(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], plays: str, holds: str) -> None:
    config = load_config(_red(tmp_path, plays=plays, holds=holds))
    genesis_path = tmp_path / "genesis.toml"
    assert main(["node", "genesis", str(genesis_path), *(str(tmp_path / name) for name in ("v0", "v1", "red"))]) == 0
    assert "4 accounts, 4 validators" in capsys.readouterr().out
    genesis = load_genesis(genesis_path)
    by_name = {name: account for account, name in genesis.ledger.names.items()}
    stakes = dict(genesis.stakes)
    # 0.3 of all bonded stake beside two honest validators of 100,000: 85,714 together, split evenly.
    assert [stakes[by_name[name]] for name in ("v0", "v1", "red", f"red-{holds}")] == [
        100_000, 100_000, 42_857, 42_857]
    config = attrs.evolve(config, genesis=genesis_path)
    played = behaviour_attack(config)
    assert played is not None and played[1].name == plays
    spec, pos_genesis, settings = prepare(config, played)
    held = load_behaviour_keys(config)[holds]
    other = next(node for node in played[0].attacker_nodes() if node.name == holds)
    hosted = node_settings(config, NodeSpec(f"red-{holds}", held, VALIDATOR, spec.layers), pos_genesis, other,
                           played=played)
    assert _coalition(hosted) is _coalition(settings)
    assert settings["pos"]["validator"] is True and hosted["pos"]["validator"] is True
    # Another attack instance (another process) has a coalition of its own.
    assert _coalition(prepare(config)[2]) is not _coalition(settings)


def test_a_member_without_a_held_key_has_no_stake_one_line(tmp_path: Path) -> None:
    config = load_config(_red(tmp_path, holds=None))
    genesis_path = tmp_path / "genesis.toml"
    assert main(["node", "genesis", str(genesis_path), *(str(tmp_path / name) for name in ("v0", "v1", "red"))]) == 0
    config = attrs.evolve(config, genesis=genesis_path)
    played = behaviour_attack(config)
    assert played is not None
    spec, pos_genesis, _settings = prepare(config, played)
    key = identity_key(spec.key.public_key, "a1")
    with pytest.raises(ConfigError, match=re.escape(
            f"role: red-a1 is a validator but the genesis {genesis_path} gives its key {key.public_key.hex()[:16]}"
            "... no stake (a validator coalition hosts beside this node runs with the key its config holds for a1 in "
            "[behaviour_keys], bonded by `a27 node genesis`)")):
        node_settings(config, NodeSpec("red-a1", key, VALIDATOR, spec.layers), pos_genesis,
                      played[0].attacker_nodes()[1], played=played)


def test_the_act_puts_the_second_half_of_the_honest_validators_by_key_on_side_b(simulation: Simulation) -> None:
    keys = make_keys(6, seed=47)
    names = ["b0", "b1", "b2", "b3", "red", "red-a1"]
    genesis = PosGenesis.build("a27-coalition", {key.public_key: 50_000 for key in keys},
                               {key.public_key: 100_000 for key in keys},
                               names={key.public_key: name for key, name in zip(keys, names, strict=True)})
    attack = attack_named("coalition").from_params(["stake_share=0.3"])
    a0, a1 = attack.attacker_nodes()

    async def scenario() -> None:
        runtime = SimulatedRuntime(simulation.network)
        nodes: list[A27Node] = []
        for name, key in zip(names, keys, strict=True):
            settings: dict[str, dict[str, object]] = {"pos": {"validator": True}}
            if name.startswith("red"):
                settings["pos"].update(attack.node_settings_for(a0 if name == "red" else a1)["pos"])
            nodes.append(await build_node(NodeSpec(name, key, VALIDATOR, ("ledger", "pos")), genesis, runtime,
                                          settings=settings))
        introduce_all(nodes)
        red, hosted = nodes[4], nodes[5]
        arena = NodeArena(red, genesis.ledger, attack, a0, identities={"a1": hosted})
        by_key = sorted(nodes[:4], key=lambda node: node.spec.key.public_key)
        assert [handle.name for handle in arena.honest()] == [node.spec.name for node in by_key]
        await attack.act_real_node(arena)
        assert arena.notes["side B"] == ", ".join(node.spec.name for node in by_key[2:])
        coalition = red.pos.settings.behaviour.coalition
        assert hosted.pos.settings.behaviour.coalition is coalition
        assert [coalition.on_side_b(node.peer) for node in by_key] == [False, False, True, True]
        for node in nodes:
            await node.stop()

    simulation.run(scenario())

