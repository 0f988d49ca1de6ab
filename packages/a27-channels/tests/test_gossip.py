"""Announcements and policy updates: signatures, the chain check, encodings."""

from __future__ import annotations

import attrs
import pytest
from samples import ALICE, BOB, FUNDING_TX_ID, TERMS

from a27_channels import (
    ChannelAnnouncement,
    ChannelPolicy,
    ChannelRecord,
    ChannelStatus,
    ChannelUpdate,
    InvalidAnnouncement,
    MalformedChannelData,
)

RECORD = ChannelRecord(TERMS, ChannelStatus.OPEN, FUNDING_TX_ID, 10)


def announcement() -> ChannelAnnouncement:
    unsigned = ChannelAnnouncement.of_record(RECORD)
    return attrs.evolve(unsigned, signature_a=unsigned.sign(ALICE), signature_b=unsigned.sign(BOB))


def test_an_announcement_needs_both_signatures_and_the_chain() -> None:
    signed = announcement()
    signed.verify()
    signed.check_against(RECORD)
    with pytest.raises(InvalidAnnouncement):
        attrs.evolve(signed, signature_b=signed.signature_a).verify()
    with pytest.raises(InvalidAnnouncement):
        signed.check_against(None)
    with pytest.raises(InvalidAnnouncement):
        signed.check_against(attrs.evolve(RECORD, status=ChannelStatus.CLOSING))
    with pytest.raises(InvalidAnnouncement):
        attrs.evolve(signed, capacity=1).check_against(RECORD)
    assert ChannelAnnouncement.decode(signed.encode()) == signed
    with pytest.raises(MalformedChannelData):
        ChannelAnnouncement.decode(signed.encode()[:-1])


def test_a_policy_update_is_signed_by_its_node() -> None:
    update = ChannelUpdate.create(BOB, TERMS.channel_id, 3, ChannelPolicy(1, 2, 3, disabled=True))
    update.verify()
    assert ChannelUpdate.decode(update.encode()) == update
    with pytest.raises(InvalidAnnouncement):
        attrs.evolve(update, node=ALICE.public_key).verify()
    with pytest.raises(InvalidAnnouncement):
        attrs.evolve(update, serial=4).verify()
    flags = bytearray(update.encode())
    flags[78] = 0x02
    with pytest.raises(MalformedChannelData):
        ChannelUpdate.decode(bytes(flags))


def test_fees() -> None:
    assert ChannelPolicy(1, 1_000, 10).fee(5_000) == 6
    assert ChannelPolicy(0, 0, 10).fee(10**9) == 0
    with pytest.raises(MalformedChannelData):
        ChannelPolicy(2**32, 0, 0)
