"""`a27 sweep`: manifests checked before anything runs, stored points, resuming, executors, report bytes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from a27_harness.cli import _option_types, main
from a27_harness.experiments import sweep

SMALL = """target = "sim"
seeds = 2

[fixed]
layers = "ledger"
light_nodes = 3
duration = 4

[grid]
loss = [0.0, 0.2]
"""
"""2 values x 2 seeds of a short `a27 sim --layers ledger`."""


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sweep-lab2.toml"


def _checks() -> sweep.OptionChecks:
    return {target: _option_types("experiment", target) for target in ("stake", "topology", "attacks")}


def _manifest(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.parametrize(("text", "message"), [
    ('target = "sim"\nseeds = 2\n[grid]\nlight_nodes = [3, "ten"]\n',
     "grid point light_nodes='ten': light_nodes: expected an integer from 1 to 10,000, got 'ten'"),
    ('target = "sim"\nseeds = 2\n[grid]\nlight_node = [3]\n', "did you mean light_nodes?"),
    ('target = "sim"\nseeds = 0\n', "seeds: expected an integer from 1 to 1,000, got 0"),
    ('target = "simulation"\nseeds = 1\n', "target: expected one of sim, stake, topology, attacks"),
    ('target = "stake"\nseeds = 1\n[grid]\nvalidators = [1, 4]\n',
     "grid point validators=1: validators: expected an integer from 2 to 1,000, got '1'"),
    ('target = "stake"\nseeds = 1\n[fixed]\nproposer = "both"\n', "a sweep point is one run"),
    ('target = "topology"\nseeds = 1\n[grid]\noffline_at = [0.5, 1.5]\n', "offline_at: expected a finite number"),
    ('target = "attacks"\nseeds = 1\n[fixed]\nattacks = "no-such-attack"\n', "no-such-attack"),
    ('target = "sim"\nseeds = 1\n[fixed]\nloss = 0.1\n[grid]\nloss = [0.2]\n', "both in [fixed] and in [grid]"),
])
def test_a_bad_manifest_is_one_line_and_exit_2_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                    text: str, message: str) -> None:
    out = tmp_path / "out"
    status = main(["sweep", str(_manifest(tmp_path, text)), "--out", str(out)])
    error = capsys.readouterr().err
    assert status == 2
    assert message in error
    assert len(error.strip().splitlines()) == 1
    assert not out.exists()


def test_the_hash_covers_resolved_parameters_and_seed() -> None:
    def keys(text: str) -> list[str]:
        return [point.key for point in sweep.plan(sweep.parse_manifest(_toml(text)), _checks(), commit="c")]

    base = keys(SMALL)
    assert len(set(base)) == 4
    assert keys(SMALL) == base
    # A default given explicitly resolves to the same run, so to the same stored point.
    assert keys(SMALL.replace("duration = 4", "duration = 4\nfee = 1")) == base
    # A changed parameter, or another seed, is another point.
    assert not set(keys(SMALL.replace("duration = 4", "duration = 5"))) & set(base)
    assert keys(SMALL.replace("seeds = 2", "seeds = [2]")) == [base[1], base[3]]
    # Another commit is another point too.
    other = [point.key for point in sweep.plan(sweep.parse_manifest(_toml(SMALL)), _checks(), commit="d")]
    assert not set(other) & set(base)


def _toml(text: str) -> dict:
    return sweep.tomllib.loads(text)  # tomllib, or tomli before Python 3.11


def test_experiment_targets_resolve_and_a_topology_point_runs() -> None:
    stake = sweep.resolve("stake", {"cases": "10x-more", "proposer": "lottery", "duration": 10.0}, 3)
    assert stake["case"] == "10x-more" and stake["scenario"]["proposer"] == "lottery"
    assert "seed" not in stake["scenario"]
    attack = sweep.resolve("attacks", {"attacks": "double-spend-lab1", "build": "undefended"}, 1)
    assert attack["defences_off"]
    parameters = {"topologies": "ba", "nodes": 8, "payments": 20}
    assert sweep.resolve("topology", parameters, 1)["experiment"]["nodes"] == 8
    headline = sweep.run_point("topology", parameters, 1)
    assert set(headline) == set(sweep.HEADLINES["topology"])
    assert 0 < headline["success_rate"] <= 1  # type: ignore[operator]


@pytest.mark.timeout(120)
@pytest.mark.slow
def test_an_interrupted_sweep_resumes_with_only_the_rest(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # A point's key does not depend on the rest of the grid, so the state a sweep killed after its first seed leaves
    # is built exactly: the same grid with one seed run to the end, plus the temporary file of a write cut short.
    out = tmp_path / "out"
    first_seed = _manifest(tmp_path, SMALL.replace("seeds = 2", "seeds = 1"), "first.toml")
    assert main(["sweep", str(first_seed), "--jobs", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    stored = {path.name: path.read_bytes() for path in (out / "points").glob("*.json")}
    assert len(stored) == 2
    cut_short = out / "points" / f".{sorted(stored)[0]}.x1y2.tmp"
    cut_short.write_bytes(stored[sorted(stored)[0]][:40])
    manifest = _manifest(tmp_path, SMALL)
    assert main(["sweep", str(manifest), "--jobs", "1", "--out", str(out)]) == 0
    error = capsys.readouterr().err
    assert "2 stored, 2 to run" in error
    assert error.count("sweep: [") == 2
    after = {path.name: path.read_bytes() for path in (out / "points").glob("*.json")}
    assert len(after) == 4
    assert all(after[name] == data for name, data in stored.items())
    assert not list((out / "points").glob(".*"))  # the cut-short write is gone; no temporary file is left as a point
    # A rerun runs nothing; a point file that is not its point's (damaged by hand) runs again.
    damaged = sorted(after)[0]
    (out / "points" / damaged).write_text("{", encoding="utf-8")
    assert main(["sweep", str(manifest), "--jobs", "1", "--out", str(out)]) == 0
    assert "3 stored, 1 to run" in capsys.readouterr().err
    assert (out / "points" / damaged).read_bytes() == after[damaged]


@pytest.mark.timeout(180)
@pytest.mark.slow
def test_local_pool_and_dask_cluster_write_the_same_bytes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from distributed import LocalCluster  # noqa: PLC0415

    manifest = _manifest(tmp_path, SMALL)
    assert main(["sweep", str(manifest), "--jobs", "2", "--out", str(tmp_path / "pool")]) == 0
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        assert main(["sweep", str(manifest), "--scheduler", cluster.scheduler_address,
                     "--out", str(tmp_path / "dask")]) == 0
    capsys.readouterr()
    pool, dask = _files(tmp_path / "pool"), _files(tmp_path / "dask")
    assert pool == dask
    assert len([name for name in pool if name.startswith("points/")]) == 4
    assert {"report.md", "report.json", "accepted_share-vs-loss.png", "median_latency-vs-loss.png"} <= set(pool)
    report = json.loads(pool["report.json"])
    assert report["provenance"]["command"] == f"a27 sweep {manifest}"
    rows = report["grid_points"]
    assert [row["parameters"]["loss"] for row in rows] == [0.0, 0.2]
    assert all(row["headline"]["agreed"]["mean"] == 1.0 and row["headline"]["agreed"]["runs"] == 2 for row in rows)


def test_the_readme_example_manifest_plans_24_points() -> None:
    points = sweep.plan(sweep.read_manifest(EXAMPLE), _checks(), commit="c")
    assert len(points) == 24 and len({point.key for point in points}) == 24


def test_the_cli_and_the_sweep_module_load_dask_only_when_a_sweep_uses_a_scheduler() -> None:
    code = ("import sys, json, a27_harness.cli, a27_harness.experiments.sweep\n"
            "print(json.dumps(sorted(name for name in ('dask', 'distributed') if name in sys.modules)))")
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(finished.stdout) == []


def test_every_share_headline_has_the_range_zero_to_one_and_the_others_none() -> None:
    # The sweep's intervals are clipped to these ranges (reports/sweep.py); a share read as unbounded would print an
    # interval past 100% from a few seeds.
    shares = {name for names in sweep.HEADLINES.values() for name in names
              if "share" in name or name in ("payment_success", "success_rate", "agreed", "succeeded", "detected")}
    assert set(sweep.HEADLINE_RANGE) == shares
    assert set(sweep.HEADLINE_RANGE.values()) == {(0.0, 1.0)}
