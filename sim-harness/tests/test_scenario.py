"""Scenario settings: defaults, validation, TOML files and overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from a27_harness.scenario import ScenarioError, SimScenario


def test_defaults_are_the_lab_1_shape() -> None:
    scenario = SimScenario()
    assert (scenario.validators, scenario.light_nodes, scenario.seed) == (4, 16, 7)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("validators", 0, "validators must be at least 1"),
    ("light_nodes", -3, "light_nodes must be at least 1"),
    ("duration", 0.0, "duration must be positive"),
    ("loss", 1.0, "loss must be in [0, 1)"),
    ("loss", -0.1, "loss must be in [0, 1)"),
])
def test_out_of_range_settings_are_refused(field: str, value: float, message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace(")", r"\)")):
        SimScenario(**{field: value})


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
