"""
One real node as its own process (``a27 node run``): built from a config on a UDP socket, stopped by a signal.

The node is the same composition as in simulation (``build_node``); only the runtime differs: a UDP endpoint, the
process's asyncio loop, Unix time as the PoS clock (the shared time base), SQLite stores in the config's data
directory. On SIGINT or SIGTERM it unloads its overlays, closes its endpoint and then every database, so a restart
resumes from the stored chain and catches up from its peers.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import random
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import attrs

from a27_ledger import KeyPair, Receipt
from a27_pos import Block, CommitCertificate, PosGenesis, PosParams

from .api import NodeApi
from .builder import VALIDATOR, A27Node, NodeSpec, UdpRuntime, build_node
from .config import HONEST, AttackerGenesis, ConfigError, NodeConfig, load_genesis, load_or_create_key
from .settings import LayerSettings, LayerSettingsError, check_layer_settings
from .stores import Stores

if TYPE_CHECKING:
    from ipv8.REST.rest_manager import RESTManager

    from a27_attacks import Attack, AttackerNode

    from ..battle.scoring import BattleDeclaration

WALK_INTERVAL = 2.0
"""Seconds between walks to the bootstrap addresses that an overlay does not have among its peers."""
BOOTSTRAP_REFRESH = 20.0
"""Seconds between walks to every bootstrap address, peer or not: a tracker forgets a node it has not heard from
(``a27 tracker run --max-age``, 60 s by default)."""
INTRODUCED_WALKS = 5
"""Addresses an overlay was introduced to (by a tracker or a peer) but has not verified, walked to per interval."""
STATUS_INTERVAL = 10.0
"""Seconds between the status lines a running node logs."""

log = logging.getLogger("a27.node")


class OffsetClockRuntime(UdpRuntime):
    """
    A UDP runtime whose PoS clock is Unix time plus ``offset`` seconds (``[clock] offset_seconds``, for tests only):
    a node process that plays a machine whose clock is wrong. With offset 0 it is ``UdpRuntime`` exactly.
    """

    def __init__(self, host: str, base_port: int, offset: float) -> None:
        """Bind to ``host`` and ``base_port`` as ``UdpRuntime`` does; stamp and check blocks ``offset`` s off."""
        super().__init__(host, base_port)
        self.offset = offset

    def pos_clock(self) -> Callable[[], float] | None:
        """None (the PoS layer's default, Unix time) without an offset; else Unix time plus the offset."""
        if not self.offset:
            return None
        offset = self.offset
        return lambda: time.time() + offset


def behaviour_attack(config: NodeConfig) -> tuple[Attack, AttackerNode] | None:
    """
    The registered attack the config's behaviour names and the attacker node this node plays (``behaviour_node``,
    else its first node with the config's role); None when honest. The attack is built from ``behaviour_params`` the
    way ``a27 attack`` builds it.

    :raises ConfigError: for an unknown attack, a bad parameter, an attack that needs the simulator
        (``Attack.real_node`` False), one of another lab than the node's layers (Lab 1 attacks run on
        ``layers = ["ledger"]``, the others on a node running pos), an attack without a node of this role (and
        name, with ``behaviour_node``), ``[behaviour_keys]`` naming no other node of the attack, or one whose ``act``
        runs here with more attacker nodes than a process hosts (``arena.MAX_IDENTITIES``).
    """
    if config.behaviour == HONEST:
        return None
    # Imported here: an honest node process need not load the attacks.
    from a27_attacks import ATTACKS, AttackError, attack_named  # noqa: PLC0415

    try:
        attack = attack_named(config.behaviour).from_params(list(config.behaviour_params))
    except AttackError as error:
        raise ConfigError(f"behaviour: {error}") from None
    if not attack.real_node:
        raise ConfigError(f"behaviour: attack {config.behaviour!r} needs the simulator (its attacker acts through the "
                          "harness) and runs only in `a27 attack`; real nodes run "
                          + ", ".join(name for name, kind in sorted(ATTACKS.items()) if kind.real_node))
    if (attack.lab == "ledger") != ("pos" not in config.layers):
        needs = 'layers = ["ledger"] (Lab 1)' if attack.lab == "ledger" else "the pos layer"
        raise ConfigError(f"behaviour: attack {config.behaviour!r} attacks the {attack.lab} lab and needs {needs}; "
                          f"this node runs {','.join(config.layers)}")
    if attack.lab == "channels" and "channels" not in config.layers:
        raise ConfigError(f"behaviour: attack {config.behaviour!r} attacks the channels lab and needs the channels "
                          f"layer; this node runs {','.join(config.layers)}")
    try:
        attack.check_real_node()
    except AttackError as error:
        raise ConfigError(f"behaviour: {error}") from None
    from .arena import ArenaError, check_identities  # noqa: PLC0415 - the arena loads the attacks

    try:
        check_identities(attack)
    except ArenaError as error:
        raise ConfigError(f"behaviour: {error}") from None
    nodes = attack.attacker_nodes()
    listed = ", ".join(f"{node.name} {node.role}" for node in nodes)
    played = next((node for node in nodes if node.role == config.role
                   and config.behaviour_node in (None, node.name)), None)
    if played is None:
        which = config.role if config.behaviour_node is None else f"{config.role} {config.behaviour_node!r}"
        raise ConfigError(f"behaviour: attack {config.behaviour!r} has no {which} node (its nodes: {listed})")
    for name, _path in config.behaviour_keys:
        if name == played.name or name not in {node.name for node in nodes}:
            raise ConfigError(f"[behaviour_keys] {name}: not another attacker node of {config.behaviour} than the "
                              f"one this node plays ({played.name}; its nodes: {listed})")
    return attack, played


def attacker_genesis(nodes: Sequence[tuple[NodeConfig, KeyPair]], stake: int) -> AttackerGenesis:
    """
    What the red nodes among ``nodes`` need of the genesis (``a27 node genesis``): each attacker validator (the node
    itself and those of its ``[behaviour_keys]``) bonds what its attack's ``attacker_stakes`` gives it, the honest
    validators each bonding ``stake``; those without a node are named ``NODE-ATTACKERNODE``; the attack's
    ``scenario_changes`` that are PoS parameters become the genesis's.

    :raises ConfigError: as ``behaviour_attack``, or for two attacks that want different parameters.
    """
    honest = [stake for config, _key in nodes if config.role == VALIDATOR and config.behaviour == HONEST]
    stakes: dict[bytes, int] = {}
    validators: list[tuple[str, bytes]] = []
    params: dict[str, int] = {}
    pos_params = {field.name for field in attrs.fields(PosParams)}
    for config, key in nodes:
        played = behaviour_attack(config)
        if played is None:
            continue
        attack, node = played
        held = {node.name: key.public_key, **{name: held_key.public_key
                                               for name, held_key in load_behaviour_keys(config).items()}}
        attacker_validators = [other for other in attack.attacker_nodes() if other.role == VALIDATOR]
        wanted = attack.attacker_stakes(honest or [stake])
        for index, other in enumerate(attacker_validators):
            if other.name in held and wanted is not None and index < len(wanted):
                stakes[held[other.name]] = wanted[index]
            if other.name in held and other.name != node.name:
                validators.append((f"{config.name}-{other.name}", held[other.name]))
        for name, value in attack.scenario_changes().items():
            if name in pos_params and isinstance(value, int):
                if params.get(name, value) != value:
                    raise ConfigError(f"{config.name}: its attack needs {name} = {value}, another {params[name]}")
                params[name] = value
    return AttackerGenesis(stakes, tuple(validators), params)


def load_behaviour_keys(config: NodeConfig) -> dict[str, KeyPair]:
    """The keys of ``[behaviour_keys]`` by attacker node name, each created first if its file does not exist.

    :raises ConfigError: for a file that is not a key, or one that cannot be created.
    """
    return {name: load_or_create_key(path) for name, path in config.behaviour_keys}


def behaviour_settings(config: NodeConfig, played: tuple[Attack, AttackerNode] | None = None,
                       attacker: AttackerNode | None = None) -> LayerSettings:
    """
    The per-layer settings of the config's behaviour: none when honest, else those its attack (``played``, made by
    ``behaviour_attack`` when not given) gives ``attacker``, by default the node the config plays
    (``Attack.node_settings_for``: what the simulator gives that node, or, for an attack whose ``act`` arms the
    behaviour, a behaviour that arms itself).

    :raises ConfigError: as ``behaviour_attack``.
    """
    played = played or behaviour_attack(config)
    return {} if played is None else played[0].node_settings_for(attacker or played[1])


def node_settings(config: NodeConfig, spec: NodeSpec, genesis: PosGenesis,
                  attacker: AttackerNode | None = None, *,
                  played: tuple[Attack, AttackerNode] | None = None) -> LayerSettings:
    """
    The layer settings for the node ``spec`` describes: its behaviour's, and with PoS the role the spec names and the
    config's ``[pos] checkpoint`` as ``PosSettings.checkpoint`` (enforced unless ``pos.checkpoints`` is off). For an
    in-process identity (``arena.Identities``) ``attacker`` is the attack's node it plays, whose settings
    (``Attack.node_settings_for``) it gets instead of those of the node the config plays. ``played`` is the
    process's attack and the node it plays (``behaviour_attack(config)``, made here when not given): one attack
    instance gives the settings of every node of a process, since its nodes may share state (``coalition``).

    :raises ConfigError: when the genesis contradicts the role, or the behaviour's settings do not fit the node.
    """
    account = spec.key.public_key
    staked = account in dict(genesis.stakes)
    if spec.role == VALIDATOR and not staked:
        hint = ("" if attacker is None else f" (a validator {config.behaviour} hosts beside this node runs with the "
                f"key its config holds for {attacker.name} in [behaviour_keys], bonded by `a27 node genesis`)")
        raise ConfigError(f"role: {spec.name} is a validator but the genesis {config.genesis} gives its key "
                          f"{account.hex()[:16]}... no stake{hint}")
    if "pos" not in config.layers and spec.role != VALIDATOR and staked:
        raise ConfigError(f"role: {spec.name} is light but the genesis makes its key a ledger validator")
    settings = {layer: dict(options) for layer, options in behaviour_settings(config, played, attacker).items()}
    if config.defences_off:
        # Imported only when a defence is switched off (the mapping lives with `a27 attack`, heavier than a node needs).
        from ..attacks.defences import defence_settings, merge_settings  # noqa: PLC0415

        settings = merge_settings(settings, defence_settings(config.defences_off, config.layers))
    if "pos" in config.layers:
        settings.setdefault("pos", {})["validator"] = spec.role == VALIDATOR
        if config.checkpoint is not None:
            settings["pos"]["checkpoint"] = config.checkpoint
    if "channels" in config.layers and spec.role != VALIDATOR:
        # A light node hands its appointments over the wire to the first genesis validator's tower (by account, as
        # the simulator hands them to the first honest validator's); they go only while channels.watchtower is on.
        settings.setdefault("channels", {})["watchtower"] = min(account for account, _stake in genesis.stakes)
    try:
        check_layer_settings(spec, settings)
    except (LayerSettingsError, ValueError) as error:
        raise ConfigError(f"behaviour: {error}") from None
    return settings


def prepare(config: NodeConfig, played: tuple[Attack, AttackerNode] | None = None,
            ) -> tuple[NodeSpec, PosGenesis, LayerSettings]:
    """
    Everything checked before a socket or database is opened: key (created if missing), genesis, the data directory
    (created if missing), settings (``played``: the process's attack, as ``node_settings`` takes it).

    :raises ConfigError: naming the setting at fault.
    """
    key: KeyPair = load_or_create_key(config.key_file)
    if config.behaviour_keys and config.behaviour == HONEST:
        raise ConfigError("[behaviour_keys]: an honest node holds no attacker keys; remove the table")
    load_behaviour_keys(config)
    genesis = load_genesis(config.genesis)
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"data_dir: cannot create {config.data_dir}: {error.strerror or error}") from None
    if not os.access(config.data_dir, os.W_OK | os.X_OK):
        raise ConfigError(f"data_dir: {config.data_dir} is not writable")
    spec = NodeSpec(config.name, key, config.role, config.layers)
    return spec, genesis, node_settings(config, spec, genesis, played=played)


def prepare_battle(config: NodeConfig, genesis: PosGenesis) -> BattleDeclaration | None:
    """
    The battle declaration whose scoreboard the node serves (``[rest] battle``), checked; None when it serves none.

    :raises ConfigError: for a bad declaration, one of another chain, or a node without the PoS layer.
    """
    if config.rest is None or config.rest.battle is None:
        return None
    if "pos" not in config.layers:
        raise ConfigError("[rest] battle: the scoreboard is computed from the PoS chain; this node runs no pos layer")
    # Imported here: only a battle's referee loads the scoring.
    from ..battle.page import load_battle  # noqa: PLC0415
    from ..battle.scoring import BattleError  # noqa: PLC0415

    try:
        return load_battle(config.rest.battle, genesis)
    except BattleError as error:
        raise ConfigError(f"[rest] battle: {error}") from None


@contextlib.contextmanager
def lock_data_dir(config: NodeConfig) -> Iterator[None]:
    """
    Hold an exclusive lock on ``<data_dir>/node.lock`` while the node runs (released by the system if it dies).

    :raises ConfigError: if another process holds it: two nodes writing the same databases would corrupt them.
    """
    with (config.data_dir / "node.lock").open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"data_dir: {config.data_dir} is in use by another running node") from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def height_of(node: A27Node) -> int:
    """The node's finalized height (PoS), or the ledger transactions it applied (ledger only)."""
    if "pos" in node.overlays:
        return node.pos.chain.height
    return node.ledger.state.applied_count


def announce_address(node: A27Node) -> None:
    """Make a node bound to one address (not 0.0.0.0) say so in its introductions: IPv8 would claim the host's first
    interface as its LAN address, and a tracker would introduce others to an address it ignores."""
    host, port = node.address
    if host != "0.0.0.0":
        for overlay in node.overlays.values():
            overlay.my_estimated_lan = (host, port)


async def walk_to_bootstrap(node: A27Node, bootstrap: Sequence[tuple[str, int]]) -> None:
    """
    Forever: every ``WALK_INTERVAL`` seconds, each overlay walks to the bootstrap addresses it has no peer at (to all
    of them every ``BOOTSTRAP_REFRESH`` seconds), and to up to ``INTRODUCED_WALKS`` addresses it was introduced to
    and has not verified yet, and asks one random peer for an introduction (IPv8's random walk step): a node whose
    bootstrap list names only a tracker meets the others that way.
    """
    loop = asyncio.get_running_loop()
    refreshed = loop.time()
    while True:
        refresh = loop.time() - refreshed >= BOOTSTRAP_REFRESH
        if refresh:
            refreshed = loop.time()
        for overlay in node.overlays.values():
            known = {tuple(peer.address) for peer in overlay.get_peers()}
            for address in bootstrap:
                if (refresh or address not in known) and address != node.address:
                    overlay.walk_to(address)
            introduced = [address for address in overlay.get_walkable_addresses() if address != node.address]
            for address in random.sample(introduced, min(INTRODUCED_WALKS, len(introduced))):
                overlay.walk_to(address)
            if overlay.get_peers():
                overlay.get_new_introduction()  # IPv8's random walk step: a random peer introduces another
        await asyncio.sleep(WALK_INTERVAL)


async def log_status(node: A27Node) -> None:
    """Forever: every ``STATUS_INTERVAL`` seconds, log the node's height and peers."""
    while True:
        await asyncio.sleep(STATUS_INTERVAL)
        peers = {layer: len(overlay.get_peers()) for layer, overlay in node.overlays.items()}
        log.info("%s: height %d, peers %s", node.name, height_of(node), peers)


async def run_node(config: NodeConfig, stop: asyncio.Event) -> None:
    """
    Build the node the config describes, run it until ``stop`` is set, then stop it and close its databases.

    :raises ConfigError: for a config the node cannot run with (see ``prepare``).
    :raises OSError: when the UDP socket cannot be bound.
    """
    played = behaviour_attack(config)  # one attack instance for the process: its nodes' settings and its act
    spec, genesis, settings = prepare(config, played)
    battle = prepare_battle(config, genesis)
    with lock_data_dir(config):
        stores = Stores(config.data_dir)
        try:
            node = await build_node(spec, genesis, OffsetClockRuntime(config.listen, config.port, config.clock_offset),
                                    stores=stores, settings=settings)
        except BaseException:
            stores.close()
            raise
        await _run_built(config, node, stores, stop, genesis=genesis, battle=battle, played=played)


def start_act(config: NodeConfig, node: A27Node, genesis: PosGenesis,
              played: tuple[Attack, AttackerNode] | None) -> asyncio.Task[None] | None:
    """
    The task running the behaviour's act once in this process (``a27_harness.node.arena.run_act``), when its attack
    (``played``, the instance that gave the node its settings) has one for real nodes (``Attack.real_node_act``);
    None otherwise. Every other attacker node of the attack is started first as an identity in this process
    (``arena.Identities``: walking as this node does), with the key the config holds for it in ``[behaviour_keys]``
    (so it can be a bonded validator) or else its own, and held, after the act, until the task is cancelled (the
    node stops), which stops them.
    """
    if played is None or not played[0].real_node_act:
        return None
    from .arena import ArenaError, Identities, NodeArena, run_act  # noqa: PLC0415 - the arena loads the attacks

    attack, attacker = played
    keys = load_behaviour_keys(config)
    others = [other for other in attack.attacker_nodes() if other != attacker]

    async def walk(identity: A27Node) -> None:
        announce_address(identity)
        await walk_to_bootstrap(identity, config.bootstrap)

    async def play() -> None:
        try:
            identities = await Identities.start(
                node, genesis, others, lambda spec, other: node_settings(config, spec, genesis, other, played=played),
                walk, keys=keys)
        except (ArenaError, ConfigError, OSError) as error:
            log.warning("%s: %s: identities not started: %s", node.name, attack.name, error)
            return
        try:
            arena = NodeArena(node, genesis.ledger, attack, attacker, identities=identities.nodes)
            await run_act(arena, attack, node.name)
            if identities.nodes:
                await asyncio.get_running_loop().create_future()  # they hold their peers until the node stops
        finally:
            await identities.stop()

    return asyncio.ensure_future(play())


async def _run_built(config: NodeConfig, node: A27Node, stores: Stores, stop: asyncio.Event, *, genesis: PosGenesis,
                     battle: BattleDeclaration | None, played: tuple[Attack, AttackerNode] | None) -> None:
    spec = node.spec
    if "pos" in node.overlays:
        def on_commit(block: Block, _certificate: CommitCertificate, receipts: Sequence[Receipt]) -> None:
            log.info("%s: finalized height %d (%d transactions)", spec.name, block.header.height, len(receipts))

        node.pos.commit_listeners.append(on_commit)
    host, port = node.address
    announce_address(node)
    if config.max_peers is not None:
        for overlay in node.overlays.values():
            overlay.max_peers = config.max_peers
    log.info("%s: started on %s:%d as %s running %s, behaviour %s, key %s..., height %d", spec.name, host, port,
             spec.role, ",".join(spec.layers), config.behaviour, spec.key.public_key.hex()[:16], height_of(node))
    if config.checkpoint is not None:
        enforced = "pos.checkpoints" not in config.defences_off
        log.info("%s: checkpoint %s (%s)", spec.name, config.checkpoint,
                 "enforced" if enforced else "not enforced: pos.checkpoints is off")
    if config.clock_offset:
        log.warning("%s: [clock] offset_seconds %+g: the node's time base is off by that much (for tests only)",
                    spec.name, config.clock_offset)
    tasks = [asyncio.ensure_future(walk_to_bootstrap(node, config.bootstrap)), asyncio.ensure_future(log_status(node))]
    acting = start_act(config, node, genesis, played)
    if acting is not None:
        tasks.append(acting)
    api = NodeApi(node)
    rest: RESTManager | None = None
    try:
        if config.rest is not None:
            # Imported here: aiohttp-apispec takes seconds to import, and `a27 node init`, `a27 wallet` and `a27 net`
            # load this module too.
            from .rest import start_rest  # noqa: PLC0415

            extra = {}
            if battle is not None:
                from ..battle.page import battle_endpoint  # noqa: PLC0415

                extra["/battle"] = battle_endpoint(battle, genesis, node.pos.chain)
            api.start()
            rest = await start_rest(api, config.rest, extra)
            log.info("%s: REST API on %s/a27/status", spec.name, config.rest.url)
            if battle is not None:
                log.info("%s: battle scoreboard on %s/battle", spec.name, config.rest.url)
        await stop.wait()
    finally:
        if rest is not None:
            await rest.stop()
        api.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        height = height_of(node)
        await node.stop()
        stores.close()
        log.info("%s: stopped at height %d; databases closed", spec.name, height)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[asyncio.Event]:
    """An event that SIGINT or SIGTERM sets while the block runs (on the running loop), for a process that stops
    cleanly on either; the handlers are removed when it ends. One copy for every a27 process (node, tracker)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    try:
        yield stop
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)


async def serve(config: NodeConfig) -> None:
    """Run the node until SIGINT or SIGTERM arrives (the process's entry point, on its own event loop)."""
    with stop_on_signals() as stop:
        await run_node(config, stop)
