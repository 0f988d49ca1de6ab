"""
How payments end, as every report names, defines and colours them: one table, so that a cause has the same words and
the same colour in `a27 sim` (Lab 3) and `a27 experiment topology` reports, whichever causes a run happens to show.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Outcome:
    """One way a payment can end: what it means and the colour plots draw it in."""

    label: str
    meaning: str
    colour: str


OUTCOMES = {outcome.label: outcome for outcome in (
    Outcome("settled", "the payment reached its payee", "#2ca02c"),
    Outcome("succeeded", "the payment reached its payee", "#2ca02c"),
    Outcome("no path", "the payer's router found no route whose channels could carry the amount", "#1f77b4"),
    Outcome("insufficient balance", "a channel on the route lacked the amount on its sending side when the payment "
                                    "reached it", "#ff7f0e"),
    Outcome("hop offline", "a node on the route stopped answering, and the HTLC offered to it was given up after "
                           "its retransmissions", "#d62728"),
    Outcome("expiry too soon", "the HTLC's expiry left a hop too few blocks to claim it", "#9467bd"),
    Outcome("fee insufficient", "the fee offered was below a forwarding node's fee policy", "#8c564b"),
    Outcome("unknown channel", "a hop did not know the channel (not open, or closing)", "#e377c2"),
    Outcome("unknown payment", "the payee did not know the payment's hash", "#bcbd22"),
    Outcome("timeout", "no answer came back before the payment's deadline", "#17becf"),
    Outcome("channel failure", "any other refusal by the next channel on the route (too many HTLCs in flight, "
                               "the channel closing)", "#aec7e8"),
    Outcome("endpoint offline", "the payer or payee was the offline node, so the payment was never started",
            "#7f7f7f"),
    Outcome("unresolved", "still pending when the run stopped waiting for it (a cap on simulated time, stated "
                          "beside the figures)", "#000000"),
)}
"""Every outcome by its label (``FailureCause.label`` of a27-channels for the failure causes)."""

OTHER_COLOUR = "#c7c7c7"
"""The colour of an outcome missing from ``OUTCOMES`` (a cause added to a27-channels later)."""


def colour(label: str) -> str:
    """The fixed colour of outcome ``label``."""
    outcome = OUTCOMES.get(label)
    return outcome.colour if outcome is not None else OTHER_COLOUR


def meaning(label: str) -> str:
    """What outcome ``label`` means, in words."""
    outcome = OUTCOMES.get(label)
    return outcome.meaning if outcome is not None else "a cause this report has no definition of"


def definitions(labels: list[str]) -> str:
    """One sentence defining each of ``labels``: ``no path: ...; unresolved: ...``."""
    return "; ".join(f"*{label}*: {meaning(label)}" for label in labels) + "." if labels else ""


__all__ = ["OTHER_COLOUR", "OUTCOMES", "Outcome", "colour", "definitions", "meaning"]
