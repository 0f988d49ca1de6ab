"""Junk on IPv8's own message ids reaching the PoS community is a counted drop (inherited from ``A27Community``)."""

from __future__ import annotations

from test_community import PosTestBase

from a27_pos import PosCommunity

BUILTIN_IDS = (231, 232, 233, 234, 245, 246, 249, 250)


class TestBuiltinIds(PosTestBase):
    async def test_junk_on_every_builtin_id_is_counted_as_one_drop(self) -> None:
        overlay = self.overlay(0)
        before = sum(overlay.drops.values())
        for msg_id in BUILTIN_IDS:
            # On the production path: TestBase's own packet callback skips on_packet overrides.
            PosCommunity.on_packet(overlay, (self.address(4), overlay.get_prefix() + bytes([msg_id]) + b"\xff" * 5))
        self.assertEqual(before + len(BUILTIN_IDS), sum(overlay.drops.values()))
        self.assertEqual(len(BUILTIN_IDS), overlay.drops["malformed"])
