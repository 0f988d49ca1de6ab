"""Writing report files: report.json, report.md and the PNG figures (matplotlib on its headless backend)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

def pyplot() -> Any:
    """matplotlib's pyplot on the headless Agg backend, imported only when a report draws (it is slow to import)."""
    import matplotlib  # noqa: PLC0415 - see the docstring

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def write_report_files(directory: str | Path, data: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    """Write ``report.json`` (sorted keys) and ``report.md`` into ``directory``; return the folder and the Markdown."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    path = folder / "report.md"
    path.write_text(markdown, encoding="utf-8")
    return folder, path
