"""
Lab 2 in simulation: validators decide blocks by stake-weighted consensus, light nodes send transfers and wait
for them to be final, and every node must hold the same finalized chain and the same ledger.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from collections.abc import Sequence

import attrs

from a27_ledger import LedgerSnapshot, NoValidator, SubmissionTimeout
from a27_netsim import Simulation
from a27_pos import STAKE, PosGenesis, TransactionRefused, sign_bond

from ..node import (
    LIGHT,
    VALIDATOR,
    A27Node,
    LayerSettings,
    NodeSpec,
    SimulatedRuntime,
    Stores,
    build_node,
    introduce_all,
)
from ..scenario import SimScenario
from .common import (
    TRANSFER_TIMEOUT,
    ChainWatcher,
    Guests,
    ProgressCallback,
    TransferPhase,
    TransferWorkload,
    guest_neighbours,
    invariants_hold,
    make_pos_genesis,
    make_specs,
    neighbours_for,
    repeat_until,
    simulate,
    wait_for_heights,
    with_layers,
)


@attrs.frozen
class BlockRecord:
    """One finalized block as the run saw it."""

    height: int
    round: int
    block_id: str
    proposer: str
    transactions: int
    fees: int
    timestamp: float
    """The proposer's clock when it built the block (simulated seconds)."""
    finality: float | None
    """Seconds from the block's timestamp until the median node had applied it; None for a block every node already
    held when the run started (a run resumed from stored chains)."""


@attrs.frozen
class PosTransferRecord:
    """One transfer a light node attempted under PoS, and what became of it."""

    sender: str
    recipient: str
    amount: int
    submitted_at: float
    outcome: str
    """final, refused or timed out (no verdict: no validator answered, or the node knew none)."""
    reason: str
    latency: float | None
    """Seconds from submission until the sender applied the final block holding it."""
    height: int | None


@attrs.frozen
class ValidatorRecord:
    """A validator's stake, blocks and rewards over the run."""

    name: str
    stake: int
    stake_share: float
    blocks: int
    rewards: int
    final_balance: int


@attrs.frozen
class StakeSample:
    """Every validator's bonded stake after one height (height 0: the genesis)."""

    height: int
    timestamp: float
    """The block's timestamp (simulated seconds); 0 for the genesis."""
    stakes: tuple[int, ...]
    """Bonded stake of v0, v1, ... in order."""


@attrs.frozen
class RestakeRecord:
    """One Bond a validator signed to re-bond what it earned, and the mempool's verdict on it."""

    validator: str
    submitted_at: float
    amount: int
    outcome: str
    """admitted, refused or timed out."""


@attrs.frozen
class PosNodeReport:
    """One node's chain at the end of the run."""

    name: str
    role: str
    height: int
    block_id_at_target: str
    digest_at_target: str
    drops: dict[str, int]


@attrs.frozen
class Lab2Result:
    """Everything a Lab 2 run produced."""

    scenario: SimScenario
    genesis: PosGenesis
    names: dict[bytes, str]
    target_height: int
    """The height every node was checked at: the highest any validator had finalized when transfers stopped."""
    blocks: tuple[BlockRecord, ...]
    transfers: tuple[PosTransferRecord, ...]
    validators: tuple[ValidatorRecord, ...]
    nodes: tuple[PosNodeReport, ...]
    snapshot: LedgerSnapshot = attrs.field(repr=False)
    """The ledger at the target height, as the first validator held it."""
    agreed: bool
    supply_ok: bool
    end_time: float
    """Simulated seconds the run took: the duration, the grace, then waiting for every node to reach the target."""
    grace: float
    """Simulated seconds after the duration until the last transfer in flight then had finished."""
    network: dict[str, object]
    stake_history: tuple[StakeSample, ...]
    """Validators' bonded stake at the genesis and after every block up to the target height."""
    restakes: tuple[RestakeRecord, ...]




class _Transfers(TransferWorkload):
    """Seeded random transfers from every light node, each waited on until final (or refused)."""

    def __init__(self, scenario: SimScenario, nodes: Sequence[A27Node], names: dict[bytes, str],
                 simulation: Simulation) -> None:
        super().__init__(scenario, nodes, names, simulation)
        self.records: list[PosTransferRecord] = []

    def balance(self, node: A27Node, account: bytes) -> int:
        """The balance in the node's finalized chain state."""
        return node.pos.chain.state.balance(account)

    async def send(self, node: A27Node, recipient: bytes, amount: int) -> None:
        """Submit the transfer and wait until it is final, refused or timed out."""
        loop = asyncio.get_running_loop()
        submitted_at = loop.time()
        base = (node.name, self.names[recipient], amount, submitted_at)
        try:
            finality = await node.pos.transfer(recipient, amount, fee=self.scenario.fee,
                                                timeout=TRANSFER_TIMEOUT)
        except TransactionRefused as refused:
            self.records.append(PosTransferRecord(*base, "refused", refused.admission.reason, None, None))
        except SubmissionTimeout as timeout:
            self.records.append(PosTransferRecord(*base, "timed out", str(timeout), None, None))
        except NoValidator as alone:
            # A light node cut off from every validator (an eclipse) gets no verdict: no transfer of its can land.
            self.records.append(PosTransferRecord(*base, "timed out", f"no validator: {alone}", None, None))
        else:
            self.records.append(PosTransferRecord(*base, "final", "", loop.time() - submitted_at, finality.height))


class _Restaker:
    """Validators that re-bond, every ``restake_interval``, their liquid balance above their starting balance."""

    def __init__(self, scenario: SimScenario) -> None:
        self.scenario = scenario
        self.records: list[RestakeRecord] = []

    async def run_validator(self, node: A27Node, stop_at: float) -> None:
        """Re-bond every ``restake_interval`` until ``stop_at``, one Bond in flight at a time."""
        interval = self.scenario.restake_interval
        assert interval is not None
        loop = asyncio.get_running_loop()
        community = node.pos
        me = node.spec.key.public_key
        waiting_for_nonce = -1

        async def restake() -> None:
            nonlocal waiting_for_nonce
            state = community.chain.state
            # One Bond at a time: the next amount is only known once the previous Bond has been applied.
            if state.next_nonce(me) <= waiting_for_nonce:
                return
            amount = state.balance(me) - self.scenario.initial_balance
            if amount <= 0:
                return
            transaction = sign_bond(node.spec.key, amount, community.next_nonce())
            submitted_at = loop.time()
            try:
                admission = await community.submit(transaction)
            except SubmissionTimeout:
                self.records.append(RestakeRecord(node.name, submitted_at, amount, "timed out"))
                return
            if admission.admitted:
                waiting_for_nonce = transaction.nonce
            self.records.append(RestakeRecord(node.name, submitted_at, amount,
                                              "admitted" if admission.admitted else "refused"))

        await repeat_until(stop_at, lambda: interval, restake)


def _node_settings(spec: NodeSpec, silent: set[str], guests: Guests | None) -> LayerSettings | None:
    """A silent validator runs no consensus engine; a guest caller may add settings for any node."""
    own: LayerSettings = {"pos": {"validator": False}} if spec.name in silent else {}
    extra = guests.settings(spec) if guests is not None else {}
    merged = {layer: {**own.get(layer, {}), **extra.get(layer, {})} for layer in (*own, *extra)}
    return merged or None


async def _run(scenario: SimScenario, simulation: Simulation, progress: ProgressCallback | None,
               guests: Guests | None) -> Lab2Result:
    lab_specs = with_layers(make_specs(scenario, simulation), scenario.layers)
    specs = lab_specs + (with_layers(guests.specs(simulation, scenario), scenario.layers) if guests is not None else [])
    genesis = make_pos_genesis(scenario, specs, guests.validator_stakes(scenario) if guests is not None else None)
    names = {spec.key.public_key: spec.name for spec in specs}
    stores = Stores(scenario.db)
    runtime = SimulatedRuntime(simulation.network, epoch=stores.resume_epoch(specs))
    silent = {f"v{index}" for index in scenario.silent_validators}
    nodes = [await build_node(spec, genesis, runtime, stores=stores, settings=_node_settings(spec, silent, guests))
             for spec in specs]
    neighbours = neighbours_for(scenario, len(specs))
    introduce_all(nodes, guest_neighbours(neighbours, specs, len(lab_specs)) if guests is not None else neighbours)
    lab_nodes = nodes[:len(lab_specs)]
    watcher = ChainWatcher(lab_nodes, runtime.now)
    loop = asyncio.get_running_loop()
    phase = TransferPhase(scenario, simulation, nodes, progress)
    start, stop_at = phase.start, phase.stop_at
    transfers = _Transfers(scenario, lab_nodes, names, simulation)
    restaker = _Restaker(scenario)
    restaking = [restaker.run_validator(node, stop_at) for node in lab_nodes
                 if scenario.restake_interval is not None and node.pos.is_validator]
    workers = [transfers.run_light_node(node, stop_at) for node in lab_nodes if node.spec.role == LIGHT]
    if guests is not None:
        workers.append(guests.run(nodes, start, stop_at))
    await phase.run_workload(*workers, *restaking)
    target = await wait_for_heights(lab_nodes, scenario.settle_timeout, watcher)
    phase.finish()
    end_time = loop.time() - start
    result = _collect(scenario=scenario, genesis=genesis, names=names, nodes=lab_nodes, watcher=watcher,
                      transfers=transfers, target=target, end_time=end_time, grace=phase.grace,
                      network=simulation.network.stats.summary(), restakes=restaker.records)
    if guests is not None:
        guests.finish(nodes)
    for node in nodes:
        await node.stop()
    return result


def _collect(*, scenario: SimScenario, genesis: PosGenesis, names: dict[bytes, str], nodes: Sequence[A27Node],
             watcher: ChainWatcher, transfers: _Transfers, target: int, end_time: float, grace: float,
             network: dict[str, object], restakes: Sequence[RestakeRecord]) -> Lab2Result:
    reference = nodes[0].pos.chain
    blocks = []
    proposed: Counter[bytes] = Counter()
    rewards: Counter[bytes] = Counter()
    for height in range(1, target + 1):
        block = reference.block(height)
        if block is None:
            break
        header = block.header
        fees = sum(transaction.fee for transaction in block.transactions)
        proposed[header.proposer] += 1
        rewards[header.proposer] += scenario.block_reward + fees
        timestamp = header.timestamp / 1000
        applied = sorted(times[height] - timestamp for times in watcher.applied_at.values() if height in times)
        blocks.append(BlockRecord(height, header.round, block.block_id.hex(), names.get(header.proposer, "?"),
                                  len(block.transactions), fees, timestamp,
                                  statistics.median(applied) if applied else None))
    total_stake = sum(scenario.validator_stakes())
    validator_specs = [node.spec for node in nodes if node.spec.role == VALIDATOR]
    validator_accounts = [spec.key.public_key for spec in validator_specs]
    # A resumed run whose reference node already held the target height saw no commit there: read its state.
    target_snapshot = watcher.snapshots.get(target)
    if target_snapshot is None and reference.height == target:
        target_snapshot = reference.state.snapshot()
    validators = []
    for spec, stake in zip(validator_specs, scenario.validator_stakes(), strict=True):
        account = spec.key.public_key
        snapshot_balance = target_snapshot.balance(account) if target_snapshot is not None else 0
        validators.append(ValidatorRecord(spec.name, stake, stake / total_stake, proposed[account], rewards[account],
                                          snapshot_balance))
    reports = []
    supply_ok = True
    for node in nodes:
        chain = node.pos.chain
        if not invariants_hold(chain.check_invariants):
            supply_ok = False
        block_id, digest = watcher.block_ids[node.name].get(target), watcher.digests[node.name].get(target)
        if digest is None and chain.height == target and target > 0:
            block_id, digest = _stored_block_id(node, target), chain.state.snapshot().digest()
        reports.append(PosNodeReport(node.name, node.spec.role, chain.height, (block_id or b"").hex(),
                                     (digest or b"").hex(), dict(sorted(node.pos.drops.items()))))
    prefix_ok = all(len({watcher.block_ids[node.name].get(height) or _stored_block_id(node, height)
                         for node in nodes}) == 1 for height in range(1, target + 1))
    agreed = prefix_ok and target > 0 and len({report.digest_at_target for report in reports}) == 1 and all(
        report.digest_at_target for report in reports)
    snapshot = target_snapshot if target_snapshot is not None else reference.state.snapshot()
    return Lab2Result(scenario, genesis, names, target, tuple(blocks), tuple(transfers.records), tuple(validators),
                      tuple(reports), snapshot, agreed, supply_ok, end_time, grace, network,
                      _stake_history(scenario, validator_accounts, watcher.snapshots, blocks), tuple(restakes))


def _stake_history(scenario: SimScenario, accounts: Sequence[bytes], snapshots: dict[int, LedgerSnapshot],
                   blocks: Sequence[BlockRecord]) -> tuple[StakeSample, ...]:
    history = [StakeSample(0, 0.0, scenario.validator_stakes())]
    for block in blocks:
        if block.height not in snapshots:
            continue  # applied before a resumed run started: its stakes were not watched
        escrows = {key: amount for name, key, amount in snapshots[block.height].escrows if name == STAKE}
        stakes = tuple(escrows.get(account, 0) for account in accounts)
        history.append(StakeSample(block.height, block.timestamp, stakes))
    return tuple(history)


def _stored_block_id(node: A27Node, height: int) -> bytes | None:
    """The id of the block a node holds at ``height`` (from its chain store), None if it has none."""
    block = node.pos.chain.block(height) if height <= node.pos.chain.height else None
    return None if block is None else block.block_id


def run_lab2(scenario: SimScenario, progress: ProgressCallback | None = None,
             guests: Guests | None = None) -> Lab2Result:
    """
    Run Lab 2 in simulation: deterministic for a given scenario (seed included).

    ``guests`` adds nodes beyond the lab's (see ``Guests``); the result describes the lab's nodes only.
    """
    return simulate(scenario, lambda simulation: _run(scenario, simulation, progress, guests))


__all__ = ["BlockRecord", "Lab2Result", "PosTransferRecord", "RestakeRecord", "StakeSample", "ValidatorRecord",
           "run_lab2"]
