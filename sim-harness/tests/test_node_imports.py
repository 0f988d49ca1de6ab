"""A node process imports no plotting or statistics: those belong to reports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("matplotlib", "scipy")


@pytest.mark.parametrize("modules", ["a27_harness.node", "a27_harness.node, a27_harness.scenario, a27_harness"])
def test_importing_the_node_code_loads_no_plotting_or_statistics(modules: str) -> None:
    code = (f"import sys, json, {modules}\n"
            f"print(json.dumps(sorted(name for name in {HEAVY!r} if name in sys.modules)))")
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(finished.stdout) == []


def test_every_public_name_of_the_package_resolves() -> None:
    import a27_harness  # noqa: PLC0415 - the lazy names are what is tested

    assert all(getattr(a27_harness, name) is not None for name in a27_harness.__all__)
    with pytest.raises(AttributeError, match="no attribute 'lab4'"):
        _ = a27_harness.lab4
