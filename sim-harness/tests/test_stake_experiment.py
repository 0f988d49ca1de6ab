"""The stake experiment: cases, the plan of runs, pooling, thresholds, silence and drift, and tiny real runs."""

from __future__ import annotations

import attrs
import pytest

from a27_harness.experiments.stake import (
    BOUNDARY_RUN,
    NO_RESTAKE_RUN,
    RESTAKE_KINDS,
    RESTAKE_NO_TRANSFERS_RUN,
    RESTAKE_RUN,
    SHARES_RUN,
    SILENCE_RUN,
    ExperimentError,
    PlannedRun,
    RunSummary,
    StakeCase,
    StakeDrift,
    StakeExperiment,
    boundary_cases,
    gini_series,
    parse_cases,
    parse_strategies,
    pool_shares,
    restake_control,
    rewards_until,
    run_planned,
    run_stake_experiment,
    silence_outcome,
    silent_sets,
    stake_at,
    stake_drift,
    stake_thresholds,
)
from a27_harness.reports.statistics import (
    detectable_standardized_difference,
    gini,
    standard_deviation,
    wilson_interval,
)
from a27_harness.scenario import ScenarioError, SimScenario


def summary(*, kind: str = SHARES_RUN, case: str = "10x-more", strategy: str = "lottery", seed: int = 1,
            stakes: tuple[int, ...] = (1_000_000, 100_000, 100_000, 100_000),
            blocks_proposed: tuple[int, ...] = (30, 3, 4, 3), silent: tuple[int, ...] = (),
            stake_history: tuple[tuple[float, tuple[int, ...]], ...] = (),
            rewards: tuple[int, ...] | None = None, received: tuple[int, ...] | None = None) -> RunSummary:
    """A hand-made run: one block a second, each block worth 100 plus one fee to its proposer."""
    blocks = sum(blocks_proposed)
    return RunSummary(
        kind=kind, case=case, strategy=strategy, seed=seed, silent=silent, stakes=stakes,
        blocks_proposed=blocks_proposed,
        rewards=rewards if rewards is not None else tuple(101 * count for count in blocks_proposed),
        received=received if received is not None else (0,) * len(stakes),
        block_times=tuple(float(height) for height in range(1, blocks + 1)),
        block_finality=tuple(0.1 + 0.01 * (height % 5) for height in range(blocks)), rounds_above_zero=1,
        transfers_submitted=10, transfer_latency=(0.5, 0.7, 0.9), agreed=blocks > 0, supply_ok=True,
        end_time=float(blocks), stake_history=stake_history, bonds_admitted=len(stake_history))


# Cases and settings ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "stakes"), [
    ("equal", (100_000, 100_000, 100_000, 100_000)),
    ("10x-more", (1_000_000, 100_000, 100_000, 100_000)),
    ("10x-less", (10_000, 100_000, 100_000, 100_000)),
    ("2.5x-more", (250_000, 100_000, 100_000, 100_000)),
    ("3x-less", (33_333, 100_000, 100_000, 100_000)),
])
def test_cases_give_validator_zero_its_multiple(name: str, stakes: tuple[int, ...]) -> None:
    assert StakeCase.named(name).stakes(4, 100_000) == stakes


@pytest.mark.parametrize("name", ["", "10y-more", "x-more", "0x-less", "10x-much", "unequal"])
def test_unknown_case_names_are_refused(name: str) -> None:
    with pytest.raises(ExperimentError, match="stake case"):
        StakeCase.named(name)


def test_case_lists_keep_order_and_drop_repeats() -> None:
    assert [case.name for case in parse_cases("10x-less, equal,10x-less")] == ["10x-less", "equal"]
    with pytest.raises(ExperimentError, match="at least one"):
        parse_cases(" , ")


def test_strategy_choice() -> None:
    assert parse_strategies("both") == ("weighted-round-robin", "lottery")
    assert parse_strategies("lottery") == ("lottery",)
    with pytest.raises(ExperimentError, match="both"):
        parse_strategies("dice")


@pytest.mark.parametrize(("settings", "message"), [
    ({"validators": 1}, "2 validators or more"),
    ({"cases": parse_cases("1000x-less")}, "below the chain's min_stake"),
    ({"strategies": ("dice",)}, "unknown proposer strategy"),
    ({"strategies": ()}, "at least one"),
    ({"seeds": 0}, "seeds must be positive"),
    ({"restake_interval": 0.0}, "restake_interval must be positive"),
])
def test_bad_experiment_settings_are_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ExperimentError, match=message):
        StakeExperiment(**settings)  # type: ignore[arg-type]


def test_the_plan_covers_cases_strategies_seeds_silence_and_restaking() -> None:
    experiment = StakeExperiment(seeds=2, duration=50.0, silence_duration=7.0, restake_duration=90.0,
                                 restake_interval=5.0, restake_block_reward=700, restake_seeds=3)
    plan = experiment.plan()
    shares = [run for run in plan if run.kind == SHARES_RUN]
    silence = [run for run in plan if run.kind == SILENCE_RUN]
    boundary = [run for run in plan if run.kind == BOUNDARY_RUN]
    restake = [run for run in plan if run.kind in RESTAKE_KINDS]
    assert len(plan) == len(shares) + len(silence) + len(boundary) + len(restake)
    assert {(run.case, run.scenario.proposer, run.scenario.seed) for run in shares} == {
        (case, strategy, seed) for case in ("equal", "10x-more", "10x-less")
        for strategy in ("weighted-round-robin", "lottery") for seed in (1, 2)}
    assert all(run.scenario.duration == 50.0 and run.scenario.restake_interval is None for run in shares)
    assert [(run.case, run.scenario.proposer, run.scenario.silent_validators) for run in silence] == [
        (case, strategy, silent) for case in ("equal", "10x-more", "10x-less")
        for strategy in ("weighted-round-robin", "lottery") for silent in ((0,), (0, 1), (1, 2), (1, 2, 3))]
    assert {(run.scenario.seed, run.scenario.duration) for run in silence + boundary} == {(1, 7.0)}
    assert [(run.scenario.proposer, run.scenario.stakes, run.scenario.silent_validators) for run in boundary] == [
        (strategy, stakes, silent) for strategy in ("weighted-round-robin", "lottery") for stakes, silent in (
            ((299_999, 200_000, 200_000, 200_000), (0,)), ((300_000, 200_000, 200_000, 200_000), (0,)),
            ((300_001, 200_000, 200_000, 200_000), (0,)), ((200_000, 199_999, 400_000, 400_000), (0, 1)),
            ((200_000, 200_000, 400_000, 400_000), (0, 1)), ((200_000, 200_001, 400_000, 400_000), (0, 1)))]
    assert len(restake) == 3 * 2 * 3 * 3
    assert {run.scenario.seed for run in restake} == {1, 2, 3}
    assert all((run.scenario.block_reward, run.scenario.duration) == (700, 90.0) for run in restake)
    by_kind = {run.kind: run.scenario for run in restake if (run.case, run.scenario.seed) == ("10x-less", 2)
               and run.scenario.proposer == "lottery"}
    assert by_kind[RESTAKE_RUN].restake_interval == by_kind[RESTAKE_NO_TRANSFERS_RUN].restake_interval == 5.0
    assert by_kind[NO_RESTAKE_RUN].restake_interval is None
    assert by_kind[RESTAKE_RUN].transfer_interval == by_kind[NO_RESTAKE_RUN].transfer_interval == 4.0
    assert by_kind[RESTAKE_NO_TRANSFERS_RUN].transfer_interval == 1_000_000.0
    assert all(run.scenario.stakes == experiment.stakes(experiment.case_named(run.case))
               for run in plan if run.kind != BOUNDARY_RUN)
    assert plan[0].label == "shares equal weighted-round-robin seed 1"
    assert silence[3].label == "silence equal weighted-round-robin seed 1 silent v1,v2,v3"


def test_boundary_cases_sit_exactly_at_one_third_and_one_token_either_side() -> None:
    for validators in (2, 3, 4, 7):
        for boundary in boundary_cases(validators, 100_000):
            silent = sum(boundary.stakes[index] for index in boundary.silent)
            # 3 x silent - total moves by 2 per token added to the silent stake (the total grows too).
            assert 3 * silent - sum(boundary.stakes) == 2 * boundary.offset
            assert silence_outcome(summary(kind=BOUNDARY_RUN, case=boundary.name, stakes=boundary.stakes,
                                           silent=boundary.silent, blocks_proposed=(0,) * validators)
                                   ).predicted_halt == (boundary.offset >= 0)
    assert [boundary.name for boundary in boundary_cases(3, 10)] == [
        "v0 at 1/3 - 1", "v0 at 1/3", "v0 at 1/3 + 1", "v0+v1 at 1/3 - 1", "v0+v1 at 1/3", "v0+v1 at 1/3 + 1"]
    assert len(boundary_cases(2, 10)) == 3
    assert silent_sets(2) == ((0,), (1,))
    assert silent_sets(3) == ((0,), (0, 1), (1, 2))
    with pytest.raises(ExperimentError, match="boundary case v0\\+v1 at 1/3 - 1 gives a stake of 999,"):
        StakeExperiment(validators=3, base_stake=1_000, cases=parse_cases("10x-more"))


def _restake(kind: str, seed: int, *, v0_end: int, v0_rewards: int, received: int = 0,
             transfers: int = 10) -> RunSummary:
    stakes = (1_000, 1_000)
    run = summary(kind=kind, case="equal", seed=seed, stakes=stakes, blocks_proposed=(2, 2),
                  stake_history=((0.0, stakes), (4.0, (v0_end, 1_000))), rewards=(v0_rewards, 200),
                  received=(received, 0))
    return attrs.evolve(run, transfers_submitted=transfers, block_proposers=(0, 1, 0, 1),
                        block_rewards=(v0_rewards // 2, 100, v0_rewards // 2, 100))


def test_restake_control_splits_growth_seed_by_seed() -> None:
    runs = [_restake(RESTAKE_RUN, 1, v0_end=1_500, v0_rewards=400, received=150),
            _restake(RESTAKE_NO_TRANSFERS_RUN, 1, v0_end=1_400, v0_rewards=400, transfers=0),
            _restake(NO_RESTAKE_RUN, 1, v0_end=1_000, v0_rewards=300, received=150),
            _restake(RESTAKE_RUN, 2, v0_end=1_300, v0_rewards=300, received=50),
            _restake(RESTAKE_NO_TRANSFERS_RUN, 2, v0_end=1_200, v0_rewards=200, transfers=0),
            _restake(NO_RESTAKE_RUN, 2, v0_end=1_000, v0_rewards=300, received=50),
            _restake(RESTAKE_RUN, 3, v0_end=1_000, v0_rewards=0)]  # no controls: left out
    control = restake_control(runs)
    assert control.seeds == 2
    assert (control.growth.mean, control.growth.runs) == (400, 2)
    # Compounding per seed: 400 - 300 = 100 and 300 - 300 = 0; growth 500 and 300.
    assert control.compounding.mean == 50
    assert control.compounding_fraction is not None
    assert control.compounding_fraction.mean == pytest.approx((100 / 500 + 0 / 300) / 2)
    assert control.transfer_income.mean == 100
    # Not yet bonded: 400 + 150 - 500 = 50 and 300 + 50 - 300 = 50.
    assert (control.unbonded.low, control.unbonded.high) == (50, 50)
    assert control.rewards_without_restaking.mean == 300
    moves = (1_500 / 2_500 - 0.5, 1_300 / 2_300 - 0.5)
    alone = (1_400 / 2_400 - 0.5, 1_200 / 2_200 - 0.5)
    assert control.share_move.mean == pytest.approx(sum(moves) / 2)
    assert control.share_move_without_transfers.mean == pytest.approx(sum(alone) / 2)
    assert control.transfer_effect.mean == pytest.approx((moves[0] - alone[0] + moves[1] - alone[1]) / 2)
    assert control.gini_start == 0
    assert control.gini_end.mean == pytest.approx((gini((1_500, 1_000)) + gini((1_300, 1_000))) / 2)
    assert control.transfers_without_transfers == 0
    assert control.compounding_detectable == pytest.approx(
        detectable_standardized_difference(2, paired=True) * standard_deviation([100, 0]))
    with pytest.raises(ExperimentError, match="no seed has"):
        restake_control(runs[-1:])


def test_gini_series_follows_stake_and_cumulative_rewards() -> None:
    run = _restake(RESTAKE_RUN, 1, v0_end=3_000, v0_rewards=400)
    series = gini_series([run], duration=4.0, points=4)
    assert series.times == (0.0, 1.0, 2.0, 3.0, 4.0)
    # Stake changes at t = 4 only; blocks at t = 1 (v0), 2 (v1), 3 (v0), 4 (v1) paying 200, 100, 200, 100.
    assert [value.mean for value in series.stake] == [0, 0, 0, 0, gini((3_000, 1_000))]
    assert [value.mean for value in series.rewards] == pytest.approx(
        [0, gini((200, 0)), gini((200, 100)), gini((400, 100)), gini((400, 200))])
    assert rewards_until(run, 2.5) == (200, 100)
    assert stake_at(run, 3.9) == (1_000, 1_000)
    with pytest.raises(ExperimentError, match="one case, strategy and kind"):
        gini_series([run, _restake(NO_RESTAKE_RUN, 1, v0_end=1_000, v0_rewards=1)], 4.0)


# Scenario options the experiment relies on --------------------------------------------------------------------------


def test_silent_validators_come_from_text_or_lists_and_must_exist() -> None:
    assert SimScenario(silent_validators="2, 0").silent_validators == (0, 2)
    assert SimScenario(silent_validators=[3]).silent_validators == (3,)
    with pytest.raises(ScenarioError, match="beyond v3"):
        SimScenario(silent_validators=(4,))
    with pytest.raises(ScenarioError, match="validator indices"):
        SimScenario(silent_validators="v1")
    with pytest.raises(ScenarioError, match="validator indices"):
        SimScenario(silent_validators=(-1,))


def test_silence_and_restaking_need_the_pos_layer() -> None:
    with pytest.raises(ScenarioError, match="need the pos layer"):
        SimScenario(layers="ledger", restake_interval=5.0)
    with pytest.raises(ScenarioError, match=r"restake_interval: expected a finite number at least 0\.01"):
        SimScenario(restake_interval=-1.0)


# Analysis on hand-made runs ------------------------------------------------------------------------------------------


def test_pooling_adds_seeds_and_tests_blocks_against_stake() -> None:
    pooled = pool_shares([summary(seed=1, blocks_proposed=(30, 3, 4, 3)),
                          summary(seed=2, blocks_proposed=(31, 2, 3, 4))])
    assert pooled.blocks == 80
    assert pooled.seeds == (1, 2)
    big = pooled.validators[0]
    assert big.blocks == 61
    assert big.stake_share == pytest.approx(10 / 13)
    assert big.block_share == wilson_interval(61, 80)
    assert big.reward_share == pytest.approx(61 / 80)
    assert pooled.chi_square is not None
    assert pooled.chi_square.degrees_of_freedom == 3
    assert pooled.chi_square.p_value > 0.5
    assert pooled.transfers_final == 6
    assert pooled.transfers_submitted == 20
    assert pooled.block_finality["median"] == pytest.approx(0.12)
    assert pooled.block_interval == pytest.approx(1.0)


def test_pooling_flags_a_proposer_choice_that_ignores_stake() -> None:
    pooled = pool_shares([summary(blocks_proposed=(25, 25, 25, 25))])
    assert pooled.chi_square is not None
    assert pooled.chi_square.p_value < 1e-6


def test_pooling_without_blocks_has_no_test_and_mixed_runs_are_refused() -> None:
    empty = pool_shares([summary(blocks_proposed=(0, 0, 0, 0))])
    assert empty.chi_square is None
    assert empty.block_finality == {}
    assert empty.block_interval is None
    with pytest.raises(ExperimentError, match="one case and strategy"):
        pool_shares([summary(case="equal"), summary(case="10x-more")])
    with pytest.raises(ExperimentError, match="one case and strategy"):
        pool_shares([])


def test_thresholds_follow_the_one_third_and_two_thirds_rules() -> None:
    equal = stake_thresholds("equal", (100_000,) * 4)
    assert (equal.halts_alone, equal.finalizes_alone) == ((False,) * 4, (False,) * 4)
    assert (equal.fewest_to_halt, equal.fewest_to_finalize) == (2, 3)
    more = stake_thresholds("10x-more", (1_000_000, 100_000, 100_000, 100_000))
    assert more.halts_alone == (True, False, False, False)
    assert more.finalizes_alone == (True, False, False, False)
    assert (more.fewest_to_halt, more.fewest_to_finalize) == (1, 1)
    less = stake_thresholds("10x-less", (10_000, 100_000, 100_000, 100_000))
    assert less.halts_alone == (False,) * 4
    assert (less.fewest_to_halt, less.fewest_to_finalize) == (2, 3)


def test_exactly_one_third_halts_and_exactly_two_thirds_does_not_finalize() -> None:
    thirds = stake_thresholds("thirds", (1_000, 1_000, 1_000))
    assert thirds.halts_alone == (True, True, True)
    two_to_one = stake_thresholds("2x-more", (2_000, 1_000))
    assert two_to_one.halts_alone == (True, True)
    assert two_to_one.finalizes_alone == (False, False)
    assert two_to_one.fewest_to_finalize == 2


def test_silence_outcomes_compare_with_the_quorum_rule() -> None:
    big_silent = silence_outcome(summary(kind=SILENCE_RUN, silent=(0,), blocks_proposed=(0, 0, 0, 0)))
    assert big_silent.predicted_halt
    assert big_silent.halted
    assert big_silent.as_predicted
    assert big_silent.silent == ("v0",)
    assert big_silent.silent_share == pytest.approx(10 / 13)
    others_silent = silence_outcome(summary(kind=SILENCE_RUN, silent=(1, 2, 3), blocks_proposed=(12, 0, 0, 0)))
    assert not others_silent.predicted_halt
    assert others_silent.proposers == ("v0",)
    assert others_silent.as_predicted
    stalled = silence_outcome(summary(kind=SILENCE_RUN, case="equal", stakes=(1_000,) * 4, silent=(0,),
                                      blocks_proposed=(0, 0, 0, 0)))
    assert not stalled.predicted_halt
    assert not stalled.as_predicted


def test_drift_shares_moves_and_where_the_new_stake_came_from() -> None:
    history = ((0.0, (1_000, 1_000)), (10.0, (1_500, 1_000)), (20.0, (1_500, 1_600)))
    drift = stake_drift(summary(kind=RESTAKE_RUN, case="equal", stakes=(1_000, 1_000), blocks_proposed=(5, 5),
                                stake_history=history, rewards=(500, 500), received=(300, 100)))
    assert drift.start_shares == (0.5, 0.5)
    assert drift.end_shares == pytest.approx((1_500 / 3_100, 1_600 / 3_100))
    assert drift.largest_move == pytest.approx(0.1)
    assert drift.reward_shares == (0.5, 0.5)
    assert drift.received_shares == (0.75, 0.25)
    with pytest.raises(ExperimentError, match="no stake history"):
        stake_drift(summary())


def test_drift_reports_a_share_crossing_one_third() -> None:
    drift = StakeDrift(case="10x-less", strategy="lottery", blocks=3, times=(0.0, 5.0, 9.0, 12.0),
                       stakes=((100, 1_000, 1_000, 1_000), (100, 1_100, 1_000, 1_000), (100, 1_000, 1_000, 1_000),
                               (100, 1_200, 1_000, 1_000)),
                       rewards=(0, 0, 0, 0), received=(0, 0, 0, 0), bonds_admitted=3)
    crossings = drift.threshold_crossings()
    assert [(crossing.validator, crossing.power, crossing.gained, crossing.first_time, crossing.held_at_end)
            for crossing in crossings] == [("v1", "halt", True, 5.0, True)]


# Tiny real runs ------------------------------------------------------------------------------------------------------


def test_a_restake_run_bonds_rewards_and_records_the_stake_history() -> None:
    scenario = SimScenario(validators=3, light_nodes=1, duration=6.0, seed=3, stakes=(30_000, 10_000, 10_000),
                           restake_interval=2.0, block_reward=500)
    run = run_planned(PlannedRun(RESTAKE_RUN, "3x-more", scenario))
    assert run.consistent
    assert run.blocks >= 3
    assert sum(run.blocks_proposed) == run.blocks
    # Rewards are the block rewards plus fees of one token per included transfer (bonds pay none).
    assert 500 * run.blocks <= sum(run.rewards) <= 500 * run.blocks + run.transfers_submitted
    assert run.bonds_admitted >= 1
    assert run.stake_history[0] == (0.0, (30_000, 10_000, 10_000))
    assert len(run.stake_history) == run.blocks + 1
    end = run.stake_history[-1][1]
    assert sum(end) > 50_000
    assert all(after >= before for after, before in zip(end, (30_000, 10_000, 10_000), strict=True))


def test_a_silent_validator_never_proposes() -> None:
    scenario = SimScenario(validators=4, light_nodes=1, duration=6.0, seed=2, silent_validators=(1,))
    run = run_planned(PlannedRun(SILENCE_RUN, "equal", scenario))
    assert run.consistent
    assert run.blocks >= 3
    assert run.blocks_proposed[1] == 0
    assert run.stake_history == ()


def test_worker_processes_give_the_same_result_as_one_process() -> None:
    experiment = StakeExperiment(cases=parse_cases("2x-more"), strategies=("lottery",), seeds=1, validators=3,
                                 light_nodes=1, duration=4.0, silence_duration=3.0, restake_seeds=1,
                                 restake_duration=4.0, restake_interval=2.0)
    seen: list[tuple[int, int, str]] = []
    alone = run_stake_experiment(experiment, progress=lambda done, planned, label: seen.append((done, planned, label)))
    pooled = run_stake_experiment(experiment, jobs=2)
    assert alone == pooled
    assert [(done, planned) for done, planned, _ in seen] == [(done, 13) for done in range(1, 14)]
    assert [run.kind for run in alone.runs] == [SHARES_RUN, *[SILENCE_RUN] * 3, *[BOUNDARY_RUN] * 6, *RESTAKE_KINDS]
    assert alone.ok
