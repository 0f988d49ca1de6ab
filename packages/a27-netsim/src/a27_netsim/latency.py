"""Link latency models: how long a packet takes from one node to another, in virtual seconds."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Protocol, runtime_checkable


class LatencyError(ValueError):
    """A latency model was given impossible parameters, an unknown region or an unparsable specification."""


@runtime_checkable
class LatencyModel(Protocol):
    """The interface of every latency model."""

    def sample(self, src_region: str | None, dst_region: str | None, rng: random.Random) -> float:
        """Return the one-way delay in seconds of one packet from a node in ``src_region`` to one in ``dst_region``."""

    def assign_region(self, index: int) -> str | None:
        """Return the region of the ``index``-th node when its creator named none."""


def _require_non_negative(**values: float) -> None:
    for name, value in values.items():
        if not value >= 0.0:  # also rejects NaN
            raise LatencyError(f"{name} must be a non-negative number of seconds, got {value!r}")


class ConstantLatency:
    """Every packet takes exactly ``seconds``."""

    def __init__(self, seconds: float) -> None:
        """Create the model; ``seconds`` must not be negative."""
        _require_non_negative(seconds=seconds)
        self.seconds = seconds

    def sample(self, src_region: str | None, dst_region: str | None, rng: random.Random) -> float:
        """Return the constant delay (draws nothing from ``rng``)."""
        return self.seconds

    def assign_region(self, index: int) -> str | None:
        """Regions play no part in this model."""
        return None

    def __repr__(self) -> str:
        """Show the parameters."""
        return f"ConstantLatency({self.seconds!r})"


class UniformLatency:
    """Delays drawn uniformly from ``[low, high]``."""

    def __init__(self, low: float, high: float) -> None:
        """Create the model; requires ``0 <= low <= high``."""
        _require_non_negative(low=low, high=high)
        if low > high:
            raise LatencyError(f"low ({low!r}) must not exceed high ({high!r})")
        self.low = low
        self.high = high

    def sample(self, src_region: str | None, dst_region: str | None, rng: random.Random) -> float:
        """Draw one delay."""
        return rng.uniform(self.low, self.high)

    def assign_region(self, index: int) -> str | None:
        """Regions play no part in this model."""
        return None

    def __repr__(self) -> str:
        """Show the parameters."""
        return f"UniformLatency({self.low!r}, {self.high!r})"


class LogNormalLatency:
    """Log-normally distributed delays: ``median * exp(sigma * N(0, 1))``, a long right tail like real paths."""

    def __init__(self, median: float, sigma: float) -> None:
        """Create the model; requires ``median > 0`` and ``sigma >= 0``."""
        _require_non_negative(median=median, sigma=sigma)
        if median == 0.0:
            raise LatencyError("median must be positive")
        self.median = median
        self.sigma = sigma
        self._mu = math.log(median)

    def sample(self, src_region: str | None, dst_region: str | None, rng: random.Random) -> float:
        """Draw one delay."""
        return rng.lognormvariate(self._mu, self.sigma)

    def assign_region(self, index: int) -> str | None:
        """Regions play no part in this model."""
        return None

    def __repr__(self) -> str:
        """Show the parameters."""
        return f"LogNormalLatency({self.median!r}, {self.sigma!r})"


DEFAULT_REGION_MATRIX: Mapping[tuple[str, str], float] = {
    ("eu", "eu"): 0.012,
    ("us", "us"): 0.020,
    ("asia", "asia"): 0.025,
    ("eu", "us"): 0.045,
    ("us", "asia"): 0.080,
    ("eu", "asia"): 0.110,
}
"""One-way delays in seconds between three regions, roughly half of typical inter-datacentre round trips."""


class RegionLatency:
    """
    Delays from a matrix of one-way delays between regions plus uniform jitter in ``[0, jitter]``.

    The matrix is symmetric: ``(a, b)`` also serves ``(b, a)`` unless that pair has its own entry. Nodes created
    without a region are spread over the regions in sorted order (node 0 in the first region, node 1 in the second...).
    """

    def __init__(self, matrix: Mapping[tuple[str, str], float] | None = None, jitter: float = 0.002) -> None:
        """Create the model from ``matrix`` (default :data:`DEFAULT_REGION_MATRIX`); every pair must be covered."""
        _require_non_negative(jitter=jitter)
        source = DEFAULT_REGION_MATRIX if matrix is None else matrix
        self.matrix: dict[tuple[str, str], float] = {}
        for (a, b), seconds in source.items():
            _require_non_negative(**{f"{a}->{b}": seconds})
            self.matrix[(a, b)] = seconds
            self.matrix.setdefault((b, a), seconds)
        self.regions: tuple[str, ...] = tuple(sorted({region for pair in self.matrix for region in pair}))
        missing = [(a, b) for a in self.regions for b in self.regions if (a, b) not in self.matrix]
        if missing:
            raise LatencyError(f"the region matrix has no delay for {missing}")
        self.jitter = jitter

    def sample(self, src_region: str | None, dst_region: str | None, rng: random.Random) -> float:
        """Return the matrix delay for the region pair plus jitter."""
        try:
            base = self.matrix[(src_region, dst_region)]  # type: ignore[index]
        except KeyError:
            raise LatencyError(f"no delay between regions {src_region!r} and {dst_region!r}") from None
        return base + rng.random() * self.jitter if self.jitter else base

    def assign_region(self, index: int) -> str | None:
        """Spread unnamed nodes over the regions round-robin."""
        return self.regions[index % len(self.regions)]

    def __repr__(self) -> str:
        """Show the regions and jitter."""
        return f"RegionLatency(regions={list(self.regions)}, jitter={self.jitter!r})"


def _parse_numbers(spec: str, body: str, count: int) -> list[float]:
    parts = [part.strip() for part in body.split(",")] if body else []
    if len(parts) != count:
        raise LatencyError(f"{spec!r}: expected {count} number(s) after the colon")
    try:
        return [float(part) for part in parts]
    except ValueError:
        raise LatencyError(f"{spec!r}: not a number") from None


def parse_latency(spec: str) -> ConstantLatency | UniformLatency | LogNormalLatency | RegionLatency:
    """
    Build a latency model from a short string, as typed on a command line.

    Accepted: ``constant:SECONDS``, ``uniform:LOW,HIGH``, ``lognormal:MEDIAN,SIGMA``, ``regions`` (the default
    matrix, 2 ms jitter) and ``regions:JITTER``. Raises :class:`LatencyError` for anything else.
    """
    kind, _, body = spec.strip().partition(":")
    kind = kind.strip().lower()
    if kind == "constant":
        (seconds,) = _parse_numbers(spec, body, 1)
        return ConstantLatency(seconds)
    if kind == "uniform":
        low, high = _parse_numbers(spec, body, 2)
        return UniformLatency(low, high)
    if kind == "lognormal":
        median, sigma = _parse_numbers(spec, body, 2)
        return LogNormalLatency(median, sigma)
    if kind == "regions":
        if not body:
            return RegionLatency()
        (jitter,) = _parse_numbers(spec, body, 1)
        return RegionLatency(jitter=jitter)
    raise LatencyError(f"{spec!r}: unknown latency model; use constant, uniform, lognormal or regions")
