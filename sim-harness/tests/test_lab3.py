"""Lab 3 on the simulator: channels open, pay, close and settle as their off-chain states say; reports."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import attrs
import pytest

from a27_channels import CHANNEL_KINDS, ChannelCommunity, ChannelStatus, channel_record, channels_registry
from a27_harness import SimScenario
from a27_harness.labs.lab3 import Lab3Result, run_lab3
from a27_harness.node import LIGHT, VALIDATOR, MissingLayer, NodeSpec, SimulatedRuntime, build_node
from a27_harness.reports.lab3 import format_markdown, format_terminal, summary_data, write_report
from a27_harness.scenario import ScenarioError
from a27_ledger import LedgerState, SQLiteStore
from a27_ledger.testing import make_keys
from a27_netsim import Simulation
from a27_pos import Chain, PosGenesis, SQLiteChainStore

SMALL = {"layers": "ledger,pos,channels", "validators": 4, "light_nodes": 5, "payments": 12, "channel_deposit": 2_000}


LAYERS = ("ledger", "pos", "channels")


@pytest.fixture(scope="module")
def small_run() -> Lab3Result:
    """One small run shared by the tests that only read it."""
    return run_lab3(SimScenario(seed=3, **SMALL))


def test_a_small_run_settles_every_channel_as_its_final_state_says(small_run: Lab3Result) -> None:
    result = small_run
    assert result.ok, format_terminal(result)
    assert len(result.channels) == 5
    assert {line.close_kind for line in result.channels} == {"cooperative", "unilateral"}
    assert all(line.funding_height > 0 for line in result.channels)
    assert result.channel_escrow_left == 0
    assert {payment.kind for payment in result.payments} == {"direct", "routed"}
    assert any(payment.hops >= 2 for payment in result.payments if payment.outcome == "succeeded")
    # Money moved off chain, and the chain paid out exactly that.
    assert any(account.channel_net != 0 for account in result.accounts)
    assert sum(account.channel_net for account in result.accounts) == 0
    assert format_terminal(result).splitlines()[-1].startswith("VERDICT: OK")


def test_the_same_seed_gives_the_same_run(small_run: Lab3Result) -> None:
    assert format_terminal(run_lab3(SimScenario(seed=3, **SMALL))) == format_terminal(small_run)


def test_unilateral_closes_wait_out_the_challenge_period_and_pay_the_last_state() -> None:
    scenario = SimScenario(seed=5, **{**SMALL, "light_nodes": 4, "payments": 8, "unilateral_closes": 4,
                                      "challenge_period": 4})
    result = run_lab3(scenario)
    assert result.ok, format_terminal(result)
    assert [line.outcome for line in result.channels] == ["unilateral"] * 4
    for line in result.channels:
        assert line.settled_height >= line.close_height + scenario.challenge_period
    assert any(line.final_opener != line.deposit_opener for line in result.channels)
    for account in result.accounts:
        assert account.final - account.initial == account.channel_net - account.onchain_fees


def test_a_mismatch_between_chain_and_channels_fails_the_verdict(small_run: Lab3Result) -> None:
    wrong = attrs.evolve(small_run.accounts[0], final=small_run.accounts[0].final + 1)
    result = attrs.evolve(small_run, accounts=(wrong, *small_run.accounts[1:]))
    assert not result.ok
    verdict = format_terminal(result).splitlines()[-1]
    assert verdict.startswith("VERDICT: FAILED")
    assert f"do not match the channels for {wrong.name}" in verdict


def test_reports_are_written(small_run: Lab3Result, tmp_path: Path) -> None:
    markdown = write_report(small_run, tmp_path)
    assert markdown.read_text(encoding="utf-8") == format_markdown(small_run)
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert data["verdict"]["ok"] is True
    assert data["payments"]["made"] == 12 == len(data["payments"]["list"])
    assert data == json.loads(json.dumps(summary_data(small_run)))
    assert (tmp_path / "lab3.png").read_bytes().startswith(b"\x89PNG")


def test_channel_nodes_keep_their_chain_and_channels_in_sqlite(tmp_path: Path) -> None:
    result = run_lab3(SimScenario(seed=4, db=str(tmp_path), **{**SMALL, "light_nodes": 3, "payments": 4}))
    assert result.ok, format_terminal(result)
    registry = channels_registry()
    chain = Chain(LedgerState(SQLiteStore(tmp_path / "l0.db"), registry),
                  SQLiteChainStore(tmp_path / "l0.chain.db", registry))
    try:
        assert chain.height >= result.target_height
        chain.check_invariants()
        for line in result.channels:
            record = channel_record(chain.state, bytes.fromhex(line.channel_id))
            assert record is not None
            assert record.status is ChannelStatus.CLOSED
    finally:
        chain.state.close()
    assert (tmp_path / "l0.channels.db").exists()


def test_channels_need_pos() -> None:
    with pytest.raises(ScenarioError, match="needs the pos layer"):
        SimScenario(layers="ledger,channels")
    with pytest.raises(MissingLayer, match="runs on the pos layer"):
        NodeSpec("l0", make_keys(1)[0], LIGHT, layers=("ledger", "channels"))
    with pytest.raises(ScenarioError, match="at least 3 light nodes"):
        SimScenario(layers="ledger,pos,channels", light_nodes=2)
    with pytest.raises(ScenarioError, match="unilateral_closes 5 exceeds"):
        SimScenario(layers="ledger,pos,channels", light_nodes=4, unilateral_closes=5)
    with pytest.raises(ScenarioError, match="unilateral_closes: expected an integer from 0"):
        SimScenario(layers="ledger,pos,channels", unilateral_closes=-1)
    assert SimScenario(layers="channels,pos,ledger").layers == ("ledger", "pos", "channels")


def test_a_channels_node_runs_a_channel_community_on_its_pos_community() -> None:
    keys = make_keys(2, seed=8)
    specs = [NodeSpec("v0", keys[0], VALIDATOR, layers=LAYERS), NodeSpec("l0", keys[1], LIGHT, layers=LAYERS)]
    genesis = PosGenesis.build("a27-test", {key.public_key: 10_000 for key in keys}, {keys[0].public_key: 100_000})
    simulation = Simulation(seed=1)

    async def scenario() -> None:
        nodes = [await build_node(spec, genesis, SimulatedRuntime(simulation.network)) for spec in specs]
        try:
            for node in nodes:
                assert isinstance(node.channels, ChannelCommunity)
                assert node.channels.pos is node.pos
                assert list(node.overlays) == ["pos", "channels"]
                # The chain decodes channel transactions: the kinds are in its registry.
                assert {kind.KIND for kind in CHANNEL_KINDS} <= set(node.pos.chain.state.registry.kinds())
        finally:
            for node in nodes:
                await node.stop()

    try:
        simulation.run(scenario())
    finally:
        simulation.close()


class _EarlyCloser:
    """Guests for the Lab 3 hook: one idle guest light node; during the run, l0 force-closes its first channel as
    soon as it is open (as an honest node does when a peer holds an HTLC until its expiry)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.closed: list[bytes] = []

    def specs(self, simulation: Simulation, scenario: SimScenario) -> list[NodeSpec]:
        return [NodeSpec("g0", make_keys(1, seed=99)[0], LIGHT)]

    def settings(self, spec: NodeSpec) -> dict[str, dict[str, object]]:
        return {}

    async def run(self, nodes: list, start: float, stop_at: float) -> None:  # type: ignore[type-arg]
        l0 = next(node for node in nodes if node.name == "l0")
        while not l0.channels.node.open_channels():
            await asyncio.sleep(0.5)
        channel_id = l0.channels.node.open_channels()[0].channel_id
        self.closed.append(channel_id)
        await l0.channels.force_close(channel_id)

    def finish(self, nodes: list) -> None:  # type: ignore[type-arg]
        self.seen = [node.name for node in nodes]


def test_guests_join_a_lab3_run_and_a_channel_closed_early_does_not_crash_the_closes() -> None:
    scenario = SimScenario(seed=5, **{**SMALL, "light_nodes": 4, "payments": 6})
    guests = _EarlyCloser()
    result = run_lab3(scenario, guests=guests)
    alone = run_lab3(scenario)
    assert guests.seen == ["v0", "v1", "v2", "v3", "l0", "l1", "l2", "l3", "g0"]
    assert [report.name for report in result.nodes] == [report.name for report in alone.nodes]
    assert {key: name for key, name in result.names.items() if name != "g0"} == alone.names  # the lab's keys
    assert result.genesis is not None and len(result.genesis.ledger.balances) == len(alone.genesis.ledger.balances) + 1
    closed_early = next(line for line in result.channels if bytes.fromhex(line.channel_id) == guests.closed[0])
    assert closed_early.outcome == ""  # not closed as the lab planned: it was closed already
    assert result.agreed and result.supply_ok
