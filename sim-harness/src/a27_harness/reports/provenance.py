"""
Where a report's numbers came from: a27's version and commit, the command, the software it ran on and every parameter
a result depends on. One helper for every report (experiments, `a27 sim`, `a27 attack`), so each records the same.

Everything here is fixed for a given checkout, command and installation, so a rerun with the same options writes the
same bytes: no time stamps, no host names, no paths outside the command itself.
"""

from __future__ import annotations

import platform
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from enum import Enum
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs

from a27_ledger import LedgerDefences, PeerDefences
from a27_pos import PosDefences, PosParams, Timeouts

from ..__about__ import __version__
from ..scenario import SimScenario

UNKNOWN = "unknown"
"""What provenance records for anything it cannot find out (no git, not a checkout, a package not installed)."""

SOFTWARE = ("pyipv8", "networkx", "numpy", "scipy", "matplotlib", "attrs")
"""The distributions whose versions every report records, besides Python and a27's own packages."""

A27_PACKAGES = ("a27-netsim", "a27-ledger", "a27-pos", "a27-channels", "a27-attacks", "a27-harness")
"""a27's own distributions (each has its own version)."""

_PACKAGE_DIRECTORY = Path(__file__).resolve().parent.parent
_GIT_TIMEOUT = 10.0


def distribution_version(name: str) -> str:
    """The installed version of distribution ``name``, or ``unknown`` if it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return UNKNOWN


def _git(directory: Path, *arguments: str) -> str | None:
    try:
        completed = subprocess.run(["git", "-C", str(directory), *arguments], capture_output=True, text=True,
                                   timeout=_GIT_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def git_commit(directory: Path = _PACKAGE_DIRECTORY) -> str:
    """
    The commit of the a27 checkout holding ``directory`` (the harness's own source by default), with
    ``+uncommitted changes`` when tracked files differ from it; ``unknown`` when git is missing, the directory is not
    in a git checkout, or the checkout is not a27's (e.g. an installed copy inside another project's repository).
    """
    top = _git(directory, "rev-parse", "--show-toplevel")
    if top is None or not (Path(top) / "sim-harness" / "src" / "a27_harness").is_dir():
        return UNKNOWN
    commit = _git(directory, "rev-parse", "HEAD")
    if commit is None:
        return UNKNOWN
    # Tracked files only: a report written inside the checkout must not make the next run's commit look different.
    changes = _git(directory, "status", "--porcelain", "--untracked-files=no")
    return f"{commit}+uncommitted changes" if changes else commit


def plain(value: Any) -> Any:
    """``value`` as JSON data: attrs classes and mappings as objects, tuples as lists, enums and other objects as
    their names (never a ``repr`` with a memory address)."""
    if attrs.has(type(value)):
        return {field.name: plain(getattr(value, field.name)) for field in attrs.fields(type(value))}
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, bytes):
        return value.hex()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return type(value).__name__


@attrs.frozen
class Provenance:
    """What a report records about how it was made."""

    a27_version: str
    commit: str
    """The git commit of the checkout the code ran from, or ``unknown``."""
    command: str
    """The command line, quoted as a shell would need it, without options that cannot change the results (``--out``,
    ``--jobs``, ``--progress``); ``unknown`` when the report was not made by the CLI."""
    python: str
    software: dict[str, str]
    """Versions of a27's own packages and of the libraries results depend on."""
    parameters: dict[str, Any]
    """Every parameter the results depend on, defaults included."""

    def to_dict(self) -> dict[str, Any]:
        """As plain data, for report.json."""
        return attrs.asdict(self)

    def markdown(self) -> list[str]:
        """A ``## Provenance`` section for report.md: the versions, then every parameter as ``name | value``."""
        lines = ["## Provenance", "",
                 "How this report was made; rerunning the command below with the same versions gives the same bytes.",
                 "", "| item | value |", "| --- | --- |",
                 f"| command | `{self.command}` |", f"| a27 version | {self.a27_version} |",
                 f"| git commit | {self.commit} |", f"| Python | {self.python} |",
                 *[f"| {name} | {version} |" for name, version in self.software.items()], "",
                 "Parameters (defaults included; a dotted name is a setting inside a group):", "",
                 "| parameter | value |", "| --- | --- |"]
        lines += [f"| {name} | {_cell(value)} |" for name, value in _flatten(self.parameters)]
        return lines


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows += _flatten(value, f"{name}.")
        else:
            rows.append((name, value))
    return rows


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_cell(item) for item in value) if value else "(none)"
    if isinstance(value, Mapping):
        return "(none)"
    if value is None:
        return "none"
    return str(value).replace("|", "\\|")


CHANNEL_SETTINGS = ("channel_deposit", "payments", "unilateral_closes", "challenge_period")
"""Scenario settings only the channel layer (Lab 3) reads."""


def scenario_parameters(scenario: SimScenario, leave_out: Sequence[str] = ()) -> dict[str, Any]:
    """
    What a simulation of ``scenario`` depends on besides the code: the scenario's settings (without ``leave_out``,
    and without the channel settings when it has no channel layer), and with the pos layer the chain's parameters,
    the consensus timeouts and the defences, defaults included.
    """
    skipped = {*leave_out, *(() if scenario.uses_channels else CHANNEL_SETTINGS)}
    data: dict[str, Any] = {"scenario": {key: value for key, value in scenario.to_dict().items() if key not in skipped}}
    defences: dict[str, Any] = {"ledger": LedgerDefences(), "peers": PeerDefences()}
    if scenario.uses_pos:
        data["pos"] = {key: value for key, value in attrs.asdict(PosParams()).items()
                       if key not in ("block_reward", "proposer_strategy")}  # the scenario's, above
        data["pos_timeouts"] = Timeouts()
        defences["pos"] = PosDefences()
    data["defences"] = defences
    return data


NEUTRAL_OPTIONS = {"--out": True, "--jobs": True, "--scheduler": True, "--progress": False, "--no-progress": False,
                   "--log-level": True, "--record": True, "--replay": True}
"""Options that change where a report goes or how fast it comes, never what it says (True: the option takes a value).
The recorded command leaves them out, so that the same options give the same bytes whatever the directory or the
number of worker processes (or the dask scheduler of a sweep)."""


def command_line(argv: Sequence[str] | None) -> str:
    """
    ``a27`` followed by ``argv`` quoted for a shell, without the ``NEUTRAL_OPTIONS``; ``unknown`` when ``argv`` is
    None (not run by the CLI).
    """
    if argv is None:
        return UNKNOWN
    kept: list[str] = []
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in NEUTRAL_OPTIONS:
            skip = NEUTRAL_OPTIONS[token]
        elif not any(token.startswith(f"{option}=") for option, valued in NEUTRAL_OPTIONS.items() if valued):
            kept.append(token)
    return shlex.join(["a27", *kept])


_run_commit: str | None = None
"""The commit ``pin_commit`` read when the command started, or None outside a command."""


def pin_commit() -> str:
    """
    Read the checkout's commit now, at the start of a command, and have every report of this command record it: a
    run of many minutes then names the code it started from even if the checkout changes (a commit, an edit) before
    its reports are written. Each command pins again; returns the commit.
    """
    global _run_commit  # noqa: PLW0603 - one command per process run, pinned at its start
    _run_commit = git_commit()
    return _run_commit


def run_commit() -> str:
    """The commit ``pin_commit`` read at the command's start, if it ran, else the checkout's now (``git_commit``)."""
    return _run_commit if _run_commit is not None else git_commit()


def collect_provenance(argv: Sequence[str] | None, parameters: Mapping[str, Any]) -> Provenance:
    """The provenance of a report made by ``a27 <argv>`` from ``parameters`` (converted with ``plain``), with the
    command's ``run_commit``."""
    return Provenance(
        a27_version=__version__, commit=run_commit(), command=command_line(argv),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        software={name: distribution_version(name) for name in (*A27_PACKAGES, *SOFTWARE)},
        parameters=plain(parameters))


__all__ = ["A27_PACKAGES", "CHANNEL_SETTINGS", "NEUTRAL_OPTIONS", "SOFTWARE", "UNKNOWN", "Provenance",
           "collect_provenance", "command_line", "distribution_version", "git_commit", "pin_commit", "plain",
           "run_commit", "scenario_parameters"]
