"""Scenario settings: what a simulation runs, from command-line options or a TOML file that can be shared."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from a27_netsim import LatencyError, parse_latency
from a27_pos import PosParams

from ..compat import tomllib
from .errors import ScenarioError
from .faults import Fault, parse_faults, select_nodes
from .sections import flatten_sections

TOPOLOGIES = ("complete", "ba", "bottleneck", "bottlenecks")
"""The light-node topologies a27-netsim builds by name."""
MAX_UINT64 = 2**64 - 1
"""The largest amount, balance, stake or seed the ledger and the simulator take."""
MAX_VALIDATORS = 1_000
"""The most validators a scenario may run (each one receives every vote)."""
MAX_NODES = 10_000
"""The most light nodes a scenario may run."""
MAX_SECONDS = 1_000_000.0
"""The longest simulated time, in seconds, a scenario may ask for (about 11.6 simulated days)."""
MIN_INTERVAL = 0.01
"""The shortest mean interval between a node's transfers or re-bonds, in simulated seconds."""
MAX_COUNT = 1_000_000
"""The most payments, or blocks of challenge period, a scenario may ask for."""
DEFAULT_VALIDATORS_PER_LIGHT_NODE = 4
"""Validators a PoS light node knows by default: every validator of the default four-validator run."""


def _amount(value: float) -> str:
    if value == MAX_UINT64:
        return "2**64-1"
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _expected(name: str, what: str, value: object) -> ScenarioError:
    """The error for a setting whose value is not what it should be: one line naming both."""
    return ScenarioError(f"{name}: expected {what}, got {value!r}")


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_integer(name: str, value: object, low: int, high: int) -> int:
    """
    ``value`` if it is an integer (not a boolean) in ``low..high``.

    :raises ScenarioError: naming ``name`` and what it expects, for anything else.
    """
    if not _is_integer(value) or not low <= value <= high:  # type: ignore[operator]
        raise _expected(name, f"an integer from {_amount(low)} to {_amount(high)}", value)
    return value  # type: ignore[return-value]


def check_number(name: str, value: object, low: float, high: float, *, above_low: bool = False,
                 below_high: bool = False) -> float:
    """
    ``value`` if it is a finite number (not a boolean) between ``low`` and ``high``.

    ``above_low`` and ``below_high`` exclude the bounds themselves.

    :raises ScenarioError: naming ``name`` and what it expects, for anything else (NaN and infinities included).
    """
    fits = _is_number(value) and (low < value if above_low else low <= value)  # type: ignore[operator]
    fits = fits and (value < high if below_high else value <= high)  # type: ignore[operator]
    if not fits:
        lower = f"above {_amount(low)}" if above_low else f"at least {_amount(low)}"
        upper = f"below {_amount(high)}" if below_high else f"at most {_amount(high)}"
        bounds = [bound for bound, limit in ((lower, low), (upper, high)) if math.isfinite(limit)]
        raise _expected(name, " ".join(["a finite number", " and ".join(bounds)]).strip(), value)
    return value  # type: ignore[return-value]


def _integer(low: int, high: int, *, optional: bool = False) -> Callable[[object, attrs.Attribute, object], None]:
    def validate(_: object, attribute: attrs.Attribute, value: object) -> None:
        if value is None and optional:
            return
        check_integer(attribute.name, value, low, high)
    return validate


def _number(low: float, high: float, *, above_low: bool = False, below_high: bool = False,
            optional: bool = False) -> Callable[[object, attrs.Attribute, object], None]:
    def validate(_: object, attribute: attrs.Attribute, value: object) -> None:
        if value is None and optional:
            return
        check_number(attribute.name, value, low, high, above_low=above_low, below_high=below_high)
    return validate


def _text(_: object, attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, str):
        raise _expected(attribute.name, "a string", value)


def _optional_text(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if value is not None:
        _text(instance, attribute, value)


def _latency(_: object, attribute: attrs.Attribute, value: object) -> None:
    what = "a latency model: constant:S, uniform:LOW,HIGH, lognormal:MEDIAN,SIGMA or regions[:JITTER]"
    if not isinstance(value, str):
        raise _expected(attribute.name, what, value)
    try:
        parse_latency(value)
        numbers = [float(part) for part in value.partition(":")[2].split(",") if part.strip()]
    except (LatencyError, ValueError):
        raise _expected(attribute.name, what, value) from None
    if not all(math.isfinite(number) and 0 <= number <= MAX_SECONDS for number in numbers):
        raise _expected(attribute.name, f"finite numbers from 0 to {_amount(MAX_SECONDS)} in its latency model",
                        value)


def _topology(_: object, attribute: attrs.Attribute, value: object) -> None:
    if value not in TOPOLOGIES:
        raise _expected(attribute.name, f"one of {', '.join(TOPOLOGIES)}", value)


def _layers(value: object) -> tuple[str, ...]:
    known = ("ledger", "pos", "channels")
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, (list, tuple)) or not all(isinstance(name, str) for name in parts):
        raise _expected("layers", f"a comma-separated string or a list of names among {', '.join(known)}", value)
    names = tuple(name.strip() for name in parts if name.strip())
    unknown = [name for name in names if name not in known]
    if unknown or "ledger" not in names:
        msg = f"layers must include ledger and be among {', '.join(known)}; got {', '.join(names) or 'none'}"
        raise ScenarioError(msg)
    if "channels" in names and "pos" not in names:
        msg = "the channels layer needs the pos layer (--layers ledger,pos,channels)"
        raise ScenarioError(msg)
    return tuple(name for name in known if name in names)


def _integer_list(name: str, value: object, low: int, high: int, items: str = "integers") -> tuple[int, ...]:
    """A comma-separated string or a list of integers (``items`` in the error), each in ``low..high``."""
    what = f"a comma-separated string or a list of {items} from {_amount(low)} to {_amount(high)}"
    parts = [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value
    if not isinstance(parts, (list, tuple)):
        raise _expected(name, what, value)
    numbers = []
    for part in parts:
        number = int(part) if isinstance(part, str) and part.lstrip("+-").isdigit() else part
        if not _is_integer(number) or not low <= number <= high:
            raise _expected(name, what, value)
        numbers.append(number)
    return tuple(numbers)


def _stakes(value: object) -> tuple[int, ...] | None:
    if value is None:
        return None
    stakes = _integer_list("stakes", value, 1, MAX_UINT64)
    if not stakes:
        raise _expected("stakes", "at least one stake", value)
    return stakes


def _indices(value: object) -> tuple[int, ...]:
    indices = _integer_list("silent_validators", value, 0, MAX_VALIDATORS - 1, "validator indices (0 is v0)")
    return tuple(sorted(set(indices)))


@attrs.frozen
class SimScenario:
    """A simulation: validators and light nodes exchanging signed transfers under a seeded workload.

    With the ``pos`` layer (the default) transfers become final in blocks decided by stake-weighted consensus
    (Lab 2); with ``ledger`` alone, validators admit and broadcast them directly (Lab 1).
    """

    layers: tuple[str, ...] = attrs.field(default=("ledger", "pos"), converter=_layers)
    validators: int = attrs.field(default=4, validator=_integer(1, MAX_VALIDATORS))
    light_nodes: int = attrs.field(default=16, validator=_integer(1, MAX_NODES))
    duration: float = attrs.field(default=60.0, validator=_number(0, MAX_SECONDS, above_low=True))
    """Simulated seconds during which light nodes send transfers."""
    seed: int = attrs.field(default=7, validator=_integer(0, MAX_UINT64))
    latency: str = attrs.field(default="uniform:0.01,0.1", validator=_latency)
    """A latency model: constant:S, uniform:LOW,HIGH, lognormal:MEDIAN,SIGMA or regions."""
    loss: float = attrs.field(default=0.0, validator=_number(0, 1, below_high=True))
    topology: str = attrs.field(default="complete", validator=_topology)
    """Who knows whom among light nodes: complete, ba, bottleneck, bottlenecks."""
    validators_per_light_node: int = attrs.field(default=DEFAULT_VALIDATORS_PER_LIGHT_NODE,
                                                 validator=_integer(1, MAX_VALIDATORS))
    """With the pos layer, how many validators each light node is introduced to (all of them when there are no more
    than this); a seeded, balanced assignment, and each validator knows the light nodes that follow it. With the
    ledger alone every node knows every validator (Lab 1 validators broadcast to everyone)."""
    transfer_interval: float = attrs.field(default=4.0, validator=_number(MIN_INTERVAL, MAX_SECONDS))
    """Mean simulated seconds between two transfers of one light node (exponentially distributed)."""
    initial_balance: int = attrs.field(default=10_000, validator=_integer(1, MAX_UINT64))
    fee: int = attrs.field(default=1, validator=_integer(0, MAX_UINT64))
    overdraft_probability: float = attrs.field(default=0.05, validator=_number(0, 1, below_high=True))
    """Share of transfers that try to send more than the sender holds (each must be rejected)."""
    settle_timeout: float = attrs.field(default=120.0, validator=_number(0, MAX_SECONDS, above_low=True))
    """Simulated seconds allowed after the workload for every node to reach the same ledger."""
    db: str | None = attrs.field(default=None, validator=_optional_text)
    """A directory for one SQLite file per node; None keeps every ledger in memory."""
    stakes: tuple[int, ...] | None = attrs.field(default=None, converter=_stakes)
    """Bonded stake of each validator (PoS); None gives every validator 100,000."""
    proposer: str = attrs.field(default="weighted-round-robin", validator=_text)
    """How PoS picks block proposers: weighted-round-robin or lottery."""
    block_reward: int = attrs.field(default=100, validator=_integer(1, MAX_UINT64))
    unbonding_delay: int | None = attrs.field(default=None, validator=_integer(1, MAX_COUNT, optional=True))
    """Blocks from an Unbond's inclusion until its stake is released (PoS); None: a27-pos's default (20). An attack
    that needs stake released within a short run (``long-range``) shortens it."""
    evidence_max_age: int | None = attrs.field(default=None, validator=_integer(1, MAX_COUNT, optional=True))
    """Blocks after which evidence can no longer be included (PoS; at most ``unbonding_delay``); None: the default."""
    silent_validators: tuple[int, ...] = attrs.field(default=(), converter=_indices)
    """Validators, by index (0 is v0), that run the PoS layer without the consensus engine: they keep their stake
    and follow the chain, but never propose or vote."""
    restake_interval: float | None = attrs.field(default=None,
                                                 validator=_number(MIN_INTERVAL, MAX_SECONDS, optional=True))
    """Every this many simulated seconds, each voting validator bonds its liquid balance above its starting balance
    (its rewards and what it received); None never re-bonds."""
    channel_deposit: int = attrs.field(default=3_000, validator=_integer(1, MAX_UINT64))
    """Payment channels (Lab 3): what each side of a light-node channel deposits."""
    payments: int = attrs.field(default=48, validator=_integer(1, MAX_COUNT))
    """Payment channels: off-chain payments made between the opens and the closes (direct and routed)."""
    unilateral_closes: int = attrs.field(default=1, validator=_integer(0, MAX_NODES))
    """Payment channels: channels closed by one party alone (waiting out the challenge period); the rest close
    cooperatively."""
    challenge_period: int = attrs.field(default=6, validator=_integer(1, MAX_COUNT))
    """Payment channels: blocks during which a unilaterally published state can be challenged."""
    faults: tuple[Fault, ...] = attrs.field(default=(), converter=parse_faults)
    """Network faults at simulated times (``[[faults]]`` in a scenario file): partitions, heals, nodes down and up,
    loss changes. See ``Fault``."""

    def __attrs_post_init__(self) -> None:
        """Check settings that depend on each other."""
        if self.stakes is not None and len(self.stakes) != self.validators:
            msg = f"{len(self.stakes)} stakes given for {self.validators} validators"
            raise ScenarioError(msg)
        if self.proposer not in ("weighted-round-robin", "lottery"):
            raise _expected("proposer", "weighted-round-robin or lottery", self.proposer)
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
        defaults = PosParams()
        unbonding = self.unbonding_delay if self.unbonding_delay is not None else defaults.unbonding_delay
        evidence = self.evidence_max_age if self.evidence_max_age is not None else defaults.evidence_max_age
        if evidence > unbonding:
            msg = f"evidence_max_age {evidence} exceeds unbonding_delay {unbonding}: unbonding would escape slashing"
            raise ScenarioError(msg)
        self._check_faults()

    def pos_params(self, base: PosParams) -> PosParams:
        """``base`` with this scenario's ``unbonding_delay`` and ``evidence_max_age`` where they are set."""
        changes = {name: value for name, value in (("unbonding_delay", self.unbonding_delay),
                                                    ("evidence_max_age", self.evidence_max_age)) if value is not None}
        return attrs.evolve(base, **changes) if changes else base  # type: ignore[arg-type]

    def _check_faults(self) -> None:
        """Every selector names nodes this scenario has; no node is in two groups of one partition."""
        for index, fault in enumerate(self.faults):
            key = f"faults[{index}]"
            for number, group in enumerate(fault.groups):
                for position, selector in enumerate(group):
                    self.select(selector, f"{key}.partition[{number}][{position}]")
            if fault.groups:
                self.partition_groups(fault, key)
            for position, selector in enumerate(fault.nodes):
                self.select(selector, f"{key}.{fault.action}[{position}]")
            for position, selector in enumerate(fault.between or ()):
                self.select(selector, f"{key}.between[{position}]")

    def select(self, selector: str, key: str = "selector") -> tuple[str, ...]:
        """The node names ``selector`` stands for in this scenario (see ``select_nodes``)."""
        return select_nodes(selector, self.validators, self.light_nodes, key)

    def partition_groups(self, fault: Fault, key: str = "partition") -> list[list[str]]:
        """The node names of each group of a partition fault; a node in two groups is a ScenarioError."""
        seen: dict[str, int] = {}
        groups = []
        for number, group in enumerate(fault.groups):
            names = [name for selector in group for name in self.select(selector)]
            for name in names:
                if seen.setdefault(name, number) != number:
                    msg = f"{key}.partition: node {name} is in group {seen[name]} and group {number}"
                    raise ScenarioError(msg)
            groups.append(list(dict.fromkeys(names)))
        return groups

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
        """
        Read a scenario file: run-level keys, ``[network]``, ``[[faults]]``, ``[workload]``, ``[pos]``, ``[channels]``
        (see ``a27_harness.scenario.sections``), or the older flat ``[sim]`` table. ``overrides`` that are not None
        win over the file.
        """
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            msg = f"cannot read scenario {path}: {error}"
            raise ScenarioError(msg) from error
        table = flatten_sections(data, str(path))
        settings = {**table, **{key: value for key, value in overrides.items() if value is not None}}
        return cls(**settings)

    def to_dict(self) -> dict[str, Any]:
        """The scenario as plain data (for reports)."""
        data = {key: list(value) if isinstance(value, tuple) else value
                for key, value in attrs.asdict(self, recurse=False).items() if key != "faults"}
        if self.faults:
            data["faults"] = [fault.to_dict() for fault in self.faults]
        return data
