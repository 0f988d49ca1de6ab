"""The battle's final report: report.md, report.json (with provenance) and scoreboard.png, the same bytes for the
same chain and declaration."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..reports.files import pyplot, save_figure, write_report_files
from ..reports.provenance import collect_provenance
from .scoring import Scoreboard

PLOT = "scoreboard.png"


def scoreboard_markdown(board: Scoreboard) -> str:
    """The scoreboard as Markdown: one row per team, then every detection."""
    lines = ["# a27 battle: final scoreboard", "",
             f"Chain `{board.chain_id}` as the referee finalized it, height {board.height} "
             f"({board.blocks_missing} blocks not held, not scored). Honest workload: {board.workload_finalized} of "
             f"{board.workload_declared} declared transfers finalized. Rules and formulas: BATTLE.md.", "",
             "| team | side | behaviour | start | workload | proposer income | expected | held | slashed | gained "
             "| score | blocks proposed | detections |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in board.teams:
        lines.append(f"| {row.name} | {row.side} | {row.behaviour} | {row.start:,} | {row.workload_net:,} | "
                     f"{row.proposer_income:,} | {row.expected:,} | {row.held:,} | {row.slashed:,} | {row.gained:,} | "
                     f"{row.score:,} | {row.blocks_proposed:,} | {len(row.detections)} |")
    lines += ["", f"Accounts of no team gained {board.unowned_gained:,} tokens.", "", "## Detections", ""]
    detections = [(row.name, detection) for row in board.teams for detection in row.detections]
    lines += [f"- {team}: {detection.kind} against {detection.offender}... in finalized block {detection.height}"
              for team, detection in detections] or ["None: no finalized block carries evidence against a team."]
    return "\n".join(lines) + "\n"


def _draw(board: Scoreboard, path: Path) -> None:
    plt = pyplot()
    names = [row.name for row in board.teams]
    figure, axes = plt.subplots(figsize=(max(4.0, 1.2 * len(names) + 2), 3.5))
    positions = range(len(names))
    axes.bar([position - 0.2 for position in positions], [row.gained for row in board.teams], 0.4, label="gained")
    axes.bar([position + 0.2 for position in positions], [-row.slashed for row in board.teams], 0.4,
             label="slashed (negative)")
    axes.axhline(0, color="black", linewidth=0.8)
    axes.set_xticks(list(positions), names)
    axes.set_ylabel("tokens")
    axes.set_title(f"a27 battle at height {board.height}")
    axes.legend()
    save_figure(figure, path)


def write_battle_report(board: Scoreboard, directory: Path, argv: Sequence[str] | None,
                        parameters: dict[str, Any]) -> Path:
    """Write report.md, report.json (the scoreboard and provenance) and scoreboard.png into ``directory``."""
    return write_report_files(directory, {"scoreboard": board.to_dict()}, scoreboard_markdown(board),
                              {PLOT: lambda path: _draw(board, path)}, collect_provenance(argv, parameters))
