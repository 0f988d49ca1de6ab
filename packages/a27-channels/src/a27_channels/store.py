"""Where a node keeps its channels across restarts: a small interface with an in-memory and a SQLite implementation.

What must survive: per channel, the terms, the local status, the latest complete state, the highest sequence this
party signed, and the state it signed as receiver that awaits completion (written before the signature is sent, so a
restarted node never signs a second state at that sequence); plus invoices, learnt preimages and the links between
forwarded HTLCs. Proposals this party made are not kept: they carry no signature.
"""

from __future__ import annotations

import enum
import os
import sqlite3
import struct
from typing import Any, Protocol

import attrs

from a27_channels.channel import Incoming
from a27_channels.errors import ChannelStoreError, MalformedChannelData
from a27_channels.messages import UpdateProposal
from a27_channels.state import ChannelState, ChannelTerms, SignedState, decode_operation


class LocalStatus(enum.IntEnum):
    """Where a channel is, as its party sees it."""

    PROPOSED = 1
    """This node proposed the terms and awaits the counterparty's acceptance."""
    FUNDING = 2
    """Both signed state 0; the ChannelOpen is not final yet."""
    OPEN = 3
    CLOSING = 4
    """A close was proposed or published: no more updates."""
    CLOSED = 5
    FAILED = 6
    """The channel never opened (refused, or the funding deadline passed)."""


@attrs.frozen
class StoredChannel:
    """One channel as the store keeps it."""

    terms: ChannelTerms
    status: LocalStatus
    latest: SignedState | None = None
    """None while the counterparty has not signed state 0."""
    highest_signed: int = 0
    incoming: Incoming | None = None


@attrs.frozen
class Invoice:
    """A payment this node asked for: the preimage it will reveal, the amount, and whether it was paid."""

    payee: bytes
    payment_hash: bytes
    preimage: bytes = attrs.field(repr=False)
    amount: int
    paid: bool = False


@attrs.frozen
class StoreContents:
    """Everything a store holds, as loaded when a node starts."""

    channels: tuple[StoredChannel, ...] = ()
    invoices: tuple[Invoice, ...] = ()
    preimages: tuple[bytes, ...] = ()
    forwards: tuple[tuple[bytes, int, bytes, int], ...] = ()
    """(outgoing channel, outgoing HTLC id, incoming channel, incoming HTLC id)."""


class ChannelStore(Protocol):
    """Storage for one node's channels; every write is atomic."""

    def load(self) -> StoreContents:
        """Everything the store holds."""
        ...

    def put_channel(self, channel: StoredChannel) -> None:
        """Write (or replace) a channel."""
        ...

    def remove_channel(self, channel_id: bytes) -> None:
        """Forget a channel that never opened (nothing if the store does not hold it)."""
        ...

    def put_invoice(self, invoice: Invoice) -> None:
        """Write (or replace) an invoice."""
        ...

    def put_preimage(self, preimage: bytes) -> None:
        """Remember a preimage learnt from a peer or from the chain."""
        ...

    def put_forward(self, out_channel: bytes, out_htlc: int, in_channel: bytes, in_htlc: int) -> None:
        """Link an outgoing HTLC to the incoming one it forwards."""
        ...

    def remove_forward(self, out_channel: bytes, out_htlc: int) -> None:
        """Forget a link whose HTLCs are settled."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...


class MemoryChannelStore:
    """A store in dictionaries: for simulations; gone when the process ends."""

    def __init__(self) -> None:
        """An empty store."""
        self._channels: dict[bytes, StoredChannel] = {}
        self._invoices: dict[bytes, Invoice] = {}
        self._preimages: dict[bytes, None] = {}
        self._forwards: dict[tuple[bytes, int], tuple[bytes, int]] = {}

    def load(self) -> StoreContents:
        """Everything the store holds."""
        return StoreContents(tuple(self._channels.values()), tuple(self._invoices.values()), tuple(self._preimages),
                             tuple((*out, *incoming) for out, incoming in self._forwards.items()))

    def put_channel(self, channel: StoredChannel) -> None:
        """Write (or replace) a channel."""
        self._channels[channel.terms.channel_id] = channel

    def remove_channel(self, channel_id: bytes) -> None:
        """Forget a channel that never opened."""
        self._channels.pop(channel_id, None)

    def put_invoice(self, invoice: Invoice) -> None:
        """Write (or replace) an invoice."""
        self._invoices[invoice.payment_hash] = invoice

    def put_preimage(self, preimage: bytes) -> None:
        """Remember a preimage."""
        self._preimages[preimage] = None

    def put_forward(self, out_channel: bytes, out_htlc: int, in_channel: bytes, in_htlc: int) -> None:
        """Link an outgoing HTLC to the incoming one."""
        self._forwards[(out_channel, out_htlc)] = (in_channel, in_htlc)

    def remove_forward(self, out_channel: bytes, out_htlc: int) -> None:
        """Forget a link."""
        self._forwards.pop((out_channel, out_htlc), None)

    def close(self) -> None:
        """Nothing to release."""


_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


def encode_incoming(incoming: Incoming) -> bytes:
    """``sequence u64 | operation (u16 length) | route data (u32 length) | state (u16 length) | signature 64``."""
    proposal = incoming.proposal
    operation, state = proposal.operation.encode(), incoming.state.encode()
    return (_U64.pack(proposal.sequence) + _U16.pack(len(operation)) + operation + _U32.pack(len(proposal.route_data))
            + proposal.route_data + _U16.pack(len(state)) + state + incoming.signature)


def decode_incoming(channel_id: bytes, data: bytes) -> Incoming:
    """Parse `encode_incoming`'s output; MalformedChannelData otherwise."""
    try:
        offset = 0
        (sequence,) = _U64.unpack_from(data, offset)
        offset += 8
        (length,) = _U16.unpack_from(data, offset)
        operation = decode_operation(data[offset + 2:offset + 2 + length])
        offset += 2 + length
        (length,) = _U32.unpack_from(data, offset)
        route_data = data[offset + 4:offset + 4 + length]
        offset += 4 + length
        (length,) = _U16.unpack_from(data, offset)
        state = ChannelState.decode(data[offset + 2:offset + 2 + length])
        offset += 2 + length
        signature = data[offset:]
    except struct.error as error:
        raise MalformedChannelData(f"stored incoming update: {error}") from error
    return Incoming(UpdateProposal(channel_id, sequence, operation, route_data), state, signature)


SCHEMA_VERSION = 1
_SCHEMA = f"""
BEGIN;
CREATE TABLE channels (
    channel_id BLOB PRIMARY KEY, terms BLOB NOT NULL, status INTEGER NOT NULL, latest BLOB,
    highest_signed TEXT NOT NULL, incoming BLOB
) WITHOUT ROWID;
CREATE TABLE invoices (
    payment_hash BLOB PRIMARY KEY, payee BLOB NOT NULL, preimage BLOB NOT NULL, amount TEXT NOT NULL,
    paid INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE preimages (preimage BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE forwards (
    out_channel BLOB NOT NULL, out_htlc TEXT NOT NULL, in_channel BLOB NOT NULL, in_htlc TEXT NOT NULL,
    PRIMARY KEY (out_channel, out_htlc)
) WITHOUT ROWID;
PRAGMA user_version = {SCHEMA_VERSION};
COMMIT;
"""


class SQLiteChannelStore:
    """A store in one SQLite file: WAL journal, synchronous=NORMAL, one SQLite transaction per write.

    u64 values are stored as decimal TEXT (SQLite's INTEGER is signed 64-bit); the schema version is kept in
    `PRAGMA user_version`.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 5.0) -> None:
        """Open or create the channel database at `path` (":memory:" for a private in-memory database)."""
        try:
            self._connection = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout)
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
            (version,) = self._connection.execute("PRAGMA user_version").fetchone()
            if version == 0:
                if self._connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is not None:
                    raise ChannelStoreError("the database holds tables but is not an a27 channel store")
                self._connection.executescript(_SCHEMA)
            elif version != SCHEMA_VERSION:
                raise ChannelStoreError(f"channel store schema version {version}; this version reads "
                                        f"{SCHEMA_VERSION}")
        except sqlite3.Error as error:
            raise ChannelStoreError(f"cannot open channel database {os.fspath(path)!r}: {error}") from error

    def _write(self, statement: str, parameters: tuple[Any, ...]) -> None:
        try:
            self._connection.execute(statement, parameters)
        except sqlite3.Error as error:
            raise ChannelStoreError(f"write failed, nothing written: {error}") from error

    def load(self) -> StoreContents:
        """Everything the store holds."""
        try:
            connection = self._connection
            channels = []
            for terms_bytes, status, latest, highest, incoming in connection.execute(
                    "SELECT terms, status, latest, highest_signed, incoming FROM channels"):
                terms = ChannelTerms.decode(bytes(terms_bytes))
                channels.append(StoredChannel(
                    terms, LocalStatus(status), None if latest is None else SignedState.decode(bytes(latest)),
                    int(highest), None if incoming is None else decode_incoming(terms.channel_id, bytes(incoming))))
            invoices = tuple(Invoice(bytes(payee), bytes(payment_hash), bytes(preimage), int(amount), bool(paid))
                             for payment_hash, payee, preimage, amount, paid in connection.execute(
                                 "SELECT payment_hash, payee, preimage, amount, paid FROM invoices"))
            preimages = tuple(bytes(row[0]) for row in connection.execute("SELECT preimage FROM preimages"))
            forwards = tuple((bytes(out_channel), int(out_htlc), bytes(in_channel), int(in_htlc))
                             for out_channel, out_htlc, in_channel, in_htlc in connection.execute(
                                 "SELECT out_channel, out_htlc, in_channel, in_htlc FROM forwards"))
        except sqlite3.Error as error:
            raise ChannelStoreError(f"read failed: {error}") from error
        except (MalformedChannelData, ValueError) as error:
            raise ChannelStoreError(f"the store holds data this version cannot read: {error}") from error
        return StoreContents(tuple(channels), invoices, preimages, forwards)

    def put_channel(self, channel: StoredChannel) -> None:
        """Write (or replace) a channel in one transaction."""
        self._write("INSERT OR REPLACE INTO channels (channel_id, terms, status, latest, highest_signed, incoming) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (channel.terms.channel_id, channel.terms.encode(), int(channel.status),
                     None if channel.latest is None else channel.latest.encode(), str(channel.highest_signed),
                     None if channel.incoming is None else encode_incoming(channel.incoming)))

    def remove_channel(self, channel_id: bytes) -> None:
        """Forget a channel that never opened, in one transaction."""
        self._write("DELETE FROM channels WHERE channel_id = ?", (channel_id,))

    def put_invoice(self, invoice: Invoice) -> None:
        """Write (or replace) an invoice."""
        self._write("INSERT OR REPLACE INTO invoices (payment_hash, payee, preimage, amount, paid) VALUES "
                    "(?, ?, ?, ?, ?)", (invoice.payment_hash, invoice.payee, invoice.preimage, str(invoice.amount),
                                        int(invoice.paid)))

    def put_preimage(self, preimage: bytes) -> None:
        """Remember a preimage."""
        self._write("INSERT OR IGNORE INTO preimages (preimage) VALUES (?)", (preimage,))

    def put_forward(self, out_channel: bytes, out_htlc: int, in_channel: bytes, in_htlc: int) -> None:
        """Link an outgoing HTLC to the incoming one."""
        self._write("INSERT OR REPLACE INTO forwards (out_channel, out_htlc, in_channel, in_htlc) VALUES (?, ?, ?, ?)",
                    (out_channel, str(out_htlc), in_channel, str(in_htlc)))

    def remove_forward(self, out_channel: bytes, out_htlc: int) -> None:
        """Forget a link."""
        self._write("DELETE FROM forwards WHERE out_channel = ? AND out_htlc = ?", (out_channel, str(out_htlc)))

    def close(self) -> None:
        """Close the database."""
        self._connection.close()
