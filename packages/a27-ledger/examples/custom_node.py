"""A custom a27 node built only on a27-ledger's public API: nodes tell each other their ledger's digest.

Each node keeps its own `LedgerState`; `DigestCommunity` (an `A27Community`) sends a signed `DigestAnnouncement`
to its peers, and its `signed_handler` checks the signature, the layout and the sender before comparing digests.
Three nodes apply the same transfers, then one applies one more: the others see it disagree.

Run: python examples/custom_node.py
"""

from __future__ import annotations

import asyncio

from ipv8.community import CommunitySettings
from ipv8.messaging.lazy_payload import VariablePayload, vp_compile
from ipv8.peer import Peer
from ipv8.test.mocking.ipv8 import MockIPv8

from a27_ledger import (
    A27Community,
    DroppedMessage,
    Genesis,
    KeyPair,
    LedgerState,
    MemoryStore,
    account_of,
    community_id_for,
    short_id,
    sign_transfer,
    signed_handler,
)
from a27_ledger.testing import make_genesis, make_keys


@vp_compile
class DigestAnnouncement(VariablePayload):
    """Node -> peers: how many transactions my ledger applied, and its snapshot digest."""

    msg_id = 1
    format_list = ["Q", "32s"]
    names = ["applied", "digest"]
    applied: int
    digest: bytes


class DigestSettings(CommunitySettings):
    """Settings of the example community: the node's ledger state."""

    state: LedgerState


class DigestCommunity(A27Community):
    """Announces this node's ledger digest and notes which peers agree with it."""

    community_id = community_id_for("a27/example/digest/v1")
    settings_class = DigestSettings

    def __init__(self, settings: DigestSettings) -> None:
        """Create the community over ``settings.state``."""
        super().__init__(settings)
        self.state = settings.state
        self.agreement: dict[bytes, bool] = {}
        """Per peer account: whether its last announcement matched this node's ledger."""
        self.add_message_handler(DigestAnnouncement, self.on_digest)

    def announce(self) -> None:
        """Send this node's digest to every peer (signed once)."""
        digest = DigestAnnouncement(len(self.state.history()), self.state.snapshot().digest())
        self.send_packet(self.sorted_peers(), self.pack_signed(digest))

    @signed_handler(DigestAnnouncement)
    def on_digest(self, peer: Peer, payload: DigestAnnouncement) -> None:
        """Compare a peer's digest with this node's; a count beyond any sane ledger is a drop, not a crash."""
        if payload.applied > 10**12:
            raise DroppedMessage("implausible", f"{payload.applied} transactions applied")
        self.agreement[account_of(peer.public_key.key_to_bin())] = payload.digest == self.state.snapshot().digest()


async def exchange(nodes: list[MockIPv8]) -> None:
    """Every node announces; wait until every node heard from every other one."""
    for node in nodes:
        node.overlay.agreement.clear()
        node.overlay.announce()
    for _ in range(200):
        if all(len(node.overlay.agreement) == len(nodes) - 1 for node in nodes):
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("announcements did not arrive")


def report(keys: list[KeyPair], nodes: list[MockIPv8]) -> None:
    """One line per node: its applied count and which peers agree with it."""
    for key, node in zip(keys, nodes, strict=True):
        agreement = node.overlay.agreement
        verdicts = " ".join(f"{short_id(peer)}={'agrees' if agreement[peer] else 'differs'}"
                            for peer in sorted(agreement))
        print(f"{short_id(key.public_key)} applied {len(node.overlay.state.history())}: {verdicts}")


async def main() -> None:
    """Start three nodes, introduce them, and compare digests before and after one node moves ahead."""
    keys = make_keys(3, seed=5)
    genesis: Genesis = make_genesis(keys, balance=1_000)
    nodes = [MockIPv8(Peer(key.ipv8_key()), DigestCommunity,
                      DigestSettings(state=LedgerState.from_genesis(genesis, MemoryStore()))) for key in keys]
    for node in nodes:
        for other in nodes:
            if other is not node:
                node.overlay.walk_to(other.endpoint.wan_address)
    for _ in range(200):
        if all(len(node.overlay.get_peers()) == len(nodes) - 1 for node in nodes):
            break
        await asyncio.sleep(0.01)

    transfer = sign_transfer(keys[0], keys[1].public_key, 250, nonce=0)
    for node in nodes:
        node.overlay.state.apply(transfer)
    await exchange(nodes)
    report(keys, nodes)

    nodes[2].overlay.state.apply(sign_transfer(keys[2], keys[0].public_key, 5, nonce=0))
    await exchange(nodes)
    report(keys, nodes)
    for node in nodes:
        await node.stop()


if __name__ == "__main__":
    asyncio.run(main())
