"""
a27-attacks: the red team's library.

Malicious behaviours against every a27 layer. Each plugs into an honest node through the seams its layer documents
(``LedgerSettings.behaviour`` and ``peer_policy``, ``PosSettings.behaviour``, ``ChannelSettings.behaviour``) and
speaks only what PROTOCOL.md describes; the defences live in the honest layers, never here. Nothing below this
package imports it: harness > attacks > channels > pos > ledger.

``Attack`` (in ``base``) is the API every attack implements; ``ATTACKS`` lists them by CLI name.
"""

from __future__ import annotations

from . import channels, ledger, longrange, peers, pos_attacks  # noqa: F401 - importing registers the attacks
from .__about__ import __version__
from .base import (
    ATTACKS,
    AVAILABILITY,
    FAMILIES,
    GUARANTEES,
    LABS,
    ROLES,
    Arena,
    Attack,
    AttackerNode,
    AttackError,
    AttackResult,
    AvailabilityThreshold,
    BadParameter,
    Detection,
    LayerSettings,
    NodeHandle,
    NodeView,
    Outcome,
    Parameter,
    SendResult,
    UnknownAttack,
    account_key,
    attack_named,
    non_negative,
    param,
    positive,
    register,
)
from .censor import Censor, CensorshipDelay, censorship_delay
from .channels import HoldHtlcsAttack, SupersededStateAttack
from .ledger import DoubleSpendLab1
from .longrange import ForkImpossible, LongRange, SyncOutcome, forge_history, serve_history
from .mempool_flood import future_nonce_transfers
from .peers import Eclipse, PeerFlood, SybilSlots, ViewFate, view_fate
from .pos_attacks import (
    CensorAttack,
    CoalitionAttack,
    DoubleSpendPos,
    InvalidBlock,
    MempoolFlood,
    ProposalEquivocationAttack,
    VoteEquivocationAttack,
    WithholdAttack,
)
from .tracker_sybil import SybilCrowd, TrackerSybilError, ask_for_introductions, introduction_request
from .withhold import Withhold, WithholdingDelay, withholding_delay

__all__ = [
    "ATTACKS",
    "AVAILABILITY",
    "FAMILIES",
    "GUARANTEES",
    "LABS",
    "ROLES",
    "Arena",
    "Attack",
    "AttackError",
    "AttackResult",
    "AttackerNode",
    "AvailabilityThreshold",
    "BadParameter",
    "Censor",
    "CensorAttack",
    "CensorshipDelay",
    "CoalitionAttack",
    "Detection",
    "DoubleSpendLab1",
    "DoubleSpendPos",
    "Eclipse",
    "ForkImpossible",
    "HoldHtlcsAttack",
    "InvalidBlock",
    "LayerSettings",
    "LongRange",
    "MempoolFlood",
    "NodeHandle",
    "NodeView",
    "Outcome",
    "Parameter",
    "PeerFlood",
    "ProposalEquivocationAttack",
    "SendResult",
    "SupersededStateAttack",
    "SybilCrowd",
    "SybilSlots",
    "SyncOutcome",
    "TrackerSybilError",
    "UnknownAttack",
    "ViewFate",
    "VoteEquivocationAttack",
    "Withhold",
    "WithholdAttack",
    "WithholdingDelay",
    "__version__",
    "account_key",
    "ask_for_introductions",
    "attack_named",
    "censorship_delay",
    "channels",
    "forge_history",
    "future_nonce_transfers",
    "introduction_request",
    "ledger",
    "non_negative",
    "param",
    "peers",
    "pos_attacks",
    "positive",
    "register",
    "serve_history",
    "view_fate",
    "withholding_delay",
]
