"""
The Lab 4 attack experiment (``a27 experiment attacks``): every registered attack, defended and undefended, over
seeds, and the sweeps its attack card needs.

Each run is one ``a27 attack`` run (the attack and its honest replay, audited; ``a27_harness.attacks.run_attack``)
on the attack's lab network: the *defended* build keeps every defence on, the *undefended* build switches off the
defences the attack names (``--undefended``). Runs are plain, picklable descriptions resolved against the registry
(``a27_attacks.ATTACKS``) in the process that runs them, so they go on a process pool and come back in plan order:
the result does not depend on the pool size.

Attack cards sweep what the attack's analytic curve is drawn against:

- an attack with a float parameter named in ``SHARE_PARAMETERS`` (a coalition's share of the bonded stake) runs at
  each of the experiment's ``share_points``;
- an attack of a family in ``IDENTITY_FAMILIES`` (Sybil, eclipse) runs on honest networks of each of
  ``light_node_points`` light nodes, so that the attacker's share of the identities changes.

Every other attack runs at its defaults on the experiment's network. An attack that cannot matter on so few honest
light nodes (``Attack.min_light_nodes``, e.g. ``hold-htlcs``: a ring of 3 routes no payment) runs on the fewest it
needs instead, and its scoreboard rows are read there.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed

import attrs

from a27_attacks import ATTACKS, GUARANTEES, Attack, AttackError, attack_named
from a27_attacks.pos_attacks import SLASHABLE_COMPUTED

from ..attacks import LAB_LAYERS, AttackReport, AttackRun, run_attack
from ..attacks.runner import LAB_RUNNERS
from ..reports.provenance import scenario_parameters
from ..reports.statistics import (
    AMOUNT,
    Interval,
    MeanInterval,
    bootstrap_mean_interval,
    mean_interval,
    wilson_interval,
)
from ..scenario import SimScenario

DEFENDED = "defended"
"""The build with every defence on."""
UNDEFENDED = "undefended"
"""The build with the defences the attack names switched off."""
BUILDS = (UNDEFENDED, DEFENDED)

SHARE_PARAMETERS = ("share", "stake_share")
"""Float attack parameters taken as the attacker's share of the bonded stake (0..1); cards sweep them."""
IDENTITY_FAMILIES = ("sybil", "eclipse")
"""Families whose card plots success against the attacker's share of identities."""
DOUBLE_SPEND_FAMILY = "double-spend"

BYZANTINE_BOUND = 1 / 3
"""a27's finality: conflicting blocks final at one height need validators holding more than this share of the
bonded stake to sign twice, and their signatures are the evidence that slashes them."""

RunProgress = Callable[[int, int, str], None]
"""Called after each run with (runs done, runs planned, the finished run's label)."""


class AttackExperimentError(ValueError):
    """An attack experiment setting that is unknown or out of range."""


def nakamoto_probability(q: float, z: int) -> float:
    """
    The probability that an attacker with share ``q`` of the hash power ever catches up from ``z`` blocks behind:
    the formula of section 11 of the Bitcoin whitepaper (Nakamoto, 2008), a chain without finality.

    ``1 - sum_{k=0..z} Poisson(k; z q / p) (1 - (q / p) ** (z - k))`` with ``p = 1 - q``; 1 when ``q >= p``.

    :raises AttackExperimentError: for ``q`` outside [0, 1] or a negative ``z``.
    """
    if not 0 <= q <= 1 or z < 0:
        msg = f"need 0 <= q <= 1 and z >= 0, got q={q}, z={z}"
        raise AttackExperimentError(msg)
    p = 1 - q
    if q >= p:
        return 1.0
    expected = z * q / p
    total = 1.0
    for k in range(z + 1):
        poisson = math.exp(-expected) * expected**k / math.factorial(k)
        total -= poisson * (1 - (q / p) ** (z - k))
    return max(0.0, total)


def a27_finality_bound(share: float) -> float:
    """The most a27's finality lets a double spend of final blocks succeed: 0 with at most 1/3 of the bonded stake
    (no conflicting quorum certificates), 1 above it (possible, and every signer provably at fault)."""
    return 0.0 if share <= BYZANTINE_BOUND else 1.0


def _share_parameter(attack: type[Attack]) -> str | None:
    """
    The stake-share parameter the experiment sweeps, for a structural control that has one (a coalition, a
    withholding validator: what they achieve is set by the one-third bound, not by a switch). Another attack with a
    stake share (an equivocator) runs at its default: past a third of the stake it would test the bound instead.
    """
    if not attack.structural:
        return None
    return next((parameter.name for parameter in attack.parameters()
                 if parameter.name in SHARE_PARAMETERS and isinstance(parameter.default, float)), None)


def card_kind(attack: type[Attack]) -> str:
    """
    Which card an attack gets: ``share`` (a stake-share parameter), ``double-spend`` (the family, without one),
    ``identities`` (Sybil and eclipse) or ``measured`` (no analytic curve).
    """
    if _share_parameter(attack) is not None:
        return "share"
    if attack.family == DOUBLE_SPEND_FAMILY:
        return "double-spend"
    if attack.family in IDENTITY_FAMILIES:
        return "identities"
    return "measured"


def _positive(_: object, attribute: attrs.Attribute, value: float) -> None:
    if value <= 0:
        msg = f"{attribute.name} must be positive, got {value}"
        raise AttackExperimentError(msg)


def _shares(_: object, attribute: attrs.Attribute, value: tuple[float, ...]) -> None:
    if not value or any(not 0 < share < 1 for share in value):
        msg = f"{attribute.name} must be shares strictly between 0 and 1, got {value}"
        raise AttackExperimentError(msg)


def _counts(_: object, attribute: attrs.Attribute, value: tuple[int, ...]) -> None:
    if not value or any(count < 1 for count in value):
        msg = f"{attribute.name} must be positive counts, got {value}"
        raise AttackExperimentError(msg)


@attrs.frozen
class PlannedAttackRun:
    """One run of the experiment, as plain data: the attack by name, its parameters, the build and the network."""

    attack: str
    parameters: tuple[tuple[str, str], ...]
    """``(name, value)`` pairs given to ``Attack.from_params``; empty for the defaults."""
    build: str
    seed: int
    validators: int
    light_nodes: int
    duration: float

    @property
    def label(self) -> str:
        """A short human name for progress lines."""
        params = "".join(f" {name}={value}" for name, value in self.parameters)
        return f"{self.attack}{params} {self.build} seed {self.seed} ({self.light_nodes} light nodes)"


@attrs.frozen
class AttackExperiment:
    """The experiment's settings; every run follows from them and from the registry."""

    attacks: tuple[str, ...] = ()
    """Attack names; empty for every registered attack, in name order."""
    seeds: int = attrs.field(default=10, validator=_positive)
    """Runs per attack, build and sweep point, with seeds 1, 2, ..."""
    validators: int = attrs.field(default=4, validator=_positive)
    light_nodes: int = attrs.field(default=4, validator=_positive)
    duration: float = attrs.field(default=20.0, validator=_positive)
    """Simulated seconds of the lab's workload in each run."""
    share_points: tuple[float, ...] = attrs.field(default=(0.25, 0.33, 0.4, 0.5), validator=_shares)
    """Stake shares at which attacks with a share parameter run."""
    light_node_points: tuple[int, ...] = attrs.field(default=(2, 4, 8), validator=_counts)
    """Honest light nodes of the networks Sybil and eclipse attacks run on."""

    @classmethod
    def quick(cls, attacks: tuple[str, ...] = ()) -> AttackExperiment:
        """The CI preset: 2 seeds, small networks, short runs, two points per sweep."""
        return cls(attacks=attacks, seeds=2, validators=4, light_nodes=3, duration=10.0, share_points=(0.25, 0.4),
                   light_node_points=(3, 5))

    def attack_names(self) -> tuple[str, ...]:
        """The attacks the experiment covers (checked against the registry)."""
        names = self.attacks or tuple(sorted(ATTACKS))
        for name in names:
            try:
                attack_named(name)
            except AttackError as error:
                raise AttackExperimentError(str(error)) from None
        return names

    def skipped(self) -> dict[str, str]:
        """Attacks that cannot run with these settings in this build, with the reason."""
        reasons = {}
        for name in self.attack_names():
            attack = attack_named(name)
            if attack.lab not in LAB_RUNNERS:
                reasons[name] = f"its lab ({attack.lab}) has no attack runner in this build"
                continue
            try:
                for light_nodes in self._light_nodes(attack):
                    for parameters in self._parameters(attack):
                        attack.from_params([f"{key}={value}" for key, value in parameters]).check(
                            self.validators, light_nodes)
            except AttackError as error:
                reasons[name] = str(error)
        return reasons

    def _parameters(self, attack: type[Attack]) -> list[tuple[tuple[str, str], ...]]:
        share = _share_parameter(attack)
        return [((share, repr(point)),) for point in self.share_points] if share else [()]

    def light_nodes_for(self, attack: type[Attack]) -> int:
        """The honest light nodes of the network ``attack``'s scoreboard rows are read on: the experiment's, or the
        fewest the attack can matter on (``Attack.min_light_nodes``) when that is more."""
        return max(self.light_nodes, attack.min_light_nodes)

    def _light_nodes(self, attack: type[Attack]) -> tuple[int, ...]:
        # The sweep always holds the attack's own network: the scoreboard's row is read there.
        if card_kind(attack) == "identities":
            return tuple(sorted({*(max(count, attack.min_light_nodes) for count in self.light_node_points),
                                 self.light_nodes_for(attack)}))
        return (self.light_nodes_for(attack),)

    def plan(self) -> tuple[PlannedAttackRun, ...]:
        """Every run, in report order: attack, sweep point, build (undefended first), seed."""
        skipped = self.skipped()
        return tuple(
            PlannedAttackRun(name, parameters, build, seed, self.validators, light_nodes, self.duration)
            for name in self.attack_names() if name not in skipped
            for light_nodes in self._light_nodes(attack_named(name))
            for parameters in self._parameters(attack_named(name))
            for build in BUILDS for seed in range(1, self.seeds + 1))

    def to_dict(self) -> dict[str, object]:
        """The settings as plain data (for reports)."""
        data = attrs.asdict(self)
        data["attacks"] = list(self.attack_names())
        data["share_points"] = list(self.share_points)
        data["light_node_points"] = list(self.light_node_points)
        return data

    def parameters(self) -> dict[str, object]:
        """
        Every parameter the results depend on, defaults included: the experiment's settings, each attack's
        parameter defaults and the defences the undefended build switches off, and the scenario settings of each
        lab's runs (seed, sizes and duration come from the experiment).
        """
        attacks = {}
        for name in self.attack_names():
            attack = attack_named(name)
            attacks[name] = {"lab": attack.lab, "defences_off_when_undefended": list(attack.defences),
                             "parameters": {parameter.name: parameter.default for parameter in attack.parameters()}}
        varying = ("seed", "validators", "light_nodes", "duration", "db")
        labs = sorted({attack_named(name).lab for name in self.attack_names()})
        scenarios = {f"lab {lab}": scenario_parameters(SimScenario(layers=LAB_LAYERS[lab]), varying)
                     for lab in labs if lab in LAB_LAYERS}
        return {"experiment": self.to_dict(), "attacks": attacks, "labs": scenarios}


@attrs.frozen
class AttackRunSummary:
    """What the experiment keeps of one run: plain data, so it crosses process boundaries and goes into JSON."""

    attack: str
    family: str
    parameters: tuple[tuple[str, str], ...]
    build: str
    seed: int
    validators: int
    light_nodes: int
    defences_off: tuple[str, ...]
    attacker_nodes: int
    attacker_validators: int
    stake_share: float
    """The attacker's share of the bonded stake: the share parameter when the attack has one, else the share of
    validators that are the attacker's (a27's labs give every validator the same stake)."""
    identity_share: float
    """The attacker's nodes among all nodes of the run."""
    succeeded: bool
    stolen: int
    broken: tuple[str, ...]
    detected: bool
    first_detection: float | None
    attacker_slashed: int
    attacker_fees: int
    honest_failed: int
    replay_failed: int
    honest_latency: float | None
    replay_latency: float | None
    honest_slashed: int
    replay_honest_slashed: int
    honest_banned: int
    replay_honest_banned: int
    attacker_slashable: int = 0
    """The attack's computed price, when it reports one (the coalition's ``slashable (computed)`` cost, from the two
    conflicting certificates), beside ``attacker_slashed``, the stake slashed in the run."""

    @property
    def extra_failed(self) -> int:
        """Honest transfers that failed in the attack run beyond those that failed in its honest replay."""
        return self.honest_failed - self.replay_failed


def summarize(run: PlannedAttackRun, report: AttackReport) -> AttackRunSummary:
    """Keep what the experiment reports of one attack run."""
    attack, result, outcome = report.run.attack, report.result, report.outcome
    nodes = attack.attacker_nodes()
    attacker_validators = sum(node.role == "validator" for node in nodes)
    share_name = _share_parameter(type(attack))
    stake_share = (float(getattr(attack, share_name)) if share_name
                   else attacker_validators / (attacker_validators + run.validators))
    return AttackRunSummary(
        attack=run.attack, family=attack.family, parameters=run.parameters, build=run.build, seed=run.seed,
        validators=run.validators, light_nodes=run.light_nodes, defences_off=report.run.switched_off,
        attacker_nodes=len(nodes), attacker_validators=attacker_validators, stake_share=stake_share,
        identity_share=len(nodes) / (len(nodes) + run.validators + run.light_nodes),
        succeeded=result.succeeded, stolen=result.stolen, broken=tuple(result.broken),
        detected=bool(result.detections), first_detection=result.detections[0].at if result.detections else None,
        attacker_slashed=outcome.attacker_slashed, attacker_fees=outcome.attacker_fees,
        honest_failed=outcome.honest_failed, replay_failed=outcome.replay_failed,
        honest_latency=outcome.honest_latency, replay_latency=outcome.replay_latency,
        honest_slashed=report.honest_slashed, replay_honest_slashed=report.replay_honest_slashed,
        honest_banned=report.honest_banned, replay_honest_banned=report.replay_honest_banned,
        attacker_slashable=int(result.cost.get(SLASHABLE_COMPUTED, 0)))


def run_planned(run: PlannedAttackRun) -> AttackRunSummary:
    """Run one planned attack run (in this process) and summarize it."""
    attack = attack_named(run.attack).from_params([f"{name}={value}" for name, value in run.parameters])
    scenario = SimScenario(layers=LAB_LAYERS[attack.lab], seed=run.seed, validators=run.validators,
                           light_nodes=run.light_nodes, duration=run.duration)
    switched_off = tuple(attack.defences) if run.build == UNDEFENDED else ()
    # Attacks make honest nodes log every message they drop; the counts are in the summary, the lines would bury
    # the progress bar.
    logging.disable(logging.WARNING)
    try:
        return summarize(run, run_attack(AttackRun(attack, scenario, switched_off)))
    finally:
        logging.disable(logging.NOTSET)


@attrs.frozen
class AttackExperimentResult:
    """Every run of the experiment, in plan order, and the attacks it could not run."""

    experiment: AttackExperiment
    runs: tuple[AttackRunSummary, ...]
    skipped: dict[str, str]

    def of(self, attack: str, build: str | None = None) -> list[AttackRunSummary]:
        """The runs of one attack (and build), in plan order."""
        return [run for run in self.runs if run.attack == attack and (build is None or run.build == build)]

    def headline(self, attack: str, build: str) -> list[AttackRunSummary]:
        """The runs at the attack's network (``AttackExperiment.light_nodes_for``) and default parameters (the
        scoreboard's rows); an attack with a share parameter has no default point, so its largest share is used."""
        light_nodes = self.experiment.light_nodes_for(attack_named(attack))
        runs = [run for run in self.of(attack, build) if run.light_nodes == light_nodes]
        points = sorted({run.stake_share for run in runs})
        if any(run.parameters for run in runs):
            runs = [run for run in runs if run.stake_share == points[-1]]
        return runs

    @property
    def attacks(self) -> tuple[str, ...]:
        """The attacks that ran, in report order."""
        return tuple(dict.fromkeys(run.attack for run in self.runs))

    @property
    def defended_successes(self) -> list[AttackRunSummary]:
        """Defended runs in which the attack succeeded (the blue team lost)."""
        return [run for run in self.runs if run.build == DEFENDED and run.succeeded
                and not (card_kind(attack_named(run.attack)) == "share" and run.stake_share > BYZANTINE_BOUND)]

    @property
    def control_successes(self) -> list[AttackRunSummary]:
        """Runs, of either build, in which a structural control (``Attack.structural``: expected to fail even with
        ``--undefended``) succeeded: the structure it tests did not hold (coalitions above 1/3 excepted)."""
        return [run for run in self.runs if attack_named(run.attack).structural and run.succeeded
                and not (card_kind(attack_named(run.attack)) == "share" and run.stake_share > BYZANTINE_BOUND)]

    @property
    def ok(self) -> bool:
        """No attack succeeded against the defended build (coalitions above 1/3 of the stake excepted: no defence
        can stop them, the card prices them), and no structural control succeeded in either build (their undefended
        runs are expected to fail)."""
        return not self.defended_successes and not self.control_successes


def run_attack_experiment(experiment: AttackExperiment, *, jobs: int = 1,
                          progress: RunProgress | None = None) -> AttackExperimentResult:
    """
    Run every planned run, in up to ``jobs`` worker processes (1 or less: in this process).

    The result does not depend on ``jobs``: each run is fixed by its own description and seed, and results are kept
    in plan order. Worker processes are spawned and import the registry afresh: an attack registered only in the
    caller (not on import of a module the workers import) needs ``jobs=1``.
    """
    plan = experiment.plan()
    summaries: dict[int, AttackRunSummary] = {}

    def finished(index: int, summary: AttackRunSummary) -> None:
        summaries[index] = summary
        if progress is not None:
            progress(len(summaries), len(plan), plan[index].label)

    if jobs <= 1 or len(plan) <= 1:
        for index, run in enumerate(plan):
            finished(index, run_planned(run))
    else:
        # Spawned, not forked: the parent may hold threads (a progress bar) that a fork would copy half-way.
        with ProcessPoolExecutor(max_workers=min(jobs, len(plan)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(run_planned, run): index for index, run in enumerate(plan)}
            for future in as_completed(futures):
                finished(futures[future], future.result())
    return AttackExperimentResult(experiment, tuple(summaries[index] for index in range(len(plan))),
                                  experiment.skipped())


def paired(runs: Sequence[AttackRunSummary], others: Sequence[AttackRunSummary]) -> list[tuple[AttackRunSummary,
                                                                                                  AttackRunSummary]]:
    """Runs of two builds matched by seed, sweep point and network (the seeds share workload and keys)."""
    key = {(run.seed, run.parameters, run.light_nodes): run for run in others}
    return [(run, key[(run.seed, run.parameters, run.light_nodes)]) for run in runs
            if (run.seed, run.parameters, run.light_nodes) in key]


# Analysis -----------------------------------------------------------------------------------------------------------


@attrs.frozen
class BuildScore:
    """One attack against one build, over the runs given (usually the seeds of the headline point)."""

    build: str
    runs: int
    success: Interval
    """Share of runs in which the attack succeeded, with a 95% Wilson interval."""
    stolen: MeanInterval
    """Tokens stolen per run (the red team's haul), with a 95% percentile bootstrap interval across runs (it stays
    within 0 and the most one run stole; a t interval over few runs reached above what a run can steal)."""
    broken: Interval
    """Share of runs in which a guarantee broke."""
    broken_guarantees: dict[str, int]
    """Runs in which each guarantee broke."""
    extra_failed: MeanInterval
    """Honest transfers failed per run beyond the honest replay's."""
    detected: int
    """Runs in which an honest node showed a detection signal."""
    attacker_slashed: MeanInterval
    """Stake slashed from the attacker per run (its price)."""
    attacker_slashable: MeanInterval | None = None
    """The price computed per run (``AttackRunSummary.attacker_slashable``), beside the slashed stake measured."""


def _wilson(successes: int, trials: int) -> Interval:
    return wilson_interval(successes, trials) if trials else Interval(0.0, 0.0, 1.0)


def build_score(build: str, runs: Sequence[AttackRunSummary]) -> BuildScore:
    """
    Score ``runs`` (one attack, one build).

    :raises AttackExperimentError: without runs.
    """
    if not runs:
        msg = f"no {build} runs to score"
        raise AttackExperimentError(msg)
    broken = sum(bool(run.broken) for run in runs)
    return BuildScore(
        build=build, runs=len(runs), success=_wilson(sum(run.succeeded for run in runs), len(runs)),
        stolen=bootstrap_mean_interval([run.stolen for run in runs]), broken=_wilson(broken, len(runs)),
        broken_guarantees={guarantee: count for guarantee in GUARANTEES
                           if (count := sum(guarantee in run.broken for run in runs))},
        extra_failed=mean_interval([run.extra_failed for run in runs]),
        detected=sum(run.detected for run in runs),
        attacker_slashed=mean_interval([run.attacker_slashed for run in runs], within=AMOUNT),
        attacker_slashable=mean_interval([run.attacker_slashable for run in runs], within=AMOUNT))


@attrs.frozen
class DefenceCost:
    """What the defences cost honest users, from the honest replays of the two builds, paired by seed."""

    extra_latency: MeanInterval | None
    """Seconds the defended build's median honest verdict (finality) latency exceeds the undefended build's;
    None when no seed has a latency in both."""
    extra_failed: MeanInterval
    """Honest transfers that failed in the defended build's replay beyond the undefended build's."""
    wrongly_slashed_runs: int
    """Defended runs (attack or replay) in which an honest account was slashed."""
    wrongly_banned_runs: int
    """Defended runs (attack or replay) in which an honest node banned an honest peer."""
    honest_slashed: int
    """The most honest stake slashed in any defended run."""
    runs: int


def defence_cost(defended: Sequence[AttackRunSummary], undefended: Sequence[AttackRunSummary]) -> DefenceCost:
    """The defences' cost from runs of one attack, matched by seed (and sweep point)."""
    pairs = paired(defended, undefended)
    latencies = [on.replay_latency - off.replay_latency for on, off in pairs
                 if on.replay_latency is not None and off.replay_latency is not None]
    return DefenceCost(
        extra_latency=mean_interval(latencies) if latencies else None,
        extra_failed=mean_interval([on.replay_failed - off.replay_failed for on, off in pairs] or [0]),
        wrongly_slashed_runs=sum(bool(run.honest_slashed or run.replay_honest_slashed) for run in defended),
        wrongly_banned_runs=sum(bool(run.honest_banned or run.replay_honest_banned) for run in defended),
        honest_slashed=max((max(run.honest_slashed, run.replay_honest_slashed) for run in defended), default=0),
        runs=len(pairs))


@attrs.frozen
class SweepPoint:
    """One point of an attack card: the attacker's share (of stake or of identities) and each build's score."""

    share: float
    light_nodes: int
    undefended: BuildScore
    defended: BuildScore


def sweep(result: AttackExperimentResult, attack: str) -> list[SweepPoint]:
    """The attack's runs grouped by sweep point (share parameter and network), in share order."""
    kind = card_kind(attack_named(attack))
    groups: dict[tuple[float, int], list[AttackRunSummary]] = {}
    for run in result.of(attack):
        share = run.identity_share if kind == "identities" else run.stake_share
        groups.setdefault((share, run.light_nodes), []).append(run)
    return [SweepPoint(share, light_nodes,
                       build_score(UNDEFENDED, [run for run in runs if run.build == UNDEFENDED]),
                       build_score(DEFENDED, [run for run in runs if run.build == DEFENDED]))
            for (share, light_nodes), runs in sorted(groups.items())]


__all__ = [
    "BUILDS",
    "BYZANTINE_BOUND",
    "DEFENDED",
    "DOUBLE_SPEND_FAMILY",
    "IDENTITY_FAMILIES",
    "SHARE_PARAMETERS",
    "UNDEFENDED",
    "AttackExperiment",
    "AttackExperimentError",
    "AttackExperimentResult",
    "AttackRunSummary",
    "BuildScore",
    "DefenceCost",
    "PlannedAttackRun",
    "RunProgress",
    "SweepPoint",
    "a27_finality_bound",
    "build_score",
    "card_kind",
    "defence_cost",
    "nakamoto_probability",
    "paired",
    "run_attack_experiment",
    "run_planned",
    "summarize",
    "sweep",
]
