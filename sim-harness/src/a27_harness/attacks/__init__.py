"""
Running attacks (``a27 attack``): an attack of a27-attacks on its lab's network, the honest replay of the same seed
and workload, the audit of one against the other, and switching the honest layers' defences off by name.

The runner's names load on first use: a real node switching defences off from its config imports ``defences``
alone, never the simulator and the labs the runner needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .defences import UnknownDefence, available_defences, check_defence, defence_settings

if TYPE_CHECKING:
    from .runner import LAB_LAYERS, AttackReport, AttackRun, AttackRunError, NodeAudit, run_attack

RUNNER_NAMES = ("LAB_LAYERS", "AttackReport", "AttackRun", "AttackRunError", "NodeAudit", "run_attack")

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


def __getattr__(name: str) -> Any:
    """The runner's public names, imported on first use."""
    if name in RUNNER_NAMES:
        return getattr(importlib.import_module(".runner", __name__), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
