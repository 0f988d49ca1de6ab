"""One seed fixes everything: identical traces and counters across runs and processes, different ones per seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from netsim_workload import gossip_run

TESTS = Path(__file__).parent


def test_the_same_seed_gives_the_same_trace_and_counters() -> None:
    first = gossip_run(21)
    assert gossip_run(21) == first
    counters = json.loads(first[1])
    assert counters["totals"]["delivered"]["messages"] > 200
    for cause in ("loss", "partition", "down"):
        assert counters["totals"]["dropped_by_cause"][cause]["messages"] > 0


def test_a_different_seed_gives_a_different_trace() -> None:
    assert gossip_run(21)[0] != gossip_run(22)[0]


def test_the_trace_does_not_depend_on_the_hash_seed_or_process() -> None:
    here = gossip_run(5)
    code = (
        f"import sys; sys.path.insert(0, {str(TESTS)!r}); from netsim_workload import gossip_run; "
        "digest, counters = gossip_run(5); print(digest); print(counters)"
    )
    for hash_seed in ("0", "4242"):
        environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
        output = subprocess.run(
            [sys.executable, "-c", code], env=environment, check=True, capture_output=True, text=True
        ).stdout.splitlines()
        assert (output[0], output[1]) == here
