"""
Lab 3 in simulation: light nodes open payment channels on the proof-of-stake chain, pay each other off chain (on a
channel they share, and routed over two or three hops), close the channels (cooperatively, and at least one
unilaterally after the challenge period), and the chain must pay every party exactly what the off-chain states say.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter
from collections.abc import Sequence

import attrs

from a27_channels import (
    CHANNEL,
    ChannelCommunity,
    ChannelOpenError,
    CloseOutcome,
    DirectPaymentError,
    NodeParams,
    PaymentSucceeded,
    WrongChannelStatus,
    channel_error_for_code,
    channel_record,
)
from a27_ledger import LedgerSnapshot
from a27_netsim import Simulation
from a27_pos import PosGenesis

from ..node import LIGHT, A27Node, LayerSettings, NodeSpec, SimulatedRuntime, Stores, build_node, introduce_all
from ..scenario import SimScenario
from .common import (
    SETTLE_CHECK_INTERVAL,
    ChainWatcher,
    Guests,
    ProgressCallback,
    invariants_hold,
    make_pos_genesis,
    make_specs,
    schedule_faults,
    simulate,
    wait_for_heights,
    with_layers,
)

OPEN_TIMEOUT = 120.0
"""Simulated seconds an open may take until its funding is final."""
PAYMENT_TIMEOUT = 120.0
PAYMENT_INTERVAL = 0.5
"""Mean simulated seconds between the starts of two payments (exponentially distributed)."""
GOSSIP_TIMEOUT = 60.0
"""Simulated seconds allowed for every light node to learn every channel before payments start."""
CLOSE_TIMEOUT = 600.0
DIRECT_SHARE = 0.35
"""Share of payments made directly on a channel the payer shares with the payee; the rest are routed."""


@attrs.frozen
class ChannelRecordLine:
    """One channel of the run: who opened it with whom, its funding, the final off-chain state and its close."""

    channel_id: str
    opener: str
    peer: str
    deposit_opener: int
    deposit_peer: int
    funding_height: int
    final_sequence: int
    """The sequence number of the last state both parties signed."""
    final_opener: int
    final_peer: int
    """The last off-chain balances of the opener and the peer."""
    parties_agree: bool
    """Both parties held the same last state before the close."""
    close_kind: str
    """cooperative or unilateral (as planned)."""
    closed_by: str
    outcome: str
    """What the chain recorded: cooperative, unilateral or penalty (empty if the close never settled)."""
    close_height: int
    """The height of the close transaction on chain."""
    settled_height: int
    """The height at which the closer saw the channel paid out (after the challenge period for unilateral)."""


@attrs.frozen
class PaymentRecord:
    """One off-chain payment and how it ended."""

    kind: str
    """direct or routed."""
    payer: str
    payee: str
    amount: int
    started_at: float
    outcome: str
    """succeeded or failed."""
    cause: str
    """Why it failed (no path, insufficient balance, timeout, ...); empty on success."""
    hops: int
    fees: int
    """What the forwarding nodes kept (routed payments)."""
    attempts: int
    forwarders: tuple[tuple[str, int], ...] = ()
    """Every forwarding node and the fee it kept."""


@attrs.frozen
class AccountCheck:
    """One light node's money: its on-chain change over the run against what its channels say it should be."""

    name: str
    initial: int
    final: int
    onchain_fees: int
    """Fees of the channel transactions this node sent (opens, closes)."""
    channel_net: int
    """Sum over its channels of the final off-chain balance minus its deposit."""
    payments_net: int
    """What the payment records say: received minus paid (amounts and fees) plus forwarding fees earned."""

    @property
    def ok(self) -> bool:
        """On-chain change equals the channels' net less fees, and the channels' net equals the payments' net."""
        return self.final - self.initial == self.channel_net - self.onchain_fees and \
            self.channel_net == self.payments_net


@attrs.frozen
class Lab3NodeReport:
    """One node's chain at the final height."""

    name: str
    role: str
    height: int
    digest_at_target: str


@attrs.frozen
class Lab3Result:
    """Everything a Lab 3 run produced."""

    scenario: SimScenario
    names: dict[bytes, str]
    target_height: int
    """The height every node was checked at: the highest any validator had finalized after the last close."""
    channels: tuple[ChannelRecordLine, ...]
    payments: tuple[PaymentRecord, ...]
    accounts: tuple[AccountCheck, ...]
    nodes: tuple[Lab3NodeReport, ...]
    snapshot: LedgerSnapshot = attrs.field(repr=False)
    open_failures: tuple[str, ...]
    channel_escrow_left: int
    """What the chain still holds in channel escrows at the target height (0 once every close is settled)."""
    agreed: bool
    supply_ok: bool
    end_time: float
    phases: dict[str, float]
    """Simulated seconds at which each phase ended (opened, paid, closed, settled)."""
    drops: dict[str, int]
    """Channel messages nodes dropped, by cause, summed over nodes (conflicting proposals, gossip ahead of the
    chain); counted rather than logged."""
    network: dict[str, object]
    genesis: PosGenesis | None = attrs.field(default=None, repr=False)
    """The run's genesis (the lab's nodes' accounts, and a caller's guests' if it added any)."""

    @property
    def channels_ok(self) -> bool:
        """Every channel opened, both sides agreed, and it closed as planned with its deposits paid out."""
        return not self.open_failures and self.channel_escrow_left == 0 and all(
            line.parties_agree and line.outcome == line.close_kind
            and line.final_opener + line.final_peer == line.deposit_opener + line.deposit_peer
            for line in self.channels)

    @property
    def balances_ok(self) -> bool:
        """Every light node's on-chain balance matches its channels' final off-chain states."""
        return all(account.ok for account in self.accounts)

    @property
    def ok(self) -> bool:
        """The verdict: channels, balances, agreement of every node's ledger, and the supply invariant."""
        return self.channels_ok and self.balances_ok and self.agreed and self.supply_ok


@attrs.define
class _Channel:
    channel_id: bytes
    opener: A27Node
    peer: A27Node
    funding_height: int = 0


class _Lab3Run:
    """The phases of a run: open a ring of channels, pay, close, wait for settlement, check."""

    def __init__(self, scenario: SimScenario, simulation: Simulation, nodes: Sequence[A27Node],
                 names: dict[bytes, str]) -> None:
        self.scenario = scenario
        self.simulation = simulation
        self.nodes = nodes
        self.names = names
        self.light = [node for node in nodes if node.spec.role == LIGHT]
        self.channels: list[_Channel] = []
        self.open_failures: list[str] = []
        self.payments: list[PaymentRecord] = []

    def _between(self, first: A27Node, second: A27Node) -> _Channel | None:
        for channel in self.channels:
            if {channel.opener.name, channel.peer.name} == {first.name, second.name}:
                return channel
        return None

    async def open_ring(self) -> None:
        """Every light node opens a dual-funded channel to the next one; returns once every funding is final."""
        deposit = self.scenario.channel_deposit

        async def open_one(opener: A27Node, peer: A27Node) -> None:
            try:
                channel_id = await opener.channels.open_channel(peer.spec.key.public_key, deposit, deposit,
                                                                timeout=OPEN_TIMEOUT)
            except (ChannelOpenError, asyncio.TimeoutError) as error:
                self.open_failures.append(f"{opener.name}-{peer.name}: {error or 'timeout'}")
                return
            record = channel_record(opener.pos.chain.state, channel_id)
            funding_height = record.funding_height if record is not None else 0
            self.channels.append(_Channel(channel_id, opener, peer, funding_height))

        count = len(self.light)
        await asyncio.gather(*(open_one(self.light[index], self.light[(index + 1) % count])
                               for index in range(count)))
        self.channels.sort(key=lambda channel: self.light.index(channel.opener))
        await self._wait_for_graphs()

    async def _wait_for_graphs(self) -> None:
        """Routing needs the channel graph: wait (bounded) until every light node has heard of every channel."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GOSSIP_TIMEOUT
        wanted = {channel.channel_id for channel in self.channels}
        while loop.time() < deadline:
            if all(channel_id in node.channels.node.graph for node in self.light for channel_id in wanted):
                return
            await asyncio.sleep(SETTLE_CHECK_INTERVAL)

    async def pay(self) -> None:
        """Seeded payments, started at random times and run concurrently: direct to a ring neighbour, or routed."""
        rng = self.simulation.streams.stream("lab3/payments")
        count = len(self.light)
        plans = []
        start = 0.0
        for _ in range(self.scenario.payments):
            start += rng.expovariate(1.0 / PAYMENT_INTERVAL)
            payer_index = rng.randrange(count)
            direction = rng.choice((1, -1))
            # Routed payees two or three hops away (as far as a small ring allows).
            distance = 1 if rng.random() < DIRECT_SHARE else min(rng.choice((2, 3)), count // 2)
            payee = self.light[(payer_index + direction * distance) % count]
            amount = rng.randint(1, self.scenario.channel_deposit // 3)
            if rng.random() < self.scenario.overdraft_probability:
                # More than the payer can hold in a channel: must fail, and say why.
                amount = 2 * self.scenario.channel_deposit + rng.randint(1, 1_000)
            plans.append((start, self.light[payer_index], payee, amount, distance == 1))
        await asyncio.gather(*(self._one_payment(*plan) for plan in plans))

    async def _one_payment(self, delay: float, payer: A27Node, payee: A27Node, amount: int, direct: bool) -> None:
        await asyncio.sleep(delay)
        loop = asyncio.get_running_loop()
        started_at = loop.time()
        base = (payer.name, payee.name, amount, started_at)
        channel = self._between(payer, payee) if direct else None
        if direct and channel is not None:
            try:
                await payer.channels.pay(channel.channel_id, amount, timeout=PAYMENT_TIMEOUT)
            except DirectPaymentError as error:
                cause = channel_error_for_code(error.code).reason
                self.payments.append(PaymentRecord("direct", *base, "failed", cause, 1, 0, 1))
            except asyncio.TimeoutError:
                self.payments.append(PaymentRecord("direct", *base, "failed", "timeout", 1, 0, 1))
            else:
                self.payments.append(PaymentRecord("direct", *base, "succeeded", "", 1, 0, 1))
            return
        invoice = payee.channels.create_invoice(amount)
        try:
            outcome = await payer.channels.send_payment(invoice, timeout=PAYMENT_TIMEOUT)
        except asyncio.TimeoutError:
            self.payments.append(PaymentRecord("routed", *base, "failed", "timeout", 0, 0, 0))
            return
        if isinstance(outcome, PaymentSucceeded):
            route = outcome.route
            hops = route.hops if route is not None else ()
            forwarders = tuple((self.names.get(hop.node, "?"), hop.amount - following.amount)
                               for hop, following in itertools.pairwise(hops))
            self.payments.append(PaymentRecord("routed", *base, "succeeded", "", len(hops),
                                               route.fees if route is not None else 0, outcome.attempts,
                                               forwarders))
        else:
            self.payments.append(PaymentRecord("routed", *base, "failed", outcome.failure.cause.label, 0, 0,
                                               outcome.attempts))

    async def wait_for_quiet_channels(self) -> None:
        """Wait (bounded) until no channel has an HTLC or an update in flight, so its last state is final."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PAYMENT_TIMEOUT
        while loop.time() < deadline:
            if all(not side.channels.node.channel(channel.channel_id).state.htlcs
                   and not side.channels.node.channel(channel.channel_id).busy
                   for channel in self.channels for side in (channel.opener, channel.peer)):
                return
            await asyncio.sleep(SETTLE_CHECK_INTERVAL)

    def final_states(self) -> list[tuple[int, int, int, bool]]:
        """Per channel: the last sequence, the opener's and the peer's balance, and whether both sides agree."""
        states = []
        for channel in self.channels:
            opener_view = channel.opener.channels.node.channel(channel.channel_id)
            peer_view = channel.peer.channels.node.channel(channel.channel_id)
            agree = opener_view.state == peer_view.state and not opener_view.state.htlcs
            states.append((opener_view.state.sequence, opener_view.balance, opener_view.peer_balance, agree))
        return states

    async def close_all(self) -> list[tuple[str, str, str, int]]:
        """Close every channel (seeded ones unilaterally, by a seeded party); per channel: kind, closer, outcome,
        settled height."""
        rng = self.simulation.streams.stream("lab3/closes")
        unilateral = set(rng.sample(range(len(self.channels)), min(self.scenario.unilateral_closes,
                                                                    len(self.channels))))
        closers = [rng.choice((channel.opener, channel.peer)) if index in unilateral else channel.opener
                   for index, channel in enumerate(self.channels)]

        async def close_one(index: int) -> tuple[str, str, str, int]:
            channel = self.channels[index]
            closer = closers[index]
            community: ChannelCommunity = closer.channels
            kind = "unilateral" if index in unilateral else "cooperative"
            try:
                if kind == "unilateral":
                    outcome = await community.force_close(channel.channel_id, timeout=CLOSE_TIMEOUT)
                else:
                    outcome = await community.close_channel(channel.channel_id, timeout=CLOSE_TIMEOUT)
            except (asyncio.TimeoutError, WrongChannelStatus):
                # WrongChannelStatus: a party already went on chain (a guest's HTLC held until its expiry).
                return kind, closer.name, "", 0
            return kind, closer.name, _outcome_name(outcome), closer.pos.chain.height

        return list(await asyncio.gather(*(close_one(index) for index in range(len(self.channels)))))


def _outcome_name(outcome: CloseOutcome) -> str:
    return outcome.name.lower()


def _node_settings(scenario: SimScenario, simulation: Simulation, spec: NodeSpec,
                   guests: Guests | None) -> LayerSettings:
    """The lab's channel settings of node ``spec`` (a seeded preimage stream of its own); a guest caller may add
    settings for any node, per layer, over the lab's."""
    params = NodeParams(challenge_period=scenario.challenge_period, accept_deposit_up_to=scenario.channel_deposit)
    own: LayerSettings = {"channels": {"node_params": params, "fee": scenario.fee,
                                       "rng": simulation.streams.stream(f"channels/{spec.name}")}}
    extra = guests.settings(spec) if guests is not None else {}
    return {layer: {**own.get(layer, {}), **extra.get(layer, {})} for layer in (*own, *extra)}


async def _run(scenario: SimScenario, simulation: Simulation, progress: ProgressCallback | None,
               guests: Guests | None) -> Lab3Result:
    lab_specs = with_layers(make_specs(scenario, simulation), scenario.layers)
    specs = lab_specs + (with_layers(guests.specs(simulation, scenario), scenario.layers) if guests is not None else [])
    genesis = make_pos_genesis(scenario, specs)
    names = {spec.key.public_key: spec.name for spec in specs}
    stores = Stores(scenario.db)
    runtime = SimulatedRuntime(simulation.network, epoch=stores.resume_epoch(specs))
    nodes = [await build_node(spec, genesis, runtime, stores=stores,
                              settings=_node_settings(scenario, simulation, spec, guests)) for spec in specs]
    # Channel messages go to a channel's other party and routed payments hop along the ring, so every node knows
    # every other here (guests included); the light-node topology of Lab 2 does not apply.
    introduce_all(nodes)
    lab_nodes = nodes[:len(lab_specs)]
    watcher = ChainWatcher(lab_nodes, runtime.now)
    loop = asyncio.get_running_loop()
    start = loop.time()
    schedule_faults(scenario, simulation.network, lab_nodes, start)
    run = _Lab3Run(scenario, simulation, lab_nodes, names)
    phases: dict[str, float] = {}
    steps = ("opening channels", "paying", "closing", "settling")

    def report(step: int) -> None:
        if progress is not None:
            progress(step, len(steps), steps[step] if step < len(steps) else "done")

    async def open_and_pay() -> None:
        report(0)
        await run.open_ring()
        phases["opened"] = loop.time() - start
        report(1)
        await run.pay()
        await run.wait_for_quiet_channels()

    if guests is None:
        await open_and_pay()
    else:
        # Guests act from the start, alongside the opens and payments; the closes wait for them.
        await asyncio.gather(open_and_pay(), guests.run(nodes, start, start + scenario.duration))
    phases["paid"] = loop.time() - start
    states = run.final_states()
    report(2)
    closes = await run.close_all()
    phases["closed"] = loop.time() - start
    report(3)
    target = await wait_for_heights(lab_nodes, scenario.settle_timeout, watcher)
    phases["settled"] = loop.time() - start
    report(4)
    result = _collect(scenario=scenario, names=names, nodes=lab_nodes, run=run, states=states, closes=closes,
                      watcher=watcher, target=target, end_time=loop.time() - start, phases=phases,
                      network=simulation.network.stats.summary())
    if guests is not None:
        guests.finish(nodes)
    for node in nodes:
        await node.stop()
    return attrs.evolve(result, genesis=genesis)


def _collect(*, scenario: SimScenario, names: dict[bytes, str], nodes: Sequence[A27Node], run: _Lab3Run,
             states: Sequence[tuple[int, int, int, bool]], closes: Sequence[tuple[str, str, str, int]],
             watcher: ChainWatcher, target: int, end_time: float, phases: dict[str, float],
             network: dict[str, object]) -> Lab3Result:
    reference = nodes[0].pos.chain
    snapshot = watcher.snapshots.get(target, reference.state.snapshot())
    deposit = scenario.channel_deposit
    lines = []
    channel_net: Counter[str] = Counter()
    for channel, (sequence, final_opener, final_peer, agree), (kind, closer, outcome, settled) in zip(
            run.channels, states, closes, strict=True):
        record = channel_record(reference.state, channel.channel_id)
        lines.append(ChannelRecordLine(channel.channel_id.hex(), channel.opener.name, channel.peer.name, deposit,
                                       deposit, channel.funding_height, sequence, final_opener, final_peer, agree,
                                       kind, closer, outcome, record.close_height if record is not None else 0,
                                       settled))
        channel_net[channel.opener.name] += final_opener - deposit
        channel_net[channel.peer.name] += final_peer - deposit
    payments_net: Counter[str] = Counter()
    for payment in run.payments:
        if payment.outcome != "succeeded":
            continue
        payments_net[payment.payer] -= payment.amount + payment.fees
        payments_net[payment.payee] += payment.amount
        for forwarder, fee in payment.forwarders:
            payments_net[forwarder] += fee
    onchain_fees: Counter[bytes] = Counter()
    for height in range(1, target + 1):
        block = reference.block(height)
        if block is None:
            break
        for transaction in block.transactions:
            onchain_fees[transaction.sender] += transaction.fee
    accounts = tuple(AccountCheck(node.name, scenario.initial_balance, snapshot.balance(node.spec.key.public_key),
                                  onchain_fees[node.spec.key.public_key], channel_net[node.name],
                                  payments_net[node.name])
                     for node in run.light)
    drops: Counter[str] = Counter()
    for node in nodes:
        drops.update(node.channels.drops)
    escrow_left = sum(amount for name, _key, amount in snapshot.escrows if name == CHANNEL)
    supply_ok = True
    reports = []
    for node in nodes:
        if not invariants_hold(node.pos.chain.check_invariants):
            supply_ok = False
        reports.append(Lab3NodeReport(node.name, node.spec.role, node.pos.chain.height,
                                      watcher.digests[node.name].get(target, b"").hex()))
    agreed = target > 0 and all(report.digest_at_target for report in reports) and len(
        {report.digest_at_target for report in reports}) == 1
    return Lab3Result(scenario, names, target, tuple(lines), tuple(sorted(run.payments, key=_payment_order)),
                      accounts, tuple(reports), snapshot, tuple(sorted(run.open_failures)), escrow_left, agreed,
                      supply_ok, end_time, phases, dict(sorted(drops.items())), network)


def _payment_order(payment: PaymentRecord) -> tuple[float, str, str]:
    return payment.started_at, payment.payer, payment.payee


def run_lab3(scenario: SimScenario, progress: ProgressCallback | None = None,
             guests: Guests | None = None) -> Lab3Result:
    """
    Run Lab 3 in simulation: deterministic for a given scenario (seed included).

    ``guests`` adds nodes beyond the lab's (see ``Guests``): they know every node, start acting with the opens
    (their ``run`` gets ``duration`` seconds as its stop time), and the lab's closes wait until their ``run`` has
    returned. The ring, payments, closes and the result are the lab's nodes' only; the channel escrow left counts
    every channel on chain, guests' included.
    """
    # Concurrent payments make conflicting proposals that the protocol resolves; the result counts the drops.
    channel_logger = logging.getLogger(ChannelCommunity.__name__)
    level = channel_logger.level
    channel_logger.setLevel(logging.ERROR)
    try:
        return simulate(scenario, lambda simulation: _run(scenario, simulation, progress, guests))
    finally:
        channel_logger.setLevel(level)


__all__ = ["AccountCheck", "ChannelRecordLine", "Lab3NodeReport", "Lab3Result", "PaymentRecord", "run_lab3"]
