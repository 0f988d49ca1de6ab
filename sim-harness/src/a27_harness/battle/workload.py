"""
The battle's honest workload: ``a27 battle up --workload N`` declares N transfers between the blue accounts in
``battle.toml`` (blue0 to blue1, blue1 to blue2, ..., round the circle); ``a27 battle workload DIR`` signs them with
the blue nodes' keys and submits them through the referee's REST API, one transfer per sender at a time, each waited
for until final. The scoreboard's ``workload_net`` then holds what the chain really moved for them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from a27_ledger import KeyPair, sign_transfer

from ..client import ClientError, NodeClient
from ..node.command import CONFIG_NAME
from ..node.config import load_config, load_or_create_key
from .declaration import load_declaration
from .scoring import BattleError, ScheduledTransfer

WORKLOAD_AMOUNT = 1_000
"""Tokens each declared transfer of ``--workload`` moves."""
MAX_WAIT = 30
"""Seconds one finality wait asks the referee for (its API's most)."""


def declare_workload(accounts: Sequence[bytes], count: int, amount: int = WORKLOAD_AMOUNT) -> tuple[
        ScheduledTransfer, ...]:
    """``count`` transfers of ``amount`` round the circle of ``accounts``, the ``index``-th at ``index`` seconds."""
    if count and len(accounts) < 2:
        raise BattleError("--workload: the honest workload moves tokens between blue accounts: needs 2 or more")
    return tuple(ScheduledTransfer(accounts[index % len(accounts)], accounts[(index + 1) % len(accounts)], amount,
                                   float(index)) for index in range(count))


def _keys(folder: Path, nodes: dict[str, tuple[str, ...]]) -> dict[bytes, KeyPair]:
    """The keys of the battle's node folders on this host, by account."""
    keys = {}
    for team_nodes in nodes.values():
        for name in team_nodes:
            if (folder / name / CONFIG_NAME).exists():
                key = load_or_create_key(load_config(folder / name / CONFIG_NAME).key_file)
                keys[key.public_key] = key
    return keys


def submit_workload(folder: Path, timeout: float, say: Callable[[str], None]) -> int:
    """
    Submit the declared workload of the battle in ``folder`` through its referee's REST API; how many did not
    finalize within ``timeout`` seconds each (0: all final). Rounds of one transfer per sender keep the nonces in order.

    :raises BattleError: for a declared sender whose key is not in the battle's folders, or a referee without a REST
        API.
    """
    declaration, referee, nodes = load_declaration(folder)
    keys = _keys(folder, nodes)
    missing = {transfer.sender for transfer in declaration.workload} - set(keys)
    if missing:
        raise BattleError(f"workload: no key here for sender {sorted(missing)[0].hex()[:16]}...")
    config = load_config(folder / referee / CONFIG_NAME)
    if config.rest is None:
        raise BattleError(f"referee {referee}: no [rest] table, no API to submit through")
    client = NodeClient(config.rest.url, config.rest.api_key)
    waiting = list(declaration.workload)
    failed = 0
    while waiting:
        round_: list[ScheduledTransfer] = []
        later: list[ScheduledTransfer] = []
        for transfer in waiting:
            (later if any(sent.sender == transfer.sender for sent in round_) else round_).append(transfer)
        waiting = later
        submitted = []
        for transfer in round_:
            key = keys[transfer.sender]
            try:
                nonce = int(client.account(key.public_key)["nonce"])
                signed = sign_transfer(key, transfer.recipient, transfer.amount, nonce)
                answer = client.request("POST", "/transactions", {"transaction": signed.encode().hex()})
            except ClientError as error:
                failed += 1
                say(f"{transfer.sender.hex()[:16]} -> {transfer.recipient.hex()[:16]} {transfer.amount}: {error}")
                continue
            submitted.append((transfer, str(answer["tx_id"])))
        for transfer, tx_id in submitted:
            final = _wait_final(client, tx_id, timeout)
            failed += final is None
            where = "not final" if final is None else f"final at height {final}"
            say(f"{transfer.sender.hex()[:16]} -> {transfer.recipient.hex()[:16]} {transfer.amount}: {tx_id[:16]} "
                f"{where}")
    return failed


def _wait_final(client: NodeClient, tx_id: str, timeout: float) -> int | None:
    """The height at which ``tx_id`` finalized, or None when it is not final after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        wait = max(1, min(MAX_WAIT, int(remaining)))
        try:
            answer = client.request("GET", f"/transactions/{tx_id}?wait={wait}", timeout=wait + 10)
        except ClientError:
            answer = {"status": "unknown"}
            time.sleep(0.5)
        if answer["status"] == "final":
            return int(answer["height"])
        if remaining <= 0:
            return None
