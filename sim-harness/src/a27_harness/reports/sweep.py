"""
The report of `a27 sweep`: per grid point, the mean and 95% Student's t interval across seeds of each headline
number (``statistics.mean_interval``), in report.md and report.json, and one PNG per headline number and swept
parameter. Everything is in plan order and holds no wall time, so the files depend only on the manifest and the code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .files import pyplot, save_figure, write_report_files
from .statistics import MeanInterval, mean_interval

if TYPE_CHECKING:
    from ..experiments.sweep import SweepOutcome
    from .provenance import Provenance


def headline_names(outcome: SweepOutcome, order: Sequence[str]) -> list[str]:
    """The headline numbers the points report, in ``order`` (the target's ``HEADLINES``)."""
    present = {name for headline in outcome.headlines for name, value in headline.items() if value is not None}
    return [name for name in order if name in present]


def summarize(outcome: SweepOutcome, names: Sequence[str],
              ranges: Mapping[str, tuple[float, float]] | None = None) -> list[dict[str, Any]]:
    """Per grid point, in plan order: its parameters, each seed's point key, and per headline number the mean and
    interval across the seeds that have it (None when none has); an interval is clipped to its number's range in
    ``ranges`` (shares: 0 to 1)."""
    rows: list[dict[str, Any]] = []
    for point, headline in zip(outcome.points, outcome.headlines, strict=True):
        if not rows or rows[-1]["grid_index"] != point.grid_index:
            rows.append({"grid_index": point.grid_index, "parameters": dict(point.parameters), "points": {},
                         "values": {name: [] for name in names}})
        rows[-1]["points"][str(point.seed)] = point.key
        for name in names:
            if headline.get(name) is not None:
                rows[-1]["values"][name].append(float(headline[name]))  # type: ignore[arg-type]
    for row in rows:
        values = row.pop("values")
        row["headline"] = {name: _interval(values[name], (ranges or {}).get(name)) for name in names}
    return rows


def _interval(values: list[float], within: tuple[float, float] | None) -> dict[str, float | int] | None:
    if not values:
        return None
    interval = mean_interval(values, within=within)
    return {"mean": interval.mean, "low": interval.low, "high": interval.high, "runs": interval.runs}


def _cell(value: dict[str, float | int] | None) -> str:
    if value is None:
        return "-"
    if value["runs"] < 2 or value["low"] == value["high"]:
        return f"{value['mean']:.4g}"
    return f"{value['mean']:.4g} [{value['low']:.4g}, {value['high']:.4g}]"


def plot_name(headline: str, parameter: str) -> str:
    """The file name of the plot of ``headline`` against ``parameter``."""
    return f"{re.sub(r'[^A-Za-z0-9_]+', '-', headline)}-vs-{re.sub(r'[^A-Za-z0-9_]+', '-', parameter)}.png"


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values)


def plot_headline(rows: Sequence[dict[str, Any]], grid: Sequence[tuple[str, Sequence[Any]]], headline: str,
                  parameter: str, path: Path) -> None:
    """``headline`` (mean and interval across seeds) against ``parameter``, one line per combination of the other
    swept parameters; a parameter that is not numeric is drawn at evenly spaced positions named by its values."""
    plt = pyplot()
    values = next(list(choices) for name, choices in grid if name == parameter)
    numeric = _numeric(values)
    others = [name for name, _ in grid if name != parameter]
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    lines: dict[str, list[tuple[float, MeanInterval]]] = {}
    for row in rows:
        interval = row["headline"].get(headline)
        if interval is None:
            continue
        label = ", ".join(f"{name}={row['parameters'][name]}" for name in others) or headline
        x = row["parameters"][parameter] if numeric else values.index(row["parameters"][parameter])
        lines.setdefault(label, []).append((float(x), MeanInterval(interval["mean"], interval["low"],
                                                                   interval["high"], interval["runs"])))
    for label, series in lines.items():
        series.sort(key=lambda item: item[0])
        xs = [x for x, _ in series]
        means = [interval.mean for _, interval in series]
        errors = [[interval.mean - interval.low for _, interval in series],
                  [interval.high - interval.mean for _, interval in series]]
        axis.errorbar(xs, means, yerr=errors, marker="o", capsize=3, label=label)
    if not numeric:
        axis.set_xticks(range(len(values)), [str(value) for value in values])
    axis.set_xlabel(parameter)
    axis.set_ylabel(headline)
    axis.set_title(f"{headline} against {parameter} (mean, 95% t interval across seeds)", fontsize=9)
    if others and lines:
        axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    save_figure(figure, path)


def markdown(outcome: SweepOutcome, rows: Sequence[dict[str, Any]], names: Sequence[str],
             meanings: dict[str, str], plots: Sequence[str]) -> str:
    """report.md without its provenance section."""
    manifest = outcome.manifest
    parameters = [name for name, _ in manifest.fixed] + list(manifest.swept)
    seeds = ", ".join(str(seed) for seed in manifest.seeds)
    lines = [f"# Sweep of {manifest.target}", "",
             f"{len(rows)} grid points x {len(manifest.seeds)} seeds ({seeds}) = {len(outcome.points)} runs. "
             "Each cell: the mean across seeds and its 95% Student's t interval (a single value when the seeds "
             "agree or there is one seed). Every run's numbers are in `points/<key>.json`.", "",
             "| " + " | ".join([*parameters, *names]) + " |", "|" + " --- |" * len(parameters) + " ---: |" * len(names)]
    for row in rows:
        cells = [str(row["parameters"][name]) for name in parameters]
        cells += [_cell(row["headline"][name]) for name in names]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Headline numbers:", ""]
    lines += [f"- `{name}`: {meanings.get(name, name)}" for name in names]
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{name}]({name})" for name in plots]
    return "\n".join(lines) + "\n"


def write_report(outcome: SweepOutcome, out: Path, order: Sequence[str], meanings: dict[str, str],
                 provenance: Provenance, *, ranges: Mapping[str, tuple[float, float]] | None = None) -> Path:
    """Write report.md, report.json and the plots into ``out``; return report.md's path (intervals clipped to
    ``ranges``, see `summarize`)."""
    names = headline_names(outcome, order)
    rows = summarize(outcome, names, ranges)
    grid = [(name, list(values)) for name, values in outcome.manifest.grid]
    plots = {plot_name(headline, parameter): (lambda path, headline=headline, parameter=parameter:
                                              plot_headline(rows, grid, headline, parameter, path))
             for headline in names for parameter, _ in grid}
    data = {"manifest": outcome.manifest.to_dict(), "headline_numbers": {name: meanings.get(name, name)
                                                                         for name in names},
            "grid_points": rows, "plots": sorted(plots)}
    return write_report_files(out, data, markdown(outcome, rows, names, meanings, list(plots)), plots, provenance)


__all__ = ["headline_names", "markdown", "plot_headline", "plot_name", "summarize", "write_report"]
