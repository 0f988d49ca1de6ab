"""Fixtures for tests and for the layers above: signed channel transactions and states, channel pairs, graphs.

In-memory networks of channel nodes are in `inprocess.py` (`ChannelNetwork`)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Hashable, Iterable, Mapping

from a27_channels.channel import Channel
from a27_channels.gossip import ChannelPolicy
from a27_channels.graph import DEFAULT_POLICY, ChannelGraph
from a27_channels.messages import UpdateComplete, UpdateProposal
from a27_channels.onchain import ChannelOpen
from a27_channels.state import CLOSE_DOMAIN, DEFAULT_LIMITS, ChannelState, ChannelTerms, HtlcLimits, SignedState
from a27_ledger import KeyPair, Transaction


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
