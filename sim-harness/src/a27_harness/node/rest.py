"""
A real node's REST API over HTTP, served by IPv8's ``RESTManager`` under ``/a27`` (the ``[rest]`` table of its config).

The handlers parse and bound what comes in (hex of exact lengths, integers written as digits only, bodies of at most
``MAX_BODY`` bytes, JSON without NaN) and hand it to ``NodeApi``, which calls the layers. Every failure is a 4xx or 5xx
with a JSON body ``{"error": ..., "message": ...}``, never a traceback; a refused request changes nothing. The OpenAPI
document is ``/docs/swagger.json`` and its page ``/docs`` (IPv8's, served without the API key).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp_apispec import docs
from ipv8.REST.base_endpoint import BaseEndpoint, Response
from ipv8.REST.rest_manager import RESTManager

from a27_ledger import MAX_UINT64

from .api import MAX_PAGE, MAX_WAIT, ApiError, NodeApi
from .config import RestConfig

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler, Middleware

API_PREFIX = "/a27"
MAX_BODY = 4_096
"""Bytes a request body may have (a signed transfer is 159 bytes, 318 hex characters)."""
MAX_TIMEOUT = 300.0
"""Seconds a channel operation may be given to complete."""
_DIGITS = re.compile(r"[0-9]{1,20}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")

log = logging.getLogger("a27.rest")


def hex_bytes(what: str, text: object, length: int | None = None, limit: int = MAX_BODY) -> bytes:
    """``text`` as bytes from hex (``length`` bytes exactly if given); ApiError 400 naming ``what`` otherwise."""
    if not isinstance(text, str) or len(text) > 2 * limit or (length is not None and len(text) != 2 * length):
        size = f"{2 * length} hex characters" if length is not None else "hex"
        raise ApiError(400, "bad hex", f"{what}: expected {size}")
    if not _HEX.fullmatch(text):  # bytes.fromhex would also take spaces
        raise ApiError(400, "bad hex", f"{what}: not hex")
    return bytes.fromhex(text)


def query_integer(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """The query parameter ``name`` as an integer from ``low`` to ``high`` in digits only (no sign, NaN, 1e3)."""
    text = request.query.get(name)
    if text is None:
        return default
    if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
        raise ApiError(400, "bad parameter", f"{name}: expected an integer from {low:,} to {high:,}, got {text[:40]!r}")
    return int(text)


def body_integer(body: dict[str, Any], name: str, low: int, high: int = MAX_UINT64, default: int | None = None) -> int:
    """The JSON field ``name`` as an integer from ``low`` to ``high`` (not a float, a boolean or a string)."""
    value = body.get(name, default)
    if type(value) is not int or not low <= value <= high:
        raise ApiError(400, "bad parameter", f"{name}: expected an integer from {low:,} to {high:,}")
    return value


def _no_constant(text: str) -> None:
    raise ValueError(f"{text} is not a JSON number")


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's body as a JSON object of at most ``MAX_BODY`` bytes; ApiError 413 or 400 otherwise."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "body too large", f"a request body has at most {MAX_BODY:,} bytes")
    body = bytearray()
    while chunk := await request.content.read(MAX_BODY + 1 - len(body)):
        body += chunk
        if len(body) > MAX_BODY:
            raise ApiError(413, "body too large", f"a request body has at most {MAX_BODY:,} bytes")
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "bad json", "the body is not a JSON object") from None
    if not isinstance(document, dict):
        raise ApiError(400, "bad json", "the body is not a JSON object")
    return document


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every failure as JSON: ApiError with its status, HTTP errors (404, 405) as they are, others as 500."""
    try:
        return await handler(request)
    except ApiError as error:
        return Response(error.as_json(), status=error.status)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return Response({"error": error.reason.lower(), "message": f"{request.method} {request.path}: {error.reason}"},
                        status=error.status)
    except Exception:
        log.exception("REST %s %s failed", request.method, request.path)
        return Response({"error": "internal error", "message": "the node could not answer; see its log"}, status=500)


ACCOUNT = {"in": "path", "name": "account", "type": "string", "required": True,
           "description": "an account: its public key, 64 hex characters"}
TX_ID = {"in": "path", "name": "tx_id", "type": "string", "required": True,
         "description": "a transaction id, 64 hex characters"}
CHANNEL_ID = {"in": "path", "name": "channel_id", "type": "string", "required": True,
              "description": "one of this node's channels, 64 hex characters"}


def _body(description: str, **properties: dict[str, str]) -> dict[str, Any]:
    return {"in": "body", "name": "body", "required": True, "description": description,
            "schema": {"type": "object", "properties": properties}}


class A27Endpoint(BaseEndpoint[NodeApi]):
    """The ``/a27`` routes: node status, accounts, blocks, a checkpoint, transactions, submissions and the node's
    channels."""

    def __init__(self, api_key: str | None = None) -> None:
        """Create the routes; the channel operations need ``api_key`` (they are refused when it is None)."""
        self.api_key = api_key
        super().__init__()

    def setup_routes(self) -> None:
        """Register the routes."""
        self.app.add_routes([
            web.get("/status", self.get_status),
            web.get("/accounts/{account}", self.get_account),
            web.get("/accounts/{account}/history", self.get_history),
            web.get("/blocks", self.get_blocks),
            web.get("/blocks/{height}", self.get_block),
            web.get("/checkpoint", self.get_checkpoint),
            web.get("/transactions/{tx_id}", self.get_transaction),
            web.post("/transactions", self.post_transaction),
            web.get("/channels", self.get_channels),
            web.post("/channels", self.post_channel),
            web.post("/channels/{channel_id}/pay", self.post_pay),
            web.post("/channels/{channel_id}/close", self.post_close),
            web.get("/route", self.get_route),
            web.post("/invoices", self.post_invoice),
            web.post("/payments", self.post_payment),
        ])

    @property
    def api(self) -> NodeApi:
        """The node's API (the REST manager's session)."""
        assert self.session is not None
        return self.session

    def _spending(self, request: web.Request) -> None:
        """Refuse an operation that spends the node's funds unless the API key is set and given."""
        if self.api_key is None:
            raise ApiError(403, "no api key", "channel operations spend the node's funds: set [rest] api_key in its "
                                              "config to allow them")
        given = request.headers.get("X-Api-Key") or request.query.get("apikey") or ""
        if not hmac.compare_digest(given.encode(), self.api_key.encode()):
            raise ApiError(401, "unauthorized", "this operation needs the node's API key (header X-Api-Key)")

    @docs(tags=["a27"], summary="The node's name, account, role, layers, height, peers, last finality time "
                                "(Unix seconds) and mempool size (null on a light node).",
          description="Fields: `name`, `account` (64 hex characters), `role` (validator or light), `layers`, "
                      "`height` (finalized; ledger only: transactions applied), `peers` (verified peers), "
                      "`peer_accounts` (their accounts, 64 hex characters each, sorted), `validator_peers` (of "
                      "them, validators of the next height; ledger only: genesis validators), `last_finality_time`, "
                      "`mempool_size`.")
    async def get_status(self, _request: web.Request) -> Response:
        """The node's status."""
        return Response(self.api.status())

    @docs(tags=["a27"], summary="An account's balance and next nonce.", parameters=[ACCOUNT])
    async def get_account(self, request: web.Request) -> Response:
        """An account's balance and next nonce (404 if the ledger never saw it)."""
        return Response(self.api.account(hex_bytes("account", request.match_info["account"], 32)))

    @docs(tags=["a27"], summary=f"An account's last transactions applied, oldest first (limit 1 to {MAX_PAGE}).",
          parameters=[ACCOUNT, {"in": "query", "name": "limit", "type": "integer", "default": 20}])
    async def get_history(self, request: web.Request) -> Response:
        """An account's last ``limit`` transactions."""
        account = hex_bytes("account", request.match_info["account"], 32)
        return Response({"transactions": self.api.history(account, query_integer(request, "limit", 20, 1, MAX_PAGE))})

    @docs(tags=["a27"], summary=f"Finalized blocks from height `start`, at most `count` (1 to {MAX_PAGE}).",
          parameters=[{"in": "query", "name": "start", "type": "integer", "required": True},
                      {"in": "query", "name": "count", "type": "integer", "default": 10}])
    async def get_blocks(self, request: web.Request) -> Response:
        """A bounded range of finalized blocks."""
        if "start" not in request.query:
            raise ApiError(400, "bad parameter", "start: the first height is required")
        start = query_integer(request, "start", 1, 1, MAX_UINT64)
        return Response({"blocks": self.api.blocks(start, query_integer(request, "count", 10, 1, MAX_PAGE))})

    @docs(tags=["a27"], summary="The finalized block at a height.",
          parameters=[{"in": "path", "name": "height", "type": "integer", "required": True}])
    async def get_block(self, request: web.Request) -> Response:
        """One finalized block."""
        text = request.match_info["height"]
        if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_UINT64:
            raise ApiError(400, "bad parameter", f"height: expected an integer from 1, got {text[:40]!r}")
        return Response(self.api.block(int(text)))

    @docs(tags=["a27"], summary="The last finalized block as a weak-subjectivity checkpoint for another node's "
                                "config (`[pos] checkpoint`): height, block id (hex) and `checkpoint`, the config "
                                "value \"<height>:<block id>\"; 404 before the first block.")
    async def get_checkpoint(self, _request: web.Request) -> Response:
        """The last finalized block as a checkpoint."""
        return Response(self.api.checkpoint())

    @docs(tags=["a27"], summary=f"A transaction's status, pending or final; with `wait` (seconds, up to "
                                f"{MAX_WAIT:.0f}) the answer waits while it is pending.",
          parameters=[TX_ID, {"in": "query", "name": "wait", "type": "integer", "default": 0}])
    async def get_transaction(self, request: web.Request) -> Response:
        """A transaction's status, optionally waiting for finality."""
        tx_id = hex_bytes("tx_id", request.match_info["tx_id"], 32)
        wait = query_integer(request, "wait", 0, 0, int(MAX_WAIT))
        return Response(await self.api.wait_final(tx_id, float(wait)))

    @docs(tags=["a27"], summary="Submit a signed transfer (its wire format, PROTOCOL.md \"Transactions\", in hex); "
                                "answered once a validator admitted it (pending) or refused it (422).",
          parameters=[_body("the signed transfer", transaction={"type": "string"})])
    async def post_transaction(self, request: web.Request) -> Response:
        """Submit a signed transfer."""
        body = await read_json(request)
        return Response(await self.api.submit(hex_bytes("transaction", body.get("transaction"))))

    @docs(tags=["a27"], summary="This node's open channels, and how many channels its graph knows (routes run over "
                                "those).")
    async def get_channels(self, _request: web.Request) -> Response:
        """This node's open channels and the size of its channel graph."""
        return Response({"channels": self.api.channels(), "graph_channels": self.api.graph_channels()})

    @docs(tags=["a27"], summary="Open a channel from this node to `peer` (needs the API key); answered once the "
                                "funding is final.",
          parameters=[_body("the channel", peer={"type": "string"}, deposit={"type": "integer"},
                            peer_deposit={"type": "integer"}, timeout={"type": "integer"})])
    async def post_channel(self, request: web.Request) -> Response:
        """Open a channel with this node's funds."""
        self._spending(request)
        body = await read_json(request)
        peer = hex_bytes("peer", body.get("peer"), 32)
        deposit = body_integer(body, "deposit", 1)
        peer_deposit = body_integer(body, "peer_deposit", 0, default=0)
        timeout = body_integer(body, "timeout", 1, int(MAX_TIMEOUT), default=60)
        return Response(await self.api.open_channel(peer, deposit, peer_deposit, float(timeout)))

    @docs(tags=["a27"], summary="Pay `amount` on one of this node's open channels (needs the API key).",
          parameters=[CHANNEL_ID, _body("the payment", amount={"type": "integer"}, timeout={"type": "integer"})])
    async def post_pay(self, request: web.Request) -> Response:
        """Pay on a channel."""
        self._spending(request)
        channel_id = hex_bytes("channel_id", request.match_info["channel_id"], 32)
        body = await read_json(request)
        amount = body_integer(body, "amount", 1)
        timeout = body_integer(body, "timeout", 1, int(MAX_TIMEOUT), default=30)
        return Response(await self.api.pay(channel_id, amount, float(timeout)))

    @docs(tags=["a27"], summary="Close one of this node's channels cooperatively (needs the API key); answered once "
                                "the close is final.",
          parameters=[CHANNEL_ID, _body("options", timeout={"type": "integer"})])
    async def post_close(self, request: web.Request) -> Response:
        """Close a channel."""
        self._spending(request)
        channel_id = hex_bytes("channel_id", request.match_info["channel_id"], 32)
        body = await read_json(request)
        timeout = body_integer(body, "timeout", 1, int(MAX_TIMEOUT), default=60)
        return Response(await self.api.close_channel(channel_id, float(timeout)))


    @docs(tags=["a27"], summary="The route a payment of `amount` to `payee` would take from this node now: the hops' "
                                "accounts and the fees (422 when there is none).",
          parameters=[{"in": "query", "name": "payee", "type": "string", "required": True},
                      {"in": "query", "name": "amount", "type": "integer", "required": True}])
    async def get_route(self, request: web.Request) -> Response:
        """The route a payment would take."""
        payee = hex_bytes("payee", request.query.get("payee"), 32)
        if "amount" not in request.query:
            raise ApiError(400, "bad parameter", "amount: the amount to route is required")
        return Response(self.api.route(payee, query_integer(request, "amount", 1, 1, MAX_UINT64)))

    @docs(tags=["a27"], summary="Create an invoice of this node for `amount` (needs the API key): payee, amount and "
                                "payment hash, what a payer's node needs.",
          parameters=[_body("the invoice", amount={"type": "integer"})])
    async def post_invoice(self, request: web.Request) -> Response:
        """Create an invoice."""
        self._spending(request)
        body = await read_json(request)
        return Response(self.api.create_invoice(body_integer(body, "amount", 1)))

    @docs(tags=["a27"], summary="Pay another node's invoice over a route of channels (needs the API key); answered "
                                "once the payment succeeded (its route) or failed (its cause).",
          parameters=[_body("the invoice to pay", payee={"type": "string"}, amount={"type": "integer"},
                            payment_hash={"type": "string"}, timeout={"type": "integer"})])
    async def post_payment(self, request: web.Request) -> Response:
        """Pay an invoice."""
        self._spending(request)
        body = await read_json(request)
        payee = hex_bytes("payee", body.get("payee"), 32)
        payment_hash = hex_bytes("payment_hash", body.get("payment_hash"), 32)
        amount = body_integer(body, "amount", 1)
        timeout = body_integer(body, "timeout", 1, int(MAX_TIMEOUT), default=120)
        return Response(await self.api.send_payment(payee, amount, payment_hash, float(timeout)))


def root_endpoint_class(api_key: str | None,
                        extra: Mapping[str, BaseEndpoint[Any]] | None = None) -> type[BaseEndpoint[NodeApi]]:
    """The REST manager's root endpoint: ``/a27`` (``A27Endpoint``), the ``extra`` endpoints by path (the referee's
    ``/battle``) and JSON errors everywhere."""

    class A27RootEndpoint(BaseEndpoint[NodeApi]):
        """The root of a node's REST API."""

        def __init__(self, middlewares: Iterable[Middleware] = ()) -> None:
            """Add ``json_errors`` innermost: IPv8's error middleware would print a traceback and answer 500."""
            super().__init__([*middlewares, json_errors])

        def setup_routes(self) -> None:
            """Mount ``/a27`` and the extra endpoints."""
            self.add_endpoint(API_PREFIX, A27Endpoint(api_key))
            for path, endpoint in (extra or {}).items():
                self.add_endpoint(path, endpoint)

    return A27RootEndpoint


async def start_rest(api: NodeApi, rest: RestConfig,
                     extra: Mapping[str, BaseEndpoint[Any]] | None = None) -> RESTManager:
    """
    Serve ``api`` where ``rest`` says, with the ``extra`` endpoints by path; stop it with ``RESTManager.stop``.

    :raises OSError: when the TCP port cannot be bound.
    """
    manager = RESTManager(api, root_endpoint_class=root_endpoint_class(rest.api_key, extra))
    await manager.start(port=rest.port, host=rest.address, api_key=rest.api_key)
    return manager
