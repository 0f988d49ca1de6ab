"""Lab 1 attacks: against the ledger community, where validators admit and broadcast transfers without consensus."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import attrs

from a27_ledger import LedgerState, SubmitTransaction, Transaction, sign_transfer

from .base import Arena, Attack, AttackerNode, BadParameter, NodeHandle, non_negative, param, register


@register
@attrs.frozen
class DoubleSpendLab1(Attack):
    """Two transfers of the whole balance under one nonce, to two validators at the same instant."""

    name = "double-spend-lab1"
    lab = "ledger"
    family = "double-spend"
    summary = (
        "A light node owned by the attacker signs two transfers with the same nonce, each of its whole balance, to "
        "two accounts the attacker also controls, and sends them to two different validators at the same simulated "
        "instant. Each validator admits the one it got and logs it; every other node keeps whichever entry reached "
        "it first, so the network can end with two ledgers, each crediting a different attacker account. With "
        "forward=True each of the two accounts at once signs a transfer of everything it got to a further attacker "
        "account (onward-a, onward-b) and sprays it at the validator that credited it, so the onward spend lands "
        "before that validator sees the conflicting transfer and the double spend can no longer be voided.")
    success = ("honest nodes end with different ledgers (agreement broken) and the attacker's accounts are credited "
               "the balance twice across them (tokens paid twice > 0)")
    defences: ClassVar[tuple[str, ...]] = ("ledger.conflicting_nonces", "ledger.confirmed_credits")
    accounts: ClassVar[tuple[str, ...]] = ("sink-a", "sink-b", "onward-a", "onward-b")
    real_node = True
    real_node_act = True

    at: float = param(5.0, "simulated seconds after the workload starts when the two transfers are sent",
                      non_negative)
    fee: int = param(0, "fee of each transfer (the amount is the balance minus the fee)", non_negative)
    first_validator: int = param(0, "index of the validator that gets the transfer to sink-a", non_negative)
    second_validator: int = param(1, "index of the validator that gets the transfer to sink-b", non_negative)
    forward: bool = param(False, "sink-a and sink-b forward what they got at once to onward-a and onward-b, through "
                                 "the validator that credited each (defeats conflicting_nonces alone)")
    forward_copies: int = param(21, "copies of each forward sent, one every forward_spacing seconds from the instant "
                                    "of the double spend (the first that arrives after the credit is admitted)",
                                non_negative)
    forward_spacing: float = param(0.005, "seconds between copies of a forward", non_negative)

    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        """One light node, ``a0``, whose account holds the genesis balance the attacker spends twice."""
        return (AttackerNode("a0", "light", "signs two transfers of its whole balance under one nonce"),)

    def check(self, validators: int, light_nodes: int) -> None:
        """The two validator indices must differ and exist."""
        for index in (self.first_validator, self.second_validator):
            if index >= validators:
                msg = f"{self.name}: validator index {index} is out of range (the network has {validators} validators)"
                raise BadParameter(msg)
        if self.first_validator == self.second_validator:
            msg = f"{self.name}: first_validator and second_validator must differ"
            raise BadParameter(msg)

    def check_real_node(self) -> None:
        """``forward`` reads the validators' ledgers to time its copies, which a real node cannot see."""
        if self.forward:
            msg = f"{self.name}: forward=true needs the simulator (it reads the validators' ledgers); leave it off"
            raise BadParameter(msg)

    def ledger_state(self, me: NodeHandle) -> LedgerState:
        """The ledger state the attacker node ``me`` reads its balance and next nonce from (its Lab 1 ledger)."""
        return me.communities["ledger"].state

    async def act(self, arena: Arena) -> None:
        """At ``at``, sign the two conflicting transfers and send them to the two validators concurrently."""
        validators = [node.name for node in arena.honest() if node.role == "validator"]
        await arena.sleep(max(0.0, self.at - arena.now()))
        me = arena.attacker("a0")
        key = arena.attacker_key("a0")
        state = self.ledger_state(me)
        nonce, balance = state.next_nonce(key.public_key), state.balance(key.public_key)
        amount = balance - self.fee
        arena.note("amount signed twice", amount)
        if amount <= 0:
            arena.note("skipped", f"balance {balance} does not cover the fee {self.fee}")
            return
        spends = [sign_transfer(key, arena.attacker_key(sink).public_key, amount, nonce, fee=self.fee)
                  for sink in self.accounts]
        chosen = (validators[self.first_validator], validators[self.second_validator])
        double_spend = asyncio.gather(arena.send_transaction("a0", spends[0], chosen[0]),
                                      arena.send_transaction("a0", spends[1], chosen[1]))
        if self.forward:
            await self._forward(arena, amount, chosen)
        results = await double_spend
        for sink, validator, result in zip(self.accounts[:2], chosen, results, strict=True):
            arena.note(f"to {sink} via {validator}", "accepted" if result.accepted else f"refused: {result.reason}")

    async def _forward(self, arena: Arena, amount: int, chosen: tuple[str, str]) -> None:
        """Spray each sink's transfer of ``amount`` to its onward account at the validator that credits the sink: a
        copy arriving after the credit and before the conflicting entry is admitted; the others are refused."""
        community = arena.attacker("a0").communities["ledger"]
        forwards: list[tuple[Transaction, str]] = []
        for sink, onward, validator in zip(self.accounts[:2], self.accounts[2:], chosen, strict=True):
            key = arena.attacker_key(sink)
            forwards.append((sign_transfer(key, arena.attacker_key(onward).public_key, amount,
                                           community.state.next_nonce(key.public_key)), validator))
        packets = []
        for transaction, validator in forwards:
            handle = next(node for node in arena.honest() if node.name == validator)
            peer = community.network.get_verified_by_public_key_bin(
                handle.communities["ledger"].my_peer.public_key.key_to_bin())
            packets.append(([peer], community.pack_signed(SubmitTransaction(transaction.encode()))))
        arena.note("forward copies sent to each validator", self.forward_copies)
        for copy in range(self.forward_copies):
            if copy:
                await arena.sleep(self.forward_spacing)
            for peers, packet in packets:
                community.send_packet(peers, packet)
