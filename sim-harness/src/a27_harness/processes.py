"""
Detached processes of a folder of real nodes (``a27 net`` and ``a27 battle``): ``a27 node run`` per node folder and
``a27 tracker run`` in a tracker folder, each started in its own session with its working directory in its folder,
its output in ``node.log`` and its process id in ``node.pid`` in its folder (``tracker.log``, ``tracker.pid`` for the
tracker, whose folder holds ``tracker.address``, ``HOST:PORT``).

A pid file is trusted only while ``/proc/<pid>`` is a process whose working directory is that folder and whose
command line holds the folder's marker (a node's config path, the tracker's ``tracker run``): a recycled pid is not
mistaken for the node, and nothing else is ever signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .node.command import CONFIG_NAME

PID_NAME = "node.pid"
LOG_NAME = "node.log"
TRACKER_MARK = "tracker"
"""The command-line word that marks a tracker process (``a27 tracker run``), and the stem of its files' names."""
TRACKER_ADDRESS = "tracker.address"
"""The file of a tracker folder that holds the tracker's ``HOST:PORT``."""
STOP_WAIT = 20.0
"""Seconds ``stop_processes`` waits for the processes to exit after SIGTERM before it kills the rest."""
STOPPED, KILLED, NOT_RUNNING = "stopped", "killed", "not running"


def free_ports(count: int, kind: int = socket.SOCK_DGRAM) -> list[int]:
    """``count`` distinct ports of 127.0.0.1 free now (UDP, or TCP with ``socket.SOCK_STREAM``)."""
    probes = [socket.socket(socket.AF_INET, kind) for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def _is_tracker(folder: Path) -> bool:
    return (folder / TRACKER_ADDRESS).exists()


def pid_file(folder: Path) -> Path:
    """The pid file of the process of ``folder``: ``node.pid``, or ``tracker.pid`` in a tracker folder."""
    return folder / (f"{TRACKER_MARK}.pid" if _is_tracker(folder) else PID_NAME)


def log_file(folder: Path) -> Path:
    """The log of the process of ``folder``: ``node.log``, or ``tracker.log`` in a tracker folder."""
    return folder / (f"{TRACKER_MARK}.log" if _is_tracker(folder) else LOG_NAME)


def _mark(folder: Path) -> bytes:
    """What the command line of the process of ``folder`` holds: ``tracker``, or its node config's path."""
    return TRACKER_MARK.encode() if _is_tracker(folder) else str(folder.resolve() / CONFIG_NAME).encode()


def running_pid(folder: Path) -> int | None:
    """The process id of the node or tracker running from ``folder`` (checked in /proc); else None."""
    try:
        pid = int(pid_file(folder).read_text(encoding="ascii").strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except (OSError, ValueError):
        return None
    return pid if _mark(folder) in command and cwd == folder.resolve() else None


def start_process(folder: Path, arguments: Sequence[str]) -> int:
    """Start ``a27 ARGUMENTS`` detached in ``folder`` (log and pid file there); its process id."""
    with log_file(folder).open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "a27_harness.entry", *arguments], stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=log, start_new_session=True, cwd=folder)
    pid_file(folder).write_text(f"{process.pid}\n", encoding="ascii")
    return process.pid


def start_node(folder: Path) -> int:
    """Start ``a27 node run <folder>/node.toml`` detached; its process id."""
    return start_process(folder, ["node", "run", str(folder.resolve() / CONFIG_NAME)])


def make_tracker_folder(folder: Path, host: str, port: int) -> str:
    """Make ``folder`` a tracker folder for ``HOST:PORT`` (its ``tracker.address``); the address."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TRACKER_ADDRESS).write_text(f"{host}:{port}\n", encoding="ascii")
    return f"{host}:{port}"


def start_tracker(folder: Path) -> int:
    """Start ``a27 tracker run`` detached in a tracker folder, on the address it holds; its process id."""
    host, _, port = (folder / TRACKER_ADDRESS).read_text(encoding="ascii").strip().rpartition(":")
    return start_process(folder, [TRACKER_MARK, "run", "--listen", host, "--port", port])


def stop_processes(folders: Sequence[Path], timeout: float = STOP_WAIT) -> dict[Path, str]:
    """
    SIGTERM the process of each folder that runs one, wait up to ``timeout`` s for all, SIGKILL the rest; remove the
    pid files. How each ended, by folder: ``stopped``, ``killed`` or ``not running``. Stop the tracker last: pass
    it in a call of its own after the nodes'.
    """
    waiting: dict[Path, int] = {}
    ended: dict[Path, str] = {}
    for folder in folders:
        pid = running_pid(folder)
        if pid is None:
            ended[folder] = NOT_RUNNING
        else:
            os.kill(pid, signal.SIGTERM)
            waiting[folder] = pid
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        for folder in [folder for folder in waiting if running_pid(folder) is None]:
            ended[folder] = STOPPED
            del waiting[folder]
        time.sleep(0.1)
    for folder, pid in waiting.items():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        ended[folder] = KILLED
    for folder in folders:
        pid_file(folder).unlink(missing_ok=True)
    return {folder: ended[folder] for folder in folders}
