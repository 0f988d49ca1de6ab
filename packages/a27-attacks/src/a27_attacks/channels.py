"""Attacks on the channel layer (Lab 4): behaviours for `NodeParams.behaviour` / `ChannelSettings.behaviour`, a flood
of channel proposals, and the scenarios that measure each attack against the honest outcome.

Each behaviour subclasses `a27_channels.HonestChannelBehaviour` and overrides the hooks its attack needs; the node
that runs it still speaks only PROTOCOL.md. The scenarios run in memory (`a27_channels.ChannelNetwork`), with the
honest nodes' `ChannelDefences` as given, so one call shows an attack with a defence on and off.

- `PublishSupersededState`: closes unilaterally with the old state that gave it the most (defences
  `channels.penalty`, `channels.watchtower`).
- `HoldHtlcs`: neither forwards nor fails the HTLCs it should forward, and never reveals the preimages of its
  invoices (structural defences: HTLC expiry and refunds; `channels.avoid_failed_hops`). A holding payee jams.
- `unfunded_open_proposals`: channel proposals from many keys that will never fund them (`channels.proposer_funds`).

Registered on the Lab 3 network (`a27 attack NAME`): `SupersededStateAttack` (`superseded-state`),
`HoldHtlcsAttack` (`hold-htlcs`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from a27_channels import (
    Channel,
    ChannelDefences,
    ChannelNetwork,
    ChannelOpened,
    ChannelOpenFailed,
    ChannelPolicy,
    ChannelRecord,
    ChannelRefused,
    ChannelStatus,
    ChannelTerms,
    FailureCause,
    ForwardDecision,
    HonestChannelBehaviour,
    HopInstruction,
    Htlc,
    InputRefused,
    NodeParams,
    OpenProposal,
    PaymentSucceeded,
    SignedState,
    channel_record,
)
from a27_ledger import KeyPair, account_of

from .base import (
    Arena,
    Attack,
    AttackerNode,
    AttackResult,
    BadParameter,
    Outcome,
    non_negative,
    param,
    positive,
    register,
)
from .pos_attacks import _account

PEER_WAIT = 30.0
"""Seconds an attacker node waits for its victim to be a peer of its channel community (on a real node it meets it
through its walks; in simulation it knows it from the start)."""


class PublishSupersededState(HonestChannelBehaviour):
    """Remembers the states in which it held the most and, when it closes, publishes that one instead of the latest.

    The attacker's operator calls `remember` with the node's channel after updates (it reads its own node); the
    node then closes with `ChannelNode.force_close` as usual and this behaviour picks the state.
    """

    def __init__(self) -> None:
        """No state remembered yet."""
        self.best: dict[bytes, SignedState] = {}
        """Per channel id, the complete state that gave this node the largest balance."""

    def remember(self, channel: Channel) -> None:
        """Keep `channel`'s latest complete state if it gives this node more than the one kept."""
        kept = self.best.get(channel.channel_id)
        if kept is None or channel.latest.state.balance(channel.party) > kept.state.balance(channel.party):
            self.best[channel.channel_id] = channel.latest

    def state_to_publish(self, channel: Channel) -> SignedState:
        """The remembered best state, when it gives more than the latest one."""
        kept = self.best.get(channel.channel_id)
        if kept is not None and kept.state.balance(channel.party) > channel.latest.state.balance(channel.party):
            return kept
        return channel.latest


class HoldHtlcs(HonestChannelBehaviour):
    """Holds every HTLC it is asked to forward and never releases the preimage of its own invoices.

    As a hop it locks the payer's funds until the HTLC's expiry; as the payee of many small payments (its own) it
    keeps the HTLC slots of every channel on their route taken: jamming.
    """

    def forward_htlc(self, channel_id: bytes, htlc: Htlc, hop: HopInstruction) -> ForwardDecision:
        """Hold it."""
        return ForwardDecision.HOLD

    def release_preimage(self, channel_id: bytes, htlc: Htlc, preimage: bytes) -> bool:
        """Never."""
        return False


def unfunded_open_proposals(keys: Iterable[KeyPair], target: bytes, height: int, deposit: int = 1_000,
                            funding_window: int = 20) -> Iterator[tuple[bytes, OpenProposal]]:
    """One well-formed channel proposal to `target` from each of `keys` (sender, message), none of which will be
    funded: each asks `target` to hold a place until the funding deadline `height + funding_window`."""
    for key in keys:
        terms = ChannelTerms(key.public_key, target, deposit, 0, 20, height + funding_window, 0)
        yield key.public_key, OpenProposal(terms, terms.initial_state().sign(key))


# Scenarios ----------------------------------------------------------------------------------------------------------


@attrs.frozen
class SupersededStateOutcome:
    """What publishing a superseded state gave the attacker."""

    honest_share: int
    """What the attacker's latest complete state gives it: what an honest close pays it."""
    received: int
    """What the attacker received from the channel on chain."""
    close_outcome: str
    """How the chain closed the channel (settled, penalty, ...)."""

    @property
    def stolen(self) -> int:
        """Tokens taken from the victim beyond the honest outcome (negative: the attacker lost that much)."""
        return self.received - self.honest_share


def superseded_state_attack(defences: ChannelDefences, *, victim_offline: bool, seed: int = 41,
                            deposit: int = 100_000, paid: int = 60_000) -> SupersededStateOutcome:
    """The attacker opens a channel with `deposit`, pays the victim `paid`, then closes with state 0.

    The victim runs `defences`; if `victim_offline`, it goes offline (handing its tower its appointments if its
    `watchtower` defence is on) before the close and stays away for the whole challenge period.
    """
    attacker = PublishSupersededState()
    params = NodeParams(accept_deposit_up_to=deposit, defences=defences)
    network = ChannelNetwork(2, seed=seed, params=params, behaviours={0: attacker})
    channel_id = network.open(0, 1, deposit)
    node = network.nodes[0]
    attacker.remember(node.channel(channel_id))
    network.perform(0, node.pay(channel_id, paid))
    network.deliver()
    attacker.remember(node.channel(channel_id))
    honest_share = node.channel(channel_id).balance
    if victim_offline:
        network.go_offline(1)
    before = _holdings(network, node.account)
    network.perform(0, node.force_close(channel_id))
    network.mine(node.channel(channel_id).terms.challenge_period + 3)
    record = channel_record(network.chain.state, channel_id)
    assert record is not None and record.status is ChannelStatus.CLOSED
    return SupersededStateOutcome(honest_share, _holdings(network, node.account) - before,
                                  record.outcome.name.lower())


def _holdings(network: ChannelNetwork, account: bytes) -> int:
    """The balance of `account` plus every fee it paid so far (fees are not what the attack is about)."""
    state = network.chain.state
    return state.balance(account) + network.fee * state.next_nonce(account)


@attrs.frozen
class HeldHtlcOutcome:
    """What a hop holding a payment's HTLC cost the payer."""

    succeeded: bool
    """Whether the payment got through in the end."""
    attempts: int
    route_avoids_holder: bool
    """Whether the successful route left out the holding node (False if the payment failed)."""
    blocks_to_outcome: int
    """Blocks from sending the payment to its success or failure."""
    blocks_locked: int
    """Blocks for which the held amount was out of the payer's reach (until its refund on chain)."""
    amount: int

    @property
    def locked_liquidity(self) -> int:
        """Amount times blocks locked (token-blocks)."""
        return self.amount * self.blocks_locked


def held_htlc_attack(defences: ChannelDefences, *, seed: int = 43, amount: int = 5_000) -> HeldHtlcOutcome:
    """The payer (0) pays the payee (2); the cheapest routes pass the holder (1): 0-1-2 and 0-3-1-2; an honest route
    0-4-5-2 exists. The holder holds the HTLC; blocks are mined until the payment ends and the held amount is back."""
    params = NodeParams(accept_deposit_up_to=1_000_000, defences=defences)
    network = ChannelNetwork(6, seed=seed, params=params, behaviours={1: HoldHtlcs()})
    held_channel, *_ = network.open_edges([(0, 1), (1, 2), (0, 3), (3, 1), (0, 4), (4, 5), (5, 2)], 100_000)
    start = network.chain.height
    payment_hash = network.pay(0, 2, amount)
    outcome_height = None
    while True:
        outcome = network.outcome(payment_hash)
        if outcome is not None and outcome_height is None:
            outcome_height = network.chain.height
        record = channel_record(network.chain.state, held_channel)
        if outcome is not None and _refunded(record):
            break
        if network.chain.height - start > 200:
            raise AssertionError("the held HTLC was neither refunded nor the payment ended in 200 blocks")
        network.mine()
    assert outcome is not None and outcome_height is not None
    holder = network.nodes[1].account
    avoids = isinstance(outcome, PaymentSucceeded) and outcome.route is not None and \
        all(hop.node != holder for hop in outcome.route.hops)
    return HeldHtlcOutcome(isinstance(outcome, PaymentSucceeded), outcome.attempts, avoids,
                           outcome_height - start, network.chain.height - start, amount)


def _refunded(record: ChannelRecord | None) -> bool:
    return record is not None and record.status is ChannelStatus.CLOSED


@attrs.frozen
class JammingOutcome:
    """What jamming a channel's HTLC slots did to honest payments through it."""

    jam_htlcs_held: int
    """The attacker's HTLCs pending on the jammed channel (offered by the forwarding node)."""
    honest_sent: int
    honest_succeeded: int
    blocks_until_freed: int
    """Blocks after which the jammed channel's slots were free again (the jam's HTLCs expired and were failed)."""
    honest_succeeded_after: int
    """Of another `honest_sent` honest payments, sent once the slots were free."""

    @property
    def honest_success_rate(self) -> float:
        """Share of honest payments that got through while the channel was jammed."""
        return self.honest_succeeded / self.honest_sent


def jamming_attack(defences: ChannelDefences, *, seed: int = 47, jam_payments: int = 32,
                   honest_payments: int = 20) -> JammingOutcome:
    """The attacker's sender (0) pays its own holding payee (3) `jam_payments` times 1 token over 0-1-2-3, filling
    the slots of the honest channel 1-2; then an honest payer (4) pays an honest payee (5) over 4-1-2-5."""
    params = NodeParams(accept_deposit_up_to=1_000_000, defences=defences)
    network = ChannelNetwork(6, seed=seed, params=params, behaviours={3: HoldHtlcs()})
    _, jammed, *_ = network.open_edges([(0, 1), (1, 2), (2, 3), (4, 1), (2, 5)], 100_000)
    for _ in range(jam_payments):
        network.pay(0, 3, 1)
    channel = network.nodes[1].channel(jammed)

    def offered() -> int:
        return sum(1 for htlc in channel.state.htlcs if htlc.offerer == channel.party)

    def honest_round() -> int:
        return sum(1 for _ in range(honest_payments)
                   if isinstance(network.outcome(network.pay(4, 5, 1_000)), PaymentSucceeded))

    held = offered()
    succeeded = honest_round()
    start = network.chain.height
    while offered() and network.chain.height - start < 200:
        network.mine()
    return JammingOutcome(held, honest_payments, succeeded, network.chain.height - start, honest_round())


@attrs.frozen
class FloodOutcome:
    """What a flood of unfunded channel proposals did to the target and to an honest open after it."""

    proposals: int
    accepted: int
    """Flood proposals the target accepted (each holds a place until its funding deadline)."""
    honest_opened: bool


def open_flood_attack(defences: ChannelDefences, *, keys: int = 10_000, seed: int = 53) -> FloodOutcome:
    """`keys` fresh keys (no balance) each propose a channel to the target (0); then an honest, funded node (1)
    opens one."""
    params = NodeParams(accept_deposit_up_to=1_000_000, defences=defences)
    network = ChannelNetwork(2, seed=seed, params=params)
    target = network.nodes[0]
    attackers = [KeyPair.from_seed(index.to_bytes(8, "big") + bytes(24)) for index in range(keys)]
    accepted = 0
    for sender, proposal in unfunded_open_proposals(attackers, target.account, target.height):
        try:
            target.on_message(sender, proposal)
            accepted += 1
        except InputRefused as refused:
            assert isinstance(refused.error, ChannelRefused)
    channel_id = network.open(1, 0, 10_000)
    opened = any(isinstance(event, ChannelOpened) and event.channel_id == channel_id for _, event in network.events)
    assert opened or any(isinstance(event, ChannelOpenFailed) for _, event in network.events)
    return FloodOutcome(keys, accepted, opened)


# Registered attacks on the Lab 3 network ------------------------------------------------------------------------


def channel_verdict(attack: Attack, outcome: Outcome) -> AttackResult:
    """The default verdict, with the channel figures: what the attacker lost against the honest replay (a penalty,
    in the worst honest view), its on-chain fees, and the honest liquidity locked in pending HTLCs."""
    result = Attack.judge(attack, outcome)
    penalty = max(0, *(-gain for gain in outcome.gain_by_node.values()))
    fees = outcome.notes.get("attacker on-chain fees", 0)
    cost = {**result.cost, "fees": fees if isinstance(fees, int) else 0, "lost against the replay": penalty}
    effect = {**result.honest_effect, "liquidity locked (token-blocks)": outcome.honest_locked,
              "liquidity locked in the replay (token-blocks)": outcome.replay_locked}
    return attrs.evolve(result, cost=cost, honest_effect=effect)


def _light(arena: Arena, index: int) -> Any:
    """The honest light node number `index` (l0, l1...)."""
    return [node for node in arena.honest() if node.role == "light"][index]


async def _until_peer(arena: Arena, community: Any, account: bytes) -> None:
    """Wait (``PEER_WAIT`` seconds at most) until ``account`` is a peer of the attacker's channel ``community``."""
    waited = 0.0
    while waited < PEER_WAIT and all(account_of(peer.public_key.key_to_bin()) != account
                                     for peer in community.get_peers()):
        await arena.sleep(0.25)
        waited += 0.25


def _note_fees(arena: Arena, community: Any) -> None:
    """Note the attacker node's on-chain fees so far: one channel transaction fee per nonce it used."""
    state = community.pos.chain.state
    arena.note("attacker on-chain fees", community.settings.fee * state.next_nonce(community.account))


@register
@attrs.frozen
class SupersededStateAttack(Attack):
    """Opens a channel with an honest light node, pays it, then closes with the older state in which it held more."""

    name = "superseded-state"
    lab = "channels"
    family = "channels"
    summary = (
        "The attacker's light node a0 opens a channel with an honest light node (the victim), pays it off chain, and "
        "at `at` closes the channel unilaterally with the opening state, in which it still held everything, while "
        "the victim is offline for the whole challenge period (`victim_offline`). Unchallenged, the chain pays the "
        "attacker the old balance: it takes back what it paid. The victim's own challenge (`channels.penalty`) "
        "cannot come while it is offline; the appointment it handed its watchtower (`channels.watchtower`, the first "
        "validator's) can, and then the chain gives the victim the whole channel. On a real node (`a27 node run`, a "
        "battle's red team) the victim is an account (`victim_account`) and stays online (`victim_offline=false`), "
        "so its own challenge answers; its operator may stop it, and then its tower does.")
    success = "the attacker ends with more than in the honest replay, where it closes with the latest state"
    defences = ("channels.penalty", "channels.watchtower")
    replay_acts = True
    real_node = True
    real_node_act = True

    victim: int = param(0, "index of the honest light node the attacker opens its channel with", non_negative)
    deposit: int = param(2_000, "the attacker's deposit into the channel (the victim deposits nothing)", positive)
    paid: int = param(1_500, "what the attacker pays the victim off chain before it cheats", positive)
    at: float = param(30.0, "seconds after the start when the victim goes offline and a0 closes (at once if it has "
                      "passed when a0 has paid)", non_negative)
    victim_offline: bool = param(True, "whether the victim is offline for the challenge period (offline_for); "
                                 "simulation only: on a real node give false (the victim's operator may stop it)")
    offline_for: float = param(20.0, "simulated seconds the victim stays offline", positive)
    victim_account: str = param("", "on a real node: the victim light node's account (64 hex characters; in a "
                                "battle a node's name, blue-light0); empty in simulation, where victim picks it")
    challenge_period: int = param(0, "blocks of the channel's challenge period; 0: the attacker node's default (20)",
                                  non_negative)

    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        """One light node, ``a0``, that opens, pays and closes with an old state."""
        return (AttackerNode("a0", "light", "opens a channel with the victim, pays it, closes with an old state"),)

    def check(self, validators: int, light_nodes: int) -> None:
        """The victim must exist and the payment fit the deposit."""
        if self.victim >= light_nodes:
            msg = f"{self.name}: victim {self.victim} is out of range (the network has {light_nodes} light nodes)"
            raise BadParameter(msg)
        if self.victim_account:
            msg = (f"{self.name}: victim_account names the victim on a real node only; in simulation victim is the "
                   "index of an honest light node")
            raise BadParameter(msg)
        self._check_terms()

    def check_real_node(self) -> None:
        """On a real node the victim is an account, and nothing can take it offline but its own operator."""
        if _account(self.victim_account) is None:
            msg = (f"{self.name}: on a real node victim_account must be the victim's account (its public key in 64 "
                   f"hex characters, as a27 prints accounts), got {self.victim_account!r}")
            raise BadParameter(msg)
        if self.victim_offline:
            msg = (f"{self.name}: victim_offline=true needs the simulator (a real node cannot take another node "
                   "offline); give victim_offline=false: the victim's own operator may stop it")
            raise BadParameter(msg)
        self._check_terms()

    def _check_terms(self) -> None:
        if self.paid > self.deposit:
            msg = f"{self.name}: paid {self.paid} exceeds the deposit {self.deposit}"
            raise BadParameter(msg)
        if self.challenge_period == 1:
            msg = f"{self.name}: challenge_period 1 is below the honest nodes' least (2)"
            raise BadParameter(msg)

    def settings_for(self, node: AttackerNode) -> dict[str, dict[str, object]]:
        """a0 publishes the state it remembered as its best."""
        return {"channels": {"behaviour": PublishSupersededState()}}

    async def act(self, arena: Arena) -> None:
        """Open, pay, remember the best state, and at `at` (the victim going offline first) force-close."""
        community = arena.attacker("a0").communities["channels"]
        victim = None if self.victim_account else _light(arena, self.victim)
        victim_key = victim.public_key if victim is not None else _account(self.victim_account)
        assert victim_key is not None  # check_real_node made sure victim_account is an account
        behaviour = community.node.book.params.behaviour
        cheating = isinstance(behaviour, PublishSupersededState)
        await _until_peer(arena, community, victim_key)
        channel_id = await community.open_channel(victim_key, self.deposit, 0,
                                                  challenge_period=self.challenge_period or None, timeout=120.0)
        if cheating:
            behaviour.remember(community.node.channel(channel_id))
        await community.pay(channel_id, self.paid, timeout=60.0)
        arena.note("honest share (the attacker's latest balance)", community.node.channel(channel_id).balance)
        await arena.sleep(max(0.0, self.at - arena.now()))
        back_at = arena.now() + self.offline_for
        if self.victim_offline and victim is not None:
            await arena.take_offline(victim.name, self.offline_for)
        outcome = await community.force_close(channel_id, timeout=600.0)
        arena.note("close outcome", outcome.name.lower())
        _note_fees(arena, community)
        if self.victim_offline:
            await arena.sleep(max(0.0, back_at - arena.now()))

    def judge(self, outcome: Outcome) -> AttackResult:
        """The default verdict with the channel figures (penalty lost, fees, liquidity locked)."""
        return channel_verdict(self, outcome)


@register
@attrs.frozen
class HoldHtlcsAttack(Attack):
    """A forwarding hub that charges nothing and holds every HTLC honest payments route through it."""

    name = "hold-htlcs"
    lab = "channels"
    family = "channels"
    summary = (
        "The attacker's light node a0 opens a dual-funded channel with every honest light node and forwards for "
        "free, so that routed payments prefer it; it then neither forwards nor fails the HTLCs it gets, which lock "
        "the payers' funds until their expiry. Without `channels.avoid_failed_hops` the timeout ends each payment; "
        "with it, the payer tries again around the holder and the payment gets through (the liquidity stays locked "
        "until the expiry either way). It can only matter where honest payments are routed: Lab 3's light nodes "
        "pay their ring neighbours directly on the channel they share and route only to payees two or three hops "
        "round the ring, as far as the ring allows, so with 3 light nodes every payee is a neighbour, no payment "
        "is routed and no HTLC ever reaches a0; it needs at least 4 (`min_light_nodes`). On a real node (`a27 node "
        "run`) a0 is the hub alone, holding, free, accepting deposits up to `deposit`; the honest nodes' operators "
        "open the channels with it (its `act`, which opens them in simulation, does not run there). Judged on the "
        "payments a held HTLC ends, those that fail by timeout: a payment retried around a0 leaves the ring "
        "channels with other balances than in the replay, where a0 carried it, and a direct payment may then fail "
        "or succeed where it did not (reported among the honest failures, not judged).")
    success = "more honest payments fail by timeout (a hop held their HTLC) than in the honest replay (a0 forwards)"
    defences = ("channels.avoid_failed_hops",)
    replay_acts = True
    min_light_nodes = 4
    real_node = True

    deposit: int = param(1_500, "a0's deposit, and the honest node's, in each of its channels", positive)
    expiry_delta: int = param(10, "blocks a0 asks per HTLC it forwards (its policy's expiry delta; 10 is the "
                              "default policy's): how long a held HTLC locks the payer's funds", positive)

    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        """One light node, ``a0``, the hub."""
        return (AttackerNode("a0", "light", "a free forwarding hub that holds every HTLC"),)

    def settings_for(self, node: AttackerNode) -> dict[str, dict[str, object]]:
        """a0 holds HTLCs and advertises a zero fee."""
        params = NodeParams(policy=ChannelPolicy(fee_base=0, fee_ppm=0, expiry_delta=self.expiry_delta),
                            accept_deposit_up_to=self.deposit)
        return {"channels": {"behaviour": HoldHtlcs(), "node_params": params}}

    async def act(self, arena: Arena) -> None:
        """Open a channel with every honest light node (both sides deposit `deposit`)."""
        community = arena.attacker("a0").communities["channels"]
        light = [node for node in arena.honest() if node.role == "light"]
        opened = await asyncio.gather(*(community.open_channel(node.public_key, self.deposit, self.deposit,
                                                               timeout=120.0) for node in light),
                                      return_exceptions=True)
        arena.note("hub channels opened", sum(1 for result in opened if isinstance(result, bytes)))
        _note_fees(arena, community)

    def judge(self, outcome: Outcome) -> AttackResult:
        """The channel verdict (``channel_verdict``), availability judged on the honest payments that failed by
        timeout against the replay's, not on every failure."""
        result = channel_verdict(self, outcome)
        timeout = FailureCause.TIMEOUT.label
        held, replay_held = outcome.failed_by_cause.get(timeout, 0), outcome.replay_failed_by_cause.get(timeout, 0)
        broken = tuple(guarantee for guarantee in result.broken if guarantee != "availability")
        if held > replay_held:
            broken += ("availability",)
        effect = {**result.honest_effect, "payments failed by timeout": held,
                  "payments failed by timeout in the replay": replay_held}
        return attrs.evolve(result, succeeded=result.stolen > 0 or bool(broken), broken=broken, honest_effect=effect)


__all__ = [
    "FloodOutcome",
    "HeldHtlcOutcome",
    "HoldHtlcs",
    "HoldHtlcsAttack",
    "JammingOutcome",
    "PublishSupersededState",
    "SupersededStateAttack",
    "SupersededStateOutcome",
    "channel_verdict",
    "held_htlc_attack",
    "jamming_attack",
    "open_flood_attack",
    "superseded_state_attack",
    "unfunded_open_proposals",
]
