"""
The Lab 2 stake experiment: what stake weights do to proof of stake.

Each case gives validator 0 a different stake from the others (the same, ten times more, a tenth). Seeded runs per
case and proposer strategy measure who proposes the blocks, who earns the rewards and how fast blocks become final.
Short runs with a set of silent validators show who alone can halt the chain or finalize it, under every proposer
strategy: single validators and coalitions of two in each case, and stakes built so that the silent validators hold
exactly 1/3 of the bonded stake, one token less, or one token more. Longer runs in which validators re-bond their
income, beside the same seeds with transfers off and with restaking off, show how stake shares and their Gini
coefficient move, and how much of a validator's stake growth is reward compounding rather than transfer income.
"""

from __future__ import annotations

import bisect
import logging
import math
import multiprocessing
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import attrs

from a27_pos import PosCommunity, PosParams, ValidatorSet

from ..labs.common import latency_summary
from ..labs.lab2 import Lab2Result, run_lab2
from ..reports.provenance import scenario_parameters
from ..reports.statistics import (
    AMOUNT,
    SHARE,
    ChiSquare,
    Interval,
    MeanInterval,
    chi_square_against_shares,
    detectable_effect_chi_square,
    detectable_standardized_difference,
    gini,
    mean_interval,
    nakamoto_coefficient,
    share_shift_for_effect,
    standard_deviation,
    wilson_interval,
)
from ..scenario import SimScenario
from ..scenario.settings import MAX_SECONDS

STRATEGIES = ("weighted-round-robin", "lottery")
DETERMINISTIC_STRATEGIES = ("weighted-round-robin",)
"""Strategies whose proposer schedule follows from the stakes alone: their block shares are exact, not a sample."""
DEFAULT_CASES = ("equal", "10x-more", "10x-less")

SHARES_RUN = "shares"
"""A run that measures block and reward shares and finality."""
SILENCE_RUN = "silence"
"""A short run in which some validators never propose or vote."""
BOUNDARY_RUN = "boundary"
"""A silence run whose stakes put the silent validators at exactly 1/3 of the bonded stake, or one token off it."""
RESTAKE_RUN = "restake"
"""A long run in which validators re-bond their income (rewards and transfers received)."""
RESTAKE_NO_TRANSFERS_RUN = "restake-no-transfers"
"""A restake run with the light nodes' transfers off: validators re-bond rewards only."""
NO_RESTAKE_RUN = "no-restake"
"""A restake run's control with restaking off: the same stakes, seed, reward, duration and transfers."""
RESTAKE_KINDS = (RESTAKE_RUN, RESTAKE_NO_TRANSFERS_RUN, NO_RESTAKE_RUN)
"""The three runs made per case, strategy and restake seed."""
NO_TRANSFERS_INTERVAL = MAX_SECONDS
"""The mean pause between a light node's transfers in a no-transfers run: a light node's first transfer falls within
a run of d simulated seconds with probability 1 - exp(-d / 1,000,000) (0.015% at 150 s); the report counts them."""

RunProgress = Callable[[int, int, str], None]
"""Called after each run with (runs done, runs planned, the finished run's label)."""

_RATIO_CASE = re.compile(r"(?P<factor>\d+(?:\.\d+)?)x-(?P<direction>more|less)")


class ExperimentError(ValueError):
    """An experiment setting that is unknown or out of range."""


@attrs.frozen
class StakeCase:
    """A stake distribution: validator 0 holds ``ratio`` times the stake of every other validator."""

    name: str
    ratio: float

    @classmethod
    def named(cls, name: str) -> StakeCase:
        """
        The case called ``equal``, ``<N>x-more`` or ``<N>x-less`` (validator 0 holds N times, or 1/N of, the stake
        of each other validator).

        :raises ExperimentError: for any other name, or a factor that is not positive.
        """
        name = name.strip()
        if name == "equal":
            return cls(name, 1.0)
        match = _RATIO_CASE.fullmatch(name)
        factor = float(match["factor"]) if match else 0.0
        if match is None or not 0 < factor < math.inf:
            msg = f"unknown stake case {name!r}: use equal, <N>x-more or <N>x-less (e.g. 10x-more)"
            raise ExperimentError(msg)
        return cls(name, factor if match["direction"] == "more" else 1 / factor)

    def stakes(self, validators: int, base_stake: int) -> tuple[int, ...]:
        """Each validator's stake: ``base_stake`` for the others, ``ratio`` times that for validator 0."""
        return (round(base_stake * self.ratio), *(base_stake,) * (validators - 1))


def parse_cases(text: str) -> tuple[StakeCase, ...]:
    """Comma-separated case names, in the order given, each once."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        msg = "name at least one stake case"
        raise ExperimentError(msg)
    return tuple(StakeCase.named(name) for name in dict.fromkeys(names))


def parse_strategies(text: str) -> tuple[str, ...]:
    """``both`` or one proposer strategy's name."""
    if text == "both":
        return STRATEGIES
    if text not in STRATEGIES:
        msg = f"proposer must be {', '.join(STRATEGIES)} or both, got {text!r}"
        raise ExperimentError(msg)
    return (text,)


@attrs.frozen
class BoundaryCase:
    """Stakes that put the ``silent`` validators at exactly 1/3 of the bonded stake plus ``offset`` tokens."""

    name: str
    stakes: tuple[int, ...]
    silent: tuple[int, ...]
    offset: int
    """Tokens the silent stake lies above (positive) or below (negative) exactly 1/3."""


BOUNDARY_OFFSETS = (-1, 0, 1)
"""Just under, exactly at and just over 1/3, in tokens: the smallest step stake can take."""


def boundary_cases(validators: int, base_stake: int) -> tuple[BoundaryCase, ...]:
    """
    Silence at the 1/3 boundary: v0 alone (v0 holds (n - 1) x base, every other 2 x base, so v0 is exactly 1/3), and,
    with 3 validators or more, the coalition v0+v1 (each (n - 2) x base, every other 4 x base: together exactly 1/3,
    each alone 1/6); each exactly, one token under (v0, or v1, holds one token less) and one token over.
    """
    single = (validators - 1) * base_stake
    cases = [BoundaryCase(_boundary_name("v0", offset), (single + offset, *(2 * base_stake,) * (validators - 1)), (0,),
                          offset) for offset in BOUNDARY_OFFSETS]
    if validators >= 3:
        member = (validators - 2) * base_stake
        cases += [BoundaryCase(_boundary_name("v0+v1", offset),
                               (member, member + offset, *(4 * base_stake,) * (validators - 2)), (0, 1), offset)
                  for offset in BOUNDARY_OFFSETS]
    return tuple(cases)


def _boundary_name(silent: str, offset: int) -> str:
    return f"{silent} at 1/3" + (f" {'+' if offset > 0 else '-'} {abs(offset)}" if offset else "")


def silent_sets(validators: int) -> tuple[tuple[int, ...], ...]:
    """The silence runs of each case: v0; the coalitions of two v0+v1 and v1+v2; every validator but v0."""
    sets = ((0,), (0, 1), (1, 2), tuple(range(1, validators)))
    return tuple(silent for silent in dict.fromkeys(sets) if max(silent) < validators and len(silent) < validators)


def _positive(_: object, attribute: attrs.Attribute, value: float) -> None:
    if value <= 0:
        msg = f"{attribute.name} must be positive, got {value}"
        raise ExperimentError(msg)


@attrs.frozen
class PlannedRun:
    """One simulation of the experiment: what kind of run it is, for which case, and its full scenario."""

    kind: str
    case: str
    scenario: SimScenario

    @property
    def label(self) -> str:
        """A short human name for progress lines."""
        silent = ",".join(f"v{index}" for index in self.scenario.silent_validators)
        return (f"{self.kind} {self.case} {self.scenario.proposer} seed {self.scenario.seed}"
                + (f" silent {silent}" if silent else ""))


@attrs.frozen
class StakeExperiment:
    """The stake experiment's settings; every run it makes follows from them and is deterministic."""

    cases: tuple[StakeCase, ...] = attrs.field(default=tuple(StakeCase.named(name) for name in DEFAULT_CASES))
    strategies: tuple[str, ...] = STRATEGIES
    seeds: int = attrs.field(default=20, validator=_positive)
    """Shares runs per case and strategy, with seeds 1, 2, ..."""
    validators: int = 4
    light_nodes: int = attrs.field(default=4, validator=_positive)
    duration: float = attrs.field(default=120.0, validator=_positive)
    """Simulated seconds of transfers in each shares run."""
    transfer_interval: float = attrs.field(default=4.0, validator=_positive)
    base_stake: int = attrs.field(default=100_000, validator=_positive)
    """The stake of every validator but validator 0."""
    silence_duration: float = attrs.field(default=30.0, validator=_positive)
    restake_seeds: int = attrs.field(default=20, validator=_positive)
    """Seeds 1, 2, ... of each restake run and its two controls (no transfers, no restaking), per case and strategy."""
    restake_duration: float = attrs.field(default=150.0, validator=_positive)
    restake_interval: float = attrs.field(default=10.0, validator=_positive)
    restake_block_reward: int = attrs.field(default=2_000, validator=_positive)
    """Block reward in the restake runs: large enough against the stakes that compounding shows within a run."""

    def __attrs_post_init__(self) -> None:
        """Check what the cases and strategies need."""
        if self.validators < 2:
            msg = f"validator 0 is compared with the others: needs 2 validators or more, not {self.validators}"
            raise ExperimentError(msg)
        if not self.cases or not self.strategies:
            msg = "name at least one stake case and one proposer strategy"
            raise ExperimentError(msg)
        unknown = [strategy for strategy in self.strategies if strategy not in STRATEGIES]
        if unknown:
            msg = f"unknown proposer strategy {unknown[0]!r}; strategies are {', '.join(STRATEGIES)}"
            raise ExperimentError(msg)
        min_stake = PosParams().min_stake
        for case in self.cases:
            if min(self.stakes(case)) < min_stake:
                msg = (f"case {case.name} gives a stake of {min(self.stakes(case)):,}, below the chain's min_stake "
                       f"{min_stake:,}; raise the base stake or pick a smaller factor")
                raise ExperimentError(msg)
        for boundary in self.boundaries():
            if min(boundary.stakes) < min_stake:
                msg = (f"boundary case {boundary.name} gives a stake of {min(boundary.stakes):,}, below the chain's "
                       f"min_stake {min_stake:,}; raise the base stake")
                raise ExperimentError(msg)

    @classmethod
    def quick(cls, **settings: Any) -> StakeExperiment:
        """The CI preset: 2 seeds and short runs (``settings`` override it)."""
        return cls(**{"seeds": 2, "duration": 30.0, "silence_duration": 20.0, "restake_seeds": 2,
                      "restake_duration": 60.0, **settings})

    def stakes(self, case: StakeCase) -> tuple[int, ...]:
        """Each validator's stake in ``case``."""
        return case.stakes(self.validators, self.base_stake)

    def case_named(self, name: str) -> StakeCase:
        """The experiment's case called ``name``."""
        return next(case for case in self.cases if case.name == name)

    def boundaries(self) -> tuple[BoundaryCase, ...]:
        """The stakes and silent validators of the boundary runs (see ``boundary_cases``)."""
        return boundary_cases(self.validators, self.base_stake)

    def _scenario(self, stakes: tuple[int, ...], strategy: str, seed: int, **settings: Any) -> SimScenario:
        return SimScenario(**{"validators": self.validators, "light_nodes": self.light_nodes, "seed": seed,
                              "transfer_interval": self.transfer_interval, "stakes": stakes, "proposer": strategy,
                              **settings})

    def _restake_scenario(self, kind: str, case: StakeCase, strategy: str, seed: int) -> SimScenario:
        settings: dict[str, Any] = {"duration": self.restake_duration, "block_reward": self.restake_block_reward}
        if kind != NO_RESTAKE_RUN:
            settings["restake_interval"] = self.restake_interval
        if kind == RESTAKE_NO_TRANSFERS_RUN:
            settings["transfer_interval"] = NO_TRANSFERS_INTERVAL
        return self._scenario(self.stakes(case), strategy, seed, **settings)

    def plan(self) -> tuple[PlannedRun, ...]:
        """
        Every run, in report order: shares runs (case x strategy x seed); silence runs (case x strategy x
        ``silent_sets``, seed 1); boundary runs (strategy x ``boundaries``, seed 1); restake runs (case x strategy x
        restake seed x ``RESTAKE_KINDS``).
        """
        runs = [PlannedRun(SHARES_RUN, case.name, self._scenario(self.stakes(case), strategy, seed,
                                                                 duration=self.duration))
                for case in self.cases for strategy in self.strategies for seed in range(1, self.seeds + 1)]
        runs += [PlannedRun(SILENCE_RUN, case.name, self._scenario(
                     self.stakes(case), strategy, 1, duration=self.silence_duration, silent_validators=silent))
                 for case in self.cases for strategy in self.strategies for silent in silent_sets(self.validators)]
        runs += [PlannedRun(BOUNDARY_RUN, boundary.name, self._scenario(
                     boundary.stakes, strategy, 1, duration=self.silence_duration, silent_validators=boundary.silent))
                 for strategy in self.strategies for boundary in self.boundaries()]
        runs += [PlannedRun(kind, case.name, self._restake_scenario(kind, case, strategy, seed))
                 for case in self.cases for strategy in self.strategies for seed in range(1, self.restake_seeds + 1)
                 for kind in RESTAKE_KINDS]
        return tuple(runs)

    def to_dict(self) -> dict[str, object]:
        """The settings as plain data (for reports)."""
        data = attrs.asdict(self)
        data["cases"] = {case.name: list(self.stakes(case)) for case in self.cases}
        data["strategies"] = list(self.strategies)
        return data

    def parameters(self) -> dict[str, object]:
        """
        Every parameter the results depend on, defaults included: the experiment's settings, the scenario settings
        every run shares (seed, stakes, proposer and duration vary per run and follow from the settings), the chain's
        parameters, the consensus timeouts and the defences (all on).
        """
        varying = ("seed", "stakes", "proposer", "duration", "silent_validators", "restake_interval", "db")
        return {"experiment": self.to_dict(), **scenario_parameters(self.plan()[0].scenario, varying)}


@attrs.frozen
class RunSummary:
    """What the experiment keeps of one run: plain data, so it crosses process boundaries and goes into JSON."""

    kind: str
    case: str
    strategy: str
    seed: int
    silent: tuple[int, ...]
    stakes: tuple[int, ...]
    """Genesis stake of v0, v1, ..."""
    blocks_proposed: tuple[int, ...]
    rewards: tuple[int, ...]
    """Block rewards plus fees each validator earned."""
    received: tuple[int, ...]
    """What each validator received in final transfers from light nodes."""
    block_times: tuple[float, ...]
    """Timestamps of the finalized blocks, in height order (simulated seconds)."""
    block_finality: tuple[float, ...]
    """Seconds from each block's timestamp until the median node applied it."""
    rounds_above_zero: int
    transfers_submitted: int
    transfer_latency: tuple[float, ...]
    """Seconds from submission until the sender applied the block, for each transfer that became final."""
    agreed: bool
    supply_ok: bool
    end_time: float
    stake_history: tuple[tuple[float, tuple[int, ...]], ...]
    """(timestamp, bonded stake of v0, v1, ...) at the genesis and after every block; only in restake runs and their
    controls."""
    bonds_admitted: int
    block_proposers: tuple[int, ...] = ()
    """The proposer (0 for v0, ...) of each finalized block, in height order; only in restake runs and controls."""
    block_rewards: tuple[int, ...] = ()
    """The block reward plus fees each finalized block paid its proposer; only in restake runs and controls."""

    @property
    def blocks(self) -> int:
        """Blocks finalized in the run."""
        return len(self.block_times)

    @property
    def consistent(self) -> bool:
        """Supply conserved, and every node holds the same chain (trivially so when none was finalized)."""
        return self.supply_ok and (self.agreed or self.blocks == 0)


def summarize(run: PlannedRun, result: Lab2Result) -> RunSummary:
    """Keep what the experiment reports of a finished run."""
    history: tuple[tuple[float, tuple[int, ...]], ...] = ()
    proposers: tuple[int, ...] = ()
    paid: tuple[int, ...] = ()
    if run.kind in RESTAKE_KINDS:
        history = tuple((sample.timestamp, sample.stakes) for sample in result.stake_history)
        index = {validator.name: position for position, validator in enumerate(result.validators)}
        proposers = tuple(index[block.proposer] for block in result.blocks)
        paid = tuple(run.scenario.block_reward + block.fees for block in result.blocks)
    return RunSummary(
        kind=run.kind, case=run.case, strategy=run.scenario.proposer, seed=run.scenario.seed,
        silent=run.scenario.silent_validators, stakes=run.scenario.validator_stakes(),
        blocks_proposed=tuple(validator.blocks for validator in result.validators),
        rewards=tuple(validator.rewards for validator in result.validators),
        received=tuple(sum(record.amount for record in result.transfers
                           if record.outcome == "final" and record.recipient == validator.name)
                       for validator in result.validators),
        block_times=tuple(block.timestamp for block in result.blocks),
        block_finality=tuple(block.finality for block in result.blocks if block.finality is not None),
        rounds_above_zero=sum(block.round > 0 for block in result.blocks),
        transfers_submitted=len(result.transfers),
        transfer_latency=tuple(record.latency for record in result.transfers if record.latency is not None),
        agreed=result.agreed, supply_ok=result.supply_ok, end_time=result.end_time, stake_history=history,
        bonds_admitted=sum(record.outcome == "admitted" for record in result.restakes), block_proposers=proposers,
        block_rewards=paid)


def run_planned(run: PlannedRun) -> RunSummary:
    """Run one planned simulation (in this process) and summarize it."""
    logger = logging.getLogger(PosCommunity.__name__)
    level = logger.level
    if run.scenario.silent_validators:
        # A silent validator drops every vote, proposal and submission sent to it. That is the point of the run,
        # and each drop is counted in its node report, so a warning per message would only bury other output.
        logger.setLevel(logging.ERROR)
    try:
        return summarize(run, run_lab2(run.scenario))
    finally:
        logger.setLevel(level)


def run_stake_experiment(experiment: StakeExperiment, *, jobs: int = 1,
                         progress: RunProgress | None = None) -> StakeExperimentResult:
    """
    Run every planned simulation, in up to ``jobs`` worker processes (1 or less: in this process).

    The result does not depend on ``jobs``: each run is fixed by its own scenario and seed. Worker processes are
    spawned and import the caller's main module, so a script that passes ``jobs`` above 1 must guard its entry point
    with ``if __name__ == "__main__":``.
    """
    plan = experiment.plan()
    summaries: dict[int, RunSummary] = {}

    def finished(index: int, summary: RunSummary) -> None:
        summaries[index] = summary
        if progress is not None:
            progress(len(summaries), len(plan), plan[index].label)

    if jobs <= 1:
        for index, run in enumerate(plan):
            finished(index, run_planned(run))
    else:
        # Spawned, not forked: the parent may hold threads (a progress bar) that a fork would copy half-way.
        with ProcessPoolExecutor(max_workers=min(jobs, len(plan)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            # Longest first, so that the workers finish close together.
            order = sorted(range(len(plan)), key=lambda index: -plan[index].scenario.duration)
            futures = {pool.submit(run_planned, plan[index]): index for index in order}
            for future in as_completed(futures):
                finished(futures[future], future.result())
    return StakeExperimentResult(experiment, tuple(summaries[index] for index in range(len(plan))))


# Analysis -----------------------------------------------------------------------------------------------------------


@attrs.frozen
class ValidatorShare:
    """One validator's stake, blocks and rewards, pooled over seeds."""

    name: str
    stake_share: float
    blocks: int
    block_share: Interval
    """Share of the blocks it proposed, with a 95% Wilson interval."""
    rewards: int
    reward_share: float


@attrs.frozen
class PooledShares:
    """A case under one proposer strategy, pooled over its seeds."""

    case: str
    strategy: str
    seeds: tuple[int, ...]
    blocks: int
    validators: tuple[ValidatorShare, ...]
    chi_square: ChiSquare | None
    """Blocks proposed against stake shares; None without blocks."""
    exact: bool
    """The strategy's schedule follows from the stakes alone, so block shares are exact and carry no interval."""
    v0_block_share: MeanInterval | None
    """v0's share of the blocks, one value per seed with blocks, with a 95% t interval across seeds."""
    detectable_shift: float | None
    """The smallest move of v0's block share away from its stake share (others scaled in proportion) that the
    chi-square test over these blocks detects with 80% power at the 5% level; None without blocks."""
    median_finality: MeanInterval | None
    """The median block finality of each seed, with a 95% t interval across seeds; None without finalized blocks."""
    finality_detectable: float | None
    """Seconds: the smallest difference in mean per-seed median block finality between this and another group of as
    many seeds with the same spread that a two-sided two-sample t-test detects with 80% power at the 5% level; None
    with fewer than two seeds with blocks."""
    block_finality: dict[str, float]
    block_interval: float | None
    """Mean simulated seconds from one block to the next; None with fewer than two blocks in every run."""
    transfer_finality: dict[str, float]
    transfers_submitted: int
    transfers_final: int
    rounds_above_zero: int


def pool_shares(runs: Sequence[RunSummary]) -> PooledShares:
    """
    Pool the runs of one case and strategy (they share stakes): blocks, rewards and latencies over all seeds.

    :raises ExperimentError: when the runs are empty or mix cases, strategies or stakes.
    """
    if not runs or len({(run.case, run.strategy, run.stakes) for run in runs}) != 1:
        msg = "pool runs of one case and strategy"
        raise ExperimentError(msg)
    first = runs[0]
    total_stake = sum(first.stakes)
    proposed = [sum(run.blocks_proposed[index] for run in runs) for index in range(len(first.stakes))]
    rewards = [sum(run.rewards[index] for run in runs) for index in range(len(first.stakes))]
    blocks = sum(proposed)
    exact = first.strategy in DETERMINISTIC_STRATEGIES

    def block_share(count: int) -> Interval:
        if not blocks:
            return Interval(0.0, 0.0, 1.0)
        return Interval(count / blocks, count / blocks, count / blocks) if exact else wilson_interval(count, blocks)

    validators = tuple(
        ValidatorShare(f"v{index}", stake / total_stake, proposed[index], block_share(proposed[index]),
                       rewards[index], rewards[index] / sum(rewards) if sum(rewards) else 0.0)
        for index, stake in enumerate(first.stakes))
    chi_square = chi_square_against_shares(proposed, first.stakes) if blocks else None
    seeded_shares = [run.blocks_proposed[0] / run.blocks for run in runs if run.blocks]
    medians = [latency_summary(list(run.block_finality))["median"] for run in runs if run.block_finality]
    v0_stake = first.stakes[0] / total_stake
    spans = [(run.block_times[-1] - run.block_times[0], run.blocks - 1) for run in runs if run.blocks >= 2]
    gaps = sum(count for _, count in spans)
    return PooledShares(
        case=first.case, strategy=first.strategy, seeds=tuple(run.seed for run in runs), blocks=blocks,
        validators=validators, chi_square=chi_square, exact=exact,
        v0_block_share=mean_interval(seeded_shares, within=SHARE) if seeded_shares else None,
        detectable_shift=share_shift_for_effect(detectable_effect_chi_square(blocks, len(first.stakes) - 1), v0_stake)
        if blocks and 0 < v0_stake < 1 else None,
        median_finality=mean_interval(medians, within=AMOUNT) if medians else None,
        finality_detectable=detectable_standardized_difference(len(medians)) * standard_deviation(medians)
        if len(medians) >= 2 else None,
        block_finality=latency_summary([value for run in runs for value in run.block_finality]),
        block_interval=sum(span for span, _ in spans) / gaps if gaps else None,
        transfer_finality=latency_summary([value for run in runs for value in run.transfer_latency]),
        transfers_submitted=sum(run.transfers_submitted for run in runs),
        transfers_final=sum(len(run.transfer_latency) for run in runs),
        rounds_above_zero=sum(run.rounds_above_zero for run in runs))


@attrs.frozen
class Thresholds:
    """Who can stop or decide the chain alone in one case, by the chain's own quorum rule."""

    case: str
    stake_shares: tuple[float, ...]
    halts_alone: tuple[bool, ...]
    """Whether each validator, silent, leaves the rest without more than 2/3 (it holds at least 1/3)."""
    finalizes_alone: tuple[bool, ...]
    """Whether each validator holds more than 2/3 by itself."""
    fewest_to_halt: int
    """Nakamoto coefficient of halting: the fewest validators whose silence halts the chain (at least 1/3)."""
    fewest_to_finalize: int
    """Nakamoto coefficient of finality: the fewest validators that finalize blocks alone (more than 2/3)."""
    stake_gini: float
    """The Gini coefficient of the stakes."""


def _validator_set(stakes: Sequence[int]) -> ValidatorSet:
    # Accounts only label the powers here; the quorum test is the one every node applies to votes.
    return ValidatorSet.from_powers({index.to_bytes(32, "big"): stake for index, stake in enumerate(stakes)})


def _halts(validator_set: ValidatorSet, silent_power: int) -> bool:
    return not validator_set.has_quorum(validator_set.total_power - silent_power)


def stake_thresholds(case: str, stakes: Sequence[int]) -> Thresholds:
    """
    The halting and finalizing power of each validator, the Nakamoto coefficients (by a27-pos's own quorum test,
    ``ValidatorSet.has_quorum``: more than 2/3 of the bonded stake) and the stake's Gini coefficient.
    """
    validator_set = _validator_set(stakes)
    total = validator_set.total_power
    return Thresholds(
        case=case, stake_shares=tuple(stake / total for stake in stakes),
        halts_alone=tuple(_halts(validator_set, stake) for stake in stakes),
        finalizes_alone=tuple(validator_set.has_quorum(stake) for stake in stakes),
        fewest_to_halt=nakamoto_coefficient(stakes, lambda power: _halts(validator_set, power)),
        fewest_to_finalize=nakamoto_coefficient(stakes, validator_set.has_quorum), stake_gini=gini(stakes))


@attrs.frozen
class SilenceOutcome:
    """A run with silent validators: what the quorum rule predicts, and what happened."""

    case: str
    strategy: str
    silent: tuple[str, ...]
    silent_share: float
    predicted_halt: bool
    silent_stake: int
    total_stake: int
    blocks: int
    proposers: tuple[str, ...]
    """Validators that proposed at least one finalized block."""
    rounds_above_zero: int
    transfers_submitted: int
    transfers_final: int
    duration: float
    """Simulated seconds the run lasted (transfers, waiting for them, settling)."""

    @property
    def halted(self) -> bool:
        """No block was finalized."""
        return self.blocks == 0

    @property
    def as_predicted(self) -> bool:
        """The chain halted exactly when the silent stake was enough to halt it."""
        return self.halted == self.predicted_halt


def silence_outcome(run: RunSummary) -> SilenceOutcome:
    """Compare a silence run with the quorum rule's prediction."""
    validator_set = _validator_set(run.stakes)
    silent_power = sum(run.stakes[index] for index in run.silent)
    return SilenceOutcome(
        case=run.case, strategy=run.strategy, silent=tuple(f"v{index}" for index in run.silent),
        silent_share=silent_power / validator_set.total_power, predicted_halt=_halts(validator_set, silent_power),
        silent_stake=silent_power, total_stake=validator_set.total_power,
        blocks=run.blocks, proposers=tuple(f"v{index}" for index, count in enumerate(run.blocks_proposed) if count),
        rounds_above_zero=run.rounds_above_zero, transfers_submitted=run.transfers_submitted,
        transfers_final=len(run.transfer_latency), duration=run.end_time)


@attrs.frozen
class ThresholdCrossing:
    """A validator gaining or losing, during a restake run, the power to halt or to finalize the chain alone."""

    validator: str
    power: str
    """halt or finalize."""
    gained: bool
    first_time: float
    """When its share first crossed the threshold (simulated seconds)."""
    held_at_end: bool


@attrs.frozen
class StakeDrift:
    """How bonded stake moved in a restake run."""

    case: str
    strategy: str
    blocks: int
    times: tuple[float, ...]
    """The genesis (0) and every block's timestamp."""
    stakes: tuple[tuple[int, ...], ...]
    """Each validator's bonded stake at each time."""
    rewards: tuple[int, ...]
    received: tuple[int, ...]
    bonds_admitted: int

    @property
    def shares(self) -> tuple[tuple[float, ...], ...]:
        """Each validator's share of the bonded stake at each time."""
        return tuple(tuple(stake / sum(row) for stake in row) for row in self.stakes)

    @property
    def start_shares(self) -> tuple[float, ...]:
        """Shares at the genesis."""
        return self.shares[0]

    @property
    def end_shares(self) -> tuple[float, ...]:
        """Shares after the last block."""
        return self.shares[-1]

    @property
    def reward_shares(self) -> tuple[float, ...]:
        """Each validator's share of all rewards paid in the run."""
        return tuple(reward / sum(self.rewards) for reward in self.rewards) if sum(self.rewards) else ()

    @property
    def received_shares(self) -> tuple[float, ...]:
        """Each validator's share of all that light nodes sent to validators in the run."""
        return tuple(amount / sum(self.received) for amount in self.received) if sum(self.received) else ()

    @property
    def largest_move(self) -> float:
        """The largest distance of any validator's share from its start, at any time (share points, 0..1)."""
        start = self.start_shares
        return max(abs(share - first) for row in self.shares for share, first in zip(row, start, strict=True))

    def threshold_crossings(self) -> tuple[ThresholdCrossing, ...]:
        """Every validator that, at some time, gained or lost the power to halt or to finalize alone."""
        verdicts = [stake_thresholds(self.case, row) for row in self.stakes]
        crossings = []
        for index in range(len(self.stakes[0])):
            for power, column in (("halt", [verdict.halts_alone[index] for verdict in verdicts]),
                                  ("finalize", [verdict.finalizes_alone[index] for verdict in verdicts])):
                changed = [position for position, holds in enumerate(column) if holds != column[0]]
                if changed:
                    crossings.append(ThresholdCrossing(f"v{index}", power, not column[0], self.times[changed[0]],
                                                       column[-1] != column[0]))
        return tuple(crossings)


def stake_drift(run: RunSummary) -> StakeDrift:
    """The stake series of a restake run."""
    if not run.stake_history:
        msg = f"run {run.case} {run.strategy} recorded no stake history (not a restake run)"
        raise ExperimentError(msg)
    return StakeDrift(case=run.case, strategy=run.strategy, blocks=run.blocks,
                      times=tuple(time for time, _ in run.stake_history),
                      stakes=tuple(stakes for _, stakes in run.stake_history), rewards=run.rewards,
                      received=run.received, bonds_admitted=run.bonds_admitted)


GINI_POINTS = 30
"""Points in time, evenly spread over a restake run's transfers, at which Gini coefficients are taken."""


def _at(times: Sequence[float], time: float) -> int:
    """The index of the last of the ascending ``times`` at or before ``time`` (0 when none is)."""
    return max(bisect.bisect_right(times, time) - 1, 0)


def stake_at(run: RunSummary, time: float) -> tuple[int, ...]:
    """Each validator's bonded stake at ``time`` in a run that recorded its stake history."""
    return run.stake_history[_at([moment for moment, _ in run.stake_history], time)][1]


def rewards_until(run: RunSummary, time: float) -> tuple[int, ...]:
    """What each validator earned (block rewards and fees) in the blocks finalized with a timestamp up to ``time``."""
    earned = [0] * len(run.stakes)
    for proposer, paid, moment in zip(run.block_proposers, run.block_rewards, run.block_times, strict=True):
        if moment <= time:
            earned[proposer] += paid
    return tuple(earned)


@attrs.frozen
class GiniSeries:
    """The Gini coefficients of stake and of rewards earned so far, over time, across the seeds of one run kind."""

    case: str
    strategy: str
    kind: str
    times: tuple[float, ...]
    stake: tuple[MeanInterval, ...]
    """The Gini coefficient of bonded stake at each time: mean and 95% t interval across seeds."""
    rewards: tuple[MeanInterval, ...]
    """The Gini coefficient of the rewards each validator earned from the start until each time, across seeds."""


def gini_series(runs: Sequence[RunSummary], duration: float, points: int = GINI_POINTS) -> GiniSeries:
    """
    Gini coefficients of stake and of cumulative rewards at ``points`` evenly spread times up to ``duration``.

    :raises ExperimentError: when the runs are empty, mix cases, strategies or kinds, or lack a stake history.
    """
    if not runs or len({(run.case, run.strategy, run.kind) for run in runs}) != 1 or not all(
            run.stake_history for run in runs):
        msg = "a Gini series needs runs of one case, strategy and kind, each with a stake history"
        raise ExperimentError(msg)
    times = tuple(duration * step / points for step in range(points + 1))
    return GiniSeries(
        case=runs[0].case, strategy=runs[0].strategy, kind=runs[0].kind, times=times,
        stake=tuple(mean_interval([gini(stake_at(run, time)) for run in runs], within=SHARE) for time in times),
        rewards=tuple(mean_interval([gini(rewards_until(run, time)) for run in runs], within=SHARE)
                      for time in times))


@attrs.frozen
class RestakeControl:
    """
    v0's stake growth in the restake runs of one case and strategy, split by where it came from, seed by seed
    against the same seed's runs without transfers and without restaking; each figure a mean across seeds with a
    95% t interval. Growth = rewards without restaking + compounding + transfer income - not yet bonded.
    """

    case: str
    strategy: str
    seeds: int
    """Seeds with all three runs."""
    growth: MeanInterval
    """v0's bonded stake at the end minus at the genesis, with restaking and transfers (tokens)."""
    rewards_without_restaking: MeanInterval
    """What v0 earned in the same seed's run with restaking off (tokens)."""
    compounding: MeanInterval
    """v0's rewards with restaking minus without, seed by seed (tokens): what its re-bonded income earned it."""
    transfer_income: MeanInterval
    """What light nodes sent v0 in the restake runs (tokens)."""
    unbonded: MeanInterval
    """Income not bonded by the end (earned after the last re-bond; tokens)."""
    compounding_fraction: MeanInterval | None
    """Compounding over growth, seed by seed; None when no seed grew."""
    compounding_detectable: float | None
    """Tokens: the smallest mean compounding that a two-sided paired t-test over these seeds tells from none with 80%
    power at the 5% level, given the spread seen; None under two seeds."""
    share_move: MeanInterval
    """v0's stake share at the end minus at the genesis, with transfers (a fraction: 0.01 is one point)."""
    share_move_without_transfers: MeanInterval
    """The same in the same seed's run without transfers."""
    transfer_effect: MeanInterval
    """The share move with transfers minus without, seed by seed: what transfer income did to v0's share."""
    transfer_effect_detectable: float | None
    """The smallest mean difference between the two share moves (paired by seed) that a two-sided paired t-test
    detects with 80% power at the 5% level, given the spread seen; None under two seeds."""
    gini_start: float
    gini_end: MeanInterval
    """The stake's Gini coefficient at the end, with transfers."""
    gini_end_without_transfers: MeanInterval
    transfers_without_transfers: int
    """Transfers submitted in the no-transfers runs (all seeds): 0 unless a light node's rare first transfer fell in."""


def _paired_detectable(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return None
    return detectable_standardized_difference(len(values), paired=True) * standard_deviation(values)


def restake_control(runs: Sequence[RunSummary]) -> RestakeControl:
    """
    Compare, seed by seed, the restake runs of one case and strategy with their two controls.

    :raises ExperimentError: when the runs mix cases or strategies, or no seed has all three runs.
    """
    if len({(run.case, run.strategy) for run in runs}) != 1:
        msg = "compare the restake runs of one case and strategy"
        raise ExperimentError(msg)
    by_seed: dict[int, dict[str, RunSummary]] = {}
    for run in runs:
        by_seed.setdefault(run.seed, {})[run.kind] = run
    complete = [kinds for _, kinds in sorted(by_seed.items()) if all(kind in kinds for kind in RESTAKE_KINDS)]
    if not complete or not all(kinds[kind].stake_history for kinds in complete for kind in RESTAKE_KINDS):
        msg = "no seed has a restake run, its no-transfers run and its no-restake run, each with a stake history"
        raise ExperimentError(msg)
    restaked = [kinds[RESTAKE_RUN] for kinds in complete]
    alone = [kinds[RESTAKE_NO_TRANSFERS_RUN] for kinds in complete]
    fixed = [kinds[NO_RESTAKE_RUN] for kinds in complete]
    growth = [run.stake_history[-1][1][0] - run.stake_history[0][1][0] for run in restaked]
    compounding = [run.rewards[0] - control.rewards[0] for run, control in zip(restaked, fixed, strict=True)]
    unbonded = [run.rewards[0] + run.received[0] - grown for run, grown in zip(restaked, growth, strict=True)]

    def share_move(run: RunSummary) -> float:
        start, end = run.stake_history[0][1], run.stake_history[-1][1]
        return end[0] / sum(end) - start[0] / sum(start)

    moves, moves_alone = [share_move(run) for run in restaked], [share_move(run) for run in alone]
    effects = [with_transfers - without for with_transfers, without in zip(moves, moves_alone, strict=True)]
    fractions = [extra / grown for extra, grown in zip(compounding, growth, strict=True) if grown > 0]
    first = restaked[0]
    return RestakeControl(
        case=first.case, strategy=first.strategy, seeds=len(complete), growth=mean_interval(growth),
        rewards_without_restaking=mean_interval([run.rewards[0] for run in fixed], within=AMOUNT),
        compounding=mean_interval(compounding),
        transfer_income=mean_interval([run.received[0] for run in restaked], within=AMOUNT),
        unbonded=mean_interval(unbonded), compounding_fraction=mean_interval(fractions) if fractions else None,
        compounding_detectable=_paired_detectable(compounding), share_move=mean_interval(moves),
        share_move_without_transfers=mean_interval(moves_alone), transfer_effect=mean_interval(effects),
        transfer_effect_detectable=_paired_detectable(effects),
        gini_start=gini(first.stake_history[0][1]),
        gini_end=mean_interval([gini(run.stake_history[-1][1]) for run in restaked], within=SHARE),
        gini_end_without_transfers=mean_interval([gini(run.stake_history[-1][1]) for run in alone],
                                                 within=SHARE),
        transfers_without_transfers=sum(run.transfers_submitted for run in alone))


@attrs.frozen
class StakeExperimentResult:
    """Every run of the experiment, and the analyses the report shows."""

    experiment: StakeExperiment
    runs: tuple[RunSummary, ...]

    def of_kind(self, kind: str) -> list[RunSummary]:
        """The runs of one kind, in plan order."""
        return [run for run in self.runs if run.kind == kind]

    def shares(self) -> list[PooledShares]:
        """Pooled shares per case and strategy, in the experiment's order."""
        runs = self.of_kind(SHARES_RUN)
        return [pool_shares([run for run in runs if run.case == case.name and run.strategy == strategy])
                for case in self.experiment.cases for strategy in self.experiment.strategies]

    def thresholds(self) -> list[Thresholds]:
        """The halting and finalizing thresholds of each case."""
        return [stake_thresholds(case.name, self.experiment.stakes(case)) for case in self.experiment.cases]

    def silence(self) -> list[SilenceOutcome]:
        """The silence runs against their predictions."""
        return [silence_outcome(run) for run in self.of_kind(SILENCE_RUN)]

    def boundary(self) -> list[SilenceOutcome]:
        """The boundary runs (silence at exactly 1/3, one token under, one over) against their predictions."""
        return [silence_outcome(run) for run in self.of_kind(BOUNDARY_RUN)]

    def drift(self) -> list[StakeDrift]:
        """Stake shares over time in the first restake run (the lowest seed) of each case and strategy."""
        runs = self.of_kind(RESTAKE_RUN)
        first = {(run.case, run.strategy): min(item.seed for item in runs
                                               if (item.case, item.strategy) == (run.case, run.strategy))
                 for run in runs}
        return [stake_drift(run) for run in runs if run.seed == first[(run.case, run.strategy)]]

    def _restake_groups(self) -> list[list[RunSummary]]:
        runs = [run for run in self.runs if run.kind in RESTAKE_KINDS]
        groups = [[run for run in runs if (run.case, run.strategy) == (case.name, strategy)]
                  for case in self.experiment.cases for strategy in self.experiment.strategies]
        return [group for group in groups if group]

    def restake_controls(self) -> list[RestakeControl]:
        """v0's stake growth split by source, per case and strategy with a seed that has all three runs."""
        return [restake_control(group) for group in self._restake_groups()
                if any({run.kind for run in group if run.seed == seed} == set(RESTAKE_KINDS)
                       for seed in {run.seed for run in group})]

    def gini_series(self) -> list[GiniSeries]:
        """Gini coefficients of stake and of rewards over time, per case, strategy and restake run kind."""
        return [gini_series([run for run in group if run.kind == kind], self.experiment.restake_duration)
                for group in self._restake_groups() for kind in RESTAKE_KINDS
                if any(run.kind == kind for run in group)]

    @property
    def inconsistent_runs(self) -> list[RunSummary]:
        """Runs whose nodes disagreed or whose supply check failed."""
        return [run for run in self.runs if not run.consistent]

    @property
    def ok(self) -> bool:
        """Every run consistent; every silence and boundary run halted exactly when the quorum rule said it would."""
        return not self.inconsistent_runs and all(outcome.as_predicted
                                                  for outcome in (*self.silence(), *self.boundary()))


__all__ = [
    "BOUNDARY_OFFSETS",
    "BOUNDARY_RUN",
    "DEFAULT_CASES",
    "DETERMINISTIC_STRATEGIES",
    "GINI_POINTS",
    "NO_RESTAKE_RUN",
    "NO_TRANSFERS_INTERVAL",
    "RESTAKE_KINDS",
    "RESTAKE_NO_TRANSFERS_RUN",
    "RESTAKE_RUN",
    "SHARES_RUN",
    "SILENCE_RUN",
    "STRATEGIES",
    "BoundaryCase",
    "ExperimentError",
    "GiniSeries",
    "PlannedRun",
    "PooledShares",
    "RestakeControl",
    "RunProgress",
    "RunSummary",
    "SilenceOutcome",
    "StakeCase",
    "StakeDrift",
    "StakeExperiment",
    "StakeExperimentResult",
    "ThresholdCrossing",
    "Thresholds",
    "ValidatorShare",
    "boundary_cases",
    "gini_series",
    "parse_cases",
    "parse_strategies",
    "pool_shares",
    "restake_control",
    "rewards_until",
    "run_planned",
    "run_stake_experiment",
    "silence_outcome",
    "silent_sets",
    "stake_at",
    "stake_drift",
    "stake_thresholds",
    "summarize",
]
