"""The topology experiment's report: terminal tables, the reading of the numbers, report.json, Markdown and plots."""

from __future__ import annotations

import json
import re
from pathlib import Path

import attrs
import pytest

from a27_harness.experiments.topology import (
    BASELINE,
    BRIDGE_OFFLINE,
    HEAVY_TAILED,
    SETTLED,
    ChannelTrace,
    PaymentOutcome,
    TopologyExperiment,
    TopologyExperimentResult,
    TopologyRun,
    run_topology_experiment,
)
from a27_harness.reports.causes import OTHER_COLOUR, OUTCOMES
from a27_harness.reports.causes import colour as cause_colour
from a27_harness.reports.causes import definitions as cause_definitions
from a27_harness.reports.cloth import ClothBaseline, ReferencePoint
from a27_harness.reports.formatting import percent
from a27_harness.reports.topology import (
    CAPACITY_BOUND_DEFINITION,
    FRESH_BOUND_DEFINITION,
    PLOTS,
    REACHABLE_DEFINITION,
    bucket_labels,
    bundled_reference,
    findings,
    format_terminal,
    prediction_sentence,
    reference_note,
    reference_sentence,
    report_data,
    spread_sentence,
    write_report,
)


@pytest.fixture(scope="module")
def result() -> TopologyExperimentResult:
    experiment = TopologyExperiment(topologies=("complete", "bottleneck"), nodes=12, payments=60, deposit=10_000,
                                    amounts="absolute", max_amount=10_000, amount_buckets=4, drain_seconds=200,
                                    seeds=2)
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
    assert "Seed 7, success over the whole workload: complete" in text
    assert "For the largest payments (3,162-10,000)" in text
    assert "bridge channels depleted" in text
    offline = result.offline_pairs()[0][1]
    assert f"With bridge node {offline.offline_node} of bottleneck offline from t = 3 s" in text


def test_a_run_without_bottleneck_shapes_has_no_offline_section() -> None:
    plain = run_topology_experiment(TopologyExperiment(topologies=("complete",), nodes=6, payments=10, seeds=1))
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
    provenance = data.pop("provenance")
    assert provenance["parameters"]["experiment"]["seeds"] == 2
    assert data == json.loads(json.dumps(report_data(result)))
    assert [run["label"] for run in data["runs"]] == ["complete", "bottleneck", "bottleneck (bridge offline)"]
    assert data["experiment"]["bucket_edges"] == list(result.experiment.bucket_edges())
    assert data["runs"][0]["success_rate"] == result.runs[0].success_rate()
    assert data["findings"] == findings(result)


# Findings read from the numbers: two data sets each, and the sentence must follow them ------------------------------

EXPERIMENT = TopologyExperiment(topologies=("ba",), payments=200, amounts="absolute", min_amount=100,
                                max_amount=10_000, amount_buckets=2, seeds=1)
"""Amount buckets 100-1,000 and 1,000-10,000."""


def _payments(small: tuple[int, int], large: tuple[int, int], failure: str = "insufficient balance") -> \
        tuple[PaymentOutcome, ...]:
    """(settled, total) small payments (amount 500), then large ones (amount 5,000), the rest failed."""
    payments = []
    for (settled, total), amount in ((small, 500), (large, 5_000)):
        for k in range(total):
            outcome = SETTLED if k < settled else failure
            payments.append(PaymentOutcome(len(payments), amount, outcome, float(len(payments)), 1.0, 2, 1, 1))
    return tuple(payments)


def _run(*, bridge_depleted: int, other_depleted: int, bridge_end: float, other_end: float,
         payments: tuple[PaymentOutcome, ...] | None = None, topology: str = "ba", variant: str = BASELINE,
         seconds: float = 20.0) -> TopologyRun:
    """A run with 10 bridge channels and 60 others; the first ``bridge_depleted`` bridge channels depleted."""
    traces = tuple(ChannelTrace(f"0-{k}", True, 1.0 if k < bridge_depleted else None, (0.5, bridge_end))
                   for k in range(10))
    return TopologyRun(topology, variant, EXPERIMENT.seed, 70, (0,), 0 if variant != BASELINE else None,
                       3.0 if variant != BASELINE else None,
                       payments if payments is not None else _payments((100, 100), (100, 100)), (0.0, 10.0),
                       traces, (0.5, bridge_end), (0.5, other_end), bridge_depleted + other_depleted, 10, seconds,
                       1_000)


def _findings(*runs: TopologyRun) -> str:
    return " ".join(findings(TopologyExperimentResult(EXPERIMENT, runs)))


def test_bridges_that_drained_like_the_others_are_not_said_to_drain() -> None:
    # The 200-node BA case: bridge channels' poorer side 22.7% against 22.3%, depletion alike.
    alike = _findings(_run(bridge_depleted=1, other_depleted=5, bridge_end=0.227, other_end=0.223))
    assert "the bridge channels drained no more than the others" in alike
    assert "drain in one direction" not in alike.replace("no sign of bridges draining in one direction", "")
    assert "push them to one side" not in alike
    drained = _findings(_run(bridge_depleted=8, other_depleted=3, bridge_end=0.03, other_end=0.30))
    assert "the bridge channels drained more than the others: more of them depleted (80.0%" in drained
    assert "their poorer side ended 27.0 points lower" in drained
    assert "push them to one side" in drained


def test_bridges_drained_by_share_alone_or_less_than_others() -> None:
    by_share = _findings(_run(bridge_depleted=1, other_depleted=5, bridge_end=0.10, other_end=0.25))
    assert "drained more than the others: their poorer side ended 15.0 points lower" in by_share
    assert "more of them depleted" not in by_share
    less = _findings(_run(bridge_depleted=0, other_depleted=40, bridge_end=0.40, other_end=0.10))
    assert "the bridge channels drained less than the others: fewer of them depleted" in less


def test_large_payments_are_said_to_fail_first_only_when_they_did() -> None:
    worse = _findings(_run(bridge_depleted=1, other_depleted=5, bridge_end=0.2, other_end=0.2,
                           payments=_payments((100, 100), (40, 100))))
    assert "They settled less often than the smaller payments in ba (40.0%" in worse
    alike = _findings(_run(bridge_depleted=1, other_depleted=5, bridge_end=0.2, other_end=0.2,
                           payments=_payments((98, 100), (96, 100))))
    assert "settled less often" not in alike
    assert "In ba they settled about as often as the smaller payments" in alike


def test_the_offline_bridge_sentence_follows_the_numbers() -> None:
    baseline = _run(bridge_depleted=1, other_depleted=5, bridge_end=0.2, other_end=0.2, topology="bottleneck")
    hurt = _run(bridge_depleted=1, other_depleted=5, bridge_end=0.2, other_end=0.2, topology="bottleneck",
                variant=BRIDGE_OFFLINE, payments=_payments((100, 100), (20, 100), "hop offline"), seconds=100.0)
    text = _findings(baseline, hurt)
    assert "success fell from 100.0% to 20.0%, below the same payments with it online (100.0%)" in text
    assert "Settled payments per second fell from 10.00 to 1.20" in text
    assert "payments keep being routed to it" in text
    unharmed = _run(bridge_depleted=1, other_depleted=5, bridge_end=0.2, other_end=0.2, topology="bottleneck",
                    variant=BRIDGE_OFFLINE, payments=_payments((100, 100), (99, 100), "no path"), seconds=20.0)
    text = _findings(baseline, unharmed)
    assert "success did not change beyond chance (95% Wilson intervals overlap), going from 100.0% to 99.0%" in text
    assert "not clearly different from the same payments with it online" in text
    assert "Settled payments per second stayed within 10%, going from 10.00 to 9.95" in text
    assert "payments keep being routed to it" not in text


# Across seeds, labels, caps and colours ------------------------------------------------------------------------------


def test_spreads_take_one_success_rate_per_seed(result: TopologyExperimentResult) -> None:
    spreads = {spread.label: spread for spread in result.spreads()}
    assert list(spreads) == ["complete", "bottleneck", "bottleneck (bridge offline)"]
    rates = [run.success_rate() for run in result.runs if run.label == "bottleneck"]
    assert len(rates) == 2
    assert spreads["bottleneck"].success.mean == pytest.approx(sum(rates) / 2)
    assert spreads["bottleneck"].success.runs == 2
    (offline,) = result.offline_spreads()
    drops = []
    for seed in (7, 8):
        online = next(run for run in result.runs if (run.label, run.seed) == ("bottleneck", seed))
        down = next(run for run in result.runs if (run.label, run.seed) == ("bottleneck (bridge offline)", seed))
        drops.append(online.success_rate(online.split(30)[1]) - down.success_rate(down.split(30)[1]))
    assert offline.drop.mean == pytest.approx(sum(drops) / 2)


def test_spread_sentences_follow_the_seeds() -> None:
    def run(seed: int, settled: int) -> TopologyRun:
        return attrs.evolve(_run(bridge_depleted=0, other_depleted=0, bridge_end=0.5, other_end=0.5,
                                 payments=_payments((settled, 100), (100, 100))), seed=seed)

    experiment = attrs.evolve(EXPERIMENT, seeds=2)
    same = TopologyExperimentResult(experiment, (run(7, 90), run(8, 90)))
    apart = TopologyExperimentResult(experiment, (run(7, 60), run(8, 100)))
    (flat,), (spread,) = same.spreads(), apart.spreads()
    assert "no spread to size a test by" in spread_sentence(flat)
    assert spread.detectable is not None and spread.detectable > 0
    assert f"{spread.detectable * 100:.1f} points or more" in spread_sentence(spread)
    assert spread_sentence(spread) in findings(apart)


def test_ids_are_marked_and_labels_defined(result: TopologyExperimentResult, tmp_path: Path) -> None:
    text = write_report(result, tmp_path / "out").read_text(encoding="utf-8")
    bottleneck = result.baselines()[1]
    assert f"| bottleneck | {bottleneck.channels} | #{bottleneck.bridges[0]}" in text
    assert "bridge node: an articulation point" in text
    for cause in result.baselines()[1].failures():
        assert f"*{cause}*: " in text
    unresolved = sum(payment.outcome == "unresolved" for run in result.runs for payment in run.payments)
    assert f"stops waiting 200 simulated seconds after its last payment started; {unresolved} payment" in text
    assert "whiskers are the 95% Student's t interval across seeds" in text
    assert "offline node id" in text and "bridge ids" in format_terminal(result)


def test_failure_causes_keep_their_colour_whatever_else_failed() -> None:
    colours = {label: cause_colour(label) for label in OUTCOMES}
    assert len({colour for label, colour in colours.items() if label not in ("settled", "succeeded")}) == \
        len(colours) - 2
    assert cause_colour("no path") == colours["no path"] == "#1f77b4"
    assert cause_colour("a cause added later") == OTHER_COLOUR
    assert "a cause this report has no definition of" in cause_definitions(["a cause added later"])


# Amounts past the deposit, heavy-tailed deposits, the bound and the split's prediction ------------------------------


def test_the_cliff_sentence_follows_payments_above_the_deposit() -> None:
    # Amounts 500 and 5,000 against a deposit of 4,000: the large payments are above one side's deposit.
    experiment = attrs.evolve(EXPERIMENT, deposit=4_000)
    fell = findings(TopologyExperimentResult(experiment, (_run(
        bridge_depleted=1, other_depleted=5, bridge_end=0.2, other_end=0.2,
        payments=_payments((100, 100), (40, 100))),)))
    assert ("Payments above one side's deposit (4,000) settled: ba 40.0%, 95% CI 30.9%-49.8% against 100.0%, 95% CI "
            "96.3%-100.0%, less often than the smaller ones.") in " ".join(fell)
    held = " ".join(findings(TopologyExperimentResult(experiment, (_run(
        bridge_depleted=1, other_depleted=5, bridge_end=0.2, other_end=0.2,
        payments=_payments((98, 100), (96, 100))),))))
    assert ("ba 96.0%, 95% CI 90.2%-98.4% against 98.0%, 95% CI 93.0%-99.4%, about as often as the smaller ones (95% "
            "Wilson intervals overlap)") in held
    # Below the deposit every payment: the sentence about the largest bucket stays.
    assert "For the largest payments (1,000-10,000)" in " ".join(findings(TopologyExperimentResult(EXPERIMENT, (_run(
        bridge_depleted=1, other_depleted=5, bridge_end=0.2, other_end=0.2),))))


def _offline_pair(seed: int, observed: int, reachable: int) -> tuple[TopologyRun, TopologyRun]:
    """A bottleneck seed: every payment settles with every node online; with the bridge offline, ``observed`` of the
    100 payments after the offline point (indices 100-199) settle and ``reachable`` stay joined."""
    baseline = attrs.evolve(_run(bridge_depleted=1, other_depleted=5, bridge_end=0.2, other_end=0.2,
                                 topology="bottleneck"), seed=seed)
    offline = attrs.evolve(_run(bridge_depleted=1, other_depleted=5, bridge_end=0.2, other_end=0.2,
                                topology="bottleneck", variant=BRIDGE_OFFLINE,
                                payments=_payments((100, 100), (observed, 100), "hop offline")),
                           seed=seed, reachable_after_offline=reachable)
    return baseline, offline


def test_the_split_prediction_and_its_sentence_follow_the_seeds() -> None:
    experiment = attrs.evolve(EXPERIMENT, topologies=("bottleneck",), seeds=2)
    below = TopologyExperimentResult(experiment, (*_offline_pair(7, 20, 50), *_offline_pair(8, 22, 50)))
    (prediction,) = below.offline_predictions()
    assert prediction.seeds == (7, 8)
    assert prediction.reachable == (0.5, 0.5)
    assert prediction.baseline == (1.0, 1.0)
    assert prediction.predicted == (0.5, 0.5)
    assert prediction.observed == (0.2, 0.22)
    assert prediction.difference.mean == pytest.approx(-0.29)
    text = prediction_sentence(prediction)
    assert text.startswith("In bottleneck, the split predicted 50.0% success after the bridge went offline and "
                           "21.0% [8.3%, 33.7%] was observed: observed minus predicted -29.0 points")
    assert "at most 30.0 points apart (seed 7), observed below the prediction in 2 of 2" in text
    assert ("The observed success lies below the prediction by 29.0 points, beyond the seeds' spread and beyond 5: "
            "the payments whose ends stayed joined settled less often than all payments did with every node online, "
            "so losing the bridge cost more than the split alone explains.") in text
    assert text in findings(below)
    close = TopologyExperimentResult(experiment, (*_offline_pair(7, 49, 50), *_offline_pair(8, 52, 50)))
    text = prediction_sentence(close.offline_predictions()[0])
    assert "observed minus predicted 0.5 points [-18.6, 19.6]" in text
    assert "observed below the prediction in 1 of 2" in text
    assert "The two agree within 5 points on average and the interval holds zero" in text
    slightly = prediction_sentence(TopologyExperimentResult(attrs.evolve(experiment, seeds=3), (
        *_offline_pair(7, 52, 50), *_offline_pair(8, 53, 50), *_offline_pair(9, 52, 50))).offline_predictions()[0])
    assert ("lies above the prediction by 2.3 points, beyond the seeds' spread but within 5: the payments whose ends "
            "stayed joined settled more often than all payments did with every node online.") in slightly
    terminal = format_terminal(close)
    assert "reachable: the share of the payments started after the offline point" in terminal
    assert re.search(r"^bottleneck +7 +50\.0% +100\.0% +50\.0% +49\.0% +-1\.0 points$", terminal, re.MULTILINE)


def test_heavy_tailed_runs_are_compared_with_equal_deposits() -> None:
    experiment = attrs.evolve(EXPERIMENT, deposits="pareto", seeds=2)

    def runs(heavy: tuple[int, int]) -> tuple[TopologyRun, ...]:
        made = []
        for seed, settled in zip((7, 8), heavy, strict=True):
            made.append(attrs.evolve(_run(bridge_depleted=0, other_depleted=0, bridge_end=0.5, other_end=0.5),
                                     seed=seed))
            made.append(attrs.evolve(_run(bridge_depleted=0, other_depleted=0, bridge_end=0.5, other_end=0.5,
                                          payments=_payments((100, 100), (settled, 100))),
                                     seed=seed, variant=HEAVY_TAILED))
        return tuple(made)

    lower = " ".join(findings(TopologyExperimentResult(experiment, runs((40, 44)))))
    assert ("With heavy-tailed deposits (pareto, the same mean), success changed by, per topology (heavy-tailed minus "
            "equal, same seed, mean over seeds with its 95% t interval): ba -29.0 points [-41.7, -16.3] (lower).") \
        in lower
    alike = " ".join(findings(TopologyExperimentResult(experiment, runs((90, 110 - 10)))))
    assert "ba -2.5 points [-34.3, 29.3] (no difference beyond the seeds' spread)" in alike


def test_the_report_states_the_reference_curve_and_defines_the_bounds(result: TopologyExperimentResult,
                                                                        tmp_path: Path) -> None:
    text = write_report(result, tmp_path / "out").read_text(encoding="utf-8")
    assert reference_note(result, bundled_reference()) in text
    assert FRESH_BOUND_DEFINITION in text
    assert CAPACITY_BOUND_DEFINITION in text
    assert "| fresh-channel bound, complete |" in text
    assert "| capacity bound, complete | 100.0% | 100.0% | 100.0% | 100.0% |" in text
    assert "### What the network split predicts (seeds 7-8)" in text
    assert REACHABLE_DEFINITION in text
    prediction = result.offline_predictions()[0]
    assert f"| bottleneck | 7 | {percent(prediction.reachable[0])} |" in text
    data = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert data["offline_predictions"][0]["predicted"] == list(prediction.predicted)


# The sentence follows the data: a27's measured curve and CLoTH's -------------------------------------------------

RELATIVE_EXPERIMENT = TopologyExperiment(topologies=("ba",), payments=200, deposit=10_000, min_share=0.02,
                                         max_share=2.0, amount_buckets=2, seeds=1)
"""Relative amounts, buckets 200-2,000 and 2,000-20,000 (0.02-0.2 and 0.2-2 deposits; middles 0.0632 and 0.632)."""


def _result(large_settled: int) -> TopologyExperimentResult:
    """All 100 small payments (500) settled, ``large_settled`` of the 100 large ones (5,000)."""
    run = _run(bridge_depleted=0, other_depleted=0, bridge_end=0.5, other_end=0.5,
               payments=_payments((100, 100), (large_settled, 100)))
    return TopologyExperimentResult(RELATIVE_EXPERIMENT, (run,))


def _reference(*shares: float) -> ClothBaseline:
    """A CLoTH curve with ``shares`` at relative amounts 0.01, 0.1, 1, ..."""
    points = tuple(ReferencePoint(10.0 ** (index - 2), round(10.0 ** (index - 2) * 400_000), share, share, share)
                   for index, share in enumerate(shares))
    return attrs.evolve(bundled_reference(), points=points)


def test_the_comparison_sentence_follows_both_curves() -> None:
    sentence = reference_sentence(_result(20), _reference(0.9, 0.7, 0.3))
    assert sentence is not None
    # a27: 100% at 0.0632, 20% at 0.632 -> 50% at 0.0632 * 10 ** (0.5 / 0.8) = 0.267.
    assert "a27 measured, mean over seed 7: ba at about 0.267;" in sentence
    # CLoTH: 70% at 0.1, 30% at 1 -> 50% at 10 ** -0.5 = 0.316, 126,491 sat, 15.8% of the median capacity.
    assert "on its 6,006-node Lightning snapshot: at about 0.316, an amount of about 126,491 sat, 15.8% of" in sentence
    assert "snapshot: at about 0.464," in reference_sentence(_result(20), _reference(0.9, 0.9, 0.3))
    assert "ba at about 0.431;" in reference_sentence(_result(40), _reference(0.9, 0.7, 0.3))
    assert "ba not within the range (up to 0.632);" in reference_sentence(_result(60), _reference(0.9, 0.7, 0.3))
    assert "snapshot: not within the range (up to 1)." in reference_sentence(_result(20), _reference(0.9, 0.7, 0.6))
    assert "snapshot: already at the smallest amounts (0.01)." in reference_sentence(_result(20), _reference(0.4, 0.1))


def test_absolute_amounts_share_no_axis_with_cloth() -> None:
    absolute = TopologyExperimentResult(attrs.evolve(RELATIVE_EXPERIMENT, amounts="absolute", min_amount=200,
                                                     max_amount=20_000), _result(20).runs)
    assert reference_sentence(absolute, bundled_reference()) is None
    assert "drawn only with relative amounts" in reference_note(absolute, bundled_reference())
    assert not any("CLoTH" in sentence for sentence in findings(absolute))


def test_the_report_draws_cloth_beside_the_measured_curve(tmp_path: Path) -> None:
    result = _result(20)
    baseline = bundled_reference()
    sentence = reference_sentence(result, baseline)
    assert sentence in findings(result)
    assert sentence in format_terminal(result).splitlines()
    text = write_report(result, tmp_path / "out").read_text(encoding="utf-8")
    assert f"- {sentence}" in text
    assert reference_note(result, baseline) in text
    assert "CLoTH commit e0e4043 run by a27 on the Lightning snapshot" in text
    assert "| CLoTH: amount / half the median capacity | average amount (sat) | success, mean [95% CI] |" in text
    for point in baseline.points:
        assert f"| {point.relative_amount:.3g} | {point.average_payment_amount_sat:,} |" in text
    data = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert data["reference"]["commit"] == "e0e40430238a3a00ae4a60edab72ef31ee29c062"
    assert [point["mean"] for point in data["reference"]["points"]] == [point.mean for point in baseline.points]
    assert (tmp_path / "out" / "success_by_amount.png").read_bytes().startswith(b"\x89PNG")
