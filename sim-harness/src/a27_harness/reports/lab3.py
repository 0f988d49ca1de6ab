"""Readable results of a payment-channel run: the terminal summary, and Markdown, JSON and a PNG plot."""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Any

import attrs

from ..labs.lab3 import Lab3Result
from .causes import colour as cause_colour
from .files import pyplot, save_figure, write_report_files
from .formatting import network_line
from .provenance import Provenance


def _routed_fees(result: Lab3Result) -> int:
    return sum(payment.fees for payment in result.payments if payment.outcome == "succeeded")


def _verdict_line(result: Lab3Result) -> str:
    channels = len(result.channels)
    nodes = len(result.nodes)
    if result.ok:
        deposits = sum(line.deposit_opener + line.deposit_peer for line in result.channels)
        digest = result.nodes[0].digest_at_target
        return (f"VERDICT: OK - all {channels} channels closed as planned and paid out their final off-chain states "
                f"(deposits {deposits:,} = settled balances, {_routed_fees(result):,} routing fees included); every "
                f"light node's on-chain balance matches its channels; all {nodes} nodes hold the same ledger at height "
                f"{result.target_height} (digest {digest[:16]}); supply invariant holds")
    problems = []
    if result.open_failures:
        problems.append(f"{len(result.open_failures)} channels did not open")
    disagreeing = [line.channel_id[:8] for line in result.channels if not line.parties_agree]
    if disagreeing:
        problems.append(f"parties disagree on the last state of {', '.join(disagreeing)}")
    unsettled = [line.channel_id[:8] for line in result.channels if line.outcome != line.close_kind]
    if unsettled:
        problems.append(f"channels not closed as planned: {', '.join(unsettled)}")
    if result.channel_escrow_left:
        problems.append(f"{result.channel_escrow_left:,} still locked in channel escrows")
    mismatched = [account.name for account in result.accounts if not account.ok]
    if mismatched:
        problems.append(f"on-chain balances do not match the channels for {', '.join(mismatched)}")
    if not result.agreed:
        problems.append(f"nodes hold different ledgers at height {result.target_height}")
    if not result.supply_ok:
        problems.append("supply invariant violated")
    return "VERDICT: FAILED - " + "; ".join(problems)


def summary_data(result: Lab3Result) -> dict[str, Any]:
    """The run as plain data: what the JSON report holds."""
    payments = result.payments
    outcomes = Counter(f"{payment.kind} {payment.outcome}" for payment in payments)
    causes = Counter(payment.cause for payment in payments if payment.outcome == "failed")
    hops = Counter(payment.hops for payment in payments if payment.kind == "routed" and payment.outcome == "succeeded")
    closes = Counter(line.close_kind for line in result.channels)
    return {
        "scenario": result.scenario.to_dict(),
        "verdict": {"ok": result.ok, "channels_ok": result.channels_ok, "balances_ok": result.balances_ok,
                    "agreed": result.agreed, "supply_conserved": result.supply_ok,
                    "target_height": result.target_height, "channel_escrow_left": result.channel_escrow_left,
                    "end_time": result.end_time},
        "phases": result.phases,
        "channels": {"opened": len(result.channels), "open_failures": list(result.open_failures),
                     "funding_heights": sorted({line.funding_height for line in result.channels}),
                     "closes": dict(sorted(closes.items())),
                     "list": [attrs.asdict(line) for line in result.channels]},
        "payments": {"made": len(payments), "direct": sum(payment.kind == "direct" for payment in payments),
                     "routed": sum(payment.kind == "routed" for payment in payments),
                     "succeeded": sum(payment.outcome == "succeeded" for payment in payments),
                     "failed": sum(payment.outcome == "failed" for payment in payments),
                     "outcomes": dict(sorted(outcomes.items())), "failure_causes": dict(sorted(causes.items())),
                     "routed_hops": {str(count): number for count, number in sorted(hops.items())},
                     "routing_fees": _routed_fees(result),
                     "list": [attrs.asdict(payment) for payment in payments]},
        "accounts": [{**attrs.asdict(account), "ok": account.ok} for account in result.accounts],
        "ledger": result.snapshot.to_dict(),
        "nodes": [attrs.asdict(report) for report in result.nodes],
        "drops": result.drops,
        "network": result.network,
    }


def _payment_lines(data: dict[str, Any]) -> list[str]:
    payments = data["payments"]
    causes = ", ".join(f"{cause} {count}" for cause, count in payments["failure_causes"].items()) or "none"
    hops = ", ".join(f"{number} over {count} hops" for count, number in payments["routed_hops"].items()) or "none"
    outcomes = payments["outcomes"]
    return [
        f"payments: {payments['made']} made, {payments['succeeded']} succeeded, {payments['failed']} failed "
        f"(causes: {causes})",
        f"  direct: {outcomes.get('direct succeeded', 0)} succeeded, {outcomes.get('direct failed', 0)} failed",
        f"  routed: {outcomes.get('routed succeeded', 0)} succeeded ({hops}), {outcomes.get('routed failed', 0)} "
        f"failed; {payments['routing_fees']:,} paid in routing fees",
    ]


def _close_summary(result: Lab3Result) -> str:
    closes = Counter(line.close_kind for line in result.channels)
    settled = max((line.settled_height for line in result.channels), default=0)
    return (f"closes: {closes['cooperative']} cooperative, {closes['unilateral']} unilateral (challenge period "
            f"{result.scenario.challenge_period} blocks); the last settled at height {settled}")


def format_terminal(result: Lab3Result) -> str:
    """The text `a27 sim` prints for a payment-channel run."""
    data = summary_data(result)
    scenario = result.scenario
    phases = ", ".join(f"{name} {time:.1f}" for name, time in result.phases.items())
    funding = data["channels"]["funding_heights"]
    funding_text = f"{funding[0]}" if len(funding) == 1 else f"{funding[0]} to {funding[-1]}" if funding else "-"
    drops = ", ".join(f"{cause} {count}" for cause, count in result.drops.items()) or "none"
    lines = [
        f"a27 sim - Lab 3 payment channels: {scenario.validators} validators, {scenario.light_nodes} light nodes, "
        f"seed {scenario.seed}",
        f"network: latency {scenario.latency}, loss {scenario.loss:.0%}; a ring of channels between the light nodes, "
        f"each side deposits {scenario.channel_deposit:,}",
        f"consensus: proposer choice {scenario.proposer}, block reward {scenario.block_reward}, finality at more "
        "than 2/3 of bonded stake",
        "",
        f"channels: {len(result.channels)} opened (funding final at height {funding_text}), "
        f"{len(result.open_failures)} failed to open",
        *_payment_lines(data),
        _close_summary(result),
        f"phases end (simulated s): {phases}",
        f"channel messages dropped: {drops}",
        network_line(data["network"]["totals"]),
        "",
        "Channels (balances: opener / peer):",
        f"{'channel':<8} {'opener':<6} {'peer':<6} {'funded':>6} {'deposits':>13} {'seq':>4} {'final':>13}  "
        f"{'close':<11} {'by':<5} {'height':>6} {'settled':>7}",
    ]
    for line in result.channels:
        lines.append(f"{line.channel_id[:8]:<8} {line.opener:<6} {line.peer:<6} {line.funding_height:>6} "
                     f"{f'{line.deposit_opener:,} / {line.deposit_peer:,}':>13} {line.final_sequence:>4} "
                     f"{f'{line.final_opener:,} / {line.final_peer:,}':>13}  {line.outcome or 'NOT SETTLED':<11} "
                     f"{line.closed_by:<5} {line.close_height:>6} {line.settled_height:>7}")
    lines += ["", "Light nodes: on-chain change = channels' net - on-chain fees; channels' net = payments' net",
              f"{'node':<6} {'initial':>8} {'final':>8} {'fees':>5} {'channels net':>12} {'payments net':>12}  matches"]
    for account in result.accounts:
        lines.append(f"{account.name:<6} {account.initial:>8,} {account.final:>8,} {account.onchain_fees:>5} "
                     f"{account.channel_net:>12,} {account.payments_net:>12,}  {'yes' if account.ok else 'NO'}")
    reference = result.nodes[0].digest_at_target
    behind = [report.name for report in result.nodes if report.digest_at_target != reference or not reference]
    lines += ["", f"Every node's ledger at height {result.target_height}: "
                  + (f"all {len(result.nodes)} agree (digest {reference[:16]})" if not behind
                     else f"{', '.join(behind)} differ from {result.nodes[0].name}"),
              "", _verdict_line(result)]
    return "\n".join(lines)


def format_markdown(result: Lab3Result) -> str:
    """The Markdown report."""
    data = summary_data(result)
    lines = [
        "# a27 sim: Lab 3 payment channels", "", f"**{_verdict_line(result)}**", "", "## Scenario", "",
        "| setting | value |", "| --- | --- |",
        *[f"| {key} | {value} |" for key, value in result.scenario.to_dict().items()],
        "", "## Summary", "", *[f"- {line.strip()}" for line in _payment_lines(data)], f"- {_close_summary(result)}",
        f"- phases end (simulated s): {', '.join(f'{name} {time:.1f}' for name, time in result.phases.items())}",
        "", "![channels](lab3.png)", "", "## Channels", "",
        "| channel | opener | peer | funded at | deposits | last sequence | final balances | close | by | "
        "close height | settled at |", "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |",
    ]
    lines += [f"| `{line.channel_id[:16]}` | {line.opener} | {line.peer} | {line.funding_height} | "
              f"{line.deposit_opener:,} / {line.deposit_peer:,} | {line.final_sequence} | "
              f"{line.final_opener:,} / {line.final_peer:,} | {line.outcome or 'not settled'} | {line.closed_by} | "
              f"{line.close_height} | {line.settled_height} |" for line in result.channels]
    lines += ["", "## Light nodes", "", "| node | initial | final | on-chain fees | channels net | payments net | "
              "matches |", "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    lines += [f"| {account.name} | {account.initial:,} | {account.final:,} | {account.onchain_fees} | "
              f"{account.channel_net:,} | {account.payments_net:,} | {'yes' if account.ok else 'NO'} |"
              for account in result.accounts]
    lines += ["", "## Payments", "", "| start (s) | kind | payer | payee | amount | outcome | cause | hops | fees |",
              "| ---: | --- | --- | --- | ---: | --- | --- | ---: | ---: |"]
    lines += [f"| {payment.started_at:.2f} | {payment.kind} | {payment.payer} | {payment.payee} | {payment.amount:,} | "
              f"{payment.outcome} | {payment.cause} | {payment.hops} | {payment.fees} |" for payment in result.payments]
    lines += ["", "## Nodes", "", "| node | role | height | ledger digest at target |", "| --- | --- | ---: | --- |"]
    lines += [f"| {report.name} | {report.role} | {report.height} | `{report.digest_at_target[:16]}` |"
              for report in result.nodes]
    return "\n".join(lines) + "\n"


def plot(result: Lab3Result, path: Path) -> None:
    """Payments by kind and outcome, and every channel's deposits against its settled balances, as one PNG."""
    plt = pyplot()

    figure, (outcomes, balances) = plt.subplots(1, 2, figsize=(12, 4))
    labels = sorted({payment.outcome if payment.outcome == "succeeded" else payment.cause
                     for payment in result.payments})
    kinds = ("direct", "routed")
    bottoms = [0, 0]
    for label in labels:
        counts = [sum(1 for payment in result.payments if payment.kind == kind
                      and (payment.outcome if payment.outcome == "succeeded" else payment.cause) == label)
                  for kind in kinds]
        outcomes.bar(kinds, counts, bottom=bottoms, label=label, color=cause_colour(label))
        bottoms = [bottom + count for bottom, count in zip(bottoms, counts, strict=True)]
    outcomes.set_ylabel("payments")
    outcomes.set_title("Payments by kind and outcome")
    if labels:
        outcomes.legend(fontsize="small")
    positions = range(len(result.channels))
    names = [f"{line.opener}-{line.peer}" for line in result.channels]
    balances.bar(positions, [line.final_opener for line in result.channels], label="opener")
    balances.bar(positions, [line.final_peer for line in result.channels],
                 bottom=[line.final_opener for line in result.channels], label="peer")
    balances.scatter(positions, [line.deposit_opener for line in result.channels], marker="_", s=200, color="black",
                     label="opener's deposit")
    balances.set_xticks(list(positions), names, rotation=90, fontsize="small")
    balances.set_ylabel("settled on chain")
    balances.set_title("Channels: settled balances (opener below, peer above)")
    balances.legend(fontsize="small")
    save_figure(figure, path)


def write_report(result: Lab3Result, directory: str | Path, provenance: Provenance | None = None) -> Path:
    """Write report.md, report.json and lab3.png into ``directory`` (with ``provenance`` when given); return the
    Markdown path."""
    return write_report_files(directory, summary_data(result), format_markdown(result),
                              {"lab3.png": functools.partial(plot, result)}, provenance)
