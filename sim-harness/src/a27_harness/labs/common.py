"""
What the labs share: the node set and genesis of a run, the light nodes' seeded transfer loop, network faults,
watching the chain, waiting for it to settle, and progress over simulated time.

No lab imports another lab; each takes what it shares with the others from here.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import random
import statistics
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Protocol, TypeVar

import attrs

from a27_ledger import Genesis, KeyPair, LedgerSnapshot, Receipt
from a27_netsim import SimulatedNetwork, Simulation, derive_seed, parse_latency, topology_by_name
from a27_pos import Block, CommitCertificate, PosGenesis, PosParams

from ..node import LIGHT, VALIDATOR, A27Node, LayerSettings, NodeSpec
from ..scenario import SimScenario

CHAIN_ID = "a27-sim"
"""The chain id of every simulated run's genesis."""
SETTLE_CHECK_INTERVAL = 0.5
"""Simulated seconds between two checks of whether the nodes have settled."""
TRANSFER_TIMEOUT = 60.0
"""Simulated seconds a light node waits for its transfer to become final (PoS) before counting it timed out. No
transfer starts after the run's duration; those in flight then finish within this grace, plus the layer's
submission retries (``submit_attempts`` times ``retry_interval``) for one that no validator answers."""

ProgressCallback = Callable[[float, float, str], None]
"""Called with (simulated seconds done, simulated seconds planned, phase)."""

Result = TypeVar("Result")


class Guests(Protocol):
    """
    Nodes a caller adds to a lab's run besides the lab's own, and what they do (the attack runner uses it; the labs
    know nothing of attacks). The lab's workload neither sends from nor to them; they are built after the lab's
    nodes, with keys the caller draws from its own stream, so the lab's nodes, keys and workload stay the same.
    """

    def specs(self, simulation: Simulation, scenario: SimScenario) -> list[NodeSpec]:
        """The guest nodes (their layers are set by the lab)."""
        ...

    def settings(self, spec: NodeSpec) -> LayerSettings:
        """Layer settings of node ``spec`` (any node of the run, the lab's own included)."""
        ...

    async def run(self, nodes: Sequence[A27Node], start: float, stop_at: float) -> None:
        """Runs alongside the workload (``nodes`` are the lab's nodes, then the guests); the run waits for it."""
        ...

    def finish(self, nodes: Sequence[A27Node]) -> None:
        """Called when the run has settled, before the nodes stop."""
        ...

    def validator_stakes(self, scenario: SimScenario) -> Sequence[int] | None:
        """The stake each guest validator bonds in a PoS genesis (in ``specs`` order); None: the default."""
        ...


def guest_neighbours(neighbours: Callable[[int], list[int]], specs: Sequence[NodeSpec],
                     lab_nodes: int) -> Callable[[int], list[int]]:
    """
    ``neighbours`` (of the lab's first ``lab_nodes`` nodes) extended to guest nodes after them: a guest light node
    knows every validator, a guest validator every node; a lab validator also knows every guest, and a lab light node
    every guest validator.
    """
    guests = range(lab_nodes, len(specs))
    guest_validators = [index for index in guests if specs[index].role == VALIDATOR]
    validators = [index for index, spec in enumerate(specs) if spec.role == VALIDATOR]

    def extended(index: int) -> list[int]:
        if index >= lab_nodes:
            return [other for other in range(len(specs)) if other != index] if specs[index].role == VALIDATOR \
                else validators
        known = neighbours(index)
        added = guests if specs[index].role == VALIDATOR else guest_validators
        return [*known, *(other for other in added if other not in known)]
    return extended


def start_progress(progress: ProgressCallback | None, busy_until: float, planned: float) -> asyncio.Task[None]:
    """Report progress every simulated second: phase ``transfers`` until ``busy_until`` seconds, then ``settling``."""
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def tick() -> None:
        while True:
            if progress is not None:
                done = loop.time() - start
                progress(min(done, planned), planned, "transfers" if done < busy_until else "settling")
            await asyncio.sleep(1.0)

    return loop.create_task(tick(), name="progress")


class TransferPhase:
    """
    The workload phase of a run, started now: the scenario's faults are scheduled from its start, transfers run
    until ``stop_at`` (``duration`` later), and progress is reported every simulated second until ``finish``.
    """

    def __init__(self, scenario: SimScenario, simulation: Simulation, nodes: Sequence[A27Node],
                 progress: ProgressCallback | None) -> None:
        """Start the phase on the running loop's clock."""
        loop = asyncio.get_running_loop()
        self.progress = progress
        self.planned = scenario.duration + scenario.settle_timeout
        self.start = loop.time()
        schedule_faults(scenario, simulation.network, nodes, self.start)
        self.stop_at = self.start + scenario.duration
        self.grace = 0.0
        """Simulated seconds after the duration until the last transfer in flight then had finished."""
        self._ticking = start_progress(progress, scenario.duration, self.planned)

    async def run_workload(self, *workers: Awaitable[None]) -> None:
        """
        Run the workload's ``workers`` (each stops starting transfers at ``stop_at``, see ``repeat_until``) until all
        have returned, and note how long after ``stop_at`` the last one did (``grace``).
        """
        await asyncio.gather(*workers)
        self.grace = max(0.0, asyncio.get_running_loop().time() - self.stop_at)

    def finish(self) -> None:
        """Stop reporting progress, and report the run done."""
        self._ticking.cancel()
        if self.progress is not None:
            self.progress(self.planned, self.planned, "done")


def simulate(scenario: SimScenario, run: Callable[[Simulation], Coroutine[Any, Any, Result]]) -> Result:
    """Run ``run(simulation)`` on a simulation seeded, delayed and made lossy as the scenario says; then close it."""
    simulation = Simulation(seed=scenario.seed, latency=parse_latency(scenario.latency), loss=scenario.loss)
    try:
        return simulation.run(run(simulation))
    finally:
        simulation.close()


def make_specs(scenario: SimScenario, simulation: Simulation) -> list[NodeSpec]:
    """Validators v0.. and light nodes l0.., with keys drawn from the seeded ``keys`` stream."""
    rng = simulation.streams.stream("keys")
    specs = [NodeSpec(f"v{i}", KeyPair.generate(rng), VALIDATOR) for i in range(scenario.validators)]
    specs += [NodeSpec(f"l{i}", KeyPair.generate(rng), LIGHT) for i in range(scenario.light_nodes)]
    return specs


def with_layers(specs: Sequence[NodeSpec], layers: tuple[str, ...]) -> list[NodeSpec]:
    """The same nodes, each running ``layers``."""
    return [attrs.evolve(spec, layers=layers) for spec in specs]


def make_genesis(scenario: SimScenario, specs: Sequence[NodeSpec]) -> Genesis:
    """Every account starts with the scenario's balance; the validator nodes are the validators."""
    return Genesis.build(CHAIN_ID, {spec.key.public_key: scenario.initial_balance for spec in specs},
                         [spec.key.public_key for spec in specs if spec.role == VALIDATOR],
                         names={spec.key.public_key: spec.name for spec in specs})


def make_pos_genesis(scenario: SimScenario, specs: Sequence[NodeSpec],
                     guest_stakes: Sequence[int] | None = None) -> PosGenesis:
    """
    Every account starts with the scenario's balance; validators also bond their stake (those after the
    scenario's ``validators``, a caller's guests, ``guest_stakes`` if given, else the smallest of the scenario's).
    """
    validators = [spec for spec in specs if spec.role == VALIDATOR]
    lab_stakes = scenario.validator_stakes()
    # Validators beyond the scenario's (a caller's guests, see ``Guests``) bond the smallest stake of the scenario's.
    extra = len(validators) - len(lab_stakes)
    chosen = tuple(guest_stakes) if guest_stakes is not None else (min(lab_stakes),) * extra
    if len(chosen) != extra or any(stake <= 0 for stake in chosen):
        msg = f"guest stakes {chosen} do not give each of the {extra} guest validators a positive stake"
        raise ValueError(msg)
    all_stakes = lab_stakes + chosen
    stakes = dict(zip((spec.key.public_key for spec in validators), all_stakes, strict=True))
    params = scenario.pos_params(PosParams(block_reward=scenario.block_reward, proposer_strategy=scenario.proposer))
    return PosGenesis.build(CHAIN_ID, {spec.key.public_key: scenario.initial_balance for spec in specs}, stakes,
                            params=params, names={spec.key.public_key: spec.name for spec in specs})


def light_node_validators(scenario: SimScenario) -> list[tuple[int, ...]]:
    """
    The validators (by index) each light node is introduced to under PoS: ``validators_per_light_node`` of them.

    With no more validators than that, every light node knows all of them. Otherwise the validators are put in a
    seeded order and each light node takes the next ``validators_per_light_node`` of them around that circle, so that
    every validator is followed by the same number of light nodes, give or take one.
    """
    count, per_node = scenario.validators, scenario.validators_per_light_node
    if per_node >= count:
        return [tuple(range(count))] * scenario.light_nodes
    order = list(range(count))
    random.Random(derive_seed(scenario.seed, "light-node validators")).shuffle(order)
    return [tuple(sorted(order[(light * per_node + offset) % count] for offset in range(per_node)))
            for light in range(scenario.light_nodes)]


def neighbours_for(scenario: SimScenario, node_count: int) -> Callable[[int], list[int]]:
    """
    Who each node is introduced to (nodes are the validators first, then the light nodes), in index order.

    Light nodes know each other as the topology says in Lab 1 and Lab 3; in Lab 2 (pos without channels) light nodes
    talk only to validators and know no other light node. With the ledger alone (Lab 1) validators know everyone and
    every light node knows every validator. With the pos layer a light node knows the validators
    ``light_node_validators`` gives it, and a validator knows every validator and the light nodes that follow it.
    """
    validator_count = scenario.validators
    # Under PoS without channels (Lab 2) light nodes talk only to validators: no light-to-light links to keep.
    light_links = not scenario.uses_pos or scenario.uses_channels
    graph = topology_by_name(scenario.topology, scenario.light_nodes, scenario.seed) if light_links else None
    everyone_validates = tuple(range(validator_count))
    followed = light_node_validators(scenario) if scenario.uses_pos else [everyone_validates] * scenario.light_nodes
    followers: list[list[int]] = [[] for _ in range(validator_count)]
    for light, validators in enumerate(followed):
        for validator in validators:
            followers[validator].append(validator_count + light)

    def neighbours(index: int) -> list[int]:
        if index < validator_count:
            if not scenario.uses_pos:
                return list(range(node_count))
            return [*everyone_validates, *followers[index]]
        light = index - validator_count
        if graph is None:
            return list(followed[light])
        return [*followed[light], *(validator_count + other for other in sorted(graph.neighbors(light)))]
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


def draw_transfer(rng: random.Random, scenario: SimScenario, accounts: Sequence[bytes], me: bytes,
                  balance_of: Callable[[bytes], int]) -> tuple[bytes, int]:
    """A light node's next seeded transfer: another account, and an amount (an overdraft now and then, on purpose)."""
    recipient = rng.choice([account for account in accounts if account != me])
    balance = balance_of(me)
    if rng.random() < scenario.overdraft_probability:
        return recipient, balance + rng.randint(1, 1000)
    return recipient, rng.randint(1, max(1, balance // 10))


async def repeat_until(stop_at: float, wait: Callable[[], float], step: Callable[[], Awaitable[None]]) -> None:
    """
    Wait ``wait()`` seconds, then run ``step``, again and again, starting no step at or after ``stop_at``.

    A wait that would end at or after ``stop_at`` is cut short there, so the caller returns at ``stop_at`` (or when
    the step in flight then finishes), not at the end of a pause drawn before it.
    """
    loop = asyncio.get_running_loop()
    while True:
        delay = wait()
        if loop.time() + delay >= stop_at:
            await asyncio.sleep(max(0.0, stop_at - loop.time()))
            return
        await asyncio.sleep(delay)
        await step()


class TransferWorkload(abc.ABC):
    """
    Seeded random transfers from every light node, one at a time per node, until a stop time; each lab says how
    one transfer is sent and recorded (``send``) and where a node reads its balance (``balance``).

    A node's random stream is ``workload/<name>``: after an exponential pause (mean ``transfer_interval``) it draws
    the next transfer with ``draw_transfer``.
    """

    def __init__(self, scenario: SimScenario, nodes: Sequence[A27Node], names: dict[bytes, str],
                 simulation: Simulation) -> None:
        """Send among every node's account; ``names`` names accounts in the records."""
        self.scenario = scenario
        self.names = names
        self.simulation = simulation
        self.accounts = sorted(node.spec.key.public_key for node in nodes)

    @abc.abstractmethod
    def balance(self, node: A27Node, account: bytes) -> int:
        """The balance of ``account`` as ``node`` sees it now."""

    @abc.abstractmethod
    async def send(self, node: A27Node, recipient: bytes, amount: int) -> None:
        """Send one transfer from ``node`` and record what became of it."""

    async def run_light_node(self, node: A27Node, stop_at: float) -> None:
        """The node's seeded transfers until the loop's clock reaches ``stop_at``."""
        rng = self.simulation.streams.stream(f"workload/{node.name}")
        me = node.spec.key.public_key

        async def one_transfer() -> None:
            balance_of = functools.partial(self.balance, node)
            await self.send(node, *draw_transfer(rng, self.scenario, self.accounts, me, balance_of))

        await repeat_until(stop_at, lambda: rng.expovariate(1.0 / self.scenario.transfer_interval), one_transfer)


async def wait_for_heights(nodes: Sequence[A27Node], timeout: float, watcher: ChainWatcher | None = None) -> int:
    """
    Wait (at most ``timeout`` seconds) until every node holds the highest validator's chain height; return it.

    ``watcher`` (if given) records every node's ledger digest at that height, from now on.
    """
    loop = asyncio.get_running_loop()
    target = max(node.pos.chain.height for node in nodes if node.spec.role == VALIDATOR)
    if watcher is not None:
        watcher.watch(target)
    deadline = loop.time() + timeout
    while loop.time() < deadline and min(node.pos.chain.height for node in nodes) < target:
        await asyncio.sleep(SETTLE_CHECK_INTERVAL)
    return target


class ChainWatcher:
    """
    Records, for every node, when it applied each height and which block it was; the first node's ledger snapshot
    at every height; and every node's ledger digest at the watched height (see ``watch``).

    A digest covers every account, so taking one per node per block would cost O(N) per node and O(N^2) per block
    in all; the run compares the nodes at one height, the one it settles on, and only that one is taken.
    """

    def __init__(self, nodes: Sequence[A27Node], clock: Callable[[], float] | None = None) -> None:
        """Listen to every node's commits; ``clock`` (default: the loop's) is the nodes' PoS clock."""
        self.clock = clock
        self.nodes = tuple(nodes)
        self.applied_at: dict[str, dict[int, float]] = {node.name: {} for node in nodes}
        self.digests: dict[str, dict[int, bytes]] = {node.name: {} for node in nodes}
        self.block_ids: dict[str, dict[int, bytes]] = {node.name: {} for node in nodes}
        self.snapshots: dict[int, LedgerSnapshot] = {}
        self.watched: int | None = None
        """The height at which every node's digest is recorded (None until ``watch``)."""
        for index, node in enumerate(nodes):
            node.pos.commit_listeners.append(self._listener(node, keep_snapshots=index == 0))

    def watch(self, height: int) -> None:
        """Record every node's ledger digest at ``height``: now for the nodes that hold it, else when they apply it."""
        self.watched = height
        for node in self.nodes:
            if node.pos.chain.height == height:
                self.digests[node.name].setdefault(height, node.pos.chain.state.snapshot().digest())

    def _listener(self, node: A27Node, keep_snapshots: bool):  # type: ignore[no-untyped-def]
        name = node.name

        def on_commit(block: Block, _certificate: CommitCertificate, _receipts: Sequence[Receipt]) -> None:
            height = block.header.height
            self.applied_at[name][height] = asyncio.get_running_loop().time() if self.clock is None else self.clock()
            self.block_ids[name][height] = block.block_id
            if keep_snapshots or height == self.watched:
                snapshot = node.pos.chain.state.snapshot()
                if keep_snapshots:
                    self.snapshots[height] = snapshot
                if height == self.watched:
                    self.digests[name][height] = snapshot.digest()
        return on_commit


def invariants_hold(check: Callable[[], None]) -> bool:
    """Whether ``check`` (a state's or chain's ``check_invariants``) passes; any error it raises means it does not."""
    try:
        check()
    except Exception:
        return False
    return True


def latency_summary(values: Sequence[float]) -> dict[str, float]:
    """Median, 95th percentile and maximum of a list of latencies (empty dict for no values)."""
    if not values:
        return {}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": statistics.median(ordered), "p95": p95, "max": ordered[-1]}
