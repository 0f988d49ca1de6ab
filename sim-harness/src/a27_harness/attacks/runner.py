"""
Running an attack: the lab's network and seeded workload with the attacker's nodes added, then the same seed and
workload again with those nodes honest (the honest replay), and the audit of the one against the other.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from a27_attacks import Attack, AttackResult, BadParameter, Detection, NodeHandle, NodeView, Outcome, SendResult
from a27_ledger import KeyPair, Transaction
from a27_netsim import Member, SimulatedNetwork, Simulation, introduce_members
from a27_pos.payloads import BlockResponse

from ..audit import burned, channel_deposits, evidence_signal
from ..labs.lab1 import run_lab1
from ..labs.lab2 import run_lab2
from ..labs.lab3 import run_lab3
from ..node import LIGHT, VALIDATOR, A27Node, LayerSettings, NodeSpec, SimulatedRuntime, build_node
from ..node.arena import ArenaClock, submit_to, submitting_community
from ..scenario import SimScenario
from .defences import defence_settings, merge_settings
from .recording import FORMAT, VERSION, PacketTap, RecordedAction, Recording

LAB_LAYERS = {"ledger": ("ledger",), "pos": ("ledger", "pos"), "channels": ("ledger", "pos", "channels")}
"""The layers of each lab's network."""
SAMPLE_INTERVAL = 1.0
"""Simulated seconds between two looks at the honest nodes' drop counters and conflict records (detection)."""
LATE_KEY_STREAM = "late-node-keys"
"""The seeded stream (one per name) a node added with ``Arena.join_late`` takes its key from."""
KEY_STREAM = "attack-keys"
"""The seeded stream attacker keys come from (the lab's own keys come from ``keys`` and stay the same)."""


REPLAY_TURNS = 10_000
"""Turns of the loop, at one instant, a replayed packet waits for the packets that came before it in the recorded
run; after that it is sent anyway and counted late."""


async def _until(loop: asyncio.AbstractEventLoop, when: float) -> None:
    """Wait until the loop's clock reads ``when`` exactly (``sleep`` adds a delay to now, which may round)."""
    reached: asyncio.Future[None] = loop.create_future()
    loop.call_at(when, reached.set_result, None)
    await reached


class AttackRunError(ValueError):
    """An attack that cannot run on this build (e.g. its lab has no attack runner yet)."""


@attrs.frozen
class AttackRun:
    """One attack to run: the attack (with its parameters), the network and which defences are switched off."""

    attack: Attack
    scenario: SimScenario
    switched_off: tuple[str, ...] = ()
    record: bool = False
    """Record every packet the attacker nodes send (``AttackReport.recording``)."""
    replay: Recording | None = None
    """Instead of the attack's logic, send these recorded packets from the attacker nodes (honest settings)."""

    def header(self) -> dict[str, Any]:
        """What a recording of this run says it depends on (``recording.MATCHED``), without the attacker nodes."""
        scenario = self.scenario
        return {"format": FORMAT, "version": VERSION, "clock": "simulated", "attack": self.attack.name,
                "parameters": {parameter.name: getattr(self.attack, parameter.name)
                               for parameter in self.attack.parameters()},
                "lab": self.attack.lab, "seed": scenario.seed, "validators": scenario.validators,
                "light_nodes": scenario.light_nodes, "duration": scenario.duration,
                "switched_off": list(self.switched_off)}


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
    honest_slashed: int = 0
    """The most stake any honest node's chain burned from honest accounts in the attack run (a defence's false
    positive, or the attack framing honest validators)."""
    replay_honest_slashed: int = 0
    honest_banned: int = 0
    """The most honest peers any one honest node had banned at the end of the attack run."""
    replay_honest_banned: int = 0
    recording: Recording | None = None
    """The attacker nodes' packets, when the run was recorded."""
    replay_late: int = 0
    """Replayed events that could not keep their recorded place (0 when the replay repeated the run exactly)."""


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
    node_view: NodeView
    """Height, fork point, work counters and peers, for the attack's judge."""
    honest_slashed: int = 0
    """Tokens burned from every other account (honest ones)."""
    honest_banned: int = 0
    """Honest peers this node's communities have banned."""


def _view(node: A27Node, accounts: Sequence[bytes], block_reward: int, reference: A27Node,
          honest_keys: frozenset[bytes] = frozenset()) -> _View:
    """
    What ``node`` holds now: from its chain's state with the pos layer, else from its Lab 1 ledger; its chain
    compared with ``reference``'s (the first honest validator); and which of ``honest_keys`` (IPv8 key bins of the
    honest nodes) its communities have banned.
    """
    pos = node.overlays.get("pos")
    state = pos.chain.state if pos is not None else node.ledger.state
    height = pos.chain.height if pos is not None else 0
    burns = burned(state)
    snapshot = state.snapshot()
    waiting = 0 if pos is not None else node.ledger.replica.waiting
    escrowed = channel_deposits(state, snapshot, accounts)
    return _View(node.name, node.spec.role,
                 {account: snapshot.balance(account) + escrowed.get(account, 0) for account in accounts},
                 snapshot.digest().hex(), waiting, snapshot.total_supply,
                 block_reward * height - sum(burns.values()),
                 sum(amount for account, amount in burns.items() if account in accounts), _node_view(node, reference),
                 sum(amount for account, amount in burns.items() if account not in accounts),
                 len({key for overlay in node.overlays.values() for key in getattr(overlay, "banned", {})}
                     & honest_keys))


def _block_id(chain: Any, height: int) -> bytes | None:
    block = chain.block(height)
    return None if block is None else bytes(block.block_id)


def _node_view(node: A27Node, reference: A27Node) -> NodeView:
    """``node``'s height, first height where its chain leaves ``reference``'s, summed work counters and peers."""
    top: Any = node.overlays.get("pos", node.overlays.get("ledger"))
    work: dict[str, int] = {}
    for overlay in node.overlays.values():
        for name, count in getattr(overlay, "work", {}).items():
            work[name] = work.get(name, 0) + count
    peers = top.get_peers()
    validator_peers = len(top.validator_peers()) if hasattr(top, "validator_peers") else 0
    if "pos" not in node.overlays:
        return NodeView(0, None, work, len(peers), validator_peers)
    chain, reference_chain = node.pos.chain, reference.pos.chain
    forked_at = next((height for height in range(1, min(chain.height, reference_chain.height) + 1)
                      if _block_id(chain, height) != _block_id(reference_chain, height)), None)
    return NodeView(chain.height, forked_at, work, len(peers), validator_peers)


class _Signals:
    """First simulated time each honest node showed each detection signal (a drop cause, a conflicting log entry)."""

    def __init__(self) -> None:
        self.first_seen: dict[tuple[str, str], float] = {}
        self._scanned: dict[str, int] = {}
        """Per node, the chain height up to which its blocks were searched for evidence."""

    def sample(self, nodes: Sequence[A27Node], now: float) -> None:
        """Note, for each node, the signals it shows now that it had not shown before."""
        for node in nodes:
            signals = self._evidence_in_new_blocks(node)
            for overlay in node.overlays.values():
                signals += [f"dropped: {cause}" for cause, count in getattr(overlay, "drops", {}).items() if count]
            replica = getattr(node.overlays.get("ledger"), "replica", None)
            if replica is not None and replica.conflicts:
                signals.append("conflicting log entry recorded (replica.conflicts: same sender and nonce from two "
                               "validators; no log line)")
            for signal in signals:
                self.first_seen.setdefault((node.name, signal), now)

    def _evidence_in_new_blocks(self, node: A27Node) -> list[str]:
        """Evidence in the blocks ``node`` finalized since the last sample (PoS nodes only): one signal per block."""
        pos = node.overlays.get("pos")
        if pos is None:
            return []
        chain = pos.chain
        signals = []
        for height in range(self._scanned.get(node.name, 0) + 1, chain.height + 1):
            block = chain.block(height)
            signal = None if block is None else evidence_signal(height, block)
            if signal is not None:
                signals.append(signal)
        self._scanned[node.name] = chain.height
        return signals


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
        self._pump: asyncio.Task[None] | None = None
        """Replay: the task sending the recorded events, which goes on after ``run`` returned (see ``_replay``)."""
        self._start = 0.0
        self.views: list[_View] = []
        self.network: SimulatedNetwork | None = None
        self.simulation: Simulation | None = None
        self.late: dict[str, A27Node] = {}
        """Nodes an attack added with ``Arena.join_late``, by name (stopped once its ``act`` has returned)."""
        self.locked = 0
        """Token-blocks of honest liquidity in pending HTLCs (Lab 3), counted at every block of the first node."""
        self.replaying = acting and run.replay is not None
        self.tap: PacketTap | None = None
        self.end = 0.0
        """Loop time at which the attacker's part of the run returned."""
        self.recording: Recording | None = None

    def specs(self, simulation: Simulation, scenario: SimScenario) -> list[NodeSpec]:
        """The attacker's nodes, with keys (theirs, then the node-less accounts') from the ``attack-keys`` stream."""
        self.network = simulation.network
        self.simulation = simulation
        rng = simulation.streams.stream(KEY_STREAM)
        names = [node.name for node in self.attackers] + list(self.attack_run.attack.accounts)
        self.keys = {name: KeyPair.generate(rng) for name in names}
        if self.acting and (self.attack_run.record or self.replaying):
            events = self.attack_run.replay.events if self.attack_run.replay is not None else ()
            self.tap = PacketTap(simulation.network, [node.name for node in self.attackers], events, self.replaying)
        return [NodeSpec(node.name, self.keys[node.name], node.role) for node in self.attackers]

    def validator_stakes(self, scenario: SimScenario) -> Sequence[int] | None:
        """The stakes the attack gives its validators (the same in the replay, so the genesis is the same)."""
        return self.attack_run.attack.attacker_stakes(scenario.validator_stakes())

    def settings(self, spec: NodeSpec) -> LayerSettings:
        """Defences switched off on every node; an acting attacker node also gets the attack's settings."""
        honest = defence_settings(self.attack_run.switched_off, spec.layers)
        attacker = next((node for node in self.attackers if node.name == spec.name), None)
        if attacker is None:
            return honest
        attacking = self.acting and not self.replaying
        return merge_settings(honest, self.attack_run.attack.settings_for(attacker) if attacking else {})

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
        if self.replaying:
            await self._replay(arena, nodes)
        else:
            await self.attack_run.attack.act(arena)
        while self._tasks:
            task = self._tasks.pop(0)
            await task
        self.end = loop.time()
        for late in self.late.values():
            await late.stop()

    async def _replay(self, arena: _Arena, nodes: Sequence[A27Node]) -> None:
        """
        Send the recorded packets and carry out the recorded conditions in their places; return at the recorded end.

        The attacker's nodes went on sending after its ``act`` returned (introductions, channel updates, until the
        run finished), and the tap recorded that too: those events are sent by a task that outlives this call (and
        stops at ``finish``), so that the lab's next phase starts when it started in the recorded run.
        """
        recording, tap = self.attack_run.replay, self.tap
        assert recording is not None and tap is not None
        recording.check_matches({**self.attack_run.header(), "nodes": self.node_header(nodes)})
        loop = asyncio.get_running_loop()

        def perform(action: RecordedAction) -> None:
            result = getattr(arena, action.action)(*action.args)
            if inspect.isawaitable(result):
                self._tasks.append(loop.create_task(result))  # type: ignore[arg-type]

        tap.perform = perform
        self._pump = loop.create_task(self._send_recorded(tap), name="attack replay")
        if recording.end > loop.time():
            await _until(loop, recording.end)

    @staticmethod
    async def _send_recorded(tap: PacketTap) -> None:
        """Send the recorded packets and carry out the recorded conditions, each in its recorded place."""
        loop = asyncio.get_running_loop()
        waits = 0
        while (due := tap.next_time()) is not None:
            if due > loop.time():
                await _until(loop, due)
                waits = 0
            before = tap.position
            tap.flush(loop.time())
            if tap.position == before:
                # The packets that came before it at this instant have not been sent yet: let them go first, for a
                # bounded number of turns (a replay that diverged must still end).
                waits += 1
                if waits > REPLAY_TURNS:
                    tap.flush(math.inf)
                await asyncio.sleep(0)

    def node_header(self, nodes: Sequence[A27Node]) -> list[dict[str, str]]:
        """The attacker nodes as a recording's header lists them: name, account, address."""
        names = {node.name for node in self.attackers}
        return [{"name": node.name, "public_key": node.spec.key.public_key.hex(),
                 "address": f"{node.address[0]}:{node.address[1]}"} for node in nodes if node.name in names]

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
        if self._pump is not None:
            self._pump.cancel()
        honest = _honest_order([node for node in nodes if node.name not in {node.name for node in self.attackers}])
        self.signals.sample(honest, asyncio.get_running_loop().time() - self._start)
        if self.replaying and self.attack_run.replay is not None:
            self.notes, self.fees = dict(self.attack_run.replay.notes), self.attack_run.replay.fees
        elif self.acting:
            self.attack_run.attack.observe(_Arena(self, nodes, honest, self._start))
        if self.tap is not None:
            self.tap.remove()
            if not self.replaying:
                header = {**self.attack_run.header(), "nodes": self.node_header(nodes)}
                self.recording = Recording(header, tuple(self.tap.recorded), self.end, self.fees, dict(self.notes))
        accounts = [key.public_key for key in self.keys.values()]
        block_reward = self.attack_run.scenario.block_reward if "pos" in honest[0].overlays else 0
        honest_keys = frozenset(node.peer.public_key.key_to_bin() for node in honest)
        self.views = [_view(node, accounts, block_reward, honest[0], honest_keys) for node in honest]


def _honest_order(nodes: Sequence[A27Node]) -> list[A27Node]:
    """Validators first, then light nodes, each in index order (v2 before v10)."""
    return sorted(nodes, key=lambda node: (node.spec.role != VALIDATOR, len(node.name), node.name))


def _handle(node: A27Node) -> NodeHandle:
    return NodeHandle(node.name, node.spec.key.public_key, node.spec.role, dict(node.overlays))


class _Arena(ArenaClock):
    """The harness side of ``a27_attacks.Arena`` for one simulated run: simulated seconds since the workload started
    (``start``); the run waits for what ``at`` schedules."""

    def __init__(self, guests: _Guests, nodes: Sequence[A27Node], honest: Sequence[A27Node], start: float) -> None:
        super().__init__(start, guests._tasks)
        self._guests = guests
        self._nodes = {node.name: node for node in nodes}
        self._honest = _honest_order(honest)

    def attacker(self, name: str) -> NodeHandle:
        """The attacker node ``name``."""
        return _handle(self._attacker_node(name))

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
        peer = node.network.get_verified_by_public_key_bin(target.peer.public_key.key_to_bin())
        if peer is None or target.spec.role != VALIDATOR:
            msg = f"attacker node {attacker} knows no validator {validator!r}"
            raise ValueError(msg)
        result = await submit_to(submitting_community(node), transaction, peer)
        if result.accepted:
            self._guests.fees += transaction.fee
        return result

    def note(self, key: str, value: object) -> None:
        """Record a fact for the report."""
        self._guests.notes[key] = value

    def _attacker_node(self, name: str) -> A27Node:
        if name not in {node.name for node in self._guests.attackers}:
            msg = f"no attacker node {name!r}"
            raise KeyError(msg)
        return self._nodes[name]

    def _node(self, name: str) -> A27Node:
        if name not in self._nodes:
            msg = f"no node {name!r} in this run"
            raise KeyError(msg)
        return self._nodes[name]

    def send_packets(self, attacker: str, target: str, packets: Iterable[bytes]) -> int:
        """Send raw ``packets`` from attacker node ``attacker``'s endpoint to node ``target``'s address."""
        endpoint, address = self._attacker_node(attacker).endpoint, self._node(target).address
        sent = 0
        for packet in packets:
            endpoint.send(address, packet)
            sent += 1
        return sent

    def _record(self, action: str, *args: object) -> None:
        """Record a network condition the attacker arranges (when the run is recorded)."""
        if self._guests.tap is not None:
            self._guests.tap.action(action, args)

    def set_max_peers(self, node: str, max_peers: int) -> None:
        """Set IPv8's ``max_peers`` on every community of ``node``."""
        self._record("set_max_peers", node, max_peers)
        if max_peers < 0:
            msg = f"max_peers must be at least 0, got {max_peers}"
            raise ValueError(msg)
        for overlay in self._node(node).overlays.values():
            overlay.max_peers = max_peers

    async def introduce_first(self, victim: str, attackers: Sequence[str], settle: float = 1.0) -> None:
        """``victim`` forgets its peers; the attackers walk to it; ``settle`` s later its honest peers walk to it."""
        self._record("introduce_first", victim, list(attackers), settle)
        target = self._node(victim)
        if victim not in {node.name for node in self._honest}:
            msg = f"{victim!r} is not an honest node"
            raise KeyError(msg)
        first = [self._attacker_node(name) for name in attackers]
        honest_by_key = {node.peer.public_key.key_to_bin(): node for node in self._honest}
        # Sorted by key: the network's peer set has no order that repeats from run to run.
        known = sorted(target.network.verified_peers, key=lambda peer: peer.public_key.key_to_bin())
        rejoining = [honest_by_key[key] for key in (peer.public_key.key_to_bin() for peer in known)
                     if key in honest_by_key]
        for peer in known:
            target.network.remove_peer(peer)
        for node in first:
            for overlay in node.overlays.values():
                overlay.walk_to(target.address)
        await asyncio.sleep(settle)
        for node in rejoining:
            for overlay in node.overlays.values():
                overlay.walk_to(target.address)
        await asyncio.sleep(settle)
    async def take_offline(self, name: str, seconds: float) -> None:
        """Honest node ``name`` hands its appointments to the first honest validator's tower (Lab 3), goes down for
        ``seconds``, then comes back up."""
        self._record("take_offline", name, seconds)
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


    async def join_late(self, name: str) -> NodeHandle:
        """Build honest light node ``name`` with an empty in-memory store and a checkpoint of the first honest
        validator's last finalized block; introduce it to every validator of the run (and them to it)."""
        self._record("join_late", name)
        guests, reference = self._guests, self._honest[0]
        if name in self._nodes or name in guests.late or guests.simulation is None or "pos" not in reference.overlays:
            msg = f"cannot add node {name!r}: the name is taken, or this run has no PoS chain to sync"
            raise ValueError(msg)
        pos = reference.pos
        key = KeyPair.generate(guests.simulation.streams.stream(f"{LATE_KEY_STREAM}:{name}"))
        spec = NodeSpec(name, key, LIGHT, layers=reference.spec.layers)
        layer_settings = merge_settings(defence_settings(guests.attack_run.switched_off, spec.layers),
                                        {"pos": {"checkpoint": pos.chain.checkpoint_at()}})
        runtime = SimulatedRuntime(guests.network, epoch=pos.now() - asyncio.get_running_loop().time())
        node = await build_node(spec, pos.settings.genesis, runtime, settings=layer_settings)
        guests.late[name] = node
        validators = [other for other in self._nodes.values() if other.spec.role == VALIDATOR]
        everyone = [node, *validators]
        members = [Member(other.network, other.peer.public_key, other.address,
                          tuple(overlay.community_id for overlay in other.overlays.values())) for other in everyone]
        introduce_members(members, [range(1, len(everyone)), *([0] for _ in validators)])
        return _handle(node)

    def simulated(self) -> bool:
        """True: the simulator's arena."""
        return True

    def late_node(self, name: str) -> NodeHandle:
        """A node added by ``join_late``."""
        if name not in self._guests.late:
            msg = f"no late node {name!r}"
            raise KeyError(msg)
        return _handle(self._guests.late[name])

    def serve_blocks(self, attacker: str, target: str, blocks: Iterable[tuple[Any, Any]]) -> int:
        """Send ``target`` a BlockResponse per (block, certificate), signed by attacker node ``attacker``."""
        pos = self._attacker_node(attacker).pos
        target_node = self._guests.late.get(target) or self._node(target)
        packets = [pos.pack_signed(BlockResponse(block.encode(), certificate.encode()))
                   for block, certificate in blocks]
        for packet in packets:
            pos.endpoint.send(target_node.address, packet)
        return len(packets)


def _transfer_stats(records: Sequence[Any]) -> tuple[int, float | None]:
    """Honest transfers that failed, and the median seconds to the verdict of those that did not (Lab 1 or Lab 2)."""
    succeeded = [record for record in records
                 if (record.accepted if hasattr(record, "accepted") else record.outcome in ("final", "succeeded"))]
    # Lab 3's payment records carry no latency.
    latencies = [record.verdict_latency if hasattr(record, "verdict_latency") else record.latency
                 for record in succeeded if hasattr(record, "verdict_latency") or hasattr(record, "latency")]
    median = round(statistics.median(latencies), 6) if latencies else None
    return len(records) - len(succeeded), median


def _stats_by_sender(records: Sequence[Any]) -> dict[str, tuple[int, float | None]]:
    """``_transfer_stats`` per sending node (records with a ``sender``; Lab 1 records have none: empty)."""
    senders = sorted({record.sender for record in records if hasattr(record, "sender")})
    return {sender: _transfer_stats([record for record in records if record.sender == sender])
            for sender in senders}


def _failed_by_cause(records: Sequence[Any]) -> dict[str, int]:
    """Failed records by their ``cause``, causes in name order (Lab 3 payments; other labs' records have none)."""
    causes = [record.cause for record in records if getattr(record, "outcome", None) == "failed"
              and hasattr(record, "cause")]
    return {cause: causes.count(cause) for cause in sorted(set(causes))}


def _detections(attacked: _Guests, replay: _Guests) -> tuple[Detection, ...]:
    """Signals an honest node showed in the attack run but never in the replay, first time first."""
    seen_in_replay = set(replay.signals.first_seen)
    found = [Detection(node, round(at, 3), how) for (node, how), at in attacked.signals.first_seen.items()
             if (node, how) not in seen_in_replay]
    return tuple(sorted(found, key=lambda detection: (detection.at, detection.node, detection.how)))


@attrs.frozen
class LabRunner:
    """What the runner needs of one lab: its run (which takes ``guests``, see ``a27_harness.labs.common.Guests``),
    where its result keeps the honest transfers or payments, and its genesis's total supply."""

    run: Callable[..., Any]
    honest_records: Callable[[Any], Sequence[Any]]
    genesis_supply: Callable[[Any], int]


LAB_RUNNERS: dict[str, LabRunner] = {
    "ledger": LabRunner(run_lab1, lambda result: result.transfers, lambda genesis: genesis.total_supply),
    "pos": LabRunner(run_lab2, lambda result: result.transfers, lambda genesis: genesis.ledger.total_supply),
    "channels": LabRunner(run_lab3, lambda result: result.payments, lambda genesis: genesis.ledger.total_supply),
}
"""The lab each attack lab runs on, by ``Attack.lab``."""


def run_attack(run: AttackRun) -> AttackReport:
    """
    Run ``run``'s attack and its honest replay, audit them, and judge the attack. Deterministic for a given run.

    :raises AttackRunError: when the attack's lab has no runner in this build.
    :raises BadParameter: when the attack's parameters do not fit the network, or the network has fewer honest
        light nodes than the attack's ``min_light_nodes``.
    """
    attack = run.attack
    if attack.lab not in LAB_RUNNERS:
        msg = (f"attack {attack.name} targets the {attack.lab} lab, which has no attack runner yet "
               f"(labs with one: {', '.join(LAB_RUNNERS)})")
        raise AttackRunError(msg)
    changes = attack.scenario_changes()
    if changes:
        run = attrs.evolve(run, scenario=attrs.evolve(run.scenario, **changes))  # type: ignore[arg-type]
    scenario = run.scenario
    if scenario.light_nodes < attack.min_light_nodes:
        msg = (f"{attack.name}: needs at least {attack.min_light_nodes} honest light nodes to matter, got "
               f"{scenario.light_nodes} (the attack's summary in a27_attacks says why)")
        raise BadParameter(msg)
    attack.check(scenario.validators, scenario.light_nodes)
    if run.replay is not None:
        run.replay.check_matches({**run.header(), "nodes": run.replay.header.get("nodes")})
    attacked_guests, replay_guests = _Guests(run, acting=True), _Guests(run, acting=False)
    lab = LAB_RUNNERS[attack.lab]
    attacked = lab.run(scenario, guests=attacked_guests)
    replay = lab.run(scenario, guests=replay_guests)
    report = _audit(run, lab.genesis_supply(attacked.genesis), attacked_transfers=lab.honest_records(attacked),
                    replay_transfers=lab.honest_records(replay), attacked_guests=attacked_guests,
                    replay_guests=replay_guests)
    tap = attacked_guests.tap
    return attrs.evolve(report, recording=attacked_guests.recording, replay_late=tap.late if tap is not None else 0)


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
        honest_submitted=len(attacked_transfers), notes=dict(attacked_guests.notes),
        by_sender=_stats_by_sender(attacked_transfers),
        replay_by_sender=_stats_by_sender(replay_transfers), views={view.name: view.node_view for view in honest},
        replay_views={view.name: view.node_view for view in replay_honest},
        honest_locked=attacked_guests.locked, replay_locked=replay_guests.locked,
        failed_by_cause=_failed_by_cause(attacked_transfers), replay_failed_by_cause=_failed_by_cause(replay_transfers))
    names = {name: key.public_key.hex()[:8] for name, key in attacked_guests.keys.items()}
    return AttackReport(run, run.attack.judge(outcome), outcome, audits, names, genesis_supply,
                        len(attacked_transfers),
                        honest_slashed=max((view.honest_slashed for view in honest), default=0),
                        replay_honest_slashed=max((view.honest_slashed for view in replay_honest), default=0),
                        honest_banned=max((view.honest_banned for view in honest), default=0),
                        replay_honest_banned=max((view.honest_banned for view in replay_honest), default=0))
