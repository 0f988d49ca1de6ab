"""
Running an attack: the lab's network and seeded workload with the attacker's nodes added, then the same seed and
workload again with those nodes honest (the honest replay), and the audit of the one against the other.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import attrs

from a27_attacks import Attack, AttackResult, Detection, NodeHandle, Outcome, SendResult
from a27_channels import CHANNEL, channel_record
from a27_ledger import KeyPair, LedgerSnapshot, LedgerState, SubmissionTimeout, Transaction
from a27_netsim import SimulatedNetwork, Simulation

from ..labs.lab1 import run_lab1
from ..labs.lab2 import run_lab2
from ..labs.lab3 import run_lab3
from ..node import VALIDATOR, A27Node, LayerSettings, NodeSpec
from ..scenario import SimScenario
from .defences import defence_settings, merge_settings

LAB_LAYERS = {"ledger": ("ledger",), "pos": ("ledger", "pos"), "channels": ("ledger", "pos", "channels")}
"""The layers of each lab's network."""
SAMPLE_INTERVAL = 1.0
"""Simulated seconds between two looks at the honest nodes' drop counters and conflict records (detection)."""
KEY_STREAM = "attack-keys"
"""The seeded stream attacker keys come from (the lab's own keys come from ``keys`` and stay the same)."""


class AttackRunError(ValueError):
    """An attack that cannot run on this build (e.g. its lab has no attack runner yet)."""


@attrs.frozen
class AttackRun:
    """One attack to run: the attack (with its parameters), the network and which defences are switched off."""

    attack: Attack
    scenario: SimScenario
    switched_off: tuple[str, ...] = ()


@attrs.frozen
class NodeAudit:
    """One honest node's view: what attacker-controlled accounts hold there, in the attack and in the replay."""

    name: str
    role: str
    attacker_holds: int
    replay_holds: int
    digest: str
    replay_digest: str
    supply: int


@attrs.frozen
class AttackReport:
    """Everything an attack run produced: its verdict, the measured outcome and each honest node's audit."""

    run: AttackRun
    result: AttackResult
    outcome: Outcome
    audits: tuple[NodeAudit, ...]
    accounts: dict[str, str]
    """Attacker-controlled accounts: name -> short hex of the public key."""
    genesis_supply: int
    honest_transfers: int


@attrs.frozen
class _View:
    """One honest node's state at the end of a run, as far as the audit needs it."""

    name: str
    role: str
    balances: dict[bytes, int]
    """Balance of each attacker-controlled account, plus its deposits in channels still escrowed on chain."""
    digest: str
    waiting: int
    """Lab 1: log entries still waiting for earlier ones (the node has not settled)."""
    supply: int
    allowed_growth: int
    """How much supply may exceed the genesis supply here: the block rewards of the node's chain minus what was
    burned (slashing)."""
    slashed: int
    """Tokens burned from attacker-controlled accounts."""


def _view(node: A27Node, accounts: Sequence[bytes], block_reward: int) -> _View:
    """What ``node`` holds now: from its chain's state with the pos layer, else from its Lab 1 ledger."""
    pos = node.overlays.get("pos")
    state = pos.chain.state if pos is not None else node.ledger.state
    height = pos.chain.height if pos is not None else 0
    burns = [event for event in state.supply_events() if event.kind == "burn"]
    snapshot = state.snapshot()
    waiting = 0 if pos is not None else node.ledger.replica.waiting
    escrowed = _channel_deposits(state, snapshot, accounts)
    return _View(node.name, node.spec.role,
                 {account: snapshot.balance(account) + escrowed.get(account, 0) for account in accounts},
                 snapshot.digest().hex(), waiting, snapshot.total_supply,
                 block_reward * height - sum(event.amount for event in burns),
                 sum(event.amount for event in burns if event.account in accounts))


def _channel_deposits(state: LedgerState, snapshot: LedgerSnapshot, accounts: Sequence[bytes]) -> dict[bytes, int]:
    """What each of ``accounts`` deposited into channels still escrowed on chain (Lab 3): an attacker's channel left
    open at the end holds its tokens; its off-chain balance is not on chain, so the deposit stands for it."""
    held: dict[bytes, int] = {}
    for name, key, _amount in snapshot.escrows:
        record = channel_record(state, key) if name == CHANNEL else None
        if record is None:
            continue
        for party, deposit in ((record.terms.party_a, record.terms.deposit_a),
                               (record.terms.party_b, record.terms.deposit_b)):
            if party in accounts:
                held[party] = held.get(party, 0) + deposit
    return held


class _Signals:
    """First simulated time each honest node showed each detection signal (a drop cause, a conflicting log entry)."""

    def __init__(self) -> None:
        self.first_seen: dict[tuple[str, str], float] = {}

    def sample(self, nodes: Sequence[A27Node], now: float) -> None:
        """Note, for each node, the signals it shows now that it had not shown before."""
        for node in nodes:
            signals = []
            for overlay in node.overlays.values():
                signals += [f"dropped: {cause}" for cause, count in getattr(overlay, "drops", {}).items() if count]
            replica = getattr(node.overlays.get("ledger"), "replica", None)
            if replica is not None and replica.conflicts:
                signals.append("conflicting log entry recorded (replica.conflicts: same sender and nonce from two "
                               "validators; no log line)")
            for signal in signals:
                self.first_seen.setdefault((node.name, signal), now)


class _Guests:
    """The attacker's nodes in a lab run (``acting`` False: the honest replay, where they do nothing)."""

    def __init__(self, run: AttackRun, acting: bool) -> None:
        self.attack_run = run
        self.acting = acting
        self.attackers = run.attack.attacker_nodes()
        self.keys: dict[str, KeyPair] = {}
        self.signals = _Signals()
        self.notes: dict[str, object] = {}
        self.fees = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._sampler: asyncio.Task[None] | None = None
        self._start = 0.0
        self.views: list[_View] = []
        self.network: SimulatedNetwork | None = None
        self.locked = 0
        """Token-blocks of honest liquidity in pending HTLCs (Lab 3), counted at every block of the first node."""

    def specs(self, simulation: Simulation, scenario: SimScenario) -> list[NodeSpec]:
        """The attacker's nodes, with keys (theirs, then the node-less accounts') from the ``attack-keys`` stream."""
        self.network = simulation.network
        rng = simulation.streams.stream(KEY_STREAM)
        names = [node.name for node in self.attackers] + list(self.attack_run.attack.accounts)
        self.keys = {name: KeyPair.generate(rng) for name in names}
        return [NodeSpec(node.name, self.keys[node.name], node.role) for node in self.attackers]

    def settings(self, spec: NodeSpec) -> LayerSettings:
        """Defences switched off on every node; an acting attacker node also gets the attack's settings."""
        honest = defence_settings(self.attack_run.switched_off, spec.layers)
        attacker = next((node for node in self.attackers if node.name == spec.name), None)
        if attacker is None:
            return honest
        return merge_settings(honest, self.attack_run.attack.settings_for(attacker) if self.acting else {})

    async def run(self, nodes: Sequence[A27Node], start: float, stop_at: float) -> None:
        """Start sampling detection signals; when acting, run the attack's ``act`` and what it scheduled."""
        loop = asyncio.get_running_loop()
        self._start = start
        attacker_names = {node.name for node in self.attackers}
        honest = [node for node in nodes if node.name not in attacker_names]

        async def sample() -> None:
            while True:
                self.signals.sample(honest, loop.time() - start)
                await asyncio.sleep(SAMPLE_INTERVAL)

        self._sampler = loop.create_task(sample(), name="attack detection")
        if "channels" in honest[0].overlays:
            honest[0].pos.commit_listeners.append(lambda *_: self._count_locked(honest))
        if not self.acting and not self.attack_run.attack.replay_acts:
            return
        arena = _Arena(self, nodes, honest, start)
        await self.attack_run.attack.act(arena)
        while self._tasks:
            task = self._tasks.pop(0)
            await task

    def _count_locked(self, honest: Sequence[A27Node]) -> None:
        """Add one block of the HTLC amounts honest nodes have offered and that are still pending."""
        for node in honest:
            for entry in node.channels.node.book.entries.values():
                channel = entry.channel
                if channel is not None:
                    self.locked += sum(htlc.amount for htlc in channel.state.htlcs if htlc.offerer == channel.party)

    def finish(self, nodes: Sequence[A27Node]) -> None:
        """Stop sampling, take a last sample, and record every honest node's view for the audit."""
        if self._sampler is not None:
            self._sampler.cancel()
        honest = _honest_order([node for node in nodes if node.name not in {node.name for node in self.attackers}])
        self.signals.sample(honest, asyncio.get_running_loop().time() - self._start)
        accounts = [key.public_key for key in self.keys.values()]
        block_reward = self.attack_run.scenario.block_reward if "pos" in honest[0].overlays else 0
        self.views = [_view(node, accounts, block_reward) for node in honest]


def _honest_order(nodes: Sequence[A27Node]) -> list[A27Node]:
    """Validators first, then light nodes, each in index order (v2 before v10)."""
    return sorted(nodes, key=lambda node: (node.spec.role != VALIDATOR, len(node.name), node.name))


def _handle(node: A27Node) -> NodeHandle:
    return NodeHandle(node.name, node.spec.key.public_key, node.spec.role, dict(node.overlays))


class _Arena:
    """The harness side of ``a27_attacks.Arena`` for one simulated run."""

    def __init__(self, guests: _Guests, nodes: Sequence[A27Node], honest: Sequence[A27Node], start: float) -> None:
        self._guests = guests
        self._nodes = {node.name: node for node in nodes}
        self._honest = _honest_order(honest)
        self._start = start

    def now(self) -> float:
        """Simulated seconds since the workload started."""
        return asyncio.get_running_loop().time() - self._start

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of simulated time."""
        await asyncio.sleep(seconds)

    def at(self, seconds: float, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action()`` at ``seconds`` (the run waits for it)."""
        async def later() -> None:
            await asyncio.sleep(max(0.0, seconds - self.now()))
            await action()
        self._guests._tasks.append(asyncio.get_running_loop().create_task(later()))

    def attacker(self, name: str) -> NodeHandle:
        """The attacker node ``name``."""
        if name not in {node.name for node in self._guests.attackers}:
            msg = f"no attacker node {name!r}"
            raise KeyError(msg)
        return _handle(self._nodes[name])

    def attacker_key(self, name: str) -> KeyPair:
        """The key of an attacker node or node-less attacker account."""
        return self._guests.keys[name]

    def honest(self) -> Sequence[NodeHandle]:
        """The honest nodes, validators first."""
        return [_handle(node) for node in self._honest]

    async def send_transaction(self, attacker: str, transaction: Transaction, validator: str) -> SendResult:
        """Submit through the attacker node's top ledger-carrying community (pos if it runs it) to ``validator``."""
        node = self._nodes[attacker]
        target = self._nodes[validator]
        community: Any = node.overlays.get("pos", node.overlays["ledger"])
        peer = node.network.get_verified_by_public_key_bin(target.peer.public_key.key_to_bin())
        if peer is None or target.spec.role != VALIDATOR:
            msg = f"attacker node {attacker} knows no validator {validator!r}"
            raise ValueError(msg)
        try:
            outcome = await community.submit(transaction, peer)
        except SubmissionTimeout as timeout:
            return SendResult(transaction.tx_id, False, -1, str(timeout))
        accepted = bool(outcome.accepted if hasattr(outcome, "accepted") else outcome.admitted)
        if accepted:
            self._guests.fees += transaction.fee
        return SendResult(transaction.tx_id, accepted, int(outcome.code), str(outcome.reason))

    def note(self, key: str, value: object) -> None:
        """Record a fact for the report."""
        self._guests.notes[key] = value

    async def take_offline(self, name: str, seconds: float) -> None:
        """Honest node ``name`` hands its appointments to the first honest validator's tower (Lab 3), goes down for
        ``seconds``, then comes back up."""
        node = next((node for node in self._honest if node.name == name), None)
        network = self._guests.network
        if node is None or network is None:
            msg = f"no honest node {name!r}"
            raise KeyError(msg)
        if "channels" in node.overlays:
            tower = next(other for other in self._honest if other.spec.role == VALIDATOR)
            kept = tower.channels.keep_appointments(node.channels.watchtower_appointments())
            self._guests.notes[f"appointments {name} handed to {tower.name}'s tower"] = kept
        network.set_down(node.address)
        network.set_up(node.address, at=asyncio.get_running_loop().time() + seconds)


def _transfer_stats(records: Sequence[Any]) -> tuple[int, float | None]:
    """Honest transfers that failed, and the median seconds to the verdict of those that did not (Lab 1 or Lab 2)."""
    succeeded = [record for record in records
                 if (record.accepted if hasattr(record, "accepted") else record.outcome in ("final", "succeeded"))]
    # Lab 3's payment records carry no latency.
    latencies = [record.verdict_latency if hasattr(record, "verdict_latency") else record.latency
                 for record in succeeded if hasattr(record, "verdict_latency") or hasattr(record, "latency")]
    median = round(statistics.median(latencies), 6) if latencies else None
    return len(records) - len(succeeded), median


def _detections(attacked: _Guests, replay: _Guests) -> tuple[Detection, ...]:
    """Signals an honest node showed in the attack run but never in the replay, first time first."""
    seen_in_replay = set(replay.signals.first_seen)
    found = [Detection(node, round(at, 3), how) for (node, how), at in attacked.signals.first_seen.items()
             if (node, how) not in seen_in_replay]
    return tuple(sorted(found, key=lambda detection: (detection.at, detection.node, detection.how)))


LAB_RUNNERS: dict[str, Callable[..., Any]] = {"ledger": run_lab1, "pos": run_lab2, "channels": run_lab3}
"""The lab run each attack lab uses; each takes ``guests`` (see ``a27_harness.labs.common.Guests``)."""


def run_attack(run: AttackRun) -> AttackReport:
    """
    Run ``run``'s attack and its honest replay, audit them, and judge the attack. Deterministic for a given run.

    :raises AttackRunError: when the attack's lab has no runner in this build.
    :raises BadParameter: when the attack's parameters do not fit the network.
    """
    attack = run.attack
    if attack.lab not in LAB_RUNNERS:
        msg = (f"attack {attack.name} targets the {attack.lab} lab, which has no attack runner yet "
               f"(labs with one: {', '.join(LAB_RUNNERS)})")
        raise AttackRunError(msg)
    scenario = run.scenario
    attack.check(scenario.validators, scenario.light_nodes)
    attacked_guests, replay_guests = _Guests(run, acting=True), _Guests(run, acting=False)
    attacked = LAB_RUNNERS[attack.lab](scenario, guests=attacked_guests)
    replay = LAB_RUNNERS[attack.lab](scenario, guests=replay_guests)
    genesis = attacked.genesis
    genesis_supply = genesis.ledger.total_supply if hasattr(genesis, "ledger") else genesis.total_supply
    return _audit(run, genesis_supply, attacked_transfers=_honest_records(attacked),
                  replay_transfers=_honest_records(replay), attacked_guests=attacked_guests,
                  replay_guests=replay_guests)


def _honest_records(result: Any) -> Sequence[Any]:
    """The lab's honest transfers (Lab 1, Lab 2) or payments (Lab 3)."""
    return result.transfers if hasattr(result, "transfers") else result.payments


def _disagreeing(views: Sequence[_View]) -> tuple[str, ...]:
    """Views whose ledger differs from the first's (the first honest validator's), or that still wait for entries."""
    return tuple(view.name for view in views if view.digest != views[0].digest or view.waiting) if views else ()


def _audit(run: AttackRun, genesis_supply: int, *, attacked_transfers: Sequence[Any], replay_transfers: Sequence[Any],
           attacked_guests: _Guests, replay_guests: _Guests) -> AttackReport:
    accounts = [key.public_key for key in attacked_guests.keys.values()]
    honest, replay_by_name = attacked_guests.views, {view.name: view for view in replay_guests.views}
    replay_honest = [replay_by_name[view.name] for view in honest]
    audits = tuple(NodeAudit(view.name, view.role, sum(view.balances.values()),
                             sum(replay_by_name[view.name].balances.values()), view.digest,
                             replay_by_name[view.name].digest, view.supply) for view in honest)
    spendable = sum(max((view.balances[key] for view in honest), default=0) for key in accounts)
    replay_spendable = sum(max((view.balances[key] for view in replay_honest), default=0) for key in accounts)
    differing = _disagreeing(honest)
    failed, latency = _transfer_stats(attacked_transfers)
    replay_failed, replay_latency = _transfer_stats(replay_transfers)
    outcome = Outcome(
        gain_by_node={audit.name: audit.attacker_holds - audit.replay_holds for audit in audits},
        paid_twice=max(0, spendable - replay_spendable),
        excess_supply=max(0, *(view.supply - genesis_supply - view.allowed_growth for view in honest)),
        agreement=not differing, replay_agreement=not _disagreeing(replay_honest), differing=differing,
        detections=_detections(attacked_guests, replay_guests), attacker_fees=attacked_guests.fees,
        attacker_slashed=max((view.slashed for view in honest), default=0),
        honest_failed=failed, replay_failed=replay_failed, honest_latency=latency, replay_latency=replay_latency,
        notes=dict(attacked_guests.notes), honest_locked=attacked_guests.locked, replay_locked=replay_guests.locked)
    names = {name: key.public_key.hex()[:8] for name, key in attacked_guests.keys.items()}
    return AttackReport(run, run.attack.judge(outcome), outcome, audits, names, genesis_supply,
                        len(attacked_transfers))
