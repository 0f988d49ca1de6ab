"""Validator sets: who votes at a height, with how much power, and the proposer priorities of the round robin.

Encoding: ``count u16 | (account 32 | power u64 | priority i128) * count``, accounts strictly increasing. Power is
bonded stake, so it fits a u64; priorities can go somewhat beyond the total power in either direction, hence 128
signed bits.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TypeVar

import attrs

from a27_ledger import decode_shared
from a27_pos.encoding import MAX_UINT64, Reader
from a27_pos.errors import MalformedVote

_ENTRY = struct.Struct(">32sQ16s")
_PRIORITY_BYTES = 16
Key = TypeVar("Key", bound=Hashable)
Result = TypeVar("Result")

_SUCCESSORS_KEPT = 4
"""How many results a validator set remembers of `next_set` (one per block is the usual need) and, apart, of
`increment_priorities` (one per round)."""


def _remembered(results: dict[Key, Result], key: Key, compute: Callable[[], Result]) -> Result:
    """``results[key]``, computed by ``compute`` on a miss; the oldest of ``_SUCCESSORS_KEPT`` results is dropped."""
    known = results.get(key)
    if known is None:
        known = compute()
        if len(results) >= _SUCCESSORS_KEPT:
            results.pop(next(iter(results)))
        results[key] = known
    return known


def _sorted_validators(validators: Iterable[Validator]) -> tuple[Validator, ...]:
    return tuple(sorted(validators, key=lambda validator: validator.account))


@attrs.frozen
class Validator:
    """One member of a validator set: its account, voting power (bonded stake) and proposer priority."""

    account: bytes
    power: int
    priority: int = 0


@attrs.frozen
class ValidatorSet:
    """The validators of one height, sorted by account; construction refuses duplicates and non-positive power."""

    validators: tuple[Validator, ...] = attrs.field(converter=_sorted_validators)
    total_power: int = attrs.field(init=False)
    _index: dict[bytes, Validator] = attrs.field(init=False, repr=False, eq=False)
    _successors: dict[tuple[tuple[bytes, int], ...], ValidatorSet] = attrs.field(init=False, repr=False, eq=False)
    _increments: dict[int, tuple[ValidatorSet, tuple[bytes, ...]]] = attrs.field(init=False, repr=False, eq=False)
    _encoded: bytes | None = attrs.field(init=False, default=None, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        """Check the members and index them."""
        index: dict[bytes, Validator] = {}
        for validator in self.validators:
            if type(validator.account) is not bytes or len(validator.account) != 32:
                raise ValueError("validator accounts are 32 bytes")
            if type(validator.power) is not int or not 0 < validator.power <= MAX_UINT64:
                raise ValueError(f"validator power {validator.power!r} is not in 1..2**64-1")
            if validator.account in index:
                raise ValueError(f"validator {validator.account.hex()[:8]} is listed twice")
            index[validator.account] = validator
        if not index:
            raise ValueError("a validator set needs at least one validator")
        object.__setattr__(self, "total_power", sum(validator.power for validator in self.validators))
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_successors", {})
        object.__setattr__(self, "_increments", {})

    @classmethod
    def from_powers(cls, powers: Mapping[bytes, int]) -> ValidatorSet:
        """A set with the given powers and every priority 0 (the genesis set)."""
        return cls(tuple(Validator(account, power) for account, power in powers.items()))

    def __contains__(self, account: object) -> bool:
        """Whether `account` is a member."""
        return account in self._index

    def __len__(self) -> int:
        """Number of validators."""
        return len(self.validators)

    @property
    def accounts(self) -> tuple[bytes, ...]:
        """Member accounts, sorted."""
        return tuple(validator.account for validator in self.validators)

    @property
    def powers(self) -> dict[bytes, int]:
        """Voting power by account."""
        return {validator.account: validator.power for validator in self.validators}

    def power(self, account: bytes) -> int:
        """Voting power of `account`, 0 if it is not a member."""
        validator = self._index.get(account)
        return 0 if validator is None else validator.power

    def has_quorum(self, power: int) -> bool:
        """Whether `power` is more than two thirds of the total."""
        return 3 * power > 2 * self.total_power

    def exceeds_one_third(self, power: int) -> bool:
        """Whether `power` is more than one third of the total."""
        return 3 * power > self.total_power

    # The round robin (CometBFT's proposer priority) -------------------------------------------------------------

    def increment_priorities(self, times: int) -> tuple[ValidatorSet, list[bytes]]:
        """Run the priority algorithm `times` times: the resulting set and the proposer each repetition chose.

        First rescale (if the spread of priorities exceeds twice the total power) and re-centre on the mean; then, each
        repetition, add every validator's power to its priority, choose the highest (ties: the smallest account), and
        subtract the total power from the chosen one.
        """
        if times < 1:
            raise ValueError("increment at least once")
        # A function of this immutable set and `times`: every node asks the shared set of a height for the proposer
        # of each round, so the first computes it and the others look it up (a few rounds are remembered).
        advanced, chosen = _remembered(self._increments, times, lambda: self._increment(times))
        return advanced, list(chosen)

    def _increment(self, times: int) -> tuple[ValidatorSet, tuple[bytes, ...]]:
        total = self.total_power
        accounts = [validator.account for validator in self.validators]
        powers = [validator.power for validator in self.validators]
        priorities = _centered(_rescaled([validator.priority for validator in self.validators], total))
        chosen: list[bytes] = []
        count = len(accounts)
        for _ in range(times):
            best = 0
            for index in range(count):
                priorities[index] += powers[index]
                # Accounts are sorted, so keeping the first maximum breaks ties towards the smallest account.
                if priorities[index] > priorities[best]:
                    best = index
            priorities[best] -= total
            chosen.append(accounts[best])
        validators = tuple(Validator(account, power, priority)
                           for account, power, priority in zip(accounts, powers, priorities, strict=True))
        return ValidatorSet(validators), tuple(chosen)

    def next_set(self, powers: Mapping[bytes, int]) -> ValidatorSet:
        """The set of the following height: priorities advanced once, then the new `powers` applied.

        A validator that stays keeps its priority; a new one starts at -1.125 times the new total power, so joining
        does not jump the queue; validators missing from `powers` (or with power 0) leave.

        The result is a function of this set and `powers` alone and is remembered (for the last few `powers`): every
        node applying a block derives the next height's set from the same shared set (see `decode`), so the first
        computes it and the others look it up.
        """
        return _remembered(self._successors, tuple(sorted(powers.items())), lambda: self._next_set(powers))

    def _next_set(self, powers: Mapping[bytes, int]) -> ValidatorSet:
        advanced, _ = self.increment_priorities(1)
        members = {account: power for account, power in powers.items() if power > 0}
        new_total = sum(members.values())
        entry_priority = -(new_total + new_total // 8)
        validators = []
        for account, power in members.items():
            previous = advanced._index.get(account)
            validators.append(Validator(account, power, entry_priority if previous is None else previous.priority))
        priorities = _centered(_rescaled([validator.priority for validator in validators], new_total))
        return ValidatorSet(tuple(attrs.evolve(validator, priority=priority)
                                  for validator, priority in zip(validators, priorities, strict=True)))

    # Encoding ---------------------------------------------------------------------------------------------------

    def encode(self) -> bytes:
        """The canonical encoding (computed once)."""
        encoded = self._encoded
        if encoded is None:
            parts = [struct.pack(">H", len(self.validators))]
            parts.extend(_ENTRY.pack(validator.account, validator.power,
                                     validator.priority.to_bytes(_PRIORITY_BYTES, "big", signed=True))
                         for validator in self.validators)
            encoded = b"".join(parts)
            object.__setattr__(self, "_encoded", encoded)
        return encoded

    @classmethod
    def decode(cls, data: bytes) -> ValidatorSet:
        """Parse the canonical encoding; raises only MalformedVote.

        A validator set is immutable (its index is built once, in construction), so every node that reads the same
        bytes shares one object (`a27_ledger.decode_shared`): each node looks up the set of each height it checks."""
        return decode_shared(cls._decode, data)

    @classmethod
    def _decode(cls, data: bytes) -> ValidatorSet:
        reader = Reader(data, MalformedVote)
        validators = []
        previous = b""
        for _ in range(reader.u16()):
            account, power, priority = _ENTRY.unpack(reader.take(_ENTRY.size))
            if account <= previous:
                raise MalformedVote("validator accounts are not strictly increasing")
            previous = account
            validators.append(Validator(account, power, int.from_bytes(priority, "big", signed=True)))
        reader.finish()
        try:
            return cls(tuple(validators))
        except ValueError as error:
            raise MalformedVote(f"not a validator set: {error}") from error


def _rescaled(priorities: list[int], total: int) -> list[int]:
    spread = max(priorities) - min(priorities) if priorities else 0
    window = 2 * total
    if spread <= window:
        return priorities
    ratio = -(-spread // window)
    return [priority // ratio for priority in priorities]


def _centered(priorities: list[int]) -> list[int]:
    if not priorities:
        return priorities
    mean = sum(priorities) // len(priorities)
    return [priority - mean for priority in priorities]

