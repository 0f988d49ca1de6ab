"""
a27-attacks: the red team's library.

Malicious behaviours against every a27 layer. Each plugs into an honest node through the seams its layer documents
(``LedgerSettings.behaviour`` and ``peer_policy``, ``PosSettings.behaviour``, ``ChannelSettings.behaviour``) and
speaks only what PROTOCOL.md describes; the defences live in the honest layers, never here. Nothing below this
package imports it: harness > attacks > channels > pos > ledger.
"""

from __future__ import annotations

from .__about__ import __version__
from .censor import Censor, CensorshipDelay, censorship_delay
from .longrange import ForkImpossible, SyncOutcome, forge_history, serve_history
from .mempool_flood import future_nonce_transfers
from .withhold import Withhold, WithholdingDelay, withholding_delay

__all__ = [
    "Censor",
    "CensorshipDelay",
    "ForkImpossible",
    "SyncOutcome",
    "Withhold",
    "WithholdingDelay",
    "__version__",
    "censorship_delay",
    "forge_history",
    "future_nonce_transfers",
    "serve_history",
    "withholding_delay",
]
