"""
The tracker Sybil (``a27_attacks.tracker_sybil``) against ``a27 tracker``'s server on real loopback sockets: without
quotas 150 Sybil identities push every honest peer out of the tracker's answers; with them a newcomer still meets
honest nodes.
"""

from __future__ import annotations

import asyncio
import hashlib
import random

import pytest

from a27_attacks.tracker_sybil import SybilCrowd, TrackerSybilError, ask_for_introductions
from a27_harness.tracker import TrackerQuotas
from a27_harness.tracker.server import start_tracker, stop_tracker

COMMUNITY = hashlib.sha1(b"a27 tracker sybil test").digest()
HONEST = 4
ASKS = 30


async def _newcomer_meets(quotas: TrackerQuotas, sybil_sockets: int) -> tuple[set[tuple[str, int]], list[str]]:
    """Register 4 honest nodes, then 150 Sybils; what a newcomer is introduced to: 'honest' or 'sybil' per answer."""
    server = await start_tracker("127.0.0.1", 0, quotas, rng=random.Random(7))
    tracker = server.endpoint.get_address()
    honest = [await SybilCrowd.open(1) for _ in range(HONEST)]  # one key on its own socket: an honest node's shape
    sybils = await SybilCrowd.open(150, sockets=sybil_sockets)
    try:
        for node in honest:
            await node.register(tracker, COMMUNITY)
        await asyncio.sleep(0.1)
        assert await sybils.register(tracker, COMMUNITY) == 150
        await asyncio.sleep(0.3)
        honest_addresses = set().union(*(node.addresses for node in honest))
        introduced = await ask_for_introductions(tracker, COMMUNITY, ASKS)
        kinds = ["honest" if address in honest_addresses else "sybil" if address in sybils.addresses else "other"
                 for address in introduced]
        return honest_addresses, kinds
    finally:
        for crowd in (*honest, sybils):
            await crowd.close()
        await stop_tracker(server)


@pytest.mark.timeout(30)
def test_without_quotas_150_sybils_leave_a_newcomer_only_sybils() -> None:
    _honest, kinds = asyncio.run(_newcomer_meets(TrackerQuotas.none(), sybil_sockets=1))
    assert len(kinds) >= ASKS - 2  # loopback UDP: an answer may be lost, not more
    assert set(kinds) == {"sybil"}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("sybil_sockets", [1, 5])
def test_with_quotas_a_newcomer_still_meets_honest_nodes(sybil_sockets: int) -> None:
    _honest, kinds = asyncio.run(_newcomer_meets(TrackerQuotas(), sybil_sockets=sybil_sockets))
    assert len(kinds) >= ASKS - 2
    assert "other" not in kinds
    # The Sybils hold one slot per socket, the 4 honest nodes keep theirs: about 4 in 5 (one socket) or 4 in 9 answers.
    assert kinds.count("honest") >= ASKS // 5


def test_a_crowd_needs_keys_and_sockets() -> None:
    with pytest.raises(TrackerSybilError):
        asyncio.run(SybilCrowd.open(3, sockets=4))
    with pytest.raises(TrackerSybilError):
        SybilCrowd([], [])
