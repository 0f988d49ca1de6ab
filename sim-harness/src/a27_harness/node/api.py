"""
What a real node's REST API reads and does (``NodeApi``), without HTTP: thin calls into the layers' cores and stores.

Every protocol decision stays in the layers: a submitted transfer goes to a validator exactly as a ``SubmitTransaction``
from the network (``PosCommunity.submit``), whose mempool admits or refuses it; finality is the node applying a
certified block (``PosCommunity.watch``); an admitted transfer is resubmitted to another validator while it is not final
(``PosCommunity.see_final``, ``pos.resubmit``), as a light node's own transfer is. What the API keeps itself is bounded:
the ids of the transactions in the blocks this node finalized lately (``final_index`` of them), the transfers submitted
through it and still pending, the submissions in flight and the requests waiting for finality. Results are JSON-ready
dictionaries; a request that cannot be served raises ``ApiError`` with the HTTP status, a short error name and a
message.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from a27_ledger import (
    LedgerError,
    NoValidator,
    Receipt,
    SubmissionTimeout,
    Transaction,
    Transfer,
    account_of,
    error_for_code,
)
from a27_pos import Block, CommitCertificate, TransactionRefused

from .builder import A27Node

MAX_PAGE = 50
"""Blocks, or history entries, one request returns at most."""
MAX_WAIT = 30.0
"""Seconds one request may wait for a transaction to become final."""
MAX_WAITERS = 1_000
"""Requests waiting for finality at once, at most."""
MAX_IN_FLIGHT = 256
"""Submissions waiting for a validator's answer at once, at most."""
FOLLOW_FOR = 120.0
"""Seconds the API sees a transfer admitted through it on to finality (``PosCommunity.see_final``: with
``pos.resubmit`` on it submits the transfer again to another validator every ``resubmit_after`` seconds, as a light
node does for its own), so that a validator that admits it and then censors it cannot hold it back."""
MAX_FOLLOWED = 1_000
"""Admitted transfers the API follows to finality at once, at most (more stay pending without resubmissions)."""
FINAL_INDEX = 100_000
"""Transaction ids of recently finalized blocks the API remembers (older ones are answered 404)."""
INDEX_AT_START = 1_000
"""Stored blocks, counted back from the head, whose transactions are indexed when the API starts."""
TRANSFER_KIND = 1

log = logging.getLogger("a27.rest")


class ApiError(Exception):
    """A request the API cannot serve: ``status`` (HTTP), ``error`` (a short name) and a message."""

    def __init__(self, status: int, error: str, message: str, **details: object) -> None:
        """Describe the failure; ``details`` go into the JSON answer beside ``error`` and ``message``."""
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.details = details

    def as_json(self) -> dict[str, object]:
        """The JSON body of the error answer."""
        return {"error": self.error, "message": self.message, **self.details}


def transaction_json(transaction: Transaction) -> dict[str, object]:
    """A transaction's envelope fields (and a transfer's recipient and amount) as JSON."""
    result: dict[str, object] = {"tx_id": transaction.tx_id.hex(), "kind": transaction.kind,
                                 "sender": transaction.sender.hex(), "nonce": transaction.nonce, "fee": transaction.fee}
    body = transaction.body
    if isinstance(body, Transfer):
        result["recipient"] = body.recipient.hex()
        result["amount"] = body.amount
    return result


def block_json(block: Block) -> dict[str, object]:
    """A finalized block's header fields and its transactions as JSON."""
    header = block.header
    return {"height": header.height, "block_id": block.block_id.hex(), "parent_id": header.parent_id.hex(),
            "round": header.round, "timestamp": header.timestamp / 1000, "proposer": header.proposer.hex(),
            "transactions": [transaction_json(transaction) for transaction in block.transactions]}


def _remember(memory: OrderedDict[bytes, Any], key: bytes, value: object, limit: int) -> None:
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > limit:
        memory.popitem(last=False)


class NodeApi:
    """One node's API: status, accounts, blocks, transactions, submissions and (with channels) its own channels."""

    def __init__(self, node: A27Node, *, final_index: int = FINAL_INDEX) -> None:
        """Serve ``node``; call ``start`` once its layers run and ``close`` before they stop."""
        self.node = node
        self.final_index = final_index
        self._final: OrderedDict[bytes, tuple[int, bytes]] = OrderedDict()
        self._pending: OrderedDict[bytes, bytes] = OrderedDict()
        """Transfers submitted through this API, admitted and not final here yet: tx id -> the admitting validator."""
        self._in_flight: dict[bytes, asyncio.Future[dict[str, object]]] = {}
        self._waiters: dict[bytes, int] = {}
        self._following: dict[bytes, asyncio.Task[Any]] = {}
        """Admitted transfers seen on to finality (``FOLLOW_FOR``): tx id -> the task resubmitting it."""

    @property
    def has_pos(self) -> bool:
        """Whether the node runs the PoS layer (blocks, submissions, finality)."""
        return "pos" in self.node.overlays

    def _need(self, layer: str) -> None:
        if layer not in self.node.overlays:
            raise ApiError(409, "layer not running", f"this node does not run the {layer} layer")

    def start(self) -> None:
        """Index the transactions of the latest stored blocks and follow the blocks this node finalizes."""
        if not self.has_pos:
            return
        chain = self.node.pos.chain
        for height in range(max(1, chain.height - INDEX_AT_START + 1), chain.height + 1):
            block = chain.block(height)
            if block is not None:
                self._index(block)
        self.node.pos.commit_listeners.append(self._on_commit)

    def close(self) -> None:
        """Stop following the chain and the transfers submitted through the API."""
        for task in list(self._following.values()):
            task.cancel()
        if self.has_pos and self._on_commit in self.node.pos.commit_listeners:
            self.node.pos.commit_listeners.remove(self._on_commit)

    def _index(self, block: Block) -> None:
        for transaction in block.transactions:
            tx_id = transaction.tx_id
            _remember(self._final, tx_id, (block.height, block.block_id), self.final_index)
            self._pending.pop(tx_id, None)

    def _on_commit(self, block: Block, _certificate: CommitCertificate, _receipts: Sequence[Receipt]) -> None:
        self._index(block)

    # Reading ----------------------------------------------------------------------------------------------------

    def _state(self) -> Any:  # a LedgerState: the chain's, or the Lab 1 ledger's
        return self.node.pos.chain.state if self.has_pos else self.node.ledger.state

    def height(self) -> int:
        """The finalized height (PoS), or the ledger transactions applied (ledger only)."""
        return self.node.pos.chain.height if self.has_pos else int(self._state().applied_count)

    def status(self) -> dict[str, object]:
        """The node's name, account, role, layers, height, verified peers (their number and accounts, and how many of
        them are validators), last finality time and mempool size."""
        last_finality: float | None = None
        mempool: int | None = None
        peers = self.node.network.verified_peers
        if self.has_pos:
            pos = self.node.pos
            head = pos.chain.block(pos.chain.height) if pos.chain.height else None
            last_finality = None if head is None else head.header.timestamp / 1000
            mempool = None if pos.mempool is None else len(pos.mempool)
            validator_peers = len(pos.validator_peers())
        else:
            anchors = self.node.ledger.anchor_accounts()
            validator_peers = sum(account_of(peer.public_key.key_to_bin()) in anchors for peer in peers)
        spec = self.node.spec
        return {"name": spec.name, "account": spec.key.public_key.hex(), "role": spec.role, "layers": list(spec.layers),
                "height": self.height(), "peers": len(peers),
                "peer_accounts": sorted(account_of(peer.public_key.key_to_bin()).hex() for peer in peers),
                "validator_peers": validator_peers, "last_finality_time": last_finality, "mempool_size": mempool}

    def account(self, account: bytes) -> dict[str, object]:
        """An account's balance and next nonce; 404 for an account the ledger never saw."""
        state = self._state()
        balance, nonce = int(state.balance(account)), int(state.next_nonce(account))
        if balance == 0 and nonce == 0:
            raise ApiError(404, "unknown account", f"no account {account.hex()} on this ledger")
        return {"account": account.hex(), "balance": balance, "nonce": nonce}

    def history(self, account: bytes, limit: int) -> list[dict[str, object]]:
        """The last ``limit`` transactions applied that involve ``account``, oldest first."""
        self.account(account)
        return [{"sequence": receipt.sequence, **transaction_json(receipt.tx)}
                for receipt in self._state().history(account, limit)]

    def block(self, height: int) -> dict[str, object]:
        """The finalized block at ``height``; 404 above the head."""
        self._need("pos")
        block = self.node.pos.chain.block(height) if 1 <= height <= self.node.pos.chain.height else None
        if block is None:
            raise ApiError(404, "unknown block", f"no finalized block at height {height} (head {self.height()})")
        return block_json(block)

    def checkpoint(self) -> dict[str, object]:
        """The last finalized block as a weak-subjectivity checkpoint (``[pos] checkpoint`` of another node's config):
        its height, block id and the config line; 404 before the first block."""
        self._need("pos")
        chain = self.node.pos.chain
        if chain.height == 0:
            raise ApiError(404, "unknown block", "no finalized block yet to checkpoint")
        checkpoint = chain.checkpoint_at()
        return {"height": checkpoint.height, "block_id": checkpoint.block_id.hex(), "checkpoint": str(checkpoint)}

    def blocks(self, start: int, count: int) -> list[dict[str, object]]:
        """The finalized blocks from ``start``, at most ``count`` (at most ``MAX_PAGE``); fewer at the head."""
        self._need("pos")
        end = min(start + count - 1, self.node.pos.chain.height)
        return [self.block(height) for height in range(start, end + 1)]

    def transaction(self, tx_id: bytes) -> dict[str, object]:
        """A transaction's status: final (height, block id), or pending (in the mempool or submitted here); else 404."""
        self._need("pos")
        final = self._final.get(tx_id)
        if final is not None:
            return {"tx_id": tx_id.hex(), "status": "final", "height": final[0], "block_id": final[1].hex()}
        mempool = self.node.pos.mempool
        if tx_id in self._pending or (mempool is not None and tx_id in mempool):
            return {"tx_id": tx_id.hex(), "status": "pending"}
        raise ApiError(404, "unknown transaction", f"transaction {tx_id.hex()} is neither pending here nor among the "
                                                   f"last {self.final_index:,} final ones")

    async def wait_final(self, tx_id: bytes, seconds: float) -> dict[str, object]:
        """The transaction's status once it is final here, or after ``seconds`` (at most ``MAX_WAIT``) if pending."""
        answer = self.transaction(tx_id)
        if answer["status"] == "final" or seconds <= 0:
            return answer
        if sum(self._waiters.values()) >= MAX_WAITERS:
            raise ApiError(503, "busy", f"{MAX_WAITERS:,} requests are waiting for finality already; retry later")
        future = self._start_waiting(tx_id)
        try:
            await asyncio.wait({future}, timeout=min(seconds, MAX_WAIT))
        finally:
            self._stop_waiting(tx_id, future)
        return self.transaction(tx_id)

    def _start_waiting(self, tx_id: bytes) -> asyncio.Future[Any]:
        """Watch ``tx_id`` for one more waiter (a request, or the API's own follow-up)."""
        self._waiters[tx_id] = self._waiters.get(tx_id, 0) + 1
        return self.node.pos.watch(tx_id)

    def _stop_waiting(self, tx_id: bytes, future: asyncio.Future[Any]) -> None:
        """One waiter less on ``tx_id`` (``future``: its watch); the last one stops the PoS layer watching it unless
        it is final."""
        self._waiters[tx_id] -= 1
        if not self._waiters[tx_id]:
            del self._waiters[tx_id]
            if not future.done():
                self.node.pos.unwatch(tx_id)

    # Submitting -------------------------------------------------------------------------------------------------

    def decode_transfer(self, raw: bytes) -> Transaction:
        """A signed transfer in its wire format (PROTOCOL.md, "Transactions"); 400 for anything else."""
        try:
            transaction = Transaction.decode(raw, self._state().registry)
        except LedgerError as error:
            raise ApiError(400, error.reason, str(error), code=error.code) from None
        if transaction.kind != TRANSFER_KIND:
            raise ApiError(400, "not a transfer", f"kind {transaction.kind}: only transfers (kind 1) are taken here")
        if not transaction.verify_signature():
            raise ApiError(400, "bad signature", "the signature does not verify with the sender's key")
        return transaction

    async def submit(self, raw: bytes) -> dict[str, object]:
        """
        Send a signed transfer to a validator as any node does (``PosCommunity.submit``) and return its answer.

        The same transfer submitted again while the first is in flight shares its answer; one already final here is
        answered as such. 422 when the validator refuses it (its code and reason), 503 when no validator is known or
        too many submissions are in flight, 504 when no validator answers.
        """
        self._need("pos")
        transaction = self.decode_transfer(raw)
        tx_id = transaction.tx_id
        if tx_id in self._final:
            return self.transaction(tx_id)
        running = self._in_flight.get(tx_id)
        if running is None:
            if len(self._in_flight) >= MAX_IN_FLIGHT:
                raise ApiError(503, "busy", f"{MAX_IN_FLIGHT} submissions are waiting for an answer; retry later")
            running = self._in_flight[tx_id] = asyncio.ensure_future(self._submit(transaction))
            running.add_done_callback(lambda _: self._in_flight.pop(tx_id, None))
        return await asyncio.shield(running)

    async def _submit(self, transaction: Transaction) -> dict[str, object]:
        pos = self.node.pos
        try:
            answer = await pos.submit(transaction)
        except NoValidator as error:
            raise ApiError(503, "no validator", str(error)) from None
        except SubmissionTimeout as error:
            raise ApiError(504, "no answer", str(error)) from None
        tx_id = transaction.tx_id
        if not answer.admitted:
            refusal = TransactionRefused(answer)
            raise ApiError(422, error_for_code(answer.code).reason, str(refusal), code=answer.code,
                           tx_id=tx_id.hex())
        if tx_id not in self._final:
            _remember(self._pending, tx_id, answer.validator, self.final_index)
            if tx_id not in self._following and len(self._following) < MAX_FOLLOWED:
                watched = self._start_waiting(tx_id)
                task = self._following[tx_id] = asyncio.ensure_future(pos.see_final(transaction, [answer.validator],
                                                                                    FOLLOW_FOR))
                task.add_done_callback(lambda done: self._followed(tx_id, watched, done))
        return {**self.transaction(tx_id), "validator": answer.validator.hex()}

    def _followed(self, tx_id: bytes, watched: asyncio.Future[Any], task: asyncio.Task[Any]) -> None:
        """The follow-up ``task`` of ``tx_id`` (its watch: ``watched``) ended: final, out of time, the API closed, or
        failed (one log line; the transfer stays pending)."""
        del self._following[tx_id]
        self._stop_waiting(tx_id, watched)
        if not task.cancelled() and task.exception() is not None:
            log.warning("following transaction %s to finality failed: %s", tx_id.hex()[:16], task.exception())

    # Channels ---------------------------------------------------------------------------------------------------

    def channels(self) -> list[dict[str, object]]:
        """This node's open channels: id, peer, capacity, both balances and the latest state's sequence."""
        self._need("channels")
        result: list[dict[str, object]] = []
        for channel in self.node.channels.node.open_channels():
            state = channel.latest.state
            result.append({"channel_id": channel.channel_id.hex(), "peer": channel.peer.hex(),
                           "balance": state.balance(channel.party), "peer_balance": state.balance(1 - channel.party),
                           "sequence": state.sequence})
        return result

    def route(self, payee: bytes, amount: int) -> dict[str, object]:
        """The route a payment of ``amount`` to ``payee`` would take now: the hops' accounts and the fees; 422 ``no
        route`` when there is none."""
        self._need("channels")
        from a27_channels import NoRoute  # noqa: PLC0415 - only nodes with channels get here

        try:
            route = self.node.channels.node.find_route(payee, amount)
        except NoRoute as error:
            raise ApiError(422, "no route", str(error)) from None
        return {"route": [hop.node.hex() for hop in route.hops], "fees": route.fees}

    def graph_channels(self) -> int:
        """How many channels this node's channel graph knows (its own and those announced to it): routes run over
        them."""
        self._need("channels")
        return len(self.node.channels.node.graph)

    async def open_channel(self, peer: bytes, deposit: int, peer_deposit: int, timeout: float) -> dict[str, object]:
        """Open a channel with ``peer`` (the channel layer decides); returns its id once the funding is final."""
        self._need("channels")
        from a27_channels import ChannelOpenError  # noqa: PLC0415 - only nodes with channels get here

        try:
            channel_id = await self.node.channels.open_channel(peer, deposit, peer_deposit, timeout=timeout)
        except LedgerError as error:
            raise ApiError(422, error.reason, str(error), code=error.code) from None
        except ChannelOpenError as error:
            raise ApiError(422, "not opened", str(error)) from None
        except asyncio.TimeoutError:
            raise ApiError(504, "timeout", f"the channel was not open after {timeout} s") from None
        return {"channel_id": channel_id.hex(), "status": "open"}

    async def pay(self, channel_id: bytes, amount: int, timeout: float) -> dict[str, object]:
        """Pay ``amount`` on one of this node's open channels; returns the new state's sequence."""
        self._need("channels")
        from a27_channels import DirectPaymentError  # noqa: PLC0415 - only nodes with channels get here

        try:
            # Checked first: ChannelCommunity.pay keeps a waiting future per call before the channel is looked up.
            self.node.channels.node.channel(channel_id)
            done = await self.node.channels.pay(channel_id, amount, timeout=timeout)
        except LedgerError as error:
            raise ApiError(422, error.reason, str(error), code=error.code) from None
        except DirectPaymentError as error:
            raise ApiError(422, "payment refused", str(error), code=error.code) from None
        except asyncio.TimeoutError:
            raise ApiError(504, "timeout", f"the payment was not complete after {timeout} s") from None
        return {"channel_id": channel_id.hex(), "amount": done.amount, "sequence": done.sequence}

    def create_invoice(self, amount: int) -> dict[str, object]:
        """An invoice of this node for ``amount``: what a payer needs (payee, amount, payment hash); the preimage
        stays with this node."""
        self._need("channels")
        invoice = self.node.channels.create_invoice(amount)
        return {"payee": invoice.payee.hex(), "amount": invoice.amount, "payment_hash": invoice.payment_hash.hex()}

    async def send_payment(self, payee: bytes, amount: int, payment_hash: bytes, timeout: float) -> dict[str, object]:
        """Pay another node's invoice over a route of channels; returns how the payment ended: ``succeeded`` with
        its route (the hops' accounts) or ``failed`` with its cause, and the attempts either way."""
        self._need("channels")
        from a27_channels import PaymentSucceeded  # noqa: PLC0415 - only nodes with channels get here

        try:
            outcome = await self.node.channels.pay_hash(payee, amount, payment_hash, timeout=timeout)
        except LedgerError as error:
            raise ApiError(422, error.reason, str(error), code=error.code) from None
        except asyncio.TimeoutError:
            raise ApiError(504, "timeout", f"the payment had not ended after {timeout} s") from None
        if isinstance(outcome, PaymentSucceeded):
            route = [] if outcome.route is None else [hop.node.hex() for hop in outcome.route.hops]
            return {"payment_hash": payment_hash.hex(), "outcome": "succeeded", "attempts": outcome.attempts,
                    "route": route}
        return {"payment_hash": payment_hash.hex(), "outcome": "failed", "attempts": outcome.attempts,
                "cause": outcome.failure.cause.label,
                "causes": [failure.cause.label for failure in outcome.failures]}

    async def close_channel(self, channel_id: bytes, timeout: float) -> dict[str, object]:
        """Close one of this node's channels cooperatively; returns once the close is final on chain."""
        self._need("channels")
        try:
            self.node.channels.node.channel(channel_id)
            outcome = await self.node.channels.close_channel(channel_id, timeout=timeout)
        except LedgerError as error:
            raise ApiError(422, error.reason, str(error), code=error.code) from None
        except asyncio.TimeoutError:
            raise ApiError(504, "timeout", f"the close was not final after {timeout} s") from None
        return {"channel_id": channel_id.hex(), "outcome": outcome.name.lower()}
