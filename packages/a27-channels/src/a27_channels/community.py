"""
The channel community (Lab 3): payment channels between nodes, routed payments, and channel gossip.

`ChannelNode` decides; this class sends and receives. Messages between the two parties of a channel (open, update,
close) and gossip (announcements, policies) travel in this community; everything on chain goes through the node's
`PosCommunity`: transactions are submitted to its validators, and every block it finalizes is shown to the node,
which reacts to closes within their challenge period.

Handlers drop bad input with a log line and a counter (``drops``), never raise and never change state.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, TypeVar

import attrs
from ipv8.community import CommunitySettings

from a27_channels.actions import (
    Action,
    ChannelClosed,
    ChannelOpened,
    ChannelOpenFailed,
    DirectPaymentDone,
    DirectPaymentFailed,
    Event,
    Gossip,
    InputRefused,
    PaymentFailed,
    PaymentSucceeded,
    Send,
    Submit,
)
from a27_channels.behaviour import ChannelBehaviour
from a27_channels.defences import ChannelDefences
from a27_channels.errors import MalformedChannelData
from a27_channels.graph import ChannelGraph
from a27_channels.messages import Appointment
from a27_channels.node import ChannelNode
from a27_channels.onchain import Challenge, CloseOutcome
from a27_channels.params import NodeParams
from a27_channels.payloads import CHANNEL_MESSAGES, from_payload, to_payload
from a27_channels.store import ChannelStore, Invoice
from a27_channels.watchtower import Watchtower
from a27_ledger import (
    A27Community,
    DroppedMessage,
    KeyPair,
    LedgerError,
    NoValidator,
    PeerDefences,
    PeerLimits,
    Receipt,
    SubmissionTimeout,
    Transaction,
    TransactionBody,
    account_of,
    community_id_for,
    signed_handler,
)
from a27_pos import Block, CommitCertificate, PosCommunity

if TYPE_CHECKING:
    from ipv8.peer import Peer

CHANNELS_COMMUNITY_NAME = "a27/channels/v1"
_T = TypeVar("_T")


def _challenged(challenge: Transaction) -> str:
    """Which state of which channel a tower's challenge answers with, for its log line."""
    body = challenge.body
    if not isinstance(body, Challenge):
        return "challenge"
    state = body.signed.state
    return f"state {state.sequence} of channel {state.channel_id.hex()[:16]}"


class ChannelOpenError(Exception):
    """A channel did not open; the message says why (refused, funding deadline passed)."""


class DirectPaymentError(Exception):
    """A direct payment on a channel did not happen; `code` is the channel error's code."""

    def __init__(self, failure: DirectPaymentFailed) -> None:
        """Wrap the failure."""
        super().__init__(f"payment of {failure.amount} refused (code {failure.code}): {failure.reason}")
        self.code = failure.code


class ChannelSettings(CommunitySettings):
    """Settings of the channel community; collaborators left out are created."""

    pos: PosCommunity
    """The node's PoS community: its chain must accept the channel kinds (`channel_chain`)."""
    store: ChannelStore | None = None
    """None: channels in memory."""
    graph: ChannelGraph | None = None
    node_params: NodeParams | None = None
    behaviour: ChannelBehaviour | None = None
    """The node's behaviour (README, "Behaviour seam"); None: that of `node_params` (honest by default)."""
    defences: ChannelDefences | None = None
    """The node's defences (README, "Defences"); None: those of `node_params` (all on by default)."""
    rng: random.Random | None = None
    """Source of invoice preimages; None: os.urandom. A seeded one makes simulations repeat exactly."""
    tick_interval: float = 0.25
    """Seconds between timer checks (retransmissions, give-ups)."""
    fee: int = 1
    """Fee of this node's channel transactions."""
    onchain_timeout: float = 30.0
    """Seconds to wait for a channel transaction to be final before checking it and sending it again."""
    onchain_attempts: int = 5
    watchtower: bytes | None = None
    """The account of the node whose tower keeps this node's appointments, handed to it over the wire (Appointment,
    PROTOCOL.md) whenever they change and every `appointment_refresh` seconds while unchanged; none are sent while
    the `watchtower` defence is off. None: none are sent (the simulator hands them in-process, `keep_appointments`)."""
    appointment_refresh: float = 5.0
    """Seconds after which unchanged appointments are handed again (the tower refuses an appointment for a channel
    whose opening it has not finalized yet)."""
    peer_defences: PeerDefences = PeerDefences()
    """Overlay-wide peer defences (a27-ledger README, "Defences"), all on; ``PeerDefences.none()`` turns them off."""
    peer_limits: PeerLimits = PeerLimits()
    """The numbers of those defences."""


class ChannelCommunity(A27Community):
    """Payment channels: opens, off-chain updates, routed payments, closes; gossip of the channel graph."""

    community_id = community_id_for(CHANNELS_COMMUNITY_NAME)
    settings_class = ChannelSettings

    def __init__(self, settings: ChannelSettings) -> None:
        """Create the community on top of ``settings.pos``."""
        super().__init__(settings)
        self.settings = settings
        self.pos = settings.pos
        self.key = KeyPair.from_ipv8_private_bin(self.my_peer.key.key_to_bin())
        params = NodeParams() if settings.node_params is None else settings.node_params
        if settings.behaviour is not None:
            params = attrs.evolve(params, behaviour=settings.behaviour)
        if settings.defences is not None:
            params = attrs.evolve(params, defences=settings.defences)
        self.node = ChannelNode(self.key, self.pos.chain.state, store=settings.store, graph=settings.graph,
                                params=params, rng=settings.rng)
        self.node.height = self.pos.chain.height
        self.tower = Watchtower(self.pos.chain.state)
        """This node's watchtower for other nodes (README, "Defences"): it keeps the appointments handed to it with
        `keep_appointments`, is shown every block this node finalizes, and submits a client's challenge itself."""
        self.stats: Counter[str] = Counter()
        """What this node sent and submitted, by event."""
        self.event_listeners: list[Callable[[Event], None]] = []
        """Called with every event of the node (opened, closed, payments sent, received, failed)."""
        self._opening: dict[bytes, asyncio.Future[bytes]] = {}
        self._closing: dict[bytes, asyncio.Future[CloseOutcome]] = {}
        self._payments: dict[bytes, asyncio.Future[PaymentSucceeded | PaymentFailed]] = {}
        self._direct: dict[bytes, list[asyncio.Future[DirectPaymentDone]]] = {}
        self._peers: dict[bytes, Peer] = {}
        self._onchain: asyncio.Queue[TransactionBody] = asyncio.Queue()
        self._handed: tuple[int, tuple[tuple[bytes, int], ...]] | None = None
        self._handed_at = 0.0

        for payload_class in CHANNEL_MESSAGES:
            self.add_message_handler(payload_class, partial(signed_handler(payload_class)(ChannelCommunity.receive),
                                                            self))
        self.pos.commit_listeners.append(self._on_commit)
        self.register_task("channel timers", self._tick, interval=settings.tick_interval,
                           delay=settings.tick_interval)
        self.register_task("channel transactions", self._submit_transactions)

    async def unload(self) -> None:
        """Stop following the chain, then unload."""
        if self._on_commit in self.pos.commit_listeners:
            self.pos.commit_listeners.remove(self._on_commit)
        await super().unload()

    # The node's API -------------------------------------------------------------------------------------------

    async def open_channel(self, peer: bytes, deposit: int, peer_deposit: int = 0, *,
                           challenge_period: int | None = None, timeout: float = 60.0) -> bytes:
        """Open a channel with the node whose account is `peer`; returns its id once the funding is final.

        :raises ChannelOpenError: when the peer refuses or the funding deadline passes.
        """
        channel_id, actions = self.node.open_channel(peer, deposit, peer_deposit, challenge_period=challenge_period)
        future = self._opening[channel_id] = asyncio.get_running_loop().create_future()
        self.perform(actions)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._opening.pop(channel_id, None)

    async def pay(self, channel_id: bytes, amount: int, *, timeout: float = 30.0) -> DirectPaymentDone:
        """Pay `amount` to the other party of an open channel; returns once the new state is complete.

        :raises DirectPaymentError: when the payment is refused.
        """
        future: asyncio.Future[DirectPaymentDone] = asyncio.get_running_loop().create_future()
        self._direct.setdefault(channel_id, []).append(future)
        self.perform(self.node.pay(channel_id, amount))
        return await asyncio.wait_for(future, timeout)

    def watchtower_appointments(self) -> list[Transaction]:
        """Appointments for another node's tower (`keep_appointments` there), to hand over before going offline:
        per open channel, a `Challenge` of its latest complete state signed by this node, for its next nonces (the
        chain's, after the channel transactions it has queued). Empty if its `watchtower` defence is off."""
        next_nonce = self.pos.chain.state.next_nonce(self.account) + self._onchain.qsize()
        return self.node.watchtower_appointments(next_nonce, self.settings.fee)

    def keep_appointments(self, appointments: Sequence[Transaction]) -> int:
        """Keep a client's `appointments` in this node's tower; returns how many it kept. One it refuses (not the
        client's signed challenge of an open channel, older than one kept, tower full) is counted in `drops` and
        changes nothing."""
        kept = 0
        for appointment in appointments:
            try:
                self.tower.watch(appointment)
            except LedgerError as error:
                self.drops[f"appointment refused: {error.reason}"] += 1
                continue
            kept += 1
        return kept

    def anchor_accounts(self) -> frozenset[bytes]:
        """The genesis validators of the node's chain: ``peers.anchors`` always keeps them in the peer table."""
        return self.pos.anchor_accounts()

    def create_invoice(self, amount: int) -> Invoice:
        """An invoice for `amount` payable to this node; hand it to the payer."""
        return self.node.create_invoice(amount)

    async def send_payment(self, invoice: Invoice, *, timeout: float = 120.0) -> PaymentSucceeded | PaymentFailed:
        """Pay an invoice over a route; returns how it ended (a failure carries its cause)."""
        return await self.pay_hash(invoice.payee, invoice.amount, invoice.payment_hash, timeout=timeout)

    async def pay_hash(self, payee: bytes, amount: int, payment_hash: bytes, *,
                       timeout: float = 120.0) -> PaymentSucceeded | PaymentFailed:
        """Pay `amount` to `payee` against `payment_hash` (what its invoice tells a payer in another process) over a
        route; returns how it ended (a failure carries its cause)."""
        future: asyncio.Future[PaymentSucceeded | PaymentFailed] = asyncio.get_running_loop().create_future()
        self._payments[payment_hash] = future
        try:
            self.perform(self.node.send_payment(payee, amount, payment_hash))
            return await asyncio.wait_for(future, timeout)
        finally:
            self._payments.pop(payment_hash, None)

    async def close_channel(self, channel_id: bytes, *, timeout: float = 60.0) -> CloseOutcome:
        """Close cooperatively; returns once the close is final on chain."""
        return await self._await_close(channel_id, self.node.close_channel(channel_id), timeout)

    async def force_close(self, channel_id: bytes, *, timeout: float = 300.0) -> CloseOutcome:
        """Publish the latest state on chain; returns once everything is paid out (after the challenge period)."""
        return await self._await_close(channel_id, self.node.force_close(channel_id), timeout)

    async def _await_close(self, channel_id: bytes, actions: list[Action], timeout: float) -> CloseOutcome:
        future = self._closing.get(channel_id)
        if future is None:
            future = self._closing[channel_id] = asyncio.get_running_loop().create_future()
        self.perform(actions)
        return await asyncio.wait_for(asyncio.shield(future), timeout)

    # Performing the node's actions -----------------------------------------------------------------------------

    def perform(self, actions: Sequence[Action]) -> None:
        """Send, broadcast and submit what the node asks for; resolve the waiting calls its events answer."""
        for action in actions:
            if isinstance(action, Send):
                peer = self._peer(action.peer)
                if peer is None:
                    # Unreachable now: the node retransmits, then gives the peer up as offline.
                    self.stats["no connection to peer"] += 1
                    continue
                self.stats[f"sent {type(action.message).__name__}"] += 1
                self.ez_send(peer, to_payload(action.message))
            elif isinstance(action, Gossip):
                packet = self.pack_signed(to_payload(action.message))
                peers = [peer for peer in self.sorted_peers()
                         if account_of(peer.public_key.key_to_bin()) != action.exclude]
                self.stats["gossip sent"] += len(peers)
                self.send_packet(peers, packet)
            elif isinstance(action, Submit):
                self._onchain.put_nowait(action.body)
            else:
                self._deliver_event(action)

    def _deliver_event(self, event: Event) -> None:
        if isinstance(event, ChannelOpened):
            self._resolve(self._opening.get(event.channel_id), event.channel_id)
        elif isinstance(event, ChannelOpenFailed):
            future = self._opening.get(event.channel_id)
            if future is not None and not future.done():
                future.set_exception(ChannelOpenError(event.reason))
        elif isinstance(event, ChannelClosed):
            self._resolve(self._closing.pop(event.channel_id, None), event.outcome)
        elif isinstance(event, (PaymentSucceeded, PaymentFailed)):
            self._resolve(self._payments.get(event.payment_hash), event)
        elif isinstance(event, (DirectPaymentDone, DirectPaymentFailed)):
            waiting = self._direct.get(event.channel_id)
            if waiting:
                direct = waiting.pop(0)
                if isinstance(event, DirectPaymentDone):
                    self._resolve(direct, event)
                elif not direct.done():
                    direct.set_exception(DirectPaymentError(event))
        for listener in self.event_listeners:
            listener(event)

    @staticmethod
    def _resolve(future: asyncio.Future[_T] | None, value: _T) -> None:
        if future is not None and not future.done():
            future.set_result(value)

    def _peer(self, account: bytes) -> Peer | None:
        peer = self._peers.get(account)
        if peer is None or peer not in self.get_peers():
            self._peers = {account_of(known.public_key.key_to_bin()): known for known in self.get_peers()}
            peer = self._peers.get(account)
        return peer

    # Receiving ------------------------------------------------------------------------------------------------

    def receive(self, peer: Peer, payload: object) -> None:
        """Hand a verified message from `peer` to the node and perform its answer; bad input is dropped."""
        sender = account_of(peer.public_key.key_to_bin())
        try:
            message = from_payload(payload)
        except MalformedChannelData as error:
            raise DroppedMessage("malformed", f"{type(payload).__name__}: {error}") from error
        if isinstance(message, Appointment):
            try:
                self.tower.watch(message.transaction)
            except LedgerError as error:
                raise DroppedMessage(f"appointment refused: {error.reason}", str(error)) from error
            return
        try:
            actions = self.node.on_message(sender, message)
        except InputRefused as refused:
            self.perform(refused.actions)
            raise DroppedMessage(refused.error.reason, str(refused.error)) from refused
        except LedgerError as error:
            raise DroppedMessage(error.reason, str(error)) from error
        self.perform(actions)

    def _on_commit(self, block: Block, certificate: CommitCertificate, receipts: Sequence[Receipt]) -> None:
        self.perform(self.node.on_block(block.height, block.transactions))
        for challenge in self.tower.on_block(block.height):
            self.register_anonymous_task("tower challenge", self._submit_for_client, challenge)

    async def _submit_for_client(self, challenge: Transaction) -> None:
        """Submit a client's signed challenge (from this node's tower) to the validators, as it is; a refusal (the
        validator may not hold the close's block yet) is tried again after a tick, `onchain_attempts` times in all."""
        for _ in range(self.settings.onchain_attempts):
            try:
                admission = await self.pos.submit(challenge)
            except (NoValidator, SubmissionTimeout) as error:
                self.stats["tower challenge unanswered"] += 1
                self.logger.warning("tower challenge: %s", error)
                return
            if admission.admitted:
                self.stats["tower challenge admitted"] += 1
                self.logger.info("tower challenge admitted: client %s's %s", challenge.sender.hex()[:16],
                                 _challenged(challenge))
                return
            self.stats[f"tower challenge refused: {admission.reason}"] += 1
            await asyncio.sleep(self.settings.tick_interval)

    def _tick(self) -> None:
        self.perform(self.node.on_tick(self.pos.now()))
        if self.settings.watchtower is not None and self.node.book.params.defences.watchtower:
            self._hand_appointments(self.settings.watchtower)

    def _hand_appointments(self, tower: bytes) -> None:
        """Send this node's appointments (`watchtower_appointments`) to the tower of account `tower` when the states
        or the next nonce they are for changed since they were last sent, or `appointment_refresh` seconds ago."""
        next_nonce = self.pos.chain.state.next_nonce(self.account) + self._onchain.qsize()
        handed = (next_nonce, tuple((channel.channel_id, channel.latest.state.sequence)
                                    for channel in self.node.open_channels()))
        now = asyncio.get_running_loop().time()
        if not handed[1] or (handed == self._handed and now < self._handed_at + self.settings.appointment_refresh):
            return
        peer = self._peer(tower)
        if peer is None:
            self.stats["no connection to watchtower"] += 1
            return
        appointments = self.watchtower_appointments()
        for appointment in appointments:
            self.ez_send(peer, to_payload(Appointment(appointment)))
        self.stats["appointments handed"] += len(appointments)
        self._handed, self._handed_at = handed, now

    # On chain -------------------------------------------------------------------------------------------------

    async def _submit_transactions(self) -> None:
        """Send the node's channel transactions one at a time, each until it is final or no longer applies."""
        while True:
            body = await self._onchain.get()
            await self._submit(body)

    async def _submit(self, body: TransactionBody) -> None:
        settings = self.settings
        name = type(body).__name__
        for _ in range(settings.onchain_attempts):
            state = self.pos.chain.state
            transaction = Transaction(self.account, state.next_nonce(self.account), settings.fee, body).signed(
                self.key)
            try:
                state.apply_block([transaction], dry_run=True)
            except LedgerError as error:
                self.stats[f"{name} not sent: {error.reason}"] += 1
                self.logger.info("channel transaction %s not sent: %s", name, error)
                return
            try:
                admission = await self.pos.submit(transaction)
            except (NoValidator, SubmissionTimeout) as error:
                self.stats[f"{name} unanswered"] += 1
                self.logger.warning("channel transaction %s: %s", name, error)
                await asyncio.sleep(self.pos.settings.retry_interval)
                continue
            if not admission.admitted:
                self.stats[f"{name} refused: {admission.reason}"] += 1
                await asyncio.sleep(settings.tick_interval)
                continue
            if self.pos.chain.state.next_nonce(self.account) <= transaction.nonce:
                try:
                    await asyncio.wait_for(self.pos.watch(transaction.tx_id), settings.onchain_timeout)
                except asyncio.TimeoutError:
                    self.stats[f"{name} not final in time"] += 1
                    continue
            self.stats[f"{name} final"] += 1
            self.logger.info("channel transaction %s final (nonce %d)", name, transaction.nonce)
            return
        self.logger.warning("channel transaction %s gave up after %d attempts", name, settings.onchain_attempts)
