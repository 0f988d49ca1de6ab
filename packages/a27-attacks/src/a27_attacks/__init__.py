"""
a27-attacks: the red team's library.

Malicious behaviours against every a27 layer. Each plugs into an honest node through the seams its layer documents
(``LedgerSettings.behaviour`` and ``peer_policy``, ``PosSettings.behaviour``, ``ChannelSettings.behaviour``) and
speaks only what PROTOCOL.md describes; the defences live in the honest layers, never here. Nothing below this
package imports it: harness > attacks > channels > pos > ledger.

``Attack`` (in ``base``) is the API every attack implements; ``ATTACKS`` lists them by CLI name.
"""

from __future__ import annotations

from . import ledger
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
from .ledger import DoubleSpendLab1

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
    "Detection",
    "DoubleSpendLab1",
    "LayerSettings",
    "NodeHandle",
    "Outcome",
    "Parameter",
    "SendResult",
    "UnknownAttack",
    "__version__",
    "attack_named",
    "ledger",
    "non_negative",
    "param",
    "positive",
    "register",
]
