"""Report provenance: version, commit, command, software and parameters, the same bytes for the same run."""

from __future__ import annotations

import enum
import json
import re
import subprocess
from pathlib import Path

import attrs
import pytest

from a27_harness import cli as cli_module
from a27_harness.__about__ import __version__
from a27_harness.cli import main
from a27_harness.reports import provenance as provenance_module
from a27_harness.reports.provenance import (
    UNKNOWN,
    collect_provenance,
    command_line,
    git_commit,
    plain,
    scenario_parameters,
)
from a27_harness.scenario import SimScenario

CHECKOUT = Path(__file__).resolve().parents[2]


def _in_git_checkout() -> bool:
    try:
        return subprocess.run(["git", "-C", str(CHECKOUT), "rev-parse", "HEAD"], capture_output=True,
                              check=False).returncode == 0
    except OSError:
        return False


@pytest.mark.skipif(not _in_git_checkout(), reason="the tests do not run from a git checkout of a27")
def test_the_commit_of_this_checkout_is_recorded() -> None:
    head = subprocess.run(["git", "-C", str(CHECKOUT), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    # The checkout's source, named: these tests may run against an installed wheel (tox -e wheels), whose own
    # directory is no checkout and rightly gives "unknown".
    commit = git_commit(CHECKOUT / "sim-harness" / "src" / "a27_harness")
    assert commit in (head, f"{head}+uncommitted changes")


def test_the_commit_is_unknown_outside_a_checkout_or_without_git(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert git_commit(tmp_path) == UNKNOWN
    # Another project's repository holding an installed copy is not an a27 checkout.
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert git_commit(tmp_path) == UNKNOWN
    monkeypatch.setenv("PATH", str(tmp_path / "no-such-bin"))
    assert git_commit() == UNKNOWN


def test_plain_turns_settings_into_json_without_addresses() -> None:
    class Colour(enum.Enum):
        RED = 1

    @attrs.frozen
    class Inner:
        colour: Colour = Colour.RED
        key: bytes = b"\x01\x02"
        hook: object = object()

    data = plain({"inner": Inner(), "values": (1, 2.5, None, True), 3: "three"})
    assert data == {"inner": {"colour": "RED", "key": "0102", "hook": "object"}, "values": [1, 2.5, None, True],
                    "3": "three"}
    assert json.loads(json.dumps(data)) == data


def test_the_command_is_quoted_as_a_shell_needs_it() -> None:
    assert command_line(["sim", "--latency", "constant:0.1", "--scenario", "my lab.toml"]) == \
        "a27 sim --latency constant:0.1 --scenario 'my lab.toml'"
    assert command_line(None) == UNKNOWN


def test_the_command_leaves_out_options_that_cannot_change_results() -> None:
    # Where the report goes, how many workers and a progress bar change no number: two runs that differ only there
    # must write the same bytes.
    assert command_line(["experiment", "stake", "--out", "a", "--jobs", "2", "--no-progress", "--seeds", "3"]) == \
        command_line(["experiment", "stake", "--out=b", "--jobs=1", "--progress", "--seeds", "3"]) == \
        "a27 experiment stake --seeds 3"


def test_provenance_lists_versions_and_every_parameter() -> None:
    scenario = SimScenario(layers=("ledger", "pos"))
    provenance = collect_provenance(["sim"], scenario_parameters(scenario))
    assert provenance.a27_version == __version__
    assert provenance.command == "a27 sim"
    assert re.fullmatch(r"CPython \d+\.\d+\.\d+|\w+ \d+\.\d+\.\d+", provenance.python)
    for name in ("pyipv8", "networkx", "numpy", "a27-pos"):
        assert provenance.software[name] not in ("", None)
    parameters = provenance.parameters
    for key in ("latency", "fee", "overdraft_probability", "initial_balance", "block_reward"):
        assert key in parameters["scenario"]
    assert parameters["pos_timeouts"]["propose"] == 1.0
    assert parameters["defences"]["pos"]["proposal_evidence"] is True
    assert "channel_deposit" not in parameters["scenario"]  # no channel layer, no channel settings
    text = "\n".join(provenance.markdown())
    assert "| scenario.overdraft_probability | 0.05 |" in text
    assert "| pos_timeouts.propose | 1.0 |" in text
    assert "| command | `a27 sim` |" in text


def test_a_missing_package_is_unknown_not_an_error() -> None:
    assert provenance_module.distribution_version("a27-no-such-distribution") == UNKNOWN


def _run_twice(argv: list[str], out: Path) -> dict[str, bytes]:
    files = []
    for _ in range(2):
        assert main([*argv, "--out", str(out)]) in (0, 1)
        files.append({path.name: path.read_bytes() for path in sorted(out.iterdir())})
    assert files[0] == files[1]
    return files[0]


def test_stake_experiment_report_has_provenance_and_the_same_bytes_twice(tmp_path: Path) -> None:
    argv = ["experiment", "stake", "--quick", "--cases", "equal", "--proposer", "lottery", "--duration", "12",
            "--silence-duration", "6", "--restake-duration", "20", "--jobs", "1", "--no-progress"]
    files = _run_twice(argv, tmp_path / "stake")
    data = json.loads(files["report.json"])
    assert data["provenance"]["command"] == command_line([*argv, "--out", str(tmp_path / "stake")])
    assert data["provenance"]["parameters"]["experiment"]["seeds"] == 2
    assert data["provenance"]["parameters"]["scenario"]["latency"] == "uniform:0.01,0.1"
    assert "## Provenance" in files["report.md"].decode()


def test_topology_experiment_report_has_provenance_and_the_same_bytes_twice(tmp_path: Path) -> None:
    argv = ["experiment", "topology", "--quick", "--topologies", "bottleneck", "--nodes", "10", "--payments", "30",
            "--no-progress"]
    files = _run_twice(argv, tmp_path / "topology")
    data = json.loads(files["report.json"])
    assert data["provenance"]["parameters"]["channel_node"]["policy"]["fee_ppm"] == 1_000
    assert [spread["label"] for spread in data["spreads"]] == ["bottleneck", "bottleneck (bridge offline)"]
    assert {row["seed"] for row in data["seeds"]} == {7, 8}
    text = files["report.md"].decode()
    assert "## Across seeds" in text and "## Provenance" in text


def test_sim_report_has_provenance_and_stdout_is_unchanged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sim", "--layers", "ledger", "--validators", "2", "--light-nodes", "2", "--duration", "4", "--no-progress"]
    _run_twice(argv, tmp_path / "sim")
    data = json.loads((tmp_path / "sim" / "report.json").read_text(encoding="utf-8"))
    assert data["provenance"]["parameters"]["scenario"]["validators"] == 2
    assert "pos" not in data["provenance"]["parameters"]
    assert "Provenance" not in capsys.readouterr().out


def test_a_command_records_the_commit_it_started_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The checkout moves on while the run goes (a commit made during a long experiment): the report names the code
    # that ran, read when the command started, not the checkout's commit when the report is written.
    checkout = {"commit": "c0ffee-at-start"}
    monkeypatch.setattr(provenance_module, "git_commit", lambda *_: checkout["commit"])
    monkeypatch.setattr(provenance_module, "_run_commit", None)
    run_attack = cli_module.run_attack

    def run_while_the_checkout_moves(*arguments: object) -> object:
        checkout["commit"] = "c0ffee-later"
        return run_attack(*arguments)

    monkeypatch.setattr(cli_module, "run_attack", run_while_the_checkout_moves)
    argv = ["attack", "double-spend-lab1", "--seed", "1", "--light-nodes", "1", "--duration", "6", "--out",
            str(tmp_path)]
    assert main(argv) == 0
    assert checkout["commit"] == "c0ffee-later"
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["provenance"]["commit"] == \
        "c0ffee-at-start"
    assert collect_provenance(["sim"], {}).commit == "c0ffee-at-start"  # until the next command pins again
    assert provenance_module.pin_commit() == "c0ffee-later"
