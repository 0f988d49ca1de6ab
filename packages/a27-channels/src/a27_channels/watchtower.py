"""A watchtower: it answers an old state published against an offline client, with transactions the client signed.

The client (a channel party) hands the tower **appointments**: `Challenge` transactions of its latest complete state,
signed by the client itself with its own account as sender (`ChannelNode.watchtower_appointments`). The tower checks
them, keeps the newest per channel and client, watches the chain, and when the other party publishes an older state
it submits the appointment whose nonce is the client's next one. It holds nothing it could use for itself: the
sender of a `Challenge` is the challenger, so the chain pays the client (the whole channel if the cheater proposed
the newer state); changing anything in the transaction breaks the client's signature. The worst a tower can do is
not submit (clients may use several). Appointments reach it in-process (`ChannelCommunity.keep_appointments`, the
simulator's offline hand-over) or over the wire (Appointment, message 13 of PROTOCOL.md, which a client with
`ChannelSettings.watchtower` sends as its states change); the tower's transactions are ordinary `Challenge`s (kind
23).

A transaction carries one nonce and a client's nonce moves with every transaction it sends, so a client hands, per
channel, one appointment for each nonce it may be at when a cheat comes (its next nonce, and one more per other
channel whose challenge could come first); it hands fresh ones after each completed update or on-chain transaction.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from a27_channels.errors import (
    ChannelRefused,
    InvalidChannelSignature,
    MalformedChannelData,
    StaleState,
    WrongChannelStatus,
)
from a27_channels.onchain import Challenge, ChannelStatus, channel_record
from a27_ledger import Transaction
from a27_pos.staking import StateReader


class TowerReader(StateReader, Protocol):
    """What a tower reads from its chain (a27-ledger's `LedgerState` provides it)."""

    def next_nonce(self, account: bytes) -> int:
        """The nonce the next transaction of `account` must carry."""
        ...


class Watchtower:
    """Keeps clients' appointments and submits the right one when an old state of their channel is published.

    `max_appointments` bounds the (channel, client) pairs it watches, `max_nonces` the appointments it keeps for one
    pair: every input from a client is bounded, whatever it sends.
    """

    def __init__(self, reader: TowerReader, *, max_appointments: int = 10_000, max_nonces: int = 8) -> None:
        """A tower with no appointments, reading the chain state `reader`."""
        self.reader = reader
        self.max_appointments = max_appointments
        self.max_nonces = max_nonces
        self.appointments: dict[tuple[bytes, bytes], dict[int, Transaction]] = {}
        """(channel id, client account) -> nonce -> the client's signed Challenge of its newest state."""
        self._submitted: set[tuple[bytes, bytes, int, int]] = set()
        self.stats: Counter[str] = Counter()
        """What the tower did, by event."""

    def watch(self, transaction: Transaction) -> None:
        """Keep `transaction`, a client's signed `Challenge`, for its channel.

        Raises MalformedChannelData (not a Challenge), InvalidChannelSignature (the transaction or the state does
        not verify), WrongChannelStatus (no open channel of which the sender is a party), StaleState (an older state
        than one kept) or ChannelRefused (the tower is full); nothing changes then.
        """
        body = transaction.body
        if not isinstance(body, Challenge):
            raise MalformedChannelData("an appointment is a Challenge transaction")
        state = body.signed.state
        record = channel_record(self.reader, state.channel_id)
        if record is None or record.status is not ChannelStatus.OPEN:
            raise WrongChannelStatus("appointments are taken for open channels only")
        if record.terms.party_of(transaction.sender) is None:
            raise WrongChannelStatus("the appointment's sender is not a party of the channel")
        if not transaction.verify_signature():
            raise InvalidChannelSignature("the appointment is not signed by its sender")
        state.check(record.terms.capacity)
        body.signed.verify(record.terms.party_a, record.terms.party_b)
        key = (state.channel_id, transaction.sender)
        kept = self.appointments.get(key)
        if kept is None and len(self.appointments) >= self.max_appointments:
            raise ChannelRefused(f"the tower watches {self.max_appointments} channels already")
        if kept:
            sequence = _sequence(next(iter(kept.values())))
            if state.sequence < sequence:
                raise StaleState(f"state {state.sequence} is older than the kept {sequence}")
            if state.sequence > sequence:
                kept = {}
        kept = {} if kept is None else kept
        if transaction.nonce not in kept and len(kept) >= self.max_nonces:
            raise ChannelRefused(f"the tower keeps {self.max_nonces} appointments per channel")
        kept[transaction.nonce] = transaction
        self.appointments[key] = kept
        self.stats["appointments kept"] += 1

    def on_block(self, height: int) -> list[Transaction]:
        """A block at `height` was finalized: the appointments to submit now (each at most once per published
        state); appointments of channels that left the challenge period are dropped."""
        answers: list[Transaction] = []
        for key in sorted(self.appointments):
            channel_id, client = key
            record = channel_record(self.reader, channel_id)
            if record is None or record.status in (ChannelStatus.CLOSED, ChannelStatus.SETTLING):
                del self.appointments[key]
                continue
            published = record.published
            if record.status is not ChannelStatus.CLOSING or published is None:
                continue
            kept = self.appointments[key]
            if record.publisher == record.terms.party_of(client) or height + 1 > record.deadline:
                continue
            if _sequence(next(iter(kept.values()))) <= published.sequence:
                continue
            nonce = self.reader.next_nonce(client)
            submitted = (channel_id, client, published.sequence, nonce)
            transaction = kept.get(nonce)
            if transaction is None or submitted in self._submitted:
                continue
            self._submitted.add(submitted)
            self.stats["challenges submitted"] += 1
            answers.append(transaction)
        self._submitted = {item for item in self._submitted if (item[0], item[1]) in self.appointments}
        return answers


def _sequence(transaction: Transaction) -> int:
    body = transaction.body
    assert isinstance(body, Challenge)
    return body.signed.state.sequence
