"""
The tracker's peer table under 10,000s of keys, each in a community id of its own (the worst case for memory):
registrations held, memory traced (tracemalloc) and time per request, quotas on and off.

    python sim-harness/benchmarks/tracker_table_memory.py [N]     # N keys, default 100000
"""

from __future__ import annotations

import sys
import time
import tracemalloc

from a27_harness.tracker import TrackerQuotas, TrackerTable


def main() -> None:
    """Register N keys in N community ids, with the default quotas and without, and print the figures."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    for name, quotas in (("on", TrackerQuotas()), ("off", TrackerQuotas.none())):
        table = TrackerTable(quotas)
        tracemalloc.start()
        started = time.perf_counter()
        for number in range(n):
            host = f"198.51.{number % 256}.{number // 256 % 256}"
            table.register(number.to_bytes(20, "big"), number.to_bytes(8, "big") * 4, (host, 9000), (host, 9000),
                           number / 1e4)
        used, _peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{n:,} keys in {n:,} community ids, quotas {name}: {len(table.overlays):,} overlays, "
              f"{len(table):,} peers, {used / 2**20:.1f} MiB, "
              f"{(time.perf_counter() - started) / n * 1e6:.0f} us per request (tracemalloc on)")


if __name__ == "__main__":
    main()
