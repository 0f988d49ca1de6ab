"""
``a27 wallet``: a key file and a node's REST API. Transfers are signed here, with the wallet's key, and the node
only passes them on (``POST /a27/transactions``); channel operations act on the node's own channels (API key).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from a27_ledger import KeyPair, sign_transfer

from .client import ClientError, NodeClient
from .node.command import command_main, one_line_errors
from .node.config import ConfigError, create_key

DEFAULT_NODE = "http://127.0.0.1:8085"
POLL_WAIT = 5
"""Seconds one finality request waits on the node."""


def _account(text: str) -> bytes:
    """An account: 64 hex characters, or a key file whose public key it is."""
    if len(text) == 64 and all(char in "0123456789abcdefABCDEF" for char in text):
        return bytes.fromhex(text)
    try:
        return KeyPair.load(Path(text)).public_key
    except (OSError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is neither 64 hex characters nor a key file") from None


def _positive(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) < 2**64:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _natural(text: str) -> int:
    if not text.isdigit() or int(text) >= 2**64:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return int(text)


def _hex32(text: str) -> str:
    if len(text) != 64 or not all(char in "0123456789abcdefABCDEF" for char in text):
        raise argparse.ArgumentTypeError(f"expected 64 hex characters, got {text!r}")
    return text


def _key(arguments: argparse.Namespace) -> KeyPair:
    if arguments.key is None:
        raise ConfigError("--key KEYFILE is needed (create one with `a27 wallet new KEYFILE`)")
    try:
        return KeyPair.load(Path(arguments.key))
    except (OSError, ValueError) as error:
        raise ConfigError(f"--key: cannot read {arguments.key}: {error}") from None


def _client(arguments: argparse.Namespace) -> NodeClient:
    return NodeClient.at(arguments.node, arguments.api_key)


def _new(arguments: argparse.Namespace) -> int:
    path = Path(arguments.keyfile)
    if path.exists():
        raise ConfigError(f"{path} exists; a key file is never overwritten")
    if not path.parent.is_dir():
        raise ConfigError(f"{path.parent} is not a folder")
    try:
        key = create_key(path)
    except FileExistsError:
        raise ConfigError(f"{path} exists; a key file is never overwritten") from None
    print(key.public_key.hex())
    return 0


def _balance(arguments: argparse.Namespace) -> int:
    account = arguments.account if arguments.account is not None else _key(arguments).public_key
    answer = _client(arguments).account(account)
    print(f"{answer['account']}: balance {answer['balance']}, next nonce {answer['nonce']}")
    return 0


def _send(arguments: argparse.Namespace) -> int:
    key = _key(arguments)
    client = _client(arguments)
    nonce = int(client.account(key.public_key)["nonce"])
    transaction = sign_transfer(key, arguments.to, arguments.amount, nonce, arguments.fee)
    answer = client.request("POST", "/transactions", {"transaction": transaction.encode().hex()})
    tx_id = answer["tx_id"]
    print(f"{tx_id[:16]}: admitted, waiting for finality", file=sys.stderr)
    deadline = time.monotonic() + arguments.timeout
    while answer["status"] != "final":
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            print(f"a27 wallet send: {tx_id} not final after {arguments.timeout} s", file=sys.stderr)
            return 1
        wait = max(1, min(POLL_WAIT, int(remaining)))
        answer = client.request("GET", f"/transactions/{tx_id}?wait={wait}", timeout=wait + 10)
        if answer["status"] != "final":
            print(f"{tx_id[:16]}: pending, {max(0, int(deadline - time.monotonic()))} s left", file=sys.stderr)
    print(f"{tx_id} final at height {answer['height']}")
    return 0


def _history(arguments: argparse.Namespace) -> int:
    account = arguments.account if arguments.account is not None else _key(arguments).public_key
    answer = _client(arguments).request("GET", f"/accounts/{account.hex()}/history?limit={arguments.limit}")
    for entry in answer["transactions"]:
        direction = "out" if entry["sender"] == account.hex() else "in"
        other = entry.get("recipient", "") if direction == "out" else entry["sender"]
        amount = entry.get("amount", "-")
        print(f"{entry['sequence']:>6} {direction:<3} {amount:>12} {other[:16]} nonce {entry['nonce']} "
              f"fee {entry['fee']} {entry['tx_id'][:16]}")
    return 0


def _checkpoint(arguments: argparse.Namespace) -> int:
    answer = _client(arguments).request("GET", "/checkpoint")
    print(f"# {arguments.node}'s last finalized block, height {answer['height']}: put the line below in the [pos] "
          "table of the joining node's config", file=sys.stderr)
    print(f'checkpoint = "{answer["checkpoint"]}"')
    return 0


def _channel(arguments: argparse.Namespace) -> int:
    client = _client(arguments)
    if arguments.action == "open":
        answer = client.request("POST", "/channels", {"peer": arguments.peer.hex(), "deposit": arguments.deposit,
                                                      "peer_deposit": arguments.peer_deposit}, timeout=120)
    elif arguments.action == "pay":
        answer = client.request("POST", f"/channels/{arguments.channel}/pay", {"amount": arguments.amount})
    elif arguments.action == "close":
        answer = client.request("POST", f"/channels/{arguments.channel}/close", {}, timeout=120)
    else:
        answer = client.request("GET", "/channels")
    print(answer)
    return 0


def add_wallet_parser(commands: argparse._SubParsersAction) -> None:
    """Add ``wallet`` and its commands to the ``a27`` command's subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--key", metavar="KEYFILE", help="the wallet's key file")
    common.add_argument("--node", default=DEFAULT_NODE, metavar="URL_OR_NODE_DIR",
                        help=f"the node's REST API: a URL, or a node's folder or config (default {DEFAULT_NODE})")
    common.add_argument("--api-key", help="the node's API key (default: from the node's config, if given)")
    wallet = commands.add_parser("wallet",
                                 help="a key, and a node's REST API: balance, send, history, channels, checkpoint",
                                 description="Sign transfers with a local key and send them through a node's REST "
                                             "API; follow them to finality.")
    kinds = wallet.add_subparsers(dest="wallet_command", required=True)
    new = kinds.add_parser("new", help="write a new key file (mode 0600; never overwrites)")
    new.add_argument("keyfile", metavar="KEYFILE")
    new.set_defaults(wallet_handler=_new)
    balance = kinds.add_parser("balance", parents=[common], help="an account's balance (default: the wallet's)")
    balance.add_argument("account", nargs="?", type=_account, metavar="ACCOUNT")
    balance.set_defaults(wallet_handler=_balance)
    send = kinds.add_parser("send", parents=[common], help="sign a transfer, submit it, wait until it is final")
    send.add_argument("to", type=_account, metavar="TO", help="the recipient: 64 hex characters or a key file")
    send.add_argument("amount", type=_positive, metavar="AMOUNT")
    send.add_argument("--fee", type=_natural, default=0, help="the fee (default 0)")
    send.add_argument("--timeout", type=_positive, default=60, help="seconds to wait for finality (default 60)")
    send.set_defaults(wallet_handler=_send)
    history = kinds.add_parser("history", parents=[common], help="an account's last transactions")
    history.add_argument("account", nargs="?", type=_account, metavar="ACCOUNT")
    history.add_argument("--limit", type=_positive, default=20, help="how many (1 to 50, default 20)")
    history.set_defaults(wallet_handler=_history)
    checkpoint = kinds.add_parser("checkpoint", parents=[common],
                                  help="print the [pos] checkpoint line of a node you trust (its last final block)",
                                  description="Print, for the [pos] table of a joining node's config, the checkpoint "
                                              "line of the node --node names: its last finalized block. Ask only a "
                                              "node you trust: the joining node refuses any other history.")
    checkpoint.set_defaults(wallet_handler=_checkpoint)
    channel = kinds.add_parser("channel", help="the node's own channels (they spend its funds: API key needed)")
    actions = channel.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[common], help="the node's open channels")
    listing.set_defaults(wallet_handler=_channel)
    opening = actions.add_parser("open", parents=[common], help="open a channel to PEER with DEPOSIT")
    opening.add_argument("peer", type=_account, metavar="PEER")
    opening.add_argument("deposit", type=_positive, metavar="DEPOSIT")
    opening.add_argument("--peer-deposit", type=_natural, default=0)
    opening.set_defaults(wallet_handler=_channel)
    paying = actions.add_parser("pay", parents=[common], help="pay AMOUNT on CHANNEL")
    paying.add_argument("channel", type=_hex32, metavar="CHANNEL")
    paying.add_argument("amount", type=_positive, metavar="AMOUNT")
    paying.set_defaults(wallet_handler=_channel)
    closing = actions.add_parser("close", parents=[common], help="close CHANNEL cooperatively")
    closing.add_argument("channel", type=_hex32, metavar="CHANNEL")
    closing.set_defaults(wallet_handler=_channel)
    wallet.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """Run the parsed ``a27 wallet`` command: a bad argument or config is one line and exit 2, a refusal exit 1."""
    return one_line_errors(f"a27 wallet {arguments.wallet_command}", lambda: arguments.wallet_handler(arguments),
                           {ConfigError: 2, ClientError: 1})


def main(argv: list[str]) -> int:
    """``a27 wallet ...`` (``argv`` starts with ``wallet``) without loading the rest of the ``a27`` command."""
    return command_main(add_wallet_parser, argv)
