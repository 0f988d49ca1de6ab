"""
Running attacks (``a27 attack``): an attack of a27-attacks on its lab's network, the honest replay of the same seed
and workload, the audit of one against the other, and switching the honest layers' defences off by name.
"""

from .defences import UnknownDefence, available_defences, check_defence, defence_settings
from .runner import LAB_LAYERS, AttackReport, AttackRun, AttackRunError, NodeAudit, run_attack

__all__ = [
    "LAB_LAYERS",
    "AttackReport",
    "AttackRun",
    "AttackRunError",
    "NodeAudit",
    "UnknownDefence",
    "available_defences",
    "check_defence",
    "defence_settings",
    "run_attack",
]
