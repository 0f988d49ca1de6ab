"""Readable results: the terminal summary, and a report directory with Markdown, JSON and PNG plots."""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Any

from a27_ledger import format_balances, short_id

from ..labs.common import latency_summary
from ..labs.lab1 import Lab1Result
from .files import pyplot, save_figure, write_report_files
from .formatting import network_line, run_heading, seconds
from .provenance import Provenance


def _reject_reasons(result: Lab1Result) -> Counter[str]:
    return Counter(record.reason.split(":")[0] if record.code != -1 else "timed out"
                   for record in result.transfers if not record.accepted)


def _verdict_line(result: Lab1Result) -> str:
    nodes = len(result.nodes)
    supply = f"{result.reference.snapshot.total_supply:,}"
    if result.agreed and result.supply_ok:
        return (f"VERDICT: OK - all {nodes} nodes agree on the ledger (digest {result.reference.digest[:16]}), "
                f"supply conserved ({supply})")
    problems = []
    if not result.agreed:
        digests = Counter(report.digest for report in result.nodes)
        differing = result.differing
        problems.append(f"nodes disagree ({len(digests)} different ledgers): {', '.join(differing)} "
                        f"{'differs' if len(differing) == 1 else 'differ'} from {result.reference.name}")
    if not result.supply_ok:
        problems.append("supply invariant violated")
    return "VERDICT: FAILED - " + "; ".join(problems)


def summary_data(result: Lab1Result) -> dict[str, Any]:
    """The run as plain data: what the JSON report holds."""
    transfers = result.transfers
    accepted = [record for record in transfers if record.accepted]
    return {
        "scenario": result.scenario.to_dict(),
        "verdict": {"agreed": result.agreed, "differing": list(result.differing),
                    "supply_conserved": result.supply_ok, "settled_at": result.settled_at, "end_time": result.end_time,
                    "grace": result.grace},
        "genesis": {"chain_id": result.genesis.chain_id, "total_supply": result.genesis.total_supply,
                    "digest": result.genesis.digest().hex()},
        "transfers": {
            "submitted": len(transfers),
            "accepted": len(accepted),
            "rejected": len(transfers) - len(accepted),
            "reject_reasons": dict(sorted(_reject_reasons(result).items())),
            "verdict_latency": latency_summary([record.verdict_latency for record in accepted]),
            "everywhere_latency": latency_summary([record.everywhere_latency for record in accepted
                                                   if record.everywhere_latency is not None]),
        },
        "ledger": result.reference.snapshot.to_dict(),
        "nodes": [{"name": report.name, "role": report.role, "applied": report.applied, "digest": report.digest,
                   "waiting": report.waiting, "conflicts": report.conflicts, "drops": report.drops}
                  for report in result.nodes],
        "network": result.network,
        "records": [{"sender": record.sender, "recipient": record.recipient, "amount": record.amount,
                     "submitted_at": record.submitted_at, "accepted": record.accepted, "code": record.code,
                     "reason": record.reason, "verdict_latency": record.verdict_latency,
                     "everywhere_latency": record.everywhere_latency} for record in transfers],
    }






def format_terminal(result: Lab1Result) -> str:
    """The text `a27 sim` prints: the ledger, every node's view of it, and the verdict."""
    data = summary_data(result)
    scenario = result.scenario
    transfers = data["transfers"]
    reasons = ", ".join(f"{reason} {count}" for reason, count in transfers["reject_reasons"].items()) or "none"
    lines = [
        *run_heading("Lab 1 ledger", scenario, result.grace, result.end_time),
        "",
        f"transfers: {transfers['submitted']} submitted, {transfers['accepted']} accepted, "
        f"{transfers['rejected']} rejected ({reasons})",
        f"  verdict at the light node:  {seconds(transfers['verdict_latency'])}",
        f"  applied on every node:      {seconds(transfers['everywhere_latency'])}",
        network_line(data["network"]["totals"]),
        "",
        f"Ledger held by {result.reference.name} (every agreeing node holds the same):",
        format_balances(result.reference.snapshot, result.names),
        "",
        "Every node's ledger:",
        f"{'node':<6} {'role':<10} {'applied':>8} {'waiting':>8}  {'ledger digest':<16}  agrees",
    ]
    reference = result.reference.digest
    for report in result.nodes:
        agrees = "yes" if report.digest == reference and report.waiting == 0 else "NO"
        lines.append(f"{report.name:<6} {report.role:<10} {report.applied:>8} {report.waiting:>8}  "
                     f"{report.digest[:16]:<16}  {agrees}")
    for report in result.nodes:
        if report.digest != reference:
            lines += ["", f"Ledger held by {report.name} (differs):", format_balances(report.snapshot, result.names)]
    settled = f"at t={result.settled_at:.1f} s" if result.settled_at is not None else "never"
    lines += ["", f"settled {settled}", _verdict_line(result)]
    return "\n".join(lines)


def format_markdown(result: Lab1Result) -> str:
    """The Markdown report."""
    data = summary_data(result)
    transfers = data["transfers"]
    scenario = result.scenario
    lines = [
        "# a27 sim: Lab 1 ledger",
        "",
        f"**{_verdict_line(result)}**",
        "",
        "## Scenario",
        "",
        "| setting | value |",
        "| --- | --- |",
        *[f"| {key} | {value} |" for key, value in scenario.to_dict().items()],
        "",
        "## Transfers",
        "",
        "| submitted | accepted | rejected |",
        "| ---: | ---: | ---: |",
        f"| {transfers['submitted']} | {transfers['accepted']} | {transfers['rejected']} |",
        "",
        "| reject reason | count |",
        "| --- | ---: |",
        *[f"| {reason} | {count} |" for reason, count in transfers["reject_reasons"].items()],
        "",
        f"- verdict at the light node: {seconds(transfers['verdict_latency'])}",
        f"- applied on every node: {seconds(transfers['everywhere_latency'])}",
        "",
        "![transfers](lab1.png)",
        "",
        f"## Ledger (held by {result.reference.name})",
        "",
        "| account | balance | next nonce |",
        "| --- | ---: | ---: |",
    ]
    balances = dict(result.reference.snapshot.balances)
    nonces = dict(result.reference.snapshot.nonces)
    for account in sorted(balances, key=lambda key: result.names.get(key, key.hex())):
        name = result.names.get(account, short_id(account))
        lines.append(f"| {name} ({short_id(account)}) | {balances[account]:,} | {nonces.get(account, 0)} |")
    lines += ["", f"Total supply: {result.reference.snapshot.total_supply:,}", "", "## Nodes", "",
              "| node | role | applied | waiting | digest | dropped messages |",
              "| --- | --- | ---: | ---: | --- | --- |"]
    for report in result.nodes:
        drops = ", ".join(f"{cause} {count}" for cause, count in report.drops.items()) or "none"
        lines.append(f"| {report.name} | {report.role} | {report.applied} | {report.waiting} | "
                     f"`{report.digest[:16]}` | {drops} |")
    return "\n".join(lines) + "\n"


def plot(result: Lab1Result, path: Path) -> None:
    """Transfers over time (accepted, rejected) and the latency distributions, as one PNG."""
    plt = pyplot()

    figure, (timeline, latencies) = plt.subplots(1, 2, figsize=(11, 4))
    for accepted, label in ((True, "accepted"), (False, "rejected")):
        times = sorted(record.submitted_at for record in result.transfers if record.accepted == accepted)
        timeline.step(times, range(1, len(times) + 1), where="post", label=label)
    timeline.set_xlabel("simulated time (s)")
    timeline.set_ylabel("transfers (cumulative)")
    timeline.set_title("Transfers submitted")
    timeline.legend()
    verdict = [record.verdict_latency for record in result.transfers if record.accepted]
    everywhere = [record.everywhere_latency for record in result.transfers
                  if record.accepted and record.everywhere_latency is not None]
    if verdict:
        latencies.hist([verdict, everywhere], bins=30, label=["verdict at light node", "applied on every node"])
        latencies.legend()
    latencies.set_xlabel("seconds")
    latencies.set_ylabel("transfers")
    latencies.set_title("Latency")
    save_figure(figure, path)


def write_report(result: Lab1Result, directory: str | Path, provenance: Provenance | None = None) -> Path:
    """Write report.md, report.json and lab1.png into ``directory`` (with ``provenance`` when given); return the
    Markdown path."""
    return write_report_files(directory, summary_data(result), format_markdown(result),
                              {"lab1.png": functools.partial(plot, result)}, provenance)
