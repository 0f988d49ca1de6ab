"""Readable results of a proof-of-stake run: the terminal summary, and Markdown, JSON and a PNG plot."""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Any

import attrs

from a27_ledger import format_balances

from ..labs.common import latency_summary
from ..labs.lab2 import BlockRecord, Lab2Result
from .files import pyplot, save_figure, write_report_files
from .formatting import network_line, run_heading, seconds
from .provenance import Provenance

CHAIN_ROWS = 12
"""Blocks shown at each end of the chain in the terminal (the report lists every block)."""


def _verdict_line(result: Lab2Result) -> str:
    nodes = len(result.nodes)
    if result.agreed and result.supply_ok:
        reference = result.nodes[0]
        genesis_supply = result.genesis.ledger.total_supply
        return (f"VERDICT: OK - all {nodes} nodes hold the same finalized chain up to height {result.target_height} "
                f"(block {reference.block_id_at_target[:16]}) and the same ledger (digest "
                f"{reference.digest_at_target[:16]}); supply {result.snapshot.total_supply:,} = genesis "
                f"{genesis_supply:,} + {len(result.blocks)} block rewards of {result.scenario.block_reward}")
    problems = []
    if not result.agreed:
        behind = [report.name for report in result.nodes if not report.digest_at_target]
        if behind:
            problems.append(f"{len(behind)} nodes never reached height {result.target_height}")
        else:
            problems.append("nodes hold different chains or ledgers")
    if not result.supply_ok:
        problems.append("supply invariant violated")
    return "VERDICT: FAILED - " + "; ".join(problems)


def summary_data(result: Lab2Result) -> dict[str, Any]:
    """The run as plain data: what the JSON report holds."""
    outcomes = Counter(record.outcome for record in result.transfers)
    final = [record.latency for record in result.transfers if record.latency is not None]
    reasons = Counter(record.reason.split(":")[0] for record in result.transfers if record.outcome != "final")
    return {
        "scenario": result.scenario.to_dict(),
        "verdict": {"agreed": result.agreed, "supply_conserved": result.supply_ok,
                    "target_height": result.target_height, "end_time": result.end_time,
                    "grace": result.grace},
        "transfers": {"submitted": len(result.transfers), "final": outcomes["final"], "refused": outcomes["refused"],
                      "timed_out": outcomes["timed out"], "reasons": dict(sorted(reasons.items())),
                      "finality_latency": latency_summary(final)},
        "blocks": {"count": len(result.blocks),
                   "finality": latency_summary([block.finality for block in result.blocks
                                                if block.finality is not None]),
                   "rounds_above_zero": sum(block.round > 0 for block in result.blocks),
                   "list": [attrs.asdict(block) for block in result.blocks]},
        "validators": [attrs.asdict(validator) for validator in result.validators],
        "ledger": result.snapshot.to_dict(),
        "nodes": [attrs.asdict(report) for report in result.nodes],
        "network": result.network,
        "records": [attrs.asdict(record) for record in result.transfers],
    }


def _finality(block: BlockRecord) -> str:
    """A block's finality for tables; blocks stored by an earlier run were not watched becoming final."""
    return "earlier run" if block.finality is None else f"{block.finality:.3f} s"


def _chain_rows(result: Lab2Result) -> list[str]:
    rows = [f"{'height':>6} {'round':>5}  {'proposer':<9} {'txs':>4} {'fees':>5}  finality"]
    blocks = list(result.blocks)
    shown: list[BlockRecord | None] = (
        [*blocks] if len(blocks) <= 2 * CHAIN_ROWS else [*blocks[:CHAIN_ROWS], None, *blocks[-CHAIN_ROWS:]])
    for block in shown:
        if block is None:
            rows.append(f"{'...':>6}  ({len(blocks) - 2 * CHAIN_ROWS} more blocks in the report)")
            continue
        rows.append(f"{block.height:>6} {block.round:>5}  {block.proposer:<9} {block.transactions:>4} "
                    f"{block.fees:>5}  {_finality(block)}")
    return rows


def format_terminal(result: Lab2Result) -> str:
    """The text `a27 sim` prints for a proof-of-stake run."""
    data = summary_data(result)
    scenario = result.scenario
    transfers = data["transfers"]
    reasons = ", ".join(f"{reason} {count}" for reason, count in transfers["reasons"].items()) or "none"
    lines = [
        *run_heading("Lab 2 proof of stake", scenario, result.grace, result.end_time),
        f"consensus: proposer choice {scenario.proposer}, block reward {scenario.block_reward}, finality at more "
        "than 2/3 of bonded stake",
        "",
        f"transfers: {transfers['submitted']} submitted, {transfers['final']} final, {transfers['refused']} refused, "
        f"{transfers['timed_out']} timed out (not final: {reasons})",
        f"  final at the sender: {seconds(transfers['finality_latency'])}",
        f"blocks: {len(result.blocks)} finalized, {data['blocks']['rounds_above_zero']} needed more than one round; "
        f"finality {seconds(data['blocks']['finality'])}",
        network_line(data["network"]["totals"]),
        "",
        "Chain (finality: from the proposer's timestamp until the median node applied the block):",
        *_chain_rows(result),
        "",
        "Validators:",
        f"{'name':<6} {'stake':>9} {'stake share':>11} {'blocks':>7} {'block share':>11} {'rewards':>8}",
    ]
    blocks = max(1, len(result.blocks))
    for validator in result.validators:
        lines.append(f"{validator.name:<6} {validator.stake:>9,} {validator.stake_share:>11.1%} {validator.blocks:>7} "
                     f"{validator.blocks / blocks:>11.1%} {validator.rewards:>8,}")
    lines += ["", f"Ledger at height {result.target_height} (held by {result.nodes[0].name}; escrow = bonded stake "
                  "and pools):", format_balances(result.snapshot, result.names), "",
              "Every node's chain:",
              f"{'node':<6} {'role':<10} {'height':>6}  {'block at target':<16}  {'ledger digest':<16}  agrees"]
    reference = result.nodes[0]
    for report in result.nodes:
        agrees = "yes" if (report.digest_at_target and report.digest_at_target == reference.digest_at_target
                           and report.block_id_at_target == reference.block_id_at_target) else "NO"
        lines.append(f"{report.name:<6} {report.role:<10} {report.height:>6}  {report.block_id_at_target[:16]:<16}  "
                     f"{report.digest_at_target[:16]:<16}  {agrees}")
    lines += ["", _verdict_line(result)]
    return "\n".join(lines)


def format_markdown(result: Lab2Result) -> str:
    """The Markdown report."""
    data = summary_data(result)
    transfers = data["transfers"]
    lines = [
        "# a27 sim: Lab 2 proof of stake", "", f"**{_verdict_line(result)}**", "", "## Scenario", "",
        "| setting | value |", "| --- | --- |",
        *[f"| {key} | {value} |" for key, value in result.scenario.to_dict().items()],
        "", "## Transfers", "",
        "| submitted | final | refused | timed out |", "| ---: | ---: | ---: | ---: |",
        f"| {transfers['submitted']} | {transfers['final']} | {transfers['refused']} | {transfers['timed_out']} |",
        "", f"- final at the sender: {seconds(transfers['finality_latency'])}",
        f"- block finality: {seconds(data['blocks']['finality'])}", "", "![chain](lab2.png)", "",
        "## Validators", "", "| validator | stake | stake share | blocks | block share | rewards |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    blocks = max(1, len(result.blocks))
    for validator in result.validators:
        lines.append(f"| {validator.name} | {validator.stake:,} | {validator.stake_share:.1%} | {validator.blocks} | "
                     f"{validator.blocks / blocks:.1%} | {validator.rewards:,} |")
    lines += ["", "## Chain", "", "| height | round | proposer | transactions | fees | finality (s) |",
              "| ---: | ---: | --- | ---: | ---: | ---: |"]
    lines += [f"| {block.height} | {block.round} | {block.proposer} | {block.transactions} | {block.fees} | "
              f"{_finality(block).removesuffix(' s')} |" for block in result.blocks]
    lines += ["", "## Nodes", "", "| node | role | height | block at target | ledger digest |",
              "| --- | --- | ---: | --- | --- |"]
    lines += [f"| {report.name} | {report.role} | {report.height} | `{report.block_id_at_target[:16]}` | "
              f"`{report.digest_at_target[:16]}` |" for report in result.nodes]
    return "\n".join(lines) + "\n"


def plot(result: Lab2Result, path: Path) -> None:
    """Chain growth over time and block finality, as one PNG."""
    plt = pyplot()

    figure, (growth, finality) = plt.subplots(1, 2, figsize=(11, 4))
    growth.step([block.timestamp for block in result.blocks], [block.height for block in result.blocks],
                where="post")
    growth.set_xlabel("simulated time (s)")
    growth.set_ylabel("height")
    growth.set_title("Finalized chain")
    proposers = sorted({block.proposer for block in result.blocks})
    for proposer in proposers:
        mine = [block for block in result.blocks if block.proposer == proposer]
        finality.scatter([block.height for block in mine if block.finality is not None],
                         [block.finality for block in mine if block.finality is not None], s=12, label=proposer)
    finality.set_xlabel("height")
    finality.set_ylabel("seconds")
    finality.set_title("Block finality, by proposer")
    if proposers:
        finality.legend(fontsize="small", ncol=2)
    save_figure(figure, path)


def write_report(result: Lab2Result, directory: str | Path, provenance: Provenance | None = None) -> Path:
    """Write report.md, report.json and lab2.png into ``directory`` (with ``provenance`` when given); return the
    Markdown path."""
    return write_report_files(directory, summary_data(result), format_markdown(result),
                              {"lab2.png": functools.partial(plot, result)}, provenance)
