"""
The attack API: what an attack declares, what it may do during a run, and how its outcome is judged.

An ``Attack`` subclass names itself and the defences that stop it (ClassVars), takes its parameters as attrs fields,
says which attacker nodes it needs (``attacker_nodes``) and which layer settings each gets (``settings_for``), may act
during the run through an ``Arena`` (``act``), and turns what the harness measured (``Outcome``) into an
``AttackResult`` (``judge``). The harness implements ``Arena`` and measures the ``Outcome``; this module knows no
simulator and no harness.
"""

from __future__ import annotations

import abc
import hashlib
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

import attrs

from a27_ledger import KeyPair, Transaction

LABS = ("ledger", "pos", "channels")
"""The labs an attack can target: Lab 1 (ledger), Lab 2 (pos), Lab 3 (channels)."""
FAMILIES = ("double-spend", "sybil", "eclipse", "byzantine", "channels", "flooding")
"""The families attacks are grouped in."""
GUARANTEES = ("agreement", "supply", "finality", "availability", "accountability")
"""The guarantees an attack can break (accountability: a validator that signed two conflicting messages loses its
stake and its seat)."""
ROLES = ("validator", "light")
"""The roles an attacker node can take."""


@attrs.frozen
class AvailabilityThreshold:
    """
    When honest transfers failing beyond the replay's count as a broken availability guarantee.

    Availability is broken when the attack run's failed honest transfers exceed the replay's by at least
    ``min_extra`` transfers and by at least ``min_share`` of the honest transfers submitted in the attack run. One or
    two transfers more than the replay that missed the lab's timeout are noise (the attacker node's rounds and
    messages change the timing of every node) or the defences' small residual cost, not an unavailable chain: they
    stay reported (``honest_effect``, the experiment's extra honest failures), but do not make the attack succeed.
    Attacks that break availability on purpose halt the chain or a victim and fail far more than that.
    """

    min_extra: int
    """The fewest extra failed transfers that can break availability."""
    min_share: float
    """The smallest share of the honest transfers submitted the extra failures must reach (0 <= share <= 1)."""

    def broken(self, failed: int, replay_failed: int, submitted: int) -> bool:
        """
        Whether ``failed`` honest transfers, against ``replay_failed`` in the replay, out of ``submitted`` honest
        transfers in the attack run, break availability.

        :raises ValueError: for a negative count.
        """
        if min(failed, replay_failed, submitted) < 0:
            msg = f"counts must not be negative, got {failed} failed, {replay_failed} in the replay, {submitted} sent"
            raise ValueError(msg)
        extra = failed - replay_failed
        return extra >= self.min_extra and extra >= self.min_share * submitted

    def describe(self) -> str:
        """The rule in one sentence, for reports and documentation."""
        return (f"more honest transfers failed than in the replay by at least {self.min_extra} and by at least "
                f"{self.min_share:.0%} of the honest transfers submitted (fewer extra failures are reported, "
                "not judged a broken chain)")


AVAILABILITY = AvailabilityThreshold(min_extra=2, min_share=0.15)
"""The one availability threshold every judge that counts failed transfers uses (``Attack.judge``)."""

LayerSettings = Mapping[str, Mapping[str, object]]
"""Settings per layer for one node (``{"ledger": {"behaviour": ...}}``), as the node builder takes them."""

AttackT = TypeVar("AttackT", bound="Attack")


class AttackError(ValueError):
    """Base class of the errors this package raises for bad attack names and parameters."""


class UnknownAttack(AttackError):
    """A name that no registered attack has."""


class BadParameter(AttackError):
    """An attack parameter that does not exist or whose value cannot be used."""


@attrs.frozen
class AttackerNode:
    """An attacker node the attack needs: a name (``a0``...), a role, and what it does in one line."""

    name: str
    role: str
    purpose: str

    def __attrs_post_init__(self) -> None:
        """Refuse a role nodes cannot have."""
        if self.role not in ROLES:
            msg = f"attacker node {self.name}: unknown role {self.role!r}; roles are {', '.join(ROLES)}"
            raise AttackError(msg)


@attrs.frozen
class NodeHandle:
    """A node in the arena: its name, account (Ed25519 public key), role and its layers' communities by layer."""

    name: str
    public_key: bytes
    role: str
    communities: Mapping[str, Any] = attrs.field(repr=False)
    """The node's communities (``"ledger"``, ``"pos"``, ``"channels"``); read-only for honest nodes."""


@attrs.frozen
class SendResult:
    """What a validator answered to a transaction the attacker sent (``accepted`` False and ``code`` -1: no answer)."""

    tx_id: bytes
    accepted: bool
    code: int
    reason: str


class Arena(Protocol):
    """The run as an attack sees it (implemented by the harness): the clock, the nodes, and a few actions."""

    def now(self) -> float:
        """Simulated seconds since the workload started."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of simulated time."""
        ...

    def at(self, seconds: float, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action()`` when ``now()`` reaches ``seconds`` (at once if it has passed); the run waits for it."""
        ...

    def simulated(self) -> bool:
        """Whether this is the simulator's arena (it sees and arranges every node), not a real node process's (which
        sees only its own node and the genesis; ``a27_harness.node.arena``)."""
        ...

    def attacker(self, name: str) -> NodeHandle:
        """The attacker node ``name`` (one of ``attacker_nodes``); its communities are the attacker's to drive."""
        ...

    def attacker_key(self, name: str) -> KeyPair:
        """The key of attacker node ``name``, or of the node-less attacker account ``name`` (``accounts``)."""
        ...

    def honest(self) -> Sequence[NodeHandle]:
        """The honest nodes, validators first, in name order within a role."""
        ...

    async def send_transaction(self, attacker: str, transaction: Transaction, validator: str) -> SendResult:
        """Send ``transaction`` from attacker node ``attacker`` to validator ``validator`` and wait for its verdict."""
        ...

    def note(self, key: str, value: object) -> None:
        """Record a fact for the report (``notes`` of the outcome), e.g. the amount the attacker signed."""
        ...

    def send_packets(self, attacker: str, target: str, packets: Iterable[bytes]) -> int:
        """
        Send raw ``packets`` (bytes the attacker built, e.g. with ``peers.Flooder.packets``) from attacker node
        ``attacker``'s endpoint to the address of node ``target`` (honest or attacker), back to back; returns how many.
        """
        ...

    def set_max_peers(self, node: str, max_peers: int) -> None:
        """Set the peer-table size (IPv8's ``max_peers``) of every community of node ``node`` (honest or attacker);
        it applies to introductions from now on."""
        ...

    async def introduce_first(self, victim: str, attackers: Sequence[str], settle: float = 1.0) -> None:
        """
        Re-join honest node ``victim`` with the attacker nodes first, as after a restart in which they reach it
        before anyone else: it forgets its peers, the ``attackers`` walk to it (IPv8's introduction handshake, so
        its peer-table rules decide), and ``settle`` seconds later the honest peers it had walk to it again.
        Returns ``settle`` seconds after those walks.
        """
        ...

    async def take_offline(self, name: str, seconds: float) -> None:
        """
        Honest node ``name`` goes offline for ``seconds`` (the victim the attacker waited for, or knocked off the
        network): as an honest node going away does, it first hands its appointments to its watchtower (none if its
        ``channels.watchtower`` defence is off), then neither sends nor receives until it comes back. Returns once it
        is offline.
        """
        ...

    async def join_late(self, name: str) -> NodeHandle:
        """
        Add honest light node ``name`` now, with an empty store, syncing from genesis (a new node, or one restarting
        with its data lost). Its operator gives it a checkpoint out of band: the first honest validator's last
        finalized block (``PosSettings.checkpoint``; enforced while ``pos.checkpoints`` is on). It knows every
        validator of the run, attacker validators included, and they know it. Returns once it is up; its
        communities are for reading (``late_node``).
        """
        ...

    def late_node(self, name: str) -> NodeHandle:
        """A node added by ``join_late`` (stopped or not), to read its chain."""
        ...

    def serve_blocks(self, attacker: str, target: str, blocks: Iterable[tuple[Any, Any]]) -> int:
        """
        Send ``target`` one BlockResponse (PROTOCOL.md, PoS message 9) per ``(block, certificate)`` pair, in order,
        signed by attacker node ``attacker``'s IPv8 key, unasked (block sync takes what arrives); returns how many.
        On a real node ``target`` may also be a verified peer's account in hex (a node that joined it later).
        """
        ...


@attrs.frozen
class Detection:
    """An honest node noticed the attack: which node, when (simulated seconds since the start), and how."""

    node: str
    at: float
    how: str


@attrs.frozen
class NodeView:
    """One honest node at the end of a run, for attacks on availability and on a node's view of the chain."""

    height: int
    """Its finalized height (0 in Lab 1)."""
    forked_at: int | None
    """The first height at which its block differs from the first honest validator's; None if its chain is a prefix
    of that one (or equal to it), and in Lab 1."""
    work: Mapping[str, int]
    """Its communities' work counters summed (``A27Community.work``: ``packets handled``, ``signatures verified``,
    ``handler calls``)."""
    peers: int
    """Peers in its table (of its top community)."""
    validator_peers: int
    """Of those, validators."""


@attrs.frozen
class Outcome:
    """
    What the harness measured in the attack run and in the honest replay (same seed and workload, attackers honest).

    ``gain_by_node`` is, per honest node, the tokens attacker-controlled accounts hold in that node's view minus what
    they hold in the same node's view in the replay. ``paid_twice`` is the sum over attacker accounts of the most any
    honest node credits them, minus the same in the replay (tokens the attacker can spend somewhere, beyond what it
    would have had). ``excess_supply`` is the most any honest node's supply exceeds the genesis supply plus rewards.
    """

    gain_by_node: Mapping[str, int]
    paid_twice: int
    excess_supply: int
    agreement: bool
    """Whether every honest node ended with the same ledger."""
    replay_agreement: bool
    differing: tuple[str, ...]
    """Honest nodes whose ledger differs from the first honest validator's."""
    detections: tuple[Detection, ...]
    attacker_fees: int
    attacker_slashed: int
    honest_failed: int
    """Honest transfers refused or timed out (overdrafts the workload sends on purpose included)."""
    replay_failed: int
    honest_latency: float | None
    """Median seconds to a verdict of an honest transfer, None without transfers."""
    replay_latency: float | None
    notes: Mapping[str, object] = attrs.field(factory=dict)
    by_sender: Mapping[str, tuple[int, float | None]] = attrs.field(factory=dict)
    """Per honest light node: (transfers failed, median seconds to a verdict of the others), in the attack run."""
    replay_by_sender: Mapping[str, tuple[int, float | None]] = attrs.field(factory=dict)
    """The same in the honest replay."""
    views: Mapping[str, NodeView] = attrs.field(factory=dict)
    """Each honest node at the end of the attack run, by name."""
    replay_views: Mapping[str, NodeView] = attrs.field(factory=dict)
    """Each honest node at the end of the replay, by name."""
    honest_submitted: int = 0
    """Honest transfers (Lab 3: payments) submitted in the attack run, failed ones included (0 when not measured)."""
    honest_locked: int = 0
    """Lab 3: token-blocks of honest liquidity locked in pending HTLCs (per block, the amounts of the HTLCs honest
    nodes had offered and that were neither settled nor failed yet, summed over the run's blocks)."""
    replay_locked: int = 0
    failed_by_cause: Mapping[str, int] = attrs.field(factory=dict)
    """Lab 3: honest payments that failed, by the cause their record gives (``timeout``, ``no path``,
    ``insufficient channel balance``...); empty for labs whose records give none."""
    replay_failed_by_cause: Mapping[str, int] = attrs.field(factory=dict)
    """The same in the honest replay."""


@attrs.frozen
class AttackResult:
    """An attack's verdict: did it succeed, what it stole or broke, who saw it, what it cost, who it hurt."""

    attack: str
    succeeded: bool
    stolen: int
    broken: tuple[str, ...]
    """Guarantees broken, from ``GUARANTEES``."""
    detections: tuple[Detection, ...]
    cost: Mapping[str, int]
    honest_effect: Mapping[str, object]


@attrs.frozen
class Parameter:
    """A parameter of an attack, as the CLI lists it."""

    name: str
    default: object
    doc: str


class Attack(abc.ABC):
    """
    An attack on an a27 network. Subclass it, set the ClassVars, declare parameters as attrs fields with defaults
    and docstrings (decorate the subclass with ``@attrs.frozen``), implement ``attacker_nodes`` and usually
    ``settings_for`` and ``act``, and register it with ``@register``.
    """

    name: ClassVar[str]
    """The CLI name, e.g. ``double-spend-lab1``."""
    lab: ClassVar[str]
    """The network it runs on: ``ledger`` (Lab 1), ``pos`` (Lab 2) or ``channels`` (Lab 3)."""
    family: ClassVar[str]
    """One of ``FAMILIES``."""
    summary: ClassVar[str]
    """One paragraph; its first sentence is the one-line summary."""
    success: ClassVar[str]
    """What counts as success."""
    defences: ClassVar[tuple[str, ...]]
    """Full names (``<layer>.<field>``) of the defences that stop it."""
    accounts: ClassVar[tuple[str, ...]] = ()
    """Names of attacker-controlled accounts without a node (keys from ``Arena.attacker_key``; genesis gives them
    nothing)."""
    structural: ClassVar[bool] = False
    """A control for a structural defence: no switch turns off what stops it (consensus ordering, the BFT bound,
    timeouts and quorums, mempool bounds), so it is expected to fail even with ``--undefended``; its runs show that
    the structure holds, not that a defence works. ``defences`` is then usually empty."""
    min_light_nodes: ClassVar[int] = 1
    """The fewest honest light nodes of a network on which the attack can matter at all (its summary says why when
    it is more than 1); the runner refuses a smaller network, and an experiment runs the attack on this many."""
    real_node: ClassVar[bool] = False
    """Whether the attack runs in a real node process (``a27 node run`` with ``behaviour = NAME``, a battle's red
    team), where no harness arranges the network: its first node of the config's role gets ``node_settings_for``,
    and ``act`` runs there only with ``real_node_act``. An attack that needs the simulator's arena leaves it False,
    and a node config naming it is refused."""
    real_node_act: ClassVar[bool] = False
    """Whether a real node process also runs ``act_real_node`` (by default ``act``), once, through the node's own
    arena (``a27_harness.node.arena``: this node is the attacker node of its role, or the one its config names, the
    attack's other attacker nodes are identities the process hosts beside it, with keys its config holds, ``honest()``
    is the genesis validators but those, by public key, ``accounts`` have the keys of ``account_key``); only with
    ``real_node``. It uses only ``now``, ``sleep``, ``at``, ``simulated``, ``attacker`` (any of its attacker nodes),
    ``attacker_key``, ``honest`` (names and keys: the handles carry no communities), ``send_transaction``, ``note``,
    ``send_packets`` and ``serve_blocks``: the others need the simulator and raise there. False: ``act`` only arms
    what ``node_settings_for`` arms by itself, or needs the simulator."""
    replay_acts: ClassVar[bool] = False
    """Whether the honest replay calls ``act`` too (the attacker's nodes still built with honest settings): for an
    attack whose ``act`` is honest activity (opening channels, paying) and whose attack is only the replaced
    behaviour, so that the replay measures what that activity gives when played honestly."""

    @abc.abstractmethod
    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        """The attacker nodes this attack needs and their roles (built besides the lab's honest nodes)."""

    def scenario_changes(self) -> Mapping[str, object]:
        """Scenario settings this attack needs changed, in both its run and the replay (``{"unbonding_delay": 3}``);
        default: none."""
        return {}

    def check(self, validators: int, light_nodes: int) -> None:  # noqa: B027 - no constraint is a valid default
        """
        Refuse parameters that do not fit a network of ``validators`` honest validators and ``light_nodes`` honest
        light nodes, before anything runs; default: everything fits.

        :raises BadParameter: naming the parameter.
        """

    def check_real_node(self) -> None:  # noqa: B027 - no constraint is a valid default
        """
        Refuse parameters that need the simulator when the attack runs in a real node process (``real_node``),
        before the node starts; default: everything fits.

        :raises BadParameter: naming the parameter.
        """

    def settings_for(self, node: AttackerNode) -> LayerSettings:
        """The layer settings (behaviours, peer policy) of attacker node ``node``; default: honest."""
        return {}

    def node_settings_for(self, node: AttackerNode) -> LayerSettings:
        """
        The layer settings of attacker node ``node`` when it runs alone as a real node process (``a27 node run`` with
        ``behaviour = NAME``), where ``act`` never runs; default: ``settings_for(node)``. An attack whose behaviour
        ``act`` arms overrides it with a behaviour that arms itself.
        """
        return self.settings_for(node)

    async def act(self, arena: Arena) -> None:  # noqa: B027 - doing nothing is a valid default
        """What the attacker does during the run (started with the workload); default: nothing."""

    async def act_real_node(self, arena: Arena) -> None:
        """
        What the attacker does in a real node process (``real_node_act``), where no harness arranges the network
        (the victim's operator does: a restart, its peer-table size); default: ``act``. An attack whose ``act``
        arranges other nodes through the simulator-only ``Arena`` calls overrides it with the attacker's own part.
        """
        await self.act(arena)

    def attacker_stakes(self, honest_stakes: Sequence[int]) -> Sequence[int] | None:
        """
        The stake each attacker validator bonds in the genesis (in ``attacker_nodes`` order), given the honest
        validators' stakes; default None: each bonds the smallest honest stake. Only PoS labs use it.
        """
        return None

    def observe(self, arena: Arena) -> None:  # noqa: B027 - noting nothing is a valid default
        """
        Called once the attack run has settled, before its nodes stop: read the attacker's and the honest nodes'
        state and ``arena.note`` measured facts for ``judge``; default: nothing.
        """

    def judge(self, outcome: Outcome) -> AttackResult:
        """
        The verdict: success when tokens were stolen (the largest of the per-view gain, the tokens paid twice and the
        excess supply) or a guarantee broke that held in the honest replay. Availability counts as broken by the
        threshold ``AVAILABILITY``; extra failures below it stay in ``honest_effect``.
        """
        stolen = max(0, outcome.paid_twice, outcome.excess_supply, *outcome.gain_by_node.values())
        broken = []
        if not outcome.agreement and outcome.replay_agreement:
            broken.append("agreement")
        if outcome.excess_supply > 0:
            broken.append("supply")
        if AVAILABILITY.broken(outcome.honest_failed, outcome.replay_failed, outcome.honest_submitted):
            broken.append("availability")
        return AttackResult(
            attack=self.name, succeeded=stolen > 0 or bool(broken), stolen=stolen, broken=tuple(broken),
            detections=outcome.detections,
            cost={"fees": outcome.attacker_fees, "slashed": outcome.attacker_slashed},
            honest_effect={"failed transfers": outcome.honest_failed,
                           "failed transfers in the replay": outcome.replay_failed,
                           "honest transfers submitted": outcome.honest_submitted,
                           "median verdict latency": outcome.honest_latency,
                           "median verdict latency in the replay": outcome.replay_latency})

    @classmethod
    def one_line(cls) -> str:
        """The first sentence of ``summary``."""
        first = " ".join(cls.summary.split()).split(". ", 1)[0]
        return first if first.endswith(".") else first + "."

    @classmethod
    def parameters(cls) -> tuple[Parameter, ...]:
        """The attack's parameters: name, default and docstring of each attrs field."""
        return tuple(Parameter(field.name, field.default, " ".join((field.metadata.get("doc") or "").split()))
                     for field in attrs.fields(cls) if field.init)  # type: ignore[arg-type]

    @classmethod
    def from_params(cls: type[AttackT], pairs: Sequence[str]) -> AttackT:
        """
        The attack with parameters from ``NAME=VALUE`` texts, each converted to its default's type.

        :raises BadParameter: for text without ``=``, an unknown name, a value of the wrong type, NaN or infinity,
            or one the field's validator refuses; the message names the attack and its parameters.
        """
        fields = {field.name: field for field in attrs.fields(cls) if field.init}  # type: ignore[arg-type]
        known = ", ".join(fields) or "none"
        values: dict[str, object] = {}
        for pair in pairs:
            key, sep, text = pair.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or key not in fields:
                msg = f"{cls.name}: unknown parameter {pair!r} (expected NAME=VALUE; parameters: {known})"
                raise BadParameter(msg)
            values[key] = _convert(cls.name, key, fields[key].default, text.strip())
        try:
            return cls(**values)
        except (TypeError, ValueError) as error:
            msg = f"{cls.name}: {error}"
            raise BadParameter(msg) from None


def param(default: object, doc: str, validator: Callable[[Any, Any, Any], None] | None = None) -> Any:
    """An attack parameter: an attrs field with a ``default`` and a docstring (``doc``) the CLI lists."""
    return attrs.field(default=default, validator=validator, metadata={"doc": doc})


def positive(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    """An attrs validator: a finite number above zero."""
    if not math.isfinite(value) or value <= 0:
        msg = f"{attribute.name} must be a finite number above 0, got {value!r}"
        raise ValueError(msg)


def non_negative(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    """An attrs validator: a finite number at least zero."""
    if not math.isfinite(value) or value < 0:
        msg = f"{attribute.name} must be a finite number of at least 0, got {value!r}"
        raise ValueError(msg)


def _convert(attack: str, key: str, default: object, text: str) -> object:
    """``text`` as the type of ``default`` (bool, int, float or str)."""
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            value = float(text)
            if not math.isfinite(value):
                raise ValueError(text)
            return value
    except ValueError:
        kind = type(default).__name__
        msg = f"{attack}: parameter {key} expects a finite {kind}, got {text!r}"
        raise BadParameter(msg) from None
    return text


def account_key(name: str) -> KeyPair:
    """
    The key of node-less attacker account ``name`` (``Attack.accounts``) on a real node, where no harness makes its
    keys: seeded by SHA-256 of ``a27 NAME``. Anyone can derive it, so tokens sent there are the attack's bookkeeping
    (a battle counts them as the red team's), never a secret.
    """
    return KeyPair.from_seed(hashlib.sha256(f"a27 {name}".encode()).digest())


ATTACKS: dict[str, type[Attack]] = {}
"""Every registered attack, by CLI name."""


def register(cls: type[AttackT]) -> type[AttackT]:
    """
    A class decorator adding an attack to ``ATTACKS``, after checking its ClassVars.

    :raises AttackError: for a name taken, an unknown lab or family, a ``min_light_nodes`` below 1, or a defence name
        not ``<layer>.<field>``.
    """
    if cls.name in ATTACKS:
        msg = f"attack name {cls.name!r} is taken by {ATTACKS[cls.name].__qualname__}"
        raise AttackError(msg)
    if cls.lab not in LABS or cls.family not in FAMILIES:
        msg = f"attack {cls.name}: lab must be one of {', '.join(LABS)} and family one of {', '.join(FAMILIES)}"
        raise AttackError(msg)
    if isinstance(cls.min_light_nodes, bool) or not isinstance(cls.min_light_nodes, int) or cls.min_light_nodes < 1:
        msg = f"attack {cls.name}: min_light_nodes must be an integer of at least 1, got {cls.min_light_nodes!r}"
        raise AttackError(msg)
    for defence in cls.defences:
        layer, dot, field = defence.partition(".")
        if not dot or not layer or not field:
            msg = f"attack {cls.name}: defence {defence!r} is not <layer>.<field>"
            raise AttackError(msg)
    ATTACKS[cls.name] = cls
    return cls


def attack_named(name: str) -> type[Attack]:
    """
    The registered attack called ``name``.

    :raises UnknownAttack: naming every registered attack.
    """
    try:
        return ATTACKS[name]
    except KeyError:
        msg = f"no attack named {name!r}; attacks are {', '.join(sorted(ATTACKS)) or 'none'}"
        raise UnknownAttack(msg) from None
