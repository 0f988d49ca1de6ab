"""Lazy exports (PEP 562): a package exports its overlay names without loading the overlay until one is used."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_exports(package: str, modules: Mapping[str, Iterable[str]],
                 public: Iterable[str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """
    The module ``__getattr__`` and ``__dir__`` of ``package`` that serve the names of ``modules`` lazily.

    :param modules: for each module, the names it defines that ``package`` exports but loads only on first use.
    :param public: the package's ``__all__``, which ``__dir__`` lists in full before any lazy name is loaded.
    """
    module_of = {name: module for module, names in modules.items() for name in names}
    listed = frozenset(public)

    def __getattr__(name: str) -> Any:  # noqa: N807 (the PEP 562 hook's name)
        """Load a lazy name on first use and keep it as a plain attribute of the package."""
        module_name = module_of.get(name)
        if module_name is None:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        value = getattr(importlib.import_module(module_name), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:  # noqa: N807 (the PEP 562 hook's name)
        """The package's attributes, the lazy names included before their first use."""
        return sorted(set(vars(sys.modules[package])) | listed)

    return __getattr__, __dir__
