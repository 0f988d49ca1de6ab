"""Printing and writing what `a27 attack` found: the verdict, the audit against the honest replay, each honest view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from ..attacks import AttackReport
from .files import write_report_files
from .provenance import Provenance


def report_data(report: AttackReport) -> dict[str, Any]:
    """The report as JSON-ready data (no wall-clock time, so the same seed gives the same bytes)."""
    run, result, outcome = report.run, report.result, report.outcome
    return {
        "attack": {"name": run.attack.name, "lab": run.attack.lab, "family": run.attack.family,
                   "parameters": {parameter.name: getattr(run.attack, parameter.name)
                                  for parameter in run.attack.parameters()},
                   "defences": list(run.attack.defences), "structural": run.attack.structural},
        "network": {"seed": run.scenario.seed, "validators": run.scenario.validators,
                    "light_nodes": run.scenario.light_nodes, "duration": run.scenario.duration},
        "defences_off": list(run.switched_off),
        "succeeded": result.succeeded,
        "stolen": result.stolen,
        "broken": list(result.broken),
        "audit": {"gain_by_node": dict(outcome.gain_by_node), "paid_twice": outcome.paid_twice,
                  "excess_supply": outcome.excess_supply, "genesis_supply": report.genesis_supply,
                  "agreement": outcome.agreement, "replay_agreement": outcome.replay_agreement,
                  "differing": list(outcome.differing)},
        "detections": [attrs.asdict(detection) for detection in result.detections],
        "cost": dict(result.cost),
        "honest_effect": dict(result.honest_effect),
        "attacker_accounts": report.accounts,
        "honest_transfers": report.honest_transfers,
        "notes": {key: str(value) for key, value in outcome.notes.items()},
        "nodes": [attrs.asdict(audit) for audit in report.audits],
    }


def _lines(report: AttackReport) -> list[str]:
    run, result, outcome = report.run, report.result, report.outcome
    off = ", ".join(run.switched_off) or "none"
    lines = [f"attack {run.attack.name} (lab {run.attack.lab}, {run.attack.family}), seed {run.scenario.seed}: "
             f"{run.scenario.validators} validators, {run.scenario.light_nodes} light nodes, "
             f"{run.scenario.duration:g} s",
             f"defences off: {off}" + ("; structural control: expected to fail even undefended"
                                       if run.attack.structural else ""),
             f"verdict: {'SUCCEEDED' if result.succeeded else 'failed'}; tokens stolen {result.stolen:,}; "
             f"guarantees broken: {', '.join(result.broken) or 'none'}",
             f"audit against the honest replay: paid twice across honest views {outcome.paid_twice:,}; "
             f"largest gain in one view {max(outcome.gain_by_node.values(), default=0):,}; "
             f"supply above genesis {outcome.excess_supply:,}",
             "honest nodes agree: " + ("yes" if outcome.agreement else f"no ({', '.join(outcome.differing)} differ "
                                                                        "from the first validator)")]
    for key, value in outcome.notes.items():
        lines.append(f"attacker: {key}: {value}")
    if result.detections:
        first = result.detections[0]
        lines.append(f"detected by {len({d.node for d in result.detections})} honest nodes, first {first.node} at "
                     f"{first.at:g} s: {first.how}")
    else:
        lines.append("detected: by no honest node")
    lines.append("attacker cost: " + ", ".join(f"{key} {value:,}" for key, value in result.cost.items()))
    lines.append("honest users: " + "; ".join(f"{key} {value}" for key, value in result.honest_effect.items()))
    lines.append("")
    lines.append(f"{'node':6} {'role':9} {'attacker holds':>14} {'in replay':>10}  digest    replay")
    for audit in report.audits:
        lines.append(f"{audit.name:6} {audit.role:9} {audit.attacker_holds:>14,} {audit.replay_holds:>10,}  "
                     f"{audit.digest[:8]}  {audit.replay_digest[:8]}")
    return lines


def format_terminal(report: AttackReport) -> str:
    """What `a27 attack NAME` prints on stdout."""
    return "\n".join(_lines(report))


def write_report(report: AttackReport, directory: str | Path, provenance: Provenance | None = None) -> Path:
    """Write report.md and report.json into ``directory`` (with ``provenance`` when given); returns the Markdown
    file's path."""
    markdown = (f"# Attack {report.run.attack.name}\n\n{' '.join(report.run.attack.summary.split())}\n\n"
                f"Success means: {report.run.attack.success}.\n\n```\n{format_terminal(report)}\n```\n")
    return write_report_files(directory, report_data(report), markdown, provenance=provenance)
