"""The ``a27`` command."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs

from a27_attacks import ATTACKS, AttackError, attack_named
from a27_ledger import LedgerError
from a27_pos import PosError

from .__about__ import __version__
from .attacks import LAB_LAYERS, AttackRun, AttackRunError, UnknownDefence, check_defence, run_attack
from .attacks.drop_lines import stderr_log
from .attacks.recording import RecordingError, read_recording
from .battle.command import add_battle_parser
from .experiments.attacks import AttackExperiment, run_attack_experiment
from .experiments.stake import (
    DEFAULT_CASES,
    ExperimentError,
    StakeExperiment,
    parse_cases,
    parse_strategies,
    run_stake_experiment,
)
from .experiments.topology import (
    AMOUNT_SCALES,
    DEPOSIT_DISTRIBUTIONS,
    TopologyExperiment,
    TopologyExperimentResult,
    parse_topologies,
    run_topology_experiment,
)
from .labs.common import ProgressCallback
from .labs.lab1 import run_lab1
from .labs.lab2 import run_lab2
from .labs.lab3 import run_lab3
from .net import add_net_parser
from .node.command import LOG_LEVELS, OneLineErrorParser, add_node_parser
from .reports import attack_experiment as attack_experiment_report
from .reports import attacks as attacks_report
from .reports import lab1 as lab1_report
from .reports import lab2 as lab2_report
from .reports import lab3 as lab3_report
from .reports import stake as stake_report
from .reports import topology as topology_report
from .reports.provenance import collect_provenance, pin_commit, scenario_parameters
from .scenario import (
    MAX_COUNT,
    MAX_NODES,
    MAX_SECONDS,
    MAX_UINT64,
    MAX_VALIDATORS,
    MIN_INTERVAL,
    ScenarioError,
    SimScenario,
    check_integer,
    check_number,
)
from .tracker.command import add_tracker_parser
from .wallet import add_wallet_parser

SCOREBOARD_AND_CARDS = "scoreboard.png and one card-NAME.png per attack"
MAX_JOBS = 1_024
"""The most worker processes `a27 experiment stake` starts."""
MAX_TOPOLOGY_NODES = 1_000
"""The most channel nodes of the topology experiment (a complete graph of them has about 500,000 channels)."""
MAX_PAYMENT = 10**12
"""The largest deposit or payment of the topology experiment (so that no genesis supply passes 2**64-1)."""

Result = TypeVar("Result")


class PathOptionError(ValueError):
    """A --db or --out path that cannot be used as a writable directory."""


_ArgumentParser = OneLineErrorParser


def _option_type(convert: Callable[[str], float], check: Callable[[float], float] | None) -> Callable[[str], float]:
    """An argparse type: ``convert`` the text, then ``check`` it; either failing is one clear argparse error."""
    def parse(text: str) -> float:
        try:
            value = convert(text.strip())
        except ValueError:
            kind = "an integer" if convert is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        if check is None:
            return value
        try:
            return check(value)
        except ScenarioError as error:
            # The check names its setting "value" and repeats the value: keep what it expects, show the text typed.
            expected = str(error).removeprefix("value: ").rsplit(", got ", 1)[0]
            raise argparse.ArgumentTypeError(f"{expected}, got {text!r}") from None
    return parse


def _integer(low: int | None = None, high: int | None = None) -> Callable[[str], float]:
    """An argparse type: an integer, in ``low..high`` when given (the scenario checks the range of `a27 sim`)."""
    if low is None or high is None:
        return _option_type(int, None)
    return _option_type(int, lambda value: check_integer("value", value, low, high))


def _number(low: float | None = None, high: float | None = None, *, above_low: bool = False,
            below_high: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number, between ``low`` and ``high`` when given (NaN and infinities never)."""
    if low is None or high is None:
        return _option_type(float, lambda value: check_number("value", value, -math.inf, math.inf,
                                                              above_low=True, below_high=True))
    return _option_type(float, lambda value: check_number("value", value, low, high, above_low=above_low,
                                                          below_high=below_high))


def check_directory(option: str, path: str | Path) -> Path:
    """
    Make sure ``path`` is a directory this process can write to, creating it (and its parents) if needed.

    Called for --db and --out before any simulation runs, so that a bad path costs nothing.

    :raises PathOptionError: naming the option and the path, when it is a file or cannot be created or written.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        msg = f"{option} {path}: not a directory"
        raise PathOptionError(msg)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        reason = (error.strerror or type(error).__name__).lower()
        msg = f"{option} {path}: {reason}"
        raise PathOptionError(msg) from None
    return folder


@contextlib.contextmanager
def _progress_bar(enabled: bool | None, unit: str = "sim s") -> Iterator[ProgressCallback | None]:
    """
    A tqdm bar on stderr counting ``unit`` (shown on terminals, or always with --progress), closed on leaving.

    Yields the callback that moves the bar, or None with --no-progress.
    """
    if enabled is False:
        yield None
        return
    from tqdm import tqdm  # noqa: PLC0415 - only when drawing

    bar = tqdm(total=0, unit=unit, file=sys.stderr, disable=None if enabled is None else False,
               bar_format="{desc} {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} " + unit + " [{elapsed}]")

    def update(done: float, planned: float, phase: str) -> None:
        bar.total = planned
        bar.set_description_str(phase)
        bar.n = done
        bar.refresh()
    try:
        yield update
    finally:
        bar.close()


def _given(options: dict[str, Any]) -> dict[str, Any]:
    """The options the user gave: those not None (argparse leaves an option not typed as None)."""
    return {key: value for key, value in options.items() if value is not None}


def _worker_processes(requested: int | None, runs: int | None = None) -> int:
    """The worker processes to start: --jobs, else one per available CPU; never more than ``runs``, never 0."""
    jobs = requested if requested is not None else _available_cpus()
    return max(1, jobs if runs is None else min(runs, jobs))


def _run_experiment(arguments: argparse.Namespace, run: Callable[[ProgressCallback | None], Result], *,
                    format_terminal: Callable[[Result], str],
                    write_report: Callable[[Result, Path, Sequence[str]], Path],
                    out: Path, other_files: str, jobs: int | None = None) -> Result:
    """
    Run an experiment under a progress bar over runs, print its terminal text, write its report into ``out``.

    Then say on stderr where the report is (and the ``other_files`` beside it) and how long it took (with how many
    worker processes, when ``jobs`` is given).
    """
    with _progress_bar(arguments.progress, unit="runs") as progress:
        wall_start = time.perf_counter()
        result = run(progress)
    print(format_terminal(result))
    markdown = write_report(result, out, arguments.argv)
    print(f"report: {markdown} (and report.json, {other_files})", file=sys.stderr)
    workers = "" if jobs is None else f" with {jobs} worker processes"
    print(f"wall time: {time.perf_counter() - wall_start:.1f} s{workers}", file=sys.stderr)
    return result


def _sim(arguments: argparse.Namespace) -> int:
    overrides = {"validators": arguments.validators, "light_nodes": arguments.light_nodes,
                 "duration": arguments.duration, "seed": arguments.seed, "latency": arguments.latency,
                 "loss": arguments.loss, "topology": arguments.topology, "db": arguments.db,
                 "transfer_interval": arguments.transfer_interval, "layers": arguments.layers,
                 "stakes": arguments.stakes, "proposer": arguments.proposer}
    try:
        if arguments.scenario:
            scenario = SimScenario.from_toml(arguments.scenario, **overrides)
        else:
            scenario = SimScenario(**_given(overrides))
        if scenario.db is not None:
            check_directory("--db", scenario.db)
        out = check_directory("--out", arguments.out or Path("a27-out") / f"sim-seed{scenario.seed}")
    except (ScenarioError, PathOptionError) as error:
        print(f"a27 sim: {error}", file=sys.stderr)
        return 2
    with _progress_bar(arguments.progress) as progress:
        wall_start = time.perf_counter()
        provenance = collect_provenance(arguments.argv, scenario_parameters(scenario))
        try:
            if scenario.uses_channels:
                channels_result = run_lab3(scenario, progress)
                text, agreed = lab3_report.format_terminal(channels_result), channels_result.ok
                markdown = lab3_report.write_report(channels_result, out, provenance)
            elif scenario.uses_pos:
                pos_result = run_lab2(scenario, progress)
                text, agreed = lab2_report.format_terminal(pos_result), pos_result.agreed and pos_result.supply_ok
                markdown = lab2_report.write_report(pos_result, out, provenance)
            else:
                ledger_result = run_lab1(scenario, progress)
                text = lab1_report.format_terminal(ledger_result)
                agreed = ledger_result.agreed and ledger_result.supply_ok
                markdown = lab1_report.write_report(ledger_result, out, provenance)
        except (ValueError, LedgerError, PosError) as error:
            print(f"a27 sim: {error}", file=sys.stderr)
            return 2
    print(text)
    print(f"report: {markdown} (and report.json, a plot)", file=sys.stderr)
    print(f"wall time: {time.perf_counter() - wall_start:.1f} s", file=sys.stderr)
    return 0 if agreed else 1


def _attack_list() -> str:
    lines = []
    for name in sorted(ATTACKS):
        attack = ATTACKS[name]
        lines.append(f"{name} (lab {attack.lab}, {attack.family}): {attack.one_line()}")
        lines.append(f"    defences: {', '.join(attack.defences) or 'none'}"
                     + ("  (structural control: expected to fail even undefended)" if attack.structural else ""))
        if attack.min_light_nodes > 1:
            lines.append(f"    needs at least {attack.min_light_nodes} honest light nodes "
                         "(its summary in a27_attacks says why)")
        for parameter in attack.parameters():
            lines.append(f"    --param {parameter.name}={parameter.default}: {parameter.doc}")
    return "\n".join(lines)


def _attack(arguments: argparse.Namespace) -> int:
    if arguments.list:
        print(_attack_list())
        return 0
    if arguments.name is None:
        print("a27 attack: name an attack, or --list them", file=sys.stderr)
        return 2
    try:
        attack_class = attack_named(arguments.name)
        attack = attack_class.from_params(arguments.param or [])
        switched_off = tuple(attack.defences) if arguments.undefended else ()
        switched_off += tuple(check_defence(name) for name in arguments.without or () if name not in switched_off)
        for name in switched_off:
            check_defence(name)
        settings = {"validators": arguments.validators, "light_nodes": arguments.light_nodes,
                    "duration": arguments.duration, "seed": arguments.seed}
        scenario = SimScenario(layers=LAB_LAYERS[attack.lab], **_given(settings))
        attack.check(scenario.validators, scenario.light_nodes)
        out = check_directory("--out", arguments.out or Path("a27-out") / f"attack-{attack.name}-seed{scenario.seed}")
        replay = read_recording(arguments.replay) if arguments.replay else None
        with stderr_log(arguments.log_level) as drop_lines:
            report = run_attack(AttackRun(attack, scenario, switched_off, record=bool(arguments.record),
                                          replay=replay))
        if arguments.record and report.recording is not None:
            report.recording.write(arguments.record)
    except (AttackError, AttackRunError, UnknownDefence, ScenarioError, PathOptionError, RecordingError,
            OSError) as error:
        print(f"a27 attack: {error}", file=sys.stderr)
        return 2
    if replay is not None:
        print(f"replayed {len(replay.events):,} recorded events from {arguments.replay}"
              + (f" ({report.replay_late:,} out of their recorded place)" if report.replay_late else ""),
              file=sys.stderr)
    if drop_lines.count:
        print(f"{drop_lines.count:,} dropped-message log lines not shown (the report counts drops by cause; "
              "--log-level debug shows them)", file=sys.stderr)
    print(attacks_report.format_terminal(report))
    parameters = {"attack": {"name": attack.name, "parameters": {parameter.name: getattr(attack, parameter.name)
                                                                 for parameter in attack.parameters()}},
                  "defences_switched_off": list(switched_off), **scenario_parameters(scenario)}
    markdown = attacks_report.write_report(report, out, collect_provenance(arguments.argv, parameters))
    print(f"report: {markdown} (and report.json)", file=sys.stderr)
    return 0


def _add_attack_parser(commands: argparse._SubParsersAction) -> None:
    attack = commands.add_parser(
        "attack", help="Lab 4: run an attack in simulation and audit it against an honest replay",
        description="Run an attack of a27-attacks on its lab's network with the lab's seeded workload, then the "
                    "same seed and workload with the attacker's nodes honest (the honest replay); print tokens "
                    "stolen, guarantees broken, who detected it and when, the attacker's cost and the effect on "
                    "honest users. The same seed prints the same output, byte for byte.")
    attack.add_argument("name", nargs="?", help="the attack (see --list)")
    attack.add_argument("--list", action="store_true", help="list every attack, its defences and parameters")
    attack.add_argument("--seed", type=_integer(0, MAX_UINT64), help="the seed that fixes everything (default 7)")
    attack.add_argument("--validators", type=_integer(1, MAX_VALIDATORS), help="honest validators (default 4)")
    attack.add_argument("--light-nodes", type=_integer(1, MAX_NODES), help="honest light nodes (default 16)")
    attack.add_argument("--duration", type=_number(0, MAX_SECONDS, above_low=True),
                        help="simulated seconds of the workload (default 60)")
    switches = attack.add_mutually_exclusive_group()
    switches.add_argument("--undefended", action="store_true", help="switch off the defences the attack names")
    switches.add_argument("--without", action="append", metavar="DEFENCE",
                          help="switch off one defence by its full name, e.g. ledger.conflicting_nonces (repeatable)")
    attack.add_argument("--param", action="append", metavar="NAME=VALUE", help="an attack parameter (repeatable)")
    attack.add_argument("--out", metavar="DIR", help="report directory (default a27-out/attack-NAME-seedN)")
    recording = attack.add_mutually_exclusive_group()
    recording.add_argument("--record", metavar="FILE",
                           help="write every packet the attacker nodes send (JSON lines, a27-attack-record v1)")
    recording.add_argument("--replay", metavar="FILE",
                           help="run with the attacker nodes sending only the packets FILE recorded (same options)")
    attack.add_argument("--log-level", choices=LOG_LEVELS, default="warning",
                        help="what the nodes log on stderr (default warning; the per-message drop lines only at "
                             "debug, otherwise counted)")
    attack.set_defaults(handler=_attack)


def _available_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _experiment_stake(arguments: argparse.Namespace) -> int:
    settings = {"seeds": arguments.seeds, "duration": arguments.duration, "validators": arguments.validators,
                "light_nodes": arguments.light_nodes, "transfer_interval": arguments.transfer_interval,
                "base_stake": arguments.base_stake, "silence_duration": arguments.silence_duration,
                "restake_duration": arguments.restake_duration, "restake_interval": arguments.restake_interval,
                "restake_block_reward": arguments.restake_reward, "restake_seeds": arguments.restake_seeds}
    try:
        make = StakeExperiment.quick if arguments.quick else StakeExperiment
        experiment = make(cases=parse_cases(arguments.cases), strategies=parse_strategies(arguments.proposer),
                          **_given(settings))
        # Building every scenario up front reports a bad setting before any simulation starts.
        runs = len(experiment.plan())
        out = check_directory("--out", arguments.out)
    except (ExperimentError, ScenarioError, PathOptionError) as error:
        print(f"a27 experiment stake: {error}", file=sys.stderr)
        return 2
    jobs = _worker_processes(arguments.jobs, runs)
    result = _run_experiment(arguments, lambda progress: run_stake_experiment(experiment, jobs=jobs, progress=progress),
                             format_terminal=stake_report.format_terminal, write_report=stake_report.write_report,
                             out=out, other_files=f"{len(stake_report.PLOTS)} plots", jobs=jobs)
    return 0 if result.ok else 1


def _experiment_topology(arguments: argparse.Namespace) -> int:
    settings = {"nodes": arguments.nodes, "seed": arguments.seed, "seeds": arguments.seeds,
                "deposit": arguments.deposit,
                "payments": arguments.payments, "min_amount": arguments.min_amount,
                "max_amount": arguments.max_amount, "payments_per_second": arguments.rate,
                "amount_buckets": arguments.buckets, "ba_m": arguments.m, "clusters": arguments.clusters,
                "bridge_degree": arguments.bridge_degree, "offline_at": arguments.offline_at,
                "amounts": arguments.amounts, "min_share": arguments.min_share, "max_share": arguments.max_share,
                "deposits": arguments.deposits, "pareto_alpha": arguments.pareto_alpha,
                "lognormal_sigma": arguments.lognormal_sigma}
    if arguments.amounts is None and (arguments.min_amount is not None or arguments.max_amount is not None):
        settings["amounts"] = "absolute"
    try:
        make = TopologyExperiment.quick if arguments.quick else TopologyExperiment
        experiment = make(topologies=parse_topologies(arguments.topologies), **_given(settings))
        runs = experiment.runs_planned()
        # Building every graph up front reports a shape these settings cannot make before any run starts.
        for topology in experiment.topologies:
            experiment.graph(topology)
        out = check_directory("--out", arguments.out)
    except ValueError as error:
        print(f"a27 experiment topology: {error}", file=sys.stderr)
        return 2

    def run(progress: ProgressCallback | None) -> TopologyExperimentResult:
        return run_topology_experiment(
            experiment, progress=None if progress is None else lambda done, _total, label: progress(done, runs, label))
    _run_experiment(arguments, run, format_terminal=topology_report.format_terminal,
                    write_report=topology_report.write_report, out=out, other_files="plots")
    return 0


def _add_experiment_run_options(parser: argparse.ArgumentParser, name: str, *, jobs: bool) -> None:
    """The options every ``a27 experiment NAME`` ends with: --jobs (when it runs on a pool), --out, --progress."""
    if jobs:
        parser.add_argument("--jobs", type=_integer(1, MAX_JOBS),
                            help="worker processes (default: one per available CPU)")
    parser.add_argument("--out", metavar="DIR", default=str(Path("a27-out") / f"experiment-{name}"),
                        help=f"report directory (default a27-out/experiment-{name})")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show a progress bar over runs on stderr (default: only on a terminal)")


def _add_topology_parser(kinds: argparse._SubParsersAction) -> None:
    defaults = {field.name: field.default for field in attrs.fields(TopologyExperiment)}
    topology = kinds.add_parser(
        "topology", help="Lab 3: routed payments over complete, Barabasi-Albert and bottleneck channel networks",
        description="Run the same seeded payment workload over payment-channel networks shaped as a complete "
                    "graph, a Barabasi-Albert graph, one bottleneck and several bottlenecks, and measure success "
                    "by amount, failures by cause, hops, fees, throughput, which channels drain first, and what "
                    "happens when a bottleneck node goes offline. Stdout depends only on the options.")
    topology.add_argument("--topologies", default=",".join(TopologyExperiment().topologies),
                          help="comma-separated shapes: complete, ba, bottleneck, bottlenecks (default all)")
    topology.add_argument("--nodes", type=_integer(2, MAX_TOPOLOGY_NODES),
                          help=f"channel nodes (default {defaults['nodes']})")
    topology.add_argument("--seed", type=_integer(0, MAX_UINT64 - 1_000),
                          help="the first seed; its runs are reported in detail, and seeds SEED+1 ... add "
                               f"intervals across seeds (default {defaults['seed']})")
    topology.add_argument("--seeds", type=_integer(1, 1_000),
                          help=f"seeds to run, each with its own graph and workload (default {defaults['seeds']})")
    quick = TopologyExperiment.quick()
    topology.add_argument("--quick", action="store_true",
                          help=f"the CI preset: {quick.seeds} seeds, {quick.nodes} nodes, {quick.payments} payments "
                               "(options given here override it)")
    topology.add_argument("--deposit", type=_integer(1, MAX_PAYMENT),
                          help=f"each side's deposit per channel (default {defaults['deposit']:,})")
    topology.add_argument("--payments", type=_integer(1, MAX_COUNT),
                          help=f"payments in the workload (default {defaults['payments']})")
    topology.add_argument("--amounts", choices=AMOUNT_SCALES,
                          help="relative: amounts as shares of the deposit (--min-share, --max-share); absolute: "
                               f"--min-amount to --max-amount (default {defaults['amounts']}; --min-amount or "
                               "--max-amount alone implies absolute)")
    topology.add_argument("--min-share", type=_number(0, 1_000, above_low=True),
                          help="smallest payment as a share of the deposit (default 1/512 = "
                               f"{defaults['min_share']:.5f})")
    topology.add_argument("--max-share", type=_number(0, 1_000, above_low=True),
                          help="largest payment as a share of the deposit (default "
                               f"{defaults['max_share']:g}: a whole channel's capacity)")
    topology.add_argument("--min-amount", type=_integer(1, MAX_PAYMENT),
                          help=f"smallest payment with absolute amounts (default {defaults['min_amount']:,})")
    topology.add_argument("--max-amount", type=_integer(1, MAX_PAYMENT),
                          help=f"largest payment with absolute amounts (default {defaults['max_amount']:,})")
    topology.add_argument("--deposits", choices=DEPOSIT_DISTRIBUTIONS,
                          help="channel sizes: equal, or a heavy-tailed distribution with the same mean run beside "
                               f"the equal one (default {defaults['deposits']})")
    topology.add_argument("--pareto-alpha", type=_number(1, 100, above_low=True),
                          help=f"shape of the Pareto deposits (default {defaults['pareto_alpha']:g})")
    topology.add_argument("--lognormal-sigma", type=_number(0, 10, above_low=True),
                          help=f"sigma of the log-normal deposits' logarithm (default {defaults['lognormal_sigma']:g})")
    topology.add_argument("--rate", type=_integer(1, MAX_COUNT),
                          help=f"payments started per simulated second (default {defaults['payments_per_second']})")
    topology.add_argument("--buckets", type=_integer(1, 100),
                          help=f"amount buckets in the report (default {defaults['amount_buckets']})")
    topology.add_argument("--m", type=_integer(1, MAX_TOPOLOGY_NODES),
                          help=f"edges per new node in the Barabasi-Albert shape (default {defaults['ba_m']})")
    topology.add_argument("--clusters", type=_integer(1, MAX_TOPOLOGY_NODES),
                          help=f"clusters of the bottlenecks shape (default {defaults['clusters']})")
    topology.add_argument("--bridge-degree", type=_integer(1, MAX_TOPOLOGY_NODES),
                          help=f"channels from a bridge node into each cluster (default {defaults['bridge_degree']})")
    topology.add_argument("--offline-at", type=_number(0, 1, above_low=True, below_high=True),
                          help="share of the workload after which the bridge node goes offline in the offline "
                               f"variant (default {defaults['offline_at']})")
    _add_experiment_run_options(topology, "topology", jobs=False)
    topology.set_defaults(handler=_experiment_topology)


def _experiment_attacks(arguments: argparse.Namespace) -> int:
    names = tuple(dict.fromkeys(name.strip() for name in (arguments.attacks or "").split(",") if name.strip()))
    base = AttackExperiment.quick(names) if arguments.quick else AttackExperiment(attacks=names)
    settings = {"seeds": arguments.seeds, "validators": arguments.validators, "light_nodes": arguments.light_nodes,
                "duration": arguments.duration}
    try:
        experiment = attrs.evolve(base, **_given(settings))
        runs = len(experiment.plan())
        out = check_directory("--out", arguments.out)
    except (ValueError, AttackError) as error:
        print(f"a27 experiment attacks: {error}", file=sys.stderr)
        return 2
    jobs = _worker_processes(arguments.jobs, runs)
    result = _run_experiment(arguments, lambda progress: run_attack_experiment(experiment, jobs=jobs,
                                                                               progress=progress),
                             format_terminal=attack_experiment_report.format_terminal,
                             write_report=attack_experiment_report.write_report, out=out,
                             other_files=SCOREBOARD_AND_CARDS, jobs=jobs)
    return 0 if result.ok else 1


def _add_attacks_experiment_parser(kinds: argparse._SubParsersAction) -> None:
    defaults, quick = AttackExperiment(), AttackExperiment.quick()
    attacks = kinds.add_parser(
        "attacks", help="Lab 4: every registered attack against the defended and the undefended build, over seeds",
        description="Run every registered attack (or those named) against the defended build and the undefended "
                    "one (the defences the attack names switched off) over seeds, and write the scoreboard (red "
                    "team's haul, blue team's losses, the defences' cost) and one attack card per attack (analytic "
                    "curve beside the measured points). Stdout and the report files depend only on the options.")
    attacks.add_argument("--attacks", help="comma-separated attack names (default: every registered attack)")
    attacks.add_argument("--quick", action="store_true",
                         help=f"the CI preset: {quick.seeds} seeds, {quick.light_nodes} light nodes, "
                              f"{quick.duration:g} s runs, two points per sweep (options given here override it)")
    attacks.add_argument("--seeds", type=_integer(1, 1_000),
                         help=f"runs per attack, build and sweep point, seeds 1..N (default {defaults.seeds})")
    attacks.add_argument("--validators", type=_integer(1, MAX_VALIDATORS),
                         help=f"honest validators (default {defaults.validators})")
    attacks.add_argument("--light-nodes", type=_integer(1, MAX_NODES),
                         help=f"honest light nodes (default {defaults.light_nodes})")
    attacks.add_argument("--duration", type=_number(0, MAX_SECONDS, above_low=True),
                         help=f"simulated seconds of workload per run (default {defaults.duration:g})")
    _add_experiment_run_options(attacks, "attacks", jobs=True)
    attacks.set_defaults(handler=_experiment_attacks)


def _option_types(*path: str) -> dict[str, Callable[[str], object]]:
    """The argparse ``type`` of every option of the subcommand ``a27 <path...>``, by ``dest``."""
    parser: argparse.ArgumentParser = build_parser()
    for name in path:
        commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
        parser = commands.choices[name]
    return {action.dest: action.type for action in parser._actions if callable(action.type)}


def _sweep(arguments: argparse.Namespace) -> int:
    from .experiments import sweep  # noqa: PLC0415 - the sweep loads its executors only when it runs
    from .reports import sweep as sweep_report  # noqa: PLC0415

    checks = {target: _option_types("experiment", target) for target in ("stake", "topology", "attacks")}
    try:
        manifest = sweep.read_manifest(arguments.manifest)
        points = sweep.plan(manifest, checks)
        out = check_directory("--out", arguments.out or Path("a27-out") / f"sweep-{Path(arguments.manifest).stem}")
    except (sweep.SweepError, PathOptionError) as error:
        print(f"a27 sweep: {arguments.manifest}: {error}", file=sys.stderr)
        return 2
    jobs = _worker_processes(arguments.jobs)
    executor = None if arguments.scheduler is None else (lambda: sweep.dask_executor(arguments.scheduler))
    wall_start = time.perf_counter()
    outcome = sweep.run_sweep(manifest, points, out, jobs=jobs, executor=executor,
                              progress=lambda line: print(line, file=sys.stderr, flush=True))
    parameters = {"manifest": manifest.to_dict(), "first_point": json.loads(points[0].resolved)}
    markdown = sweep_report.write_report(outcome, out, sweep.HEADLINES[manifest.target], sweep.HEADLINE_MEANING,
                                         collect_provenance(arguments.argv, parameters), ranges=sweep.HEADLINE_RANGE)
    print(f"report: {markdown} (and report.json, plots); {outcome.ran} points run now, "
          f"{len(points) - outcome.ran} stored before", file=sys.stderr)
    where = (f"on {arguments.scheduler}" if arguments.scheduler else
             f"with {min(jobs, outcome.ran)} local worker processes" if jobs > 1 and outcome.ran else "in this process")
    print(f"wall time: {time.perf_counter() - wall_start:.1f} s {where}", file=sys.stderr)
    return 0


def _add_sweep_parser(commands: argparse._SubParsersAction) -> None:
    sweep = commands.add_parser(
        "sweep", help="run a sim scenario or one experiment run over a grid of parameters and seeds",
        description="Run every (grid point, seed) of a TOML manifest, store each result under a hash of what it "
                    "depends on (a rerun skips stored points, so an interrupted sweep resumes), and write a "
                    "summary with intervals across seeds and plots. Report files depend only on the manifest "
                    "and the code.")
    sweep.add_argument("manifest", metavar="MANIFEST.toml", help="the sweep's manifest (see the README, Sweeps)")
    sweep.add_argument("--jobs", type=_integer(1, MAX_JOBS), help="local worker processes (default: one per "
                                                                  "available CPU; 1 runs in this process)")
    sweep.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="run the points on this dask.distributed scheduler's workers instead")
    sweep.add_argument("--out", metavar="DIR", help="output folder (default a27-out/sweep-<manifest name>)")
    sweep.set_defaults(handler=_sweep)


def _add_experiment_parser(commands: argparse._SubParsersAction) -> None:
    defaults = {field.name: field.default for field in attrs.fields(StakeExperiment)}
    experiment = commands.add_parser("experiment", help="run a designed experiment: many seeded simulations, "
                                                        "statistics and a report",
                                     description="Designed experiments over many seeded simulations.")
    kinds = experiment.add_subparsers(dest="experiment", required=True)
    stake = kinds.add_parser(
        "stake", help="Lab 2: how stake weights change proposers, rewards, finality and who can halt the chain",
        description="Give validator 0 the same, more or less stake than the others and measure, over seeds and "
                    "both proposer strategies, its share of blocks and rewards (with confidence intervals and a "
                    "chi-square test against stake shares) and finality; silence validators to show who alone can "
                    "halt or finalize the chain; let validators re-bond their rewards to show how stake shares "
                    "drift. Stdout depends only on the options.")
    stake.add_argument("--cases", default=",".join(DEFAULT_CASES),
                       help="comma-separated stake cases: equal, <N>x-more, <N>x-less (validator 0 holds N times, or "
                            f"1/N of, each other's stake; default {','.join(DEFAULT_CASES)})")
    stake.add_argument("--proposer", default="both",
                       help="weighted-round-robin, lottery or both (default both)")
    quick = StakeExperiment.quick()
    stake.add_argument("--quick", action="store_true",
                       help=f"the CI preset: {quick.seeds} seeds, {quick.duration:g} s shares runs, "
                            f"{quick.silence_duration:g} s silence runs, {quick.restake_seeds} restake seeds of "
                            f"{quick.restake_duration:g} s (options given here override it)")
    stake.add_argument("--seeds", type=_integer(1, 1_000),
                       help=f"runs per case and strategy, seeds 1..N (default {defaults['seeds']})")
    stake.add_argument("--duration", type=_number(0, MAX_SECONDS, above_low=True),
                       help=f"simulated seconds of transfers per run (default {defaults['duration']:g})")
    stake.add_argument("--validators", type=_integer(2, MAX_VALIDATORS),
                       help=f"number of validators (default {defaults['validators']})")
    stake.add_argument("--light-nodes", type=_integer(1, MAX_NODES),
                       help=f"number of light nodes (default {defaults['light_nodes']})")
    stake.add_argument("--transfer-interval", type=_number(MIN_INTERVAL, MAX_SECONDS),
                       help="mean simulated seconds between a light node's transfers "
                            f"(default {defaults['transfer_interval']:g})")
    stake.add_argument("--base-stake", type=_integer(1, MAX_UINT64),
                       help=f"stake of every validator but v0 (default {defaults['base_stake']:,})")
    stake.add_argument("--silence-duration", type=_number(0, MAX_SECONDS, above_low=True),
                       help="simulated seconds of transfers in the runs with silent validators "
                            f"(default {defaults['silence_duration']:g})")
    stake.add_argument("--restake-duration", type=_number(0, MAX_SECONDS, above_low=True),
                       help=f"simulated seconds of the restaking runs (default {defaults['restake_duration']:g})")
    stake.add_argument("--restake-interval", type=_number(MIN_INTERVAL, MAX_SECONDS),
                       help="simulated seconds between a validator's re-bonds "
                            f"(default {defaults['restake_interval']:g})")
    stake.add_argument("--restake-seeds", type=_integer(1, 1_000),
                       help="seeds 1..N of each restaking run and its two controls (transfers off, restaking off) per "
                            f"case and strategy (default {defaults['restake_seeds']})")
    stake.add_argument("--restake-reward", type=_integer(1, MAX_UINT64),
                       help=f"block reward in the restaking runs (default {defaults['restake_block_reward']:,})")
    _add_experiment_run_options(stake, "stake", jobs=True)
    stake.set_defaults(handler=_experiment_stake)
    _add_topology_parser(kinds)
    _add_attacks_experiment_parser(kinds)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``a27``."""
    parser = _ArgumentParser(prog="a27", description="a27: design, test and attack a layered blockchain.")
    parser.add_argument("--version", action="version", version=f"a27 {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    sim = commands.add_parser("sim", help="run the full stack in simulation and print every node's ledger",
                              description="Run validators and light nodes on the simulated network with a seeded "
                                          "transfer workload; print the ledger, every node's view of it and a "
                                          "verdict. The same seed prints the same output, byte for byte.")
    sim.add_argument("--scenario", metavar="FILE", help="a TOML scenario file; options given here override it")
    sim.add_argument("--layers", help="ledger,pos (default: Lab 2 proof of stake), ledger (Lab 1: validators "
                                      "admit and broadcast transfers directly) or ledger,pos,channels (Lab 3: "
                                      "payment channels open, pay, route and close on the PoS chain)")
    sim.add_argument("--validators", type=_integer(), help="number of validators (default 4)")
    sim.add_argument("--stakes", help="each validator's bonded stake, comma-separated (default 100000 each)")
    sim.add_argument("--proposer", help="weighted-round-robin (default) or lottery")
    sim.add_argument("--light-nodes", type=_integer(), help="number of light nodes (default 16)")
    sim.add_argument("--duration", type=_number(), help="simulated seconds of transfers (default 60)")
    sim.add_argument("--transfer-interval", type=_number(),
                     help="mean simulated seconds between a light node's transfers (default 4)")
    sim.add_argument("--seed", type=_integer(), help="the seed that fixes everything (default 7)")
    sim.add_argument("--latency", help="constant:S | uniform:LOW,HIGH | lognormal:MEDIAN,SIGMA | regions "
                                       "(default uniform:0.01,0.1)")
    sim.add_argument("--loss", type=_number(), help="packet loss probability, e.g. 0.1 (default 0)")
    sim.add_argument("--topology", help="who knows whom among light nodes: complete, ba, bottleneck, bottlenecks")
    sim.add_argument("--db", metavar="DIR", help="keep each node's ledger in DIR/<node>.db (SQLite) instead of memory")
    sim.add_argument("--out", metavar="DIR", help="report directory (default a27-out/sim-seed<SEED>)")
    sim.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="show a progress bar on stderr (default: only on a terminal)")
    sim.set_defaults(handler=_sim)
    _add_experiment_parser(commands)
    _add_attack_parser(commands)
    _add_sweep_parser(commands)
    add_node_parser(commands)
    add_tracker_parser(commands)
    add_battle_parser(commands)
    add_wallet_parser(commands)
    add_net_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``a27`` console script."""
    arguments = build_parser().parse_args(argv)
    # Reports record the command that made them (provenance).
    arguments.argv = list(sys.argv[1:] if argv is None else argv)
    # ... and the commit the run started from, not the one checked out when a long run ends.
    pin_commit()
    return int(arguments.handler(arguments))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
