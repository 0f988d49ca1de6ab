"""
The ledger layer's defences against the Lab attacks: one switch per defence, all on by default.

A defence's full name is ``ledger.<field>`` (``ledger.conflicting_nonces``). Switching one off (``LedgerDefences(
conflicting_nonces=False)``, or ``LedgerDefences.none()`` for all) restores the undefended behaviour, so that an
attack's effect can be shown. Pure data: no networking, no clock.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class LedgerDefences:
    """Which ledger defences a node runs (``LedgerSettings.defences``); every field defaults to on."""

    conflicting_nonces: bool = True
    """Stops double spending in Lab 1: two validly signed transactions of one sender with one nonce are a proof of a
    double spend. Every node that sees both (they are in validators' logs, which every node follows) voids the one
    it applied, so the sender's nonce is used and no transfer of it counts, records the proof with the offender's key
    and reports it once. Every honest node ends with the same ledger and nobody is credited twice. Off: each node
    keeps whichever of the conflicting transactions it saw first, so nodes can disagree for good and the sender's
    balance is paid out once per conflicting transaction."""

    confirmed_credits: bool = True
    """Stops the chained double spend in Lab 1 (``conflicting_nonces``'s residual): a validator admits a transfer only
    if the sender's balance covers it without the transfer credits this node applied less than
    ``confirmation_window`` seconds ago (``LedgerSettings.confirmation_window``, 2 s). A conflicting transaction
    reaches every validator well within that window, so a double spend is voided before its payee can move the funds
    on, and every node ends with the same ledger. Off: a payee can spend a credit the instant it lands; if it does so
    before its validator sees the conflicting transfer, that transfer cannot be voided and the nodes keep two ledgers
    for good, each paying a different attacker account."""

    @classmethod
    def none(cls) -> LedgerDefences:
        """Every defence off: the undefended node, to show what an attack does."""
        return cls(**{field.name: False for field in attrs.fields(cls)})
