"""
The referee's side: its finalized chain, read from its data directory (SQLite stores) or held live, and the
scoreboard of the battle folder over it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from a27_ledger import SQLiteStore
from a27_pos import Chain, PosError, PosGenesis, SQLiteChainStore, pos_registry

from ..node.command import CONFIG_NAME
from ..node.config import ConfigError, load_config, load_genesis
from .declaration import load_declaration
from .scoring import BattleDeclaration, BattleError, Scoreboard, score_battle


@contextlib.contextmanager
def referee_chain(folder: Path) -> Iterator[tuple[BattleDeclaration, PosGenesis, Chain]]:
    """
    The battle folder's declaration, genesis and the referee's chain opened from its data directory (closed after).

    :raises BattleError: for a bad declaration or config, or a referee that has stored no chain yet.
    """
    declaration, referee, _nodes = load_declaration(folder)
    try:
        config = load_config(folder / referee / CONFIG_NAME)
        genesis = load_genesis(config.genesis)
    except ConfigError as error:
        raise BattleError(f"referee {referee}: {error}") from None
    ledger_path = config.data_dir / f"{config.name}.db"
    chain_path = config.data_dir / f"{config.name}.chain.db"
    if not ledger_path.exists() or not chain_path.exists():
        raise BattleError(f"referee {referee}: no chain stored in {config.data_dir} yet (has it run?)")
    ledger, store = SQLiteStore(ledger_path), SQLiteChainStore(chain_path, pos_registry())
    try:
        try:
            chain = Chain.start(genesis, ledger, store)
        except PosError as error:
            raise BattleError(f"referee {referee}: {config.data_dir}: {error}") from None
        yield declaration, genesis, chain
    finally:
        ledger.close()
        store.close()


def score_folder(folder: Path) -> Scoreboard:
    """The scoreboard of the battle in ``folder`` from its referee's stored chain."""
    with referee_chain(folder) as (declaration, genesis, chain):
        return score_battle(declaration, genesis, chain)
