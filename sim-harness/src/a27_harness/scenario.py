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


def _non_negative(_: object, attribute: attrs.Attribute, value: int) -> None:
    if value < 0:
        msg = f"{attribute.name} must not be negative, got {value}"
        raise ScenarioError(msg)


def _probability(_: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value < 1.0:
        msg = f"{attribute.name} must be in [0, 1), got {value}"
        raise ScenarioError(msg)


def _layers(value: object) -> tuple[str, ...]:
    names = tuple(value.split(",")) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]
    names = tuple(name.strip() for name in names if name.strip())
    known = ("ledger", "pos", "channels")
    unknown = [name for name in names if name not in known]
    if unknown or "ledger" not in names:
        msg = f"layers must include ledger and be among {', '.join(known)}; got {', '.join(names) or 'none'}"
        raise ScenarioError(msg)
    if "channels" in names and "pos" not in names:
        msg = "the channels layer needs the pos layer (--layers ledger,pos,channels)"
        raise ScenarioError(msg)
    return tuple(name for name in known if name in names)


def _stakes(value: object) -> tuple[int, ...] | None:
    if value is None:
        return None
    stakes = tuple(int(part) for part in value.split(",")) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]
    if not stakes or any(stake <= 0 for stake in stakes):
        msg = f"stakes must be positive integers, got {value}"
        raise ScenarioError(msg)
    return stakes


def _indices(value: object) -> tuple[int, ...]:
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, (list, tuple)):
        msg = f"silent_validators must be a list of validator indices, got {value!r}"
        raise ScenarioError(msg)
    try:
        indices = tuple(sorted({int(str(part).strip()) for part in parts if str(part).strip()}))
    except ValueError as error:
        msg = f"silent_validators must be validator indices, got {value!r}"
        raise ScenarioError(msg) from error
    if any(index < 0 for index in indices):
        msg = f"silent_validators must be validator indices (0 is v0), got {value!r}"
        raise ScenarioError(msg)
    return indices


def _optional_positive(instance: object, attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None:
        _positive(instance, attribute, value)


@attrs.frozen
class SimScenario:
    """A simulation: validators and light nodes exchanging signed transfers under a seeded workload.

    With the ``pos`` layer (the default) transfers become final in blocks decided by stake-weighted consensus
    (Lab 2); with ``ledger`` alone, validators admit and broadcast them directly (Lab 1).
    """

    layers: tuple[str, ...] = attrs.field(default=("ledger", "pos"), converter=_layers)
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
    stakes: tuple[int, ...] | None = attrs.field(default=None, converter=_stakes)
    """Bonded stake of each validator (PoS); None gives every validator 100,000."""
    proposer: str = "weighted-round-robin"
    """How PoS picks block proposers: weighted-round-robin or lottery."""
    block_reward: int = attrs.field(default=100, validator=_at_least_one)
    silent_validators: tuple[int, ...] = attrs.field(default=(), converter=_indices)
    """Validators, by index (0 is v0), that run the PoS layer without the consensus engine: they keep their stake
    and follow the chain, but never propose or vote."""
    restake_interval: float | None = attrs.field(default=None, validator=_optional_positive)
    """Every this many simulated seconds, each voting validator bonds its liquid balance above its starting balance
    (its rewards and what it received); None never re-bonds."""
    channel_deposit: int = attrs.field(default=3_000, validator=_at_least_one)
    """Payment channels (Lab 3): what each side of a light-node channel deposits."""
    payments: int = attrs.field(default=48, validator=_at_least_one)
    """Payment channels: off-chain payments made between the opens and the closes (direct and routed)."""
    unilateral_closes: int = attrs.field(default=1, validator=_non_negative)
    """Payment channels: channels closed by one party alone (waiting out the challenge period); the rest close
    cooperatively."""
    challenge_period: int = attrs.field(default=6, validator=_at_least_one)
    """Payment channels: blocks during which a unilaterally published state can be challenged."""

    def __attrs_post_init__(self) -> None:
        """Check settings that depend on each other."""
        if self.stakes is not None and len(self.stakes) != self.validators:
            msg = f"{len(self.stakes)} stakes given for {self.validators} validators"
            raise ScenarioError(msg)
        if self.proposer not in ("weighted-round-robin", "lottery"):
            msg = f"proposer must be weighted-round-robin or lottery, got {self.proposer!r}"
            raise ScenarioError(msg)
        if any(index >= self.validators for index in self.silent_validators):
            msg = f"silent_validators {list(self.silent_validators)} name validators beyond v{self.validators - 1}"
            raise ScenarioError(msg)
        if (self.silent_validators or self.restake_interval is not None) and not self.uses_pos:
            msg = "silent_validators and restake_interval need the pos layer"
            raise ScenarioError(msg)
        if self.uses_channels and self.light_nodes < 3:
            msg = f"payment channels need at least 3 light nodes (a ring), got {self.light_nodes}"
            raise ScenarioError(msg)
        if self.uses_channels and self.unilateral_closes > self.light_nodes:
            msg = f"unilateral_closes {self.unilateral_closes} exceeds the {self.light_nodes} channels"
            raise ScenarioError(msg)

    @property
    def uses_pos(self) -> bool:
        """Whether transfers are finalized by proof-of-stake blocks."""
        return "pos" in self.layers

    @property
    def uses_channels(self) -> bool:
        """Whether light nodes open payment channels and pay off chain (Lab 3)."""
        return "channels" in self.layers

    def validator_stakes(self) -> tuple[int, ...]:
        """Each validator's stake (equal stakes unless given)."""
        return self.stakes if self.stakes is not None else (100_000,) * self.validators
    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> SimScenario:
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
        return {key: list(value) if isinstance(value, tuple) else value for key, value in attrs.asdict(self).items()}
