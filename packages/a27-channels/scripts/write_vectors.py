"""Rewrite the channel golden vectors (tests/vectors/) from the test samples: only for a deliberate protocol change."""

from __future__ import annotations

import sys
from pathlib import Path

from a27_ledger import main_rewrite_vectors

if __name__ == "__main__":
    sys.exit(main_rewrite_vectors(Path(__file__).resolve().parent.parent / "tests", ["test_vectors", "test_payloads"]))
