"""The topology experiment: the workload, the runs over each topology, and what they measure."""

from __future__ import annotations

import itertools

import attrs
import networkx as nx
import pytest

from a27_channels import FailureCause
from a27_harness.experiments.topology import (
    BASELINE,
    BRIDGE_OFFLINE,
    ENDPOINT_OFFLINE,
    EQUAL,
    HEAVY_TAILED,
    LOGNORMAL,
    PARETO,
    SETTLED,
    UNRESOLVED,
    TopologyExperiment,
    TopologyExperimentError,
    TopologyExperimentResult,
    TopologyRun,
    parse_topologies,
    run_topology,
    run_topology_experiment,
)
from a27_harness.reports.topology import format_terminal

SMALL = TopologyExperiment(nodes=16, payments=120, deposit=20_000, amounts="absolute", max_amount=20_000,
                           amount_buckets=4, drain_seconds=300, seeds=2)
"""Small enough for tests, and with payments large against the channels so that the shapes differ."""


@pytest.fixture(scope="module")
def result() -> TopologyExperimentResult:
    progress: list[tuple[int, int, str]] = []
    result = run_topology_experiment(SMALL, progress=lambda done, total, label: progress.append((done, total, label)))
    assert progress == [(index, 12, f"{run.label} seed {run.seed}") for index, run in enumerate(result.runs, 1)]
    assert [run.seed for run in result.runs] == [7] * 6 + [8] * 6
    return result


def _run(result: TopologyExperimentResult, topology: str, variant: str = BASELINE) -> TopologyRun:
    return next(run for run in result.runs if run.topology == topology and run.variant == variant)


def test_the_workload_is_fixed_by_the_seed() -> None:
    workload = SMALL.workload()
    assert workload == SMALL.workload()
    assert workload != TopologyExperiment(nodes=16, payments=120, seed=8).workload()
    assert [payment.index for payment in workload] == list(range(120))
    assert all(payment.payer != payment.payee and 0 <= payment.payer < 16 and 0 <= payment.payee < 16
               for payment in workload)
    assert all(100 <= payment.amount <= 20_000 for payment in workload)
    # Log-uniform: about as many payments below the geometric midpoint (about 1 414) as above it.
    below = sum(payment.amount < 1_414 for payment in workload)
    assert 40 <= below <= 80


def test_bucket_edges_are_log_spaced_from_min_to_max() -> None:
    assert SMALL.bucket_edges() == (100, 376, 1_414, 5_318, 20_000)
    assert TopologyExperiment(amounts="absolute", amount_buckets=1).bucket_edges() == (100, 40_000)


def test_settings_are_checked() -> None:
    with pytest.raises(TopologyExperimentError, match="topologies are"):
        TopologyExperiment(topologies=("ring",))
    with pytest.raises(TopologyExperimentError, match="above max_amount"):
        TopologyExperiment(min_amount=500, max_amount=100)
    with pytest.raises(TopologyExperimentError, match="strictly between 0 and 1"):
        TopologyExperiment(offline_at=1.0)
    with pytest.raises(TopologyExperimentError, match="payments must be positive"):
        TopologyExperiment(payments=0)
    assert parse_topologies(" ba, complete,ba ") == ("ba", "complete")
    with pytest.raises(TopologyExperimentError):
        parse_topologies("ba,star")
    with pytest.raises(TopologyExperimentError, match="no bridge node"):
        run_topology(TopologyExperiment(topologies=("complete",), nodes=6, payments=4), "complete", BRIDGE_OFFLINE)


def test_the_plan_adds_a_bridge_offline_run_per_bottleneck_shape() -> None:
    assert SMALL.plan() == (("complete", BASELINE), ("ba", BASELINE), ("bottleneck", BASELINE),
                            ("bottlenecks", BASELINE), ("bottleneck", BRIDGE_OFFLINE), ("bottlenecks", BRIDGE_OFFLINE))
    assert TopologyExperiment(topologies=("complete", "ba")).plan() == (("complete", BASELINE), ("ba", BASELINE))


def test_same_seed_same_terminal_text() -> None:
    experiment = TopologyExperiment(topologies=("bottleneck",), nodes=12, payments=40, deposit=10_000,
                                    drain_seconds=100, seeds=2, deposits="lognormal")
    first, second = run_topology_experiment(experiment), run_topology_experiment(experiment)
    assert first == second
    assert format_terminal(first) == format_terminal(second)


def test_every_payment_ends_once_with_a_known_outcome(result: TopologyExperimentResult) -> None:
    known = {SETTLED, ENDPOINT_OFFLINE, UNRESOLVED} | {cause.label for cause in FailureCause}
    for run in result.runs:
        assert [payment.index for payment in run.payments] == list(range(SMALL.payments))
        assert {payment.outcome for payment in run.payments} <= known
        assert sum(run.failures().values()) + len(run.settled()) == SMALL.payments
        assert all(payment.hops >= 1 and payment.ended is not None for payment in run.settled())


def test_the_complete_graph_settles_large_payments_a_bottleneck_does_not(result: TopologyExperimentResult) -> None:
    edges = SMALL.bucket_edges()
    complete, bottleneck = _run(result, "complete"), _run(result, "bottleneck")
    large_complete, large_bottleneck = complete.success_by_bucket(edges)[-1], bottleneck.success_by_bucket(edges)[-1]
    assert large_complete[1] == large_bottleneck[1] > 0
    assert large_complete[0] > large_bottleneck[0]
    assert complete.success_rate() > bottleneck.success_rate()
    # Direct channels: one hop almost always, so almost no fees; the bottleneck routes across its bridge.
    assert complete.mean_hops < 1.1
    assert bottleneck.mean_hops > 2
    assert complete.fees < bottleneck.fees


def test_failures_are_attributed_to_their_causes(result: TopologyExperimentResult) -> None:
    assert _run(result, "complete").failures() == {}
    assert _run(result, "bottleneck").failures()["insufficient balance"] > 0
    offline = _run(result, "bottleneck", BRIDGE_OFFLINE)
    failures = offline.failures()
    assert failures["hop offline"] > 0
    assert list(failures.values()) == sorted(failures.values(), reverse=True)
    workload = SMALL.workload()
    endpoint = [payment.index for payment in offline.payments if payment.outcome == ENDPOINT_OFFLINE]
    assert endpoint == [payment.index for payment in workload if payment.index >= result.offline_boundary
                        and offline.offline_node in (payment.payer, payment.payee)]


def test_bridge_channels_deplete_first_in_the_bottleneck(result: TopologyExperimentResult) -> None:
    run = _run(result, "bottleneck")
    assert run.bridges == (8,)
    assert run.bridge_channels == 4
    assert run.bridge_depleted_share > run.other_depleted_share
    assert run.traces[0].bridge
    assert run.traces[0].first_depleted == min(trace.first_depleted for trace in run.traces
                                              if trace.first_depleted is not None)
    assert run.bridge_mean_share[-1] < run.other_mean_share[-1]
    assert len(run.times) == len(run.bridge_mean_share) == len(run.traces[0].poorer_share)
    # Every channel starts balanced: each side deposited the same.
    assert {trace.poorer_share[0] for trace in run.traces} == {0.5}


def test_a_bridge_offline_lowers_success(result: TopologyExperimentResult) -> None:
    boundary = result.offline_boundary
    assert boundary == 60
    for baseline, offline in result.offline_pairs():
        assert offline.offline_node in offline.bridges
        assert offline.offline_time == 6.0
        before, after = offline.split(boundary)
        baseline_before, baseline_after = baseline.split(boundary)
        # Until the bridge goes offline, the two runs are the same run.
        assert before == baseline_before
        assert offline.success_rate(after) < baseline.success_rate(baseline_after) - 0.3
        assert offline.throughput < baseline.throughput


def test_throughput_counts_settled_payments_per_simulated_second(result: TopologyExperimentResult) -> None:
    run = _run(result, "complete")
    assert run.simulated_seconds == 12
    assert run.throughput == len(run.settled()) / 12
    assert run.messages > 0


# Amounts relative to the deposit, heavy-tailed channel sizes, the bounds and the split's prediction ----------------


def test_default_amounts_reach_past_one_sides_deposit() -> None:
    experiment = TopologyExperiment()
    assert experiment.amounts == "relative"
    assert experiment.amount_range() == (98, 100_000)
    edges = experiment.bucket_edges()
    # Every bucket doubles, and one edge is one side's deposit, where a payment stops fitting on a fresh channel.
    assert experiment.deposit in edges
    assert edges[-1] == 2 * experiment.deposit
    assert all(round(high / low) == 2 for low, high in itertools.pairwise(edges))
    amounts = [payment.amount for payment in experiment.workload()]
    assert sum(amount > experiment.deposit for amount in amounts) >= 20
    assert min(amounts) >= 98
    assert max(amounts) <= 100_000
    # Absolute amounts remain available.
    absolute = TopologyExperiment(amounts="absolute", min_amount=200, max_amount=30_000)
    assert absolute.amount_range() == (200, 30_000)
    assert all(200 <= payment.amount <= 30_000 for payment in absolute.workload())
    with pytest.raises(TopologyExperimentError, match="amounts are relative or absolute"):
        TopologyExperiment(amounts="fractional")
    with pytest.raises(TopologyExperimentError, match="min_share 3 is above max_share 2"):
        TopologyExperiment(min_share=3)


@pytest.mark.parametrize("distribution", [PARETO, LOGNORMAL])
def test_heavy_tailed_deposits_keep_the_mean_and_follow_the_seed(distribution: str) -> None:
    experiment = TopologyExperiment(deposits=distribution)
    deposits = experiment.channel_deposits("ba", 500, distribution)
    assert sum(deposits) / 500 == pytest.approx(50_000, rel=1e-4)
    assert deposits == experiment.channel_deposits("ba", 500, distribution)
    assert deposits != attrs.evolve(experiment, seed=8).channel_deposits("ba", 500, distribution)
    assert deposits != experiment.channel_deposits("complete", 500, distribution)
    # Heavy-tailed: the largest channels are many times the median, which lies below the mean.
    ordered = sorted(deposits)
    assert ordered[-1] > 8 * ordered[250]
    assert ordered[250] < 50_000
    assert min(deposits) >= 1
    assert experiment.channel_deposits("ba", 5, EQUAL) == (50_000,) * 5
    heavier = attrs.evolve(experiment, pareto_alpha=1.1, lognormal_sigma=2.0).channel_deposits("ba", 500, distribution)
    assert max(heavier) > max(deposits)
    with pytest.raises(TopologyExperimentError, match="pareto_alpha must be above 1"):
        TopologyExperiment(pareto_alpha=1.0)
    with pytest.raises(TopologyExperimentError, match="deposits are equal, pareto, lognormal"):
        TopologyExperiment(deposits="uniform")


def _widest(edges: list[tuple[int, int]], widths: tuple[int, ...], payer: int, payee: int) -> int:
    """The largest width w such that edges at least w wide join payer and payee (0 if none), by brute force."""
    best = 0
    for width in set(widths):
        graph = nx.Graph([edge for edge, edge_width in zip(edges, widths, strict=True) if edge_width >= width])
        if payer in graph and payee in graph and nx.has_path(graph, payer, payee):
            best = max(best, width)
    return best


def test_heavy_tailed_runs_open_the_drawn_channels_and_bound_every_payment() -> None:
    experiment = TopologyExperiment(topologies=("ba",), nodes=14, payments=60, deposits=PARETO, drain_seconds=200,
                                    seeds=1)
    assert experiment.plan() == (("ba", BASELINE), ("ba", HEAVY_TAILED))
    equal, heavy = run_topology(experiment, "ba"), run_topology(experiment, "ba", HEAVY_TAILED)
    assert heavy.label == "ba (heavy-tailed deposits)"
    assert all(payment.fresh_limit == 50_000 and payment.capacity_limit == 100_000 for payment in equal.payments)
    edges = sorted((min(a, b), max(a, b)) for a, b in experiment.graph("ba").edges())
    deposits = experiment.channel_deposits("ba", len(edges), PARETO)
    workload = experiment.workload()
    for payment, outcome in zip(workload, heavy.payments, strict=True):
        assert outcome.fresh_limit == _widest(edges, deposits, payment.payer, payment.payee)
        assert outcome.capacity_limit == 2 * outcome.fresh_limit
        # The capacity bound is a hard bound: no settled payment exceeds it.
        assert outcome.outcome != SETTLED or outcome.amount <= outcome.capacity_limit
    assert {payment.fresh_limit for payment in heavy.payments} != {50_000}
    assert {trace.poorer_share[0] for trace in heavy.traces} == {0.5}
    with pytest.raises(TopologyExperimentError, match="needs deposits pareto or lognormal"):
        run_topology(TopologyExperiment(topologies=("ba",), nodes=6, payments=4), "ba", HEAVY_TAILED)


def test_the_split_prediction_counts_payments_whose_ends_stay_joined(result: TopologyExperimentResult) -> None:
    predictions = {prediction.topology: prediction for prediction in result.offline_predictions()}
    assert list(predictions) == ["bottleneck", "bottlenecks"]
    workload = {seed: attrs.evolve(SMALL, seed=seed).workload()[result.offline_boundary:] for seed in (7, 8)}
    for topology, prediction in predictions.items():
        assert prediction.seeds == (7, 8)
        for index, seed in enumerate(prediction.seeds):
            offline = next(run for run in result.runs if (run.topology, run.variant, run.seed)
                           == (topology, BRIDGE_OFFLINE, seed))
            baseline = next(run for run in result.runs if (run.topology, run.variant, run.seed)
                            == (topology, BASELINE, seed))
            rest = attrs.evolve(SMALL, seed=seed).graph(topology)
            rest.remove_node(offline.offline_node)
            joined = sum(payment.payer in rest and payment.payee in rest and nx.has_path(rest, payment.payer,
                                                                                         payment.payee)
                         for payment in workload[seed])
            assert prediction.reachable[index] == joined / len(workload[seed])
            assert 0 < prediction.reachable[index] < 1
            assert prediction.baseline[index] == baseline.success_rate(baseline.split(result.offline_boundary)[1])
            assert prediction.predicted[index] == pytest.approx(prediction.reachable[index]
                                                                * prediction.baseline[index])
            assert prediction.observed[index] == offline.success_rate(offline.split(result.offline_boundary)[1])
        assert prediction.difference.mean == pytest.approx(
            sum(prediction.observed) / 2 - sum(prediction.predicted) / 2)
