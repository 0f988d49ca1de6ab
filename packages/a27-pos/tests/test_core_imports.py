"""The core modules are sans-IO: importing them loads neither the community, nor IPv8's community, nor asyncio.

`.importlinter` (contract pos-core-is-sans-io) checks the first part statically; asyncio and IPv8 are reached, if at
all, through a27_ledger, so they are checked here in a fresh interpreter.
"""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = ("behaviour", "block", "chain", "consensus", "encoding", "errors", "inmemory", "mempool", "merkle",
                "params", "proposer", "staking", "store", "submissions", "sync", "validators", "votes")


def loaded_after(statement: str, modules: tuple[str, ...]) -> list[str]:
    """The `modules` that a fresh interpreter has loaded after running `statement`."""
    probe = f"import sys\n{statement}\nprint(' '.join(m for m in {modules!r} if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    return output.split()


def test_the_core_modules_do_not_load_the_community_or_its_payloads() -> None:
    imports = "\n".join(f"import a27_pos.{module}" for module in CORE_MODULES)
    assert loaded_after(imports, ("a27_pos.community", "a27_pos.payloads")) == []


def test_the_package_loads_the_community_on_first_use() -> None:
    assert loaded_after("import a27_pos", ("a27_pos.community",)) == []
    assert loaded_after("import a27_pos; a27_pos.PosCommunity", ("a27_pos.community",)) == ["a27_pos.community"]


def test_the_consensus_engine_loads_neither_asyncio_nor_ipv8s_community() -> None:
    assert loaded_after("import a27_pos.consensus", ("asyncio", "ipv8.community")) == []
