"""Readable results of the stake experiment: a terminal summary, and a directory with Markdown, JSON and PNG plots."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from ..experiments.stake import (
    BOUNDARY_RUN,
    NO_RESTAKE_RUN,
    RESTAKE_KINDS,
    RESTAKE_NO_TRANSFERS_RUN,
    RESTAKE_RUN,
    SHARES_RUN,
    SILENCE_RUN,
    PooledShares,
    RestakeControl,
    SilenceOutcome,
    StakeDrift,
    StakeExperiment,
    StakeExperimentResult,
    ThresholdCrossing,
    Thresholds,
)
from .files import pyplot, save_figure, write_report_files
from .formatting import markdown_table, percent
from .provenance import collect_provenance
from .statistics import Interval, MeanInterval, wilson_interval

PLOTS = {"shares": "block_shares.png", "finality": "finality.png", "silence": "silence.png",
         "restake": "restake.png", "gini": "gini.png"}
"""The PNG files a report holds, by what they show."""

DRIFT_SAMPLES = 6
"""Points in time at which the Markdown report tabulates stake shares of a restake run."""

LEGEND_VALIDATORS = 8
"""Validators the restake plot names in each panel's legend (v0 first); the others are drawn thin and unnamed."""

TICK_LABELS = 12
"""Validator names the block-share plot writes under each panel at most (every k-th beyond that)."""




def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _seconds(summary: dict[str, float], key: str) -> str:
    return f"{summary[key]:.3f}" if summary else "-"


def _interval(pooled: PooledShares) -> str:
    return f"{pooled.block_interval:.3f}" if pooled.block_interval is not None else "-"


def _seed_range(seeds: int) -> str:
    return "seed 1" if seeds == 1 else f"seeds 1-{seeds}"


def _share_interval(pooled: PooledShares, share: Interval) -> str:
    """A block share's 95% Wilson interval, or ``exact`` under a deterministic schedule."""
    return "exact (schedule)" if pooled.exact else f"[{percent(share.low)}, {percent(share.high)}]"


def _chi_square_text(pooled: PooledShares) -> str:
    test = pooled.chi_square
    if test is None:
        return "no blocks, no test"
    return f"chi-square {test.statistic:.2f} ({test.degrees_of_freedom} dof), p = {test.p_value:.3f}"


# Plain data ---------------------------------------------------------------------------------------------------------


_PER_BLOCK = ("stake_history", "block_proposers", "block_rewards")
"""Per-block series of a run that report.json leaves out of its run list (the analyses above hold what they show)."""


def report_data(result: StakeExperimentResult) -> dict[str, Any]:
    """Every figure of the experiment as plain data: what report.json holds besides its provenance."""
    experiment = result.experiment
    return {
        "experiment": experiment.to_dict(),
        "verdict": {"ok": result.ok, "runs": len(result.runs),
                    "inconsistent_runs": [attrs.asdict(run) for run in result.inconsistent_runs]},
        "thresholds": [attrs.asdict(thresholds) for thresholds in result.thresholds()],
        "shares": [attrs.asdict(pooled) for pooled in result.shares()],
        "silence": [{**attrs.asdict(outcome), "halted": outcome.halted, "as_predicted": outcome.as_predicted}
                    for outcome in result.silence()],
        "boundary": [{**attrs.asdict(outcome), "halted": outcome.halted, "as_predicted": outcome.as_predicted}
                     for outcome in result.boundary()],
        "restake_controls": [attrs.asdict(control) for control in result.restake_controls()],
        "gini_series": [attrs.asdict(series) for series in result.gini_series()],
        "restake": [{**attrs.asdict(drift), "shares": drift.shares, "largest_move": drift.largest_move,
                     "reward_shares": drift.reward_shares, "received_shares": drift.received_shares,
                     "threshold_crossings": [attrs.asdict(crossing) for crossing in drift.threshold_crossings()]}
                    for drift in result.drift()],
        # A restake run's stake history is under "restake" already (times and stakes); it is not repeated here.
        "runs": [{**attrs.asdict(run, filter=lambda field, _: field.name not in _PER_BLOCK), "blocks": run.blocks,
                  "consistent": run.consistent} for run in result.runs],
    }


# Terminal -----------------------------------------------------------------------------------------------------------


Column = tuple[str, str, str]
"""A column of a terminal table: the gap before it, its title, and the format spec of its cells (``>9,``)."""


def _text_table(columns: Sequence[Column], rows: Iterable[Sequence[object]], indent: str = "") -> list[str]:
    """
    A fixed-width terminal table: a line of titles, then one line per row of cells. Each cell is formatted with its
    column's spec; each title with the spec's alignment and width only (no precision, no thousands separator).
    """
    def line(cells: Iterable[str]) -> str:
        return indent + "".join(gap + cell for (gap, _, _), cell in zip(columns, cells, strict=True))

    titles = line(format(title, spec.split(",")[0].split(".")[0]) for _, title, spec in columns)
    return [titles, *(line(format(cell, spec) for (_, _, spec), cell in zip(columns, row, strict=True))
                      for row in rows)]


def _threshold_rows(thresholds: Sequence[Thresholds]) -> list[str]:
    columns = [("", "case", "<10"), (" ", "v0 stake", ">9"), ("  ", "v0 halts alone", "<15"),
               (" ", "v0 finalizes alone", "<19"), (" ", "fewest to halt", ">14"), (" ", "fewest to finalize", ">18"),
               (" ", "stake Gini", ">10.3f")]
    return _text_table(columns, [(item.case, percent(item.stake_shares[0]), _yes(item.halts_alone[0]),
                                  _yes(item.finalizes_alone[0]), item.fewest_to_halt, item.fewest_to_finalize,
                                  item.stake_gini) for item in thresholds])


def third_text(outcome: SilenceOutcome) -> str:
    """The silent stake against exactly 1/3 of the bonded stake, in tokens: ``exactly 1/3``, ``1/3 - 1``, ..."""
    excess = 3 * outcome.silent_stake - outcome.total_stake
    if not excess:
        return "exactly 1/3"
    return f"1/3 {'+' if excess > 0 else '-'} {abs(excess) / 3:,.4g}"


def _share_rows(pooled: PooledShares) -> list[str]:
    columns = [("", "validator", "<9"), (" ", "stake share", ">11"), (" ", "blocks", ">7"),
               (" ", "block share", ">11"), ("  ", "95% interval", "<16"), (" ", "rewards", ">9,"),
               (" ", "reward share", ">12")]
    table = _text_table(columns, [(validator.name, percent(validator.stake_share), validator.blocks,
                                   percent(validator.block_share.share),
                                   _share_interval(pooled, validator.block_share), validator.rewards,
                                   percent(validator.reward_share)) for validator in pooled.validators], indent="  ")
    return [f"{pooled.case}, {pooled.strategy}: {pooled.blocks} blocks over {_seed_range(len(pooled.seeds))}; "
            f"{_chi_square_text(pooled)}", *table]


def _finality_rows(shares: Sequence[PooledShares]) -> list[str]:
    columns = [("", "case", "<10"), (" ", "strategy", "<20"), (" ", "blocks", ">6"), (" ", "rounds>0", ">8"),
               (" ", "interval", ">8"), (" ", "block med", ">9"), (" ", "block p95", ">9"),
               (" ", "transfer med", ">12"), (" ", "transfer p95", ">12"), (" ", "final", ">9")]
    return _text_table(columns, [(pooled.case, pooled.strategy, pooled.blocks, pooled.rounds_above_zero,
                                  _interval(pooled), _seconds(pooled.block_finality, "median"),
                                  _seconds(pooled.block_finality, "p95"), _seconds(pooled.transfer_finality, "median"),
                                  _seconds(pooled.transfer_finality, "p95"),
                                  f"{pooled.transfers_final:>4}/{pooled.transfers_submitted:<4}") for pooled in shares])


def _silence_rows(outcomes: Sequence[SilenceOutcome], *, exact: bool = False) -> list[str]:
    """One row per silence run; ``exact`` shows the silent stake in tokens against 1/3 instead of a percentage."""
    width = 16 if exact else 10

    def stake(outcome: SilenceOutcome) -> str:
        return (f"{outcome.silent_stake:,}/{outcome.total_stake:,} ({third_text(outcome)})" if exact
                else percent(outcome.silent_share))

    columns = [("", "case", f"<{width}"), (" ", "strategy", "<20"), (" ", "silent", "<9"),
               (" ", "silent stake", f">{36 if exact else 12}"), ("  ", "predicted", "<9"), (" ", "blocks", ">6"),
               ("  ", "proposers", "<12"), (" ", "transfers final", ">15"), ("  ", "as predicted", "")]
    return _text_table(columns, [(outcome.case, outcome.strategy, ",".join(outcome.silent), stake(outcome),
                                  "halt" if outcome.predicted_halt else "live", outcome.blocks,
                                  ",".join(outcome.proposers) or "-",
                                  f"{outcome.transfers_final}/{outcome.transfers_submitted}",
                                  _yes(outcome.as_predicted)) for outcome in outcomes])


def _bracketed(value: MeanInterval, number: Callable[[float], str]) -> str:
    """A mean with its 95% t interval across seeds, ``mean [low, high]``, written by ``number``; one seed: the mean."""
    if value.runs < 2:
        return number(value.mean)
    return f"{number(value.mean)} [{number(value.low)}, {number(value.high)}]"


def _tokens(value: MeanInterval) -> str:
    """A mean token amount with its 95% t interval across seeds (a point with one seed)."""
    return _bracketed(value, lambda amount: f"{amount:,.0f}")


def _points(value: MeanInterval) -> str:
    """A mean share move, in points, with its 95% t interval across seeds."""
    return _bracketed(value, lambda share: f"{share * 100:+.2f}")


def _restake_control_rows(controls: Sequence[RestakeControl]) -> list[str]:
    columns = [("", "case", "<10"), (" ", "strategy", "<20"), (" ", "seeds", ">5"), ("  ", "v0 growth", "<26"),
               (" ", "rewards w/o restaking", "<26"), (" ", "compounding", "<26"), (" ", "transfer income", "<26"),
               (" ", "share move (points)", "<22"), (" ", "without transfers", "<22")]
    return _text_table(columns, [(control.case, control.strategy, control.seeds, _tokens(control.growth),
                                  _tokens(control.rewards_without_restaking), _tokens(control.compounding),
                                  _tokens(control.transfer_income), _points(control.share_move),
                                  _points(control.share_move_without_transfers)) for control in controls])


def _drift_rows(drifts: Sequence[StakeDrift]) -> list[str]:
    validators = len(drifts[0].start_shares) if drifts else 0
    rows = [f"{'case':<10} {'strategy':<20} {'blocks':>6} {'bonds':>5}  "
            + "  ".join(f"{f'v{index} start -> end':<19}" for index in range(validators)) + "  largest move"]
    for drift in drifts:
        columns = "  ".join(f"{f'{percent(start)} -> {percent(end)}':<19}"
                            for start, end in zip(drift.start_shares, drift.end_shares, strict=True))
        rows.append(f"{drift.case:<10} {drift.strategy:<20} {drift.blocks:>6} {drift.bonds_admitted:>5}  {columns}  "
                    f"{drift.largest_move * 100:.2f} points")
    return rows


def verdict_line(result: StakeExperimentResult) -> str:
    """One line: did every run keep one chain and conserve supply, and did silence do what the quorum rule says."""
    if result.ok:
        return (f"VERDICT: OK - all {len(result.runs)} runs conserved supply and ended with every node on one chain; "
                "every silence run halted exactly when the silent validators held at least 1/3 of the stake")
    problems = []
    if result.inconsistent_runs:
        problems.append(f"{len(result.inconsistent_runs)} runs ended with disagreeing nodes or broken supply")
    unexpected = [outcome for outcome in (*result.silence(), *result.boundary()) if not outcome.as_predicted]
    if unexpected:
        problems.append(f"{len(unexpected)} silence runs did not behave as the quorum rule predicts")
    return "VERDICT: FAILED - " + "; ".join(problems)


def format_terminal(result: StakeExperimentResult) -> str:
    """The summary `a27 experiment stake` prints: deterministic for the same options."""
    experiment = result.experiment
    lines = [
        "a27 experiment stake - Lab 2: what stake weights do to proof of stake",
        f"{experiment.validators} validators, {experiment.light_nodes} light nodes; cases "
        f"{', '.join(case.name for case in experiment.cases)} (v0 is the odd one, the others stake "
        f"{experiment.base_stake:,} each); proposer {', '.join(experiment.strategies)}; "
        f"{_seed_range(experiment.seeds)}, {experiment.duration:g} simulated seconds of transfers per run",
        "",
        "Who can halt or finalize the chain (finality needs precommits of more than 2/3 of the bonded stake, so "
        "silence of at least 1/3 halts it; fewest to halt / to finalize: the Nakamoto coefficients; stake Gini: 0 "
        f"for equal stakes, at most {(experiment.validators - 1) / experiment.validators:.2f} here):",
        *_threshold_rows(result.thresholds()),
        "",
        "Blocks and rewards by validator, pooled over seeds (block share with its 95% Wilson interval, or exact "
        "where the proposer schedule follows from the stakes alone; the chi-square tests blocks proposed against "
        "stake shares):",
    ]
    shares = result.shares()
    for pooled in shares:
        lines += _share_rows(pooled)
    lines += ["", "Finality in seconds (interval: mean time between blocks; block: from its timestamp until the median "
                  "node applied it; transfer: from submission until the sender applied it; rounds>0: blocks finalized "
                  "after a failed round; final: transfers final within 60 s, of those submitted):",
              *_finality_rows(shares), "",
              f"Silent validators (seed 1, {experiment.silence_duration:g} simulated seconds of transfers; a silent "
              "validator keeps its stake but never proposes or votes):",
              *_silence_rows(result.silence()), "",
              "At the boundary (silent stake in tokens against exactly 1/3 of the bonded stake):",
              *_silence_rows(result.boundary(), exact=True), "",
              f"Restaking (every {experiment.restake_interval:g} s each validator bonds its liquid balance above "
              f"its start; block reward {experiment.restake_block_reward:,}; first seed, "
              f"{experiment.restake_duration:g} simulated seconds):",
              *_drift_rows(result.drift()), "",
              f"Where v0's stake growth came from (tokens, mean [95% t interval] over restake seeds 1-"
              f"{experiment.restake_seeds}; growth: bonded stake at the end minus at the start; rewards w/o "
              "restaking: v0's rewards in the same seed's run with restaking off; compounding: v0's rewards with "
              "restaking minus without; share move: v0's stake share at the end minus at the start, with transfers "
              "and in the same seed's run without them):",
              *_restake_control_rows(result.restake_controls()), "", verdict_line(result)]
    return "\n".join(lines)


# Reading the numbers ------------------------------------------------------------------------------------------------


def _crossing_sentence(drift: StakeDrift, crossing: ThresholdCrossing) -> str:
    threshold = "1/3" if crossing.power == "halt" else "2/3"
    where = f"In {drift.case} under {drift.strategy}, {crossing.validator}"
    if not crossing.held_at_end:
        return (f"{where}'s share crossed {threshold} at t = {crossing.first_time:.0f} s and was back on its side of "
                "it by the end.")
    change = "gained" if crossing.gained else "lost"
    return (f"{where} {change} the power to {crossing.power} the chain alone when its share crossed {threshold} at "
            f"t = {crossing.first_time:.0f} s, and kept the change to the end.")


SIGNIFICANCE = 0.05
"""A chi-square p-value below this reads as blocks departing from the stake shares beyond chance."""
TOO_CLOSE = 0.95
"""A p-value above this reads as blocks following the stake shares more closely than random draws would."""
SHARE_POINTS = 0.02
"""Shares (of rewards, blocks or stake) closer than this are read as the same."""
PACE_CHANGE = 0.10
"""Median finalities whose relative difference is below this are read as the same."""


def _p_value_sentence(strategy: str, values: Sequence[float]) -> str:
    """What a strategy's chi-square p-values say, counted against the thresholds rather than assumed."""
    listed = ", ".join(f"{value:.3f}" for value in values)
    low = sum(value < SIGNIFICANCE for value in values)
    high = sum(value > TOO_CLOSE for value in values)
    sentence = f"Under {strategy}, the chi-square p-values of blocks against stake are {listed}. "
    if low:
        expected = wilson_interval(low, len(values))
        chance = ("more often than the one test in twenty that chance alone gives (95% CI "
                  f"{percent(expected.low)}-{percent(expected.high)})" if expected.low > SIGNIFICANCE else
                  "no more often than chance alone would allow (95% CI "
                  f"{percent(expected.low)}-{percent(expected.high)} holds 5%)")
        sentence += f"{low} of {len(values)} fell below {SIGNIFICANCE}, {chance}"
    elif high == len(values):
        sentence += (f"Every one is above {TOO_CLOSE}: the blocks followed the stake shares more closely than "
                     "independent stake-weighted draws would")
    else:
        sentence += (f"None falls below {SIGNIFICANCE}, so the blocks are consistent with the stake shares"
                     + (f" ({high} of {len(values)} above {TOO_CLOSE})" if high else ""))
    return sentence + "."


def _reward_sentence(shares: Sequence[PooledShares]) -> str:
    gap = max((abs(validator.reward_share - validator.block_share.share) for pooled in shares
               for validator in pooled.validators if pooled.blocks), default=0.0)
    if gap <= SHARE_POINTS:
        return (f"Rewards followed the blocks: every validator's reward share stayed within {gap * 100:.2f} points "
                f"of its block share (threshold {SHARE_POINTS * 100:.0f} points).")
    return (f"Rewards did not follow the blocks closely: a validator's reward share was up to {gap * 100:.2f} points "
            f"from its block share, beyond the {SHARE_POINTS * 100:.0f}-point threshold.")


def _relative(value: float, reference: float) -> str:
    change = value / reference - 1 if reference else 0.0
    if change < -PACE_CHANGE:
        return "faster than"
    if change > PACE_CHANGE:
        return "slower than"
    return f"within {PACE_CHANGE:.0%} of"


def _finalizes_alone_sentence(result: StakeExperimentResult, alone: Sequence[str],
                              first: Sequence[PooledShares]) -> str:
    """Which cases give v0 a quorum on its own, and how their block finality compared with equal stakes."""
    sentence = (f"In {', '.join(alone)}, v0's precommit alone is more than 2/3 of the stake, so one vote can make a "
                "block final")
    medians = {pooled.case: pooled.block_finality["median"] for pooled in first}
    equal = next((case.name for case in result.experiment.cases if case.ratio == 1 and case.name in medians), None)
    compared = [f"{case} {medians[case]:.3f} s, {_relative(medians[case], medians[equal])} equal stakes' "
                f"{medians[equal]:.3f} s" for case in alone if equal is not None and case in medians]
    return sentence + (f"; median block finality: {'; '.join(compared)}." if compared else ".")


def _transfer_pace_sentence(paced: Sequence[PooledShares]) -> str:
    """Median transfer finality per case, and whether it sits nearer the block interval or the block finality."""
    pairs = ", ".join(f"{pooled.case} {pooled.transfer_finality['median']:.3f} s (a block every "
                      f"{pooled.block_interval:.2f} s)" for pooled in paced)
    nearer = sum(abs(pooled.transfer_finality["median"] - (pooled.block_interval or 0.0))
                 < abs(pooled.transfer_finality["median"] - pooled.block_finality["median"]) for pooled in paced)
    sentence = (f"Median transfer finality at the sender: {pairs}. It is nearer the block interval than the median "
                f"block finality in {nearer} of {len(paced)} cases")
    if nearer == len(paced):
        sentence += ": a transfer waits for the next block that includes it, so the block pace sets its finality"
    return sentence + "."


def _restake_sentences(drifts: Sequence[StakeDrift]) -> list[str]:
    """Whether rewards split like the stake, and whether v0's share moved towards equal, in the restake runs."""
    sentences = []
    paid = [drift for drift in drifts if drift.reward_shares]
    if paid:
        gap = max(abs(reward - start) for drift in paid
                  for reward, start in zip(drift.reward_shares, drift.start_shares, strict=True))
        if gap <= SHARE_POINTS:
            sentences.append(f"Rewards split like the stake: every validator's reward share stayed within "
                             f"{gap * 100:.2f} points of its starting stake share, so rewards alone keep shares "
                             "where they started.")
        else:
            sentences.append(f"Rewards did not split like the stake: a validator's reward share differed from its "
                             f"starting stake share by up to {gap * 100:.2f} points (threshold "
                             f"{SHARE_POINTS * 100:.0f} points).")
    moves = []
    for drift in drifts:
        equal = 1 / len(drift.start_shares)
        before, after = abs(drift.start_shares[0] - equal), abs(drift.end_shares[0] - equal)
        moves.append("towards" if after < before - SHARE_POINTS / 2 else
                     "away from" if after > before + SHARE_POINTS / 2 else "no nearer to")
    counted = ", ".join(f"{moves.count(kind)} {kind} equal" for kind in ("towards", "away from", "no nearer to")
                        if moves.count(kind))
    sentence = (f"v0's stake share moved, in the {len(drifts)} restake runs: {counted} (a move under "
                f"{SHARE_POINTS * 50:.0f} point counts as none)")
    received = [drift for drift in drifts if drift.received_shares]
    flatter = [drift for drift in received if abs(drift.received_shares[0] - 1 / len(drift.start_shares))
               < abs(drift.start_shares[0] - 1 / len(drift.start_shares)) - SHARE_POINTS / 2]
    if received and len(flatter) == len(received) and moves.count("towards") == len(moves):
        sentence += (": validators also bond what light nodes send them, which was spread more evenly than stake "
                     "in every run, and that pulls shares towards equal")
    sentences.append(sentence + ".")
    return sentences


def _interval_prose(value: MeanInterval, number: Callable[[float], str], low: float, high: float,
                    unit: str = "") -> str:
    """A mean across seeds with its 95% t interval ``low``-``high`` in words, numbers written by ``number``."""
    if value.runs < 2:
        return f"{number(value.mean)}{unit} (one seed, no interval)"
    return f"mean {number(value.mean)}{unit}, 95% t interval {number(low)}-{number(high)}{unit} over {value.runs} seeds"


def _mean_text(value: MeanInterval, unit: str = "") -> str:
    return _interval_prose(value, lambda number: f"{number:.3f}", value.low, value.high, unit)


def _share_mean_text(value: MeanInterval) -> str:
    """A mean share across seeds with its t interval, cut to 0-100% (a share cannot leave it)."""
    return _interval_prose(value, percent, max(0.0, value.low), min(1.0, value.high))


def precision_sentence(pooled: PooledShares) -> str:
    """
    How precise a case's numbers are at this many seeds: v0's block share (exact under a deterministic schedule,
    otherwise its spread across seeds and the smallest move the chi-square test detects), and the median block
    finality across seeds with the smallest difference a t-test detects.
    """
    v0 = pooled.validators[0]
    where = f"{pooled.case}, {pooled.strategy}"
    if not pooled.blocks:
        return f"{where}: no block was finalized, so there is nothing to estimate."
    if pooled.exact:
        sentence = (f"{where}: the schedule follows from the stakes alone, so v0's block share "
                    f"{percent(v0.block_share.share)} is exact rather than a sample (no interval)")
    else:
        share = pooled.v0_block_share
        spread = (f"per seed {_share_mean_text(share)}" if share is not None else "no seed had blocks")
        sentence = f"{where}: v0's block share {spread}"
        if pooled.detectable_shift is not None:
            sentence += (f"; over {pooled.blocks} pooled blocks the chi-square test detects, with 80% power at the 5% "
                         f"level, v0's block share off its stake share by {pooled.detectable_shift * 100:.1f} points "
                         "or more (the others' shares scaled in proportion)")
    if pooled.median_finality is not None:
        sentence += f"; median block finality per seed {_mean_text(pooled.median_finality, ' s')}"
        if pooled.finality_detectable is not None:
            sentence += (f", and a two-sided t-test against another group of {pooled.median_finality.runs} seeds "
                         f"with this spread detects a difference of {pooled.finality_detectable:.3f} s or more "
                         "(80% power, 5% level)")
    return sentence + "."


def findings(result: StakeExperimentResult) -> list[str]:
    """A few sentences that read the experiment's numbers; each claim is computed from the runs."""
    experiment = result.experiment
    shares = result.shares()
    sentences = []
    for strategy in experiment.strategies:
        mine = [pooled for pooled in shares if pooled.strategy == strategy]
        pairs = ", ".join(f"{pooled.case} {percent(pooled.validators[0].block_share.share)} against "
                          f"{percent(pooled.validators[0].stake_share)}" for pooled in mine)
        sentences.append(f"Under {strategy}, v0's share of the blocks against its share of the stake: {pairs}.")
    by_strategy = {strategy: [pooled.chi_square.p_value for pooled in shares
                              if pooled.strategy == strategy and pooled.chi_square is not None]
                   for strategy in experiment.strategies}
    for strategy, values in by_strategy.items():
        if values:
            sentences.append(_p_value_sentence(strategy, values))
    sentences.append(_reward_sentence(shares))
    sentences += [precision_sentence(pooled) for pooled in shares]
    first = [pooled for pooled in shares if pooled.strategy == experiment.strategies[0] and pooled.block_finality]
    if first:
        medians = ", ".join(f"{pooled.case} {pooled.block_finality['median']:.3f} s" for pooled in first)
        sentences.append(f"Median block finality under {experiment.strategies[0]}: {medians}.")
    alone = [item.case for item in result.thresholds() if item.finalizes_alone[0]]
    if alone:
        sentences.append(_finalizes_alone_sentence(result, alone, first))
    paced = [pooled for pooled in first if pooled.transfer_finality and pooled.block_interval is not None]
    if paced:
        sentences.append(_transfer_pace_sentence(paced))
    thresholds = result.thresholds()
    sentences.append("Nakamoto coefficients, the fewest validators whose silence halts the chain (at least 1/3 of "
                     "the bonded stake) / that finalize blocks alone (more than 2/3): "
                     + ", ".join(f"{item.case} {item.fewest_to_halt} / {item.fewest_to_finalize}"
                                 for item in thresholds)
                     + "; Gini coefficient of stake: "
                     + ", ".join(f"{item.case} {item.stake_gini:.3f}" for item in thresholds) + ".")
    sentences += _silence_sentences(result.silence())
    sentences += _coalition_sentences(result)
    sentences += _boundary_sentences(result.boundary())
    drifts = result.drift()
    if drifts:
        moves = ", ".join(f"{drift.case} {drift.strategy} {drift.largest_move * 100:.2f}" for drift in drifts)
        incomes = "; ".join(f"{drift.case} {drift.strategy} {percent(drift.start_shares[0])} of the stake, "
                            f"{percent(drift.reward_shares[0])} of the rewards, {percent(drift.received_shares[0])} "
                            f"of the transfers, {percent(drift.end_shares[0])} of the stake at the end"
                            for drift in drifts if drift.reward_shares and drift.received_shares)
        sentences.append(f"With restaking, the largest move of any validator's stake share was (in points): {moves}."
                         + (f" For v0: {incomes}." if incomes else ""))
        sentences += _restake_sentences(drifts)
        crossings = [_crossing_sentence(drift, crossing)
                     for drift in drifts for crossing in drift.threshold_crossings()]
        sentences += crossings
        if not crossings:
            sentences.append("No validator's share crossed 1/3 or 2/3 during restaking: nobody gained or lost the "
                             "power to halt or finalize alone.")
    for control in result.restake_controls():
        sentences += restake_control_sentences(control)
    return sentences


def _happened(outcome: SilenceOutcome) -> str:
    if outcome.halted:
        return f"{outcome.strategy} halted (no block in {outcome.duration:.0f} s)"
    return (f"{outcome.strategy} continued ({outcome.blocks} blocks, {outcome.rounds_above_zero} after a failed "
            "round)")


def _grouped(outcomes: Sequence[SilenceOutcome]) -> dict[tuple[str, tuple[str, ...]], list[SilenceOutcome]]:
    """Outcomes by case and silent validators, strategies together, in their order."""
    groups: dict[tuple[str, tuple[str, ...]], list[SilenceOutcome]] = {}
    for outcome in outcomes:
        groups.setdefault((outcome.case, outcome.silent), []).append(outcome)
    return groups


def _expected(group: Sequence[SilenceOutcome]) -> str:
    wrong = [outcome.strategy for outcome in group if not outcome.as_predicted]
    if not wrong:
        return "as the quorum rule predicts"
    return f"AGAINST the quorum rule's prediction under {', '.join(wrong)}"


def _silence_sentences(outcomes: Sequence[SilenceOutcome]) -> list[str]:
    """One sentence per case: each silent set, its stake, and what each strategy did against the prediction."""
    by_case: dict[str, list[str]] = {}
    for (case, silent), group in _grouped(outcomes).items():
        by_case.setdefault(case, []).append(
            f"{'+'.join(silent)} silent ({percent(group[0].silent_share)}, predicted "
            f"{'halt' if group[0].predicted_halt else 'live'}): {', '.join(_happened(item) for item in group)}, "
            f"{_expected(group)}")
    return [f"Silence in {case}: {'; '.join(parts)}." for case, parts in by_case.items()]


def _coalition_sentences(result: StakeExperimentResult) -> list[str]:
    """Coalitions of two whose members cannot halt the chain alone but did (or did not) together."""
    alone = {item.case: item.halts_alone for item in result.thresholds()}
    sentences = []
    for (case, silent), group in _grouped(result.silence()).items():
        members = [int(name[1:]) for name in silent]
        if len(members) != 2 or case not in alone or any(alone[case][member] for member in members):
            continue
        halted = [outcome.strategy for outcome in group if outcome.halted]
        verdict = (f"together ({percent(group[0].silent_share)}) they halted it under {', '.join(halted)}" if halted
                   else f"together ({percent(group[0].silent_share)}) they did not halt it")
        sentences.append(f"Coalition of two in {case}: neither {silent[0]} nor {silent[1]} can halt the chain alone; "
                         f"{verdict} ({_expected(group)}).")
    return sentences


def _boundary_sentences(outcomes: Sequence[SilenceOutcome]) -> list[str]:
    """Each boundary case: the silent stake in tokens against 1/3, and what each strategy did."""
    sentences = []
    for (case, _), group in _grouped(outcomes).items():
        first = group[0]
        sentences.append(f"Boundary {case}: {'+'.join(first.silent)} silent with {first.silent_stake:,} of "
                         f"{first.total_stake:,} tokens ({third_text(first)}; predicted "
                         f"{'halt' if first.predicted_halt else 'live'}): "
                         f"{', '.join(_happened(item) for item in group)}, {_expected(group)}.")
    return sentences


def _sign_verdict(value: MeanInterval, what: str) -> str:
    """Whether a mean's 95% interval lies above 0, below it, or holds it."""
    if value.runs < 2:
        return f"one seed only, so no interval says whether {what} differs from 0"
    if value.low > 0:
        return f"{what} is above 0 (its 95% interval excludes 0)"
    if value.high < 0:
        return f"{what} is below 0 (its 95% interval excludes 0)"
    return f"{what} cannot be told from 0 at this number of seeds (its 95% interval holds 0)"


def restake_control_sentences(control: RestakeControl) -> list[str]:
    """What the restake runs and their controls say about where v0's stake growth came from, and what they detect."""
    where = f"{control.case} under {control.strategy}"
    fraction = control.compounding_fraction
    share = (f", {percent(fraction.mean)} of the growth"
             + (f" (95% t interval {percent(fraction.low)} to {percent(fraction.high)})" if fraction.runs >= 2 else "")
             if fraction is not None else "")
    sentences = [
        f"Restaking in {where}, over {control.seeds} seeds (tokens, mean [95% t interval]): v0's bonded stake grew "
        f"by {_tokens(control.growth)}; the same seeds without restaking paid v0 "
        f"{_tokens(control.rewards_without_restaking)} in rewards; compounding (v0's rewards with restaking minus "
        f"without) was {_tokens(control.compounding)}"
        f"{share}; transfer income {_tokens(control.transfer_income)}; income not yet bonded at the end "
        f"{_tokens(control.unbonded)}. So {_sign_verdict(control.compounding, 'compounding')}"
        + _detectable_text(control.seeds, control.compounding_detectable, "a mean compounding of",
                           f"{control.compounding_detectable or 0:,.0f} tokens") + ".",
        f"In {where}, v0's stake share moved {_points(control.share_move)} points with transfers and "
        f"{_points(control.share_move_without_transfers)} without (no-transfers runs submitted "
        f"{control.transfers_without_transfers} transfers); "
        + _sign_verdict(control.transfer_effect, "the difference, what transfer income did to v0's share,")
        + _detectable_text(control.seeds, control.transfer_effect_detectable, "a difference of",
                           f"{(control.transfer_effect_detectable or 0) * 100:.2f} points")
        + f". The stake's Gini coefficient went from {control.gini_start:.3f} to {_gini(control.gini_end)} with "
          f"transfers and {_gini(control.gini_end_without_transfers)} without."]
    return sentences


def _detectable_text(seeds: int, detectable: float | None, what: str, amount: str) -> str:
    """What a paired t-test over the seeds detects; nothing with one seed, anything when the seeds agree exactly."""
    if detectable is None:
        return ""
    if detectable == 0:
        return f"; the {seeds} seeds agree exactly, so a paired t-test would detect any mean other than 0"
    return f"; a paired t-test over {seeds} seeds detects {what} {amount} or more (80% power, 5% level)"


def _gini(value: MeanInterval) -> str:
    return _bracketed(value, lambda gini: f"{gini:.3f}")


# Markdown -----------------------------------------------------------------------------------------------------------


def _setting(value: object) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_setting(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_setting(item) for item in value)
    return f"{value:,}" if isinstance(value, int) else str(value)




def _fraction_text(value: MeanInterval | None) -> str:
    return "-" if value is None else _bracketed(value, percent)


def _detectable_tokens(value: float | None) -> str:
    return f"{value:,.0f}" if value is not None else "-"


def _drift_samples(drift: StakeDrift, samples: int) -> list[tuple[float, tuple[float, ...]]]:
    end = drift.times[-1]
    picked = []
    for step in range(samples + 1):
        moment = end * step / samples
        index = max(position for position, time in enumerate(drift.times) if time <= moment)
        picked.append((drift.times[index], drift.shares[index]))
    return picked


def format_markdown(result: StakeExperimentResult) -> str:
    """The Markdown report: tables, plots, a reading of the numbers (its provenance is added on writing)."""
    experiment = result.experiment
    shares = result.shares()
    lines = ["# a27 experiment stake: what stake weights do to proof of stake", "", f"**{verdict_line(result)}**", "",
             "Validator 0 is the odd one out: `equal` gives it the others' stake, `10x-more` ten times, `10x-less` a "
             "tenth. Each case runs under each proposer strategy for several seeds; short runs silence validators "
             "to test the 1/3 and 2/3 thresholds; long runs let validators re-bond their rewards.", "",
             "## Settings", "", "| setting | value |", "| --- | --- |",
             *[f"| {key} | {_setting(value)} |" for key, value in experiment.to_dict().items()], "",
             "## What the numbers say", "", *[f"- {sentence}" for sentence in findings(result)], "",
             "## Who can halt or finalize the chain", "",
             "A block is final with precommits of more than 2/3 of the bonded stake (a27-pos "
             "`ValidatorSet.has_quorum`: 3 x votes > 2 x total). Validators holding at least 1/3 (3 x silent >= "
             "total, so exactly 1/3 is enough) can therefore halt the chain by staying silent; more than 2/3 "
             "finalizes blocks without anyone else.", ""]
    lines += markdown_table(
        ["case", "validator", "stake share", "halts alone", "finalizes alone"],
        [(item.case, f"v{index}", percent(share), _yes(item.halts_alone[index]), _yes(item.finalizes_alone[index]))
         for item in result.thresholds() for index, share in enumerate(item.stake_shares)], "llrll")
    most = (experiment.validators - 1) / experiment.validators
    lines += ["", "Nakamoto coefficients (the fewest validators that together can halt the chain / finalize blocks "
                  "alone, counted largest first) and the Gini coefficient of stake (0: equal stakes; with "
                  f"{experiment.validators} validators at most {most:.2f}, one validator holding everything):", ""]
    lines += markdown_table(["case", "fewest to halt", "fewest to finalize", "stake Gini"],
                            [(item.case, item.fewest_to_halt, item.fewest_to_finalize, f"{item.stake_gini:.3f}")
                             for item in result.thresholds()], "lrrr")
    lines += ["",
        "## Blocks and rewards", "",
        f"Pooled over {_seed_range(experiment.seeds)}. The chi-square test compares blocks proposed with stake "
        "shares: the weighted round robin follows them by construction (p near 1, closer than chance), so its block "
        "shares are exact and shown without an interval; the lottery draws proposers at random in proportion to "
        "stake (p is then spread evenly over 0 to 1, and below 0.05 about one time in twenty), and its block shares "
        "carry a 95% Wilson interval.", "",
        f"![block shares]({PLOTS['shares']})", "",
        "Figure: bars are stake shares; red dots are block shares with their 95% Wilson interval as whiskers "
        "(lottery only; a deterministic schedule's share is drawn without whiskers); crosses are reward shares.",
        ""]
    for pooled in shares:
        lines += [f"### {pooled.case}, {pooled.strategy}", "", f"{pooled.blocks} blocks; {_chi_square_text(pooled)}.",
                  ""]
        lines += markdown_table(
            ["validator", "stake share", "blocks", "block share", "95% interval", "rewards", "reward share"],
            [(validator.name, percent(validator.stake_share), validator.blocks,
              percent(validator.block_share.share), _share_interval(pooled, validator.block_share),
              f"{validator.rewards:,}", percent(validator.reward_share)) for validator in pooled.validators],
            "lrrrlrr")
        lines.append("")
    lines += ["## Finality", "",
              "Block finality runs from the proposer's timestamp until the median node applied the block; transfer "
              "finality from submission until the sending light node applied the block holding it. The block interval "
              "is the mean time from one block to the next. Rounds > 0 counts the blocks finalized after round 0, that "
              "is after at least one round whose proposer timed out or whose proposal got no quorum; transfers final: "
              "final within the 60 s a transfer waits, of those submitted.", "",
              f"![finality]({PLOTS['finality']})", "",
              "Figure: one box per strategy and case over every block (or transfer) of every seed; the box spans the "
              "quartiles, the line is the median, the whiskers reach the 5th and 95th percentiles, and values "
              "beyond them are not drawn. A case with nothing to draw is left empty.", ""]
    lines += markdown_table(
        ["case", "strategy", "blocks", "rounds > 0", "block interval (s)", "block median (s)", "block p95 (s)",
         "transfer median (s)", "transfer p95 (s)", "transfers final"],
        [(pooled.case, pooled.strategy, pooled.blocks, pooled.rounds_above_zero, _interval(pooled),
          _seconds(pooled.block_finality, "median"), _seconds(pooled.block_finality, "p95"),
          _seconds(pooled.transfer_finality, "median"), _seconds(pooled.transfer_finality, "p95"),
          f"{pooled.transfers_final}/{pooled.transfers_submitted}") for pooled in shares], "llrrrrrrrr")
    lines += ["", "## Silent validators", "",
              f"A silent validator runs the proof-of-stake layer without the consensus engine: it keeps its stake and "
              f"follows the chain, but never proposes or votes. Runs: every case under every strategy, with v0 "
              f"silent, the coalitions of two v0+v1 and v1+v2, and every validator but v0; seed 1, "
              f"{experiment.silence_duration:g} simulated seconds of transfers (a transfer waits up to 60 s to be "
              "final). The boundary runs have stakes of their own: v0 alone, or v0 and v1 together, hold exactly 1/3 "
              "of the bonded stake, one token less, or one token more (stakes in the table).", "",
              f"![silence]({PLOTS['silence']})", "",
              "Figure: the finalized height over simulated time in each silence run, one row per strategy, one "
              "panel per case and a last panel for the boundary runs; the legend names the silent validators and "
              "their share of the stake. A flat line at 0 is a halted chain.", "",
              "Predicted: halt when the silent validators hold at least 1/3 of the stake, live otherwise; as "
              "predicted: the run finalized no block exactly when a halt was predicted; proposers: the validators "
              "that proposed at least one finalized block.", ""]
    lines += markdown_table(
        ["case", "silent", "silent stake", "predicted", "blocks", "proposers", "rounds > 0", "transfers final",
         "as predicted"],
        [(outcome.case, ", ".join(outcome.silent), percent(outcome.silent_share),
          "halt" if outcome.predicted_halt else "live", outcome.blocks, ", ".join(outcome.proposers) or "-",
          outcome.rounds_above_zero, f"{outcome.transfers_final}/{outcome.transfers_submitted}",
          _yes(outcome.as_predicted)) for outcome in result.silence()], "llrlrlrrl")
    lines += ["", "### At the 1/3 boundary", "",
              "Silent stake in tokens of the bonded total, against exactly 1/3; predicted as above.", ""]
    lines += markdown_table(
        ["case", "strategy", "stakes", "silent", "silent stake", "against 1/3", "predicted", "blocks", "rounds > 0",
         "transfers final", "as predicted"],
        [(outcome.case, outcome.strategy, ", ".join(f"{stake:,}" for stake in run.stakes), ", ".join(outcome.silent),
          f"{outcome.silent_stake:,} of {outcome.total_stake:,}", third_text(outcome),
          "halt" if outcome.predicted_halt else "live", outcome.blocks, outcome.rounds_above_zero,
          f"{outcome.transfers_final}/{outcome.transfers_submitted}", _yes(outcome.as_predicted))
         for outcome, run in zip(result.boundary(), result.of_kind(BOUNDARY_RUN), strict=True)], "lllllllrrrl")
    lines += ["", "## Stake drift with restaking", "",
              f"Every {experiment.restake_interval:g} simulated seconds each validator bonds its liquid balance above "
              f"its starting balance (its rewards, and whatever light nodes sent it). Block reward "
              f"{experiment.restake_block_reward:,}, seed 1, {experiment.restake_duration:g} simulated seconds.", "",
              f"![restake]({PLOTS['restake']})", "",
              "Figure: each validator's stake share minus its share at the genesis, in points, after every block "
              "(one run per case and strategy, seed 1: no bands); the legend gives the start and end shares of the "
              f"first {LEGEND_VALIDATORS} validators, and any others are drawn as thin grey lines.", ""]
    for drift in result.drift():
        lines += [f"### {drift.case}, {drift.strategy}", "",
                  f"{drift.blocks} blocks, {drift.bonds_admitted} bonds; largest move {drift.largest_move * 100:.2f} "
                  "points.", ""]
        lines += markdown_table(
            ["time (s)", *[f"v{index}" for index in range(len(drift.start_shares))]],
            [(f"{time:.0f}", *[percent(share) for share in row])
             for time, row in _drift_samples(drift, DRIFT_SAMPLES)],
            "r" * (len(drift.start_shares) + 1))
        lines.append("")
        lines += markdown_table(
            ["validator", "stake at start", "rewards", "received", "stake at end", "share at start",
             "share of rewards", "share of received", "share at end"],
            [(f"v{index}", f"{drift.stakes[0][index]:,}", f"{drift.rewards[index]:,}", f"{drift.received[index]:,}",
              f"{drift.stakes[-1][index]:,}", percent(drift.start_shares[index]),
              percent(drift.reward_shares[index]) if drift.reward_shares else "-",
              percent(drift.received_shares[index]) if drift.received_shares else "-",
              percent(drift.end_shares[index]))
             for index in range(len(drift.start_shares))], "lrrrrrrrr")
        lines.append("")
    controls = result.restake_controls()
    lines += ["## Where stake growth comes from: restaking against its controls", "",
              f"Each case and strategy runs seeds 1-{experiment.restake_seeds} three times: restaking with transfers "
              "(the runs above), restaking with the light nodes' transfers off (validators re-bond rewards only), and "
              "restaking off (the same transfers; stakes stay put). Growth: v0's bonded stake at the end minus at the "
              "genesis. Rewards without restaking: what v0 earned in the same seed's run with restaking off. "
              "Compounding: v0's rewards with restaking minus without, seed by seed, that is what its re-bonded "
              "income earned it (it can be negative: with a fixed reward per block, compounding only moves rewards "
              "between validators). Transfer income: what light nodes sent v0. Not yet bonded: income after the last "
              "re-bond. Growth = rewards without restaking + compounding + transfer income - not yet bonded. Share "
              "move: v0's stake share at the end minus at the genesis, in points. Every figure is a mean across "
              "seeds with its 95% t interval; detectable: the smallest mean a two-sided paired t-test over these "
              "seeds tells from 0 with 80% power at the 5% level, given the spread seen.", ""]
    lines += markdown_table(
        ["case", "strategy", "seeds", "growth", "rewards without restaking", "compounding", "compounding / growth",
         "compounding detectable", "transfer income", "not yet bonded"],
        [(control.case, control.strategy, control.seeds, _tokens(control.growth),
          _tokens(control.rewards_without_restaking), _tokens(control.compounding),
          _fraction_text(control.compounding_fraction), _detectable_tokens(control.compounding_detectable),
          _tokens(control.transfer_income), _tokens(control.unbonded)) for control in controls], "llrrrrrrrr")
    lines += [""]
    lines += markdown_table(
        ["case", "strategy", "share move with transfers", "without transfers", "difference (transfer income)",
         "difference detectable", "stake Gini at start", "at end with transfers", "at end without"],
        [(control.case, control.strategy, _points(control.share_move), _points(control.share_move_without_transfers),
          _points(control.transfer_effect),
          f"{control.transfer_effect_detectable * 100:.2f}" if control.transfer_effect_detectable is not None else "-",
          f"{control.gini_start:.3f}", _gini(control.gini_end), _gini(control.gini_end_without_transfers))
         for control in controls], "llrrrrrrr")
    lines += ["", f"![gini]({PLOTS['gini']})", "",
              "Figure: the Gini coefficient of bonded stake (solid) and of the rewards each validator earned from the "
              "start until then (dashed) over simulated time, one panel per case and strategy, one colour per run "
              "kind; lines are means across seeds, the bands around the stake lines their 95% t intervals (cut to "
              "0-1). Reward Gini starts high because the first few blocks go to few validators; without restaking "
              "the stake Gini stays at its start.", ""]
    lines += ["## Runs", ""]
    lines += markdown_table(
        ["kind", "case", "strategy", "seed", "silent", "blocks", "transfers final", "simulated s", "consistent"],
        [(run.kind, run.case, run.strategy, run.seed, ", ".join(f"v{index}" for index in run.silent) or "-",
          run.blocks, f"{len(run.transfer_latency)}/{run.transfers_submitted}", f"{run.end_time:.0f}",
          _yes(run.consistent)) for run in result.runs], "lllrlrrrl")
    lines += ["", "Consistent: the run conserved supply and every node ended on one chain (a run with no block "
                  "counts as one chain)."]
    return "\n".join(lines) + "\n"


# Plots --------------------------------------------------------------------------------------------------------------


def _case_panels(experiment: StakeExperiment) -> tuple[Any, Any]:
    """A figure and its grid of axes: one row per proposer strategy, one column per stake case, one y scale."""
    rows, columns = len(experiment.strategies), len(experiment.cases)
    return pyplot().subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False, sharey=True)


def _panel(axes: Any, experiment: StakeExperiment, case: str, strategy: str) -> Any:
    """The axis of ``_case_panels`` for ``case`` under ``strategy``."""
    return axes[experiment.strategies.index(strategy)][[known.name for known in experiment.cases].index(case)]


def plot_block_shares(result: StakeExperimentResult, path: Path) -> None:
    """Block share (with its interval) against stake share, per validator, one panel per case and strategy."""
    experiment = result.experiment
    figure, axes = _case_panels(experiment)
    for pooled in result.shares():
        axis = _panel(axes, experiment, pooled.case, pooled.strategy)
        positions = range(len(pooled.validators))
        axis.bar(positions, [validator.stake_share for validator in pooled.validators], width=0.6, color="#c8d3e0",
                 label="stake share")
        block = [validator.block_share for validator in pooled.validators]
        if pooled.exact:
            axis.plot(positions, [interval.share for interval in block], "o", color="#c0392b",
                      label="block share (exact schedule)")
        else:
            axis.errorbar(positions, [interval.share for interval in block],
                          yerr=[[interval.share - interval.low for interval in block],
                                [interval.high - interval.share for interval in block]],
                          fmt="o", color="#c0392b", capsize=4, label="block share, 95% Wilson CI")
        axis.plot([position + 0.22 for position in positions],
                  [validator.reward_share for validator in pooled.validators], "x", color="#1f4e79",
                  label="reward share")
        step = max(1, math.ceil(len(pooled.validators) / TICK_LABELS))
        axis.set_xticks(list(positions)[::step], [validator.name for validator in pooled.validators][::step])
        p_value = f"p = {pooled.chi_square.p_value:.3f}" if pooled.chi_square is not None else "no blocks"
        axis.set_title(f"{pooled.case}, {pooled.strategy}\n{pooled.blocks} blocks, chi-square {p_value}",
                       fontsize="medium")
        axis.set_ylim(0, 1)
        axis.grid(axis="y", alpha=0.3)
    for row in axes:
        row[0].set_ylabel("share")
    for row in axes:
        row[-1].legend(fontsize="small", loc="upper right")
    save_figure(figure, path)


def plot_finality(result: StakeExperimentResult, path: Path) -> None:
    """Block and transfer finality per case, one box per strategy (whiskers at the 5th and 95th percentiles)."""
    plt = pyplot()
    experiment = result.experiment
    runs = result.of_kind(SHARES_RUN)
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / len(experiment.strategies)
    colours = ["#4c72b0", "#dd8452", "#55a868", "#c44e52"]
    for axis, field, title in ((axes[0], "block_finality", "Block finality"),
                               (axes[1], "transfer_latency", "Transfer finality at the sender")):
        for offset, strategy in enumerate(experiment.strategies):
            values = [[value for run in runs if run.case == case.name and run.strategy == strategy
                       for value in getattr(run, field)] or [float("nan")] for case in experiment.cases]
            positions = [index + (offset - (len(experiment.strategies) - 1) / 2) * width
                         for index in range(len(experiment.cases))]
            boxes = axis.boxplot(values, positions=positions, widths=width * 0.9, whis=(5, 95), showfliers=False,
                                 patch_artist=True)
            for box in boxes["boxes"]:
                box.set_facecolor(colours[offset % len(colours)])
            boxes["boxes"][0].set_label(strategy)
        axis.set_xticks(range(len(experiment.cases)), [case.name for case in experiment.cases])
        axis.set_ylabel("seconds")
        axis.set_title(title)
        axis.grid(axis="y", alpha=0.3)
        axis.legend(fontsize="small")
    save_figure(figure, path)


def plot_silence(result: StakeExperimentResult, path: Path) -> None:
    """Finalized height over time in each silence run: one row per strategy, one panel per case, then the boundary."""
    plt = pyplot()
    experiment = result.experiment
    runs = result.of_kind(SILENCE_RUN) + result.of_kind(BOUNDARY_RUN)
    panels = [(case.name, SILENCE_RUN) for case in experiment.cases] + [("1/3 boundary", BOUNDARY_RUN)]
    figure, axes = plt.subplots(len(experiment.strategies), len(panels),
                                figsize=(4.2 * len(panels), 3.4 * len(experiment.strategies)), squeeze=False,
                                sharey=True)
    for row, strategy in zip(axes, experiment.strategies, strict=True):
        for axis, (title, kind) in zip(row, panels, strict=True):
            for run in runs:
                if run.strategy != strategy or run.kind != kind or (kind == SILENCE_RUN and run.case != title):
                    continue
                silent = "+".join(f"v{index}" for index in run.silent)
                share = sum(run.stakes[index] for index in run.silent) / sum(run.stakes)
                label = run.case if kind == BOUNDARY_RUN else f"{silent} silent ({percent(share)})"
                axis.step([0.0, *run.block_times, run.end_time], [0, *range(1, run.blocks + 1), run.blocks],
                          where="post", label=label)
            axis.set_title(f"{title}, {strategy}", fontsize="medium")
            axis.set_xlabel("simulated time (s)")
            axis.grid(alpha=0.3)
            axis.legend(fontsize="x-small")
        row[0].set_ylabel("finalized height")
    save_figure(figure, path)


def plot_gini(result: StakeExperimentResult, path: Path) -> None:
    """Gini of stake and of rewards so far over time, mean and 95% band across seeds, per case and strategy."""
    experiment = result.experiment
    figure, axes = _case_panels(experiment)
    colours = dict(zip(RESTAKE_KINDS, ("#1f77b4", "#2ca02c", "#7f7f7f"), strict=True))
    names = {RESTAKE_RUN: "restaking", RESTAKE_NO_TRANSFERS_RUN: "restaking, no transfers",
             NO_RESTAKE_RUN: "no restaking"}
    for series in result.gini_series():
        axis = _panel(axes, experiment, series.case, series.strategy)
        for values, style, what in ((series.stake, "-", "stake"), (series.rewards, "--", "rewards")):
            axis.plot(series.times, [value.mean for value in values], style, color=colours[series.kind],
                      label=f"{what}, {names[series.kind]}")
        # Bands for stake only: reward Gini over a few early blocks swings widely and its band would hide the rest.
        axis.fill_between(series.times, [max(0.0, value.low) for value in series.stake],
                          [min(1.0, value.high) for value in series.stake], color=colours[series.kind], alpha=0.15,
                          linewidth=0)
        axis.set_title(f"{series.case}, {series.strategy}", fontsize="medium")
        axis.set_xlabel("simulated time (s)")
        axis.set_ylim(0, 1)
        axis.grid(alpha=0.3)
    for row in axes:
        row[0].set_ylabel("Gini coefficient")
        row[-1].legend(fontsize="x-small", loc="upper right")
    save_figure(figure, path)


def plot_restake(result: StakeExperimentResult, path: Path) -> None:
    """Each validator's stake share over time while rewards are re-bonded, one panel per case and strategy."""
    experiment = result.experiment
    figure, axes = _case_panels(experiment)
    for drift in result.drift():
        axis = _panel(axes, experiment, drift.case, drift.strategy)
        for index, start in enumerate(drift.start_shares):
            # The change in points shows small and large holders on one scale; the legend keeps the level.
            named = index < LEGEND_VALIDATORS
            axis.plot(drift.times, [(row[index] - start) * 100 for row in drift.shares],
                      linewidth=1.5 if named else 0.5, color=None if named else "#b0b0b0",
                      label=f"v{index} (from {percent(start)} to {percent(drift.end_shares[index])})" if named
                      else None)
        axis.axhline(0, color="grey", linewidth=0.8)
        axis.set_title(f"{drift.case}, {drift.strategy}", fontsize="medium")
        axis.set_xlabel("simulated time (s)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize="x-small")
    for row in axes:
        row[0].set_ylabel("stake share change (points)")
    save_figure(figure, path)


def write_report(result: StakeExperimentResult, directory: str | Path, argv: Sequence[str] | None = None) -> Path:
    """
    Write report.md, report.json and the PNG plots into ``directory``, with the provenance of ``a27 <argv>`` (the
    command is recorded as unknown without ``argv``); return the Markdown path.
    """
    plots = {PLOTS["shares"]: plot_block_shares, PLOTS["finality"]: plot_finality, PLOTS["silence"]: plot_silence,
             PLOTS["restake"]: plot_restake, PLOTS["gini"]: plot_gini}
    provenance = collect_provenance(argv, result.experiment.parameters())
    return write_report_files(directory, report_data(result), format_markdown(result),
                              {name: functools.partial(draw, result) for name, draw in plots.items()}, provenance)


__all__ = ["PLOTS", "findings", "format_markdown", "format_terminal", "precision_sentence", "report_data",
           "restake_control_sentences", "third_text", "verdict_line", "write_report"]
