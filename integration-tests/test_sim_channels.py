"""Lab 3 end to end in simulation: the full stack with payment channels, under loss, repeated across hash seeds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from a27_harness import SimScenario
from a27_harness.labs.lab3 import run_lab3
from a27_harness.reports.lab3 import format_terminal

CHANNELS = {"layers": "ledger,pos,channels", "validators": 4, "light_nodes": 8, "payments": 24}

PRINT_RUN = """
import sys
from a27_harness import SimScenario
from a27_harness.reports.lab3 import format_terminal
from a27_harness.labs.lab3 import run_lab3
result = run_lab3(SimScenario(seed=11, layers="ledger,pos,channels", validators=4, light_nodes=6, payments=16))
print(format_terminal(result))
sys.exit(0 if result.ok else 1)
"""


def test_off_chain_payments_are_what_the_chain_pays_out() -> None:
    result = run_lab3(SimScenario(seed=2, **CHANNELS))
    assert result.ok, format_terminal(result)
    routed = [payment for payment in result.payments if payment.kind == "routed" and payment.outcome == "succeeded"]
    assert {payment.hops for payment in routed} >= {2, 3}
    fees = sum(payment.fees for payment in routed)
    assert fees > 0
    forwarded = sum(fee for payment in routed for _forwarder, fee in payment.forwarders)
    assert forwarded == fees
    assert sum(line.outcome == "unilateral" for line in result.channels) == 1
    snapshot = result.snapshot
    assert snapshot.total_supply == sum(amount for _account, amount in snapshot.balances) + sum(
        amount for _name, _key, amount in snapshot.escrows)


def test_payments_that_exceed_every_channel_fail_with_their_cause() -> None:
    result = run_lab3(SimScenario(seed=6, overdraft_probability=0.3, **CHANNELS))
    assert result.ok, format_terminal(result)
    failed = [payment for payment in result.payments if payment.outcome == "failed"]
    assert failed
    assert all(payment.amount > result.scenario.channel_deposit for payment in failed)
    assert {payment.cause for payment in failed} <= {"no path", "insufficient channel balance"}


def test_five_percent_loss_still_settles_every_channel() -> None:
    result = run_lab3(SimScenario(seed=9, loss=0.05, **CHANNELS))
    assert result.ok, format_terminal(result)
    assert result.network["totals"]["dropped"]["messages"] > 0


def test_the_same_seed_prints_the_same_bytes_across_hash_seeds(tmp_path: Path) -> None:
    runs = []
    for hash_seed in ("1", "2"):
        environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
        runs.append(subprocess.run([sys.executable, "-c", PRINT_RUN], cwd=tmp_path, env=environment,
                                   capture_output=True, text=True, check=False, timeout=600))
    assert runs[0].returncode == 0, runs[0].stdout + runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    assert "VERDICT: OK" in runs[0].stdout
