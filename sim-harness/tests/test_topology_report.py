"""The topology experiment's report: terminal tables, the reading of the numbers, report.json, Markdown and plots."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from a27_harness.topology_experiment import TopologyExperiment, TopologyExperimentResult, run_topology_experiment
from a27_harness.topology_report import PLOTS, bucket_labels, findings, format_terminal, report_data, write_report


@pytest.fixture(scope="module")
def result() -> TopologyExperimentResult:
    experiment = TopologyExperiment(topologies=("complete", "bottleneck"), nodes=12, payments=60, deposit=10_000,
                                    max_amount=10_000, drain_seconds=200)
    return run_topology_experiment(experiment)


def test_terminal_summary_has_every_table(result: TopologyExperimentResult) -> None:
    text = format_terminal(result)
    assert text == format_terminal(result)
    for heading in ("Overview", "Success by amount", "Failed payments by cause", "Channels that depleted first",
                    "A bridge node offline after payment 30"):
        assert heading in text
    complete = result.baselines()[0]
    assert re.search(rf"^complete +66 +- +{len(complete.settled())}/60 ", text, re.MULTILINE)
    assert re.search(r"^bottleneck \(bridge offline\) +\d+", text, re.MULTILINE)
    assert "* = a bridge channel" in text


def test_bucket_labels_name_each_range() -> None:
    assert bucket_labels((100, 1_000, 10_000)) == ["100-1,000", "1,000-10,000"]


def test_findings_read_success_drain_and_the_offline_bridge(result: TopologyExperimentResult) -> None:
    text = " ".join(findings(result))
    assert "Success over the whole workload: complete" in text
    assert "For the largest payments (3,162-10,000)" in text
    assert "bridge channels depleted" in text
    offline = result.offline_pairs()[0][1]
    assert f"With bridge node {offline.offline_node} of bottleneck offline from t = 3 s" in text


def test_a_run_without_bottleneck_shapes_has_no_offline_section() -> None:
    plain = run_topology_experiment(TopologyExperiment(topologies=("complete",), nodes=6, payments=10))
    assert "bridge node offline" not in format_terminal(plain)
    assert not any("bridge" in sentence for sentence in findings(plain))


def test_write_report_writes_markdown_json_and_plots(result: TopologyExperimentResult, tmp_path: Path) -> None:
    markdown = write_report(result, tmp_path / "out")
    assert markdown == tmp_path / "out" / "report.md"
    text = markdown.read_text(encoding="utf-8")
    assert text.startswith("# Lab 3: payment channels over different topologies")
    for name in PLOTS.values():
        assert f"]({name})" in text
        assert (tmp_path / "out" / name).read_bytes().startswith(b"\x89PNG")
    assert "| bottleneck (bridge offline) |" in text
    data = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert data == json.loads(json.dumps(report_data(result)))
    assert [run["label"] for run in data["runs"]] == ["complete", "bottleneck", "bottleneck (bridge offline)"]
    assert data["experiment"]["bucket_edges"] == list(result.experiment.bucket_edges())
    assert data["runs"][0]["success_rate"] == result.runs[0].success_rate()
    assert data["findings"] == findings(result)
