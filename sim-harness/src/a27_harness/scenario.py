"""Scenario settings: what a simulation runs, from command-line options or a TOML file that can be shared."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import attrs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


class ScenarioError(ValueError):
    """A scenario setting that is missing, unknown or out of range."""


def _positive(_: object, attribute: attrs.Attribute, value: float) -> None:
    if value <= 0:
        msg = f"{attribute.name} must be positive, got {value}"
        raise ScenarioError(msg)


def _at_least_one(_: object, attribute: attrs.Attribute, value: int) -> None:
    if value < 1:
        msg = f"{attribute.name} must be at least 1, got {value}"
        raise ScenarioError(msg)


def _probability(_: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value < 1.0:
        msg = f"{attribute.name} must be in [0, 1), got {value}"
        raise ScenarioError(msg)


@attrs.frozen
class LedgerScenario:
    """Lab 1: validators and light nodes exchanging signed transfers under a seeded workload."""

    validators: int = attrs.field(default=4, validator=_at_least_one)
    light_nodes: int = attrs.field(default=16, validator=_at_least_one)
    duration: float = attrs.field(default=60.0, validator=_positive)
    """Simulated seconds during which light nodes send transfers."""
    seed: int = 7
    latency: str = "uniform:0.01,0.1"
    """A latency model: constant:S, uniform:LOW,HIGH, lognormal:MEDIAN,SIGMA or regions."""
    loss: float = attrs.field(default=0.0, validator=_probability)
    topology: str = "complete"
    """Who knows whom among light nodes: complete, ba, bottleneck, bottlenecks. Every node knows the validators."""
    transfer_interval: float = attrs.field(default=4.0, validator=_positive)
    """Mean simulated seconds between two transfers of one light node (exponentially distributed)."""
    initial_balance: int = attrs.field(default=10_000, validator=_at_least_one)
    fee: int = 1
    overdraft_probability: float = attrs.field(default=0.05, validator=_probability)
    """Share of transfers that try to send more than the sender holds (each must be rejected)."""
    settle_timeout: float = attrs.field(default=120.0, validator=_positive)
    """Simulated seconds allowed after the workload for every node to reach the same ledger."""
    db: str | None = None
    """A directory for one SQLite file per node; None keeps every ledger in memory."""

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> LedgerScenario:
        """Read a scenario file (keys as the field names, under ``[sim]`` or at the top level)."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            msg = f"cannot read scenario {path}: {error}"
            raise ScenarioError(msg) from error
        table = data.get("sim", data)
        known = {field.name for field in attrs.fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            msg = f"unknown scenario settings in {path}: {', '.join(unknown)}"
            raise ScenarioError(msg)
        settings = {**table, **{key: value for key, value in overrides.items() if value is not None}}
        try:
            return cls(**settings)
        except TypeError as error:
            raise ScenarioError(str(error)) from error

    def to_dict(self) -> dict[str, Any]:
        """The scenario as plain data (for reports)."""
        return attrs.asdict(self)
