"""Channel nodes run in memory, in one process, over one shared a27-pos chain: for tests, benchmarks, examples and the
harness's topology experiment. No IPv8, no event loop: messages are delivered in order, blocks are made on request."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Mapping, Sequence

import attrs

from a27_channels.actions import (
    Action,
    Event,
    Gossip,
    InputRefused,
    PaymentFailed,
    PaymentSucceeded,
    Send,
    Submit,
)
from a27_channels.behaviour import ChannelBehaviour
from a27_channels.graph import ChannelGraph
from a27_channels.messages import ChannelMessage
from a27_channels.node import ChannelNode
from a27_channels.onchain import channel_chain
from a27_channels.params import NodeParams
from a27_channels.store import ChannelStore
from a27_channels.watchtower import Watchtower
from a27_ledger import LedgerError, Transaction, TransactionBody
from a27_ledger.testing import make_keys
from a27_pos.testing import extend, make_pos_genesis


class ChannelNetwork:
    """Channel nodes in memory over one shared a27-pos chain: for tests, benchmarks and quick experiments.

    Messages are delivered in the order sent (none to or from an offline node); `mine` puts the transactions the
    nodes asked for into the next block (those that no longer apply are dropped, as a mempool would) and shows the
    block to every online node; `tick` advances the nodes' clock. Everything is deterministic for a seed.
    """

    def __init__(self, count: int, *, seed: int = 0, balance: int = 1_000_000, params: NodeParams | None = None,
                 validators: int = 4, fee: int = 1, stores: Sequence[ChannelStore] | None = None,
                 loss: float = 0.0, graph: ChannelGraph | None = None,
                 behaviours: Mapping[int, ChannelBehaviour] | None = None) -> None:
        """`count` nodes with `balance` each, and `validators` staking keys that certify the blocks.

        `stores` gives each node its store (default: in memory); `loss` is the chance that a message is lost;
        `graph`, if given, is shared by every node (with gossip off in `params`, it is how nodes learn channels);
        `behaviours` replaces the behaviour of the nodes at those positions (the others keep that of `params`).
        """
        keys = make_keys(validators + count, seed=seed)
        self.validator_keys = keys[:validators]
        self.keys = keys[validators:]
        genesis = make_pos_genesis(keys, [10_000] * validators, balance=balance)
        self.chain = channel_chain(genesis)
        self.params = NodeParams(accept_deposit_up_to=balance) if params is None else params
        self.seed = seed
        self.behaviours = dict(behaviours or {})
        self.nodes = [ChannelNode(key, self.chain.state, store=None if stores is None else stores[index],
                                  graph=graph, params=self.params_of(index), rng=random.Random(f"{seed}/{index}"))
                      for index, key in enumerate(self.keys)]
        self._by_account = {node.account: node for node in self.nodes}
        self.fee = fee
        self.now = 0.0
        self.offline: set[int] = set()
        self.events: list[tuple[int, Event]] = []
        self.messages = 0
        self.loss = loss
        self._loss_rng = random.Random(f"a27-channels/loss/{seed}")
        self._queue: deque[tuple[bytes, bytes, ChannelMessage]] = deque()
        self._transactions: list[Transaction] = []
        self._outcomes: dict[bytes, PaymentSucceeded | PaymentFailed] = {}
        self.tower = Watchtower(self.chain.state)
        """One watchtower for every node: `go_offline` hands it the node's appointments; it sees every block."""

    def params_of(self, index: int) -> NodeParams:
        """The parameters of node `index`: `params`, with its behaviour if `behaviours` names one."""
        behaviour = self.behaviours.get(index)
        return self.params if behaviour is None else attrs.evolve(self.params, behaviour=behaviour)

    def restart(self, index: int, store: ChannelStore) -> ChannelNode:
        """Replace node `index` by a fresh one that loads `store` (as after a crash); queued messages stay."""
        node = ChannelNode(self.keys[index], self.chain.state, store=store, params=self.params_of(index),
                           rng=random.Random(f"{self.seed}/{index}/restarted"))
        node.height = self.chain.height
        self.nodes[index] = node
        self._by_account[node.account] = node
        return node

    def index(self, account: bytes) -> int:
        """The position of the node with `account`."""
        return self.nodes.index(self._by_account[account])

    def perform(self, index: int, actions: Iterable[Action]) -> None:
        """Carry out node `index`'s actions (messages are queued; call `deliver`)."""
        node = self.nodes[index]
        for action in actions:
            if isinstance(action, Send):
                self._send(node.account, action.peer, action.message)
            elif isinstance(action, Gossip):
                for other in self.nodes:
                    if other is not node and other.account != action.exclude:
                        self._send(node.account, other.account, action.message)
            elif isinstance(action, Submit):
                self._submit(node, action.body)
            else:
                self.events.append((index, action))
                if isinstance(action, (PaymentSucceeded, PaymentFailed)):
                    self._outcomes[action.payment_hash] = action

    def _send(self, sender: bytes, recipient: bytes, message: ChannelMessage) -> None:
        self.messages += 1
        if self.loss and self._loss_rng.random() < self.loss:
            return
        if self.index(sender) not in self.offline and self.index(recipient) not in self.offline:
            self._queue.append((sender, recipient, message))

    def _submit(self, node: ChannelNode, body: TransactionBody) -> None:
        nonce = self.chain.state.next_nonce(node.account) + sum(
            1 for transaction in self._transactions if transaction.sender == node.account)
        self._submit_signed(Transaction(node.account, nonce, self.fee, body).signed(node.key))

    def _submit_signed(self, transaction: Transaction) -> None:
        try:
            self.chain.state.apply_block([*self._transactions, transaction], dry_run=True)
        except LedgerError:
            return
        self._transactions.append(transaction)

    def deliver(self) -> None:
        """Deliver every queued message, and the ones their handling sends, until none is left."""
        while self.step():
            pass

    def step(self) -> bool:
        """Deliver the next queued message (dropped if either end went offline since); whether there was one."""
        if not self._queue:
            return False
        sender, recipient, message = self._queue.popleft()
        index = self.index(recipient)
        if index in self.offline or self.index(sender) in self.offline:
            return True
        try:
            actions = self.nodes[index].on_message(sender, message)
        except InputRefused as refused:
            actions = refused.actions
        except LedgerError:
            return True
        self.perform(index, actions)
        return True

    def go_offline(self, index: int) -> None:
        """Take node `index` offline (it sends, receives and sees nothing until `come_online`); first it hands the
        tower its appointments (none if its `watchtower` defence is off)."""
        node = self.nodes[index]
        next_nonce = self.chain.state.next_nonce(node.account) + sum(
            1 for transaction in self._transactions if transaction.sender == node.account)
        for appointment in node.watchtower_appointments(next_nonce, self.fee):
            self.tower.watch(appointment)
        self.offline.add(index)

    def come_online(self, index: int) -> None:
        """Bring node `index` back; it is shown the chain's head block, as a node that reconnects learns it."""
        self.offline.discard(index)
        self.perform(index, self.nodes[index].on_block(self.chain.height))
        self.deliver()

    def mine(self, blocks: int = 1) -> None:
        """Finalize `blocks` blocks, the first with every transaction asked for; show each to the online nodes."""
        for _ in range(blocks):
            transactions, self._transactions = self._transactions, []
            block = extend(self.chain, self.validator_keys, transactions)
            self.chain.check_invariants()
            for index, node in enumerate(self.nodes):
                if index not in self.offline:
                    self.perform(index, node.on_block(block.height, block.transactions))
            for transaction in self.tower.on_block(block.height):
                self._submit_signed(transaction)
            self.deliver()

    def tick(self, seconds: float = 1.0) -> None:
        """Advance every online node's clock by `seconds`."""
        self.now += seconds
        for index, node in enumerate(self.nodes):
            if index not in self.offline:
                self.perform(index, node.on_tick(self.now))
        self.deliver()

    def open(self, opener: int, peer: int, deposit: int, peer_deposit: int = 0) -> bytes:
        """Open a channel between two nodes through the protocol and one block; its id."""
        channel_id, actions = self.nodes[opener].open_channel(self.keys[peer].public_key, deposit, peer_deposit)
        self.perform(opener, actions)
        self.deliver()
        self.mine()
        return channel_id

    def open_edges(self, edges: Iterable[tuple[int, int]], deposit: int | Sequence[int],
                   peer_deposit: int | None = None) -> list[bytes]:
        """
        Open one channel per edge (a networkx graph's ``.edges()`` over node positions), all in one block.

        ``deposit`` is what the opener puts in: one amount for every channel, or one amount per edge (as many as there
        are edges); the peer puts in ``peer_deposit``, by default as much as the opener.
        """
        edges = list(edges)
        amounts = [deposit] * len(edges) if isinstance(deposit, int) else list(deposit)
        channel_ids = []
        for (opener, peer), amount in zip(edges, amounts, strict=True):
            channel_id, actions = self.nodes[opener].open_channel(
                self.keys[peer].public_key, amount, amount if peer_deposit is None else peer_deposit)
            self.perform(opener, actions)
            channel_ids.append(channel_id)
        self.deliver()
        self.mine()
        return channel_ids

    def pay(self, payer: int, payee: int, amount: int) -> bytes:
        """Start a routed payment: the payee makes an invoice, the payer sends; returns the payment hash."""
        invoice = self.nodes[payee].create_invoice(amount)
        self.perform(payer, self.nodes[payer].send_payment(invoice.payee, amount, invoice.payment_hash))
        self.deliver()
        return invoice.payment_hash

    def outcome(self, payment_hash: bytes) -> PaymentSucceeded | PaymentFailed | None:
        """How a payment ended so far, if it did."""
        return self._outcomes.get(payment_hash)
