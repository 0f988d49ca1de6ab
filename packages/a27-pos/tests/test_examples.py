"""The README's example is a real file: run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_stake_weights() -> None:
    result = subprocess.run([sys.executable, str(EXAMPLES / "stake_weights.py")], capture_output=True, text=True,
                            timeout=60, check=True)
    lines = result.stdout.splitlines()
    assert lines[0] == "weighted-round-robin: 111 blocks, transfer final after 0.00 s"
    assert lines[1] == "  n0 alone holds more than 2/3 of the stake: its votes finalize blocks by themselves"
    assert lines[3] == "  n0           76.9%   77.5%    1008602"
    assert lines[7].startswith("lottery: 113 blocks,")
    assert len(lines) == 14
