"""The layering contract: import-linter passes on the real tree and fails when a lower layer imports an upper one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {
    "a27_netsim": ROOT / "packages" / "a27-netsim" / "src" / "a27_netsim",
    "a27_ledger": ROOT / "packages" / "a27-ledger" / "src" / "a27_ledger",
    "a27_pos": ROOT / "packages" / "a27-pos" / "src" / "a27_pos",
    "a27_channels": ROOT / "packages" / "a27-channels" / "src" / "a27_channels",
    "a27_harness": ROOT / "sim-harness" / "src" / "a27_harness",
}

LINT_IMPORTS = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run the repository's contract over a copy of the sources in ``tree``."""
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    assert LINT_IMPORTS is not None, "import-linter is a test dependency: install it (tox -e integration does)"
    return subprocess.run([LINT_IMPORTS, "--no-cache",
                           "--config", str(ROOT / ".importlinter")],
                          cwd=tree, env=environment, capture_output=True, text=True, check=False)


def _copy_sources(tree: Path) -> None:
    for name, source in SOURCES.items():
        shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__"))


def test_contract_holds_on_the_real_tree(tmp_path: Path) -> None:
    _copy_sources(tmp_path)
    result = _lint(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = (ROOT / ".importlinter").read_text(encoding="utf-8").count("[importlinter:contract:")
    assert f"{contracts} kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("lower", "upper"), [("a27_ledger", "a27_harness"), ("a27_ledger", "a27_pos"),
                                              ("a27_pos", "a27_harness"), ("a27_pos", "a27_channels"),
                                              ("a27_channels", "a27_harness"), ("a27_netsim", "a27_ledger"),
                                              ("a27_ledger", "a27_netsim"), ("a27_pos", "a27_netsim")])
def test_contract_breaks_when_a_layer_imports_upward_or_sideways(tmp_path: Path, lower: str, upper: str) -> None:
    _copy_sources(tmp_path)
    module = tmp_path / lower / "sneaky.py"
    module.write_text(f"import {upper}\n", encoding="utf-8")
    result = _lint(tmp_path)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout
    assert f"{lower}.sneaky" in result.stdout



@pytest.mark.parametrize(("core_module", "statement", "forbidden"), [
    ("a27_ledger/state.py", "import asyncio", "asyncio"),
    ("a27_ledger/replication.py", "from a27_ledger import overlay", "a27_ledger.overlay"),
    ("a27_ledger/store.py", "import a27_ledger.community", "a27_ledger.community"),
    ("a27_channels/node.py", "import a27_channels.community", "a27_channels.community"),
    ("a27_channels/updates.py", "from a27_channels import payloads", "a27_channels.payloads"),
])
def test_core_contracts_break_when_a_core_module_imports_the_overlay(tmp_path: Path, core_module: str, statement: str,
                                                                     forbidden: str) -> None:
    _copy_sources(tmp_path)
    with (tmp_path / core_module).open("a", encoding="utf-8") as module:
        module.write(f"\n{statement}\n")
    result = _lint(tmp_path)
    assert result.returncode != 0, result.stdout
    source = core_module.removesuffix(".py").replace("/", ".")
    assert f"{source} is not allowed to import {forbidden}" in result.stdout


@pytest.mark.parametrize(("lab_module", "statement", "forbidden"), [
    ("a27_harness/labs/lab1.py", "import a27_harness.attacks", "a27_harness.attacks"),
    ("a27_harness/labs/common.py", "import a27_attacks", "a27_attacks"),
])
def test_the_labs_contract_breaks_when_a_lab_imports_attack_code(tmp_path: Path, lab_module: str, statement: str,
                                                                 forbidden: str) -> None:
    _copy_sources(tmp_path)
    with (tmp_path / lab_module).open("a", encoding="utf-8") as module:
        module.write(f"\n{statement}\n")
    result = _lint(tmp_path)
    assert result.returncode != 0, result.stdout
    assert f"a27_harness.labs is not allowed to import {forbidden}" in result.stdout
