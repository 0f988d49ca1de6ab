"""
a27-attacks: the red team's library.

Malicious behaviours against every a27 layer. Each plugs into an honest node through the seams its layer documents
(``LedgerSettings.behaviour`` and ``peer_policy``, ``PosSettings.behaviour``, ``ChannelSettings.behaviour``) and
speaks only what PROTOCOL.md describes; the defences live in the honest layers, never here. Nothing below this
package imports it: harness > attacks > channels > pos > ledger.

``Attack`` (in ``base``) is the API every attack implements; ``ATTACKS`` lists them by CLI name.
"""

from __future__ import annotations

from . import channels, ledger
from .__about__ import __version__
from .base import (
    ATTACKS,
    FAMILIES,
    GUARANTEES,
    LABS,
    ROLES,
    Arena,
    Attack,
    AttackerNode,
    AttackError,
    AttackResult,
    BadParameter,
    Detection,
    LayerSettings,
    NodeHandle,
    Outcome,
    Parameter,
    SendResult,
    UnknownAttack,
    attack_named,
    non_negative,
    param,
    positive,
    register,
)
from .censor import Censor, CensorshipDelay, censorship_delay
from .channels import HoldHtlcsAttack, SupersededStateAttack
from .ledger import DoubleSpendLab1
from .longrange import ForkImpossible, SyncOutcome, forge_history, serve_history
from .mempool_flood import future_nonce_transfers
from .withhold import Withhold, WithholdingDelay, withholding_delay

__all__ = [
    "ATTACKS",
    "FAMILIES",
    "GUARANTEES",
    "LABS",
    "ROLES",
    "Arena",
    "Attack",
    "AttackError",
    "AttackResult",
    "AttackerNode",
    "BadParameter",
    "Censor",
    "CensorshipDelay",
    "Detection",
    "DoubleSpendLab1",
    "ForkImpossible",
    "HoldHtlcsAttack",
    "LayerSettings",
    "NodeHandle",
    "Outcome",
    "Parameter",
    "SendResult",
    "SupersededStateAttack",
    "SyncOutcome",
    "UnknownAttack",
    "Withhold",
    "WithholdingDelay",
    "__version__",
    "attack_named",
    "censorship_delay",
    "channels",
    "forge_history",
    "future_nonce_transfers",
    "ledger",
    "non_negative",
    "param",
    "positive",
    "register",
    "serve_history",
    "withholding_delay",
]
