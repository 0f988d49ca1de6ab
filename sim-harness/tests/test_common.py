"""What the labs share: who each simulated node is introduced to."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from a27_harness.labs import run_lab1, run_lab2
from a27_harness.labs.common import TRANSFER_TIMEOUT, light_node_validators, neighbours_for, repeat_until
from a27_harness.scenario import ScenarioError, SimScenario
from a27_netsim import Simulation, topology_by_name


def test_a_pos_light_node_knows_a_few_validators_and_each_validator_its_followers() -> None:
    scenario = SimScenario(validators=20, light_nodes=98, validators_per_light_node=4, topology="ba", seed=3)
    node_count = scenario.validators + scenario.light_nodes
    neighbours = neighbours_for(scenario, node_count)
    graph = topology_by_name("ba", scenario.light_nodes, scenario.seed)
    followers: Counter[int] = Counter()
    for light in range(scenario.light_nodes):
        known = neighbours(20 + light)
        validators = [index for index in known if index < 20]
        assert len(set(validators)) == 4 and validators == sorted(validators)
        # Lab 2: light nodes talk only to validators, so they know no other light node.
        assert known[4:] == []
        followers.update(validators)
        for validator in validators:
            assert 20 + light in neighbours(validator)
    assert max(followers.values()) - min(followers.values()) <= 1
    assert sorted(followers) == list(range(20))
    for validator in range(20):
        known = neighbours(validator)
        assert known[:20] == list(range(20))
        assert len(known) - 20 == followers[validator]
    # With channels (Lab 3) light nodes also know their topology neighbours, over which channels open.
    lab3 = SimScenario(validators=20, light_nodes=98, validators_per_light_node=4, topology="ba", seed=3,
                       layers="ledger,pos,channels")
    with_channels = neighbours_for(lab3, node_count)
    for light in range(lab3.light_nodes):
        assert with_channels(20 + light)[4:] == [20 + other for other in sorted(graph.neighbors(light))]


def test_the_assignment_is_seeded() -> None:
    first = light_node_validators(SimScenario(validators=20, light_nodes=50, seed=1))
    assert first == light_node_validators(SimScenario(validators=20, light_nodes=50, seed=1))
    assert first != light_node_validators(SimScenario(validators=20, light_nodes=50, seed=2))


@pytest.mark.parametrize(("layers", "validators", "per_node"), [
    ("ledger,pos", 4, 4),   # no more validators than a light node follows: everyone knows every validator
    ("ledger,pos", 3, 8),
    ("ledger", 20, 4),      # Lab 1: validators broadcast to everyone, and every node knows every validator
])
def test_full_visibility_of_validators_where_it_is_kept(layers: str, validators: int, per_node: int) -> None:
    scenario = SimScenario(layers=layers, validators=validators, light_nodes=6, validators_per_light_node=per_node)
    node_count = validators + 6
    neighbours = neighbours_for(scenario, node_count)
    for validator in range(validators):
        assert neighbours(validator) == list(range(node_count))
    # Light nodes know each other (complete topology) except in Lab 2, where they talk only to validators.
    light_peers = layers != "ledger,pos"
    for light in range(validators, node_count):
        assert neighbours(light) == [*range(validators), *(other for other in range(validators, node_count)
                                                           if other != light and light_peers)]


def test_validators_per_light_node_is_a_network_setting(tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text("validators = 20\n[network]\nvalidators_per_light_node = 6\n", encoding="utf-8")
    assert SimScenario.from_toml(path).validators_per_light_node == 6
    assert SimScenario().validators_per_light_node == 4
    with pytest.raises(ScenarioError, match="validators_per_light_node: expected an integer from 1 to 1,000, got 0"):
        SimScenario(validators_per_light_node=0)


def test_a_pause_drawn_past_the_stop_time_ends_at_the_stop_time(simulation: Simulation) -> None:
    steps: list[float] = []

    async def step() -> None:
        steps.append(simulation.loop.time())

    async def run() -> float:
        start = simulation.loop.time()
        pauses = iter([1.0, 2.0, 50.0])
        await repeat_until(start + 4.0, lambda: next(pauses), step)
        return simulation.loop.time() - start

    assert simulation.run(run()) == 4.0
    assert len(steps) == 2


@pytest.mark.parametrize("layers", ["ledger", "ledger,pos"])
def test_a_run_lasts_its_duration_plus_the_grace_of_the_transfers_in_flight(layers: str) -> None:
    # A mean pause of 15 s over 5 s of transfers: most light nodes have a pause pending far past the duration.
    scenario = SimScenario(layers=layers, validators=2, light_nodes=8, duration=5.0, transfer_interval=15.0, seed=3)
    result = run_lab1(scenario) if layers == "ledger" else run_lab2(scenario)
    assert result.transfers, "the seed should give at least one transfer within the duration"
    assert 0.0 <= result.grace <= TRANSFER_TIMEOUT
    # A transfer here is decided within a second or two; the pauses pending at the stop time would run on for tens
    # of seconds, and must not be waited out.
    assert result.grace < 3.0
    assert scenario.duration + result.grace <= result.end_time < scenario.duration + result.grace + 2.0
    # The nodes are built and introduced at simulated time 0, when the transfers start.
    assert max(record.submitted_at for record in result.transfers) < scenario.duration
