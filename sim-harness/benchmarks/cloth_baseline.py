"""
CLoTH's success by payment amount on its bundled Lightning snapshot: the reference curve of ``a27 experiment topology``.

CLoTH (Conoscenti, Vetro, De Martin: "CLoTH: a Lightning Network Simulator", SoftwareX 2021;
https://github.com/marcono/cloth) is GPL-3 C; nothing of it is copied here. This script takes a CLoTH checkout, calls
its ``make build``, runs ``./cloth`` on the checkout's 6,006-node snapshot (``nodes_ln.csv``, ``channels_ln.csv``,
``edges_ln.csv``) once per average payment amount and GSL seed, reads each run's ``payments_output.csv`` and writes
the success share per amount, with a 95% Student's t interval across seeds, to a small JSON file with its provenance
(CLoTH commit, the snapshot files' sha256, the input parameters, seeds and this command).

CLoTH draws each payment's amount as ``|average_payment_amount + N(0, 1)| * 1000`` millisatoshi (``payments.c``,
``generate_random_payments``): the average in satoshi plus a standard normal of one satoshi, so every payment of a
run is within a few satoshi of the average. The ladder of averages is therefore the amount axis itself: amount ``k``
is ``2 ** (k - 8.5)`` times half the snapshot's median channel capacity, the geometric middles of the topology
experiment's ten default buckets (1/512 to 2 times one side's deposit) and one range beyond, so that on a27's axis
(1 = one side's deposit, 2 = a channel's capacity) the snapshot's median capacity sits at 2. The per-payment
amounts each run actually drew are recorded (smallest and largest, relative) to show that they stay on their point.

Every other input keeps the checkout's ``cloth_input.txt``, except: the network from the snapshot files,
``faulty_node_probability=0``, random payments, ``n_payments`` (``--payments``), ``mpp`` (``--mpp``, 0: one route
per payment, as in a27) and ``average_payment_amount``. Each run has its own directory, because CLoTH reads
``cloth_input.txt`` and writes ``payments.csv`` in its working directory. A failed payment's cause follows CLoTH's
``batch-means.py``: timeout, else no path (no route found), else offline node or no balance by which it met more.

    python sim-harness/benchmarks/cloth_baseline.py /tmp/cloth --commit e0e4043... \
        --out sim-harness/src/a27_harness/reports/cloth_baseline.json
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from a27_harness.reports.statistics import mean_interval

SNAPSHOT = ("nodes_ln.csv", "channels_ln.csv", "edges_ln.csv")
"""The snapshot files CLoTH's checkout ships and the runs read."""

CAUSES = ("timeout", "no path", "offline node", "no balance")
"""Failure causes as CLoTH's batch-means.py tells them apart, in its order."""


class BaselineError(Exception):
    """A CLoTH checkout or run that this script cannot use; its message is one line."""


def snapshot_capacities(checkout: Path) -> list[int]:
    """Every channel's capacity in the snapshot, in millisatoshi (CLoTH's unit)."""
    with (checkout / "channels_ln.csv").open(newline="") as handle:
        return [int(row["capacity"]) for row in csv.DictReader(handle)]


def checkout_commit(checkout: Path, given: str | None) -> str:
    """The checkout's git commit, or ``given`` when it is not a git work tree (an exported archive)."""
    if given:
        return given
    found = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True,
                           check=False)
    if found.returncode != 0:
        raise BaselineError(f"{checkout} is not a git checkout: say which CLoTH commit it holds with --commit")
    return found.stdout.strip()


def input_file(template: str, settings: dict[str, str]) -> str:
    """The checkout's cloth_input.txt with ``settings`` replacing (or adding) their keys."""
    lines, seen = [], set()
    for line in template.splitlines():
        key = line.split("=", 1)[0]
        if key in settings:
            lines.append(f"{key}={settings[key]}")
            seen.add(key)
        else:
            lines.append(line)
    lines += [f"{key}={value}" for key, value in settings.items() if key not in seen]
    return "\n".join(lines) + "\n"


def failure_cause(payment: dict[str, str]) -> str:
    """Why a failed payment failed, as CLoTH's batch-means.py classifies it."""
    if payment["timeout_exp"] == "1":
        return "timeout"
    if payment["route"] == "-1":
        return "no path"
    return "offline node" if int(payment["offline_node_count"]) > int(payment["no_balance_count"]) else "no balance"


def run_once(checkout: Path, workspace: Path, template: str, settings: dict[str, str], *, seed: int,
             unit: float) -> dict[str, Any]:
    """One CLoTH run in its own directory; its payments counted, and their amounts as multiples of ``unit``."""
    directory = workspace / f"amount{settings['average_payment_amount']}-seed{seed}"
    (directory / "out").mkdir(parents=True)
    for name in SNAPSHOT:
        (directory / name).symlink_to(checkout / name)
    (directory / "cloth_input.txt").write_text(input_file(template, settings))
    finished = subprocess.run([str(checkout / "cloth"), "out/"], cwd=directory, capture_output=True, text=True,
                              env={**os.environ, "GSL_RNG_SEED": str(seed)}, check=False)
    if finished.returncode != 0:
        raise BaselineError(f"cloth failed in {directory} (exit {finished.returncode}): "
                            f"{finished.stderr.strip().splitlines()[-1:] or finished.stdout.strip()[-200:]}")
    with (directory / "out" / "payments_output.csv").open(newline="") as handle:
        payments = list(csv.DictReader(handle))
    causes = dict.fromkeys(CAUSES, 0)
    for payment in payments:
        if payment["is_success"] != "1":
            causes[failure_cause(payment)] += 1
    relative = [int(payment["amount"]) / unit for payment in payments]
    return {"seed": seed, "payments": len(payments),
            "settled": sum(payment["is_success"] == "1" for payment in payments),
            "failures": causes, "smallest_relative": min(relative), "largest_relative": max(relative)}


def main(argv: list[str] | None = None) -> int:
    """Build CLoTH, run the amount ladder over the seeds, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkout", type=Path, help="a CLoTH source directory (with its Makefile and snapshot)")
    parser.add_argument("--commit", help="the CLoTH commit the directory holds, when it is not a git checkout")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5], help="GSL_RNG_SEED values")
    parser.add_argument("--payments", type=int, default=300, help="n_payments per run")
    parser.add_argument("--steps", type=int, default=11, help="amounts: 2 ** (k - 8.5) half median capacities")
    parser.add_argument("--mpp", type=int, choices=(0, 1), default=0, help="CLoTH's multi-path payments")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once")
    parser.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    arguments = parser.parse_args(argv)
    checkout = arguments.checkout.resolve()
    try:
        missing = [name for name in (*SNAPSHOT, "cloth_input.txt", "Makefile") if not (checkout / name).is_file()]
        if missing:
            raise BaselineError(f"{checkout} is not a CLoTH checkout: no {', '.join(missing)}")
        commit = checkout_commit(checkout, arguments.commit)
        built = subprocess.run(["make", "build"], cwd=checkout, capture_output=True, text=True, check=False)
        if built.returncode != 0:
            raise BaselineError(f"make build failed in {checkout}: {built.stderr.strip().splitlines()[-1:]}")
        capacities = snapshot_capacities(checkout)
        median = statistics.median(capacities)
        unit = median / 2  # a27's axis counts one side's deposit; a channel's capacity is 2
        template = (checkout / "cloth_input.txt").read_text()
        ladder = [2 ** (step - 8.5) for step in range(arguments.steps)]
        jobs = []
        for relative in ladder:
            settings = {"generate_network_from_file": "true", "nodes_filename": SNAPSHOT[0],
                        "channels_filename": SNAPSHOT[1], "edges_filename": SNAPSHOT[2],
                        "faulty_node_probability": "0.0", "generate_payments_from_file": "false",
                        "n_payments": str(arguments.payments), "mpp": str(arguments.mpp),
                        "average_payment_amount": str(round(relative * unit / 1000))}
            jobs += [(relative, settings, seed) for seed in arguments.seeds]
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="cloth-baseline-") as workspace, \
                ThreadPoolExecutor(arguments.jobs) as pool:
            results = list(pool.map(lambda job: run_once(checkout, Path(workspace), template, job[1], seed=job[2],
                                                         unit=unit),
                                    jobs))
        print(f"{len(jobs)} runs in {time.monotonic() - started:.0f} s", file=sys.stderr)
    except (BaselineError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    points = []
    for index, relative in enumerate(ladder):
        runs = results[index * len(arguments.seeds):(index + 1) * len(arguments.seeds)]
        interval = mean_interval([run["settled"] / run["payments"] for run in runs])
        points.append({"relative_amount": relative,
                       "average_payment_amount_sat": int(jobs[index * len(arguments.seeds)][1]
                                                         ["average_payment_amount"]),
                       "success": {"mean": interval.mean, "low": interval.low, "high": interval.high},
                       "runs": runs})
    data = {
        "source": {"simulator": "CLoTH", "repository": "https://github.com/marcono/cloth", "commit": commit,
                   "paper": "Conoscenti, Vetro, De Martin: CLoTH: a Lightning Network Simulator, SoftwareX 2021",
                   "snapshot": {name: hashlib.sha256((checkout / name).read_bytes()).hexdigest()
                                for name in SNAPSHOT},
                   "nodes": sum(1 for _ in (checkout / SNAPSHOT[0]).open()) - 1, "channels": len(capacities)},
        "capacity_msat": {"median": median, "mean": statistics.fmean(capacities)},
        "axis": "amount / (median channel capacity / 2): 1 = half the median capacity, 2 = the median capacity",
        "amounts": "|average_payment_amount + N(0, 1)| * 1000 msat per payment (payments.c)",
        "mpp": arguments.mpp, "payments_per_run": arguments.payments, "seeds": arguments.seeds,
        "input": input_file(template, {**jobs[0][1], "average_payment_amount": "(per point)"}),
        "command": shlex.join(["python", "sim-harness/benchmarks/cloth_baseline.py", *(argv or sys.argv[1:])]),
        "points": points}
    arguments.out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {arguments.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
