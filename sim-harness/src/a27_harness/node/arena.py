"""
The arena of one real attacker node (``a27 node run`` with ``behaviour = NAME``): ``a27_attacks.Arena`` for an
attack whose ``act`` runs on a real node (``Attack.real_node_act``), seen from the one node process that runs it.

The simulator's arena (``a27_harness.attacks.runner``) sees every node of the run; this one sees only its own node
and the genesis:

- ``now()`` is seconds since the arena was made (the node's start), on the process's event-loop clock, relative, so
  nothing depends on the host's uptime or wall clock;
- ``attacker(name)`` is this node for the attack's node it plays (``behaviour_node``, else the first of this node's
  role), and for every other attacker node of the attack a real in-process identity (``Identities``): the key the
  config holds for it (``[behaviour_keys]``: a validator the genesis bonds, as ``a27 node genesis`` writes it) or
  else its own (``identity_key``, deterministic), its own UDP socket on the node's address (port chosen by the
  system), in-memory stores, the settings the attack gives that node, bootstrapping and walking as the node does; at
  most ``MAX_IDENTITIES`` nodes in all per process, stopped with the node. ``attacker_key`` is that node's key, or
  for a node-less account (``Attack.accounts``) ``a27_attacks.account_key``;
- ``honest()`` is every genesis validator but the nodes this process plays, by public key (the PoS account order),
  each named by its genesis name (its public key in hex when it has none); a real node cannot tell an honest
  validator from another red team's, and cannot read another process's communities (its handle's ``communities``
  raise ``ArenaError``);
- ``send_transaction`` submits through the attacker node's top ledger-carrying community (the documented
  SubmitTransaction, PROTOCOL.md) to that validator's address and waits for its verdict (``PosCommunity.submit``'s
  bounded retries); ``send_packets`` sends from the attacker node's endpoint;
  ``serve_blocks`` sends BlockResponses to a verified peer, named as ``honest()`` names validators or by its account
  in hex (a node that joined later); ``note`` logs one line per fact; ``simulated()`` is False;
- ``set_max_peers``, ``introduce_first``, ``take_offline``, ``join_late`` and ``late_node`` arrange other nodes or
  the network, which only the simulator can: they raise ``ArenaError``. There the victim's operator does it (a
  restart with a small ``[network] max_peers``, a fresh node started with a checkpoint), and the attack's
  ``act_real_node`` does only the attacker's own part.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NoReturn

from ipv8.peer import Peer

from a27_attacks import Attack, AttackerNode, NodeHandle, SendResult, account_key
from a27_ledger import Genesis, KeyPair, SubmissionTimeout, Transaction, account_of
from a27_pos import PosGenesis
from a27_pos.payloads import BlockResponse

from .builder import VALIDATOR, A27Node, NodeSpec, Runtime, UdpRuntime, build_node
from .settings import LayerSettings

PEER_WAIT = 30.0
"""Seconds the arena waits for a genesis validator to become a verified peer of this node, at most."""
PEER_POLL = 0.25
"""Seconds between looks at the peer table while waiting."""

MAX_IDENTITIES = 32
"""The most attacker nodes one real node process plays: itself and the in-process identities it hosts for the
attack's other attacker nodes (``Identities``); a config whose attack needs more is refused."""

log = logging.getLogger("a27.node")


class ArenaError(RuntimeError):
    """What a real node's arena cannot do: an action that needs the simulator, or a node it does not know."""


def submitting_community(node: A27Node) -> Any:
    """The node's top ledger-carrying community, which submits transactions: pos if it runs it, else ledger (a Lab 2
    node runs no separate ledger overlay)."""
    return node.overlays["pos"] if "pos" in node.overlays else node.overlays["ledger"]


async def submit_to(community: Any, transaction: Transaction, peer: Peer) -> SendResult:
    """Submit ``transaction`` through ``community`` to validator ``peer`` and wait for its verdict (code -1: no
    answer within the community's bounded attempts)."""
    try:
        outcome = await community.submit(transaction, peer)
    except SubmissionTimeout as timeout:
        return SendResult(transaction.tx_id, False, -1, str(timeout))
    accepted = bool(outcome.accepted if hasattr(outcome, "accepted") else outcome.admitted)
    return SendResult(transaction.tx_id, accepted, int(outcome.code), str(outcome.reason))


class _RemoteCommunities(Mapping[str, Any]):
    """The ``communities`` of a node in another process: none readable."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getitem__(self, layer: str) -> NoReturn:
        msg = (f"node {self._name} runs in another process: a real node cannot read its {layer} community "
               "(only the simulator's arena can)")
        raise ArenaError(msg)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def check_identities(attack: Attack) -> None:
    """
    Refuse an attack whose act runs on a real node (``Attack.real_node_act``) with more attacker nodes than one
    process plays (``MAX_IDENTITIES``), before any node starts.

    :raises ArenaError: naming the attack and both numbers.
    """
    count = len(attack.attacker_nodes())
    if attack.real_node_act and count > MAX_IDENTITIES:
        msg = (f"attack {attack.name!r} has {count} attacker nodes; one node process hosts at most {MAX_IDENTITIES} "
               "(itself and its identities)")
        raise ArenaError(msg)


def identity_key(owner: bytes, name: str) -> KeyPair:
    """The key of attacker node ``name`` hosted by the node process whose account is ``owner``: seeded by SHA-256 of
    ``a27 identity``, the owner's account and the name, so the same node config hosts the same identities on every
    run, and two teams' processes never share one."""
    return KeyPair.from_seed(hashlib.sha256(b"a27 identity " + owner + b" " + name.encode()).digest())


class Identities:
    """
    The attack's attacker nodes other than the one a node process plays, each a real node in that process: the key
    its config holds for it, else its own (``identity_key``), its own UDP socket on the node's address with a port
    the system picks, in-memory stores, and a walk to the node's bootstrap addresses and to every address it is
    introduced to (``walk``, the node's own walk). ``stop`` cancels the walks and stops every identity; the node
    process calls it when it stops.
    """

    def __init__(self) -> None:
        """No identities yet (``start`` makes them)."""
        self.nodes: dict[str, A27Node] = {}
        """The identities by attacker node name."""
        self._walks: list[asyncio.Task[None]] = []

    @classmethod
    async def start(cls, owner: A27Node, genesis: PosGenesis, attackers: Sequence[AttackerNode],
                    settings_for: Callable[[NodeSpec, AttackerNode], LayerSettings],
                    walk: Callable[[A27Node], Awaitable[None]], *, runtime: Runtime | None = None,
                    keys: Mapping[str, KeyPair] | None = None) -> Identities:
        """
        Build one node per attacker node of ``attackers`` (at most ``MAX_IDENTITIES`` - 1: the owner is one more) with
        its key in ``keys`` (by attacker node name; ``identity_key`` for one not there), the owner's layers, the
        attacker node's role and ``settings_for(spec, attacker)``, on ``runtime`` (default: UDP sockets on the owner's
        host, ports the system picks), and start ``walk(node)`` for each. Whatever was started is stopped when one
        fails.

        :raises ArenaError: for more attacker nodes than ``MAX_IDENTITIES`` allows.
        :raises OSError: when a socket cannot be bound; errors of ``settings_for`` (e.g. a validator without stake).
        """
        if len(attackers) + 1 > MAX_IDENTITIES:
            msg = f"{len(attackers) + 1} attacker nodes in one process; at most {MAX_IDENTITIES}"
            raise ArenaError(msg)
        identities = cls()
        runtime = runtime or UdpRuntime(owner.address[0])
        try:
            for attacker in attackers:
                key = (keys or {}).get(attacker.name) or identity_key(owner.spec.key.public_key, attacker.name)
                spec = NodeSpec(f"{owner.name}-{attacker.name}", key, attacker.role, owner.spec.layers)
                node = await build_node(spec, genesis, runtime, settings=settings_for(spec, attacker))
                identities.nodes[attacker.name] = node
                identities._walks.append(asyncio.ensure_future(walk(node)))
                log.info("%s: identity %s (%s) on %s:%d, key %s...", owner.name, attacker.name, attacker.role,
                         *node.address, spec.key.public_key.hex()[:16])
        except BaseException:
            await identities.stop()
            raise
        return identities

    async def stop(self) -> None:
        """Cancel the walks and stop every identity (unload its overlays, close its socket)."""
        for task in self._walks:
            task.cancel()
        await asyncio.gather(*self._walks, return_exceptions=True)
        self._walks.clear()
        for node in self.nodes.values():
            await node.stop()
        self.nodes.clear()


class ArenaClock:
    """
    The time of an ``a27_attacks.Arena``, shared by the simulator's and a real node's: seconds since ``start`` on the
    running loop's clock (virtual in a simulation), sleeping on it, and actions scheduled at a time into ``scheduled``,
    which the arena's owner waits for.
    """

    def __init__(self, start: float, scheduled: list[asyncio.Task[None]]) -> None:
        """Count from loop time ``start``; append the tasks ``at`` makes to ``scheduled``."""
        self._start = start
        self._scheduled = scheduled

    def now(self) -> float:
        """Seconds since the start, on the event loop's clock."""
        return asyncio.get_running_loop().time() - self._start

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on the event loop's clock."""
        await asyncio.sleep(seconds)

    def at(self, seconds: float, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action()`` when ``now()`` reaches ``seconds`` (at once if it has passed); the owner waits for it."""
        async def later() -> None:
            await asyncio.sleep(max(0.0, seconds - self.now()))
            await action()
        self._scheduled.append(asyncio.get_running_loop().create_task(later()))


class NodeArena(ArenaClock):
    """
    ``a27_attacks.Arena`` for attack ``attack`` played by ``node``, its attacker node ``attacker`` (the attack's
    first node of this node's role), and by the in-process ``identities`` of its other attacker nodes (by name), on
    the chain of ``genesis``.
    """

    def __init__(self, node: A27Node, genesis: Genesis, attack: Attack, attacker: AttackerNode,
                 *, identities: Mapping[str, A27Node] | None = None) -> None:
        """Start the clock (``now()`` is 0 here) and read the validators from ``genesis``; ``identities`` are the
        in-process nodes of the attack's other attacker nodes, by name."""
        super().__init__(asyncio.get_running_loop().time(), [])
        self._node = node
        self._attack = attack
        self._attacker = attacker
        self._nodes = {**(identities or {}), attacker.name: node}
        self.notes: dict[str, object] = {}
        """Every fact noted, by key (the last value of a key noted twice)."""
        ours = {played.spec.key.public_key for played in self._nodes.values()}
        names = genesis.names
        self._validators = {names.get(account) or account.hex(): account
                            for account in sorted(genesis.validators) if account not in ours}

    async def finish(self) -> None:
        """Wait for every action ``at`` scheduled, those they schedule included (the first error raised)."""
        while self._scheduled:
            await self._scheduled.pop(0)

    def cancel(self) -> None:
        """Cancel the actions ``at`` scheduled that have not finished (the act failed, or the node is stopping)."""
        for task in self._scheduled:
            task.cancel()

    def _played(self, name: str) -> A27Node:
        """The node of attacker node ``name``: this node or one of its identities.

        :raises ArenaError: for a name this process does not play.
        """
        try:
            return self._nodes[name]
        except KeyError:
            msg = (f"attacker node {name!r} of {self._attack.name} is not this process: this real node plays "
                   f"{', '.join(sorted(self._nodes))}")
            raise ArenaError(msg) from None

    def attacker(self, name: str) -> NodeHandle:
        """Attacker node ``name``: this node, or the in-process identity of another of the attack's nodes.

        :raises ArenaError: for a node this process does not play.
        """
        node = self._played(name)
        return NodeHandle(name, node.spec.key.public_key, node.spec.role, dict(node.overlays))

    def simulated(self) -> bool:
        """False: a real node process, which arranges no other node."""
        return False

    def attacker_key(self, name: str) -> KeyPair:
        """The key of attacker node ``name`` this process plays (this node or an identity), or the key of node-less
        account ``name`` (``a27_attacks.account_key``).

        :raises ArenaError: for a name that is none of these.
        """
        if name in self._attack.accounts:
            return account_key(name)
        return self._played(name).spec.key

    def honest(self) -> Sequence[NodeHandle]:
        """Every genesis validator but the nodes this process plays, by public key, named by the genesis; their
        communities are unreadable here."""
        return [NodeHandle(name, account, VALIDATOR, _RemoteCommunities(name))
                for name, account in self._validators.items()]

    def _peer(self, account: bytes, node: A27Node | None = None) -> Peer | None:
        community = submitting_community(node or self._node)
        return next((peer for peer in community.get_peers() if account_of(peer.public_key.key_to_bin()) == account),
                    None)

    async def _verified_peer(self, name: str, node: A27Node) -> Peer:
        """The verified peer of validator ``name`` at ``node``, waiting for it ``PEER_WAIT`` seconds at most.

        :raises ArenaError: for a name that is no genesis validator, or one still unknown after the wait.
        """
        if name not in self._validators:
            msg = f"no validator {name!r} in the genesis (validators: {', '.join(self._validators) or 'none'})"
            raise ArenaError(msg)
        waited = 0.0
        while (peer := self._peer(self._validators[name], node)) is None:
            if waited >= PEER_WAIT:
                msg = f"validator {name} is not a verified peer of {node.name} after {PEER_WAIT:g} s"
                raise ArenaError(msg)
            await asyncio.sleep(PEER_POLL)
            waited += PEER_POLL
        return peer

    async def wait_for_validators(self) -> list[str]:
        """Wait (``PEER_WAIT`` seconds at most in all) until every validator of ``honest()`` is a verified peer;
        the names of those that are not by then."""
        waited = 0.0
        while missing := [name for name, account in self._validators.items() if self._peer(account) is None]:
            if waited >= PEER_WAIT:
                return missing
            await asyncio.sleep(PEER_POLL)
            waited += PEER_POLL
        return []

    async def send_transaction(self, attacker: str, transaction: Transaction, validator: str) -> SendResult:
        """Submit ``transaction`` through attacker node ``attacker`` (this node or an identity) to validator
        ``validator``'s address and wait for its verdict; one log line when sent and one with the verdict.

        :raises ArenaError: for an attacker node this process does not play, or a validator that node does not know
            (see ``_verified_peer``).
        """
        node = self._played(attacker)
        peer = await self._verified_peer(validator, node)
        what = (f"transaction {transaction.tx_id.hex()[:16]} (nonce {transaction.nonce}, fee {transaction.fee}, "
                f"from {transaction.sender.hex()[:16]})")
        log.info("%s: %s sends %s to %s at %s:%d", node.name, self._attack.name, what, validator, *peer.address)
        result = await submit_to(submitting_community(node), transaction, peer)
        verdict = "admitted" if result.accepted else f"refused, code {result.code}: {result.reason}"
        log.info("%s: %s: %s answered %s: %s", node.name, self._attack.name, validator, what, verdict)
        return result

    def note(self, key: str, value: object) -> None:
        """Log the fact (one line) and keep it in ``notes``."""
        self.notes[key] = value
        log.info("%s: %s: %s: %s", self._node.name, self._attack.name, key, value)

    def send_packets(self, attacker: str, target: str, packets: Iterable[bytes]) -> int:
        """Send raw ``packets`` from attacker node ``attacker``'s endpoint to validator ``target``'s address (it must be
        a verified peer of that node already), back to back; returns how many.

        :raises ArenaError: for an attacker node this process does not play, or a target that is not a verified peer
            of it now.
        """
        node = self._played(attacker)
        if target not in self._validators:
            msg = f"no validator {target!r} in the genesis (validators: {', '.join(self._validators) or 'none'})"
            raise ArenaError(msg)
        peer = self._peer(self._validators[target], node)
        if peer is None:
            msg = f"validator {target} is not a verified peer of {node.name}: its address is unknown"
            raise ArenaError(msg)
        sent = 0
        for packet in packets:
            node.endpoint.send(peer.address, packet)
            sent += 1
        return sent

    def _simulator_only(self, action: str) -> NoReturn:
        msg = (f"{self._attack.name}: {action} arranges other nodes or the network, which only the simulator can "
               "(`a27 attack`); a real node cannot")
        raise ArenaError(msg)

    def set_max_peers(self, node: str, max_peers: int) -> None:
        """Simulator only: raises ``ArenaError``."""
        self._simulator_only("set_max_peers")

    async def introduce_first(self, victim: str, attackers: Sequence[str], settle: float = 1.0) -> None:
        """Simulator only: raises ``ArenaError``."""
        self._simulator_only("introduce_first")

    async def take_offline(self, name: str, seconds: float) -> None:
        """Simulator only: raises ``ArenaError``."""
        self._simulator_only("take_offline")

    async def join_late(self, name: str) -> NodeHandle:
        """Simulator only: raises ``ArenaError``."""
        self._simulator_only("join_late")

    def late_node(self, name: str) -> NodeHandle:
        """Simulator only: raises ``ArenaError``."""
        self._simulator_only("late_node")

    def serve_blocks(self, attacker: str, target: str, blocks: Iterable[tuple[Any, Any]]) -> int:
        """Send ``target`` one BlockResponse per ``(block, certificate)`` from attacker node ``attacker``, signed by
        it, unasked; ``target`` is a validator of ``honest()`` or a verified peer's account in hex (64 characters).
        Returns how many.

        :raises ArenaError: for an attacker node this process does not play, or a target that is not a verified peer
            of it now.
        """
        node = self._played(attacker)
        account = self._validators.get(target)
        if account is None and len(target) == 64 and all(char in "0123456789abcdef" for char in target):
            account = bytes.fromhex(target)
        peer = None if account is None else self._peer(account, node)
        if peer is None:
            msg = f"{target} is not a verified peer of {node.name}: its address is unknown"
            raise ArenaError(msg)
        pos = node.overlays["pos"]
        sent = 0
        for block, certificate in blocks:
            node.endpoint.send(peer.address, pos.pack_signed(BlockResponse(block.encode(), certificate.encode())))
            sent += 1
        return sent


async def run_act(arena: NodeArena, attack: Attack, name: str) -> None:
    """
    Run ``attack.act_real_node`` once in node ``name``'s process: wait until the genesis validators are verified peers
    (``PEER_WAIT`` at most; the act starts anyway, with a line naming those missing), run it and what it scheduled,
    and log a line when it ends. Its errors end it with one line in the log, never the node.
    """
    missing = await arena.wait_for_validators()
    if missing:
        log.warning("%s: %s: validators not verified peers after %g s: %s; acting anyway", name, attack.name,
                    PEER_WAIT, ", ".join(missing))
    log.info("%s: %s: act starts at %.1f s, validators %s", name, attack.name, arena.now(),
             ", ".join(f"{handle.name} {handle.public_key.hex()[:16]}" for handle in arena.honest()) or "none")
    try:
        await attack.act_real_node(arena)
        await arena.finish()
    except asyncio.CancelledError:
        arena.cancel()
        raise
    except Exception as error:
        arena.cancel()
        log.warning("%s: %s: act failed at %.1f s: %s: %s", name, attack.name, arena.now(), type(error).__name__,
                    error)
        return
    log.info("%s: %s: act finished at %.1f s", name, attack.name, arena.now())
