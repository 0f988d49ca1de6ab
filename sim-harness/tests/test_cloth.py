"""CLoTH's bundled success-by-amount curve: the data file and its reading."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from a27_harness.reports.cloth import (
    DATA_FILE,
    ReferenceDataError,
    falls_below,
    load_cloth_baseline,
)

CLOTH_COMMIT = "e0e40430238a3a00ae4a60edab72ef31ee29c062"
"""The CLoTH commit the bundled numbers were computed with."""


def _raw() -> dict:
    return json.loads(resources.files("a27_harness.reports").joinpath(DATA_FILE).read_text(encoding="utf-8"))


def test_the_bundled_data_loads_and_is_well_formed() -> None:
    baseline = load_cloth_baseline()
    assert baseline.commit == CLOTH_COMMIT
    assert (baseline.nodes, baseline.channels, baseline.mpp) == (6_006, 30_457, 0)
    assert baseline.median_capacity_msat == 800_000_000
    assert len(baseline.seeds) >= 5
    assert len(baseline.points) >= 10
    # From far below one side's deposit on a27's axis to above the median capacity (2).
    assert baseline.points[0].relative_amount < 0.01
    assert baseline.points[-1].relative_amount > 2
    for point in baseline.points:
        assert 0 <= point.mean <= 1
        assert point.low <= point.mean <= point.high
        # The average amount in satoshi is the relative amount times half the median capacity (in msat / 1000).
        assert point.average_payment_amount_sat == round(point.relative_amount * 400_000)
    raw = _raw()
    assert set(raw["source"]["snapshot"]) == {"nodes_ln.csv", "channels_ln.csv", "edges_ln.csv"}
    assert all(len(digest) == 64 for digest in raw["source"]["snapshot"].values())
    assert "faulty_node_probability=0.0" in raw["input"] and "mpp=0" in raw["input"]
    assert raw["command"].startswith("python sim-harness/benchmarks/cloth_baseline.py ")
    for point in raw["points"]:
        runs = point["runs"]
        assert [run["seed"] for run in runs] == raw["seeds"]
        assert all(run["payments"] == raw["payments_per_run"] for run in runs)
        # Every payment of a run stays within 1% of its point's amount (CLoTH adds a normal of one satoshi).
        assert all(0.99 * point["relative_amount"] <= run["smallest_relative"] <= run["largest_relative"]
                   <= 1.01 * point["relative_amount"] for run in runs)
        shares = [run["settled"] / run["payments"] for run in runs]
        assert point["success"]["mean"] == pytest.approx(sum(shares) / len(shares))


@pytest.mark.parametrize(("change", "message"), [
    (lambda data: data.pop("points"), "reference data lacks points"),
    (lambda data: data["source"].pop("commit"), "reference data lacks source.commit"),
    (lambda data: data["points"][0]["success"].update(mean=1.5), "a success share outside 0-1"),
    (lambda data: data["points"].reverse(), "amounts do not increase"),
])
def test_malformed_data_is_refused_in_one_line(tmp_path: Path, change, message: str) -> None:
    data = _raw()
    change(data)
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ReferenceDataError, match=message) as caught:
        load_cloth_baseline(path)
    assert "\n" not in str(caught.value)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="cannot read reference data"):
        load_cloth_baseline(path)


def test_falls_below_interpolates_on_a_log_axis() -> None:
    assert falls_below([(1.0, 1.0), (4.0, 0.0)]) == pytest.approx(2.0)
    assert falls_below([(1.0, 0.9), (10.0, 0.7), (100.0, 0.3)]) == pytest.approx(10 ** 1.5)
    assert falls_below([(1.0, 0.4), (10.0, 0.1)]) == 1.0
    assert falls_below([(1.0, 0.9), (10.0, 0.5)]) is None
