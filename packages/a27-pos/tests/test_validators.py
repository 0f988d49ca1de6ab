"""Validator sets: membership, quorums, the proposer-priority algorithm and its encoding."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from a27_pos import MalformedVote, Validator, ValidatorSet

A, B, C, D = (bytes([index]) * 32 for index in range(1, 5))


def test_membership_power_and_quorums() -> None:
    validators = ValidatorSet.from_powers({B: 20, A: 10, C: 30})
    assert validators.accounts == (A, B, C)
    assert validators.total_power == 60
    assert (validators.power(B), validators.power(D)) == (20, 0)
    assert B in validators and D not in validators
    assert len(validators) == 3
    assert validators.has_quorum(41) and not validators.has_quorum(40)
    assert validators.exceeds_one_third(21) and not validators.exceeds_one_third(20)


@pytest.mark.parametrize("members", [(), (Validator(A, 0),), (Validator(A, 1), Validator(A, 2)),
                                     (Validator(b"short", 1),)])
def test_invalid_sets_are_refused(members: tuple[Validator, ...]) -> None:
    with pytest.raises(ValueError):
        ValidatorSet(members)


def test_each_validator_proposes_its_power_share_exactly_over_total_power_repetitions() -> None:
    validators = ValidatorSet.from_powers({A: 1, B: 2, C: 3, D: 4})
    _, chosen = validators.increment_priorities(10)
    assert Counter(chosen) == {A: 1, B: 2, C: 3, D: 4}
    assert chosen[0] == D


def test_priorities_return_to_their_start_after_total_power_repetitions() -> None:
    validators = ValidatorSet.from_powers({A: 1, B: 2, C: 3, D: 4})
    after, _ = validators.increment_priorities(10)
    assert after == validators


def test_next_set_continues_the_sequence_height_by_height() -> None:
    validators = ValidatorSet.from_powers({A: 1, B: 2, C: 3, D: 4})
    _, in_one_go = validators.increment_priorities(10)
    sequence = []
    for _ in range(10):
        _, chosen = validators.increment_priorities(1)
        sequence.append(chosen[0])
        validators = validators.next_set(validators.powers)
    assert sequence == in_one_go


def test_ties_go_to_the_smallest_account() -> None:
    _, chosen = ValidatorSet.from_powers({B: 5, A: 5}).increment_priorities(2)
    assert chosen == [A, B]


def test_a_new_validator_starts_behind_and_leavers_leave() -> None:
    validators = ValidatorSet.from_powers({A: 10, B: 10})
    joined = validators.next_set({A: 10, B: 10, C: 20})
    assert joined.power(C) == 20
    new = next(v for v in joined.validators if v.account == C)
    assert new.priority == min(v.priority for v in joined.validators)
    _, chosen = joined.increment_priorities(1)
    assert chosen[0] != C
    left = joined.next_set({A: 10, C: 20})
    assert B not in left and left.total_power == 30


def test_priorities_are_rescaled_when_they_spread_too_far() -> None:
    spread = ValidatorSet((Validator(A, 1, 1_000), Validator(B, 1, -1_000)))
    after, chosen = spread.increment_priorities(1)
    assert chosen == [A]
    assert max(v.priority for v in after.validators) - min(v.priority for v in after.validators) <= 4 * 2


@given(st.dictionaries(st.binary(min_size=32, max_size=32), st.integers(1, 10**12), min_size=1, max_size=8),
       st.integers(1, 40))
def test_encoding_round_trips_and_priorities_stay_bounded(powers: dict[bytes, int], times: int) -> None:
    validators = ValidatorSet.from_powers(powers)
    after, chosen = validators.increment_priorities(times)
    assert ValidatorSet.decode(after.encode()) == after
    assert set(chosen) <= set(powers)
    assert max(abs(v.priority) for v in after.validators) <= 3 * after.total_power


def test_decoding_is_strict() -> None:
    encoded = ValidatorSet.from_powers({A: 1, B: 2}).encode()
    with pytest.raises(MalformedVote, match="trailing"):
        ValidatorSet.decode(encoded + b"\x00")
    swapped = encoded[:2] + encoded[2 + 56 :] + encoded[2 : 2 + 56]
    with pytest.raises(MalformedVote, match="increasing"):
        ValidatorSet.decode(swapped)
    with pytest.raises(MalformedVote, match="not a validator set"):
        ValidatorSet.decode(b"\x00\x00")


def test_nodes_reading_the_same_validator_set_share_one_object() -> None:
    members = ValidatorSet((Validator(bytes([1]) * 32, 5), Validator(bytes([2]) * 32, 7)))
    encoded = members.encode()
    first = ValidatorSet.decode(encoded)
    assert ValidatorSet.decode(bytes(encoded)) is first
    assert first == members
    with pytest.raises(MalformedVote):
        ValidatorSet.decode(encoded[:-1])
