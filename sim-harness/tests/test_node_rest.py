"""The REST API of a real node: real UDP nodes on 127.0.0.1 (a validator and a light node), SQLite stores, HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from ipv8.REST.rest_manager import RESTManager

from a27_harness.entry import main
from a27_harness.node import LIGHT, VALIDATOR, NodeSpec, Stores, UdpRuntime, build_node, walk_to_all
from a27_harness.node.api import MAX_PAGE, NodeApi
from a27_harness.node.config import RestConfig
from a27_harness.node.rest import API_PREFIX, MAX_BODY, start_rest
from a27_ledger import SIGNING_DOMAIN, KeyPair, account_of, sign_transfer
from a27_pos.testing import make_pos_genesis

API_KEY = "test-key"
WALLET = KeyPair.from_seed(bytes(range(32)))
OTHER = KeyPair.from_seed(bytes(range(1, 33)))


def _free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@attrs.define
class Rest:
    """A running validator and light node; HTTP requests go to the light node's API."""

    session: aiohttp.ClientSession
    url: str
    api: NodeApi
    manager: RESTManager

    def routes(self) -> set[tuple[str, str]]:
        """Every (method, path) the API serves under its prefix."""
        assert self.manager.root_endpoint is not None
        endpoint = self.manager.root_endpoint.endpoints[API_PREFIX]
        return {(route.method, route.resource.canonical if route.resource else "")
                for route in endpoint.app.router.routes() if route.method != "HEAD"}

    async def call(self, method: str, path: str, *, key: str | None = API_KEY, **options: Any) -> tuple[int, Any]:
        """The status and JSON body of a request to ``/a27<path>``."""
        headers = {"X-Api-Key": key} if key is not None else {}
        async with self.session.request(method, self.url + API_PREFIX + path, headers=headers, **options) as answer:
            return answer.status, await answer.json(content_type=None)


@contextlib.asynccontextmanager
async def running(tmp_path: Path, api_key: str | None = API_KEY,
                  layers: tuple[str, ...] = ("ledger", "pos")) -> AsyncIterator[Rest]:
    """A validator (all the stake) and a light node on UDP, the light node's REST API served, the wallet funded."""
    keys = [KeyPair.from_seed(bytes([index]) * 32) for index in range(2)]
    genesis = make_pos_genesis([*keys, WALLET], [10_000])
    stores = Stores(tmp_path)
    validator = await build_node(NodeSpec("v0", keys[0], VALIDATOR, layers), genesis, UdpRuntime(),
                                 stores=stores)
    light = await build_node(NodeSpec("l0", keys[1], LIGHT, layers), genesis, UdpRuntime(), stores=stores,
                             settings={"pos": {"validator": False}})
    walk_to_all([validator, light])
    api = NodeApi(light)
    api.start()
    port = _free_tcp_port()
    manager = await start_rest(api, RestConfig("127.0.0.1", port, api_key))
    try:
        for _ in range(100):
            if light.pos.validator_peers():
                break
            await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as session:
            yield Rest(session, f"http://127.0.0.1:{port}", api, manager)
    finally:
        await manager.stop()
        api.close()
        await light.stop()
        await validator.stop()
        stores.close()


def run(tmp_path: Path, test: Callable[[Rest], Awaitable[None]], api_key: str | None = API_KEY,
        layers: tuple[str, ...] = ("ledger", "pos")) -> None:
    """Run ``test`` against a fresh network."""
    async def main() -> None:
        async with running(tmp_path, api_key, layers) as rest:
            await test(rest)

    asyncio.run(main())


def _transfer(nonce: int, amount: int = 100, key: KeyPair = WALLET) -> str:
    return sign_transfer(key, OTHER.public_key, amount, nonce).encode().hex()


@pytest.mark.timeout(60)
def test_a_submitted_transfer_becomes_final_and_moves_the_balances(tmp_path: Path) -> None:
    async def test(rest: Rest) -> None:
        status, before = await rest.call("GET", f"/accounts/{WALLET.public_key.hex()}")
        assert (status, before["balance"], before["nonce"]) == (200, 1_000_000, 0)
        status, answer = await rest.call("POST", "/transactions", json={"transaction": _transfer(0)})
        assert status == 200, answer
        assert answer["status"] in {"pending", "final"}
        tx_id = answer["tx_id"]
        status, final = await rest.call("GET", f"/transactions/{tx_id}?wait=20")
        assert (status, final["status"]) == (200, "final"), final
        status, block = await rest.call("GET", f"/blocks/{final['height']}")
        assert status == 200
        assert [tx["tx_id"] for tx in block["transactions"]] == [tx_id]
        assert block["transactions"][0]["amount"] == 100
        status, after = await rest.call("GET", f"/accounts/{WALLET.public_key.hex()}")
        assert (after["balance"], after["nonce"]) == (1_000_000 - 100, 1)
        status, history = await rest.call("GET", f"/accounts/{OTHER.public_key.hex()}/history?limit=5")
        assert status == 200
        assert [(entry["tx_id"], entry["recipient"]) for entry in history["transactions"]] == [
            (tx_id, OTHER.public_key.hex())]
        status, node = await rest.call("GET", "/status")
        assert status == 200
        assert node["role"] == "light" and node["height"] >= final["height"] and node["peers"] >= 1
        status, checkpoint = await rest.call("GET", "/checkpoint")
        assert status == 200
        head = rest.api.node.pos.chain
        assert checkpoint["height"] >= final["height"]
        assert checkpoint["block_id"] == head.block(checkpoint["height"]).block_id.hex()
        assert checkpoint["checkpoint"] == f"{checkpoint['height']}:{checkpoint['block_id']}"
        # `a27 wallet checkpoint` prints the config line from the same endpoint (its client blocks: another thread).
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            command = ["wallet", "checkpoint", "--node", rest.url, "--api-key", API_KEY]
            assert await asyncio.to_thread(main, command) == 0
        assert re.fullmatch(r'checkpoint = "(\d+):([0-9a-f]{64})"\n', printed.getvalue())
        assert node["mempool_size"] is None and node["last_finality_time"] > 0
        # Its one peer is the validator (``running``'s first key), by account.
        validator = KeyPair.from_seed(bytes([0]) * 32).public_key.hex()
        assert (node["peer_accounts"], node["validator_peers"]) == ([validator], 1)

        # The same transfer again is answered as final; another one with its nonce (a replay) is refused by the
        # validator with its code, as is an overdraft; nothing changes.
        status, again = await rest.call("POST", "/transactions", json={"transaction": _transfer(0)})
        assert (status, again["status"], again["tx_id"]) == (200, "final", tx_id)
        status, replay = await rest.call("POST", "/transactions", json={"transaction": _transfer(0, 101)})
        assert (status, replay["error"]) == (422, "nonce already used"), replay
        status, overdraft = await rest.call("POST", "/transactions", json={"transaction": _transfer(1, 10**9)})
        assert (status, overdraft["error"], overdraft["code"]) == (422, "insufficient balance", 5), overdraft
        status, unchanged = await rest.call("GET", f"/accounts/{WALLET.public_key.hex()}")
        assert (unchanged["balance"], unchanged["nonce"]) == (1_000_000 - 100, 1)

    run(tmp_path, test)


BAD_REQUESTS = [
    ("POST", "/transactions", {"data": b"{"}, 400, "bad json"),
    ("POST", "/transactions", {"json": {"transaction": "zz"}}, 400, "bad hex"),
    ("POST", "/transactions", {"json": {"transaction": " 00"}}, 400, "bad hex"),
    ("POST", "/transactions", {"json": {"transaction": 12}}, 400, "bad hex"),
    ("POST", "/transactions", {"json": {"transaction": "00" * 20}}, 400, "malformed transaction"),
    ("POST", "/transactions", {"data": b"x" * (MAX_BODY + 1)}, 413, "body too large"),
    ("POST", "/transactions", {"data": b'{"transaction": NaN}'}, 400, "bad json"),
    ("GET", "/accounts/" + "00" * 32, {}, 404, "unknown account"),
    ("GET", "/accounts/nan", {}, 400, "bad hex"),
    ("GET", "/accounts/" + "00" * 32 + "/history?limit=nan", {}, 400, "bad parameter"),
    ("GET", "/blocks?start=0&count=1", {}, 400, "bad parameter"),
    ("GET", f"/blocks?start=1&count={MAX_PAGE + 1}", {}, 400, "bad parameter"),
    ("GET", "/blocks?start=-1", {}, 400, "bad parameter"),
    ("GET", "/blocks?start=nan", {}, 400, "bad parameter"),
    ("GET", "/blocks?start=1e3", {}, 400, "bad parameter"),
    ("GET", "/blocks", {}, 400, "bad parameter"),
    ("GET", "/blocks/nan", {}, 400, "bad parameter"),
    ("GET", f"/blocks/{2**64}", {}, 400, "bad parameter"),
    ("GET", f"/blocks/{2**64 - 1}", {}, 404, "unknown block"),
    ("GET", "/transactions/" + "ab" * 32, {}, 404, "unknown transaction"),
    ("GET", "/transactions/" + "ab" * 32 + "?wait=31", {}, 400, "bad parameter"),
    ("GET", "/nowhere", {}, 404, "not found"),
    ("DELETE", "/status", {}, 405, "method not allowed"),
    ("GET", "/channels", {}, 409, "layer not running"),
]


@pytest.mark.timeout(60)
def test_bad_requests_get_a_json_error_and_change_nothing(tmp_path: Path) -> None:
    async def test(rest: Rest) -> None:
        _, before = await rest.call("GET", f"/accounts/{WALLET.public_key.hex()}")
        for method, path, options, expected_status, expected_error in BAD_REQUESTS:
            status, answer = await rest.call(method, path, **options)
            assert (status, answer["error"]) == (expected_status, expected_error), (method, path, answer)
            assert "Traceback" not in answer["message"]
        # A transfer with a broken signature, and one signed by another key than its sender's.
        good = bytearray(bytes.fromhex(_transfer(0)))
        good[-1] ^= 1
        status, answer = await rest.call("POST", "/transactions", json={"transaction": good.hex()})
        assert (status, answer["error"]) == (400, "bad signature")
        unsigned = bytes.fromhex(_transfer(0))[:-64]
        forged = unsigned + OTHER.sign(SIGNING_DOMAIN + unsigned)
        status, answer = await rest.call("POST", "/transactions", json={"transaction": forged.hex()})
        assert (status, answer["error"]) == (400, "bad signature")
        _, after = await rest.call("GET", f"/accounts/{WALLET.public_key.hex()}")
        assert after == before
        assert rest.api.node.pos.stats["submitted"] == 0

    run(tmp_path, test)


@pytest.mark.timeout(60)
def test_the_api_key_is_required_and_channel_operations_are_refused_without_one(tmp_path: Path) -> None:
    async def with_key(rest: Rest) -> None:
        status, answer = await rest.call("GET", "/status", key=None)
        assert (status, answer["error"]) == (401, "Unauthorized access")
        status, answer = await rest.call("GET", "/status", key="wrong")
        assert status == 401

    async def without_key(rest: Rest) -> None:
        status, _ = await rest.call("GET", "/status", key=None)
        assert status == 200
        for path in ("/channels", "/channels/" + "00" * 32 + "/pay", "/channels/" + "00" * 32 + "/close",
                     "/invoices", "/payments"):
            status, answer = await rest.call("POST", path, key=None, json={"amount": 1})
            assert (status, answer["error"]) == (403, "no api key"), path

    run(tmp_path / "with", with_key)
    run(tmp_path / "without", without_key, api_key=None)


@pytest.mark.timeout(60)
def test_every_route_is_in_the_openapi_document_and_the_docs_page_is_served(tmp_path: Path) -> None:
    async def test(rest: Rest) -> None:
        async with rest.session.get(rest.url + "/docs/swagger.json") as answer:
            assert answer.status == 200
            document = await answer.json()
        routes = rest.routes()
        documented = {(method.upper(), path) for path, methods in document["paths"].items() for method in methods}
        assert routes <= documented, routes - documented
        assert len(routes) == 15
        async with rest.session.get(rest.url + "/docs") as answer:
            assert answer.status == 200
            assert "swagger" in (await answer.text()).lower()

    run(tmp_path, test)


@pytest.mark.timeout(90)
def test_the_nodes_own_channel_is_opened_paid_on_and_closed_through_the_api(tmp_path: Path) -> None:
    async def test(rest: Rest) -> None:
        node = rest.api.node
        validator = next(peer for peer in node.pos.validator_peers())
        peer = account_of(validator.public_key.key_to_bin())
        _, before = await rest.call("GET", f"/accounts/{node.spec.key.public_key.hex()}")
        status, answer = await rest.call("POST", "/channels", key="wrong", json={"peer": peer.hex(), "deposit": 1})
        assert status == 401
        status, answer = await rest.call("POST", "/channels", json={"peer": peer.hex(), "deposit": 0})
        assert (status, answer["error"]) == (400, "bad parameter")
        status, answer = await rest.call("POST", "/channels/" + "00" * 32 + "/pay", json={"amount": 5})
        assert (status, answer["error"]) == (422, "unknown channel")
        assert not node.channels._direct  # a refused payment leaves nothing waiting
        status, opened = await rest.call("POST", "/channels", json={"peer": peer.hex(), "deposit": 1_000,
                                                                   "timeout": 40})
        assert (status, opened["status"]) == (200, "open"), opened
        channel_id = opened["channel_id"]
        status, listing = await rest.call("GET", "/channels")
        assert [(entry["channel_id"], entry["balance"]) for entry in listing["channels"]] == [(channel_id, 1_000)]
        assert listing["graph_channels"] == 1  # its own: the only channel of this network
        status, route = await rest.call("GET", f"/route?payee={peer.hex()}&amount=100")
        assert (status, route) == (200, {"route": [peer.hex()], "fees": 0}), route
        status, answer = await rest.call("GET", f"/route?payee={'ab' * 32}&amount=100")
        assert (status, answer["error"]) == (422, "no route"), answer
        status, invoice = await rest.call("POST", "/invoices", json={"amount": 50})
        assert status == 200 and (invoice["payee"], invoice["amount"]) == (node.spec.key.public_key.hex(), 50)
        assert len(bytes.fromhex(invoice["payment_hash"])) == 32
        unknown = {"payee": "ab" * 32, "amount": 5, "payment_hash": "cd" * 32, "timeout": 10}
        status, failed = await rest.call("POST", "/payments", json=unknown)
        assert (status, failed["outcome"], failed["cause"]) == (200, "failed", "no path"), failed
        status, answer = await rest.call("POST", "/payments", json={**unknown, "payment_hash": "cd"})
        assert (status, answer["message"]) == (400, "payment_hash: expected 64 hex characters"), answer
        status, paid = await rest.call("POST", f"/channels/{channel_id}/pay", json={"amount": 100})
        assert (status, paid["amount"]) == (200, 100), paid
        status, closed = await rest.call("POST", f"/channels/{channel_id}/close", json={"timeout": 40})
        assert (status, closed["outcome"]) == (200, "cooperative"), closed
        status, listing = await rest.call("GET", "/channels")
        assert listing["channels"] == []
        _, after = await rest.call("GET", f"/accounts/{node.spec.key.public_key.hex()}")
        assert before["balance"] - after["balance"] >= 100

    run(tmp_path, test, layers=("ledger", "pos", "channels"))
