"""The core modules are sans-IO: importing them loads neither the community, nor IPv8's community, nor asyncio.

`.importlinter` (contract pos-core-is-sans-io) checks the first part statically; asyncio and IPv8 are reached, if at
all, through a27_ledger, so they are checked here in a fresh interpreter.
"""

from __future__ import annotations

from a27_ledger.testing import modules_loaded_by

CORE_MODULES = ("behaviour", "block", "chain", "consensus", "encoding", "errors", "inmemory", "mempool", "merkle",
                "params", "proposer", "staking", "store", "submissions", "sync", "validators", "votes")


def test_the_core_modules_do_not_load_the_community_or_its_payloads() -> None:
    imports = "\n".join(f"import a27_pos.{module}" for module in CORE_MODULES)
    assert modules_loaded_by(imports, ("a27_pos.community", "a27_pos.payloads")) == set()


def test_the_package_loads_the_community_on_first_use() -> None:
    assert modules_loaded_by("import a27_pos", ("a27_pos.community",)) == set()
    assert modules_loaded_by("import a27_pos; a27_pos.PosCommunity", ("a27_pos.community",)) == {"a27_pos.community"}


def test_the_consensus_engine_loads_neither_asyncio_nor_ipv8s_community() -> None:
    assert modules_loaded_by("import a27_pos.consensus", ("asyncio", "ipv8.community")) == set()
