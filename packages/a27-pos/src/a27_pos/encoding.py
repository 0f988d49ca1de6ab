"""Strict readers and writers for the canonical encodings of this layer (all integers unsigned big-endian)."""

from __future__ import annotations

import struct

from a27_pos.errors import PosError

_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
MAX_UINT32 = 2**32 - 1
MAX_UINT64 = 2**64 - 1
MAX_CHAIN_ID_BYTES = 255


def chain_id_field(chain_id: str) -> bytes:
    """A chain id as it appears in headers and signing bytes: u8 length, then its UTF-8 bytes."""
    encoded = chain_id.encode()
    if not encoded or len(encoded) > MAX_CHAIN_ID_BYTES:
        raise ValueError(f"chain id must be 1..{MAX_CHAIN_ID_BYTES} bytes of UTF-8")
    return _U8.pack(len(encoded)) + encoded


def u32(value: int) -> bytes:
    """`value` as 4 big-endian bytes."""
    return _U32.pack(value)


def u64(value: int) -> bytes:
    """`value` as 8 big-endian bytes."""
    return _U64.pack(value)


class Reader:
    """Reads fields off a byte string in order; any shortfall or leftover raises the given error class."""

    __slots__ = ("_data", "_error", "_offset")

    def __init__(self, data: bytes | bytearray | memoryview, error: type[PosError]) -> None:
        """Read `data`; `error` is what every decoding failure raises."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise error(f"expected bytes, not {type(data).__name__}")
        self._data = bytes(data)
        self._error = error
        self._offset = 0

    @property
    def offset(self) -> int:
        """How many bytes were read so far."""
        return self._offset

    @property
    def remaining(self) -> int:
        """How many bytes are left."""
        return len(self._data) - self._offset

    def take(self, length: int) -> bytes:
        """The next `length` bytes."""
        end = self._offset + length
        if length < 0 or end > len(self._data):
            raise self._error(f"needs {length} bytes at offset {self._offset}, {self.remaining} left")
        chunk = self._data[self._offset : end]
        self._offset = end
        return chunk

    def slice_from(self, start: int) -> bytes:
        """The bytes read since offset `start`."""
        return self._data[start : self._offset]

    def u8(self) -> int:
        """An unsigned byte."""
        return int(self.take(1)[0])

    def u16(self) -> int:
        """An unsigned 16-bit integer."""
        return int(_U16.unpack(self.take(2))[0])

    def u32(self) -> int:
        """An unsigned 32-bit integer."""
        return int(_U32.unpack(self.take(4))[0])

    def u64(self) -> int:
        """An unsigned 64-bit integer."""
        return int(_U64.unpack(self.take(8))[0])

    def signed(self, length: int) -> int:
        """A two's-complement signed integer of `length` bytes."""
        return int.from_bytes(self.take(length), "big", signed=True)

    def chain_id(self) -> str:
        """A chain id field (u8 length, UTF-8)."""
        length = self.u8()
        if not length:
            raise self._error("empty chain id")
        try:
            return self.take(length).decode()
        except UnicodeDecodeError as exc:
            raise self._error(f"chain id is not UTF-8: {exc}") from exc

    def finish(self) -> None:
        """Refuse trailing bytes."""
        if self.remaining:
            raise self._error(f"{self.remaining} trailing bytes")
