"""
Lab 1 in simulation: validators and light nodes, seeded random transfers, then every node's ledger and a
verdict on agreement and supply.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections import Counter
from collections.abc import Callable, Sequence

import attrs

from a27_ledger import Genesis, KeyPair, LedgerSnapshot, SubmissionTimeout
from a27_netsim import SimulatedNetwork, Simulation, parse_latency, topology_by_name

from .node import (
    LIGHT,
    VALIDATOR,
    A27Node,
    NodeSpec,
    SimulatedRuntime,
    Stores,
    build_node,
    introduce_all,
)
from .output import ProgressCallback, start_progress
from .scenario import SimScenario

CHAIN_ID = "a27-sim"
SETTLE_CHECK_INTERVAL = 0.5



@attrs.frozen
class TransferRecord:
    """One transfer a light node attempted, and what became of it."""

    sender: str
    recipient: str
    amount: int
    submitted_at: float
    accepted: bool
    code: int
    reason: str
    verdict_latency: float
    everywhere_latency: float | None
    """Seconds from submission until every node had applied it (accepted transfers only)."""


@attrs.frozen
class NodeReport:
    """One node's ledger at the end of the run."""

    name: str
    role: str
    applied: int
    digest: str
    waiting: int
    conflicts: int
    drops: dict[str, int]
    snapshot: LedgerSnapshot = attrs.field(repr=False)


@attrs.frozen
class Lab1Result:
    """Everything a Lab 1 run produced."""

    scenario: SimScenario
    genesis: Genesis
    names: dict[bytes, str]
    transfers: tuple[TransferRecord, ...]
    nodes: tuple[NodeReport, ...]
    agreed: bool
    """Whether every node holds the reference node's ledger (see ``ledger_disagreement``)."""
    settled_at: float | None
    """Simulated time at which every node held the same ledger (None if they never did)."""
    supply_ok: bool
    end_time: float
    network: dict[str, object]

    @property
    def reference(self) -> NodeReport:
        """The ledger every node should hold: the first validator's."""
        return self.nodes[0]

    @property
    def differing(self) -> tuple[str, ...]:
        """Nodes whose ledger differs from the reference node's, or that still wait for log entries."""
        return ledger_disagreement(self.nodes)


def ledger_disagreement(reports: Sequence[NodeReport]) -> tuple[str, ...]:
    """
    The nodes whose ledger is not the first node's (the reference), in the order given.

    Ledgers are compared by their snapshot digest, which covers every balance and nonce (and escrows, records,
    supply and the count of applied transactions); a node that still holds log entries waiting for earlier ones has
    not settled and counts as differing too. Empty when every node agrees.
    """
    if not reports:
        return ()
    reference = reports[0].digest
    return tuple(report.name for report in reports if report.digest != reference or report.waiting)


class _Workload:
    """Seeded random transfers from every light node, one at a time per node."""

    def __init__(self, scenario: SimScenario, nodes: Sequence[A27Node], names: dict[bytes, str],
                 simulation: Simulation) -> None:
        self.scenario = scenario
        self.nodes = nodes
        self.names = names
        self.simulation = simulation
        self.accounts = sorted(node.spec.key.public_key for node in nodes)
        self.records: list[TransferRecord] = []
        self._pending: dict[bytes, tuple[float, int]] = {}
        self._everywhere: dict[bytes, float] = {}
        self._applied_count: Counter[bytes] = Counter()
        for node in nodes:
            node.ledger.applied_listeners.append(self._on_applied)

    def _on_applied(self, receipt: object) -> None:
        tx_id = receipt.tx.tx_id  # type: ignore[attr-defined]
        self._applied_count[tx_id] += 1
        if self._applied_count[tx_id] == len(self.nodes):
            self._everywhere[tx_id] = asyncio.get_running_loop().time()
            del self._applied_count[tx_id]

    async def run_light_node(self, node: A27Node, stop_at: float) -> None:
        rng = self.simulation.streams.stream(f"workload/{node.name}")
        loop = asyncio.get_running_loop()
        ledger = node.ledger
        me = node.spec.key.public_key
        while True:
            await asyncio.sleep(rng.expovariate(1.0 / self.scenario.transfer_interval))
            if loop.time() >= stop_at:
                return
            recipient, amount = draw_transfer(rng, self.scenario, self.accounts, me, ledger.state.balance)
            submitted_at = loop.time()
            try:
                outcome = await ledger.transfer(recipient, amount, fee=self.scenario.fee)
            except SubmissionTimeout as timeout:
                self.records.append(TransferRecord(node.name, self.names[recipient], amount, submitted_at, False,
                                                   -1, str(timeout), loop.time() - submitted_at, None))
                continue
            if outcome.accepted:
                self._pending[outcome.tx_id] = (submitted_at, len(self.records))
            self.records.append(TransferRecord(node.name, self.names[recipient], amount, submitted_at,
                                               outcome.accepted, outcome.code, outcome.reason, outcome.latency, None))

    def finished_records(self) -> tuple[TransferRecord, ...]:
        records = list(self.records)
        for tx_id, (submitted_at, index) in self._pending.items():
            done = self._everywhere.get(tx_id)
            if done is not None:
                records[index] = attrs.evolve(records[index], everywhere_latency=max(0.0, done - submitted_at))
        return tuple(records)


def draw_transfer(rng: random.Random, scenario: SimScenario, accounts: Sequence[bytes], me: bytes,
                  balance_of: Callable[[bytes], int]) -> tuple[bytes, int]:
    """A light node's next seeded transfer: another account, and an amount (an overdraft now and then, on purpose)."""
    recipient = rng.choice([account for account in accounts if account != me])
    balance = balance_of(me)
    if rng.random() < scenario.overdraft_probability:
        return recipient, balance + rng.randint(1, 1000)
    return recipient, rng.randint(1, max(1, balance // 10))


def make_specs(scenario: SimScenario, simulation: Simulation) -> list[NodeSpec]:
    """Validators v0.. and light nodes l0.., with keys drawn from the seeded ``keys`` stream."""
    rng = simulation.streams.stream("keys")
    specs = [NodeSpec(f"v{i}", KeyPair.generate(rng), VALIDATOR) for i in range(scenario.validators)]
    specs += [NodeSpec(f"l{i}", KeyPair.generate(rng), LIGHT) for i in range(scenario.light_nodes)]
    return specs


def make_genesis(scenario: SimScenario, specs: Sequence[NodeSpec]) -> Genesis:
    """Every account starts with the scenario's balance; the validator nodes are the validators."""
    return Genesis.build(CHAIN_ID, {spec.key.public_key: scenario.initial_balance for spec in specs},
                         [spec.key.public_key for spec in specs if spec.role == VALIDATOR],
                         names={spec.key.public_key: spec.name for spec in specs})


def neighbours_for(scenario: SimScenario, node_count: int) -> Callable[[int], list[int]]:
    """Validators (the first nodes) know everyone; light nodes know each other as the topology says."""
    validator_count = scenario.validators
    graph = topology_by_name(scenario.topology, scenario.light_nodes, scenario.seed)

    def neighbours(index: int) -> list[int]:
        everyone_validates = list(range(validator_count))
        if index < validator_count:
            return list(range(node_count))
        light = index - validator_count
        return everyone_validates + [validator_count + other for other in sorted(graph.neighbors(light))]
    return neighbours


def schedule_faults(scenario: SimScenario, network: SimulatedNetwork, nodes: Sequence[A27Node], start: float) -> None:
    """Schedule the scenario's faults on the simulated network, each ``fault.at`` seconds after ``start``."""
    address = {node.name: node.address for node in nodes}
    loop = network.loop
    for fault in scenario.faults:
        at = start + fault.at
        if fault.action == "partition":
            groups = scenario.partition_groups(fault)
            network.partition([[address[name] for name in group] for group in groups], at=at)
        elif fault.action == "heal":
            network.heal(at=at)
        elif fault.action in ("down", "up"):
            switch = network.set_down if fault.action == "down" else network.set_up
            for selector in fault.nodes:
                for name in scenario.select(selector):
                    switch(address[name], at=at)
        elif fault.between is None:
            loop.call_at(at, setattr, network, "loss", fault.loss)
        else:
            ends = [scenario.select(selector) for selector in fault.between]
            for one in ends[0]:
                for other in ends[1]:
                    if one != other:
                        loop.call_at(at, network.set_link_loss, address[one], address[other], fault.loss)


def _all_agree(nodes: Sequence[A27Node]) -> bool:
    digests = {node.ledger.state.snapshot().digest() for node in nodes}
    return len(digests) == 1 and all(node.ledger.replica.waiting == 0 for node in nodes)


async def _run(scenario: SimScenario, simulation: Simulation, progress: ProgressCallback | None) -> Lab1Result:
    specs = make_specs(scenario, simulation)
    genesis = make_genesis(scenario, specs)
    names = {spec.key.public_key: spec.name for spec in specs}
    stores = Stores(scenario.db)
    runtime = SimulatedRuntime(simulation.network)
    nodes = [await build_node(spec, genesis, runtime, stores=stores) for spec in specs]
    introduce_all(nodes, neighbours_for(scenario, len(specs)))
    loop = asyncio.get_running_loop()
    planned = scenario.duration + scenario.settle_timeout
    start = loop.time()
    schedule_faults(scenario, simulation.network, nodes, start)
    stop_at = start + scenario.duration
    ticking = start_progress(progress, scenario.duration, planned)
    workload = _Workload(scenario, nodes, names, simulation)
    await asyncio.gather(*(workload.run_light_node(node, stop_at) for node in nodes if node.spec.role == LIGHT))
    settled_at = None
    deadline = stop_at + scenario.settle_timeout
    while loop.time() < deadline:
        if _all_agree(nodes):
            settled_at = loop.time() - start
            break
        await asyncio.sleep(SETTLE_CHECK_INTERVAL)
    ticking.cancel()
    if progress is not None:
        progress(planned, planned, "done")
    reports = []
    supply_ok = True
    for node in nodes:
        state = node.ledger.state
        try:
            state.check_invariants()
        except Exception:
            supply_ok = False
        snapshot = state.snapshot()
        reports.append(NodeReport(node.name, node.spec.role, snapshot.applied, snapshot.digest().hex(),
                                  node.ledger.replica.waiting, len(node.ledger.replica.conflicts),
                                  dict(sorted(node.ledger.drops.items())), snapshot))
    end_time = loop.time() - start
    network_summary = simulation.network.stats.summary()
    for node in nodes:
        await node.stop()
    differing = ledger_disagreement(reports)
    supply_ok = supply_ok and all(report.snapshot.total_supply == genesis.total_supply for report in reports)
    return Lab1Result(scenario, genesis, names, workload.finished_records(), tuple(reports), not differing,
                      settled_at, supply_ok, end_time, network_summary)


def run_lab1(scenario: SimScenario, progress: ProgressCallback | None = None) -> Lab1Result:
    """Run Lab 1 in simulation: deterministic for a given scenario (seed included)."""
    simulation = Simulation(seed=scenario.seed, latency=parse_latency(scenario.latency), loss=scenario.loss)
    try:
        return simulation.run(_run(scenario, simulation, progress))
    finally:
        simulation.close()


def latency_summary(values: Sequence[float]) -> dict[str, float]:
    """Median, 95th percentile and maximum of a list of latencies (empty dict for no values)."""
    if not values:
        return {}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": statistics.median(ordered), "p95": p95, "max": ordered[-1]}
