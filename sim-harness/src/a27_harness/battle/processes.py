"""
Starting and stopping the battle's node processes (``a27 node run``), one per node folder, detached, with a pid file
and a log in the folder. ``start_node_processes`` and ``stop_node_processes`` are the two functions to swap for
``a27 net up|down``'s when that lands.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

PID_FILE = "node.pid"
LOG_FILE = "node.log"
STOP_TIMEOUT = 15.0
"""Seconds a node gets to stop cleanly after SIGTERM before it is killed."""


def _running(pid: int, config: Path) -> bool:
    """Whether ``pid`` is alive and is the ``a27 node run`` of ``config`` (not a recycled pid)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(config).encode() in command


def start_node_processes(configs: Sequence[Path]) -> dict[Path, int]:
    """Start ``a27 node run CONFIG`` for each config in its own session, logging to ``node.log`` beside it; the
    pid goes to ``node.pid``. Returns the pid of each config."""
    started = {}
    for config in configs:
        folder = config.parent
        with (folder / LOG_FILE).open("ab") as log:
            process = subprocess.Popen([sys.executable, "-m", "a27_harness.entry", "node", "run", str(config)],
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        (folder / PID_FILE).write_text(f"{process.pid}\n", encoding="utf-8")
        started[config] = process.pid
    return started


def stop_node_processes(configs: Sequence[Path], timeout: float = STOP_TIMEOUT) -> dict[Path, str]:
    """SIGTERM every running node of ``configs`` (by its pid file), wait up to ``timeout`` s for all, SIGKILL the
    rest; remove the pid files. Returns how each ended: ``stopped``, ``killed`` or ``not running``."""
    pids = {}
    ended: dict[Path, str] = {}
    for config in configs:
        pid_file = config.parent / PID_FILE
        text = pid_file.read_text(encoding="utf-8").strip() if pid_file.exists() else ""
        if text.isdigit() and _running(int(text), config):
            os.kill(int(text), signal.SIGTERM)
            pids[config] = int(text)
        else:
            ended[config] = "not running"
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        for config in [config for config, pid in pids.items() if not _running(pid, config)]:
            ended[config] = "stopped"
            del pids[config]
        time.sleep(0.1)
    for config, pid in pids.items():
        os.kill(pid, signal.SIGKILL)
        ended[config] = "killed"
    for config in configs:
        (config.parent / PID_FILE).unlink(missing_ok=True)
    return ended
