"""The battle: a referee scores teams of real nodes from its own finalized chain (BATTLE.md)."""
