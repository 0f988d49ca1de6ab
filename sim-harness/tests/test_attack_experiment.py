"""`a27 experiment attacks`: Nakamoto's table, the plan over the registry, the scoreboard and cards, determinism."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from a27_attacks import ATTACKS, Arena, Attack, AttackerNode, AttackResult, Outcome, param, register
from a27_attacks.pos_attacks import SLASHABLE_COMPUTED
from a27_harness.attacks import AttackRun, run_attack
from a27_harness.cli import main
from a27_harness.experiments.attacks import (
    DEFENDED,
    UNDEFENDED,
    AttackExperiment,
    AttackExperimentError,
    AttackExperimentResult,
    AttackRunSummary,
    a27_finality_bound,
    build_score,
    card_kind,
    nakamoto_probability,
    run_attack_experiment,
)
from a27_harness.reports import attack_experiment as report
from a27_harness.reports.statistics import bootstrap_mean_interval, mean_interval
from a27_harness.scenario import SimScenario

WHITEPAPER = [(0.1, 1, 0.2045873), (0.1, 2, 0.0509779), (0.1, 5, 0.0009137), (0.3, 5, 0.1773523),
              (0.3, 10, 0.0416605)]
"""Values from the table in section 11 of the Bitcoin whitepaper."""


@pytest.mark.parametrize(("q", "z", "expected"), WHITEPAPER)
def test_nakamoto_probability_matches_the_whitepaper_table(q: float, z: int, expected: float) -> None:
    assert round(nakamoto_probability(q, z), 7) == expected


def test_nakamoto_probability_at_the_edges_and_bad_input() -> None:
    assert nakamoto_probability(0.1, 0) == 1.0  # nothing buried yet
    assert nakamoto_probability(0.0, 3) == 0.0
    assert nakamoto_probability(0.5, 10) == nakamoto_probability(0.7, 1) == 1.0
    for q, z in ((-0.1, 1), (1.1, 1), (0.1, -1)):
        with pytest.raises(AttackExperimentError):
            nakamoto_probability(q, z)


def test_a27_finality_bound_is_zero_up_to_one_third() -> None:
    assert a27_finality_bound(0.0) == a27_finality_bound(1 / 3) == 0.0
    assert a27_finality_bound(0.34) == 1.0


def test_mean_interval_widens_with_spread_and_collapses_on_one_value() -> None:
    single = mean_interval([5.0])
    assert (single.mean, single.low, single.high, single.runs) == (5.0, 5.0, 5.0, 1)
    spread = mean_interval([0.0, 10.0])
    assert spread.mean == 5.0 and spread.low < -50 and spread.high > 60  # t with 1 degree of freedom: 12.71
    with pytest.raises(ValueError, match="at least one value"):
        mean_interval([])


@attrs.frozen
class _CoalitionProbe(Attack):
    """A test attack with a stake-share parameter; its light node does nothing."""

    name = "test-share-probe"
    lab = "ledger"
    family = "byzantine"
    summary = "A probe for the experiment's share sweep."
    success = "never"
    defences = ("ledger.conflicting_nonces",)
    structural = True

    share: float = param(0.2, "the attacker's share of the bonded stake")

    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        """One idle light node."""
        return (AttackerNode("a0", "light", "idle"),)

    def judge(self, outcome: Outcome) -> AttackResult:
        """The default verdict, with a computed price as the coalition reports one."""
        result = super().judge(outcome)
        return attrs.evolve(result, cost={**result.cost, SLASHABLE_COMPUTED: 7})


@attrs.frozen
class _SybilProbe(Attack):
    """A test Sybil-family attack: two idle light nodes; one bans an honest peer on an honest node (a false
    positive, so that the defences' cost columns have something to count)."""

    name = "test-sybil-probe"
    lab = "ledger"
    family = "sybil"
    summary = "A probe for the experiment's identity sweep."
    success = "never"
    defences = ()

    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        """Two idle light nodes."""
        return (AttackerNode("a0", "light", "idle"), AttackerNode("a1", "light", "idle"))

    async def act(self, arena: Arena) -> None:
        """Make the first honest validator ban the second (test only: honest communities are not the attacker's)."""
        first, second = arena.honest()[:2]
        community = first.communities["ledger"]
        peer = community.network.get_verified_by_public_key_bin(second.communities["ledger"].my_peer.public_key
                                                                .key_to_bin())
        community.ban(peer, "test probe")


@pytest.fixture
def probes() -> Iterator[None]:
    """Keep the probes registered only while a test needs them (other tests list the registry)."""
    register(_CoalitionProbe)
    register(_SybilProbe)
    yield
    del ATTACKS[_CoalitionProbe.name], ATTACKS[_SybilProbe.name]


def test_cards_follow_parameters_and_families(probes: None) -> None:
    assert card_kind(ATTACKS["double-spend-lab1"]) == "double-spend"
    assert card_kind(_CoalitionProbe) == "share"
    assert card_kind(_SybilProbe) == "identities"


def test_the_plan_covers_every_registered_attack_both_builds_seeds_and_sweeps(probes: None) -> None:
    experiment = AttackExperiment(seeds=3, share_points=(0.2, 0.4), light_node_points=(2, 5))
    plan = experiment.plan()
    assert {run.attack for run in plan} == set(ATTACKS)
    assert experiment.attack_names() == tuple(sorted(ATTACKS))
    probe = [run for run in plan if run.attack == _CoalitionProbe.name]
    assert {run.parameters for run in probe} == {(("share", "0.2"),), (("share", "0.4"),)}
    assert len(probe) == 2 * 2 * 3
    if "vote-equivocation" in ATTACKS:  # a stake share, but not a structural control: run at its default
        assert {run.parameters for run in plan if run.attack == "vote-equivocation"} == {()}
    sybil = [run for run in plan if run.attack == _SybilProbe.name]
    assert sorted({run.light_nodes for run in sybil}) == [2, 4, 5]  # the experiment's own 4 included
    double_spend = [run for run in plan if run.attack == "double-spend-lab1"]
    assert [(run.build, run.seed) for run in double_spend] == [
        (build, seed) for build in (UNDEFENDED, DEFENDED) for seed in (1, 2, 3)]


def test_unknown_attacks_and_bad_settings_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(AttackExperimentError, match="no attack named 'nope'"):
        AttackExperiment(attacks=("nope",)).plan()
    with pytest.raises(AttackExperimentError, match="share_points"):
        AttackExperiment(share_points=(0.5, 1.0))
    assert main(["experiment", "attacks", "--attacks", "nope", "--out", str(tmp_path)]) == 2
    assert "a27 experiment attacks: no attack named 'nope'" in capsys.readouterr().err


def test_a_run_counts_honest_peers_banned_by_honest_nodes() -> None:
    scenario = SimScenario(layers=("ledger",), seed=3, light_nodes=2, duration=4)
    found = run_attack(AttackRun(_SybilProbe(), scenario))
    assert (found.honest_banned, found.replay_honest_banned) == (1, 0)
    assert found.honest_slashed == found.replay_honest_slashed == 0


def test_share_and_identity_sweeps_make_their_cards(probes: None, tmp_path: Path) -> None:
    experiment = AttackExperiment(attacks=(_CoalitionProbe.name, _SybilProbe.name), seeds=1, light_nodes=2,
                                  duration=4.0, share_points=(0.2, 0.4), light_node_points=(2, 3))
    result = run_attack_experiment(experiment)
    assert len(result.runs) == 8
    probe = [run for run in result.runs if run.attack == _CoalitionProbe.name]
    assert sorted({run.stake_share for run in probe}) == [0.2, 0.4]
    assert {(run.attacker_slashable, run.attacker_slashed) for run in probe} == {(7, 0)}  # computed beside measured
    sybil = [run for run in result.runs if run.attack == _SybilProbe.name]
    assert sorted({run.identity_share for run in sybil}) == [2 / 9, 2 / 8]
    assert all(run.honest_banned == 1 for run in sybil)
    report.write_report(result, tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    sybil_section = next(section for section in data["attacks"] if section["attack"] == _SybilProbe.name)
    assert sybil_section["cost"]["wrongly_banned_runs"] == 2  # one defended run at each of the two sweep points
    probe_section = next(section for section in data["attacks"] if section["attack"] == _CoalitionProbe.name)
    assert {point["defended"]["attacker_slashable"]["mean"] for point in probe_section["points"]} == {7}
    markdown = (tmp_path / "report.md").read_text()
    assert "No closed form" in markdown and "identity share" in markdown
    assert "a27's finality bound, 0 up to 1/3" in markdown
    for name in ("scoreboard.png", f"card-{_CoalitionProbe.name}.png", f"card-{_SybilProbe.name}.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.mark.slow
def test_quick_run_of_every_registered_attack_writes_the_scoreboard_and_a_card_each(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiment", "attacks", "--quick", "--jobs", "2", "--no-progress", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "blue team: held in every defended run" in out
    data = json.loads((tmp_path / "report.json").read_text())
    ran = [section["attack"] for section in data["attacks"]]
    assert sorted([*ran, *data["skipped"]]) == sorted(ATTACKS)
    assert data["experiment"]["seeds"] == 2
    for name in ["scoreboard.png", "report.md", *(f"card-{attack}.png" for attack in ran)]:
        assert (tmp_path / name).stat().st_size > 0
    nakamoto = {(row["q"], row["z"]): row["probability"] for row in data["nakamoto"]}
    assert [nakamoto[(q, z)] for q, z, _ in WHITEPAPER] == [expected for _, _, expected in WHITEPAPER]
    markdown = (tmp_path / "report.md").read_text()
    assert "| 0.3 | 10 | 0.0416605 |" in markdown
    section = next(section for section in data["attacks"] if section["attack"] == "double-spend-lab1")
    assert section["undefended"]["success"]["share"] > 0
    assert section["defended"]["stolen"]["mean"] == 0


@pytest.mark.slow
def test_the_same_options_give_the_same_bytes_with_one_or_two_worker_processes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for jobs in ("1", "2"):
        assert main(["experiment", "attacks", "--quick", "--attacks", "double-spend-lab1", "--jobs", jobs,
                     "--no-progress", "--out", str(tmp_path / jobs)]) == 0
        outputs.append((capsys.readouterr().out, _files(tmp_path / jobs)))
    assert outputs[0] == outputs[1]
    assert set(outputs[0][1]) == {"report.md", "report.json", "scoreboard.png", "card-double-spend-lab1.png"}


def test_tokens_stolen_intervals_stay_within_what_runs_can_steal() -> None:
    hauls = [0, 0, 10_000]  # one seed of three stole the attacker's whole 10,000
    stolen = bootstrap_mean_interval(hauls)
    assert 0 <= stolen.low <= stolen.mean <= stolen.high <= 10_000
    assert stolen == bootstrap_mean_interval(hauls)  # seeded: the same values give the same interval
    assert mean_interval(hauls).high > 10_000 and mean_interval(hauls).low < 0  # what the t interval printed
    runs = [attrs.evolve(_summary(), seed=seed, stolen=haul) for seed, haul in enumerate(hauls, 1)]
    score = build_score("undefended", runs)
    assert score.stolen.low >= 0 and score.stolen.high <= 10_000


def test_a_card_draws_an_attack_that_succeeded_in_every_one_of_ten_runs(tmp_path: Path) -> None:
    # The full-size experiment (10 seeds) crashed drawing the coalition's card: 10 of 10 gave a Wilson high below
    # the share 1.0, and matplotlib refuses a negative error bar.
    experiment = AttackExperiment(attacks=("double-spend-lab1",), seeds=10, light_nodes=2)
    runs = tuple(attrs.evolve(_summary(), seed=seed, build=build, succeeded=True, stolen=10_000)
                 for build in ("undefended", "defended") for seed in range(1, 11))
    result = AttackExperimentResult(experiment, runs, {})
    card = tmp_path / "card-double-spend-lab1.png"
    report.plots(result)[card.name](card)
    assert card.read_bytes().startswith(b"\x89PNG")
    (point,) = report.sections(result)[0].points
    assert point.defended.success.share == 1.0 == point.defended.success.high


def test_structural_controls_are_marked_and_expected_to_fail(capsys: pytest.CaptureFixture[str]) -> None:
    controls = sorted(name for name, attack in ATTACKS.items() if attack.structural)
    assert controls == ["coalition", "double-spend-pos", "mempool-flood", "withhold"]
    assert main(["attack", "--list"]) == 0
    assert capsys.readouterr().out.count("structural control: expected to fail") == len(controls)
    experiment = AttackExperiment(attacks=("mempool-flood",), seeds=1)
    failed = attrs.evolve(_summary(), attack="mempool-flood", build="undefended", succeeded=False,
                          light_nodes=experiment.light_nodes)
    held = AttackExperimentResult(experiment, (failed, attrs.evolve(failed, build="defended")), {})
    assert held.ok and not held.control_successes  # a control failing undefended is the expected result
    assert "mempool-flood (structural control: expected to fail) undefended" in report.format_terminal(held)
    broke = AttackExperimentResult(experiment, (attrs.evolve(failed, succeeded=True),), {})
    assert not broke.ok and broke.control_successes  # a control that succeeds: the structure did not hold


def _summary() -> AttackRunSummary:
    """A run summary with nothing stolen or broken (fields set per test with attrs.evolve)."""
    return AttackRunSummary(
        attack="double-spend-lab1", family="double-spend", parameters=(), build="undefended", seed=1, validators=4,
        light_nodes=2, defences_off=(), attacker_nodes=1, attacker_validators=0, stake_share=0.0,
        identity_share=0.1, succeeded=False, stolen=0, broken=(), detected=False, first_detection=None,
        attacker_slashed=0, attacker_fees=0, honest_failed=0, replay_failed=0, honest_latency=None,
        replay_latency=None, honest_slashed=0, replay_honest_slashed=0, honest_banned=0, replay_honest_banned=0)
