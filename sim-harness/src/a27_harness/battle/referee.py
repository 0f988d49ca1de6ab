"""
The referee's side: its finalized chain, read from its data directory (SQLite stores) or held live, and the
scoreboard of the battle folder over it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from a27_ledger import SQLiteStore
from a27_pos import Chain, ChainStoreError, PosError, PosGenesis, SQLiteChainStore

from ..node.command import CONFIG_NAME
from ..node.config import ConfigError, load_config, load_genesis
from ..node.stores import chain_registry, open_chain
from .declaration import load_declaration
from .scoring import BattleDeclaration, BattleError, Scoreboard, score_battle


@contextlib.contextmanager
def referee_chain(folder: Path) -> Iterator[tuple[BattleDeclaration, PosGenesis, Chain]]:
    """
    The battle folder's declaration, genesis and the referee's chain, opened from a consistent copy of its data
    directory's databases (the referee may be running: its own files are only read, never written).

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
    with tempfile.TemporaryDirectory(prefix="a27-referee-") as temporary:
        for attempt in range(SNAPSHOT_ATTEMPTS):
            ledger_copy, chain_copy = (snapshot_database(path, Path(temporary) / f"{attempt}-{path.name}")
                                       for path in (ledger_path, chain_path))
            ledger, store = SQLiteStore(ledger_copy), SQLiteChainStore(chain_copy, chain_registry(config.layers))
            try:
                try:
                    chain = open_chain(config.layers, genesis, ledger, store)
                except ChainStoreError as error:
                    if attempt + 1 < SNAPSHOT_ATTEMPTS:
                        continue  # the referee committed blocks between the two copies: copy both again
                    raise BattleError(f"referee {referee}: {config.data_dir}: {error}") from None
                except PosError as error:
                    raise BattleError(f"referee {referee}: {config.data_dir}: {error}") from None
                yield declaration, genesis, chain
                return
            finally:
                ledger.close()
                store.close()


SNAPSHOT_ATTEMPTS = 20
"""Copies of the referee's two databases tried before giving up on a consistent pair (a block every second or so
commits in well under the time two copies take, so a second attempt is rare)."""


def snapshot_database(source: Path, target: Path) -> Path:
    """A consistent copy of the SQLite database at ``source`` (SQLite's online backup), read without writing to it."""
    with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=10.0)) as origin, \
            contextlib.closing(sqlite3.connect(target)) as copy:
        origin.backup(copy)
    return target


def score_folder(folder: Path) -> Scoreboard:
    """The scoreboard of the battle in ``folder`` from its referee's stored chain."""
    with referee_chain(folder) as (declaration, genesis, chain):
        return score_battle(declaration, genesis, chain)
