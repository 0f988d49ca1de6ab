"""
Lab 1 in simulation: validators and light nodes, seeded random transfers, then every node's ledger and a
verdict on agreement and supply.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import attrs

from a27_ledger import Genesis, LedgerSnapshot, SubmissionTimeout
from a27_netsim import Simulation

from ..node import LIGHT, A27Node, SimulatedRuntime, Stores, build_node, introduce_all
from ..scenario import SimScenario
from .common import (
    SETTLE_CHECK_INTERVAL,
    Guests,
    ProgressCallback,
    TransferPhase,
    TransferWorkload,
    guest_neighbours,
    invariants_hold,
    make_genesis,
    make_specs,
    neighbours_for,
    simulate,
)


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
    """Simulated seconds the run took: the duration, the grace, then waiting for every node to agree."""
    grace: float
    """Simulated seconds after the duration until the last transfer in flight then had finished."""
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


class _Workload(TransferWorkload):
    """Seeded random transfers from every light node, each recorded with its verdict and when every node had it."""

    def __init__(self, scenario: SimScenario, nodes: Sequence[A27Node], names: dict[bytes, str],
                 simulation: Simulation) -> None:
        super().__init__(scenario, nodes, names, simulation)
        self.nodes = nodes
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

    def balance(self, node: A27Node, account: bytes) -> int:
        """The balance in the node's ledger."""
        return node.ledger.state.balance(account)

    async def send(self, node: A27Node, recipient: bytes, amount: int) -> None:
        """Submit the transfer to the validators and record their verdict (or the timeout)."""
        loop = asyncio.get_running_loop()
        submitted_at = loop.time()
        try:
            outcome = await node.ledger.transfer(recipient, amount, fee=self.scenario.fee)
        except SubmissionTimeout as timeout:
            self.records.append(TransferRecord(node.name, self.names[recipient], amount, submitted_at, False,
                                               -1, str(timeout), loop.time() - submitted_at, None))
            return
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


def _all_agree(nodes: Sequence[A27Node]) -> bool:
    digests = {node.ledger.state.snapshot().digest() for node in nodes}
    return len(digests) == 1 and all(node.ledger.replica.waiting == 0 for node in nodes)


async def _run(scenario: SimScenario, simulation: Simulation, progress: ProgressCallback | None,
               guests: Guests | None) -> Lab1Result:
    lab_specs = make_specs(scenario, simulation)
    specs = lab_specs + (guests.specs(simulation, scenario) if guests is not None else [])
    genesis = make_genesis(scenario, specs)
    names = {spec.key.public_key: spec.name for spec in specs}
    stores = Stores(scenario.db)
    runtime = SimulatedRuntime(simulation.network)
    nodes = [await build_node(spec, genesis, runtime, stores=stores,
                              settings=guests.settings(spec) if guests is not None else None) for spec in specs]
    neighbours = neighbours_for(scenario, len(specs))
    introduce_all(nodes, guest_neighbours(neighbours, specs, len(lab_specs)) if guests is not None else neighbours)
    loop = asyncio.get_running_loop()
    phase = TransferPhase(scenario, simulation, nodes, progress)
    start, stop_at = phase.start, phase.stop_at
    lab_nodes = nodes[:len(lab_specs)]
    workload = _Workload(scenario, lab_nodes, names, simulation)
    workers = [workload.run_light_node(node, stop_at) for node in lab_nodes if node.spec.role == LIGHT]
    if guests is not None:
        workers.append(guests.run(nodes, start, stop_at))
    await phase.run_workload(*workers)
    settled_at = None
    deadline = stop_at + scenario.settle_timeout
    while loop.time() < deadline:
        if _all_agree(nodes):
            settled_at = loop.time() - start
            break
        await asyncio.sleep(SETTLE_CHECK_INTERVAL)
    phase.finish()
    reports = []
    supply_ok = True
    for node in nodes:
        state = node.ledger.state
        if not invariants_hold(state.check_invariants):
            supply_ok = False
        snapshot = state.snapshot()
        reports.append(NodeReport(node.name, node.spec.role, snapshot.applied, snapshot.digest().hex(),
                                  node.ledger.replica.waiting, len(node.ledger.replica.conflicts),
                                  dict(sorted(node.ledger.drops.items())), snapshot))
    end_time = loop.time() - start
    network_summary = simulation.network.stats.summary()
    if guests is not None:
        guests.finish(nodes)
    for node in nodes:
        await node.stop()
    differing = ledger_disagreement(reports)
    supply_ok = supply_ok and all(report.snapshot.total_supply == genesis.total_supply for report in reports)
    return Lab1Result(scenario, genesis, names, workload.finished_records(), tuple(reports), not differing,
                      settled_at, supply_ok, end_time, phase.grace, network_summary)


def run_lab1(scenario: SimScenario, progress: ProgressCallback | None = None,
             guests: Guests | None = None) -> Lab1Result:
    """
    Run Lab 1 in simulation: deterministic for a given scenario (seed included).

    ``guests`` adds nodes beyond the lab's (see ``Guests``); the lab's transfers and verdicts (``transfers``) are the
    lab's nodes' only, while ``nodes`` reports every node, guests last.
    """
    return simulate(scenario, lambda simulation: _run(scenario, simulation, progress, guests))
