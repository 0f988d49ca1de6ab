"""`a27 attack`: listing, running, bad input, determinism, and the Lab 1 double spend with the defence off and on."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

import a27_ledger
from a27_attacks import Attack, AttackerNode, DoubleSpendLab1
from a27_harness.attacks import AttackRun, UnknownDefence, available_defences, defence_settings, run_attack
from a27_harness.cli import main
from a27_harness.scenario import SimScenario

SPLIT_SEED = 11
"""A seed whose 4-validator, 4-light-node Lab 1 run ends split by the double spend (13 and 1 do too; 2 does not)."""
SMALL = ["--light-nodes", "4", "--duration", "10"]


def _scenario(seed: int = SPLIT_SEED) -> SimScenario:
    return SimScenario(layers=("ledger",), seed=seed, light_nodes=4, duration=10)


def test_list_names_each_attack_with_its_summary_defences_and_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["attack", "--list"]) == 0
    out = capsys.readouterr().out
    assert "\ndouble-spend-lab1 (lab ledger, double-spend): A light node owned by the attacker" in "\n" + out
    assert "defences: ledger.conflicting_nonces" in out
    assert "--param at=5.0:" in out


def test_the_undefended_lab1_double_spend_splits_the_network_and_pays_out_twice() -> None:
    switched_off = ("ledger.conflicting_nonces",)
    report = run_attack(AttackRun(DoubleSpendLab1(), _scenario(), switched_off))
    assert report.result.succeeded
    assert report.result.stolen == 10_000 == report.outcome.paid_twice
    assert report.result.broken == ("agreement",)
    assert report.outcome.replay_agreement and not report.outcome.agreement
    assert report.outcome.excess_supply == 0  # each view conserves supply: the theft is across views
    assert report.outcome.notes["to sink-a via v0"] == report.outcome.notes["to sink-b via v1"] == "accepted"


def test_the_defended_lab1_double_spend_steals_nothing_and_honest_nodes_agree() -> None:
    report = run_attack(AttackRun(DoubleSpendLab1(), _scenario()))
    assert not report.result.succeeded
    assert report.result.stolen == 0
    assert report.outcome.agreement
    assert report.outcome.excess_supply == 0


FORWARD_SEED = 2
"""A seed whose chained double spend (forward=True) gets both onward spends admitted before the conflict (3 and 13
split too; 11 and 1 do not: the conflicting entry won the race)."""


def test_the_chained_double_spend_beats_conflicting_nonces_alone() -> None:
    attack = DoubleSpendLab1(forward=True)
    report = run_attack(AttackRun(attack, _scenario(FORWARD_SEED), ("ledger.confirmed_credits",)))
    assert report.result.succeeded
    assert report.result.broken == ("agreement",)
    assert report.result.stolen == 20_000
    assert report.outcome.excess_supply == 0


def test_the_chained_double_spend_steals_nothing_with_confirmed_credits() -> None:
    report = run_attack(AttackRun(DoubleSpendLab1(forward=True), _scenario(FORWARD_SEED)))
    assert not report.result.succeeded
    assert report.result.stolen == 0
    assert report.outcome.agreement
    assert report.outcome.honest_failed == report.outcome.replay_failed


def test_a_run_prints_the_verdict_and_writes_the_same_bytes_for_the_same_seed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for attempt in ("one", "two"):
        assert main(["attack", "double-spend-lab1", "--seed", str(SPLIT_SEED), *SMALL, "--undefended",
                     "--out", str(tmp_path / attempt)]) == 0
        files = [(tmp_path / attempt / name).read_bytes() for name in ("report.md", "report.json")]
        outputs.append((capsys.readouterr().out, *files))
    assert outputs[0] == outputs[1]
    stdout = outputs[0][0]
    assert "verdict: SUCCEEDED; tokens stolen 10,000; guarantees broken: agreement" in stdout
    data = json.loads(outputs[0][2])
    assert data["stolen"] == 10_000 and data["audit"]["paid_twice"] == 10_000
    assert data["attack"]["parameters"] == {"at": 5.0, "fee": 0, "first_validator": 0, "second_validator": 1,
                                            "forward": False, "forward_copies": 21, "forward_spacing": 0.005}


@pytest.mark.parametrize(("arguments", "message"), [
    (["attack"], "name an attack"),
    (["attack", "no-such-attack"],
     "no attack named 'no-such-attack'; attacks are censor, coalition, double-spend-lab1"),
    (["attack", "double-spend-lab1", "--param", "at=nan"], "expects a finite float, got 'nan'"),
    (["attack", "double-spend-lab1", "--param", "speed=3"], "unknown parameter 'speed=3'"),
    (["attack", "double-spend-lab1", "--param", "second_validator=9"], "validator index 9 is out of range"),
    (["attack", "double-spend-lab1", "--without", "moon.shield"], "no defence layer 'moon'"),
    (["attack", "double-spend-lab1", "--without", "pos.no_such_field"], "the pos layer has no such defence"),
])
def test_bad_input_is_one_line_and_exit_2(arguments: list[str], message: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*arguments, "--out", str(tmp_path)] if len(arguments) > 1 else arguments) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and message in captured.err


def test_bad_numbers_on_the_command_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["attack", "double-spend-lab1", "--duration", "nan"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_switching_off_maps_layer_dot_field_onto_the_layer_settings_defences() -> None:
    assert defence_settings((), ("ledger",)) == {}
    with pytest.raises(UnknownDefence):
        defence_settings(("ledger.no_such_field",), ("ledger",))
    settings = defence_settings(("ledger.conflicting_nonces",), ("ledger",))
    assert settings["ledger"]["defences"] == a27_ledger.LedgerDefences(conflicting_nonces=False)


@attrs.frozen
class _IdleAttackers(Attack):
    """Attacker nodes that do nothing: the attack run must equal its honest replay."""

    name = "idle"
    lab = "pos"
    family = "byzantine"
    summary = "Attacker nodes that do nothing."
    success = "never"
    defences = ("pos.none",)

    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        """A validator and a light node."""
        return (AttackerNode("a0", "validator", "idles"), AttackerNode("a1", "light", "idles"))


def test_idle_attackers_on_the_pos_lab_change_nothing_and_are_audited_from_the_chain_state() -> None:
    report = run_attack(AttackRun(_IdleAttackers(), SimScenario(seed=3, light_nodes=4, duration=10)))
    assert not report.result.succeeded
    assert report.outcome.agreement and report.outcome.excess_supply == 0
    assert set(report.outcome.gain_by_node.values()) == {0}
    assert [audit.name for audit in report.audits] == ["v0", "v1", "v2", "v3", "l0", "l1", "l2", "l3"]
    # a0 earns block rewards as an honest validator would: its accounts hold more than their genesis balances.
    assert report.audits[0].attacker_holds == report.audits[0].replay_holds > 2 * 10_000
    assert report.result.detections == ()


@attrs.frozen
class _FakeDefences:
    """Stands in for a layer's defences class that another change adds."""

    shield: bool = True
    wall: bool = True


def test_defence_names_map_generically_onto_each_layer_and_peers_onto_every_community(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import a27_pos  # noqa: PLC0415 - patched below

    monkeypatch.setattr(a27_pos, "PosDefences", _FakeDefences, raising=False)
    monkeypatch.setattr(a27_ledger, "PeerDefences", _FakeDefences, raising=False)
    assert {"pos.shield", "pos.wall", "peers.shield", "peers.wall"} <= set(available_defences())
    settings = defence_settings(("pos.wall", "peers.shield"), ("ledger", "pos"))
    assert settings == {"pos": {"defences": _FakeDefences(wall=False), "peer_defences": _FakeDefences(shield=False)}}
    assert defence_settings(("peers.wall",), ("ledger",)) == {"ledger": {"peer_defences": _FakeDefences(wall=False)}}
    with pytest.raises(UnknownDefence, match=r"the pos layer has no such defence \(defences: .*pos\.shield"):
        defence_settings(("pos.moat",), ("ledger", "pos"))


def test_drop_lines_are_counted_on_stderr_unless_the_log_level_is_debug(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    common = ["attack", "double-spend-lab1", "--seed", str(SPLIT_SEED), *SMALL]
    assert main([*common, "--out", str(tmp_path / "quiet")]) == 0
    quiet = capsys.readouterr()
    assert not [line for line in quiet.err.splitlines() if line.startswith("dropped ")]
    assert "dropped-message log lines not shown" in quiet.err
    assert main([*common, "--log-level", "debug", "--out", str(tmp_path / "debug")]) == 0
    loud = capsys.readouterr()
    assert [line for line in loud.err.splitlines() if line.startswith("dropped ")]
    assert loud.out == quiet.out
    assert (tmp_path / "quiet" / "report.json").read_bytes() == (tmp_path / "debug" / "report.json").read_bytes()
