"""
Requests per second of a real node's REST API, beside a bare aiohttp route served the same way, in one run.

One validator and one light node run on 127.0.0.1 UDP in this process (SQLite stores in a temporary folder); the
light node serves its API (``start_rest``, with an API key, as ``a27 node run`` does). Concurrent clients (aiohttp,
same process and loop) then, for ``--seconds`` each:

- ``baseline``: ``GET`` a bare aiohttp route answering a small JSON object (its own ``AppRunner`` and ``TCPSite``);
- ``status``: ``GET /a27/status``;
- ``submit``: ``POST /a27/transactions`` with transfers signed beforehand (one per funded account, nonce 0), each
  answered once the validator admitted it over UDP (the node's ``SubmitTransaction`` round trip included).

Figures depend on the machine and its load; the ratio to the baseline less so.

    python sim-harness/benchmarks/rest.py                      # 3 s per measurement, 16 clients
    python sim-harness/benchmarks/rest.py --seconds 10 --clients 32
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from a27_harness.node import LIGHT, VALIDATOR, NodeSpec, Stores, UdpRuntime, build_node, walk_to_all
from a27_harness.node.api import NodeApi
from a27_harness.node.config import RestConfig
from a27_harness.node.rest import start_rest
from a27_ledger import KeyPair, sign_transfer
from a27_pos.testing import make_pos_genesis

API_KEY = "benchmark"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _measure(clients: int, seconds: float, request: Callable[[int], Awaitable[bool]]) -> tuple[float, int]:
    """Requests per second of ``clients`` loops calling ``request(i)`` for ``seconds``; and the failures."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    counter = iter(range(10**9))
    done = failed = 0

    async def client() -> None:
        nonlocal done, failed
        while loop.time() < deadline:
            ok = await request(next(counter))
            done += 1
            failed += not ok

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return done / (time.perf_counter() - started), failed


async def main(seconds: float, clients: int, accounts: int) -> None:
    """Start the nodes and the baseline, measure, print one line per measurement."""
    senders = [KeyPair.from_seed(index.to_bytes(32, "big")) for index in range(1, accounts + 1)]
    keys = [KeyPair.from_seed(bytes([0xF0 + index]) * 32) for index in range(2)]
    genesis = make_pos_genesis([*keys, *senders], [10_000])
    recipient = keys[1].public_key
    transfers = [sign_transfer(sender, recipient, 1, 0).encode().hex() for sender in senders]
    with tempfile.TemporaryDirectory() as folder:
        stores = Stores(Path(folder))
        validator = await build_node(NodeSpec("v0", keys[0], VALIDATOR, ("ledger", "pos")), genesis, UdpRuntime(),
                                     stores=stores)
        light = await build_node(NodeSpec("l0", keys[1], LIGHT, ("ledger", "pos")), genesis, UdpRuntime(),
                                 stores=stores, settings={"pos": {"validator": False}})
        walk_to_all([validator, light])
        while not light.pos.validator_peers():
            await asyncio.sleep(0.05)
        api = NodeApi(light)
        api.start()
        port = _free_port()
        manager = await start_rest(api, RestConfig("127.0.0.1", port, API_KEY))
        bare = web.Application()

        async def hello(_request: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        bare.add_routes([web.get("/hello", hello)])
        runner = web.AppRunner(bare, access_log=None)
        await runner.setup()
        bare_port = _free_port()
        await web.TCPSite(runner, "127.0.0.1", bare_port).start()
        try:
            async with aiohttp.ClientSession(headers={"X-Api-Key": API_KEY}) as session:
                async def get(url: str) -> bool:
                    async with session.get(url) as answer:
                        await answer.read()
                        return answer.status == 200

                async def submit(index: int) -> bool:
                    if index >= len(transfers):
                        await asyncio.sleep(0.01)
                        return False
                    async with session.post(f"http://127.0.0.1:{port}/a27/transactions",
                                            json={"transaction": transfers[index]}) as answer:
                        await answer.read()
                        return answer.status == 200

                print(f"{clients} clients, {seconds:g} s each, one process (server and clients share a loop)")
                for name, request in (
                        ("baseline (bare aiohttp GET /hello)", lambda _: get(f"http://127.0.0.1:{bare_port}/hello")),
                        ("GET /a27/status", lambda _: get(f"http://127.0.0.1:{port}/a27/status")),
                        ("POST /a27/transactions (admitted)", submit)):
                    rate, failed = await _measure(clients, seconds, request)
                    print(f"{name:<38} {rate:>9,.0f} requests/s  ({failed} failed)")
        finally:
            await runner.cleanup()
            await manager.stop()
            api.close()
            await light.stop()
            await validator.stop()
            stores.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per measurement (default 3)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--accounts", type=int, default=5_000,
                        help="funded senders, one signed transfer each (default 5000: more than submit uses)")
    options = parser.parse_args()
    asyncio.run(main(options.seconds, options.clients, options.accounts))
