"""The README's example runs and prints what the README shows."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent


def test_the_topologies_example_prints_the_readme_table(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(PACKAGE / "examples" / "topologies.py"), run_name="__main__")
    printed = capsys.readouterr().out
    readme = (PACKAGE / "README.md").read_text(encoding="utf-8")
    assert printed.startswith("topology")
    assert printed in readme
