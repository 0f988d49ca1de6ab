"""
Sweeps (`a27 sweep MANIFEST.toml`): one target run over a grid of parameters and a list of seeds.

A manifest names a target (``sim``: an `a27 sim` scenario; ``stake``, ``topology``, ``attacks``: one run of that
experiment), fixed parameters, a grid (every value a list) and seeds. Every (grid point, seed) is one point; each
point's headline numbers are stored in ``<out>/points/<hash>.json``, the hash taken over a27's version and commit, the
target, the point's fully resolved parameters (defaults included) and its seed. A rerun finds what is stored and runs
only the rest, so an interrupted sweep resumes, and a changed parameter, default or commit makes a new hash.

Points run in this process, on a local process pool, or on a dask.distributed cluster through the same
``concurrent.futures`` interface (``Client.get_executor()``); dask is imported only for that last case. Stored files
are written by this process alone, atomically, and their bytes depend only on the point, so the executor and the
order in which points finish change nothing.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import difflib
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import statistics
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from a27_attacks import AttackError, attack_named

from ..__about__ import __version__
from ..attacks import LAB_LAYERS
from ..compat import tomllib
from ..labs.lab1 import run_lab1
from ..labs.lab2 import run_lab2
from ..labs.lab3 import run_lab3
from ..reports.provenance import plain, run_commit, scenario_parameters
from ..reports.statistics import SHARE
from ..scenario import MAX_UINT64, ScenarioError, SimScenario, check_integer
from .attacks import BUILDS, DEFENDED, AttackExperiment, PlannedAttackRun
from .attacks import run_planned as run_attack_planned
from .stake import PlannedRun, StakeExperiment, parse_cases, parse_strategies
from .stake import run_planned as run_stake_planned
from .topology import BASELINE, BRIDGE_OFFLINE, TopologyExperiment, parse_topologies, run_topology

TARGETS = ("sim", "stake", "topology", "attacks")
"""What a sweep can run: an `a27 sim` scenario, or one run of an `a27 experiment`."""
MAX_POINTS = 100_000
"""The most (grid point, seed) points a manifest may ask for."""
MAX_SEEDS = 1_000
"""The most seeds a manifest may list or count."""
MANIFEST_KEYS = ("target", "seeds", "fixed", "grid")
"""The keys of a manifest file."""

SIM_KEYS = tuple(field.name for field in attrs.fields(SimScenario) if field.name not in ("seed", "db", "faults"))
"""The parameters of the ``sim`` target: every scenario setting but the seed (the sweep's), ``db`` and faults."""
STAKE_KEYS = {"cases": "cases", "proposer": "proposer", "duration": "duration", "validators": "validators",
              "light_nodes": "light_nodes", "transfer_interval": "transfer_interval", "base_stake": "base_stake"}
"""The ``stake`` target's parameters (`a27 experiment stake` options), and the experiment's field each sets."""
TOPOLOGY_KEYS = {"topologies": "topologies", "variant": "variant", "nodes": "nodes", "deposit": "deposit",
                 "payments": "payments", "min_amount": "min_amount", "max_amount": "max_amount",
                 "rate": "payments_per_second", "buckets": "amount_buckets", "m": "ba_m", "clusters": "clusters",
                 "bridge_degree": "bridge_degree", "offline_at": "offline_at"}
"""The ``topology`` target's parameters (`a27 experiment topology` options, and ``variant``: ``baseline`` or
``bridge offline``), and the experiment's field each sets."""
ATTACK_KEYS = {"attacks": "attacks", "build": "build", "validators": "validators", "light_nodes": "light_nodes",
               "duration": "duration"}
"""The ``attacks`` target's parameters (`a27 experiment attacks` options, and ``build``: ``defended`` or
``undefended``)."""
TARGET_KEYS: dict[str, tuple[str, ...]] = {"sim": SIM_KEYS, "stake": tuple(STAKE_KEYS),
                                           "topology": tuple(TOPOLOGY_KEYS), "attacks": tuple(ATTACK_KEYS)}

HEADLINES: dict[str, tuple[str, ...]] = {
    "sim": ("accepted_share", "final_share", "payment_success", "median_latency", "blocks", "mean_hops", "agreed"),
    "stake": ("v0_block_share", "blocks", "median_block_finality", "median_transfer_latency"),
    "topology": ("success_rate", "mean_hops", "fees", "throughput"),
    "attacks": ("succeeded", "stolen", "extra_failed", "detected"),
}
"""Each target's headline numbers, in report order (a ``sim`` run has those of its lab: Lab 1 ``accepted_share``,
Lab 2 ``final_share`` and ``blocks``, Lab 3 ``payment_success`` and ``mean_hops``)."""
HEADLINE_RANGE: dict[str, tuple[float, float]] = {
    name: SHARE for name in ("accepted_share", "final_share", "payment_success", "agreed", "v0_block_share",
                                  "success_rate", "succeeded", "detected")}
"""The headline numbers that are shares or 0/1 indicators: their intervals across seeds are clipped to 0 to 1."""
HEADLINE_MEANING = {
    "accepted_share": "share of transfers accepted (Lab 1; the deliberate overdrafts are refused)",
    "final_share": "share of transfers final in a block (Lab 2)",
    "payment_success": "share of off-chain payments that succeeded (Lab 3)",
    "median_latency": "median seconds until a transfer was applied everywhere (Lab 1) or final (Lab 2)",
    "blocks": "finalized blocks",
    "mean_hops": "mean channels per successful payment",
    "agreed": "1 when every node ended with the same ledger and supply was conserved, else 0",
    "v0_block_share": "share of the blocks validator 0 proposed",
    "median_block_finality": "median seconds from a block's timestamp until the median node applied it",
    "median_transfer_latency": "median seconds from submission until the sender applied the final block",
    "success_rate": "share of payments that settled",
    "fees": "fees payers of settled payments paid to forwarding nodes",
    "throughput": "settled payments per simulated second",
    "succeeded": "1 when the attack succeeded, else 0",
    "stolen": "tokens stolen",
    "extra_failed": "honest transfers failed beyond the honest replay",
    "detected": "1 when an honest node detected the attack, else 0",
}
"""What each headline number is (report.md defines them)."""


class SweepError(ValueError):
    """A manifest that cannot be run: unreadable, an unknown key or target, or a value its target refuses."""


OptionChecks = Mapping[str, Mapping[str, Callable[[str], object]]]
"""Per experiment target, the argparse ``type`` of each of its CLI options (by ``dest``): the CLI's own checks."""


@attrs.frozen
class Point:
    """One run of a sweep: a grid point's parameters (fixed ones included) and a seed."""

    grid_index: int
    parameters: tuple[tuple[str, Any], ...]
    """Every parameter the manifest sets for this point, fixed and swept, in manifest order."""
    seed: int
    resolved: str
    """The point's fully resolved parameters (defaults included) as canonical JSON."""
    key: str
    """The content hash naming the stored result."""

    def label(self, swept: Sequence[str]) -> str:
        """``name=value`` of the swept parameters and the seed, for progress lines."""
        values = dict(self.parameters)
        return " ".join([*(f"{name}={values[name]}" for name in swept), f"seed={self.seed}"])


@attrs.frozen
class Manifest:
    """A checked manifest: the target, its fixed parameters, the grid and the seeds."""

    target: str
    fixed: tuple[tuple[str, Any], ...]
    grid: tuple[tuple[str, tuple[Any, ...]], ...]
    seeds: tuple[int, ...]

    @property
    def swept(self) -> tuple[str, ...]:
        """The names of the swept parameters, in manifest order."""
        return tuple(name for name, _ in self.grid)

    def grid_points(self) -> list[tuple[tuple[str, Any], ...]]:
        """Every combination of grid values (the last parameter varying fastest), each with the fixed parameters."""
        names = self.swept
        combinations = itertools.product(*(values for _, values in self.grid))
        return [(*self.fixed, *zip(names, combination, strict=True)) for combination in combinations]

    def to_dict(self) -> dict[str, Any]:
        """As plain data (for report.json and provenance)."""
        return {"target": self.target, "fixed": dict(self.fixed),
                "grid": {name: list(values) for name, values in self.grid}, "seeds": list(self.seeds)}


def _canonical(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _normalize_keys(table: object, where: str, target: str) -> tuple[tuple[str, Any], ...]:
    if not isinstance(table, dict):
        msg = f"[{where}] must be a table of parameters"
        raise SweepError(msg)
    known = TARGET_KEYS[target]
    items = []
    for raw, value in table.items():
        name = raw.replace("-", "_")
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            msg = f"[{where}] {raw}: not a parameter of target {target}{hint}; its parameters: {', '.join(known)}"
            raise SweepError(msg)
        items.append((name, value))
    return tuple(items)


def _seeds(value: object) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        count = check_integer("seeds", value, 1, MAX_SEEDS)
        return tuple(range(1, count + 1))
    if isinstance(value, list) and value and len(value) <= MAX_SEEDS:
        seeds = tuple(check_integer(f"seeds[{index}]", seed, 0, MAX_UINT64) for index, seed in enumerate(value))
        if len(set(seeds)) != len(seeds):
            msg = f"seeds: each seed once, got {value}"
            raise SweepError(msg)
        return seeds
    msg = f"seeds: expected a count from 1 to {MAX_SEEDS:,} (seeds 1..N) or a list of 1 to {MAX_SEEDS:,} seeds, " \
          f"got {value!r}"
    raise SweepError(msg)


def parse_manifest(data: Mapping[str, Any]) -> Manifest:
    """
    Check a manifest's structure (target, seeds, ``[fixed]``, ``[grid]``), not yet its values.

    :raises SweepError: naming the key at fault.
    """
    unknown = [key for key in data if key not in MANIFEST_KEYS]
    if unknown:
        msg = f"{unknown[0]}: not a manifest key; a manifest has {', '.join(MANIFEST_KEYS)}"
        raise SweepError(msg)
    target = data.get("target")
    if target not in TARGETS:
        msg = f"target: expected one of {', '.join(TARGETS)}, got {target!r}"
        raise SweepError(msg)
    if "seeds" not in data:
        msg = "seeds: missing (a count N for seeds 1..N, or a list of seeds)"
        raise SweepError(msg)
    try:
        seeds = _seeds(data["seeds"])
    except ScenarioError as error:
        raise SweepError(str(error)) from None
    fixed = _normalize_keys(data.get("fixed", {}), "fixed", target)
    grid = _normalize_keys(data.get("grid", {}), "grid", target)
    for name, values in grid:
        if not isinstance(values, list) or not values:
            msg = f"[grid] {name}: expected a non-empty list of values, got {values!r}"
            raise SweepError(msg)
        if len({_canonical(value) for value in values}) != len(values):
            msg = f"[grid] {name}: each value once, got {values!r}"
            raise SweepError(msg)
    twice = sorted({name for name, _ in fixed} & {name for name, _ in grid})
    if twice:
        msg = f"{twice[0]}: both in [fixed] and in [grid]; give it in one of them"
        raise SweepError(msg)
    points = math.prod(len(values) for _, values in grid) * len(seeds)
    if points > MAX_POINTS:
        msg = f"the grid and seeds make {points:,} points; at most {MAX_POINTS:,}"
        raise SweepError(msg)
    return Manifest(target, fixed, tuple((name, tuple(values)) for name, values in grid), seeds)


def read_manifest(path: str | Path) -> Manifest:
    """Read and check the structure of a manifest file (see ``parse_manifest``)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        msg = f"cannot read {path}: {error}"
        raise SweepError(msg) from None
    return parse_manifest(data)


# Targets: build one run from checked parameters, resolve every parameter it depends on, run it. ---------------------


def _checked(target: str, parameters: Mapping[str, Any], checks: OptionChecks) -> dict[str, Any]:
    """An experiment target's parameters through its CLI options' own checks (the text a user would type)."""
    types = checks.get(target, {})
    checked = {}
    for name, value in parameters.items():
        check = types.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            msg = f"{name}: expected a number or a string, got {value!r}"
            raise SweepError(msg)
        try:
            checked[name] = check(str(value)) if check is not None else value
        except argparse.ArgumentTypeError as error:
            msg = f"{name}: {error}"
            raise SweepError(msg) from None
    return checked


def _one(name: str, values: tuple[str, ...]) -> str:
    if len(values) != 1:
        msg = f"{name}: a sweep point is one run, so name exactly one (sweep several in [grid]), got {list(values)}"
        raise SweepError(msg)
    return values[0]


def _without_seed(data: dict[str, Any]) -> dict[str, Any]:
    data["scenario"] = {key: value for key, value in data["scenario"].items() if key != "seed"}
    return data


def _sim_scenario(parameters: Mapping[str, Any], seed: int) -> SimScenario:
    return SimScenario(**parameters, seed=seed)


def _stake_run(parameters: Mapping[str, Any], seed: int) -> PlannedRun:
    settings = {STAKE_KEYS[name]: value for name, value in parameters.items() if name not in ("cases", "proposer")}
    cases = parse_cases(str(parameters.get("cases", "equal")))
    strategies = parse_strategies(str(parameters.get("proposer", "weighted-round-robin")))
    _one("cases", tuple(case.name for case in cases))
    _one("proposer", strategies)
    experiment = StakeExperiment(cases=cases, strategies=strategies, seeds=1, **settings)
    first = experiment.plan()[0]
    return attrs.evolve(first, scenario=attrs.evolve(first.scenario, seed=seed))


def _topology_run(parameters: Mapping[str, Any], seed: int) -> tuple[TopologyExperiment, str, str]:
    settings = {TOPOLOGY_KEYS[name]: value for name, value in parameters.items()
                if name not in ("topologies", "variant")}
    topology = _one("topologies", parse_topologies(str(parameters.get("topologies", "ba"))))
    variant = str(parameters.get("variant", BASELINE))
    if variant not in (BASELINE, BRIDGE_OFFLINE):
        msg = f"variant: expected {BASELINE} or {BRIDGE_OFFLINE}, got {variant!r}"
        raise SweepError(msg)
    experiment = TopologyExperiment(topologies=(topology,), seed=seed, seeds=1, **settings)
    if variant == BRIDGE_OFFLINE and not experiment.plan()[1:]:
        msg = f"variant {BRIDGE_OFFLINE}: topology {topology} has no bridge node"
        raise SweepError(msg)
    return experiment, topology, variant


def _attack_run(parameters: Mapping[str, Any], seed: int) -> PlannedAttackRun:
    name = _one("attacks", tuple(part.strip() for part in str(parameters.get("attacks", "")).split(",")
                                 if part.strip()))
    build = str(parameters.get("build", DEFENDED))
    if build not in BUILDS:
        msg = f"build: expected {' or '.join(BUILDS)}, got {build!r}"
        raise SweepError(msg)
    sizes = {key: parameters[key] for key in ("validators", "light_nodes", "duration") if key in parameters}
    experiment = AttackExperiment(attacks=(name,), seeds=1, **sizes)
    reason = experiment.skipped().get(name)
    if reason is not None:
        msg = f"attack {name} cannot run here: {reason}"
        raise SweepError(msg)
    return PlannedAttackRun(name, (), build, seed, experiment.validators, experiment.light_nodes,
                            experiment.duration)


def resolve(target: str, parameters: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """
    Every parameter a run of ``target`` with ``parameters`` depends on, defaults included, without the seed: the key
    of the stored result (with the version, commit, target and seed). Builds the run, so it checks every value.

    :raises SweepError: for a value the target refuses, naming it.
    """
    try:
        if target == "sim":
            return _without_seed(scenario_parameters(_sim_scenario(parameters, seed)))
        if target == "stake":
            run = _stake_run(parameters, seed)
            return {"case": run.case, **_without_seed(scenario_parameters(run.scenario))}
        if target == "topology":
            experiment, topology, variant = _topology_run(parameters, seed)
            experiment.graph(topology)
            settings = {key: value for key, value in experiment.parameters().items() if key != "experiment"}
            chosen = {key: value for key, value in experiment.to_dict().items() if key not in ("seed", "seeds")}
            return {"variant": variant, "experiment": chosen, **settings}
        attack_run = _attack_run(parameters, seed)
        attack = attack_named(attack_run.attack)
        scenario = SimScenario(layers=LAB_LAYERS[attack.lab], seed=seed, validators=attack_run.validators,
                               light_nodes=attack_run.light_nodes, duration=attack_run.duration)
        return {"attack": attack_run.attack, "build": attack_run.build,
                "defences_off": list(attack.defences) if attack_run.build != DEFENDED else [],
                "attack_parameters": {parameter.name: parameter.default for parameter in attack.parameters()},
                **_without_seed(scenario_parameters(scenario))}
    except SweepError:
        raise
    except (ValueError, TypeError, AttackError) as error:
        raise SweepError(str(error)) from None


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def run_point(target: str, parameters: dict[str, Any], seed: int) -> dict[str, float | None]:
    """Run one point (in this process) and return its headline numbers; a worker calls this."""
    if target == "sim":
        scenario = _sim_scenario(parameters, seed)
        if scenario.uses_channels:
            lab3 = run_lab3(scenario)
            succeeded = [payment for payment in lab3.payments if payment.outcome == "succeeded"]
            return {"payment_success": _share(len(succeeded), len(lab3.payments)),
                    "mean_hops": statistics.fmean(payment.hops for payment in succeeded) if succeeded else None,
                    "agreed": float(lab3.ok)}
        if scenario.uses_pos:
            lab2 = run_lab2(scenario)
            final = [record for record in lab2.transfers if record.outcome == "final"]
            return {"final_share": _share(len(final), len(lab2.transfers)),
                    "median_latency": _median([record.latency for record in final if record.latency is not None]),
                    "blocks": float(len(lab2.blocks)), "agreed": float(lab2.agreed and lab2.supply_ok)}
        lab1 = run_lab1(scenario)
        accepted = [record for record in lab1.transfers if record.accepted]
        return {"accepted_share": _share(len(accepted), len(lab1.transfers)),
                "median_latency": _median([record.everywhere_latency for record in accepted
                                           if record.everywhere_latency is not None]),
                "agreed": float(lab1.agreed and lab1.supply_ok)}
    if target == "stake":
        summary = run_stake_planned(_stake_run(parameters, seed))
        return {"v0_block_share": _share(summary.blocks_proposed[0], sum(summary.blocks_proposed)),
                "blocks": float(summary.blocks), "median_block_finality": _median(summary.block_finality),
                "median_transfer_latency": _median(summary.transfer_latency)}
    if target == "topology":
        experiment, topology, variant = _topology_run(parameters, seed)
        run = run_topology(experiment, topology, variant)
        return {"success_rate": run.success_rate(), "mean_hops": run.mean_hops, "fees": float(run.fees),
                "throughput": run.throughput}
    attack = run_attack_planned(_attack_run(parameters, seed))
    return {"succeeded": float(attack.succeeded), "stolen": float(attack.stolen),
            "extra_failed": float(attack.extra_failed), "detected": float(attack.detected)}


# Planning and storing -----------------------------------------------------------------------------------------------


def check_values(manifest: Manifest, checks: OptionChecks) -> list[tuple[tuple[str, Any], ...]]:
    """
    Every grid point's parameters after the target's CLI checks (experiment targets; a ``sim`` point is checked as a
    scenario file is). Raises on the first bad value, naming the grid point.

    :raises SweepError: one line naming the value at fault.
    """
    checked = []
    for point in manifest.grid_points():
        try:
            values = _checked(manifest.target, dict(point), checks) if manifest.target != "sim" else dict(point)
        except SweepError as error:
            msg = f"{_where(point, manifest)}{error}"
            raise SweepError(msg) from None
        checked.append(tuple(values.items()))
    return checked


def _where(point: tuple[tuple[str, Any], ...], manifest: Manifest) -> str:
    swept = [f"{name}={value!r}" for name, value in point if name in manifest.swept]
    return f"grid point {' '.join(swept)}: " if swept else ""


def plan(manifest: Manifest, checks: OptionChecks, commit: str | None = None) -> list[Point]:
    """
    Every point of the sweep in report order (grid point, then seed), each resolved and hashed. Every value is
    checked here, before anything runs.

    :raises SweepError: one line naming the grid point and the value at fault.
    """
    commit = run_commit() if commit is None else commit
    points = []
    for index, parameters in enumerate(check_values(manifest, checks)):
        for seed in manifest.seeds:
            try:
                resolved = _canonical(plain(resolve(manifest.target, dict(parameters), seed)))
            except SweepError as error:
                msg = f"{_where(parameters, manifest)}{error}"
                raise SweepError(msg) from None
            key = hashlib.sha256(_canonical({"a27_version": __version__, "commit": commit,
                                             "target": manifest.target, "parameters": json.loads(resolved),
                                             "seed": seed}).encode()).hexdigest()
            points.append(Point(index, parameters, seed, resolved, key))
    return points


def point_path(out: Path, point: Point) -> Path:
    """Where ``point``'s result is stored."""
    return out / "points" / f"{point.key}.json"


def _stored_bytes(point: Point, headline: Mapping[str, float | None], commit: str, target: str) -> bytes:
    data = {"key": point.key, "a27_version": __version__, "commit": commit, "target": target,
            "parameters": json.loads(point.resolved), "seed": point.seed, "headline": dict(headline)}
    return (json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new one, never a part: a temporary file
    in the same folder, flushed, then renamed over it."""
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",
                                     delete=False) as handle:
        temporary = Path(handle.name)
        try:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    try:
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def load_stored(out: Path, point: Point) -> dict[str, float | None] | None:
    """``point``'s stored headline numbers, or None when it has not run (or its file is not this point's)."""
    try:
        data = json.loads(point_path(out, point).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != point.key or not isinstance(data.get("headline"), dict):
        return None
    return data["headline"]


# Executors ----------------------------------------------------------------------------------------------------------


@contextmanager
def local_executor(jobs: int) -> Iterator[concurrent.futures.Executor]:
    """A process pool of ``jobs`` spawned workers (spawned, not forked: the parent may hold threads). Interrupted
    (Ctrl-C), it drops the points not started instead of running them all first."""
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


@contextmanager
def dask_executor(scheduler: str) -> Iterator[concurrent.futures.Executor]:
    """The ``concurrent.futures`` executor of a dask.distributed client connected to ``scheduler``
    (``tcp://HOST:PORT``); dask is imported here only."""
    from distributed import Client  # noqa: PLC0415 - only sweeps on a cluster load dask

    with Client(scheduler) as client:
        yield client.get_executor()


ProgressLine = Callable[[str], None]


@attrs.frozen
class SweepOutcome:
    """What a sweep did: every point in report order with its headline numbers, and how many ran now."""

    manifest: Manifest
    points: tuple[Point, ...]
    headlines: tuple[dict[str, float | None], ...]
    ran: int
    """Points run by this call (the others were stored already)."""


def run_sweep(manifest: Manifest, points: Sequence[Point], out: Path, *, jobs: int = 1,
              executor: Callable[[], Any] | None = None, progress: ProgressLine | None = None,
              commit: str | None = None) -> SweepOutcome:
    """
    Run the ``points`` not stored in ``out`` yet and store each as it finishes.

    ``executor`` is a context manager factory yielding a ``concurrent.futures.Executor`` (``dask_executor``); without
    it, ``jobs`` above 1 uses a local process pool and 1 runs in this process.
    """
    commit = run_commit() if commit is None else commit
    (out / "points").mkdir(parents=True, exist_ok=True)
    # A sweep killed while writing leaves its temporary file; one sweep at a time uses a folder, so none is live.
    for leftover in (out / "points").glob(".*.tmp"):
        leftover.unlink(missing_ok=True)
    say = progress or (lambda _line: None)
    headlines: dict[int, dict[str, float | None]] = {}
    for index, point in enumerate(points):
        stored = load_stored(out, point)
        if stored is not None:
            headlines[index] = stored
    todo = [index for index in range(len(points)) if index not in headlines]
    say(f"sweep: {len(points)} points ({len(points) // len(manifest.seeds)} grid points x {len(manifest.seeds)} "
        f"seeds): {len(headlines)} stored, {len(todo)} to run")

    def finished(index: int, headline: dict[str, float | None]) -> None:
        write_atomically(point_path(out, points[index]), _stored_bytes(points[index], headline, commit,
                                                                         manifest.target))
        headlines[index] = headline
        say(f"sweep: [{len(headlines)}/{len(points)}] {points[index].label(manifest.swept)}")

    if todo and executor is None and jobs <= 1:
        for index in todo:
            finished(index, run_point(manifest.target, dict(points[index].parameters), points[index].seed))
    elif todo:
        factory = executor if executor is not None else (lambda: local_executor(min(jobs, len(todo))))
        with factory() as pool:
            futures = {pool.submit(run_point, manifest.target, dict(points[index].parameters),
                                   points[index].seed): index for index in todo}
            for future in concurrent.futures.as_completed(futures):
                finished(futures[future], future.result())
    return SweepOutcome(manifest, tuple(points), tuple(headlines[index] for index in range(len(points))), len(todo))


__all__ = ["ATTACK_KEYS", "HEADLINES", "HEADLINE_MEANING", "HEADLINE_RANGE", "MAX_POINTS", "MAX_SEEDS", "SIM_KEYS",
           "STAKE_KEYS",
           "TARGETS", "TARGET_KEYS", "TOPOLOGY_KEYS", "Manifest", "OptionChecks", "Point", "SweepError",
           "SweepOutcome", "check_values", "dask_executor", "load_stored", "local_executor", "parse_manifest",
           "plan", "point_path", "read_manifest", "resolve", "run_point", "run_sweep", "write_atomically"]
