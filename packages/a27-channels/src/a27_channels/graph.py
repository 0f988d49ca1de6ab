"""The channel graph a node keeps: announced channels, each direction's policy, and what it knows of balances.

Stored for route finding: nodes are numbered, and each keeps lists of its outgoing and incoming directed edges
(one per channel direction), so a search touches only plain lists and slots.
"""

from __future__ import annotations

from collections.abc import Iterator

from a27_channels.gossip import ChannelAnnouncement, ChannelPolicy, ChannelUpdate

DEFAULT_POLICY = ChannelPolicy()


class Edge:
    """One direction of a channel: `source` forwards to `target` under `source`'s policy."""

    __slots__ = ("capacity", "channel_id", "disabled", "expiry_delta", "fee_base", "fee_ppm", "max_sendable",
                 "serial", "source", "target")

    def __init__(self, channel_id: bytes, source: int, target: int, capacity: int, policy: ChannelPolicy) -> None:
        """An edge with `policy`; `max_sendable` (a known bound on the source's balance) starts unknown."""
        self.channel_id = channel_id
        self.source = source
        self.target = target
        self.capacity = capacity
        self.serial = -1
        self.max_sendable: int | None = None
        self.set_policy(policy)

    def set_policy(self, policy: ChannelPolicy) -> None:
        """Take `policy` as this direction's."""
        self.fee_base = policy.fee_base
        self.fee_ppm = policy.fee_ppm
        self.expiry_delta = policy.expiry_delta
        self.disabled = policy.disabled

    @property
    def policy(self) -> ChannelPolicy:
        """This direction's forwarding policy."""
        return ChannelPolicy(self.fee_base, self.fee_ppm, self.expiry_delta, self.disabled)

    def fee(self, amount: int) -> int:
        """The source's fee for forwarding `amount` on this edge."""
        return self.fee_base + amount * self.fee_ppm // 1_000_000

    def can_carry(self, amount: int) -> bool:
        """Whether `amount` fits the capacity and the known balance bound."""
        bound = self.max_sendable
        return amount <= self.capacity and (bound is None or amount <= bound)


class ChannelGraph:
    """Channels between nodes (accounts), as the node learnt them from announcements or built them for tests."""

    def __init__(self) -> None:
        """An empty graph."""
        self._index: dict[bytes, int] = {}
        self.nodes: list[bytes] = []
        """Accounts by node number."""
        self.outgoing: list[list[Edge]] = []
        """Edges leaving each node, by node number."""
        self.incoming: list[list[Edge]] = []
        """Edges entering each node, by node number."""
        self._channels: dict[bytes, tuple[Edge, Edge]] = {}

    def __len__(self) -> int:
        """How many channels the graph holds."""
        return len(self._channels)

    def __contains__(self, channel_id: object) -> bool:
        """Whether the graph holds this channel."""
        return channel_id in self._channels

    def node_number(self, account: bytes) -> int | None:
        """The number of a node, or None if the graph has no channel of it."""
        return self._index.get(account)

    def _number(self, account: bytes) -> int:
        number = self._index.get(account)
        if number is None:
            number = self._index[account] = len(self.nodes)
            self.nodes.append(account)
            self.outgoing.append([])
            self.incoming.append([])
        return number

    def add_channel(self, channel_id: bytes, node_a: bytes, node_b: bytes, capacity: int, *,
                    policy_a: ChannelPolicy = DEFAULT_POLICY, policy_b: ChannelPolicy = DEFAULT_POLICY) -> bool:
        """Add a channel (with the given policies until updates arrive); False if it was already known."""
        if channel_id in self._channels:
            return False
        a, b = self._number(node_a), self._number(node_b)
        forward, backward = Edge(channel_id, a, b, capacity, policy_a), Edge(channel_id, b, a, capacity, policy_b)
        self._channels[channel_id] = (forward, backward)
        for edge in (forward, backward):
            self.outgoing[edge.source].append(edge)
            self.incoming[edge.target].append(edge)
        return True

    def add_announcement(self, announcement: ChannelAnnouncement) -> bool:
        """Add an announced channel (verified by the caller); False if it was already known."""
        return self.add_channel(announcement.channel_id, announcement.node_a, announcement.node_b,
                                announcement.capacity)

    def apply_update(self, update: ChannelUpdate) -> bool:
        """Take a node's policy update (verified by the caller) if it is newer; whether it was taken."""
        edge = self.edge(update.channel_id, update.node)
        if edge is None or update.serial <= edge.serial:
            return False
        edge.set_policy(update.policy)
        edge.serial = update.serial
        return True

    def remove_channel(self, channel_id: bytes) -> bool:
        """Forget a channel (closed); whether it was known."""
        edges = self._channels.pop(channel_id, None)
        if edges is None:
            return False
        for edge in edges:
            self.outgoing[edge.source].remove(edge)
            self.incoming[edge.target].remove(edge)
        return True

    def edge(self, channel_id: bytes, source: bytes) -> Edge | None:
        """The direction of `channel_id` leaving `source`, or None."""
        edges = self._channels.get(channel_id)
        if edges is None:
            return None
        for edge in edges:
            if self.nodes[edge.source] == source:
                return edge
        return None

    def set_max_sendable(self, channel_id: bytes, source: bytes, amount: int | None) -> None:
        """Record what `source` can send on `channel_id` at most (exact for own channels; None: unknown)."""
        edge = self.edge(channel_id, source)
        if edge is not None:
            edge.max_sendable = amount

    def channels(self) -> Iterator[tuple[bytes, bytes, bytes, int]]:
        """(channel id, node a, node b, capacity) of every channel."""
        for channel_id, (forward, _) in self._channels.items():
            yield channel_id, self.nodes[forward.source], self.nodes[forward.target], forward.capacity

    def neighbours(self, account: bytes) -> list[bytes]:
        """The nodes `account` has a channel with."""
        number = self._index.get(account)
        if number is None:
            return []
        return [self.nodes[edge.target] for edge in self.outgoing[number]]
