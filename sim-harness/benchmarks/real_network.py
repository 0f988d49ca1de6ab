"""
Transfers final per second and finality latency (p50, p95) on a local real network beside the same workload in
simulation, in one run.

Real: 4 validators and one light node as ``a27 node run`` processes on 127.0.0.1 UDP (configs and genesis written
the way ``a27 node init | genesis`` write them, in a temporary folder); ``--senders`` funded accounts send transfers
through the light node's REST API, each one a closed loop: an exponential pause (mean ``--interval`` s, seeded), a
``POST /a27/transactions``, then ``GET /a27/transactions/{id}?wait=`` until the light node applied the final block.
Simulation: ``run_lab2`` with 4 validators and ``--senders`` light nodes, each the same closed loop (pause, submit,
wait until final), on a simulated latency of ``--latency``. Both count the transfers started within ``--seconds``
that became final, per second of the window, and their latency from submission to final.

Differences to keep in mind: the real latency includes the HTTP round trips and the REST polling; the real senders
share one light node; real processes share this machine's cores with each other and with the client.

    python sim-harness/benchmarks/real_network.py                       # 8 senders, mean pause 1 s, 20 s
    python sim-harness/benchmarks/real_network.py --senders 16 --interval 0.5 --seconds 30
"""

from __future__ import annotations

import argparse
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from a27_harness import SimScenario
from a27_harness.client import ClientError, NodeClient
from a27_harness.labs.common import latency_summary
from a27_harness.labs.lab2 import run_lab2
from a27_harness.node.config import RestConfig, load_config, load_or_create_key, render_config, render_genesis
from a27_harness.processes import free_ports
from a27_ledger import KeyPair, sign_transfer

A27 = [sys.executable, "-m", "a27_harness.entry"]
VALIDATORS = ("v0", "v1", "v2", "v3")
FUNDS = 10_000_000



def _write_network(root: Path, senders: list[KeyPair]) -> dict[str, int]:
    """Node folders and genesis for 4 validators and the light node ``l0``; the REST port of each node."""
    names = (*VALIDATORS, "l0")
    ports = dict(zip(names, free_ports(len(names), socket.SOCK_DGRAM), strict=True))
    rest_ports = dict(zip(names, free_ports(len(names), socket.SOCK_STREAM), strict=True))
    bootstrap = [f"127.0.0.1:{ports[name]}" for name in VALIDATORS]
    configs = []
    for name in names:
        folder = root / name
        folder.mkdir()
        text = render_config(name, "light" if name == "l0" else "validator", ["ledger", "pos"], ports[name],
                             bootstrap, rest=RestConfig("127.0.0.1", rest_ports[name]))
        (folder / "node.toml").write_text(text, encoding="utf-8")
        configs.append((load_config(folder / "node.toml"), load_or_create_key(folder / "key.bin")))
    funded = [(sender.public_key, FUNDS) for sender in senders]
    (root / "genesis.toml").write_text(render_genesis("a27-bench", configs, 1_000_000, 100_000, funded),
                                       encoding="utf-8")
    return rest_ports


def measure_real(senders: int, interval: float, seconds: float, seed: int) -> dict[str, float]:
    """The workload on real processes; final transfers per second, latency p50 and p95 (s), transfers final."""
    keys = [KeyPair.from_seed(seed.to_bytes(4, "big") + index.to_bytes(28, "big")) for index in range(senders)]
    recipient = KeyPair.from_seed(b"\xbe" * 32).public_key
    with tempfile.TemporaryDirectory(prefix="a27-bench-") as folder:
        root = Path(folder)
        rest_ports = _write_network(root, keys)
        processes: list[subprocess.Popen[bytes]] = []
        try:
            for name in rest_ports:
                with (root / f"{name}.log").open("wb") as log:
                    processes.append(subprocess.Popen([*A27, "node", "run", str(root / name / "node.toml")],
                                                      stdout=subprocess.DEVNULL, stderr=log))
            clients = {name: NodeClient(f"http://127.0.0.1:{port}", timeout=15.0) for name, port in rest_ports.items()}
            deadline = time.monotonic() + 60
            while True:  # warm-up: every node up and the chain at height 2
                try:
                    if all(int(client.status()["height"]) >= 2 for client in clients.values()):
                        break
                except ClientError:
                    pass
                if time.monotonic() > deadline or any(process.poll() is not None for process in processes):
                    raise SystemExit(f"the real network did not start; logs in {root}")
                time.sleep(0.2)
            latencies: list[float] = []
            failed: list[str] = []
            stop_at = time.monotonic() + seconds

            def sender(index: int, key: KeyPair) -> None:
                rng = random.Random(f"{seed}/{index}")
                nonce = 0
                light = clients["l0"]
                while True:
                    pause = rng.expovariate(1.0 / interval)
                    if time.monotonic() + pause >= stop_at:
                        return
                    time.sleep(pause)
                    transaction = sign_transfer(key, recipient, 1, nonce)
                    started = time.monotonic()
                    try:
                        light.request("POST", "/transactions", {"transaction": transaction.encode().hex()})
                        while time.monotonic() - started < 30:
                            answer = light.request("GET", f"/transactions/{transaction.tx_id.hex()}?wait=10")
                            if answer["status"] == "final":
                                latencies.append(time.monotonic() - started)
                                nonce += 1
                                break
                        else:
                            failed.append("not final within 30 s")
                            return
                    except ClientError as error:
                        failed.append(str(error))
                        return

            threads = [threading.Thread(target=sender, args=(index, key)) for index, key in enumerate(keys)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    summary = latency_summary(latencies)
    return {"final_tps": len(latencies) / seconds, "p50": summary.get("median", float("nan")),
            "p95": summary.get("p95", float("nan")), "final": float(len(latencies)), "failed": float(len(failed))}


def measure_simulated(senders: int, interval: float, seconds: float, seed: int, latency: str) -> dict[str, float]:
    """The same workload in simulation (``run_lab2``): the same figures."""
    result = run_lab2(SimScenario(validators=4, light_nodes=senders, duration=seconds, latency=latency,
                                  transfer_interval=interval, overdraft_probability=0.0, seed=seed))
    final = [record.latency for record in result.transfers if record.latency is not None]
    summary = latency_summary(final)
    return {"final_tps": len(final) / seconds, "p50": summary.get("median", float("nan")),
            "p95": summary.get("p95", float("nan")), "final": float(len(final)),
            "failed": float(len(result.transfers) - len(final))}


def main() -> None:
    """Measure both, print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--senders", type=int, default=8, help="sending accounts (default 8)")
    parser.add_argument("--interval", type=float, default=1.0, help="mean pause before each transfer, s (default 1)")
    parser.add_argument("--seconds", type=float, default=20.0, help="the window transfers start in, s (default 20)")
    parser.add_argument("--latency", default="uniform:0.0001,0.001",
                        help="the simulated link latency (default uniform:0.0001,0.001, about loopback's)")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    print(f"4 validators, {options.senders} senders, mean pause {options.interval:g} s, transfers started within "
          f"{options.seconds:g} s, seed {options.seed}")
    started = time.perf_counter()
    real = measure_real(options.senders, options.interval, options.seconds, options.seed)
    real_wall = time.perf_counter() - started
    started = time.perf_counter()
    simulated = measure_simulated(options.senders, options.interval, options.seconds, options.seed, options.latency)
    simulated_wall = time.perf_counter() - started
    print(f"{'':<34} {'final tx/s':>10} {'p50':>7} {'p95':>7} {'final':>6} {'failed':>6} {'wall':>6}")
    for name, figures, wall in (("real (127.0.0.1 UDP, REST)", real, real_wall),
                                (f"simulation ({options.latency})", simulated, simulated_wall)):
        print(f"{name:<34} {figures['final_tps']:>10.2f} {figures['p50']:>6.2f}s {figures['p95']:>6.2f}s "
              f"{figures['final']:>6.0f} {figures['failed']:>6.0f} {wall:>5.0f}s")


if __name__ == "__main__":
    main()
