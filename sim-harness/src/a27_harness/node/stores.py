"""Where nodes keep their ledger, chain and channels: in memory, or in one set of SQLite files per node."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from a27_channels import ChannelStore, MemoryChannelStore, SQLiteChannelStore, channel_chain, channels_registry
from a27_ledger import LedgerStore, MemoryStore, SQLiteStore, TransactionRegistry
from a27_pos import Chain, ChainStore, MemoryChainStore, PosGenesis, SQLiteChainStore, pos_registry

if TYPE_CHECKING:
    from .builder import NodeSpec

StoreT = TypeVar("StoreT", "LedgerStore", "ChainStore", "ChannelStore")


def chain_registry(layers: Collection[str]) -> TransactionRegistry:
    """The transaction kinds the chain of a node running ``layers`` holds: the channel kinds too with channels."""
    return channels_registry() if "channels" in layers else pos_registry()


def open_chain(layers: Collection[str], genesis: PosGenesis, ledger: LedgerStore, store: ChainStore) -> Chain:
    """The chain of a node running ``layers`` from its stores (``store`` opened with ``chain_registry(layers)``)."""
    if "channels" in layers:
        return channel_chain(genesis, ledger, store)
    return Chain.start(genesis, ledger, store)


class Stores:
    """Where nodes keep their ledger and chain: in memory, or in SQLite files in a directory."""

    def __init__(self, directory: str | Path | None = None) -> None:
        """Keep everything in memory, or in ``<directory>/<node>.db``, ``.chain.db`` and ``.channels.db``."""
        self.directory = Path(directory) if directory is not None else None
        self._opened: list[LedgerStore | ChainStore | ChannelStore] = []
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    def ledger(self, spec: NodeSpec) -> LedgerStore:
        """The store of the node's ledger state."""
        if self.directory is None:
            return MemoryStore()
        return self._keep(SQLiteStore(self.directory / f"{spec.name}.db"))

    def chain(self, spec: NodeSpec) -> ChainStore:
        """The store of the node's finalized blocks (decoding the channel kinds too if the node runs channels)."""
        if self.directory is None:
            return MemoryChainStore()
        return self._keep(SQLiteChainStore(self.directory / f"{spec.name}.chain.db", chain_registry(spec.layers)))

    def resume_epoch(self, specs: Sequence[NodeSpec]) -> float:
        """
        Where a resumed run's simulated PoS clock starts: one second after the latest stored block of any node.

        0 when nothing is stored (memory stores, a new directory, or nodes without the pos layer). Every node's
        clock must start after the stored heads, or peers drop the new proposals as stamped too far ahead.
        """
        if self.directory is None:
            return 0.0
        latest = 0
        for spec in specs:
            path = self.directory / f"{spec.name}.chain.db"
            if "pos" not in spec.layers or not path.exists():
                continue
            store = self.chain(spec)
            try:
                head = store.head_height()
                block = store.block(head) if head else None
                if block is not None:
                    latest = max(latest, block.header.timestamp)
            finally:
                store.close()
        return latest / 1000 + 1.0 if latest else 0.0

    def channels(self, spec: NodeSpec) -> ChannelStore:
        """The store of the node's payment channels, invoices and preimages."""
        if self.directory is None:
            return MemoryChannelStore()
        return self._keep(SQLiteChannelStore(self.directory / f"{spec.name}.channels.db"))

    def _keep(self, store: StoreT) -> StoreT:
        self._opened.append(store)
        return store

    def close(self) -> None:
        """Close every SQLite store handed out (a real node does so after stopping its overlays); idempotent."""
        while self._opened:
            self._opened.pop().close()
