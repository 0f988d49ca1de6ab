"""
Behaviour seams of a ledger node: what it relays or withholds, and which peers it keeps.

An attacker is the honest node with one of these policies replaced (the a27-attacks package supplies such
implementations; this package never imports it). ``LedgerSettings.behaviour`` and ``LedgerSettings.peer_policy``
take them, in simulation and on UDP alike; the defaults are the honest ones. A policy decides only what this node
does: it cannot make the node send anything PROTOCOL.md does not describe.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from .replication import LogEntry

PeerT = TypeVar("PeerT")


class LedgerBehaviour(Protocol):
    """What a Lab 1 validator relays: the broadcast of each entry it appends to its log (an admitted transfer)."""

    def entry_recipients(self, entry: LogEntry, peers: Sequence[PeerT]) -> Sequence[PeerT]:
        """
        The peers, among ``peers`` (this node's peers in a stable order), that get the broadcast of ``entry``.

        Returning fewer withholds the entry from the others; they still learn the log head from the periodic
        announcement and fetch the entry with a sync request, which this node answers as usual.
        """
        ...


class HonestLedgerBehaviour:
    """The honest validator: every logged entry goes to every peer."""

    def entry_recipients(self, entry: LogEntry, peers: Sequence[PeerT]) -> Sequence[PeerT]:
        """All of ``peers``."""
        return peers


class PeerPolicy(Protocol):
    """Which peers a node keeps: consulted when a peer would be added, when peers are listed, and on each message."""

    def keeps(self, public_key_bin: bytes) -> bool:
        """Whether this node keeps the peer whose IPv8 public key (``key_to_bin()``) is ``public_key_bin``."""
        ...


class KeepEveryPeer:
    """The honest peer policy: every peer that completes IPv8's introduction is kept."""

    def keeps(self, public_key_bin: bytes) -> bool:
        """Always True."""
        return True


HONEST_LEDGER = HonestLedgerBehaviour()
"""The default ``LedgerSettings.behaviour``."""

KEEP_EVERY_PEER = KeepEveryPeer()
"""The default ``LedgerSettings.peer_policy`` (and of every ``A27Community``)."""
