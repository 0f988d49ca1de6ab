"""Readable results of the topology experiment: a terminal summary, and a directory with Markdown, JSON and PNGs."""

from __future__ import annotations

import functools
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..experiments.topology import (
    BASELINE,
    EQUAL,
    HEAVY_TAILED,
    OPENS_PER_BLOCK,
    PARETO,
    RELATIVE,
    SETTLED,
    UNRESOLVED,
    OfflinePrediction,
    OfflineSpread,
    PaymentOutcome,
    SeedSpread,
    TopologyExperimentResult,
    TopologyRun,
)
from .causes import colour as cause_colour
from .causes import definitions as cause_definitions
from .files import pyplot, save_figure, write_report_files
from .formatting import markdown_table, percent
from .provenance import collect_provenance
from .statistics import MeanInterval, compare_proportions, mean_interval, wilson_interval

PLOTS = {"amounts": "success_by_amount.png", "failures": "failures.png", "liquidity": "liquidity.png",
         "offline": "offline_bridge.png"}
"""The PNG files a report holds, by what they show."""

LEGEND_CHANNELS = 8
"""Channel series the liquidity plot names in its legend per panel (the rest are drawn unnamed)."""

REFERENCE_NOTE = (
    "CLoTH's published success-by-amount curve (Conoscenti, Vetr\u00f2, De Martin, Spini: \"CLoTH: a Lightning "
    "Network Simulator\", SoftwareX 2021; arXiv 2019; a 6,006-node Lightning snapshot) is not bundled: the stored "
    "references this report was built from hold the paper's abstract but not its figures or their numbers, and a "
    "curve redrawn from memory would not be a reference. In its place the report draws the bound the deposits "
    "themselves set (fresh-channel bound, below).")
"""Why the report shows no published reference curve beside the measured one."""

FRESH_BOUND_DEFINITION = (
    "fresh-channel bound: the share of payments no larger than the widest route between payer and payee on the "
    "channels as opened (the largest amount one route could carry if every side still held its deposit)")
"""What the analytical curve beside the measured success is."""
CAPACITY_BOUND_DEFINITION = (
    "capacity bound: the same with each channel's whole capacity, which no single-route payment can exceed whatever "
    "the balances")
"""The hard bound the Markdown table adds."""

REACHABLE_DEFINITION = (
    "reachable: the share of the payments started after the offline point whose payer and payee are both online and "
    "in one component of the graph without the offline node; baseline: the success of the same payments with every "
    "node online; predicted: reachable times baseline; observed: their success with the bridge offline")
"""The columns of the offline-bridge prediction, defined where they appear."""

AGREEMENT_POINTS = 0.05
"""A prediction whose seeds' mean difference from the observed success is within this (a share) reads as close."""


BRIDGE_DEFINITION = ("bridge node: an articulation point of the graph (removing it splits the network); bridge "
                     "channel: a channel with a bridge node at one end")
"""What the report means by a bridge, said wherever bridges appear."""


def _node_ids(nodes: Sequence[int]) -> str:
    """Node numbers, marked as ids (``#3, #17``) so that they do not read as counts."""
    return ", ".join(f"#{node}" for node in nodes) or "-"


def _share_interval(value: MeanInterval | None) -> str:
    """A mean share over seeds with its 95% t interval, cut to 0-100%; a point for one seed or equal values."""
    if value is None:
        return "-"
    if value.runs < 2 or value.low == value.high:
        return percent(value.mean)
    return f"{percent(value.mean)} [{percent(max(0.0, value.low))}, {percent(min(1.0, value.high))}]"


def _detectable(value: float | None) -> str:
    if value is None:
        return "- (one seed)"
    if value == 0:
        return "- (no spread)"
    return f"{value * 100:.1f} points"


def _unresolved_note(result: TopologyExperimentResult) -> str:
    """The cap that ends a run's wait, and how many payments it cut off over every run."""
    cut = sum(payment.outcome == UNRESOLVED for run in result.runs for payment in run.payments)
    return (f"A run stops waiting {result.experiment.drain_seconds:,} simulated seconds after its last payment "
            f"started; {cut:,} payment{'s' if cut != 1 else ''} over all {len(result.runs)} runs "
            f"{'were' if cut != 1 else 'was'} still pending then (counted as unresolved).")


def _unlisted(run: TopologyRun, count: int) -> int:
    """Channels of ``run`` that depleted but are not among the ``count`` the report lists."""
    return max(0, run.depleted - sum(trace.first_depleted is not None for trace in run.traces[:count]))


def _time(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def bucket_labels(edges: Sequence[int], deposit: int | None = None) -> list[str]:
    """Human names of the amount buckets: ``100-447``, ..., the last one closed; with ``deposit``, as multiples of it
    (``0.25-0.5``)."""
    if deposit is not None:
        return [f"{edges[k] / deposit:.3g}-{edges[k + 1] / deposit:.3g}" for k in range(len(edges) - 1)]
    return [f"{edges[k]:,}-{edges[k + 1]:,}" for k in range(len(edges) - 1)]


def _labels(result: TopologyExperimentResult) -> list[str]:
    """The experiment's bucket names: multiples of the deposit for relative amounts, amounts otherwise."""
    experiment = result.experiment
    return bucket_labels(experiment.bucket_edges(), experiment.deposit if experiment.amounts == RELATIVE else None)


def _bucket_unit(result: TopologyExperimentResult) -> str:
    """What the bucket names count, said where they appear."""
    if result.experiment.amounts == RELATIVE:
        return (f"amounts as multiples of one side's deposit ({result.experiment.deposit:,}; 1 = one side's deposit, "
                "2 = a channel's capacity)")
    return "amounts"


def _amounts_text(result: TopologyExperimentResult) -> str:
    """The workload's amounts in words."""
    experiment = result.experiment
    low, high = experiment.amount_range()
    if experiment.amounts == RELATIVE:
        return (f"amounts log-uniform from {experiment.min_share:.3g} to {experiment.max_share:.3g} times one "
                f"side's deposit ({low:,} to {high:,})")
    return f"amounts log-uniform from {low:,} to {high:,}"


def _deposits_text(result: TopologyExperimentResult) -> str:
    """How the heavy-tailed runs draw their channel sizes, or an empty string without them."""
    experiment = result.experiment
    if experiment.deposits == EQUAL:
        return ""
    if experiment.deposits == PARETO:
        law = f"Pareto with shape alpha = {experiment.pareto_alpha:g}"
    else:
        law = f"log-normal with sigma = {experiment.lognormal_sigma:g} (of the logarithm)"
    return (f"heavy-tailed deposits: a second run per topology in which each channel's two sides each deposit an "
            f"amount drawn from a {law}, seeded by the seed and the topology, and scaled so that the mean deposit is "
            f"{experiment.deposit:,}, the same total liquidity as with equal deposits")


def _causes(result: TopologyExperimentResult) -> list[str]:
    """Every failure cause seen in any run, most frequent overall first."""
    totals: dict[str, int] = {}
    for run in result.example_runs():
        for cause, count in run.failures().items():
            totals[cause] = totals.get(cause, 0) + count
    return sorted(totals, key=lambda cause: (-totals[cause], cause))


def report_data(result: TopologyExperimentResult) -> dict[str, Any]:
    """Every figure of the experiment as plain data: what report.json holds besides its provenance."""
    return {**result.to_dict(),
            "findings": findings(result)}


def seed_range(result: TopologyExperimentResult) -> str:
    """The seeds the experiment ran, in words."""
    seeds = result.experiment.seed_values()
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}-{seeds[-1]}"


# Terminal -----------------------------------------------------------------------------------------------------------


def _overview_rows(runs: Sequence[TopologyRun]) -> list[str]:
    width = max([len(_node_ids(run.bridges)) for run in runs] + [10])
    rows = [f"{'topology':<12} {'channels':>8} {'bridge ids':<{width}} {'settled':>9} {'success':>8} {'hops':>5} "
            f"{'fees':>7} {'settled/s':>9} {'sim s':>6} {'messages':>8} {'depleted bridge/other':>22}"]
    rows += [f"{run.topology:<12} {run.channels:>8} {_node_ids(run.bridges):<{width}} "
             f"{f'{len(run.settled())}/{len(run.payments)}':>9} {percent(run.success_rate()):>8} "
             f"{run.mean_hops:>5.2f} {run.fees:>7,} {run.throughput:>9.2f} {run.simulated_seconds:>6g} "
             f"{run.messages:>8,} "
             f"{f'{percent(run.bridge_depleted_share)} / {percent(run.other_depleted_share)}':>22}"
             for run in runs]
    return rows


def _bucket_rows(result: TopologyExperimentResult) -> list[str]:
    edges = result.experiment.bucket_edges()
    labels = _labels(result)
    runs = result.baselines() + result.heavy_tailed_runs()
    width = max([len(run.label) for run in runs] + [len("fresh-channel bound")])
    rows = [f"{'run':<{width}} " + " ".join(f"{label:>14}" for label in labels)]
    for run in runs:
        cells = [f"{percent(settled / total) if total else '-'} ({total})" for settled, total in
                 run.success_by_bucket(edges)]
        rows.append(f"{run.label:<{width}} " + " ".join(f"{cell:>14}" for cell in cells))
    if runs:
        cells = [f"{percent(within / total) if total else '-'}" for within, total in
                 runs[0].within_bound_by_bucket(edges)]
        rows.append(f"{'fresh-channel bound':<{width}} " + " ".join(f"{cell:>14}" for cell in cells)
                    + f"  ({runs[0].label})")
    return rows


def _prediction_rows(predictions: Sequence[OfflinePrediction]) -> list[str]:
    rows = [f"{'topology':<12} {'seed':>6} {'reachable':>9} {'baseline':>9} {'predicted':>9} {'observed':>9} "
            f"{'observed - predicted':>20}"]
    for prediction in predictions:
        for index, seed in enumerate(prediction.seeds):
            rows.append(f"{prediction.topology:<12} {seed:>6} {percent(prediction.reachable[index]):>9} "
                        f"{percent(prediction.baseline[index]):>9} {percent(prediction.predicted[index]):>9} "
                        f"{percent(prediction.observed[index]):>9} "
                        f"{_points(prediction.observed[index] - prediction.predicted[index]):>20}")
    rows += [f"{prediction.topology} over {len(prediction.seeds)} seeds (mean [95% t interval]): predicted "
             f"{_share_interval(prediction.predicted_mean)}, observed {_share_interval(prediction.observed_mean)}, "
             f"observed - predicted {_points_interval(prediction.difference)}" for prediction in predictions]
    return rows


def _points(value: float) -> str:
    return f"{_hundredths(value):+.1f} points"


def _failure_rows(result: TopologyExperimentResult) -> list[str]:
    causes = _causes(result)
    if not causes:
        return ["no payment failed in any run"]
    width = max(len(cause) for cause in causes)
    label = max([len(run.label) for run in result.example_runs()] + [28])
    rows = [f"{'run':<{label}} " + " ".join(f"{cause:>{width}}" for cause in causes)]
    for run in result.example_runs():
        failures = run.failures()
        rows.append(f"{run.label:<{label}} " + " ".join(f"{failures.get(cause, 0):>{width}}" for cause in causes))
    return rows


def _offline_rows(result: TopologyExperimentResult) -> list[str]:
    boundary = result.offline_boundary
    rows = [f"{'topology':<12} {'node id':>7} {'at s':>5} {'before':>8} {'after':>8} {'baseline after':>14} "
            f"{'endpoint offline':>16} {'settled/s':>9} {'baseline settled/s':>18}"]
    for baseline, offline in result.offline_pairs():
        before, after = offline.split(boundary)
        _, baseline_after = baseline.split(boundary)
        endpoint = sum(payment.outcome == "endpoint offline" for payment in after)
        node = _node_ids([offline.offline_node] if offline.offline_node is not None else [])
        rows.append(f"{offline.topology:<12} {node:>7} {_time(offline.offline_time):>5} "
                    f"{percent(offline.success_rate(before)):>8} {percent(offline.success_rate(after)):>8} "
                    f"{percent(baseline.success_rate(baseline_after)):>14} {endpoint:>16} "
                    f"{offline.throughput:>9.2f} {baseline.throughput:>18.2f}")
    return rows


def _depletion_rows(runs: Sequence[TopologyRun], count: int) -> list[str]:
    rows = []
    for run in runs:
        top = [trace for trace in run.traces[:count] if trace.first_depleted is not None]
        listed = ", ".join(f"{trace.name}{'*' if trace.bridge else ''} at {trace.first_depleted:g} s" for trace in top)
        more = _unlisted(run, count)
        rows.append(f"{run.topology:<12} {listed or 'no channel depleted'}"
                    + (f" (and {more} more depleted, not listed)" if more > 0 else ""))
    return rows


def _spread_rows(result: TopologyExperimentResult) -> list[str]:
    spreads = result.spreads()
    width = max([len(spread.label) for spread in spreads] + [3])
    rows = [f"{'run':<{width}} {'success, mean [95% CI]':>24} {'detectable':>16} {'unresolved':>10}"]
    rows += [f"{spread.label:<{width}} {_share_interval(spread.success):>24} {_detectable(spread.detectable):>16} "
             f"{spread.unresolved:>10}" for spread in spreads]
    return rows


def _offline_spread_rows(spreads: Sequence[OfflineSpread]) -> list[str]:
    rows = [f"{'topology':<12} {'drop after the offline point, mean [95% CI]':>44} {'detectable':>16}"]
    rows += [f"{spread.topology:<12} {_points_interval(spread.drop):>44} {_detectable(spread.detectable):>16}"
             for spread in spreads]
    return rows


def _points_interval(value: MeanInterval) -> str:
    if value.runs < 2 or value.low == value.high:
        return f"{_hundredths(value.mean):.1f} points"
    return (f"{_hundredths(value.mean):.1f} points [{_hundredths(value.low):.1f}, "
            f"{_hundredths(value.high):.1f}]")


def _hundredths(share: float) -> float:
    """A share in points, rounded to one decimal, without a minus sign on zero."""
    return round(share * 100, 1) + 0.0


def format_terminal(result: TopologyExperimentResult) -> str:
    """The summary `a27 experiment topology` prints: deterministic for the same options."""
    experiment = result.experiment
    baselines = result.baselines()
    lines = [
        "a27 experiment topology - Lab 3: the same payments over different channel topologies",
        f"{experiment.nodes} nodes, {seed_range(result)} (tables below the first are seed {experiment.seed}); one "
        f"channel per graph edge, {experiment.deposit:,} "
        f"deposited by each side; {experiment.payments} payments, {_amounts_text(result)}, "
        f"{experiment.payments_per_second} started per simulated second",
        *([_deposits_text(result)] if experiment.deposits != EQUAL else []),
        "",
        f"Across {seed_range(result)} (success: settled share of all payments, mean over seeds with its 95% t "
        "interval; detectable: the smallest difference in mean success from another run with as many seeds and "
        "the same spread that a two-sided t-test finds with 80% power at the 5% level):",
        *_spread_rows(result),
        "",
        f"Overview, seed {experiment.seed} (success: settled payments; hops and fees: settled payments; settled/s: "
        "settled payments per simulated second until the last one ended; bridge ids: node numbers of the bridge "
        f"nodes; depleted: channels whose poorer side fell below {percent(experiment.depleted_below)} of capacity, "
        "bridge channels / others):",
        *_overview_rows(baselines),
        "",
        f"Success by amount, seed {experiment.seed} ({_bucket_unit(result)}; payments in each range in brackets; "
        f"{FRESH_BOUND_DEFINITION}):",
        *_bucket_rows(result),
        "",
        f"Failed payments by cause, seed {experiment.seed}:",
        *_failure_rows(result),
        _unresolved_note(result),
        "",
        f"Channels that depleted first (* = a bridge channel; first {experiment.top_channels}):",
        *_depletion_rows(baselines, experiment.top_channels),
    ]
    if result.offline_pairs():
        lines += ["", f"A bridge node offline after payment {result.offline_boundary} (success of the payments started "
                      "before and after; baseline after: the same payments with every node online; node id: the "
                      "node taken offline):",
                  *_offline_rows(result), "",
                  f"Drop in success after the offline point across {seed_range(result)} (online minus offline, same "
                  "seed; detectable: by a paired t-test with 80% power at the 5% level):",
                  *_offline_spread_rows(result.offline_spreads())]
    predictions = result.offline_predictions()
    if predictions:
        lines += ["", "The network split's prediction for the payments after the offline point "
                      f"({REACHABLE_DEFINITION}):", *_prediction_rows(predictions)]
    return "\n".join(lines)


# Reading the numbers ------------------------------------------------------------------------------------------------


SHARE_POINTS = 0.05
"""Mean poorer-side shares (of capacity) closer than this are read as no difference in how far channels drained."""
THROUGHPUT_CHANGE = 0.10
"""Settled payments per second that changed by less than this fraction are read as unchanged."""


def _interval(successes: int, trials: int) -> str:
    if not trials:
        return "no trials"
    interval = wilson_interval(successes, trials)
    return f"{percent(interval.share)}, 95% CI {percent(interval.low)}-{percent(interval.high)}"


def _settled_count(payments: Sequence[PaymentOutcome]) -> tuple[int, int]:
    return sum(payment.outcome == SETTLED for payment in payments), len(payments)


def _largest_payments_sentence(baselines: Sequence[TopologyRun], edges: Sequence[int]) -> str:
    """Success of the largest amount bucket per topology, and whether it differs clearly from the smaller payments."""
    largest = ", ".join(f"{run.topology} {percent(settled / total) if total else '-'}"
                        for run in baselines for settled, total in run.success_by_bucket(edges)[-1:])
    worse: list[str] = []
    alike: list[str] = []
    better: list[str] = []
    for run in baselines:
        buckets = run.success_by_bucket(edges)
        top = buckets[-1]
        rest = (sum(settled for settled, _ in buckets[:-1]), sum(total for _, total in buckets[:-1]))
        verdict = compare_proportions(top, rest)
        if verdict < 0:
            worse.append(f"{run.topology} ({_interval(*top)} against {_interval(*rest)})")
        else:
            (better if verdict > 0 else alike).append(run.topology)
    sentence = f"For the largest payments ({bucket_labels(edges)[-1]}): {largest}."
    if worse:
        sentence += (f" They settled less often than the smaller payments in {'; '.join(worse)}: a payment needs "
                     "every channel on its route to hold its amount on the sending side, which large amounts "
                     "exhaust first.")
    if alike:
        sentence += (f" In {', '.join(alike)} they settled about as often as the smaller payments (95% Wilson "
                     "intervals overlap).")
    if better:
        sentence += f" In {', '.join(better)} they settled more often than the smaller payments."
    return sentence


def _drain_sentence(run: TopologyRun) -> str:
    """Whether a topology's bridge channels drained more than its other channels, read from the run's numbers."""
    bridge_depleted = sum(trace.bridge and trace.first_depleted is not None for trace in run.traces)
    bridge = (bridge_depleted, run.bridge_channels)
    other = (run.depleted - bridge_depleted, run.channels - run.bridge_channels)
    depletion = compare_proportions(bridge, other)
    gap = run.other_mean_share[-1] - run.bridge_mean_share[-1]
    evidence = []
    if depletion:
        evidence.append(f"{'more' if depletion > 0 else 'fewer'} of them depleted ({_interval(*bridge)} against "
                        f"{_interval(*other)})")
    if abs(gap) > SHARE_POINTS:
        evidence.append(f"their poorer side ended {abs(gap) * 100:.1f} points {'lower' if gap > 0 else 'higher'}, "
                        f"beyond the {SHARE_POINTS * 100:.0f}-point threshold")
    failures = run.failures()
    counts = (f"{failures.get('insufficient balance', 0)} payments failed with insufficient balance and "
              f"{failures.get('no path', 0)} found no path")
    if depletion > 0 or gap > SHARE_POINTS:
        return (f"In {run.topology} the bridge channels drained more than the others: {'; '.join(evidence)}. "
                "Every payment between the parts a bridge joins crosses its channels, and flows through them that "
                f"do not cancel push them to one side; in this run {counts} (in all channels).")
    if depletion < 0 or gap < -SHARE_POINTS:
        return f"In {run.topology} the bridge channels drained less than the others: {'; '.join(evidence)}."
    return (f"In {run.topology} the bridge channels drained no more than the others: the depleted shares' 95% Wilson "
            f"intervals overlap ({_interval(*bridge)} against {_interval(*other)}) and the poorer sides ended "
            f"within {SHARE_POINTS * 100:.0f} points of each other, so this run gives no sign of bridges draining "
            f"in one direction; {counts}.")


def _change(before: tuple[int, int], after: tuple[int, int]) -> str:
    verdict = compare_proportions(after, before)
    return {1: "rose", -1: "fell", 0: "did not change beyond chance (95% Wilson intervals overlap), going"}[verdict]


def _offline_sentence(baseline: TopologyRun, offline: TopologyRun, boundary: int) -> str:
    """What taking the bridge offline did to success and to settled payments per second, read from the runs."""
    before, after = offline.split(boundary)
    _, baseline_after = baseline.split(boundary)
    hop = offline.failures().get("hop offline", 0)
    against = compare_proportions(_settled_count(after), _settled_count(baseline_after))
    relation = {1: "above", -1: "below", 0: "not clearly different from"}[against]
    change = offline.throughput / baseline.throughput - 1 if baseline.throughput else 0.0
    if change < -THROUGHPUT_CHANGE:
        pace = "fell"
    elif change > THROUGHPUT_CHANGE:
        pace = "rose"
    else:
        pace = f"stayed within {THROUGHPUT_CHANGE:.0%}, going"
    sentence = (
        f"With bridge node {offline.offline_node} of {offline.topology} offline from t = "
        f"{_time(offline.offline_time)} s, success {_change(_settled_count(before), _settled_count(after))} from "
        f"{percent(offline.success_rate(before))} to {percent(offline.success_rate(after))}, "
        f"{relation} the same payments with it online ({percent(baseline.success_rate(baseline_after))}); "
        f"{hop} payments failed because a hop stopped answering. Settled payments per second {pace} from "
        f"{baseline.throughput:.2f} to {offline.throughput:.2f} (the run lasted {offline.simulated_seconds:g} "
        f"simulated seconds instead of {baseline.simulated_seconds:g})")
    if hop and pace == "fell":
        sentence += (": the graph still lists the silent node's channels, so payments keep being routed to it, each "
                     "HTLC offered to it waits through its proposer's retransmissions before that node gives up, and "
                     "the payments queued behind it on the same channel wait too")
    return sentence + "."


def _cliff_sentence(runs: Sequence[TopologyRun], deposit: int, what: str, *, reason: bool = True) -> str | None:
    """Success of the payments above one side's (mean) deposit against the rest, per run; None if none is above."""
    parts = []
    for run in runs:
        above = [payment for payment in run.payments if payment.amount > deposit]
        below = [payment for payment in run.payments if payment.amount <= deposit]
        if not above or not below:
            continue
        verdict = compare_proportions(_settled_count(above), _settled_count(below))
        relation = {1: "more often than the smaller ones", -1: "less often than the smaller ones",
                    0: "about as often as the smaller ones (95% Wilson intervals overlap)"}[verdict]
        parts.append(f"{run.label} {_interval(*_settled_count(above))} against {_interval(*_settled_count(below))}, "
                     f"{relation}")
    if not parts:
        return None
    sentence = f"Payments above {what} ({deposit:,}) settled: {'; '.join(parts)}."
    if reason:
        sentence += (" A route's first channel starts with the payer's deposit on the sending side, so a larger "
                     "payment settles only where payments received earlier have moved more to the sending side of "
                     "every channel it crosses.")
    return sentence


def _heavy_tailed_sentence(result: TopologyExperimentResult) -> str | None:
    """Success with heavy-tailed deposits against equal ones, per topology over the seeds (paired by seed)."""
    found = {(run.topology, run.variant, run.seed): run for run in result.runs}
    parts = []
    for topology in result.experiment.topologies:
        pairs = [(found[(topology, BASELINE, seed)].success_rate(), run.success_rate())
                 for (name, variant, seed), run in found.items()
                 if name == topology and variant == HEAVY_TAILED and (topology, BASELINE, seed) in found]
        if not pairs:
            continue
        difference = mean_interval([heavy - equal for equal, heavy in pairs])
        if difference.runs < 2 or difference.low <= 0 <= difference.high:
            reading = "no difference beyond the seeds' spread"
        else:
            reading = "lower" if difference.mean < 0 else "higher"
        parts.append(f"{topology} {_points_interval(difference)} ({reading})")
    if not parts:
        return None
    return (f"With heavy-tailed deposits ({result.experiment.deposits}, the same mean), success changed by, per "
            f"topology (heavy-tailed minus equal, same seed, mean over seeds with its 95% t interval): "
            f"{'; '.join(parts)}.")


def prediction_sentence(prediction: OfflinePrediction) -> str:
    """How closely the network split's prediction matched the observed success after a bridge went offline."""
    gaps = [seen - expected for seen, expected in zip(prediction.observed, prediction.predicted, strict=True)]
    largest = max(range(len(gaps)), key=lambda index: (abs(gaps[index]), -index))
    below = sum(gap < 0 for gap in gaps)
    difference = prediction.difference
    sentence = (f"In {prediction.topology}, the split predicted {_share_interval(prediction.predicted_mean)} success "
                f"after the bridge went offline and {_share_interval(prediction.observed_mean)} was observed: observed "
                f"minus predicted {_points_interval(difference)} (mean over {len(gaps)} seed"
                f"{'s' if len(gaps) != 1 else ''}), at most {abs(gaps[largest]) * 100:.1f} points apart (seed "
                f"{prediction.seeds[largest]}), observed below the prediction in {below} of {len(gaps)}")
    if difference.runs >= 2 and (difference.high < 0 or difference.low > 0):
        side = "below" if difference.mean < 0 else "above"
        size = (f"by {abs(difference.mean) * 100:.1f} points, beyond the seeds' spread but within "
                f"{AGREEMENT_POINTS * 100:.0f}" if abs(difference.mean) <= AGREEMENT_POINTS else
                f"by {abs(difference.mean) * 100:.1f} points, beyond the seeds' spread and beyond "
                f"{AGREEMENT_POINTS * 100:.0f}")
        # Only payments whose ends stayed joined can settle, so observed above predicted means they settled more
        # often than all payments did with every node online, and below means less often.
        return (sentence + f". The observed success lies {side} the prediction {size}: the payments whose ends stayed "
                f"joined settled {'less' if side == 'below' else 'more'} often than all payments did with every node "
                "online" + (", so losing the bridge cost more than the split alone explains." if side == "below"
                            else "."))
    if abs(difference.mean) <= AGREEMENT_POINTS:
        return sentence + (f". The two agree within {AGREEMENT_POINTS * 100:.0f} points on average"
                           + (" and the interval holds zero" if difference.runs >= 2 else "")
                           + ": the split accounts for the loss.")
    return sentence + (f". They differ by more than {AGREEMENT_POINTS * 100:.0f} points on average, but "
                       + ("the interval holds zero" if difference.runs >= 2 else "one seed gives no interval")
                       + ", so these seeds cannot tell.")


def spread_sentence(spread: SeedSpread) -> str:
    """A kind of run's success across seeds, and the smallest difference a test at this many seeds can find."""
    success = spread.success
    if success.runs < 2:
        return (f"{spread.label}: success {percent(success.mean)} in its one seed; one seed gives no interval and no "
                "test.")
    sentence = f"{spread.label}: success {_share_interval(success)} (mean, 95% t interval) over {success.runs} seeds"
    if not spread.detectable:
        return sentence + ("; every seed gave the same rate, so there is no spread to size a test by (a difference "
                           "in either direction would show at once).")
    return (sentence + f"; at this spread a two-sided t-test against another kind of run over {success.runs} seeds "
            f"finds a difference in mean success of {spread.detectable * 100:.1f} points or more with 80% power at "
            "the 5% level, and may miss smaller ones.")


def offline_spread_sentence(spread: OfflineSpread) -> str:
    """What a bridge going offline cost across seeds, and the smallest cost a paired test finds at this size."""
    drop = spread.drop
    if drop.runs < 2:
        return f"In {spread.topology}, the offline bridge cost {drop.mean * 100:.1f} points of success in one seed."
    sentence = (f"In {spread.topology}, the offline bridge cost the payments started after it went down "
                f"{_points_interval(drop)} of success against the same seed with it online (mean, 95% t "
                f"interval over {drop.runs} seeds)")
    if not spread.detectable:
        return sentence + "; every seed lost the same, so there is no spread to size a test by."
    return (sentence + f"; a paired t-test at this spread finds a mean drop of {spread.detectable * 100:.1f} points or "
            "more with 80% power at the 5% level.")


def findings(result: TopologyExperimentResult) -> list[str]:
    """A few sentences that read the experiment's numbers; each claim is computed from the runs."""
    edges = result.experiment.bucket_edges()
    baselines = result.baselines()
    sentences = [spread_sentence(spread) for spread in result.spreads()]
    sentences += [offline_spread_sentence(spread) for spread in result.offline_spreads()]
    if baselines:
        rates = ", ".join(f"{run.topology} {percent(run.success_rate())} over {run.mean_hops:.2f} hops "
                          f"({run.fees:,} in fees)" for run in baselines)
        sentences.append(f"Seed {result.experiment.seed}, success over the whole workload: {rates}.")
        cliff = _cliff_sentence(baselines, result.experiment.deposit, "one side's deposit")
        sentences.append(cliff if cliff is not None else _largest_payments_sentence(baselines, edges))
    heavy = _heavy_tailed_sentence(result)
    if heavy is not None:
        sentences.append(heavy)
        cliff = _cliff_sentence(result.heavy_tailed_runs(), result.experiment.deposit, "the mean deposit",
                                reason=False)
        if cliff is not None:
            sentences.append(cliff)
    for run in baselines:
        if run.bridge_channels:
            sentences.append(
                f"In {run.topology}, {percent(run.bridge_depleted_share)} of the {run.bridge_channels} bridge "
                f"channels depleted, against {percent(run.other_depleted_share)} of the other "
                f"{run.channels - run.bridge_channels}; by the end the bridge channels' poorer side held "
                f"{percent(run.bridge_mean_share[-1])} of capacity on average, the others' "
                f"{percent(run.other_mean_share[-1])}.")
            sentences.append(_drain_sentence(run))
    sentences += [_offline_sentence(baseline, offline, result.offline_boundary)
                  for baseline, offline in result.offline_pairs()]
    sentences += [prediction_sentence(prediction) for prediction in result.offline_predictions()]
    return sentences


# Markdown -----------------------------------------------------------------------------------------------------------




def format_markdown(result: TopologyExperimentResult) -> str:
    """The Markdown report: settings, the reading of the numbers, tables and plots (provenance is added on writing)."""
    experiment = result.experiment
    baselines = result.baselines()
    edges = experiment.bucket_edges()
    lines = ["# Lab 3: payment channels over different topologies", "",
             f"{experiment.nodes} nodes, {seed_range(result)} (each seed its own graph and payments; the tables after "
             f"\"Across seeds\" show seed {experiment.seed}), one channel per edge of each topology with "
             f"{experiment.deposit:,} deposited by each side. The same {experiment.payments} payments (random payer "
             f"and payee, {_amounts_text(result)}, "
             f"{experiment.payments_per_second} started per simulated second) are routed over each with the channel "
             "layer's nodes, router and signed HTLC updates."
             + (f" With {_deposits_text(result)}." if experiment.deposits != EQUAL else ""), "", "## Findings", ""]
    lines += [f"- {sentence}" for sentence in findings(result)]
    spreads = result.spreads()
    labels = _labels(result)
    lines += ["", "## Across seeds", "",
              f"Success (settled share of all payments) per kind of run over {seed_range(result)}: the mean of the "
              "seeds' rates with its 95% Student's t interval (cut to 0-100%), and the smallest difference in mean "
              "success from another kind of run with as many seeds and the same spread that a two-sided two-sample "
              "t-test finds with 80% power at the 5% level (no spread: every seed gave the same rate). The amount "
              f"columns are {_bucket_unit(result)}.", ""]
    lines += markdown_table(["run", "success, mean [95% CI]", "smallest detectable difference", "unresolved payments",
                             *[f"amounts {label}" for label in labels]],
                            [(spread.label, _share_interval(spread.success), _detectable(spread.detectable),
                              spread.unresolved, *[_share_interval(value) for value in spread.success_by_bucket])
                             for spread in spreads], "lrrr" + "r" * len(labels))
    offline_spreads = result.offline_spreads()
    if offline_spreads:
        lines += ["", "Drop in success of the payments started after the offline point (same seed with every node "
                      "online minus with the bridge offline; paired t-test for the detectable drop):", ""]
        lines += markdown_table(["topology", "drop, mean [95% CI]", "smallest detectable drop"],
                                [(spread.topology, _points_interval(spread.drop), _detectable(spread.detectable))
                                 for spread in offline_spreads], "lrr")
    lines += ["", f"## Overview (seed {experiment.seed})", "", f"Bridge ids are node numbers; {BRIDGE_DEFINITION}.",
              ""]
    lines += markdown_table(
        ["topology", "channels", "bridge node ids", "settled", "success", "mean hops", "fees", "settled / s",
         "simulated s", "messages", "bridge channels depleted", "other channels depleted"],
        [(run.topology, run.channels, _node_ids(run.bridges),
          f"{len(run.settled())}/{len(run.payments)}", percent(run.success_rate()), f"{run.mean_hops:.2f}",
          f"{run.fees:,}", f"{run.throughput:.2f}", f"{run.simulated_seconds:g}", f"{run.messages:,}",
          percent(run.bridge_depleted_share) if run.bridge_channels else "-", percent(run.other_depleted_share))
         for run in baselines], "lrlrrrrrrrrr")
    lines += ["", "Settled / s counts settled payments per simulated second from the first payment until the last one "
                  "ended. A channel is depleted once its poorer side holds less than "
                  f"{percent(experiment.depleted_below)} of its capacity.", "",
              "## Success by amount", "", f"![success by amount]({PLOTS['amounts']})", "",
              f"Figure: {_amount_figure_caption(result)}", "", REFERENCE_NOTE, "",
              f"The table is seed {experiment.seed} alone ({_bucket_unit(result)}; payments per range in brackets; "
              f"{FRESH_BOUND_DEFINITION}; {CAPACITY_BOUND_DEFINITION}).", ""]
    runs = baselines + result.heavy_tailed_runs()
    bound_rows = [(f"{name}, {run.label}", *[percent(within / total) if total else "-" for within, total in
                                             run.within_bound_by_bucket(edges, capacity=capacity)])
                  for run in ([*baselines[:1], *result.heavy_tailed_runs()] if experiment.deposits != EQUAL
                              else baselines[:1])
                  for name, capacity in (("fresh-channel bound", False), ("capacity bound", True))]
    lines += markdown_table(
        ["run", *labels],
        [(run.label, *[f"{percent(settled / total) if total else '-'} ({total})"
                       for settled, total in run.success_by_bucket(edges)]) for run in runs] + bound_rows,
        "l" + "r" * (len(edges) - 1))
    causes = _causes(result)
    lines += ["", f"## Failures by cause (seed {experiment.seed})", "", f"![failures]({PLOTS['failures']})", "",
              "Figure: failed payments per run, stacked by cause; each cause has the same colour in every a27 "
              "report.", ""]
    if causes:
        lines += [f"Causes: {cause_definitions(causes)}", ""]
        lines += markdown_table(["run", *causes],
                                 [(run.label, *[run.failures().get(cause, 0) for cause in causes])
                                  for run in result.example_runs()], "l" + "r" * len(causes))
    else:
        lines.append("No payment failed in any run.")
    lines += ["", _unresolved_note(result)]
    lines += ["", f"## Liquidity drain (seed {experiment.seed})", "", f"![liquidity]({PLOTS['liquidity']})", "",
              "Figure: the poorer side's share of capacity over time. Thin lines are single channels: the "
              f"{experiment.top_channels} most depleted and every bridge channel (red, solid: bridge; grey, dashed: "
              f"other), the first {LEGEND_CHANNELS} of them named in the legend; thick lines are the means over all "
              "bridge channels and all other channels; the dotted line is the depletion threshold "
              f"({percent(experiment.depleted_below)}).", "",
              f"The channels that depleted first, per topology (at most {experiment.top_channels}; "
              f"{BRIDGE_DEFINITION}; a channel is named by the node numbers of its two ends):", ""]
    lines += markdown_table(
        ["topology", "channel", "bridge", "depleted at s", "poorer side at end"],
        [(run.topology, trace.name, "yes" if trace.bridge else "no", _time(trace.first_depleted),
          percent(trace.poorer_share[-1])) for run in baselines for trace in run.traces[:experiment.top_channels]],
        "llrrr")
    lines += ["", "Depleted channels beyond the table's cap, not listed: "
              + "; ".join(f"{run.topology} {_unlisted(run, experiment.top_channels)}" for run in baselines) + "."]
    pairs = result.offline_pairs()
    if pairs:
        boundary = result.offline_boundary
        lines += ["", f"## A bridge node offline (seed {experiment.seed})", "",
                  f"![offline bridge]({PLOTS['offline']})", "",
                  "Figure: success of the payments started before and after the bridge went offline, with it online "
                  f"(blue) and offline (orange), seed {experiment.seed}; the offline node is named by its number.", "",
                  f"The bridge goes offline once {boundary} payments have started; payments from or to it are then "
                  "not started (endpoint offline).", ""]
        rows = []
        for baseline, offline in pairs:
            before, after = offline.split(boundary)
            _, baseline_after = baseline.split(boundary)
            rows.append((offline.topology,
                         _node_ids([offline.offline_node] if offline.offline_node is not None else []),
                         _time(offline.offline_time),
                         percent(offline.success_rate(before)), percent(offline.success_rate(after)),
                         percent(baseline.success_rate(baseline_after)),
                         sum(payment.outcome == "endpoint offline" for payment in after),
                         f"{offline.throughput:.2f}", f"{baseline.throughput:.2f}"))
        lines += markdown_table(["topology", "offline node id", "at s", "success before", "success after",
                                  "baseline after", "endpoint offline", "settled / s", "baseline settled / s"],
                                 rows, "lrrrrrrrr")
    predictions = result.offline_predictions()
    if predictions:
        lines += ["", f"### What the network split predicts ({seed_range(result)})", "",
                  f"Per seed, for the payments started after the offline point: {REACHABLE_DEFINITION}. The last row "
                  "per topology is the mean over seeds with its 95% Student's t interval (observed minus predicted "
                  "paired by seed). The right panel of the figure above plots each seed's pair.", ""]
        lines += markdown_table(
            ["topology", "seed", "reachable", "baseline", "predicted", "observed", "observed - predicted"],
            [row for prediction in predictions for row in [
                *[(prediction.topology, seed, percent(prediction.reachable[index]),
                   percent(prediction.baseline[index]), percent(prediction.predicted[index]),
                   percent(prediction.observed[index]),
                   _points(prediction.observed[index] - prediction.predicted[index]))
                  for index, seed in enumerate(prediction.seeds)],
                (prediction.topology, "mean", percent(sum(prediction.reachable) / len(prediction.reachable)),
                 percent(sum(prediction.baseline) / len(prediction.baseline)),
                 _share_interval(prediction.predicted_mean), _share_interval(prediction.observed_mean),
                 _points_interval(prediction.difference))]],
            "lrrrrrr")
    lines += ["", "## Network and channels", "",
              f"Each node starts with {experiment.deposit:,} times (its graph's largest degree + 1) on chain, enough "
              f"to fund every channel; channels open {OPENS_PER_BLOCK} to a block. Messages go between nodes in "
              "memory, in order and without latency or loss; every node's clock ticks one simulated second after "
              f"each {experiment.payments_per_second} payments started. Fees follow the channel layer's default "
              "policy (see Provenance)."]
    return "\n".join(lines) + "\n"


def _amount_figure_caption(result: TopologyExperimentResult) -> str:
    """What the success-by-amount figure draws, said under it."""
    experiment = result.experiment
    panels = ("one panel with equal deposits and one with heavy-tailed deposits; " if experiment.deposits != EQUAL
              else "")
    axis = ("the amount as a multiple of one side's deposit (log scale; the vertical lines mark one side's deposit "
            "and a channel's capacity)" if experiment.amounts == RELATIVE else "the amount (log scale)")
    return (f"{panels}x is {axis}. Solid lines with markers are the mean success over {seed_range(result)} in each "
            "amount range, drawn at the range's geometric middle; whiskers are the 95% Student's t interval across "
            "seeds (cut to 0-100%; none with one seed). Dashed lines in the same colour are each topology's "
            "fresh-channel bound, averaged over the seeds.")


# Plots --------------------------------------------------------------------------------------------------------------


def plot_success_by_amount(result: TopologyExperimentResult, path: Path) -> None:
    """Mean success per amount range over the seeds, a line per topology with its fresh-channel bound dashed; a second
    panel with heavy-tailed deposits when the experiment ran them."""
    plt = pyplot()
    experiment = result.experiment
    edges = experiment.bucket_edges()
    scale = experiment.deposit if experiment.amounts == RELATIVE else 1
    middles = [math.sqrt(edges[k] * edges[k + 1]) / scale for k in range(len(edges) - 1)]
    panels = [("equal deposits", BASELINE)]
    if experiment.deposits != EQUAL:
        panels.append((f"heavy-tailed deposits ({experiment.deposits}, same mean)", HEAVY_TAILED))
    figure, axes = plt.subplots(1, len(panels), figsize=(7.5 * len(panels), 5.2), squeeze=False, sharey=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, (title, variant) in zip(axes[0], panels, strict=True):
        spreads = [spread for spread in result.spreads() if spread.variant == variant]
        for index, spread in enumerate(spreads):
            colour = colours[index % len(colours)]
            points = [(middle, value) for middle, value in zip(middles, spread.success_by_bucket, strict=True)
                      if value is not None]
            axis.errorbar([x for x, _ in points], [value.mean * 100 for _, value in points],
                          yerr=[[(value.mean - max(0.0, value.low)) * 100 for _, value in points],
                                [(min(1.0, value.high) - value.mean) * 100 for _, value in points]]
                          if experiment.seeds > 1 else None,
                          color=colour, marker="o", markersize=4, linewidth=1.6, capsize=2, label=spread.topology)
            bound = [(middle, value) for middle, value in zip(middles, spread.fresh_bound_by_bucket, strict=False)
                     if value is not None]
            axis.plot([x for x, _ in bound], [value * 100 for _, value in bound], color=colour, linestyle="--",
                      linewidth=1.0, alpha=0.8, label=f"{spread.topology}, fresh-channel bound")
        if experiment.amounts == RELATIVE:
            for multiple, name in ((1, "one side's deposit"), (2, "capacity")):
                if edges[0] / scale < multiple <= edges[-1] / scale:
                    axis.axvline(multiple, color="black", linewidth=0.8, linestyle=":")
                    axis.text(multiple, 103, name, ha="right", va="bottom", fontsize="x-small", rotation=0)
        axis.set_xscale("log")
        axis.set_xlabel("amount / one side's deposit" if experiment.amounts == RELATIVE else "amount")
        axis.set_ylim(0, 110)
        axis.set_title(title, fontsize="medium")
        axis.grid(alpha=0.3)
        # Below the axes: inside, the legend would hide the lines it names.
        axis.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    axes[0][0].set_ylabel("settled (%)")
    figure.suptitle(f"Success by payment amount, mean over {seed_range(result)}")
    save_figure(figure, path)


def plot_failures(result: TopologyExperimentResult, path: Path) -> None:
    """Failed payments by cause, one stacked bar per run."""
    plt = pyplot()
    causes = _causes(result)
    runs = result.example_runs()
    # Wider with more runs, and run names wrapped under their bars, so that the names do not run into each other.
    figure, axis = plt.subplots(figsize=(max(9.0, 1.4 * len(runs)), 4.8))
    bottoms = [0] * len(runs)
    for cause in causes:
        counts = [run.failures().get(cause, 0) for run in runs]
        axis.bar(range(len(runs)), counts, bottom=bottoms, label=cause, color=cause_colour(cause))
        bottoms = [bottom + count for bottom, count in zip(bottoms, counts, strict=True)]
    axis.set_xticks(range(len(runs)), ["\n".join(textwrap.wrap(run.label, 16)) for run in runs], fontsize="small")
    axis.set_ylabel(f"failed payments (of {result.experiment.payments})")
    axis.set_title(f"Failed payments by cause, seed {result.experiment.seed}")
    axis.grid(axis="y", alpha=0.3)
    axis.set_ylim(0, max([*bottoms, 1]) * 1.12)
    if causes:
        axis.legend(fontsize="small")
    save_figure(figure, path)


def plot_liquidity(result: TopologyExperimentResult, path: Path) -> None:
    """Per topology: the poorer side's share of capacity over time, for the most depleted and the bridge channels."""
    plt = pyplot()
    baselines = result.baselines()
    columns = min(len(baselines), 2)
    rows = (len(baselines) + columns - 1) // columns
    # Room under each panel for its legend: inside, it would hide the lines it names.
    figure, axes = plt.subplots(rows, columns, figsize=(6 * columns, 5.2 * rows), squeeze=False, sharey=True)
    for axis, run in zip((axis for row in axes for axis in row), baselines, strict=False):
        for position, trace in enumerate(run.traces):
            named = position < LEGEND_CHANNELS
            axis.plot(run.times, [share * 100 for share in trace.poorer_share],
                      color="#c0392b" if trace.bridge else "#7f8c8d", linewidth=1.2 if named else 0.6,
                      linestyle="-" if trace.bridge else "--", alpha=0.9 if named else 0.4,
                      label=f"{trace.name}{' (bridge)' if trace.bridge else ''}" if named else None)
        if run.bridge_mean_share:
            axis.plot(run.times, [share * 100 for share in run.bridge_mean_share], color="#1f4e79", linewidth=2.2,
                      label="mean, bridge channels")
        axis.plot(run.times, [share * 100 for share in run.other_mean_share], color="#27ae60", linewidth=2.2,
                  label="mean, other channels")
        axis.axhline(result.experiment.depleted_below * 100, color="black", linewidth=0.8, linestyle=":")
        axis.set_title(f"{run.topology}: {len(run.traces)} of {run.channels} channels (the {LEGEND_CHANNELS} first "
                       "named)", fontsize="medium")
        axis.set_xlabel("simulated time (s)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize="x-small", ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    for row in axes:
        row[0].set_ylabel("poorer side (% of capacity)")
    for axis in [axis for row in axes for axis in row][len(baselines):]:
        axis.set_visible(False)
    save_figure(figure, path)


def plot_offline(result: TopologyExperimentResult, path: Path) -> None:
    """Left: success before and after the bridge went offline, against the same payments with every node online.
    Right: per seed, the success the network split predicts after the offline point against the observed one."""
    plt = pyplot()
    pairs = result.offline_pairs()
    boundary = result.offline_boundary
    figure, (axis, scatter) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    series: dict[str, list[float]] = {f"{name}, {half}": [] for name in ("online", "bridge offline")
                                      for half in ("before", "after")}
    for baseline, offline in pairs:
        for name, run in (("online", baseline), ("bridge offline", offline)):
            before, after = run.split(boundary)
            series[f"{name}, before"].append(run.success_rate(before) * 100)
            series[f"{name}, after"].append(run.success_rate(after) * 100)
    colours = ["#9ecae1", "#3182bd", "#fdae6b", "#e6550d"]
    width = 0.2
    for offset, (name, values) in enumerate(series.items()):
        axis.bar([index + (offset - 1.5) * width for index in range(len(pairs))], values, width=width * 0.95,
                 label=name, color=colours[offset])
    predicted = {prediction.topology: prediction for prediction in result.offline_predictions()}
    for index, (_, offline) in enumerate(pairs):
        prediction = predicted.get(offline.topology)
        if prediction is not None and offline.seed in prediction.seeds:
            value = prediction.predicted[prediction.seeds.index(offline.seed)] * 100
            axis.plot([index + 1.05 * width, index + 1.95 * width], [value, value], color="black", linewidth=2,
                      label="predicted from the split" if index == 0 else None)
    axis.set_xticks(range(len(pairs)), [f"{offline.topology}\n(node #{offline.offline_node} offline)"
                                        for _, offline in pairs])
    axis.set_ylabel("settled (%)")
    axis.set_ylim(0, 105)
    axis.set_title(f"Seed {result.experiment.seed}: a bridge node offline after payment {boundary}",
                   fontsize="medium")
    axis.grid(axis="y", alpha=0.3)
    # Below the axes: inside, the legend would hide the bars it names.
    axis.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    for index, prediction in enumerate(predicted.values()):
        scatter.scatter([value * 100 for value in prediction.predicted], [value * 100 for value in prediction.observed],
                        s=18, marker="os^D"[index % 4], label=prediction.topology)
    scatter.plot([0, 100], [0, 100], color="black", linewidth=0.8, linestyle=":", label="observed = predicted")
    scatter.set_xlim(0, 100)
    scatter.set_ylim(0, 100)
    scatter.set_aspect("equal")
    scatter.set_xlabel("predicted: reachable share x baseline success (%)")
    scatter.set_ylabel("observed success after the offline point (%)")
    scatter.set_title(f"Every seed ({seed_range(result)})", fontsize="medium")
    scatter.grid(alpha=0.3)
    scatter.legend(fontsize="small", loc="upper left")
    save_figure(figure, path)


def write_report(result: TopologyExperimentResult, directory: str | Path, argv: Sequence[str] | None = None) -> Path:
    """
    Write report.md, report.json and the PNG plots into ``directory``, with the provenance of ``a27 <argv>`` (the
    command is recorded as unknown without ``argv``); return the Markdown path.
    """
    plots = {PLOTS["amounts"]: plot_success_by_amount, PLOTS["failures"]: plot_failures,
             PLOTS["liquidity"]: plot_liquidity}
    if result.offline_pairs():
        plots[PLOTS["offline"]] = plot_offline
    provenance = collect_provenance(argv, result.experiment.parameters())
    return write_report_files(directory, report_data(result), format_markdown(result),
                              {name: functools.partial(draw, result) for name, draw in plots.items()}, provenance)


__all__ = ["AGREEMENT_POINTS", "BRIDGE_DEFINITION", "CAPACITY_BOUND_DEFINITION", "FRESH_BOUND_DEFINITION", "PLOTS",
           "REACHABLE_DEFINITION", "REFERENCE_NOTE", "SHARE_POINTS", "THROUGHPUT_CHANGE", "bucket_labels", "findings",
           "format_markdown", "format_terminal", "offline_spread_sentence", "prediction_sentence", "report_data",
           "seed_range", "spread_sentence", "write_report"]
