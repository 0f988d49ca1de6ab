"""
CLoTH's success by payment amount on its Lightning snapshot: the reference curve the topology report draws beside
a27's.

The numbers in ``cloth_baseline.json`` were computed by running CLoTH (https://github.com/marcono/cloth, GPL-3; none
of its code or data is in a27) with ``sim-harness/benchmarks/cloth_baseline.py``, which also regenerates them; the
file records the commit, the snapshot files' sha256, the input, the seeds and the command.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

DATA_FILE = "cloth_baseline.json"
"""The bundled reference data, next to this module."""


class ReferenceDataError(ValueError):
    """A reference data file that cannot be read or lacks a field; the message is one line."""


@attrs.frozen
class ReferencePoint:
    """Success of one average payment amount over the seeds: the mean share and its 95% Student's t interval."""

    relative_amount: float
    """The amount over half the snapshot's median channel capacity (2 = the median capacity)."""
    average_payment_amount_sat: int
    mean: float
    low: float
    high: float


@attrs.frozen
class ClothBaseline:
    """CLoTH's curve with what it was run on and how."""

    commit: str
    nodes: int
    channels: int
    median_capacity_msat: float
    mean_capacity_msat: float
    mpp: int
    payments_per_run: int
    seeds: tuple[int, ...]
    command: str
    points: tuple[ReferencePoint, ...]

    @property
    def short_commit(self) -> str:
        """The commit's first seven hex digits, as git shows it."""
        return self.commit[:7]

    def curve(self) -> list[tuple[float, float]]:
        """(relative amount, mean success) per point, by amount."""
        return [(point.relative_amount, point.mean) for point in self.points]

    def to_dict(self) -> dict[str, Any]:
        """The curve and its provenance as plain data (for report.json)."""
        return {**attrs.asdict(self, recurse=True), "seeds": list(self.seeds)}


def _field(data: dict[str, Any], path: str) -> Any:
    """``data`` at a dotted ``path``, or a ReferenceDataError naming it."""
    value: Any = data
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            msg = f"reference data lacks {path}"
            raise ReferenceDataError(msg)
        value = value[key]
    return value


def parse_cloth_baseline(data: dict[str, Any]) -> ClothBaseline:
    """
    The baseline held by ``data`` (what cloth_baseline.py writes).

    :raises ReferenceDataError: when a field is missing, a share lies outside 0-1 or the amounts do not increase.
    """
    try:
        points = tuple(ReferencePoint(float(_field(point, "relative_amount")),
                                      int(_field(point, "average_payment_amount_sat")),
                                      float(_field(point, "success.mean")), float(_field(point, "success.low")),
                                      float(_field(point, "success.high")))
                       for point in _field(data, "points"))
        baseline = ClothBaseline(
            commit=str(_field(data, "source.commit")), nodes=int(_field(data, "source.nodes")),
            channels=int(_field(data, "source.channels")),
            median_capacity_msat=float(_field(data, "capacity_msat.median")),
            mean_capacity_msat=float(_field(data, "capacity_msat.mean")), mpp=int(_field(data, "mpp")),
            payments_per_run=int(_field(data, "payments_per_run")),
            seeds=tuple(int(seed) for seed in _field(data, "seeds")), command=str(_field(data, "command")),
            points=points)
    except (TypeError, AttributeError) as error:
        msg = f"reference data is malformed: {error}"
        raise ReferenceDataError(msg) from None
    if not points:
        msg = "reference data has no points"
        raise ReferenceDataError(msg)
    if any(not 0 <= point.mean <= 1 for point in points):
        msg = "reference data has a success share outside 0-1"
        raise ReferenceDataError(msg)
    if any(later.relative_amount <= earlier.relative_amount for earlier, later in itertools.pairwise(points)):
        msg = "reference data's amounts do not increase"
        raise ReferenceDataError(msg)
    return baseline


def load_cloth_baseline(path: Path | None = None) -> ClothBaseline:
    """
    The bundled CLoTH baseline, or the one in ``path``.

    :raises ReferenceDataError: when the file is not JSON or not well-formed.
    """
    try:
        text = (path.read_text(encoding="utf-8") if path is not None
                else resources.files(__package__).joinpath(DATA_FILE).read_text(encoding="utf-8"))
        data = json.loads(text)
    except (OSError, json.JSONDecodeError) as error:
        msg = f"cannot read reference data {path or DATA_FILE}: {error}"
        raise ReferenceDataError(msg) from None
    if not isinstance(data, dict):
        msg = "reference data is not a JSON object"
        raise ReferenceDataError(msg)
    return parse_cloth_baseline(data)


def falls_below(curve: Sequence[tuple[float, float]], level: float = 0.5) -> float | None:
    """
    Where a curve of (amount, share) points, by amount, first falls below ``level``: interpolated on a log amount
    axis between the last point at or above it and the first below; the first amount when it starts below; None when
    it never falls below.
    """
    for index, (amount, share) in enumerate(curve):
        if share >= level:
            continue
        if index == 0:
            return amount
        before, above = curve[index - 1]
        fraction = (above - level) / (above - share)
        return math.exp(math.log(before) + fraction * (math.log(amount) - math.log(before)))
    return None


__all__ = ["DATA_FILE", "ClothBaseline", "ReferenceDataError", "ReferencePoint", "falls_below",
           "load_cloth_baseline", "parse_cloth_baseline"]
