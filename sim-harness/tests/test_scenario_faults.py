"""The [[faults]] section of scenarios: parsing, node selectors, clear errors naming the key, and the faults' effect."""

from __future__ import annotations

from pathlib import Path

import pytest

from a27_harness import cli
from a27_harness.labs.lab1 import run_lab1
from a27_harness.scenario import Fault, ScenarioError, SimScenario, select_nodes

FILE = """
[sim]
layers = "ledger"
validators = 4
light_nodes = 6

[[faults]]
at = 5
partition = [["validators 0-1", "light 0-2"], ["validators 2-3", "l3", "l4", "l5"]]

[[faults]]
at = 10.5
heal = true

[[faults]]
at = 2
down = ["v3"]

[[faults]]
at = 4
up = "v3"

[[faults]]
at = 6
loss = 0.3

[[faults]]
at = 7
loss = 0.9
between = ["validators 0-1", "light"]
"""


def test_a_scenario_file_holds_every_kind_of_fault(tmp_path: Path) -> None:
    path = tmp_path / "faults.toml"
    path.write_text(FILE, encoding="utf-8")
    scenario = SimScenario.from_toml(path)
    assert [fault.action for fault in scenario.faults] == ["partition", "heal", "down", "up", "loss", "loss"]
    partition = scenario.faults[0]
    assert scenario.partition_groups(partition) == [["v0", "v1", "l0", "l1", "l2"], ["v2", "v3", "l3", "l4", "l5"]]
    assert scenario.faults[3] == Fault(4.0, "up", nodes=("v3",))
    assert scenario.faults[5].between == ("validators 0-1", "light")
    assert scenario.to_dict()["faults"][1] == {"at": 10.5, "heal": True}
    assert "faults" not in SimScenario().to_dict()


@pytest.mark.parametrize(("selector", "names"), [
    ("v2", ("v2",)), ("l0", ("l0",)), ("validators", ("v0", "v1", "v2")), ("light", ("l0", "l1")),
    ("validators 1-2", ("v1", "v2")), ("Light  1", ("l1",)), ("light nodes 0-1", ("l0", "l1")),
])
def test_selectors_name_nodes(selector: str, names: tuple[str, ...]) -> None:
    assert select_nodes(selector, 3, 2) == names


@pytest.mark.parametrize(("faults", "message"), [
    ([{"at": 1}], r"faults\[0\] must have exactly one of partition, heal, down, up, loss, got none"),
    ([{"at": 1, "heal": True, "down": ["v0"]}], r"faults\[0\] must have exactly one of .* got heal, down"),
    ([{"at": -1, "heal": True}], r"faults\[0\]\.at must be a simulated time"),
    ([{"heal": True}], r"faults\[0\]\.at must be a simulated time in seconds \(a number >= 0\), got None"),
    ([{"at": "soon", "heal": True}], r"faults\[0\]\.at must be"),
    ([{"at": 1, "heal": False}], r"faults\[0\]\.heal must be true"),
    ([{"at": 1, "heal": True, "when": 3}], r"faults\[0\]: unknown keys when"),
    ([{"at": 1, "heal": True}, {"at": 2, "down": ["v9"]}], r"faults\[1\]\.down\[0\]: 'v9' selects validators 9-9, "
                                                           r"but the scenario has 4"),
    ([{"at": 1, "down": ["validators 2-7"]}], r"faults\[0\]\.down\[0\]: .* has 4 \(indices 0-3\)"),
    ([{"at": 1, "down": ["miners"]}], r"faults\[0\]\.down\[0\]: unknown node selector 'miners'"),
    ([{"at": 1, "down": ["light a-b"]}], r"faults\[0\]\.down\[0\]: 'light a-b' must give indices as N or N-M"),
    ([{"at": 1, "down": []}], r"faults\[0\]\.down must be a non-empty list of node selectors"),
    ([{"at": 1, "up": [3]}], r"faults\[0\]\.up\[0\] must be a node selector"),
    ([{"at": 1, "partition": []}], r"faults\[0\]\.partition must be a non-empty list of groups"),
    ([{"at": 1, "partition": [["v0"], ["validators"]]}], r"faults\[0\]\.partition: node v0 is in group 0 and group 1"),
    ([{"at": 1, "partition": [["v0"], ["light 9"]]}], r"faults\[0\]\.partition\[1\]\[0\]: 'light 9' selects"),
    ([{"at": 1, "loss": 1.5}], r"faults\[0\]\.loss must be a probability in \[0, 1\], got 1.5"),
    ([{"at": 1, "loss": 0.5, "between": ["v0"]}], r"faults\[0\]\.between must be two node selectors"),
    ([{"at": 1, "down": ["v0"], "between": ["v0", "v1"]}], r"faults\[0\]\.between only goes with loss"),
    ([3], r"faults\[0\] must be a table"),
    ({"at": 1}, r"faults must be a list of tables"),
])
def test_bad_faults_are_refused_naming_the_key(faults: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        SimScenario(validators=4, light_nodes=6, faults=faults)


def _lab1_with_a_node_down_throughout(**overrides: object) -> SimScenario:
    settings: dict[str, object] = {
        "layers": "ledger", "validators": 2, "light_nodes": 4, "duration": 10.0, "settle_timeout": 5.0,
        "transfer_interval": 1.0, "overdraft_probability": 0.0, "faults": [{"at": 0, "down": ["l3"]}]}
    return SimScenario(**{**settings, **overrides})


def test_a_node_down_throughout_lab_1_is_named_by_the_verdict() -> None:
    result = run_lab1(_lab1_with_a_node_down_throughout())
    assert not result.agreed
    assert result.differing == ("l3",)
    assert result.network["totals"]["dropped_by_cause"]["down"]["messages"] > 0


def test_a27_sim_exits_1_and_names_the_nodes_whose_ledger_differs(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "down.toml"
    path.write_text('[sim]\nlayers = "ledger"\nvalidators = 2\nlight_nodes = 4\nduration = 10\nsettle_timeout = 5\n'
                    'transfer_interval = 1\n\n[[faults]]\nat = 0\ndown = ["l3", "l1"]\n', encoding="utf-8")
    status = cli.main(["sim", "--scenario", str(path), "--out", str(tmp_path / "out"), "--no-progress"])
    verdict = capsys.readouterr().out.splitlines()[-1]
    assert status == 1
    assert verdict.startswith("VERDICT: FAILED - nodes disagree (")
    assert verdict.endswith(": l1, l3 differ from v0")
