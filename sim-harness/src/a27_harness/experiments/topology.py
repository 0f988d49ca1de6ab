"""
The Lab 3 topology experiment: the same payments over payment-channel networks of different shapes.

Every topology (a27-netsim's ``complete``, ``ba``, ``bottleneck``, ``bottlenecks``) becomes a channel network: one
channel, both sides depositing the same amount, for every edge of the graph. The same seeded workload (payers,
payees, amounts, order) is then routed over each with the channel layer's real nodes, router and HTLC state machines
(``a27_channels.inprocess.ChannelNetwork``: signed states, one in-memory PoS chain, no IPv8). Each run records how
every payment ended, and how the channels' balances drift while it runs. For the bottleneck shapes a second run
takes a bridge node offline half-way through. All of it is repeated for several seeds (each seed its own graph and
workload): the first seed's runs are reported in detail, and every seed's success rates give intervals across seeds.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Sequence

import attrs
import networkx as nx

from a27_channels import ChannelGraph, ChannelNetwork, NodeParams, PaymentFailed, PaymentSucceeded
from a27_netsim.topology import bridge_nodes, topology_by_name

from ..reports.statistics import (
    MeanInterval,
    detectable_standardized_difference,
    mean_interval,
    standard_deviation,
)

TOPOLOGIES = ("complete", "ba", "bottleneck", "bottlenecks")
BOTTLENECK_TOPOLOGIES = ("bottleneck", "bottlenecks")
"""The shapes built around bridge nodes; each gets a run with one bridge offline."""
BASELINE = "baseline"
"""A run with every node online."""
BRIDGE_OFFLINE = "bridge offline"
"""A run in which one bridge node goes offline part-way through the payments."""
SETTLED = "settled"
"""The outcome of a payment that reached its payee."""
ENDPOINT_OFFLINE = "endpoint offline"
"""The outcome of a payment whose payer or payee was offline: it is never started."""
UNRESOLVED = "unresolved"
"""The outcome of a payment still pending when the run gave up waiting."""

OPENS_PER_BLOCK = 40
"""Channel openings put in one block. a27-pos caps a block at 256 transactions, and the in-memory network dry-runs
every pending transaction again for each one submitted, so smaller blocks open a complete graph several times faster."""

RunProgress = Callable[[int, int, str], None]
"""Called after each run with (runs done, runs planned, the finished run's label)."""


class TopologyExperimentError(ValueError):
    """A topology experiment setting that is unknown or out of range."""


def _positive(_: object, attribute: attrs.Attribute, value: float) -> None:
    if value <= 0:
        msg = f"{attribute.name} must be positive, got {value}"
        raise TopologyExperimentError(msg)


def _share(_: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0 < value < 1:
        msg = f"{attribute.name} must lie strictly between 0 and 1, got {value}"
        raise TopologyExperimentError(msg)


def parse_topologies(text: str) -> tuple[str, ...]:
    """Comma-separated topology names, in the order given, each once."""
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in TOPOLOGIES]
    if not names or unknown:
        msg = f"topologies are {', '.join(TOPOLOGIES)}; got {text!r}"
        raise TopologyExperimentError(msg)
    return names


@attrs.frozen
class Payment:
    """One payment of the workload."""

    index: int
    payer: int
    payee: int
    amount: int


@attrs.frozen
class TopologyExperiment:
    """The experiment's settings; the workload and every run follow from them and are deterministic."""

    topologies: tuple[str, ...] = TOPOLOGIES
    nodes: int = attrs.field(default=30, validator=_positive)
    seed: int = 7
    """The first seed; its runs are the ones the report shows in detail."""
    seeds: int = attrs.field(default=20, validator=_positive)
    """Seeds ``seed``, ``seed + 1``, ..., each with its own graph and workload, for intervals across seeds."""
    deposit: int = attrs.field(default=50_000, validator=_positive)
    """What each side of every channel deposits (the channel's capacity is twice this)."""
    payments: int = attrs.field(default=300, validator=_positive)
    min_amount: int = attrs.field(default=100, validator=_positive)
    max_amount: int = attrs.field(default=40_000, validator=_positive)
    """Amounts are drawn log-uniformly between ``min_amount`` and ``max_amount``: many small, a few large."""
    payments_per_second: int = attrs.field(default=10, validator=_positive)
    """Payments started per simulated second; the nodes' clock (retransmissions, give-ups) ticks once a second."""
    amount_buckets: int = attrs.field(default=4, validator=_positive)
    """Log-spaced amount ranges for the success-by-amount table."""
    ba_m: int = attrs.field(default=3, validator=_positive)
    """Links per new node in the Barabasi-Albert graph, and inside the bottleneck shapes' clusters."""
    clusters: int = attrs.field(default=3, validator=_positive)
    """Clusters of the ``bottlenecks`` shape (so ``clusters - 1`` bridges)."""
    bridge_degree: int = attrs.field(default=2, validator=_positive)
    """Channels a bridge node has into each cluster it joins."""
    offline_at: float = attrs.field(default=0.5, validator=_share)
    """Share of the payments after which the bridge goes offline in the bridge-offline runs."""
    depleted_below: float = attrs.field(default=0.05, validator=_share)
    """A channel is depleted when its poorer side holds less than this share of its capacity."""
    top_channels: int = attrs.field(default=5, validator=_positive)
    """How many of the most depleted channels a run keeps balance series of."""
    drain_seconds: int = attrs.field(default=900, validator=_positive)
    """Simulated seconds a run waits after the last payment for pending ones to end."""

    def __attrs_post_init__(self) -> None:
        """Check the names and the amount range."""
        unknown = [name for name in self.topologies if name not in TOPOLOGIES]
        if not self.topologies or unknown:
            msg = f"topologies are {', '.join(TOPOLOGIES)}; got {', '.join(self.topologies) or 'none'}"
            raise TopologyExperimentError(msg)
        if self.min_amount > self.max_amount:
            msg = f"min_amount {self.min_amount} is above max_amount {self.max_amount}"
            raise TopologyExperimentError(msg)
        if self.nodes < 2:
            msg = f"payments need two nodes or more, not {self.nodes}"
            raise TopologyExperimentError(msg)

    @classmethod
    def quick(cls, **settings: object) -> TopologyExperiment:
        """The CI preset: 2 seeds, 16 nodes, 100 payments (``settings`` override it)."""
        return cls(**{"seeds": 2, "nodes": 16, "payments": 100, **settings})  # type: ignore[arg-type]

    def seed_values(self) -> tuple[int, ...]:
        """Every seed the experiment runs, the detailed one first."""
        return tuple(range(self.seed, self.seed + self.seeds))

    def runs_planned(self) -> int:
        """How many runs the experiment makes over all seeds."""
        return len(self.plan()) * self.seeds

    def graph(self, topology: str) -> nx.Graph:
        """The topology's graph for these settings (raises a27-netsim's TopologyError if it cannot be built)."""
        params: dict[str, object] = {"m": self.ba_m}
        if topology in ("bottleneck", "bottlenecks"):
            params["bridge_degree"] = self.bridge_degree
        if topology == "bottlenecks":
            params["clusters"] = self.clusters
        if topology == "complete":
            params = {}
        return topology_by_name(topology, self.nodes, self.seed, **params)

    def workload(self) -> tuple[Payment, ...]:
        """The payments every topology carries: random distinct payer and payee, log-uniform amounts."""
        rng = random.Random(f"a27/topology-experiment/{self.seed}")
        low, high = math.log(self.min_amount), math.log(self.max_amount)
        payments = []
        for index in range(self.payments):
            payer, payee = rng.sample(range(self.nodes), 2)
            payments.append(Payment(index, payer, payee, round(math.exp(rng.uniform(low, high)))))
        return tuple(payments)

    def bucket_edges(self) -> tuple[int, ...]:
        """The amount buckets' bounds, low to high (``amount_buckets + 1`` values, log-spaced)."""
        low, high = math.log(self.min_amount), math.log(self.max_amount)
        inner = [round(math.exp(low + (high - low) * step / self.amount_buckets))
                 for step in range(1, self.amount_buckets)]
        return (self.min_amount, *inner, self.max_amount)

    def plan(self) -> tuple[tuple[str, str], ...]:
        """Every run of one seed as (topology, variant): a baseline per topology, a bridge-offline run per shape with
        a bridge."""
        runs = [(topology, BASELINE) for topology in self.topologies]
        runs += [(topology, BRIDGE_OFFLINE) for topology in self.topologies if topology in BOTTLENECK_TOPOLOGIES]
        return tuple(runs)

    def to_dict(self) -> dict[str, object]:
        """The settings as plain data (for reports)."""
        data = attrs.asdict(self)
        data["topologies"] = list(self.topologies)
        data["bucket_edges"] = list(self.bucket_edges())
        return data

    def parameters(self) -> dict[str, object]:
        """
        Every parameter the results depend on, defaults included: the experiment's settings, how the network is built
        and the channel nodes' parameters (fee policy, HTLC limits, routing, retransmissions).
        """
        node = NodeParams(gossip=False)
        return {"experiment": self.to_dict(),
                "network": {"starting_balance": "deposit x (largest degree + 1)", "opens_per_block": OPENS_PER_BLOCK,
                            "message_delivery": "in memory, in order, no latency or loss",
                            "clock_tick_seconds": 1.0, "graph_seed": "the run's seed",
                            "workload_seed": "a27/topology-experiment/<seed>"},
                "channel_node": {name: getattr(node, name) for name in (
                    "policy", "limits", "route", "challenge_period", "funding_window", "min_final_expiry",
                    "claim_margin", "retransmit_interval", "max_retransmits", "max_attempts",
                    "max_forwarded_htlcs_per_peer", "gossip", "defences")}}


@attrs.frozen
class PaymentOutcome:
    """How one payment of a run ended."""

    index: int
    amount: int
    outcome: str
    """``settled``, a failure cause (``no path``, ``insufficient balance``, ``hop offline``, ...), ``endpoint
    offline`` or ``unresolved``."""
    started: float
    ended: float | None
    """Simulated seconds; None if it never ended."""
    hops: int
    """Channels on the settled route; 0 otherwise."""
    fees: int
    attempts: int


@attrs.frozen
class ChannelTrace:
    """One channel's balance over a run: its poorer side's share of the capacity at each sample time."""

    name: str
    """``a-b``: the node numbers of its two ends."""
    bridge: bool
    """Whether one end is a bridge node (an articulation point of the graph)."""
    first_depleted: float | None
    """When its poorer side first fell below the depletion threshold (simulated seconds); None if never."""
    poorer_share: tuple[float, ...]


@attrs.frozen
class TopologyRun:
    """What the experiment keeps of one run: plain data."""

    topology: str
    variant: str
    seed: int
    channels: int
    bridges: tuple[int, ...]
    offline_node: int | None
    offline_time: float | None
    payments: tuple[PaymentOutcome, ...]
    times: tuple[float, ...]
    """Sample times of the balance series (simulated seconds)."""
    traces: tuple[ChannelTrace, ...]
    """The most depleted channels first (``top_channels`` of them), then any bridge channel not among them."""
    bridge_mean_share: tuple[float, ...]
    """The mean poorer-side share of the bridge channels at each sample time (empty without bridges)."""
    other_mean_share: tuple[float, ...]
    """The same for every other channel."""
    depleted: int
    """Channels depleted at some time in the run."""
    bridge_channels: int
    simulated_seconds: float
    messages: int

    @property
    def label(self) -> str:
        """A short human name for progress lines and tables."""
        return self.topology if self.variant == BASELINE else f"{self.topology} ({self.variant})"

    def settled(self) -> list[PaymentOutcome]:
        """The payments that reached their payee."""
        return [payment for payment in self.payments if payment.outcome == SETTLED]

    def success_rate(self, payments: Sequence[PaymentOutcome] | None = None) -> float:
        """The share of ``payments`` (default: all of the run's) that settled."""
        chosen = self.payments if payments is None else payments
        return sum(payment.outcome == SETTLED for payment in chosen) / len(chosen) if chosen else 0.0

    def success_by_bucket(self, edges: Sequence[int]) -> tuple[tuple[int, int], ...]:
        """(settled, payments) per amount bucket; bucket ``k`` holds amounts from ``edges[k]`` below ``edges[k+1]``
        (the last also holds ``edges[-1]``)."""
        counts = [[0, 0] for _ in range(len(edges) - 1)]
        for payment in self.payments:
            bucket = next((k for k in range(len(edges) - 2) if payment.amount < edges[k + 1]), len(edges) - 2)
            counts[bucket][1] += 1
            counts[bucket][0] += payment.outcome == SETTLED
        return tuple((settled, total) for settled, total in counts)

    def failures(self) -> dict[str, int]:
        """Failed payments by cause, most frequent first (ties by name)."""
        counts = Counter(payment.outcome for payment in self.payments if payment.outcome != SETTLED)
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    @property
    def mean_hops(self) -> float:
        """Mean channels per settled payment (0 without any)."""
        settled = self.settled()
        return sum(payment.hops for payment in settled) / len(settled) if settled else 0.0

    @property
    def fees(self) -> int:
        """Fees the payers of settled payments paid to forwarding nodes."""
        return sum(payment.fees for payment in self.settled())

    @property
    def throughput(self) -> float:
        """Settled payments per simulated second, from the first payment until the last one ended."""
        return len(self.settled()) / self.simulated_seconds if self.simulated_seconds else 0.0

    @property
    def bridge_depleted_share(self) -> float:
        """The share of bridge channels depleted at some time (0 without bridge channels)."""
        depleted = sum(trace.bridge and trace.first_depleted is not None for trace in self.traces)
        return depleted / self.bridge_channels if self.bridge_channels else 0.0

    @property
    def other_depleted_share(self) -> float:
        """The share of the other channels depleted at some time."""
        depleted = self.depleted - sum(trace.bridge and trace.first_depleted is not None for trace in self.traces)
        others = self.channels - self.bridge_channels
        return depleted / others if others else 0.0

    def split(self, boundary: int) -> tuple[list[PaymentOutcome], list[PaymentOutcome]]:
        """The payments started before the ``boundary``-th, and the rest."""
        return ([payment for payment in self.payments if payment.index < boundary],
                [payment for payment in self.payments if payment.index >= boundary])


def _poorer_share(network: ChannelNetwork, channels: Sequence[tuple[int, bytes]], capacity: int) -> list[float]:
    shares = []
    for opener, channel_id in channels:
        state = network.nodes[opener].channel(channel_id).state
        shares.append(min(state.balance_a, state.balance_b) / capacity)
    return shares


def _mean_series(samples: Sequence[Sequence[float]], picked: Sequence[int]) -> tuple[float, ...]:
    if not picked:
        return ()
    return tuple(round(sum(row[index] for index in picked) / len(picked), 4) for row in samples)


def run_topology(experiment: TopologyExperiment, topology: str, variant: str = BASELINE) -> TopologyRun:
    """
    Build ``topology``'s channel network and route the workload over it, ``payments_per_second`` a second.

    Between seconds every node's clock ticks once (retransmissions, giving up on silent peers) and every channel's
    balance is sampled. In the ``bridge offline`` variant the shape's bridge node nearest the middle goes offline
    once ``offline_at`` of the payments have started; payments from or to it are then not started.
    """
    if variant not in (BASELINE, BRIDGE_OFFLINE):
        msg = f"variant must be {BASELINE!r} or {BRIDGE_OFFLINE!r}, got {variant!r}"
        raise TopologyExperimentError(msg)
    graph = experiment.graph(topology)
    bridges = tuple(bridge_nodes(graph))
    # The shape's own bridges (those joining clusters) when it has them; a BA graph may have articulation points too.
    designated = tuple(graph.graph.get("bridges", bridges))
    if variant == BRIDGE_OFFLINE and not designated:
        msg = f"topology {topology!r} has no bridge node to take offline"
        raise TopologyExperimentError(msg)
    edges = sorted((min(a, b), max(a, b)) for a, b in graph.edges())
    degree = max(dict(graph.degree()).values())
    balance = experiment.deposit * (degree + 1)
    # One graph shared by every node and no gossip: the announcements' flood would only cost time here.
    network = ChannelNetwork(experiment.nodes, seed=experiment.seed, balance=balance,
                             params=NodeParams(accept_deposit_up_to=balance, gossip=False), graph=ChannelGraph())
    channel_ids = [channel_id for start in range(0, len(edges), OPENS_PER_BLOCK)
                   for channel_id in network.open_edges(edges[start:start + OPENS_PER_BLOCK], experiment.deposit)]
    channels = list(zip((a for a, _ in edges), channel_ids, strict=True))
    capacity = 2 * experiment.deposit
    on_bridge = [a in bridges or b in bridges for a, b in edges]
    offline_node = designated[len(designated) // 2] if variant == BRIDGE_OFFLINE else None
    offline_index = round(experiment.offline_at * experiment.payments)

    started: dict[bytes, tuple[Payment, float]] = {}
    outcomes: dict[int, PaymentOutcome] = {}
    times: list[float] = [0.0]
    samples: list[list[float]] = [_poorer_share(network, channels, capacity)]
    offline_time: float | None = None
    second = 0

    def collect() -> None:
        for payment_hash, (payment, start) in list(started.items()):
            event = network.outcome(payment_hash)
            if event is None:
                continue
            del started[payment_hash]
            if isinstance(event, PaymentSucceeded):
                route = event.route
                outcomes[payment.index] = PaymentOutcome(
                    payment.index, payment.amount, SETTLED, start, network.now, len(route.hops) if route else 0,
                    route.fees if route else 0, event.attempts)
            elif isinstance(event, PaymentFailed):
                outcomes[payment.index] = PaymentOutcome(payment.index, payment.amount, event.failure.cause.label,
                                                         start, network.now, 0, 0, event.attempts)

    def advance() -> None:
        nonlocal second
        second += 1
        network.tick(1.0)
        collect()
        times.append(network.now)
        samples.append(_poorer_share(network, channels, capacity))

    workload = experiment.workload()
    for payment in workload:
        if payment.index and payment.index % experiment.payments_per_second == 0:
            advance()
        if offline_node is not None and payment.index == offline_index:
            network.offline.add(offline_node)
            offline_time = network.now
        if offline_node is not None and offline_node in (payment.payer, payment.payee) and offline_time is not None:
            outcomes[payment.index] = PaymentOutcome(payment.index, payment.amount, ENDPOINT_OFFLINE, network.now,
                                                     None, 0, 0, 0)
            continue
        started[network.pay(payment.payer, payment.payee, payment.amount)] = (payment, network.now)
        collect()
    advance()
    for _ in range(experiment.drain_seconds):
        if not started:
            break
        advance()
    for payment, start in started.values():
        outcomes[payment.index] = PaymentOutcome(payment.index, payment.amount, UNRESOLVED, start, None, 0, 0, 0)
    network.chain.check_invariants()

    series = list(zip(*samples, strict=True))
    first_depleted = [next((time for time, share in zip(times, column, strict=True)
                            if share < experiment.depleted_below), None) for column in series]
    # Most depleted first: the earliest to deplete, then the lowest share at the end.
    order = sorted(range(len(channels)), key=lambda index: (
        first_depleted[index] if first_depleted[index] is not None else math.inf, series[index][-1], index))
    kept = order[:experiment.top_channels]
    kept += [index for index in range(len(channels)) if on_bridge[index] and index not in kept]
    traces = tuple(ChannelTrace(f"{edges[index][0]}-{edges[index][1]}", on_bridge[index], first_depleted[index],
                                tuple(round(share, 4) for share in series[index])) for index in kept)
    ended = [payment.ended for payment in outcomes.values() if payment.ended is not None]
    return TopologyRun(
        topology=topology, variant=variant, seed=experiment.seed, channels=len(channels), bridges=bridges,
        offline_node=offline_node,
        offline_time=offline_time, payments=tuple(outcomes[index] for index in range(len(workload))),
        times=tuple(times), traces=traces,
        bridge_mean_share=_mean_series(samples, [index for index in range(len(channels)) if on_bridge[index]]),
        other_mean_share=_mean_series(samples, [index for index in range(len(channels)) if not on_bridge[index]]),
        depleted=sum(time is not None for time in first_depleted), bridge_channels=sum(on_bridge),
        # A run lasts at least the seconds over which its payments were started.
        simulated_seconds=max([*ended, math.ceil(len(workload) / experiment.payments_per_second)]),
        messages=network.messages)


@attrs.frozen
class SeedSpread:
    """One kind of run (topology and variant) over every seed: success with 95% t intervals across seeds."""

    label: str
    topology: str
    variant: str
    success: MeanInterval
    """The success rate (settled share of all payments) of each seed."""
    success_by_bucket: tuple[MeanInterval | None, ...]
    """The same per amount bucket, over the seeds that had payments in it; None where none had."""
    detectable: float | None
    """The smallest difference in mean success (a share) from another kind of run with as many seeds and the same
    spread that a two-sided two-sample t-test detects with 80% power at the 5% level; None below two seeds."""
    unresolved: int
    """Payments, over all seeds, still pending when their run stopped waiting."""


@attrs.frozen
class OfflineSpread:
    """What taking a bridge offline cost, seed by seed: success of the payments started after the offline point,
    with every node online minus with the bridge offline (the same seed's graph and payments, so paired)."""

    topology: str
    drop: MeanInterval
    detectable: float | None
    """The smallest mean drop a two-sided paired t-test detects with 80% power at the 5% level, given the spread of
    the seeds' drops; None below two seeds."""


@attrs.frozen
class TopologyExperimentResult:
    """Every run of the experiment, over every seed."""

    experiment: TopologyExperiment
    runs: tuple[TopologyRun, ...]

    def example_runs(self) -> list[TopologyRun]:
        """The runs of the first seed, which the report shows in detail, in plan order."""
        return [run for run in self.runs if run.seed == self.experiment.seed]

    def baselines(self) -> list[TopologyRun]:
        """The first seed's runs with every node online, in the experiment's topology order."""
        return [run for run in self.example_runs() if run.variant == BASELINE]

    def offline_pairs(self) -> list[tuple[TopologyRun, TopologyRun]]:
        """(baseline, bridge-offline run) of the first seed for each topology that had a bridge-offline run."""
        baselines = {run.topology: run for run in self.baselines()}
        return [(baselines[run.topology], run) for run in self.example_runs() if run.variant == BRIDGE_OFFLINE]

    def spreads(self) -> list[SeedSpread]:
        """Each kind of run over every seed, in plan order."""
        edges = self.experiment.bucket_edges()
        spreads = []
        for topology, variant in self.experiment.plan():
            runs = [run for run in self.runs if (run.topology, run.variant) == (topology, variant)]
            if not runs:
                continue
            rates = [run.success_rate() for run in runs]
            buckets = [run.success_by_bucket(edges) for run in runs]
            by_bucket = []
            for index in range(len(edges) - 1):
                values = [settled / total for counts in buckets for settled, total in counts[index:index + 1] if total]
                by_bucket.append(mean_interval(values) if values else None)
            spreads.append(SeedSpread(
                label=runs[0].label, topology=topology, variant=variant, success=mean_interval(rates),
                success_by_bucket=tuple(by_bucket),
                detectable=detectable_standardized_difference(len(rates)) * standard_deviation(rates)
                if len(rates) >= 2 else None,
                unresolved=sum(payment.outcome == UNRESOLVED for run in runs for payment in run.payments)))
        return spreads

    def offline_spreads(self) -> list[OfflineSpread]:
        """The success drop after a bridge went offline, per shape with a bridge-offline run, over every seed."""
        found = {(run.topology, run.variant, run.seed): run for run in self.runs}
        spreads = []
        for topology in [topology for topology, variant in self.experiment.plan() if variant == BRIDGE_OFFLINE]:
            drops = []
            for seed in sorted({seed for name, variant, seed in found if name == topology and variant == BRIDGE_OFFLINE
                                and (topology, BASELINE, seed) in found}):
                _, online = found[(topology, BASELINE, seed)].split(self.offline_boundary)
                _, offline = found[(topology, BRIDGE_OFFLINE, seed)].split(self.offline_boundary)
                drops.append(found[(topology, BASELINE, seed)].success_rate(online)
                             - found[(topology, BRIDGE_OFFLINE, seed)].success_rate(offline))
            if not drops:
                continue
            spreads.append(OfflineSpread(
                topology, mean_interval(drops),
                detectable_standardized_difference(len(drops), paired=True) * standard_deviation(drops)
                if len(drops) >= 2 else None))
        return spreads

    @property
    def offline_boundary(self) -> int:
        """The index of the first payment started after the bridge went offline."""
        return round(self.experiment.offline_at * self.experiment.payments)

    def to_dict(self) -> dict[str, object]:
        """The first seed's runs as plain data, with their derived figures; every seed's success rates; the spreads
        across seeds."""
        edges = self.experiment.bucket_edges()
        runs = []
        for run in self.example_runs():
            before, after = run.split(self.offline_boundary)
            runs.append({**attrs.asdict(run), "label": run.label, "success_rate": run.success_rate(),
                         "success_by_bucket": [list(pair) for pair in run.success_by_bucket(edges)],
                         "failures": run.failures(), "mean_hops": run.mean_hops, "fees": run.fees,
                         "throughput": run.throughput,
                         "bridge_depleted_share": run.bridge_depleted_share,
                         "other_depleted_share": run.other_depleted_share,
                         "success_before_offline_point": run.success_rate(before),
                         "success_after_offline_point": run.success_rate(after)})
        seeds = [{"topology": run.topology, "variant": run.variant, "seed": run.seed,
                  "success_rate": run.success_rate(),
                  "success_by_bucket": [list(pair) for pair in run.success_by_bucket(edges)],
                  "failures": run.failures(), "mean_hops": run.mean_hops, "fees": run.fees,
                  "throughput": run.throughput} for run in self.runs]
        return {"experiment": self.experiment.to_dict(), "runs": runs, "seeds": seeds,
                "spreads": [attrs.asdict(spread) for spread in self.spreads()],
                "offline_spreads": [attrs.asdict(spread) for spread in self.offline_spreads()]}


def run_topology_experiment(experiment: TopologyExperiment, progress: RunProgress | None = None) -> \
        TopologyExperimentResult:
    """Run every planned run for every seed in this process: seed by seed, each in plan order."""
    plan = experiment.plan()
    runs = []
    for seed in experiment.seed_values():
        seeded = attrs.evolve(experiment, seed=seed)
        for topology, variant in plan:
            runs.append(run_topology(seeded, topology, variant))
            if progress is not None:
                progress(len(runs), experiment.runs_planned(), f"{runs[-1].label} seed {seed}")
    return TopologyExperimentResult(experiment, tuple(runs))


__all__ = [
    "BASELINE",
    "BOTTLENECK_TOPOLOGIES",
    "BRIDGE_OFFLINE",
    "ENDPOINT_OFFLINE",
    "SETTLED",
    "TOPOLOGIES",
    "UNRESOLVED",
    "ChannelTrace",
    "OfflineSpread",
    "Payment",
    "PaymentOutcome",
    "RunProgress",
    "SeedSpread",
    "TopologyExperiment",
    "TopologyExperimentError",
    "TopologyExperimentResult",
    "TopologyRun",
    "parse_topologies",
    "run_topology",
    "run_topology_experiment",
]
