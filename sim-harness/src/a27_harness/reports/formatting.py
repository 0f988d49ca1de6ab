"""Text every report shares: latency summaries, network totals, percentages and Markdown tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..scenario import SimScenario


def percent(share: float) -> str:
    """A share (0 to 1) as a percentage with one decimal."""
    return f"{share:.1%}"


def seconds(summary: dict[str, float]) -> str:
    """A latency summary (``latency_summary``) in one line, or n/a for none."""
    if not summary:
        return "n/a"
    return f"median {summary['median']:.3f} s, p95 {summary['p95']:.3f} s, max {summary['max']:.3f} s"


def network_line(totals: dict[str, Any]) -> str:
    """The simulated network's totals (sent, delivered, dropped by cause) in one line."""
    causes = ", ".join(f"{cause.replace('_', ' ')} {count['messages']:,}"
                       for cause, count in sorted(totals["dropped_by_cause"].items()) if count["messages"])
    return (f"network: {totals['sent']['messages']:,} packets sent ({totals['sent']['bytes']:,} bytes), "
            f"{totals['delivered']['messages']:,} delivered, {totals['dropped']['messages']:,} dropped"
            + (f" ({causes})" if causes else ""))


def network_heading(scenario: SimScenario) -> str:
    """The line under a lab's title: latency, loss, who light nodes know and how long transfers run.

    In Lab 2 (pos without channels) light nodes talk only to validators, so the light-node topology does not apply;
    the line says how many validators each follows instead."""
    if scenario.uses_pos and not scenario.uses_channels:
        known = f"each light node follows {min(scenario.validators_per_light_node, scenario.validators)} validators"
    else:
        known = f"light-node topology {scenario.topology}"
    return (f"network: latency {scenario.latency}, loss {scenario.loss:.0%}, {known}; "
            f"{scenario.duration:g} simulated seconds of transfers")


def timing_line(duration: float, grace: float, end_time: float) -> str:
    """The line saying how long a run's transfers ran, the grace the ones in flight then took, and the whole run."""
    return (f"time: transfers started for {duration:g} simulated s, the last in flight then finished "
            f"{grace:.1f} s later; {end_time:.1f} simulated s in all")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str) -> list[str]:
    """A Markdown table: ``align`` has one letter per column, ``r`` for right-aligned, anything else left."""
    return [f"| {' | '.join(header)} |", "| " + " | ".join("---:" if mark == "r" else "---" for mark in align) + " |",
            *[f"| {' | '.join(str(cell) for cell in row)} |" for row in rows]]


def run_heading(title: str, scenario: SimScenario, grace: float, end_time: float) -> list[str]:
    """The first lines `a27 sim` prints for a lab run: title and size, network, and timing."""
    return [f"a27 sim - {title}: {scenario.validators} validators, {scenario.light_nodes} light nodes, "
            f"seed {scenario.seed}",
            network_heading(scenario),
            timing_line(scenario.duration, grace, end_time)]
