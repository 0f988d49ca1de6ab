"""
Recorded attacker traffic (``a27 attack NAME --record FILE``) and its replay (``a27 attack NAME --replay FILE``).

The file is JSON lines, UTF-8, one object per line (format ``a27-attack-record``, version 1):

1. a header: ``format``, ``version``, ``clock`` (``simulated``: seconds on the run's virtual clock), what the run
   depended on (``attack``, ``parameters``, ``lab``, ``seed``, ``validators``, ``light_nodes``, ``duration``,
   ``switched_off``) and the attacker nodes (``name``, ``public_key`` hex, ``address`` ``ip:port``);
2. one line per event in the order it happened: a packet ``{"at", "order", "from", "to", "packet"}`` (sender node
   name, receiver address, bytes as hex) or an arranged network condition ``{"at", "order", "action", "args"}``
   (``set_max_peers``, ``introduce_first``, ``take_offline``, ``join_late``); ``order`` is how many packets the
   whole network had sent before it (ties at one instant keep their place);
3. an end line: ``end`` (when the attacker's part of the run returned), ``events``, ``fees`` and ``notes`` (what
   the attacker itself counted and noted, for its judge) and ``sha256`` of every line before it.

Nothing in it depends on the host: no wall time, no paths, no host names. A real node can write the same lines
with ``clock`` ``unix`` and ``order`` -1 (no global order exists outside a simulation).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

FORMAT = "a27-attack-record"
VERSION = 1
MAX_PACKET = 65_536
"""The largest packet a recording holds (bytes; a UDP datagram is smaller)."""
MAX_EVENTS = 2_000_000
"""The most events (packets and conditions) one recording holds."""
MAX_LINE = 2 * MAX_PACKET + 4_096
"""The longest line a reader accepts (characters)."""
MAX_FILE = 1 << 31
"""The largest file a reader opens (bytes)."""
ACTIONS = ("set_max_peers", "introduce_first", "take_offline", "join_late")
"""The arena calls that change the network and are recorded as conditions."""
MATCHED = ("attack", "parameters", "lab", "seed", "validators", "light_nodes", "duration", "switched_off")
"""Header fields a replay's options must reproduce."""


class RecordingError(ValueError):
    """A recording that cannot be read or replayed with these options (corrupt, truncated, or another run's)."""


@attrs.frozen
class RecordedPacket:
    """One packet an attacker node sent."""

    at: float
    order: int
    sender: str
    to: str
    """The receiver's address, ``ip:port``."""
    packet: bytes


@attrs.frozen
class RecordedAction:
    """One network condition the attacker arranged through the arena (``ACTIONS``)."""

    at: float
    order: int
    action: str
    args: tuple[Any, ...]


Event = RecordedPacket | RecordedAction


@attrs.frozen
class Recording:
    """A whole recording: the header, the events in order, and the end line's figures."""

    header: Mapping[str, Any]
    events: tuple[Event, ...]
    end: float
    fees: int
    notes: Mapping[str, Any]

    def lines(self) -> list[str]:
        """The file's lines (without newlines), the end line's checksum included."""
        lines = [_dump(dict(self.header))]
        for event in self.events:
            if isinstance(event, RecordedPacket):
                lines.append(_dump({"at": event.at, "order": event.order, "from": event.sender, "to": event.to,
                                    "packet": event.packet.hex()}))
            else:
                lines.append(_dump({"at": event.at, "order": event.order, "action": event.action,
                                    "args": list(event.args)}))
        digest = hashlib.sha256("".join(line + "\n" for line in lines).encode()).hexdigest()
        lines.append(_dump({"end": self.end, "events": len(self.events), "fees": self.fees,
                            "notes": dict(self.notes), "sha256": digest}))
        return lines

    def write(self, path: str | Path) -> None:
        """Write the recording to ``path``."""
        Path(path).write_text("".join(line + "\n" for line in self.lines()), encoding="utf-8")

    def check_matches(self, header: Mapping[str, Any]) -> None:
        """
        Refuse a replay whose run differs from the recorded one.

        :raises RecordingError: naming the first field that differs.
        """
        for field in (*MATCHED, "nodes"):
            if _plain(self.header.get(field)) != _plain(header.get(field)):
                msg = (f"the recording is of another run: {field} is {self.header.get(field)!r} there, "
                       f"{header.get(field)!r} here")
                raise RecordingError(msg)


def _dump(data: Mapping[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def _plain(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples as lists)."""
    return json.loads(json.dumps(value))


def read_recording(path: str | Path) -> Recording:
    """
    Read and check a recording file.

    :raises RecordingError: when the file cannot be read, is too large, is not this format and version, a line is
        malformed or over the limits, it ends before its end line, or its checksum or event count differs.
    """
    source = Path(path)
    try:
        if source.stat().st_size > MAX_FILE:
            msg = f"recording {source} is larger than {MAX_FILE:,} bytes"
            raise RecordingError(msg)
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        msg = f"cannot read recording {source}: {error}"
        raise RecordingError(msg) from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 2:
        msg = f"recording {source} is truncated: no end line"
        raise RecordingError(msg)
    objects = [_parse(number, line) for number, line in enumerate(lines, 1)]
    header, *middle, end = objects
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        msg = f"recording {source} is not {FORMAT} version {VERSION}"
        raise RecordingError(msg)
    if "end" not in end:
        msg = f"recording {source} is truncated: its last line is not the end line"
        raise RecordingError(msg)
    digest = hashlib.sha256("".join(line + "\n" for line in lines[:-1]).encode()).hexdigest()
    if end.get("sha256") != digest or end.get("events") != len(middle) or len(middle) > MAX_EVENTS:
        msg = f"recording {source} is corrupt: its checksum or event count does not match its lines"
        raise RecordingError(msg)
    events = tuple(_event(number, item) for number, item in enumerate(middle, 2))
    return Recording(header, events, _number(end, "end", len(lines)), _integer(end, "fees", len(lines)),
                     _mapping(end, "notes", len(lines)))


def _parse(number: int, line: str) -> dict[str, Any]:
    if len(line) > MAX_LINE:
        msg = f"recording line {number} is longer than {MAX_LINE:,} characters"
        raise RecordingError(msg)
    try:
        value = json.loads(line)
    except ValueError:
        msg = f"recording line {number} is not JSON"
        raise RecordingError(msg) from None
    if not isinstance(value, dict):
        msg = f"recording line {number} is not an object"
        raise RecordingError(msg)
    return value


def _number(item: Mapping[str, Any], key: str, number: int) -> float:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        msg = f"recording line {number}: {key} must be a number of at least 0"
        raise RecordingError(msg)
    return float(value)


def _integer(item: Mapping[str, Any], key: str, number: int) -> int:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"recording line {number}: {key} must be an integer"
        raise RecordingError(msg)
    return value


def _mapping(item: Mapping[str, Any], key: str, number: int) -> dict[str, Any]:
    value = item.get(key)
    if not isinstance(value, dict):
        msg = f"recording line {number}: {key} must be an object"
        raise RecordingError(msg)
    return value


def _event(number: int, item: Mapping[str, Any]) -> Event:
    at, order = _number(item, "at", number), _integer(item, "order", number)
    if "action" in item:
        action, args = item["action"], item.get("args")
        if action not in ACTIONS or not isinstance(args, list):
            msg = f"recording line {number}: unknown action or arguments"
            raise RecordingError(msg)
        return RecordedAction(at, order, action, tuple(tuple(arg) if isinstance(arg, list) else arg for arg in args))
    sender, to, packet = item.get("from"), item.get("to"), item.get("packet")
    if not (isinstance(sender, str) and isinstance(to, str) and isinstance(packet, str)):
        msg = f"recording line {number}: a packet needs from, to and packet"
        raise RecordingError(msg)
    try:
        data = bytes.fromhex(packet)
    except ValueError:
        msg = f"recording line {number}: packet is not hex"
        raise RecordingError(msg) from None
    if len(data) > MAX_PACKET:
        msg = f"recording line {number}: packet is larger than {MAX_PACKET:,} bytes"
        raise RecordingError(msg)
    return RecordedPacket(at, order, sender, to, data)


class PacketTap:
    """
    Sits in front of a simulated network's ``transmit``: counts every packet the network sends and, for the attacker
    endpoints, records them (``record``) or, when replaying, swallows what the attacker nodes send themselves and
    sends the recorded packets instead, each just before the packet that followed it in the recorded run.
    """

    def __init__(self, network: Any, attackers: Iterable[str], events: Sequence[Event] = (),
                 replaying: bool = False) -> None:
        """Install the tap on ``network``; ``attackers`` are the attacker nodes' names (their endpoints' names)."""
        self.network = network
        self.attackers = frozenset(attackers)
        self.replaying = replaying
        self.sent = 0
        """Packets the network has sent (transmit calls that went through)."""
        self.recorded: list[Event] = []
        self.pending = list(events)
        self.position = 0
        self.late = 0
        """Replayed events that could not keep their recorded place (the replay has diverged)."""
        self.swallowed = 0
        self.perform: Callable[[RecordedAction], None] | None = None
        """How a recorded condition is carried out again (set by the replayer)."""
        self._transmit = network.transmit
        network.transmit = self.transmit

    def transmit(self, sender: Any, address: Any, packet: bytes) -> None:
        """The network's ``transmit``, counted, recorded or replayed around."""
        name = sender.name if sender.name in self.attackers else None
        if name is not None and self.replaying:
            self.swallowed += 1
            return
        if self.replaying:
            self.flush(self.network.loop.time())
        if name is not None:
            self.recorded.append(RecordedPacket(self.network.loop.time(), self.sent, name,
                                                f"{address[0]}:{address[1]}", bytes(packet)))
        self.sent += 1
        self._transmit(sender, address, packet)

    def action(self, action: str, args: Iterable[Any]) -> None:
        """Record a network condition the attacker arranges now (not when replaying: it is replayed)."""
        if not self.replaying:
            self.recorded.append(RecordedAction(self.network.loop.time(), self.sent, action, tuple(args)))

    def flush(self, now: float) -> None:
        """Send (or carry out) every pending event whose place has come: due by now and by the packet count."""
        while self.position < len(self.pending):
            event = self.pending[self.position]
            if event.at > now or (event.at == now and event.order > self.sent):
                return
            if event.at < now or event.order < self.sent:
                self.late += 1
            self.position += 1
            if isinstance(event, RecordedPacket):
                host, _, port = event.to.rpartition(":")
                self.sent += 1
                self._transmit(self._endpoint(event.sender), (host, int(port)), event.packet)
            elif self.perform is not None:
                self.perform(event)

    def _endpoint(self, name: str) -> Any:
        """The endpoint of attacker node ``name``."""
        endpoint = next((endpoint for endpoint in self.network.endpoints if endpoint.name == name), None)
        if endpoint is None or name not in self.attackers:
            msg = f"the recording names a sender {name!r} that is no attacker node of this run"
            raise RecordingError(msg)
        return endpoint

    def next_time(self) -> float | None:
        """When the next pending event is due, None when every one was replayed."""
        return self.pending[self.position].at if self.position < len(self.pending) else None

    def remove(self) -> None:
        """Give the network its own ``transmit`` back."""
        self.network.transmit = self._transmit
