"""The PoS layer's defences against Lab 4 attacks, each one switch: on by default, off to show what an attack does.

A defence's full name is `pos.<field>` (`pos.checkpoints`). `PosSettings.defences` holds the node's choice.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class PosDefences:
    """Which PoS defences a node runs (all on by default); `PosDefences.none()` switches every one off."""

    checkpoints: bool = True
    """Weak subjectivity: the node refuses any chain whose block at a configured checkpoint height is not the
    checkpoint's block (`PosSettings.checkpoint`, `Chain.set_checkpoint`). Stops a long-range fork: validators that
    have unbonded (nothing left to slash) signing an alternative history from an old height, served to a node that
    syncs from genesis. Off: such a node adopts whichever certified chain it is served first, the fork included."""

    resubmit: bool = True
    """A light node whose admitted transfer is not final after `PosSettings.resubmit_after` seconds submits it again
    to the next validator it has not tried. Stops one censoring validator (the first a light node asks, since light
    nodes ask in account order) from holding a transfer back: it admits it, then neither relays nor includes it.
    Off: the light node waits on that validator until its transfer times out, and retries reach it again."""

    @classmethod
    def none(cls) -> PosDefences:
        """Every defence off."""
        return cls(**{field.name: False for field in attrs.fields(cls)})
