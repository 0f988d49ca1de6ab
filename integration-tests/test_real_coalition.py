"""
``coalition`` on real node processes: the structural bound of BFT finality, as in ``a27 attack coalition``.

Four honest validators and one red validator process, ``behaviour = "coalition"``, that plays ``a0`` and holds the
key of ``a1`` (``[behaviour_keys]``): it runs ``a1`` as an identity of its own with that key, and both members share
the process's one ``Coalition``. ``a27 node genesis`` bonds both as the attack asks: together ``stake_share`` = 0.3
of the bonded stake, 85,714 each beside 100,000 per honest validator (as in simulation). Once every honest validator
is a peer, red's act puts the second half of them by public key on side B, which from then on gets the members'
twin proposals and votes. Not a battle: a coalition is a structural control, and one above a third of the stake is
no fair fight, so the test runs the nodes itself.

At 0.3 (at most a third) quorums intersect: every honest node's stored chain agrees (no two blocks final at one
height), and the honest nodes that see both of a member's votes turn them into vote evidence: the finalized chain
records evidence against both members, and each is slashed ``slash_percent`` of its stake and loses its seat, the
honest validators nothing. ``a27 attack coalition --param stake_share=0.3`` (seed 7) ends the same way: failed,
honest nodes agree, each member's stake 85,714 -> 77,143 (17,142 slashed in all), neither validating at the end.

At 0.4 (above a third) both sides gather a commit certificate at one height: side A's validators finalize one block,
side B's another (finality broken, as the attack's success says). Side B learns side A's certificate (the next
height's proposal and blocks carry it) and reports the members' double votes; side A finalizes that vote evidence
and slashes both members 10% (133,333 -> 120,000 each); the members leave the validator set, and with half the
honest stake on each side neither side finalizes again. ``a27 attack coalition`` (seed 7, stake_share 0.4) ends the
same way: conflicting finality at height 2 (v0, v1 against v2, v3), each member's stake 133,333 -> 120,000 (26,666
slashed in all), neither validating at the end.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from realnet import A27, Nodes, NodeSpec, opened_chain

from a27_harness.node.config import load_genesis
from a27_harness.processes import free_ports
from a27_pos import bonded_stake

HONEST = ("v0", "v1", "v2", "v3")
HEIGHTS_AFTER_EVIDENCE = 4
"""At a third or less: heights every honest validator finalizes after an equivocation is first logged, for the
evidence to be final."""
STALLED = 5.0
"""Above a third: seconds without a new height that show an honest validator has stopped on the twin block."""


def _member_stake(genesis_stake: int, slash_percent: int) -> int:
    return genesis_stake - genesis_stake * slash_percent // 100


@pytest.mark.timeout(90)
@pytest.mark.parametrize("share", [0.3, 0.4])
def test_a_coalition_on_real_nodes_breaks_finality_only_above_a_third_and_is_slashed(tmp_path: Path,
                                                                                     share: float) -> None:
    ports = free_ports(len(HONEST) + 1)
    bootstrap = [f"127.0.0.1:{port}" for port in ports]
    specs = [NodeSpec(name, "validator", "127.0.0.1", port, bootstrap)
             for name, port in zip(HONEST, ports, strict=False)]
    specs.append(NodeSpec("red", "validator", "127.0.0.1", ports[-1], bootstrap, behaviour="coalition"))
    nodes = Nodes(tmp_path, specs)
    red_config = tmp_path / "red" / "node.toml"
    text = red_config.read_text(encoding="utf-8").replace("behaviour_params = []",
                                                          f'behaviour_params = ["stake_share={share}"]')
    red_config.write_text(text + '\n[behaviour_keys]\na1 = "a1.key"\n', encoding="utf-8")
    # The genesis again, as `a27 node genesis` writes it for these configs: both members bonded as the attack asks.
    (tmp_path / "genesis.toml").unlink()
    subprocess.run([*A27, "node", "genesis", str(tmp_path / "genesis.toml"),
                    *(str(tmp_path / spec.name) for spec in specs)], check=True, capture_output=True)
    genesis = load_genesis(tmp_path / "genesis.toml")
    by_name = {name: account for account, name in genesis.ledger.names.items()}
    members = {by_name["red"], by_name["red-a1"]}
    stakes = dict(genesis.stakes)
    member_stake = {0.3: 85_714, 0.4: 133_333}[share]
    assert [stakes[by_name["red"]], stakes[by_name["red-a1"]], *(stakes[by_name[name]] for name in HONEST)] == [
        member_stake, member_stake, *[100_000] * len(HONEST)]
    by_key = sorted(HONEST, key=lambda name: by_name[name])
    side_a, side_b = set(by_key[:2]), set(by_key[2:])

    def logged(name: str) -> str:
        return nodes.log(name).read_text(encoding="utf-8")

    try:
        for spec in specs:
            nodes.start(spec.name)
        nodes.until(lambda: "coalition: side B:" in logged("red"), 40, "red's act to split the honest validators")
        nodes.until(lambda: any("equivocated at height" in logged(name) for name in HONEST), 30,
                    "an honest validator to see a member's two votes")
        if share <= 1 / 3:
            target = max(nodes.height(name) for name in HONEST) + HEIGHTS_AFTER_EVIDENCE
            nodes.until(lambda: min(nodes.height(name) for name in HONEST) >= target, 30,
                        "the honest validators to finalize the evidence")
        else:
            # A side-B validator that finalized the twin block can never go on: wait until one stops, or until every
            # honest validator is past the evidence (side B took side A's certificate before it finalized the twin:
            # on a real network the sides race, where the simulator's fixed latencies let both finalize).
            changed = dict.fromkeys(HONEST, (-1, time.monotonic()))
            target = max(nodes.height(name) for name in HONEST) + HEIGHTS_AFTER_EVIDENCE

            def settled() -> bool:
                now = time.monotonic()
                for name in HONEST:
                    height = nodes.height(name)
                    if height != changed[name][0]:
                        changed[name] = (height, now)
                return (any(now - since >= STALLED for _height, since in changed.values())
                        or min(height for height, _since in changed.values()) >= target)
            nodes.until(settled, 40, "a side-B validator to stop on the twin block, or the evidence to be final")
        red_log = logged("red")
        # a1 ran in red's process with the held key; side B is the second half of the honest validators by key.
        assert re.search(r"red: identity a1 \(validator\) on 127\.0\.0\.1:\d+, key "
                         + by_name["red-a1"].hex()[:16], red_log)
        assert re.findall(r"coalition: side B: (.*)", red_log) == [", ".join(by_key[2:])]
        for spec in specs:
            nodes.stop(spec.name)
    finally:
        nodes.kill_all()

    chains: dict[str, dict[int, bytes]] = {}
    slashed: dict[str, bool] = {}
    for name in HONEST:
        with opened_chain(tmp_path / name / "node.toml") as (chain, store):
            blocks = [block for block in (store.block(height) for height in range(1, chain.height + 1)) if block]
            chains[name] = {block.header.height: block.block_id for block in blocks}
            final_stakes = {account: bonded_stake(chain.state, account) for account in stakes}
            offenders = {item.offender for block in blocks for item in block.evidence}
            seated = {account for account in members if account in chain.validator_set(chain.height + 1)}
        # The honest validators keep their stake; a chain with evidence holds it against both members and no one
        # else, each slashed once (slash_percent of its stake).
        assert all(final_stakes[by_name[honest]] == 100_000 for honest in HONEST), name
        assert offenders in (set(), members), name
        slashed[name] = offenders == members
        expected = _member_stake(member_stake, genesis.params.slash_percent) if slashed[name] else member_stake
        assert {final_stakes[account] for account in members} == {expected}, name
        assert seated == (set() if slashed[name] else members), name  # slashed validators lose their seat
    if share <= 1 / 3:
        # Finality holds: at every height every honest validator that finalized it holds the same block; all slashed.
        assert [height for height, blocks in _per_height(chains) if len(blocks) > 1] == []
        assert all(slashed.values()), slashed
    else:
        # Above a third nothing keeps finality: when side B finalized the twin, side A's validators hold one block
        # at that height and one or both of side B's the other (a side-B validator may have taken side A's
        # certificate first); otherwise every honest chain agrees. Either way side A finalized the evidence and
        # slashed the coalition.
        split = [blocks for _height, blocks in _per_height(chains) if len(blocks) > 1]
        assert len(split) <= 1, split
        if split:
            assert len(split[0]) == 2, split
            with_a, with_b = sorted(split[0].values(), key=lambda group: not side_a <= group)
            assert side_a <= with_a and with_b and with_b <= side_b, split
        print(f"coalition {share}: finality broken, {sorted(split[0].values())}" if split
              else f"coalition {share}: side B took side A's certificate in time, every honest chain agrees")
        assert all(slashed[name] for name in side_a), slashed

def _per_height(chains: dict[str, dict[int, bytes]]) -> list[tuple[int, dict[bytes, set[str]]]]:
    """For each height some honest validator finalized: the validators holding each block finalized there."""
    top = max(max(chain, default=0) for chain in chains.values())
    held: list[tuple[int, dict[bytes, set[str]]]] = []
    for height in range(1, top + 1):
        blocks: dict[bytes, set[str]] = {}
        for name, chain in chains.items():
            if height in chain:
                blocks.setdefault(chain[height], set()).add(name)
        held.append((height, blocks))
    return held
