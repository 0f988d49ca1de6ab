"""
Peer-level attacks: flooding, Sybil identity sets and eclipsing a light node.

Each attacker speaks only what PROTOCOL.md documents and signs with its own keys; it plugs into an otherwise honest
node through the documented seams (``LedgerSettings.peer_policy``, ``PosSettings.behaviour``) or sends packets as a
client. The defences these attacks meet live in a27-ledger (``a27_ledger.PeerDefences``, names ``peers.<field>``):
``rate_limit``, ``max_packet_size`` and ``cheap_checks_first`` against floods, ``diversity`` and ``anchors`` against
Sybils taking a node's peer slots, ``anchors`` and ``validator_pinning`` against eclipses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from a27_ledger import KeyPair, account_of, encode_signed, sign_transfer
from a27_ledger.testing import make_keys
from a27_pos import PRECOMMIT, PREVOTE, Chain, HonestBehaviour, Vote
from a27_pos.payloads import BlockResponse, Status, SubmitTransaction, VoteMessage
from a27_pos.testing import certify

from .base import (
    Arena,
    Attack,
    AttackerNode,
    AttackResult,
    BadParameter,
    LayerSettings,
    NodeHandle,
    Outcome,
    non_negative,
    param,
    positive,
    register,
)

if TYPE_CHECKING:
    from ipv8.messaging.interfaces.udp.endpoint import Address
    from ipv8.messaging.serialization import Payload

    from a27_pos import Block, CommitCertificate, PosGenesis


class PacketSender(Protocol):
    """Anything that sends bytes to an address: an IPv8 endpoint (simulated, mock or UDP)."""

    def send(self, socket_address: Address, packet: bytes) -> None:
        """Send ``packet`` to ``socket_address``."""
        ...


@attrs.frozen
class SybilIdentities:
    """A set of attacker identities without stake: deterministic keys from ``seed``."""

    keys: tuple[KeyPair, ...]

    @classmethod
    def generate(cls, count: int, seed: int = 666) -> SybilIdentities:
        """``count`` keys made from ``seed`` (the same seed gives the same identities)."""
        return cls(tuple(make_keys(count, seed=seed)))

    @property
    def accounts(self) -> frozenset[bytes]:
        """The identities' account keys (32-byte Ed25519 public keys)."""
        return frozenset(key.public_key for key in self.keys)

    @property
    def ipv8_public_keys(self) -> frozenset[bytes]:
        """The identities' IPv8 public keys (``key_to_bin()``), as peer tables hold them."""
        return frozenset(key.ipv8_key().pub().key_to_bin() for key in self.keys)


@attrs.frozen
class SybilShare:
    """How much of a victim's peer table Sybil identities hold, against their share of the identities that tried."""

    slots: int
    """Peers in the victim's table."""
    sybil_slots: int
    """Of those, Sybil identities."""
    sybil_identities: int
    honest_identities: int

    @property
    def slot_fraction(self) -> float:
        """Fraction of the victim's peer slots held by Sybils (0 for an empty table)."""
        return self.sybil_slots / self.slots if self.slots else 0.0

    @property
    def identity_fraction(self) -> float:
        """Fraction of the identities that tried to connect that are Sybils."""
        total = self.sybil_identities + self.honest_identities
        return self.sybil_identities / total if total else 0.0

    @property
    def advantage(self) -> float:
        """Slot fraction over identity fraction: 1 is a fair share, above 1 the Sybils gained more than their share."""
        return self.slot_fraction / self.identity_fraction if self.identity_fraction else 0.0


def sybil_share(peer_keys: Iterable[bytes], sybil_keys: Collection[bytes],
                honest_keys: Collection[bytes]) -> SybilShare:
    """
    Measure a victim's peer table for the scoreboard: ``peer_keys`` are the IPv8 public keys of its peers
    (``community.get_peers()``), ``sybil_keys`` and ``honest_keys`` those of the identities that tried to connect.
    """
    sybils = set(sybil_keys)
    peers = set(peer_keys)
    return SybilShare(slots=len(peers), sybil_slots=len(peers & sybils), sybil_identities=len(sybils),
                      honest_identities=len(set(honest_keys) - sybils))


class Flooder:
    """
    Sends valid-looking signed packets (documented layouts, signed with the flooder's own keys) to one address.

    One key or many: packet ``i`` is signed by ``keys[i % len(keys)]``. Every packet differs, so a receiver's
    signature cache saves it nothing.
    """

    def __init__(self, sender: PacketSender, prefix: bytes, keys: Sequence[KeyPair]) -> None:
        """Flood through ``sender`` in the community with ``prefix`` (``community.get_prefix()``), signing with
        ``keys`` (at least one)."""
        if not keys:
            raise ValueError("a flooder needs at least one key")
        self.sender = sender
        self.prefix = prefix
        self.keys = list(keys)
        self.sent = 0
        """Packets sent so far."""

    def packets(self, count: int, make_payload: Callable[[int, KeyPair], Payload]) -> list[bytes]:
        """``count`` signed packets; ``make_payload(i, key)`` gives the payload of the ``i``-th."""
        packets = []
        for index in range(count):
            key = self.keys[index % len(self.keys)]
            packets.append(encode_signed(self.prefix, key, make_payload(index, key)))
        return packets

    def send(self, address: Address, packets: Iterable[bytes]) -> int:
        """Send ``packets`` to ``address`` back to back; returns how many."""
        sent = 0
        for packet in packets:
            self.sender.send(address, packet)
            sent += 1
        self.sent += sent
        return sent


def transfer_flood(recipient: bytes) -> Callable[[int, KeyPair], SubmitTransaction]:
    """Payloads for ``Flooder.packets``: PoS submissions of a signed 1-token transfer to ``recipient``, one nonce
    per packet (valid-looking; the sender's balance decides whether a validator admits it)."""
    def make(index: int, key: KeyPair) -> SubmitTransaction:
        return SubmitTransaction(sign_transfer(key, recipient, 1, index).encode())
    return make


def oversized_block_response(size: int) -> BlockResponse:
    """A BlockResponse (its block field may be up to 2**32 - 1 bytes long) with ``size`` bytes of junk for a block:
    a receiver that reads it verifies the packet's signature before the block fails to decode."""
    return BlockResponse(bytes(size), b"")


class CabalPolicy:
    """A ``PeerPolicy`` for eclipsing nodes: keep only fellow attackers and the victims, so that every peer an
    attacker introduces (IPv8 introduces from its own peers) is another attacker."""

    def __init__(self, kept: Collection[bytes]) -> None:
        """Keep the peers whose IPv8 public keys are in ``kept``."""
        self.kept = frozenset(kept)

    def keeps(self, public_key_bin: bytes) -> bool:
        """Whether ``public_key_bin`` is a fellow attacker or a victim."""
        return public_key_bin in self.kept


class WithholdingNode(HonestBehaviour):
    """A ``PosSettings.behaviour`` that answers no block request: the victim waits for blocks that never come."""

    def serves_blocks(self, requester: object, start: int) -> bool:
        """Never."""
        return False

    def announces_status(self, height: int) -> bool:
        """Never (its lies are sent by ``height_claim``)."""
        return False


def height_claim(height: int, block_id: bytes = b"\xee" * 32) -> Status:
    """A Status claiming a finalized ``height`` the sender does not have: a victim that believes it asks the
    sender for blocks, which a ``WithholdingNode`` never serves."""
    return Status(height, block_id)


def fake_block_response(block: Block, certificate: CommitCertificate) -> BlockResponse:
    """A BlockResponse carrying a block of a private chain and its certificate (signed by attacker keys, which hold
    no bonded stake: a node that checks certificates refuses it)."""
    return BlockResponse(block.encode(), certificate.encode())


# Registered attacks on the simulated Lab 2 network -----------------------------------------------------------------


def _positive_int(_instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
    """An attrs validator: an integer of at least 1."""
    if value < 1:
        msg = f"{attribute.name} must be at least 1, got {value!r}"
        raise ValueError(msg)


def _ipv8_key(key: KeyPair) -> bytes:
    return key.ipv8_key().pub().key_to_bin()


@attrs.frozen
class ViewFate:
    """What became of an honest node's view of the chain in an attack run, against the first honest validator's."""

    lag: int
    """Blocks it ended behind the first honest validator."""
    replay_lag: int
    forked_at: int | None
    """First height where its block differs from the first honest validator's (a private view), or None."""

    @property
    def stalled(self) -> bool:
        """It ended more than ``STALL_MARGIN`` blocks further behind than in the honest replay."""
        return self.lag > self.replay_lag + STALL_MARGIN

    @property
    def diverged(self) -> bool:
        """It holds a block the honest chain does not have at that height."""
        return self.forked_at is not None


STALL_MARGIN = 2
"""Blocks a victim may end further behind the first honest validator than in the replay before it counts as
stalled (the run stops while blocks are still being finalized, so a block or two of difference is noise)."""


def view_fate(outcome: Outcome, node: str) -> ViewFate:
    """Compare honest node ``node``'s chain with the first honest validator's, in the attack run and the replay.

    :raises KeyError: when the outcome has no view of ``node`` (or of any validator).
    """
    reference = next(iter(outcome.views))
    view, replay = outcome.views[node], outcome.replay_views[node]
    return ViewFate(outcome.views[reference].height - view.height,
                    outcome.replay_views[reference].height - replay.height, view.forked_at)


async def _rejoin_attackers_first(arena: Arena, victim: NodeHandle, attackers: Sequence[str], *, at: float,
                                  slots: int, settle: float) -> set[bytes]:
    """
    At ``at``, note the victim, give it ``slots`` peer slots and re-join it with ``attackers`` first
    (``Arena.introduce_first``); returns the IPv8 keys of the peers it had just before (the honest ones that try
    again).
    """
    await arena.sleep(max(0.0, at - arena.now()))
    known = {peer.public_key.key_to_bin() for peer in victim.communities["pos"].get_peers()}
    arena.note("victim", victim.name)
    arena.set_max_peers(victim.name, slots)
    await arena.introduce_first(victim.name, attackers, settle)
    return known


def _sybil_votes(sender: Any, key: KeyPair, height: int, chain_id: str) -> list[bytes]:
    """A prevote and a precommit for a block of the Sybil's own at ``height``, signed by ``key`` and packed by its
    community ``sender``: a validator refuses both (``key`` holds no bonded stake)."""
    block_id = hashlib.sha256(b"sybil block" + key.public_key).digest()
    return [sender.pack_signed(VoteMessage(Vote(step, height, 0, block_id, key.public_key).signed(key, chain_id)
                                           .encode())) for step in (PREVOTE, PRECOMMIT)]


class LightPeerHolder:
    """
    On real nodes, where no harness re-joins a victim: the light nodes an attack's identities have met (peers that are
    neither genesis validators nor the attack's own nodes), remembered with their addresses, so that the identities
    walk to them again and again (IPv8's introduction handshake: whoever the victim admits keeps a slot, and a victim
    that restarts meets them again at once).
    """

    def __init__(self, arena: Arena, names: Sequence[str]) -> None:
        """For attacker nodes ``names`` of ``arena``; the genesis validators are ``arena.honest()``."""
        self.arena = arena
        self.names = list(names)
        self.ours = frozenset(_ipv8_key(arena.attacker_key(name)) for name in names)
        self.validators = frozenset(handle.public_key for handle in arena.honest())
        self.met: dict[str, dict[bytes, Address]] = {name: {} for name in names}
        """Per attacker node, the light nodes it has met: IPv8 public key -> address."""

    def walk(self) -> dict[str, dict[bytes, Address]]:
        """Note the light nodes each attacker node has as peers now, walk it to every one it has met, and return
        them (``met``)."""
        for name in self.names:
            community = self.arena.attacker(name).communities["pos"]
            for peer in community.get_peers():
                key = peer.public_key.key_to_bin()
                if key not in self.ours and account_of(key) not in self.validators:
                    self.met[name][key] = peer.address
            for address in self.met[name].values():
                community.walk_to(address)
        return self.met


def _simulator_only(attack: Attack, **defaults: object) -> None:
    """Refuse, for a real node, each of ``attack``'s parameters in ``defaults`` that is not at its default: on real
    nodes the victim's operator chooses the victim and its peer-table size (a restart with ``[network] max_peers``).

    :raises BadParameter: naming the first such parameter.
    """
    for name, default in defaults.items():
        if getattr(attack, name) != default:
            msg = (f"{attack.name}: {name} is the simulator's (it picks and re-joins the victim); on real nodes the "
                   "victim's operator restarts it with a small [network] max_peers")
            raise BadParameter(msg)


def _view_verdict(outcome: Outcome, victim: str) -> tuple[ViewFate, list[str]]:
    """
    The victim's fate and the guarantees it shows broken: agreement (a private view) and availability (stalled).

    Failed transfers are reported, not judged: the victim's re-join leaves it without a validator for ``settle``
    seconds in the attack run only (not in the replay), and a transfer it starts then fails even when the defences
    hold.
    """
    fate = view_fate(outcome, victim)
    broken = []
    if fate.diverged:
        broken.append("agreement")
    if fate.stalled:
        broken.append("availability")
    return fate, broken


@register
@attrs.frozen
class PeerFlood(Attack):
    """A packet flood and oversized messages at one validator, from one key and from many."""

    name = "flood"
    lab = "pos"
    family = "flooding"
    summary = (
        "An attacker light node floods one validator from its endpoint: signed transfer submissions from its own key "
        "(one nonce each, 1 token to an account the attacker holds), Status claims each signed by a fresh key, and "
        "oversized BlockResponses of junk. Every packet is valid-looking and speaks a documented layout. Without the "
        "peer defences the validator decodes and verifies every one, so its work grows with the flood; with them a "
        "token bucket per address and message id, the packet size bound and the known-peer check come first.")
    success = ("the validator verified a signature for at least half of the flood's packets (its work grows with "
               "what an attacker sends: availability), measured against the honest replay")
    defences = ("peers.rate_limit", "peers.max_packet_size", "peers.cheap_checks_first")
    accounts = ("sink",)
    real_node = True
    real_node_act = True

    victim: int = param(0, "index of the validator flooded (v0, v1...)", non_negative)
    at: float = param(2.0, "simulated seconds after the workload starts when the flood is sent", non_negative)
    packets: int = param(6_000, "signed transfer submissions from the attacker's own key", non_negative)
    keys: int = param(3_000, "Status claims, each signed by a different fresh key", non_negative)
    oversized: int = param(20, "oversized BlockResponses", non_negative)
    oversized_size: int = param(100_000, "bytes of junk in each oversized BlockResponse", _positive_int)

    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        """One light node, ``a0``, that sends the flood."""
        return (AttackerNode("a0", "light", "floods a validator from its endpoint"),)

    def check(self, validators: int, light_nodes: int) -> None:
        """The victim must be a validator of the network, and there must be something to send."""
        if self.victim >= validators:
            msg = f"{self.name}: victim {self.victim} is out of range (the network has {validators} validators)"
            raise BadParameter(msg)
        if self.packets + self.keys + self.oversized == 0:
            msg = f"{self.name}: packets, keys and oversized are all 0: nothing to send"
            raise BadParameter(msg)

    async def act(self, arena: Arena) -> None:
        """At ``at``, build every packet, then send them back to back to the victim."""
        victim = [node for node in arena.honest() if node.role == "validator"][self.victim].name
        arena.note("victim", victim)
        await arena.sleep(max(0.0, self.at - arena.now()))
        me = arena.attacker("a0").communities["pos"]
        key = arena.attacker_key("a0")
        # The attacker's own packets are signed by its community (its key is loaded once); every packet differs.
        submission = transfer_flood(arena.attacker_key("sink").public_key)
        floods = [(f"transfer submissions from {key.public_key.hex()[:8]}",
                   [me.pack_signed(submission(index, key)) for index in range(self.packets)])]
        if self.keys:
            fresh = SybilIdentities.generate(self.keys)
            floods.append((f"Status claims from {self.keys} keys", Flooder(me.endpoint, me.get_prefix(), fresh.keys)
                           .packets(self.keys, lambda index, _key: height_claim(index + 1))))
        floods.append((f"oversized BlockResponses of {self.oversized_size:,} bytes or more",
                       [me.pack_signed(oversized_block_response(self.oversized_size + index))
                        for index in range(self.oversized)]))
        sent = 0
        for kind, packets in floods:
            count = arena.send_packets("a0", victim, packets)
            arena.note(kind, count)
            sent += count
        arena.note("packets sent", sent)

    def judge(self, outcome: Outcome) -> AttackResult:
        """The default verdict, plus availability when the victim's signature checks grew by half the flood."""
        result = super().judge(outcome)
        victim, sent = str(outcome.notes.get("victim", "")), int(str(outcome.notes.get("packets sent", 0)))
        if victim not in outcome.views:
            return result
        work, replay = outcome.views[victim].work, outcome.replay_views[victim].work
        extra = {name: work.get(name, 0) - replay.get(name, 0)
                 for name in ("packets handled", "signatures verified", "handler calls")}
        flooded = sent > 0 and 2 * extra["signatures verified"] >= sent
        broken = tuple(dict.fromkeys([*result.broken, *(["availability"] if flooded else [])]))
        effect: dict[str, object] = {f"{victim} {name} beyond the replay": count for name, count in extra.items()}
        effect[f"{victim} signatures verified per flood packet"] = round(
            extra["signatures verified"] / sent, 3) if sent else 0.0
        return attrs.evolve(result, succeeded=result.succeeded or flooded, broken=broken,
                            honest_effect={**effect, **result.honest_effect})


@register
@attrs.frozen
class SybilSlots(Attack):
    """Stake-less identities try for a light node's peer slots, and for votes and proposer slots."""

    name = "sybil"
    lab = "pos"
    family = "sybil"
    summary = (
        "Many attacker light nodes, identities without stake, reach a victim light node before its validators do "
        "(it re-joins with a small peer table, as after a restart) and try to hold its peer slots; each also signs a "
        "prevote and a precommit for a block of its own and sends them to every validator. Without the peer "
        "defences a full table admits nobody, so the Sybils keep every slot and the victim has no validator to "
        "submit to or follow. Votes and proposer slots are weighted by bonded stake: structurally none for Sybils.")
    success = ("the Sybils hold a larger share of the victim's peer slots than their share of the identities that "
               "tried (sybil_share advantage above 1), or the victim's chain stalls (availability)")
    defences = ("peers.anchors", "peers.diversity")

    real_node = True
    real_node_act = True

    sybils: int = param(12, "stake-less attacker identities (light nodes a0, a1...)", _positive_int)
    victim: int = param(0, "index of the honest light node whose peer slots they take (l0, l1...)", non_negative)
    slots: int = param(8, "the victim's peer-table size (max_peers) when it re-joins", _positive_int)
    at: float = param(1.0, "simulated seconds after the workload starts when the victim re-joins", non_negative)
    settle: float = param(0.5, "seconds between the Sybils' walks, the honest peers' walks and the votes", positive)
    hold: float = param(5.0, "seconds after the votes when the victim's table is measured", non_negative)

    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        """``sybils`` light nodes, each an identity without stake."""
        return tuple(AttackerNode(f"a{index}", "light", "a stake-less identity") for index in range(self.sybils))

    def check(self, validators: int, light_nodes: int) -> None:
        """The victim must be a light node of the network."""
        if self.victim >= light_nodes:
            msg = f"{self.name}: victim {self.victim} is out of range (the network has {light_nodes} light nodes)"
            raise BadParameter(msg)

    def check_real_node(self) -> None:
        """``victim`` and ``slots`` are the simulator's: refused unless at their defaults."""
        _simulator_only(self, victim=0, slots=8)

    async def act_real_node(self, arena: Arena) -> None:
        """
        The Sybils' own part on real nodes, where the victim's operator re-joins it (a restart with a small ``[network]
        max_peers``) and measures its table: every identity walks as the node does and keeps whoever admits it. From
        ``at`` seconds, every ``settle`` seconds while the node runs, each walks again to every light node it has met
        (``LightPeerHolder``: it holds or retakes slots); for the first ``hold`` seconds each also signs a prevote and
        a precommit for a block of its own at the height after its chain's head and sends them to each validator it
        has as a peer (then the votes sent are noted).
        """
        names = [node.name for node in self.attacker_nodes()]
        validators = {handle.public_key: handle.name for handle in arena.honest()}
        holder = LightPeerHolder(arena, names)
        await arena.sleep(max(0.0, self.at - arena.now()))
        end, sent, voting = arena.now() + self.hold, 0, True
        while True:
            holder.walk()
            for name in names if voting else ():
                community = arena.attacker(name).communities["pos"]
                packets = _sybil_votes(community, arena.attacker_key(name), community.chain.height + 1,
                                       community.chain.chain_id)
                for peer in community.validator_peers():
                    validator = validators.get(account_of(peer.public_key.key_to_bin()))
                    if validator is not None:
                        sent += arena.send_packets(name, validator, packets)
            if voting and arena.now() >= end:
                voting = False
                arena.note("sybil identities", len(names))
                arena.note("sybil votes sent", sent)
            await arena.sleep(self.settle)

    async def act(self, arena: Arena) -> None:
        """Re-join the victim with the Sybils first, send Sybil votes, then measure the victim's table."""
        honest = arena.honest()
        victim = [node for node in honest if node.role == "light"][self.victim]
        validators = [node for node in honest if node.role == "validator"]
        names = [node.name for node in self.attacker_nodes()]
        community = victim.communities["pos"]
        tried_honest = await _rejoin_attackers_first(arena, victim, names, at=self.at, slots=self.slots,
                                                     settle=self.settle)
        refused_before = sum(node.communities["pos"].drops["not a validator"] for node in validators)
        chain = validators[0].communities["pos"].chain
        for name in names:
            packets = _sybil_votes(arena.attacker(name).communities["pos"], arena.attacker_key(name), chain.height + 1,
                                   chain.chain_id)
            for validator in validators:
                arena.send_packets(name, validator.name, packets)
        await arena.sleep(self.settle + self.hold)
        sybil_keys = {_ipv8_key(arena.attacker_key(name)) for name in names}
        share = sybil_share((peer.public_key.key_to_bin() for peer in community.get_peers()), sybil_keys,
                            tried_honest)
        proposers = {chain.block(height).header.proposer for height in range(1, chain.height + 1)}
        arena.note("victim slots", share.slots)
        arena.note("sybil slots", share.sybil_slots)
        arena.note("slot fraction", round(share.slot_fraction, 3))
        arena.note("identity fraction", round(share.identity_fraction, 3))
        arena.note("advantage", round(share.advantage, 3))
        arena.note("victim validator peers", len(community.validator_peers()))
        arena.note("sybil votes sent", 2 * len(names) * len(validators))
        arena.note("sybil votes refused", sum(node.communities["pos"].drops["not a validator"]
                                              for node in validators) - refused_before)
        arena.note("blocks proposed by sybils", len(proposers & {arena.attacker_key(name).public_key
                                                                 for name in names}))

    def judge(self, outcome: Outcome) -> AttackResult:
        """Success when the Sybils' slot share beats their identity share, or the victim's chain stalled
        (availability) or diverged (agreement), or tokens moved."""
        result = super().judge(outcome)
        victim = str(outcome.notes.get("victim", ""))
        if victim not in outcome.views or "advantage" not in outcome.notes:
            return result
        advantage = float(str(outcome.notes["advantage"]))
        fate, broken = _view_verdict(outcome, victim)
        effect: dict[str, object] = {key: outcome.notes[key] for key in (
            "slot fraction", "identity fraction", "advantage", "victim validator peers", "sybil votes refused",
            "blocks proposed by sybils") if key in outcome.notes}
        effect[f"{victim} blocks behind (replay)"] = f"{fate.lag} ({fate.replay_lag})"
        return attrs.evolve(result, succeeded=advantage > 1 or bool(broken) or result.stolen > 0,
                            broken=tuple(broken), honest_effect={**effect, **result.honest_effect})


@register
@attrs.frozen
class Eclipse(Attack):
    """Attacker nodes fill a light node's peer table and feed it a false height, withheld blocks and a private
    chain."""

    name = "eclipse"
    lab = "pos"
    family = "eclipse"
    summary = (
        "Attacker light nodes that keep only each other and the victim reach a victim light node first when it "
        "re-joins with a small peer table, then claim a height far ahead, serve no block (WithholdingNode) and offer "
        "a private chain's block certified by their own keys. Without the peer defences the victim's table holds "
        "only attackers: it has no validator to follow or submit to, its chain stalls and its transfers fail. The "
        "certificate check (structural) keeps the private chain out either way.")
    success = ("the victim's chain stalls (it ends more than 2 blocks further behind the honest validators than in "
               "the replay: availability) or diverges from the honest one (a private view: agreement)")
    defences = ("peers.anchors", "peers.validator_pinning")

    real_node = True
    real_node_act = True

    attackers: int = param(6, "eclipsing attacker light nodes (a0, a1...)", _positive_int)
    victim: int = param(0, "index of the honest light node eclipsed (l0, l1...)", non_negative)
    slots: int = param(5, "the victim's peer-table size (max_peers) when it re-joins", _positive_int)
    claim: int = param(50, "the height the attackers claim", _positive_int)
    at: float = param(1.0, "simulated seconds after the workload starts when the victim re-joins", non_negative)
    settle: float = param(0.5, "seconds between the attackers' walks, the honest peers' walks and the lies",
                          positive)

    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        """``attackers`` light nodes that withhold blocks and keep only each other and the victim."""
        return tuple(AttackerNode(f"a{index}", "light", "fills the victim's peer table, withholds and lies")
                     for index in range(self.attackers))

    def check(self, validators: int, light_nodes: int) -> None:
        """The victim must be a light node of the network."""
        if self.victim >= light_nodes:
            msg = f"{self.name}: victim {self.victim} is out of range (the network has {light_nodes} light nodes)"
            raise BadParameter(msg)

    def check_real_node(self) -> None:
        """``victim`` and ``slots`` are the simulator's: refused unless at their defaults."""
        _simulator_only(self, victim=0, slots=5)

    def settings_for(self, node: AttackerNode) -> LayerSettings:
        """Every attacker serves no block and announces no Status."""
        return {"pos": {"behaviour": WithholdingNode()}}

    async def act_real_node(self, arena: Arena) -> None:
        """
        The attackers' own part on real nodes, where the victim's operator re-joins it (a restart with a small
        ``[network] max_peers``) and measures it: every identity walks as the node does and keeps whoever admits it
        (a cabal policy needs the victim's key in advance; the validators' introductions give them its address).
        From ``at`` seconds, every ``settle`` seconds while the node runs, each walks again to every light node it has
        met (``LightPeerHolder``) and sends it the height claim and a private block on the head of the chain it
        follows, certified by the attackers' keys (each victim noted once).
        """
        names = [node.name for node in self.attacker_nodes()]
        keys = [arena.attacker_key(name) for name in names]
        holder = LightPeerHolder(arena, names)
        lied_to: set[bytes] = set()
        lies: list[Payload] = []
        based_on = -1
        await arena.sleep(max(0.0, self.at - arena.now()))
        while True:
            follower = arena.attacker(names[0]).communities["pos"]
            if follower.chain.height != based_on:
                based_on = follower.chain.height
                fake = _private_block(follower.chain, follower.settings.genesis, keys[0])
                lies = [height_claim(self.claim), fake_block_response(fake, certify(fake, keys))]
            for name, met in holder.walk().items():
                community = arena.attacker(name).communities["pos"]
                for key, address in met.items():
                    for lie in lies:
                        community.endpoint.send(address, community.pack_signed(lie))
                    if account_of(key) not in lied_to:
                        lied_to.add(account_of(key))
                        arena.note("lying to", account_of(key).hex())
            await arena.sleep(self.settle)

    async def act(self, arena: Arena) -> None:
        """Keep only the cabal, re-join the victim with the attackers first, then send the lies."""
        honest = arena.honest()
        victim = [node for node in honest if node.role == "light"][self.victim]
        names = [node.name for node in self.attacker_nodes()]
        cabal = [arena.attacker(name).communities["pos"] for name in names]
        policy = CabalPolicy({_ipv8_key(arena.attacker_key(name)) for name in names}
                             | {_ipv8_key_of(victim.communities["pos"])})
        for community in cabal:
            community.peer_policy = policy
        await _rejoin_attackers_first(arena, victim, names, at=self.at, slots=self.slots, settle=self.settle)
        target = victim.communities["pos"]
        keys = [arena.attacker_key(name) for name in names]
        fake = _private_block(target.chain, target.settings.genesis, keys[0])
        lies = [height_claim(self.claim), fake_block_response(fake, certify(fake, keys))]
        for name, community in zip(names, cabal, strict=True):
            arena.send_packets(name, victim.name, [community.pack_signed(lie) for lie in lies])
        await arena.sleep(self.settle)
        arena.note("victim peers", len(target.get_peers()))
        arena.note("victim validator peers", len(target.validator_peers()))
        arena.note("claimed height taken", max(target.sync.peer_height(_ipv8_key(key)) for key in keys))

    def judge(self, outcome: Outcome) -> AttackResult:
        """Success when the victim's chain stalled (availability) or diverged (agreement), or tokens moved; the
        measured heights, lag and fork point go in the report."""
        result = super().judge(outcome)
        victim = str(outcome.notes.get("victim", ""))
        if victim not in outcome.views:
            return result
        fate, broken = _view_verdict(outcome, victim)
        view = outcome.views[victim]
        effect: dict[str, object] = {
            f"{victim} height (replay)": f"{view.height} ({outcome.replay_views[victim].height})",
            f"{victim} blocks behind the first validator (replay)": f"{fate.lag} ({fate.replay_lag})",
            f"{victim} forked at": fate.forked_at,
            f"{victim} validator peers at the end": view.validator_peers}
        effect.update({key: outcome.notes[key] for key in ("victim validator peers", "claimed height taken")
                       if key in outcome.notes})
        return attrs.evolve(result, succeeded=bool(broken) or result.stolen > 0, broken=tuple(broken),
                            honest_effect={**effect, **result.honest_effect})


def _private_block(chain: Chain, genesis: PosGenesis, key: KeyPair) -> Block:
    """The next block after ``chain``'s head on a private copy of it, proposed by ``key`` (no stake)."""
    private = Chain.start(genesis)
    for height in range(1, chain.height + 1):
        block, certificate = chain.block(height), chain.certificate(height)
        assert block is not None and certificate is not None
        private.apply_synced(block, certificate)
    return private.build_block(key, 0, 0)  # stamped just after its parent


def _ipv8_key_of(community: Any) -> bytes:
    """The IPv8 public key of the node running ``community``."""
    return bytes(community.my_peer.public_key.key_to_bin())
