"""The README's examples are real files: run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_udp_nodes_example_runs() -> None:
    result = subprocess.run([sys.executable, str(EXAMPLES / "udp_nodes.py")], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "alice -> bob 250: accepted" in result.stdout
    assert "bob" in result.stdout and "1250" in result.stdout
