"""The registry of transaction kinds: upper layers add their kinds here without the ledger importing them."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from a27_ledger.errors import UnknownTransactionKind

if TYPE_CHECKING:
    from a27_ledger.transaction import TransactionBody

_BodyClassT = TypeVar("_BodyClassT", bound="type[TransactionBody]")

MAX_KIND = 2**16 - 1


class TransactionRegistry:
    """Maps a transaction kind (uint16 on the wire) to the body class that decodes, checks and applies it."""

    def __init__(self) -> None:
        """Create an empty registry."""
        self._classes: dict[int, type[TransactionBody]] = {}
        self._decode_key: tuple[tuple[int, type[TransactionBody]], ...] = ()

    def register(self, body_class: _BodyClassT) -> _BodyClassT:
        """Add a body class; usable as a class decorator. A KIND already taken, or outside uint16, is a ValueError."""
        kind = body_class.KIND
        if type(kind) is not int or not 0 <= kind <= MAX_KIND:
            raise ValueError(f"{body_class.__name__}.KIND must be an int in 0..{MAX_KIND}, not {kind!r}")
        existing = self._classes.get(kind)
        if existing is not None:
            raise ValueError(f"kind {kind} is already registered to {existing.__name__}")
        self._classes[kind] = body_class
        self._decode_key = tuple(sorted(self._classes.items(), key=lambda item: item[0]))
        return body_class

    @property
    def decode_key(self) -> tuple[tuple[int, type[TransactionBody]], ...]:
        """What decoding depends on: the (kind, body class) pairs. Registries holding the same kinds decode the same
        bytes to the same objects, so `a27_ledger.decode_shared` keys its cache by this rather than by the registry
        object: every node of a simulation builds its own registry, and they still share decoded blocks."""
        return self._decode_key

    def body_class(self, kind: int) -> type[TransactionBody]:
        """Return the body class of `kind`, or raise UnknownTransactionKind."""
        try:
            return self._classes[kind]
        except KeyError:
            raise UnknownTransactionKind(f"no transaction kind {kind} registered") from None

    def kinds(self) -> dict[int, str]:
        """Registered kinds and their names, by kind number."""
        return {kind: self._classes[kind].NAME for kind in sorted(self._classes)}

    def copy(self) -> TransactionRegistry:
        """Return an independent registry holding the same kinds, to extend without touching this one."""
        duplicate = TransactionRegistry()
        duplicate._classes = dict(self._classes)
        duplicate._decode_key = self._decode_key
        return duplicate


default_registry = TransactionRegistry()
