"""The README's example is a real file; run it and check what it prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_ping_pong_example() -> None:
    output = subprocess.run(
        [sys.executable, str(EXAMPLES / "ping_pong.py")], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    assert output == [
        "pongs at t = 0.10, 1.10, 2.10, 3.10, 4.10, 5.10, 9.10, 10.10",
        "sent 19, delivered 16, dropped by the partition 3",
    ]


def test_the_readme_shows_the_example_file() -> None:
    readme = (EXAMPLES.parent / "README.md").read_text()
    example = (EXAMPLES / "ping_pong.py").read_text()
    assert f"```python\n{example}```" in readme
