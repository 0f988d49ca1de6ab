"""Weak-subjectivity checkpoints: a (height, block id) a node is told out of band, or takes from its own chain.

A certificate only proves that the validator set of its height signed; a validator set that has since unbonded
(and can no longer be slashed) can sign any history from the heights it validated. A node that follows the chain
continuously never meets such a history (it never replaces a finalized block), but a node that syncs from genesis
(new, or restarting with an empty store, or offline longer than `unbonding_delay` blocks) cannot tell the two
apart by signatures alone: it must be given a recent checkpoint. DESIGN.md, "Long-range forks", has the argument.
"""

from __future__ import annotations

from typing import Any

import attrs

BLOCK_ID_LENGTH = 32


def _block_id(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bytes) or len(value) != BLOCK_ID_LENGTH:
        raise ValueError(f"a checkpoint's block id is {BLOCK_ID_LENGTH} bytes")


def _height(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int or value < 1:
        raise ValueError(f"a checkpoint's height is a positive integer, not {value!r}")


@attrs.frozen
class Checkpoint:
    """The finalized block `block_id` at `height` that any chain this node accepts must contain."""

    height: int = attrs.field(validator=_height)
    block_id: bytes = attrs.field(validator=_block_id)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """A checkpoint written as `<height>:<block id in hex>` (how a configuration file or an operator gives it).

        ValueError for anything else."""
        height, separator, block_id = text.partition(":")
        if not separator or not height.strip().isdigit():
            raise ValueError(f"a checkpoint is '<height>:<block id hex>', not {text!r}")
        return cls(int(height), bytes.fromhex(block_id.strip()))

    def __str__(self) -> str:
        """`<height>:<block id in hex>`, as `parse` reads it."""
        return f"{self.height}:{self.block_id.hex()}"

