"""
The Lab 3 topology experiment: the same payments over payment-channel networks of different shapes.

Every topology (a27-netsim's ``complete``, ``ba``, ``bottleneck``, ``bottlenecks``) becomes a channel network: one
channel, both sides depositing the same amount, for every edge of the graph. The same seeded workload (payers,
payees, amounts, order) is then routed over each with the channel layer's real nodes, router and HTLC state machines
(``a27_channels.inprocess.ChannelNetwork``: signed states, one in-memory PoS chain, no IPv8). Each run records how
every payment ended, and how the channels' balances drift while it runs. For the bottleneck shapes a second run
takes a bridge node offline half-way through, and sets beside it what the network split alone predicts. Amounts are
drawn relative to the deposit by default (up to twice one side's deposit, so past the point where a payment no longer
fits on one side of a fresh channel); absolute amounts remain available. As an option, a second run per topology gives
the channels heavy-tailed sizes (Pareto or log-normal, scaled to the same mean deposit). All of it is repeated for
several seeds (each seed its own graph and workload): the first seed's runs are reported in detail, and every seed's
success rates give intervals across seeds.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence

import attrs
import networkx as nx

from a27_channels import ChannelGraph, ChannelNetwork, NodeParams, PaymentFailed, PaymentSucceeded
from a27_netsim.topology import bridge_nodes, topology_by_name

from ..reports.statistics import (
    SHARE,
    MeanInterval,
    detectable_standardized_difference,
    mean_interval,
    standard_deviation,
)

TOPOLOGIES = ("complete", "ba", "bottleneck", "bottlenecks")
RELATIVE = "relative"
"""Amounts drawn as shares of the deposit (``min_share`` to ``max_share``)."""
ABSOLUTE = "absolute"
"""Amounts drawn between ``min_amount`` and ``max_amount``."""
AMOUNT_SCALES = (RELATIVE, ABSOLUTE)
EQUAL = "equal"
"""Every channel gets the same deposit on each side."""
PARETO = "pareto"
"""Channel deposits drawn from a Pareto distribution with shape ``pareto_alpha``, scaled to the mean deposit."""
LOGNORMAL = "lognormal"
"""Channel deposits drawn from a log-normal distribution with ``lognormal_sigma``, scaled to the mean deposit."""
DEPOSIT_DISTRIBUTIONS = (EQUAL, PARETO, LOGNORMAL)
BOTTLENECK_TOPOLOGIES = ("bottleneck", "bottlenecks")
"""The shapes built around bridge nodes; each gets a run with one bridge offline."""
BASELINE = "baseline"
"""A run with every node online."""
BRIDGE_OFFLINE = "bridge offline"
"""A run in which one bridge node goes offline part-way through the payments."""
HEAVY_TAILED = "heavy-tailed deposits"
"""A run with every node online whose channels have heavy-tailed sizes (``deposits``), the same mean deposit."""
SETTLED = "settled"
"""The outcome of a payment that reached its payee."""
ENDPOINT_OFFLINE = "endpoint offline"
"""The outcome of a payment whose payer or payee was offline: it is never started."""
UNRESOLVED = "unresolved"
"""The outcome of a payment still pending when the run gave up waiting."""

MAX_SUPPLY = 2**63
"""The most the genesis may hand out in all (every node's starting balance), well inside a ledger amount's 2**64."""

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


def _above_one(_: object, attribute: attrs.Attribute, value: float) -> None:
    if not value > 1:
        msg = f"{attribute.name} must be above 1 (a Pareto mean is finite only then), got {value}"
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
    """What each side of every channel deposits (the channel's capacity is twice this); with heavy-tailed deposits,
    the mean of what each side deposits."""
    payments: int = attrs.field(default=300, validator=_positive)
    amounts: str = RELATIVE
    """``relative``: amounts between ``min_share`` and ``max_share`` of ``deposit``; ``absolute``: between
    ``min_amount`` and ``max_amount``. Either way log-uniform: many small, a few large."""
    min_share: float = attrs.field(default=1 / 512, validator=_positive)
    max_share: float = attrs.field(default=2.0, validator=_positive)
    """The default reaches twice one side's deposit (a whole channel's capacity): a payment above one side's deposit
    fits on no fresh channel, so success falls there; with 10 buckets every bucket doubles and one edge is the
    deposit."""
    min_amount: int = attrs.field(default=100, validator=_positive)
    max_amount: int = attrs.field(default=40_000, validator=_positive)
    """The absolute range (``amounts="absolute"``)."""
    deposits: str = EQUAL
    """``equal``, or a heavy-tailed distribution of channel sizes (``pareto``, ``lognormal``) run beside it."""
    pareto_alpha: float = attrs.field(default=1.5, validator=_above_one)
    """The Pareto shape: the lower, the heavier the tail (1.5: finite mean, infinite variance)."""
    lognormal_sigma: float = attrs.field(default=1.0, validator=_positive)
    """The standard deviation of the log-normal deposits' logarithm."""
    payments_per_second: int = attrs.field(default=10, validator=_positive)
    """Payments started per simulated second; the nodes' clock (retransmissions, give-ups) ticks once a second."""
    amount_buckets: int = attrs.field(default=10, validator=_positive)
    """Log-spaced amount ranges for the success-by-amount curve and table."""
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
        if self.amounts not in AMOUNT_SCALES:
            msg = f"amounts are {' or '.join(AMOUNT_SCALES)}; got {self.amounts!r}"
            raise TopologyExperimentError(msg)
        if self.deposits not in DEPOSIT_DISTRIBUTIONS:
            msg = f"deposits are {', '.join(DEPOSIT_DISTRIBUTIONS)}; got {self.deposits!r}"
            raise TopologyExperimentError(msg)
        if self.min_amount > self.max_amount:
            msg = f"min_amount {self.min_amount} is above max_amount {self.max_amount}"
            raise TopologyExperimentError(msg)
        if self.min_share > self.max_share:
            msg = f"min_share {self.min_share} is above max_share {self.max_share}"
            raise TopologyExperimentError(msg)
        if self.amounts == RELATIVE and round(self.min_share * self.deposit) < 1:
            msg = f"min_share {self.min_share} of deposit {self.deposit} is below 1"
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

    def amount_range(self) -> tuple[int, int]:
        """The smallest and largest amount: the shares of the deposit, or the absolute bounds."""
        if self.amounts == RELATIVE:
            return round(self.min_share * self.deposit), round(self.max_share * self.deposit)
        return self.min_amount, self.max_amount

    def workload(self) -> tuple[Payment, ...]:
        """The payments every topology carries: random distinct payer and payee, log-uniform amounts."""
        rng = random.Random(f"a27/topology-experiment/{self.seed}")
        low, high = (math.log(bound) for bound in self.amount_range())
        payments = []
        for index in range(self.payments):
            payer, payee = rng.sample(range(self.nodes), 2)
            payments.append(Payment(index, payer, payee, round(math.exp(rng.uniform(low, high)))))
        return tuple(payments)

    def bucket_edges(self) -> tuple[int, ...]:
        """The amount buckets' bounds, low to high (``amount_buckets + 1`` values, log-spaced)."""
        smallest, largest = self.amount_range()
        # Relative edges are spaced from the exact shares, so that an edge falls on the deposit where the shares say.
        low, high = ((math.log(self.min_share * self.deposit), math.log(self.max_share * self.deposit))
                     if self.amounts == RELATIVE else (math.log(smallest), math.log(largest)))
        inner = [round(math.exp(low + (high - low) * step / self.amount_buckets))
                 for step in range(1, self.amount_buckets)]
        return (smallest, *inner, largest)

    def channel_deposits(self, topology: str, channels: int, distribution: str = EQUAL) -> tuple[int, ...]:
        """
        What each side of each of ``channels`` channels deposits: ``deposit`` each with ``equal``; otherwise drawn
        from ``distribution`` (seeded by the seed and the topology) and scaled so that their mean is ``deposit``, so
        the network holds as much liquidity as with equal deposits. Every deposit is at least 1.
        """
        if distribution == EQUAL or channels == 0:
            return (self.deposit,) * channels
        rng = random.Random(f"a27/topology-experiment/deposits/{distribution}/{self.seed}/{topology}")
        if distribution == PARETO:
            draws = [rng.paretovariate(self.pareto_alpha) for _ in range(channels)]
        else:
            draws = [rng.lognormvariate(0.0, self.lognormal_sigma) for _ in range(channels)]
        scale = self.deposit * channels / sum(draws)
        return tuple(max(1, round(draw * scale)) for draw in draws)

    def plan(self) -> tuple[tuple[str, str], ...]:
        """Every run of one seed as (topology, variant): a baseline per topology, a bridge-offline run per shape with
        a bridge, and with heavy-tailed ``deposits`` a run per topology with them."""
        runs = [(topology, BASELINE) for topology in self.topologies]
        runs += [(topology, BRIDGE_OFFLINE) for topology in self.topologies if topology in BOTTLENECK_TOPOLOGIES]
        if self.deposits != EQUAL:
            runs += [(topology, HEAVY_TAILED) for topology in self.topologies]
        return tuple(runs)

    def to_dict(self) -> dict[str, object]:
        """The settings as plain data (for reports)."""
        data = attrs.asdict(self)
        data["topologies"] = list(self.topologies)
        data["bucket_edges"] = list(self.bucket_edges())
        data["amount_range"] = list(self.amount_range())
        return data

    def parameters(self) -> dict[str, object]:
        """
        Every parameter the results depend on, defaults included: the experiment's settings, how the network is built
        and the channel nodes' parameters (fee policy, HTLC limits, routing, retransmissions).
        """
        node = NodeParams(gossip=False)
        return {"experiment": self.to_dict(),
                "network": {"starting_balance": "the largest sum of one node's channel deposits + the deposit",
                            "opens_per_block": OPENS_PER_BLOCK,
                            "deposit_seed": "a27/topology-experiment/deposits/<distribution>/<seed>/<topology>",
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
    fresh_limit: int | None = None
    """The largest amount one route from payer to payee could carry on the channels as opened (the widest path by
    what each side deposited); None if not computed."""
    capacity_limit: int | None = None
    """The largest amount one route could ever carry (the widest path by channel capacity): a payment above it cannot
    settle, whatever the balances; None if not computed."""


def _bucket(amount: int, edges: Sequence[int]) -> int:
    """The amount bucket ``amount`` falls in: ``k`` for ``edges[k] <= amount < edges[k+1]``, the last one closed."""
    return next((k for k in range(len(edges) - 2) if amount < edges[k + 1]), len(edges) - 2)


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
    reachable_after_offline: int | None = None
    """Payments started once the bridge was offline whose payer and payee were both online and in one component of
    the graph without the offline node (None outside the bridge-offline variant)."""

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
            bucket = _bucket(payment.amount, edges)
            counts[bucket][1] += 1
            counts[bucket][0] += payment.outcome == SETTLED
        return tuple((settled, total) for settled, total in counts)

    def within_bound_by_bucket(self, edges: Sequence[int], *, capacity: bool = False) -> tuple[tuple[int, int], ...]:
        """(payments within the bound, payments with a known bound) per amount bucket (as ``success_by_bucket``):
        the bound is the fresh channels' widest route, or with ``capacity`` the widest route by capacity."""
        counts = [[0, 0] for _ in range(len(edges) - 1)]
        for payment in self.payments:
            limit = payment.capacity_limit if capacity else payment.fresh_limit
            if limit is None:
                continue
            bucket = _bucket(payment.amount, edges)
            counts[bucket][1] += 1
            counts[bucket][0] += payment.amount <= limit
        return tuple((within, total) for within, total in counts)

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


def _poorer_share(network: ChannelNetwork, channels: Sequence[tuple[int, bytes]], capacities: Sequence[int]) -> \
        list[float]:
    shares = []
    for (opener, channel_id), capacity in zip(channels, capacities, strict=True):
        state = network.nodes[opener].channel(channel_id).state
        shares.append(min(state.balance_a, state.balance_b) / capacity)
    return shares


def _route_limits(graph: nx.Graph, payments: Sequence[Payment]) -> list[int]:
    """Per payment, the widest path's narrowest ``deposit`` between payer and payee (0 if none joins them)."""
    # In a maximum spanning tree the path between two nodes is a widest path of the graph.
    tree = nx.maximum_spanning_tree(graph, weight="deposit")
    limits = []
    for payment in payments:
        if not nx.has_path(tree, payment.payer, payment.payee):
            limits.append(0)
            continue
        path = nx.shortest_path(tree, payment.payer, payment.payee)
        limits.append(min(tree.edges[a, b]["deposit"] for a, b in itertools.pairwise(path)))
    return limits


def _reachable(graph: nx.Graph, offline: int, payments: Sequence[Payment]) -> int:
    """How many ``payments`` have both ends online and in one component of ``graph`` without node ``offline``."""
    rest = graph.subgraph(node for node in graph if node != offline)
    component = {node: index for index, nodes in enumerate(nx.connected_components(rest)) for node in nodes}
    return sum(payment.payer in component and payment.payee in component
               and component[payment.payer] == component[payment.payee] for payment in payments)


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
    if variant not in (BASELINE, BRIDGE_OFFLINE, HEAVY_TAILED):
        msg = f"variant must be {BASELINE!r}, {BRIDGE_OFFLINE!r} or {HEAVY_TAILED!r}, got {variant!r}"
        raise TopologyExperimentError(msg)
    if variant == HEAVY_TAILED and experiment.deposits == EQUAL:
        msg = f"the {HEAVY_TAILED!r} variant needs deposits pareto or lognormal, not {EQUAL!r}"
        raise TopologyExperimentError(msg)
    graph = experiment.graph(topology)
    bridges = tuple(bridge_nodes(graph))
    # The shape's own bridges (those joining clusters) when it has them; a BA graph may have articulation points too.
    designated = tuple(graph.graph.get("bridges", bridges))
    if variant == BRIDGE_OFFLINE and not designated:
        msg = f"topology {topology!r} has no bridge node to take offline"
        raise TopologyExperimentError(msg)
    edges = sorted((min(a, b), max(a, b)) for a, b in graph.edges())
    deposits = experiment.channel_deposits(topology, len(edges),
                                           experiment.deposits if variant == HEAVY_TAILED else EQUAL)
    held = Counter[int]()
    for (a, b), deposit in zip(edges, deposits, strict=True):
        held[a] += deposit
        held[b] += deposit
    balance = max(held.values(), default=0) + experiment.deposit
    if balance * experiment.nodes >= MAX_SUPPLY:
        msg = (f"{experiment.nodes} nodes starting with {balance:,} each exceed the ledger's supply; use a smaller "
               "deposit or fewer nodes")
        raise TopologyExperimentError(msg)
    # One graph shared by every node and no gossip: the announcements' flood would only cost time here.
    network = ChannelNetwork(experiment.nodes, seed=experiment.seed, balance=balance,
                             params=NodeParams(accept_deposit_up_to=balance, gossip=False), graph=ChannelGraph())
    channel_ids = [channel_id for start in range(0, len(edges), OPENS_PER_BLOCK)
                   for channel_id in network.open_edges(edges[start:start + OPENS_PER_BLOCK],
                                                        deposits[start:start + OPENS_PER_BLOCK])]
    channels = list(zip((a for a, _ in edges), channel_ids, strict=True))
    capacities = [2 * deposit for deposit in deposits]
    widths = nx.Graph()
    widths.add_nodes_from(graph)
    widths.add_edges_from((a, b, {"deposit": deposit}) for (a, b), deposit in zip(edges, deposits, strict=True))
    on_bridge = [a in bridges or b in bridges for a, b in edges]
    offline_node = designated[len(designated) // 2] if variant == BRIDGE_OFFLINE else None
    offline_index = round(experiment.offline_at * experiment.payments)

    started: dict[bytes, tuple[Payment, float]] = {}
    outcomes: dict[int, PaymentOutcome] = {}
    times: list[float] = [0.0]
    samples: list[list[float]] = [_poorer_share(network, channels, capacities)]
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
        samples.append(_poorer_share(network, channels, capacities))

    workload = experiment.workload()
    limits = _route_limits(widths, workload)
    reachable = None
    if offline_node is not None:
        reachable = _reachable(graph, offline_node, workload[offline_index:])
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
    outcomes = {index: attrs.evolve(outcome, fresh_limit=limits[index], capacity_limit=2 * limits[index])
                for index, outcome in outcomes.items()}
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
        messages=network.messages, reachable_after_offline=reachable)


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
    fresh_bound_by_bucket: tuple[float | None, ...] = ()
    """Per amount bucket, the mean over seeds of the share of payments no larger than their fresh channels' widest
    route (what could settle if balances never moved and nothing else failed); None where no seed had payments."""
    capacity_bound_by_bucket: tuple[float | None, ...] = ()
    """The same with the widest route by capacity: a hard upper bound on success for payments on one route."""


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
class OfflinePrediction:
    """
    What the network split alone predicts for the payments started after a bridge went offline, seed by seed: the
    share of them whose payer and payee stay online and in one component, times the same payments' success with
    every node online; beside it the success observed with the bridge offline.
    """

    topology: str
    seeds: tuple[int, ...]
    reachable: tuple[float, ...]
    """Per seed, the share of the payments whose two ends stay online and in one component."""
    baseline: tuple[float, ...]
    """Per seed, the success of the same payments with every node online."""
    predicted: tuple[float, ...]
    observed: tuple[float, ...]
    predicted_mean: MeanInterval
    observed_mean: MeanInterval
    difference: MeanInterval
    """Observed minus predicted, paired by seed (a share; negative: fewer settled than the split predicts)."""


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
                by_bucket.append(mean_interval(values, within=SHARE) if values else None)
            bounds = []
            for capacity in (False, True):
                counts = [run.within_bound_by_bucket(edges, capacity=capacity) for run in runs]
                shares = [[within / total for within, total in (row[index] for row in counts) if total]
                          for index in range(len(edges) - 1)]
                bounds.append(tuple(sum(values) / len(values) if values else None for values in shares))
            spreads.append(SeedSpread(
                label=runs[0].label, topology=topology, variant=variant, success=mean_interval(rates, within=SHARE),
                success_by_bucket=tuple(by_bucket),
                detectable=detectable_standardized_difference(len(rates)) * standard_deviation(rates)
                if len(rates) >= 2 else None,
                unresolved=sum(payment.outcome == UNRESOLVED for run in runs for payment in run.payments),
                fresh_bound_by_bucket=bounds[0], capacity_bound_by_bucket=bounds[1]))
        return spreads

    def heavy_tailed_runs(self) -> list[TopologyRun]:
        """The first seed's runs with heavy-tailed deposits, in the experiment's topology order."""
        return [run for run in self.example_runs() if run.variant == HEAVY_TAILED]

    def offline_predictions(self) -> list[OfflinePrediction]:
        """The split's prediction against the observed success after the offline point, per shape over every seed."""
        found = {(run.topology, run.variant, run.seed): run for run in self.runs}
        predictions = []
        for topology in [topology for topology, variant in self.experiment.plan() if variant == BRIDGE_OFFLINE]:
            seeds, reachable, baseline, observed = [], [], [], []
            for seed in sorted(seed for name, variant, seed in found if name == topology
                               and variant == BRIDGE_OFFLINE and (topology, BASELINE, seed) in found):
                offline = found[(topology, BRIDGE_OFFLINE, seed)]
                _, after = offline.split(self.offline_boundary)
                if offline.reachable_after_offline is None or not after:
                    continue
                _, online = found[(topology, BASELINE, seed)].split(self.offline_boundary)
                seeds.append(seed)
                reachable.append(offline.reachable_after_offline / len(after))
                baseline.append(found[(topology, BASELINE, seed)].success_rate(online))
                observed.append(offline.success_rate(after))
            if not seeds:
                continue
            predicted = [share * success for share, success in zip(reachable, baseline, strict=True)]
            predictions.append(OfflinePrediction(
                topology, tuple(seeds), tuple(reachable), tuple(baseline), tuple(predicted), tuple(observed),
                mean_interval(predicted, within=SHARE), mean_interval(observed, within=SHARE),
                mean_interval([seen - expected for seen, expected in zip(observed, predicted, strict=True)])))
        return predictions

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
                  "throughput": run.throughput, "reachable_after_offline": run.reachable_after_offline}
                 for run in self.runs]
        return {"experiment": self.experiment.to_dict(), "runs": runs, "seeds": seeds,
                "spreads": [attrs.asdict(spread) for spread in self.spreads()],
                "offline_spreads": [attrs.asdict(spread) for spread in self.offline_spreads()],
                "offline_predictions": [attrs.asdict(prediction) for prediction in self.offline_predictions()]}


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
    "ABSOLUTE",
    "AMOUNT_SCALES",
    "BASELINE",
    "BOTTLENECK_TOPOLOGIES",
    "BRIDGE_OFFLINE",
    "DEPOSIT_DISTRIBUTIONS",
    "ENDPOINT_OFFLINE",
    "EQUAL",
    "HEAVY_TAILED",
    "LOGNORMAL",
    "PARETO",
    "RELATIVE",
    "SETTLED",
    "TOPOLOGIES",
    "UNRESOLVED",
    "ChannelTrace",
    "OfflinePrediction",
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
