"""Fixtures for tests, for the layers above and for the harness: channel transactions, chains, graphs, networks."""

from __future__ import annotations

import hashlib
import random
from collections import deque
from collections.abc import Hashable, Iterable, Mapping, Sequence

import attrs

from a27_channels.actions import (
    Action,
    Broadcast,
    Event,
    InputRefused,
    PaymentFailed,
    PaymentSucceeded,
    Send,
    Submit,
)
from a27_channels.behaviour import ChannelBehaviour
from a27_channels.channel import Channel
from a27_channels.gossip import ChannelPolicy
from a27_channels.graph import DEFAULT_POLICY, ChannelGraph
from a27_channels.messages import ChannelMessage, UpdateComplete, UpdateProposal
from a27_channels.node import ChannelNode
from a27_channels.onchain import ChannelOpen, channel_chain
from a27_channels.params import NodeParams
from a27_channels.state import CLOSE_DOMAIN, DEFAULT_LIMITS, ChannelState, ChannelTerms, HtlcLimits, SignedState
from a27_channels.store import ChannelStore
from a27_ledger import KeyPair, LedgerError, Transaction, TransactionBody
from a27_ledger.testing import make_keys
from a27_pos.testing import extend, make_pos_genesis


def sign_channel_open(key_a: KeyPair, key_b: KeyPair, deposit_a: int, deposit_b: int, nonce: int, *,
                      challenge_period: int = 20, funding_deadline: int = 1_000, salt: int = 0,
                      fee: int = 0) -> tuple[Transaction, ChannelTerms]:
    """A ChannelOpen from `key_a` with `key_b`'s funding signature, signed by `key_a`, and its terms."""
    terms = ChannelTerms(key_a.public_key, key_b.public_key, deposit_a, deposit_b, challenge_period,
                         funding_deadline, salt)
    body = ChannelOpen(terms, terms.funding_signature(key_b))
    return Transaction(key_a.public_key, nonce, fee, body).signed(key_a), terms


def sign_state(state: ChannelState, key_a: KeyPair, key_b: KeyPair) -> SignedState:
    """`state` signed by both parties as an update."""
    return SignedState(state, state.sign(key_a), state.sign(key_b))


def sign_final_state(state: ChannelState, key_a: KeyPair, key_b: KeyPair) -> SignedState:
    """`state` signed by both parties as the final state of a cooperative close."""
    return SignedState(state, state.sign_close(key_a), state.sign_close(key_b), CLOSE_DOMAIN)


def channel_pair(key_a: KeyPair, key_b: KeyPair, deposit_a: int, deposit_b: int, *, challenge_period: int = 20,
                 funding_deadline: int = 1_000, salt: int = 0,
                 limits: HtlcLimits = DEFAULT_LIMITS) -> tuple[Channel, Channel]:
    """Both sides of a fresh channel (state 0 signed by both), without a chain: for unit tests and benchmarks."""
    terms = ChannelTerms(key_a.public_key, key_b.public_key, deposit_a, deposit_b, challenge_period,
                         funding_deadline, salt)
    latest = sign_state(terms.initial_state(), key_a, key_b)
    return Channel(terms, key_a, latest, limits=limits), Channel(terms, key_b, latest, limits=limits)


def run_update(proposer: Channel, receiver: Channel, proposal: UpdateProposal, height: int = 0) -> ChannelState:
    """Carry `proposal` through signature and completion between two channel sides; the new complete state."""
    signature, _ = receiver.receive_proposal(proposal, height)
    completion = proposer.receive_signature(signature)
    assert isinstance(completion, UpdateComplete)
    state = receiver.receive_completion(completion)
    assert state is not None
    return state


def node_account(node: Hashable) -> bytes:
    """A stand-in account for graph node `node` (for graphs without keys): sha256 of its repr."""
    return hashlib.sha256(b"a27/channels/test-node/" + repr(node).encode()).digest()


def graph_from_edges(edges: Iterable[tuple[Hashable, Hashable]], *, capacity: int = 1_000_000,
                     policy: ChannelPolicy = DEFAULT_POLICY, seed: int | None = None,
                     accounts: Mapping[Hashable, bytes] | None = None) -> tuple[ChannelGraph, dict[Hashable, bytes]]:
    """A channel graph with one channel per edge (a networkx graph's ``.edges()``, or any pairs of node names).

    Every channel has `capacity` and `policy` in both directions; with a `seed`, capacities are drawn uniformly from
    ``capacity // 10 .. capacity`` and each direction's policy at random (fee base 0..10, fee ppm 1..1 000, expiry
    delta 6..40), reproducibly. Accounts come from `accounts` or `node_account`. Returns the graph and the accounts.
    """
    rng = random.Random(f"a27-channels/graph/{seed}") if seed is not None else None
    graph = ChannelGraph()
    names: dict[Hashable, bytes] = {}
    for index, (u, v) in enumerate(edges):
        for node in (u, v):
            if node not in names:
                names[node] = accounts[node] if accounts is not None else node_account(node)
        channel_id = hashlib.sha256(b"a27/channels/test-channel/" + index.to_bytes(8, "big")).digest()
        if rng is None:
            graph.add_channel(channel_id, names[u], names[v], capacity, policy_a=policy, policy_b=policy)
        else:
            graph.add_channel(channel_id, names[u], names[v], rng.randint(capacity // 10, capacity),
                              policy_a=_random_policy(rng), policy_b=_random_policy(rng))
    return graph, names


def _random_policy(rng: random.Random) -> ChannelPolicy:
    return ChannelPolicy(rng.randint(0, 10), rng.randint(1, 1_000), rng.randint(6, 40))


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
            elif isinstance(action, Broadcast):
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
        transaction = Transaction(node.account, nonce, self.fee, body).signed(node.key)
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

    def mine(self, blocks: int = 1) -> None:
        """Finalize `blocks` blocks, the first with every transaction asked for; show each to the online nodes."""
        for _ in range(blocks):
            transactions, self._transactions = self._transactions, []
            block = extend(self.chain, self.validator_keys, transactions)
            self.chain.check_invariants()
            for index, node in enumerate(self.nodes):
                if index not in self.offline:
                    self.perform(index, node.on_block(block.height, block.transactions))
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

    def open_edges(self, edges: Iterable[tuple[int, int]], deposit: int, peer_deposit: int | None = None) -> \
            list[bytes]:
        """Open one channel per edge (a networkx graph's ``.edges()`` over node positions), all in one block."""
        channel_ids = []
        for opener, peer in edges:
            channel_id, actions = self.nodes[opener].open_channel(
                self.keys[peer].public_key, deposit, deposit if peer_deposit is None else peer_deposit)
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
