"""Traffic counters of a simulated network: per node, per message type, and drop causes."""

from __future__ import annotations

from typing import Any

DROP_CAUSES: tuple[str, ...] = ("loss", "partition", "down", "unknown_address", "topology")
"""Why a packet was dropped: random loss, a partition, a node down (or its endpoint closed), a destination no node
has, or a link that :meth:`SimulatedNetwork.restrict_to` forbids."""

LOSS, PARTITION, DOWN, UNKNOWN_ADDRESS, TOPOLOGY = range(len(DROP_CAUSES))

# Counter rows are flat lists of ints: [sent msgs, sent bytes, delivered msgs, delivered bytes, then msgs and bytes
# dropped for each cause in DROP_CAUSES order]. Flat lists keep the per-packet cost at a few index operations.
_SENT = 0
_DELIVERED = 2
_DROPPED = 4
_ROW_LENGTH = _DROPPED + 2 * len(DROP_CAUSES)

COMMUNITY_ID_LENGTH = 20


def message_kind(packet: bytes) -> bytes:
    """Return the key counters group a packet under: its 20-byte IPv8 community id followed by its message id byte."""
    return packet[2:23]


def _pair(row: list[int], offset: int) -> dict[str, int]:
    return {"messages": row[offset], "bytes": row[offset + 1]}


def _dropped(row: list[int]) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    by_cause = {cause: _pair(row, _DROPPED + 2 * index) for index, cause in enumerate(DROP_CAUSES)}
    total = {
        "messages": sum(counts["messages"] for counts in by_cause.values()),
        "bytes": sum(counts["bytes"] for counts in by_cause.values()),
    }
    return total, by_cause


def _describe_kind(kind: bytes) -> dict[str, Any]:
    if len(kind) == COMMUNITY_ID_LENGTH + 1:
        return {"community_id": kind[:COMMUNITY_ID_LENGTH].hex(), "message_id": kind[COMMUNITY_ID_LENGTH]}
    return {"community_id": None, "message_id": None, "raw_prefix": kind.hex()}


class TrafficStats:
    """
    Counts messages and bytes sent, delivered and dropped (by cause), per node and per message type.

    A message type is an IPv8 community id with a message id (see :func:`message_kind`). Per node, ``sent`` and
    ``dropped`` count the packets the node sent, ``received`` the packets delivered to it. Everything sent is, at any
    moment, either delivered, dropped, or still in flight.
    """

    def __init__(self) -> None:
        """Start with no nodes and all counters at zero."""
        self._node_names: list[str] = []
        self._node_addresses: list[str] = []
        self._nodes: list[list[int]] = []
        self._kinds: dict[bytes, list[int]] = {}
        self._totals = [0] * _ROW_LENGTH

    def add_node(self, name: str, address: str) -> int:
        """Register a node and return its index in the counters."""
        self._node_names.append(name)
        self._node_addresses.append(address)
        self._nodes.append([0] * _ROW_LENGTH)
        return len(self._nodes) - 1

    def _kind_row(self, kind: bytes) -> list[int]:
        row = self._kinds.get(kind)
        if row is None:
            row = self._kinds[kind] = [0] * _ROW_LENGTH
        return row

    # The three record methods run for every packet, hence spelled out rather than looped over the rows.

    def record_sent(self, node: int, kind: bytes, size: int) -> None:
        """Count one packet of ``size`` bytes sent by ``node``."""
        row = self._totals
        row[_SENT] += 1
        row[_SENT + 1] += size
        row = self._nodes[node]
        row[_SENT] += 1
        row[_SENT + 1] += size
        row = self._kinds.get(kind) or self._kind_row(kind)
        row[_SENT] += 1
        row[_SENT + 1] += size

    def record_delivered(self, receiver: int, kind: bytes, size: int) -> None:
        """Count one packet delivered to ``receiver``."""
        row = self._totals
        row[_DELIVERED] += 1
        row[_DELIVERED + 1] += size
        row = self._nodes[receiver]
        row[_DELIVERED] += 1
        row[_DELIVERED + 1] += size
        row = self._kinds.get(kind) or self._kind_row(kind)
        row[_DELIVERED] += 1
        row[_DELIVERED + 1] += size

    def record_dropped(self, sender: int, kind: bytes, size: int, cause: int) -> None:
        """Count one packet sent by ``sender`` and dropped for ``cause`` (an index into :data:`DROP_CAUSES`)."""
        offset = _DROPPED + 2 * cause
        for row in (self._totals, self._nodes[sender], self._kind_row(kind)):
            row[offset] += 1
            row[offset + 1] += size

    def totals(self) -> dict[str, Any]:
        """Network-wide counters, with the number of packets still in flight."""
        row = self._totals
        dropped, by_cause = _dropped(row)
        in_flight = row[_SENT] - row[_DELIVERED] - dropped["messages"]
        return {
            "sent": _pair(row, _SENT),
            "delivered": _pair(row, _DELIVERED),
            "dropped": dropped,
            "dropped_by_cause": by_cause,
            "in_flight": in_flight,
        }

    def nodes(self) -> list[dict[str, Any]]:
        """Per-node counters, in node creation order."""
        out = []
        for name, address, row in zip(self._node_names, self._node_addresses, self._nodes, strict=True):
            dropped, by_cause = _dropped(row)
            out.append(
                {
                    "node": name,
                    "address": address,
                    "sent": _pair(row, _SENT),
                    "received": _pair(row, _DELIVERED),
                    "dropped": dropped,
                    "dropped_by_cause": by_cause,
                }
            )
        return out

    def message_types(self) -> list[dict[str, Any]]:
        """Per-message-type counters, sorted by community id and then message id."""
        out = []
        for kind in sorted(self._kinds):
            row = self._kinds[kind]
            dropped, by_cause = _dropped(row)
            out.append(
                {
                    **_describe_kind(kind),
                    "sent": _pair(row, _SENT),
                    "delivered": _pair(row, _DELIVERED),
                    "dropped": dropped,
                    "dropped_by_cause": by_cause,
                }
            )
        return out

    def summary(self) -> dict[str, Any]:
        """All counters as plain, deterministically ordered dicts and lists (ready for JSON)."""
        return {"totals": self.totals(), "nodes": self.nodes(), "message_types": self.message_types()}
