"""The stake experiment's report: terminal tables, the reading of the numbers, report.json, Markdown and plots."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from a27_harness.experiments.stake import (
    BOUNDARY_RUN,
    RESTAKE_KINDS,
    RESTAKE_RUN,
    SHARES_RUN,
    SILENCE_RUN,
    PlannedRun,
    RunSummary,
    StakeExperiment,
    StakeExperimentResult,
    parse_cases,
)
from a27_harness.reports.stake import (
    PLOTS,
    findings,
    format_terminal,
    precision_sentence,
    report_data,
    restake_control_sentences,
    write_report,
)


def _made_up(run: PlannedRun, index: int) -> RunSummary:
    """A plausible summary of a planned run: blocks by stake (none when too much stake is silent)."""
    stakes = run.scenario.validator_stakes()
    silent = run.scenario.silent_validators
    halted = 3 * sum(stakes[position] for position in silent) >= sum(stakes)
    blocks = 0 if halted else 40 + index
    proposed = [0 if position in silent else round(blocks * stake / sum(stakes))
                for position, stake in enumerate(stakes)]
    proposed[0] += blocks - sum(proposed)
    history: tuple[tuple[float, tuple[int, ...]], ...] = ()
    proposers: tuple[int, ...] = ()
    if run.kind == RESTAKE_RUN:
        # Validator 1 grows by a tenth of its stake per block: enough to cross 1/3 in the 10x-less case.
        history = tuple((float(height), (stakes[0], stakes[1] + height * stakes[1] // 10, *stakes[2:]))
                        for height in range(blocks + 1))
    elif run.kind in RESTAKE_KINDS:
        history = tuple((float(height), stakes) for height in range(blocks + 1))
    if run.kind in RESTAKE_KINDS:
        proposers = tuple(position for position, count in enumerate(proposed) for _ in range(count))
    return RunSummary(
        kind=run.kind, case=run.case, strategy=run.scenario.proposer, seed=run.scenario.seed, silent=silent,
        stakes=stakes, blocks_proposed=tuple(proposed), rewards=tuple(100 * count for count in proposed),
        received=(0,) * len(stakes), block_times=tuple(float(height) for height in range(1, blocks + 1)),
        block_finality=tuple(0.2 for _ in range(blocks)), rounds_above_zero=0, transfers_submitted=5,
        transfer_latency=() if halted else (0.8, 1.0), agreed=not halted, supply_ok=True,
        end_time=60.0 if halted else float(blocks), stake_history=history, bonds_admitted=len(history),
        block_proposers=proposers, block_rewards=(100,) * len(proposers))


@pytest.fixture(scope="module")
def result() -> StakeExperimentResult:
    experiment = StakeExperiment(seeds=2, restake_seeds=2)
    return StakeExperimentResult(experiment, tuple(_made_up(run, index) for index, run in enumerate(experiment.plan())))


def test_terminal_summary_has_every_table_and_the_verdict(result: StakeExperimentResult) -> None:
    text = format_terminal(result)
    assert text == format_terminal(result)
    for heading in ("Who can halt or finalize", "Blocks and rewards by validator", "Finality in seconds",
                    "Silent validators", "Restaking"):
        assert heading in text
    assert "10x-more, lottery:" in text
    assert re.search(r"^10x-more +lottery +v0 +76\.9% +halt +0 +- +0/5 +yes$", text, re.MULTILINE)
    # One token more for v0 is 2/3 of a token more than a third of the (one token larger) total.
    assert re.search(r"^v0 at 1/3 \+ 1 +lottery +v0 +300,001/900,001 \(1/3 \+ 0\.6667\) +halt +0 ", text,
                     re.MULTILINE)
    assert re.search(r"^v0 at 1/3 +lottery +v0 +300,000/900,000 \(exactly 1/3\) +halt +0 ", text, re.MULTILINE)
    assert re.search(r"^v0 at 1/3 - 1 +weighted-round-robin +v0 +299,999/899,999 \(1/3 - 0\.6667\) +live +\d+ ",
                     text, re.MULTILINE)
    assert "Where v0's stake growth came from" in text
    assert text.endswith("held at least 1/3 of the stake")
    assert "VERDICT: OK" in text


def test_a_silence_run_against_the_rule_fails_the_verdict(result: StakeExperimentResult) -> None:
    runs = list(result.runs)
    position = next(index for index, run in enumerate(runs)
                    if run.kind == SILENCE_RUN and run.case == "10x-more" and run.silent == (0,))
    # v0 holds 10/13 of the stake: a block finalized while it is silent contradicts the quorum rule.
    runs[position] = attrs.evolve(runs[position], block_times=(1.0,), block_finality=(0.2,),
                                  blocks_proposed=(0, 1, 0, 0), agreed=True)
    broken = StakeExperimentResult(result.experiment, tuple(runs))
    assert not broken.ok
    assert "VERDICT: FAILED - 1 silence runs did not behave as the quorum rule predicts" in format_terminal(broken)


def test_findings_read_shares_tests_silence_and_crossings(result: StakeExperimentResult) -> None:
    sentences = findings(result)
    text = " ".join(sentences)
    assert "Under weighted-round-robin, v0's share of the blocks" in text
    assert "chi-square p-values" in text
    assert ("Silence in 10x-more: v0 silent (76.9%, predicted halt): weighted-round-robin halted (no block in 60 s), "
            "lottery halted (no block in 60 s), as the quorum rule predicts") in text
    assert "as the quorum rule predicts" in text
    assert "In 10x-less under weighted-round-robin, v1 gained the power to halt the chain alone" in text


def test_json_holds_every_run_and_every_analysis(result: StakeExperimentResult) -> None:
    data = json.loads(json.dumps(report_data(result)))
    assert data["verdict"]["ok"] is True
    assert len(data["runs"]) == len(result.runs)
    assert len(data["shares"]) == 6
    assert data["experiment"]["cases"]["10x-more"] == [1_000_000, 100_000, 100_000, 100_000]
    assert [item["case"] for item in data["thresholds"]] == ["equal", "10x-more", "10x-less"]
    assert {item["as_predicted"] for item in data["silence"]} == {True}
    crossing = data["restake"][4]["threshold_crossings"][0]
    assert (crossing["validator"], crossing["power"], crossing["gained"]) == ("v1", "halt", True)


def test_report_directory_has_markdown_json_and_readable_plots(result: StakeExperimentResult, tmp_path: Path) -> None:
    markdown = write_report(result, tmp_path / "report")
    text = markdown.read_text(encoding="utf-8")
    for name in PLOTS.values():
        assert f"]({name})" in text
        assert (tmp_path / "report" / name).read_bytes().startswith(b"\x89PNG")
    assert "## What the numbers say" in text
    assert "| 10x-more | v0 | 76.9% | yes | yes |" in text
    assert json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))["verdict"]["ok"] is True


# Findings read from the numbers: two data sets each, and the sentence must follow them ------------------------------


def _shares_runs(result: StakeExperimentResult, blocks_of: Callable[[tuple[int, ...]], tuple[int, ...]],
                 reward_bonus: int = 0, **changes: object) -> StakeExperimentResult:
    """The result with every shares run's blocks set by ``blocks_of(stakes)``; v0 earns ``reward_bonus`` extra."""
    runs = []
    for run in result.runs:
        if run.kind == SHARES_RUN:
            blocks = blocks_of(run.stakes)
            rewards = (100 * blocks[0] + reward_bonus, *(100 * count for count in blocks[1:]))
            run = attrs.evolve(run, blocks_proposed=blocks, rewards=rewards, **changes)  # noqa: PLW2901
        runs.append(run)
    return StakeExperimentResult(result.experiment, tuple(runs))


def test_p_value_sentences_follow_the_blocks(result: StakeExperimentResult) -> None:
    exact = " ".join(findings(_shares_runs(result, lambda stakes: tuple(stake // 1_000 for stake in stakes))))
    assert "Every one is above 0.95: the blocks followed the stake shares more closely" in exact
    assert "fell below 0.05" not in exact
    skewed = " ".join(findings(_shares_runs(result, lambda stakes: (400, 0, 0, 0))))
    assert "3 of 3 fell below 0.05, more often than the one test in twenty that chance alone gives" in skewed
    assert "more closely than independent" not in skewed


def test_reward_sentence_follows_the_rewards(result: StakeExperimentResult) -> None:
    proportional = " ".join(findings(_shares_runs(result, lambda stakes: tuple(stake // 1_000 for stake in stakes))))
    assert "Rewards followed the blocks: every validator's reward share stayed within 0.00 points" in proportional
    extra = " ".join(findings(_shares_runs(result, lambda stakes: (100, 100, 100, 100), reward_bonus=20_000)))
    assert "Rewards did not follow the blocks closely" in extra


def test_finality_sentences_compare_instead_of_assuming(result: StakeExperimentResult) -> None:
    text = " ".join(findings(result))
    assert "10x-more 0.200 s, within 10% of equal stakes' 0.200 s" in text
    assert "nearer the block interval than the median block finality in 3 of 3 cases: a transfer waits" in text
    slow = " ".join(findings(_shares_runs(result, lambda stakes: tuple(stake // 1_000 for stake in stakes),
                                          transfer_latency=(0.25, 0.25))))
    assert "in 0 of 3 cases." in slow
    assert "a transfer waits" not in slow


def test_restake_sentences_follow_the_drift(result: StakeExperimentResult) -> None:
    text = " ".join(findings(result))
    assert "2 towards equal, 4 away from equal" in text
    assert "pulls shares towards equal" not in text
    runs = []
    for run in result.runs:
        if run.kind == RESTAKE_RUN:
            # v0 ends at an equal share in every case; what light nodes sent is spread evenly.
            end = (sum(run.stakes[1:]) // 3, *run.stakes[1:])
            run = attrs.evolve(run, stake_history=(run.stake_history[0], (60.0, end)),  # noqa: PLW2901
                               received=(10, 10, 10, 10))
        runs.append(run)
    levelled = " ".join(findings(StakeExperimentResult(result.experiment, tuple(runs))))
    assert "6 no nearer to equal" not in levelled
    assert "in the 6 restake runs: 4 towards equal, 2 no nearer to equal" in levelled
    assert "pulls shares towards equal" not in levelled
    unequal = StakeExperimentResult(result.experiment, tuple(run for run in runs
                                                             if run.kind != RESTAKE_RUN or run.case != "equal"))
    pulled = " ".join(findings(unequal))
    assert "in the 4 restake runs: 4 towards equal (a move under 1 point counts as none): validators also" in pulled


# Precision: exact round-robin shares, intervals across seeds, detectable differences --------------------------------


def test_round_robin_shares_are_exact_and_lottery_shares_carry_an_interval(result: StakeExperimentResult,
                                                                            tmp_path: Path) -> None:
    shares = result.shares()
    robin = next(pooled for pooled in shares if pooled.strategy == "weighted-round-robin")
    lottery = next(pooled for pooled in shares if pooled.strategy == "lottery")
    assert robin.exact and all(v.block_share.low == v.block_share.high == v.block_share.share
                               for v in robin.validators)
    assert not lottery.exact and lottery.validators[0].block_share.low < lottery.validators[0].block_share.share
    text = write_report(result, tmp_path / "report").read_text(encoding="utf-8")
    section = text.split("### equal, weighted-round-robin")[1].split("###")[0]
    assert "| v0 | 25.0% |" in section and "exact (schedule)" in section
    assert "exact" not in text.split("### equal, lottery")[1].split("###")[0]
    assert "exact (schedule)" in format_terminal(result)


def test_precision_sentences_follow_blocks_and_seeds(result: StakeExperimentResult) -> None:
    lottery = next(pooled for pooled in result.shares() if pooled.strategy == "lottery")
    sentence = precision_sentence(lottery)
    assert f"over {lottery.blocks} pooled blocks" in sentence
    assert f"by {lottery.detectable_shift * 100:.1f} points" in sentence
    assert "over 2 seeds" in sentence
    # More blocks give a smaller detectable shift, and the sentence says so.
    more = _shares_runs(result, lambda stakes: tuple(40 * stake // min(stakes) for stake in stakes))
    bigger = next(pooled for pooled in more.shares() if pooled.strategy == "lottery")
    assert bigger.blocks > lottery.blocks
    assert bigger.detectable_shift is not None and lottery.detectable_shift is not None
    assert bigger.detectable_shift < lottery.detectable_shift
    assert precision_sentence(bigger) != sentence
    robin = next(pooled for pooled in result.shares() if pooled.strategy == "weighted-round-robin")
    assert "is exact rather than a sample" in precision_sentence(robin)
    assert precision_sentence(robin) in findings(result)


def test_intervals_across_seeds_use_one_value_per_seed(result: StakeExperimentResult) -> None:
    pooled = result.shares()[0]
    runs = [run for run in result.of_kind(SHARES_RUN) if (run.case, run.strategy) == (pooled.case, pooled.strategy)]
    per_seed = [run.blocks_proposed[0] / run.blocks for run in runs]
    assert pooled.v0_block_share is not None
    assert pooled.v0_block_share.mean == pytest.approx(sum(per_seed) / len(per_seed))
    assert pooled.v0_block_share.runs == len(runs) == 2


def test_boundary_and_coalition_sentences_follow_the_runs(result: StakeExperimentResult) -> None:
    text = " ".join(findings(result))
    assert ("Boundary v0 at 1/3: v0 silent with 300,000 of 900,000 tokens (exactly 1/3; predicted halt): "
            "weighted-round-robin halted (no block in 60 s), lottery halted (no block in 60 s), as the quorum rule "
            "predicts.") in text
    assert ("Coalition of two in 10x-less: neither v0 nor v1 can halt the chain alone; together (35.5%) they halted "
            "it under weighted-round-robin, lottery (as the quorum rule predicts).") in text
    runs = list(result.runs)
    position = next(index for index, run in enumerate(runs)
                    if run.kind == BOUNDARY_RUN and run.case == "v0 at 1/3" and run.strategy == "lottery")
    runs[position] = attrs.evolve(runs[position], block_times=(1.0, 2.0), block_finality=(0.2, 0.2),
                                  blocks_proposed=(0, 1, 1, 0), rounds_above_zero=1, agreed=True)
    changed = StakeExperimentResult(result.experiment, tuple(runs))
    text = " ".join(findings(changed))
    assert ("Boundary v0 at 1/3: v0 silent with 300,000 of 900,000 tokens (exactly 1/3; predicted halt): "
            "weighted-round-robin halted (no block in 60 s), lottery continued (2 blocks, 1 after a failed round), "
            "AGAINST the quorum rule's prediction under lottery.") in text
    assert "1 silence runs did not behave" in format_terminal(changed)


def test_restake_control_sentences_follow_the_runs(result: StakeExperimentResult) -> None:
    control = next(control for control in result.restake_controls()
                   if (control.case, control.strategy) == ("10x-more", "lottery"))
    text = " ".join(restake_control_sentences(control))
    assert "compounding (v0's rewards with restaking minus without) was -50 [-1,956, 1,856]" in text
    assert "So compounding cannot be told from 0 at this number of seeds" in text
    assert "a paired t-test over 2 seeds detects a mean compounding of 1,160 tokens or more" in text
    # v0 earns 5,000 more in every restake run with restaking than in its no-restake control: clearly above 0.
    runs = tuple(attrs.evolve(run, rewards=(run.rewards[0] + 5_000, *run.rewards[1:]))
                 if run.kind == RESTAKE_RUN else run for run in result.runs)
    richer = next(control for control in StakeExperimentResult(result.experiment, runs).restake_controls()
                  if (control.case, control.strategy) == ("10x-more", "lottery"))
    text = " ".join(restake_control_sentences(richer))
    assert "compounding (v0's rewards with restaking minus without) was 4,950 [3,044, 6,856]" in text
    assert "So compounding is above 0 (its 95% interval excludes 0)" in text


def test_nakamoto_and_gini_sentence_follows_the_stakes(result: StakeExperimentResult) -> None:
    text = " ".join(findings(result))
    assert ("(more than 2/3): equal 2 / 3, 10x-more 1 / 1, 10x-less 2 / 3; Gini coefficient of stake: equal 0.000, "
            "10x-more 0.519, 10x-less 0.218.") in text
    # v0 with half the stake halts alone, but with the next validator holds exactly 2/3: not enough to finalize.
    other = StakeExperiment(cases=parse_cases("3x-more"), seeds=1, restake_seeds=1)
    changed = StakeExperimentResult(other, tuple(_made_up(run, index) for index, run in enumerate(other.plan())))
    assert "(more than 2/3): 3x-more 1 / 3; Gini coefficient of stake: 3x-more 0.250." in " ".join(findings(changed))
