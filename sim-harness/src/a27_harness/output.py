"""What every run and experiment shares when it shows itself: progress over simulated time, and report files."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

ProgressCallback = Callable[[float, float, str], None]
"""Called with (simulated seconds done, simulated seconds planned, phase)."""


def start_progress(progress: ProgressCallback | None, busy_until: float, planned: float) -> asyncio.Task[None]:
    """Report progress every simulated second: phase ``transfers`` until ``busy_until`` seconds, then ``settling``."""
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def tick() -> None:
        while True:
            if progress is not None:
                done = loop.time() - start
                progress(min(done, planned), planned, "transfers" if done < busy_until else "settling")
            await asyncio.sleep(1.0)

    return loop.create_task(tick(), name="progress")


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
