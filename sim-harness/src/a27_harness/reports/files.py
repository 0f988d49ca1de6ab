"""Writing report files: report.json, report.md and the PNG figures (matplotlib on its headless backend)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .provenance import Provenance


def pyplot() -> Any:
    """matplotlib's pyplot on the headless Agg backend, imported only when a report draws (it is slow to import)."""
    import matplotlib  # noqa: PLC0415 - see the docstring

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def save_figure(figure: Any, path: Path) -> None:
    """Lay ``figure`` out, write it to ``path`` as a PNG (100 dpi) and free it."""
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot().close(figure)


def write_report_files(directory: str | Path, data: dict[str, Any], markdown: str,
                       plots: Mapping[str, Callable[[Path], None]] | None = None,
                       provenance: Provenance | None = None) -> Path:
    """
    Write a report into ``directory``: ``report.json`` (``data``, sorted keys), ``report.md`` (``markdown``) and one
    PNG per entry of ``plots`` (file name: function drawing it to a path). With ``provenance``, report.json gets it
    under ``provenance`` and report.md ends with its section. Returns the Markdown file's path.
    """
    if provenance is not None:
        data = {**data, "provenance": provenance.to_dict()}
        markdown = markdown.rstrip("\n") + "\n\n" + "\n".join(provenance.markdown()) + "\n"
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    path = folder / "report.md"
    path.write_text(markdown, encoding="utf-8")
    for name, draw in (plots or {}).items():
        draw(folder / name)
    return path
