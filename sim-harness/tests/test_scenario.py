"""Scenario settings: defaults, validation, TOML files and overrides."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from a27_harness.scenario import SECTION_OF, SECTIONS, ScenarioError, SimScenario


def test_defaults_are_the_lab_1_shape() -> None:
    scenario = SimScenario()
    assert (scenario.validators, scenario.light_nodes, scenario.seed) == (4, 16, 7)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("validators", 0, "validators: expected an integer from 1 to 1,000, got 0"),
    ("light_nodes", -3, "light_nodes: expected an integer from 1 to 10,000, got -3"),
    ("duration", 0.0, "duration: expected a finite number above 0 and at most 1,000,000, got 0.0"),
    ("duration", float("nan"), "duration: expected a finite number above 0 and at most 1,000,000, got nan"),
    ("transfer_interval", float("inf"), "transfer_interval: expected a finite number at least 0.01"),
    ("loss", 1.0, "loss: expected a finite number at least 0 and below 1, got 1.0"),
    ("loss", -0.1, "loss: expected a finite number at least 0 and below 1, got -0.1"),
    ("validators", "ten", "validators: expected an integer from 1 to 1,000, got 'ten'"),
    ("validators", 4.0, "validators: expected an integer from 1 to 1,000, got 4.0"),
    ("validators", True, "validators: expected an integer from 1 to 1,000, got True"),
    ("stakes", "abc", "stakes: expected a comma-separated string or a list of integers from 1 to 2**64-1"),
])
def test_out_of_range_settings_are_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(message)):
        SimScenario(**{field: value})


def test_numbers_as_strings_from_the_command_line_are_read() -> None:
    scenario = SimScenario(stakes="3000, 1000,1000", validators=3, silent_validators="2,0")
    assert (scenario.stakes, scenario.silent_validators) == ((3000, 1000, 1000), (0, 2))


def test_toml_file_with_overrides(tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text('[sim]\nvalidators = 7\nlight_nodes = 30\nlatency = "regions"\nseed = 3\n', encoding="utf-8")
    scenario = SimScenario.from_toml(path, seed=9, loss=None)
    assert (scenario.validators, scenario.light_nodes, scenario.latency, scenario.seed) == (7, 30, "regions", 9)


def test_unknown_setting_in_a_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text("validators = 3\nvalidatorz = 4\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="validatorz"):
        SimScenario.from_toml(path)


def test_unreadable_file_is_a_scenario_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("validators = = 3\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        SimScenario.from_toml(path)


SECTIONED = """
seed = 3
layers = "ledger,pos,channels"
validators = 5
light_nodes = 6

[network]
latency = "regions"
loss = 0.1
topology = "ba"

[workload]
fee = 2

[pos]
stakes = [5, 4, 3, 2, 1]
proposer = "lottery"

[channels]
payments = 9

[[faults]]
at = 10
down = ["v1"]
"""

FLAT = """
[sim]
seed = 3
layers = "ledger,pos,channels"
validators = 5
light_nodes = 6
latency = "regions"
loss = 0.1
topology = "ba"
fee = 2
stakes = [5, 4, 3, 2, 1]
proposer = "lottery"
payments = 9

[[faults]]
at = 10
down = ["v1"]
"""


def test_sectioned_and_flat_files_give_the_same_scenario(tmp_path: Path) -> None:
    sectioned, flat = tmp_path / "sectioned.toml", tmp_path / "flat.toml"
    sectioned.write_text(SECTIONED, encoding="utf-8")
    flat.write_text(FLAT, encoding="utf-8")
    scenario = SimScenario.from_toml(sectioned)
    assert scenario == SimScenario.from_toml(flat)
    assert (scenario.latency, scenario.fee, scenario.proposer, scenario.payments) == ("regions", 2, "lottery", 9)
    assert scenario.faults[0].nodes == ("v1",)


def test_every_setting_has_one_section() -> None:
    assert set(SECTION_OF) == {field.name for field in attrs.fields(SimScenario)}
    assert set(SECTION_OF.values()) == {"run", "faults", *SECTIONS}


@pytest.mark.parametrize(("text", "message"), [
    ("[network]\nfee = 2\n", "fee belongs in [workload], not in [network]"),
    ("[pos]\nseed = 2\n", "seed belongs in the top of the file, not in [pos]"),
    ("[channels]\npaymnets = 2\n", "unknown scenario setting 'paymnets'; did you mean payments?"),
    ("[workload]\nfee = 1\n[sim]\nfee = 2\n", "fee is given twice"),
    ("network = 3\n", "expected a [network] table of settings, got 3"),
])
def test_misplaced_settings_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=re.escape(message)):
        SimScenario.from_toml(path)
