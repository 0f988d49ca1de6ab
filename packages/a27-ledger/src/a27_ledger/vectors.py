"""Golden-vector files: the canonical text of a layer's message vectors, and the rewrite its scripts run.

The files under each package's ``tests/vectors/`` are the wire contract (PROTOCOL.md names them); the tests compare
the encoder's output with them in both directions. Rewriting them is a deliberate protocol change.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any


def vector_file_text(vectors: Mapping[str, str]) -> str:
    """The canonical text of a golden-vector file: sorted JSON, two-space indent, one trailing newline."""
    return json.dumps(dict(vectors), indent=2, sort_keys=True) + "\n"


def write_vector_file(path: Path, vectors: Mapping[str, str]) -> bool:
    """Write ``vectors`` to ``path`` in the canonical form; return whether the file changed."""
    text = vector_file_text(vectors)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def read_vector_file(path: Path) -> dict[str, str]:
    """The vectors a golden-vector file holds, by name."""
    return dict(json.loads(path.read_text(encoding="utf-8")))


class EncodingVectors:
    """
    The golden vectors of a layer's encodings, as its tests check them in both directions: every sample (an object
    with ``encode()``) encodes to its vector in ``path``, and every vector decodes (with the sample's decoder) back to
    the sample. ``derived`` gives values the file pins besides the encodings (ids, hashes).
    """

    def __init__(self, path: Path, samples: Callable[[], Mapping[str, Any]],
                 decoders: Mapping[str, Callable[[bytes], Any]], derived: Callable[[], Mapping[str, str]]) -> None:
        """Vectors in ``path`` for ``samples()``, decoded by ``decoders`` (by sample name), plus ``derived()``."""
        self.path = path
        self.samples = samples
        self.decoders = decoders
        self.derived = derived

    def load(self) -> dict[str, str]:
        """The vectors the file holds."""
        return read_vector_file(self.path)

    def build(self) -> dict[str, str]:
        """The vectors the samples make: what the file must hold (a rewrite writes exactly this)."""
        return {name: sample.encode().hex() for name, sample in self.samples().items()} | dict(self.derived())

    def unmatched_names(self) -> set[str]:
        """Samples without a decoder, decoders without a sample, and names only the file or only the samples have."""
        samples = set(self.samples())
        return (samples ^ set(self.decoders)) | (set(self.load()) ^ (samples | set(self.derived())))

    def decoded(self, name: str) -> Any:
        """The file's vector ``name``, decoded by its decoder."""
        return self.decoders[name](bytes.fromhex(self.load()[name]))


def rewrite_vectors(tests_dir: Path, module_names: Sequence[str]) -> list[tuple[Path, bool]]:
    """
    Rewrite the golden vectors of the test modules ``module_names`` in ``tests_dir``.

    Each module names its file ``VECTORS`` and builds its vectors with ``vectors()``, the same function its tests
    compare the file against, so the file and the tests cannot drift apart. Only for a deliberate protocol change:
    the files are the contract. Returns each file with whether it changed.
    """
    sys.path.insert(0, str(tests_dir))
    try:
        modules = [importlib.import_module(name) for name in module_names]
    finally:
        sys.path.remove(str(tests_dir))
    return [(Path(module.VECTORS), write_vector_file(Path(module.VECTORS), module.vectors())) for module in modules]


def main_rewrite_vectors(tests_dir: Path, module_names: Sequence[str]) -> int:
    """Entry point of a package's ``scripts/write_vectors.py``: rewrite, print what changed, return 0."""
    for path, changed in rewrite_vectors(tests_dir, module_names):
        print(f"{'rewrote' if changed else 'unchanged'} {path}")
    return 0
