"""
The report of ``a27 experiment attacks``: the scoreboard (red team's haul, blue team's losses, the defences' cost)
and one attack card per attack (its analytic curve, where one exists, beside the measured points).

Every number in the text comes from the result or from a formula computed here; the text holds no wall-clock time,
so the same options give the same bytes whatever the number of worker processes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from a27_attacks import AVAILABILITY, attack_named

from ..experiments.attacks import (
    BYZANTINE_BOUND,
    DEFENDED,
    UNDEFENDED,
    AttackExperimentResult,
    BuildScore,
    DefenceCost,
    SweepPoint,
    a27_finality_bound,
    build_score,
    card_kind,
    defence_cost,
    nakamoto_probability,
    sweep,
)
from .files import pyplot, save_figure, write_report_files
from .formatting import markdown_table, percent
from .provenance import collect_provenance
from .statistics import Interval, MeanInterval, detectable_proportion_difference

NAKAMOTO_TABLE = ((0.1, tuple(range(11))), (0.3, tuple(range(0, 51, 5))))
"""The (q, z values) of the table in section 11 of the Bitcoin whitepaper."""
NAKAMOTO_CURVES = (1, 2, 5, 10)
"""Blocks of confirmation (z) drawn on the cards' Nakamoto curves."""
SCOREBOARD = "scoreboard.png"
SERIES_COLOURS = {UNDEFENDED: "tab:red", DEFENDED: "tab:blue", "slashed": "tab:purple", "banned": "tab:orange"}

DEFINITIONS = (
    ("undefended", "the build with the defences the attack names switched off (`a27 attack --undefended`)"),
    ("defended", "the build with every defence on (the default)"),
    ("run", "one attack run and its honest replay (same seed, workload and attacker nodes, attackers honest), "
            "audited by `a27_harness.attacks.run_attack`"),
    ("success", "the attack's own `judge` said it succeeded: tokens stolen, or a guarantee broken that held in "
                "the replay"),
    ("tokens stolen", "the largest of: attacker holdings in one honest view beyond the replay's, tokens paid twice "
                      "across honest views, supply above genesis plus rewards"),
    ("guarantee broken", "agreement, supply, finality or availability, as the attack's judge reports it"),
    ("availability (failed transfers)", f"broken when {AVAILABILITY.describe()}; "
                                        "`a27_attacks.AVAILABILITY`, used by every judge that counts failed transfers"),
    ("extra honest failures", "honest transfers that failed in the attack run beyond those that failed in its "
                              "replay, counted whether or not they reach the availability threshold (the blue "
                              "team's losses, or the defences' residual cost)"),
    ("extra finality latency", "the defended build's median honest verdict latency (Lab 1: the sender's verdict; "
                               "Lab 2: finality) minus the undefended build's, in the honest replays of the same "
                               "seed"),
    ("replay failures (cost)", "honest transfers that failed in the defended build's replay minus the undefended "
                               "build's"),
    ("wrongly slashed / banned", "defended runs (attack or replay) in which an honest account was slashed, or an "
                                 "honest node banned an honest peer"),
    ("stake share", "the attacker's share of the bonded stake: the attack's share parameter, else its validators "
                    "among all validators (every lab validator bonds the same stake)"),
    ("identity share", "the attacker's nodes among all nodes of the run"),
    ("interval", "95%: Wilson for shares of runs, Student's t across runs for means"),
)


def _interval(value: Interval) -> str:
    return f"{percent(value.share)} [{percent(value.low)}, {percent(value.high)}]"


def _mean(value: MeanInterval | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value.mean:,.{digits}f} [{value.low:,.{digits}f}, {value.high:,.{digits}f}]"


def _card_name(attack: str) -> str:
    return f"card-{attack}.png"


@attrs.frozen
class AttackSection:
    """Everything the report shows of one attack."""

    attack: str
    family: str
    lab: str
    defences: tuple[str, ...]
    card: str
    """The card's kind (``experiments.attacks.card_kind``)."""
    undefended: BuildScore
    defended: BuildScore
    cost: DefenceCost
    points: tuple[SweepPoint, ...]
    light_nodes: int
    """Honest light nodes of the network the scoreboard rows were read on (``AttackExperiment.light_nodes_for``)."""


def sections(result: AttackExperimentResult) -> list[AttackSection]:
    """One section per attack that ran, in report order."""
    found = []
    for name in result.attacks:
        attack = attack_named(name)
        found.append(AttackSection(
            attack=name, family=attack.family, lab=attack.lab, defences=tuple(attack.defences),
            card=card_kind(attack), undefended=build_score(UNDEFENDED, result.headline(name, UNDEFENDED)),
            defended=build_score(DEFENDED, result.headline(name, DEFENDED)),
            cost=defence_cost(result.of(name, DEFENDED), result.of(name, UNDEFENDED)),
            points=tuple(sweep(result, name)), light_nodes=result.experiment.light_nodes_for(attack)))
    return found


def nakamoto_rows() -> list[dict[str, float]]:
    """The whitepaper's table, computed: q, z and the probability that the attacker ever catches up."""
    return [{"q": q, "z": z, "probability": round(nakamoto_probability(q, z), 7)}
            for q, zs in NAKAMOTO_TABLE for z in zs]


def _coalition_price(result: AttackExperimentResult) -> list[tuple[str, SweepPoint]]:
    """Sweep points above 1/3 of every share-parameter attack: the measured price of breaking finality."""
    return [(name, point) for name in result.attacks if card_kind(attack_named(name)) == "share"
            for point in sweep(result, name) if point.share > BYZANTINE_BOUND]


def precision_sentence(result: AttackExperimentResult) -> str:
    """The smallest difference in success rate between the two builds the experiment's seeds can show."""
    seeds = result.experiment.seeds
    difference = detectable_proportion_difference(seeds)
    where = f"With {seeds} run{'s' if seeds != 1 else ''} per attack, build and sweep point"
    if difference >= 1:
        return (f"{where}, no difference in success rate between the builds, not even 100% against 0%, is found "
                "with 80% power at the 5% level (two-sided two-proportion z-test): read the 95% Wilson intervals "
                "instead, and run more seeds (--seeds) for a test.")
    return (f"{where}, a difference in success rate between the builds of {difference * 100:.0f} points or more is "
            "found with 80% power at the 5% level (two-sided two-proportion z-test, rates near 50%, the hardest "
            "case); smaller differences may be missed, and need more seeds (--seeds).")


def report_data(result: AttackExperimentResult) -> dict[str, Any]:
    """The report as JSON-ready data, besides its provenance."""
    return {
        "precision": precision_sentence(result),
        "experiment": result.experiment.to_dict(),
        "skipped": dict(result.skipped),
        "ok": result.ok,
        "structural_controls": [name for name in result.attacks if attack_named(name).structural],
        "control_successes": [attrs.asdict(run) for run in result.control_successes],
        "defended_successes": [attrs.asdict(run) for run in result.defended_successes],
        "definitions": dict(DEFINITIONS),
        "nakamoto": nakamoto_rows(),
        "attacks": [attrs.asdict(section) for section in sections(result)],
        "runs": [attrs.asdict(run) for run in result.runs],
    }


def _scoreboard_lines(found: Sequence[AttackSection]) -> list[str]:
    rows = []
    for section in found:
        for score in (section.undefended, section.defended):
            rows.append([section.attack, score.build, score.runs, _interval(score.success), _mean(score.stolen),
                         _interval(score.broken), ", ".join(f"{key} {count}" for key, count in
                                                            score.broken_guarantees.items()) or "none",
                         _mean(score.extra_failed, 1), f"{score.detected}/{score.runs}",
                         _mean(score.attacker_slashed)])
    lines = ["## Scoreboard", "",
             "Red team's haul and blue team's losses, per attack and build, at the experiment's network (an attack "
             "with a share parameter: at its largest share).", ""]
    lines += markdown_table(["attack", "build", "runs", "success", "tokens stolen", "guarantee broken", "which",
                             "extra honest failures", "detected", "attacker slashed"], rows, "llrrrrlrrr")
    lines += ["", "## Defences' cost", "",
              "From the honest replays (no attack), defended against undefended, paired by seed.", ""]
    lines += markdown_table(
        ["attack", "pairs", "extra finality latency (s)", "replay failures (cost)", "wrongly slashed runs",
         "wrongly banned runs", "most honest stake slashed"],
        [[section.attack, section.cost.runs, _mean(section.cost.extra_latency, 4), _mean(section.cost.extra_failed, 1),
          section.cost.wrongly_slashed_runs, section.cost.wrongly_banned_runs, f"{section.cost.honest_slashed:,}"]
         for section in found], "lrrrrrr")
    return lines


def _points_table(section: AttackSection, axis: str) -> list[str]:
    return markdown_table(
        [axis, "honest light nodes", "undefended success", "defended success", "undefended stolen",
         "defended stolen", "attacker slashed (undefended)", "attacker slashed (defended)"],
        [[f"{point.share:.3f}", point.light_nodes, _interval(point.undefended.success),
          _interval(point.defended.success), _mean(point.undefended.stolen), _mean(point.defended.stolen),
          _mean(point.undefended.attacker_slashed), _mean(point.defended.attacker_slashed)]
         for point in section.points], "rrrrrrrr")


def _card_lines(section: AttackSection, result: AttackExperimentResult) -> list[str]:
    lines = [f"### {section.attack} ({section.family}, lab {section.lab})", "",
             f"Card: `{_card_name(section.attack)}`. Defences it names: {', '.join(section.defences) or 'none'}.", ""]
    if section.card == "double-spend":
        q_low = [row for row in nakamoto_rows() if row["q"] == NAKAMOTO_TABLE[0][0]]
        lines += [
            "Analytic contrast, a chain without finality: Nakamoto's probability that an attacker with share q of "
            "the block-producing power ever overtakes a transfer buried under z blocks (whitepaper section 11, "
            "computed here; table below). At q = 0.1 it is "
            f"{q_low[1]['probability']:.7f} after z = 1 and {q_low[5]['probability']:.7f} after z = 5: small, "
            "never zero.",
            f"a27's finality instead: 0 with at most 1/3 of the bonded stake ({BYZANTINE_BOUND:.4f}); above it, "
            "possible only by signing two conflicting blocks, which is evidence that slashes every signer.", ""]
        for point in section.points:
            lines.append(f"Measured at stake share {point.share:.3f}: success undefended "
                         f"{_interval(point.undefended.success)}, defended {_interval(point.defended.success)}; "
                         f"the a27 bound at that share is {a27_finality_bound(point.share):.0f}.")
        price = _coalition_price(result)
        if price:
            for name, point in price:
                computed = point.defended.attacker_slashable
                lines.append(f"Price of breaking finality ({name}, stake share {point.share:.3f}, defended build): "
                             f"success {_interval(point.defended.success)}, attacker stake slashed "
                             f"{_mean(point.defended.attacker_slashed)} per run (measured on the honest chains; "
                             f"computed from the conflicting certificates: "
                             f"{_mean(computed)}).")
        else:
            lines.append("No attack with a stake-share parameter ran (none is registered in this build, or it was "
                         "not selected), so the slashed price above 1/3 is not measured here.")
        lines += ["", *markdown_table(["q", "z", "P (catch up)"],
                                      [[row["q"], row["z"], f"{row['probability']:.7f}"] for row in nakamoto_rows()],
                                      "rrr")]
    elif section.card == "share":
        lines += [f"Analytic: a27's finality bound, 0 up to 1/3 of the bonded stake ({BYZANTINE_BOUND:.4f}) and "
                  "possible above it, at the price of the signers' slashed stake. Measured points:", "",
                  *_points_table(section, "stake share")]
    elif section.card == "identities":
        lines += ["No closed form: success depends on the peer-table rules and on who reaches the victim first, "
                  "so the card shows measured points only, against the attacker's share of identities (honest "
                  "networks of different sizes).", "", *_points_table(section, "identity share")]
    else:
        lines += ["No closed form: the card shows the measured success and haul of each build only.", "",
                  *_points_table(section, "stake share")]
    return [*lines, ""]


def format_markdown(result: AttackExperimentResult) -> str:
    """The whole report.md but its provenance section (added on writing)."""
    experiment = result.experiment
    found = sections(result)
    plural = "s" if len(found) != 1 else ""
    lines = ["# a27 experiment attacks", "",
             f"{len(found)} attack{plural}, {experiment.seeds} seeds each (1..{experiment.seeds}), on "
             f"{experiment.validators} "
             f"honest validators and {experiment.light_nodes} honest light nodes, {experiment.duration:g} simulated s "
             f"of workload per run; {len(result.runs)} runs in all. Share sweep points: "
             f"{', '.join(f'{share:g}' for share in experiment.share_points)}; light-node sweep points: "
             f"{', '.join(str(count) for count in experiment.light_node_points)}.", ""]
    if result.skipped:
        lines += ["Not run:", *[f"- {name}: {reason}" for name, reason in result.skipped.items()], ""]
    larger = [section for section in found if section.light_nodes != experiment.light_nodes]
    if larger:
        lines += ["Run on a larger network, the fewest honest light nodes at which the attack can matter (its "
                  "`min_light_nodes`; its summary says why): "
                  + ", ".join(f"{section.attack} on {section.light_nodes}" for section in larger) + ".", ""]
    if not result.defended_successes:
        lines += [f"Blue team: no attack succeeded against the defended build in any of its "
                  f"{sum(run.build == DEFENDED for run in result.runs)} defended runs"
                  + (" (coalitions above 1/3 of the stake aside: no defence can stop them; they are priced on their "
                     "card)." if _coalition_price(result) else "."), ""]
    else:
        lines += ["Blue team: attacks succeeded against the defended build in "
                  f"{len(result.defended_successes)} runs: "
                  + ", ".join(f"{run.attack} seed {run.seed}" for run in result.defended_successes) + ".", ""]
    controls = [section.attack for section in found if attack_named(section.attack).structural]
    if controls:
        lines += ["Structural controls (expected to fail in both builds: no defence switch turns off what stops "
                  "them; a failed undefended run is the expected result, not a failed attack): "
                  + ", ".join(controls) + "."
                  + ("" if not result.control_successes else " Controls that succeeded: "
                     + ", ".join(f"{run.attack} {run.build} seed {run.seed}" for run in result.control_successes)
                     + "."), ""]
    lines += _scoreboard_lines(found)
    lines += ["", precision_sentence(result), "", "![scoreboard](scoreboard.png)", "",
              "Figure: bars are means (tokens, latencies) or shares of runs (success); whiskers are their 95% "
              "intervals (Wilson for shares of runs, Student's t across runs for means).", "", "## Attack cards", ""]
    for section in found:
        lines += _card_lines(section, result)
        lines += [f"![{section.attack}]({_card_name(section.attack)})", ""]
    lines += ["## Definitions", "", *[f"- **{label}**: {meaning}" for label, meaning in DEFINITIONS], ""]
    return "\n".join(lines)


def format_terminal(result: AttackExperimentResult) -> str:
    """What `a27 experiment attacks` prints: one line per attack and build, and the blue team's verdict."""
    lines = []
    for section in sections(result):
        control = " (structural control: expected to fail)" if attack_named(section.attack).structural else ""
        if section.light_nodes != result.experiment.light_nodes:
            control += f" (on {section.light_nodes} light nodes, the fewest it can matter on)"
        for score in (section.undefended, section.defended):
            lines.append(f"{section.attack}{control} {score.build}: success {_interval(score.success)} of "
                         f"{score.runs} runs; tokens stolen {_mean(score.stolen)}; "
                         f"guarantee broken {_interval(score.broken)}")
    for name, reason in result.skipped.items():
        lines.append(f"{name}: not run ({reason})")
    lines.append("blue team: " + ("held in every defended run" if not result.defended_successes else
                                  f"lost {len(result.defended_successes)} defended runs"))
    if result.control_successes:
        lines.append(f"structural controls: succeeded in {len(result.control_successes)} runs "
                     "(expected none)")
    return "\n".join(lines)


def _bars(axis: Any, found: Sequence[AttackSection], values: Callable[[AttackSection], Sequence[tuple[str, float,
                                                                                                          float,
                                                                                                          float]]],
          title: str, label: str) -> None:
    """Grouped bars: for each attack, one bar per (name, value, low, high) with its interval as an error bar."""
    width = 0.38
    names = [section.attack for section in found]
    for index, section in enumerate(found):
        bars = values(section)
        for offset, (series, value, low, high) in enumerate(bars):
            colour = SERIES_COLOURS.get(series, "tab:grey")
            axis.bar(index + (offset - (len(bars) - 1) / 2) * width, value, width, color=colour,
                     yerr=[[max(0.0, value - low)], [max(0.0, high - value)]], capsize=3,
                     label=series if index == 0 else None)
    axis.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=7)
    axis.set_title(title, fontsize=9)
    axis.set_ylabel(label, fontsize=8)
    if found:
        axis.legend(fontsize=7)


def _draw_scoreboard(found: Sequence[AttackSection], path: Path) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(2, 3, figsize=(13, 7))

    def builds(pick: Callable[[BuildScore], MeanInterval | Interval]) -> Callable[[AttackSection], list[tuple[
            str, float, float, float]]]:
        def values(section: AttackSection) -> list[tuple[str, float, float, float]]:
            found_values = []
            for score in (section.undefended, section.defended):
                value = pick(score)
                centre = value.mean if isinstance(value, MeanInterval) else value.share
                found_values.append((score.build, centre, value.low, value.high))
            return found_values
        return values

    def cost(pick: Callable[[DefenceCost], MeanInterval | None]) -> Callable[[AttackSection], list[tuple[
            str, float, float, float]]]:
        def values(section: AttackSection) -> list[tuple[str, float, float, float]]:
            value = pick(section.cost)
            return [("defended - undefended", value.mean, value.low, value.high)] if value else []
        return values

    _bars(axes[0][0], found, builds(lambda score: score.stolen), "red team's haul", "tokens stolen per run")
    _bars(axes[0][1], found, builds(lambda score: score.broken), "blue team's losses: guarantees",
          "share of runs with a guarantee broken")
    _bars(axes[0][2], found, builds(lambda score: score.extra_failed), "blue team's losses: transfers",
          "extra honest failures per run")
    _bars(axes[1][0], found, cost(lambda value: value.extra_latency), "defences' cost: latency",
          "extra finality latency (s)")
    _bars(axes[1][1], found, cost(lambda value: value.extra_failed), "defences' cost: failures",
          "replay failures (defended - undefended)")
    _bars(axes[1][2], found, lambda section: [("slashed", section.cost.wrongly_slashed_runs,
                                               section.cost.wrongly_slashed_runs, section.cost.wrongly_slashed_runs),
                                              ("banned", section.cost.wrongly_banned_runs,
                                               section.cost.wrongly_banned_runs, section.cost.wrongly_banned_runs)],
          "defences' cost: honest nodes hit", "defended runs, honest node wrongly slashed / banned")
    save_figure(figure, path)


def _measured(axis: Any, section: AttackSection) -> None:
    for build, colour, marker, nudge in ((UNDEFENDED, "tab:red", "o", -0.004), (DEFENDED, "tab:blue", "s", 0.004)):
        # Nudged apart so that both builds' points at one share stay visible.
        xs = [point.share + nudge for point in section.points]
        scores = [point.undefended if build == UNDEFENDED else point.defended for point in section.points]
        axis.errorbar(xs, [score.success.share for score in scores],
                      yerr=[[score.success.share - score.success.low for score in scores],
                            [score.success.high - score.success.share for score in scores]],
                      fmt=marker, color=colour, capsize=3, label=f"measured, {build}")


def _draw_card(section: AttackSection, path: Path) -> None:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7, 4.5))
    if section.card in ("double-spend", "share"):
        shares = [step / 200 for step in range(0, 100)]
        for z in NAKAMOTO_CURVES:
            axis.plot(shares, [nakamoto_probability(q, z) for q in shares], linewidth=1, linestyle="--",
                      label=f"Nakamoto, z = {z} (no finality)")
        axis.step([0.0, BYZANTINE_BOUND, 0.5], [0.0, 0.0, 1.0], where="post", color="black", linewidth=2,
                  label="a27 finality: 0 up to 1/3 of stake, slashed above")
        axis.axvline(BYZANTINE_BOUND, color="grey", linewidth=0.5)
        axis.set_xlabel("attacker's share of stake (q)")
    elif section.card == "identities":
        axis.set_xlabel("attacker's share of identities (no closed form)")
    else:
        axis.set_xlabel("attacker's share of stake (no closed form)")
    _measured(axis, section)
    axis.set_ylim(-0.05, 1.05)
    axis.set_ylabel("success probability / share of runs")
    axis.set_title(f"{section.attack} ({section.family})", fontsize=10)
    axis.legend(fontsize=7)
    save_figure(figure, path)


def plots(result: AttackExperimentResult) -> dict[str, Callable[[Path], None]]:
    """The figures: the scoreboard and one card per attack."""
    found = sections(result)
    figures: dict[str, Callable[[Path], None]] = {SCOREBOARD: lambda path: _draw_scoreboard(found, path)}
    for section in found:
        figures[_card_name(section.attack)] = functools.partial(_draw_card, section)
    return figures


def write_report(result: AttackExperimentResult, directory: str | Path, argv: Sequence[str] | None = None) -> Path:
    """
    Write report.md, report.json, scoreboard.png and the cards into ``directory``, with the provenance of
    ``a27 <argv>`` (the command is recorded as unknown without ``argv``); returns report.md's path.
    """
    provenance = collect_provenance(argv, result.experiment.parameters())
    return write_report_files(directory, report_data(result), format_markdown(result), plots(result), provenance)
