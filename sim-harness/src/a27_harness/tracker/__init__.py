"""
The a27 tracker (``a27 tracker run``): an IPv8 bootstrap server that real a27 nodes use to find each other.

``table`` is its pure core (the peer table and its quotas, explicit ``now``); ``server`` is the IPv8 glue on a UDP
socket; ``command`` the command line. Like ``a27 node``, the command is routed before the rest of the ``a27`` command
is imported.
"""

from .table import PEERS_PER_OVERLAY, Registration, TrackedPeer, TrackerQuotas, TrackerTable

__all__ = ["PEERS_PER_OVERLAY", "Registration", "TrackedPeer", "TrackerQuotas", "TrackerTable"]
