"""The process module ``a27 net`` and ``a27 battle`` share: pid files checked in /proc, a tracker started and stopped,
a process that ignores SIGTERM killed; ``net up``'s folders bootstrap off the tracker (or the validators without one);
``battle up``'s referee serves the scoreboard; a node refuses a declaration of another chain."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from a27_harness.battle.command import set_up_battle
from a27_harness.net import _init, node_folders, tracker_folder
from a27_harness.node.config import ConfigError, load_config, load_genesis
from a27_harness.node.process import prepare_battle
from a27_harness.processes import (
    KILLED,
    NOT_RUNNING,
    STOPPED,
    free_ports,
    make_tracker_folder,
    pid_file,
    running_pid,
    start_tracker,
    stop_processes,
)


def test_a_pid_file_naming_another_process_or_garbage_is_not_running(tmp_path: Path) -> None:
    (tmp_path / "node.toml").write_text("", encoding="utf-8")
    assert running_pid(tmp_path) is None  # no pid file
    for text in ("garbage", str(os.getpid()), "999999999"):
        (tmp_path / "node.pid").write_text(text, encoding="ascii")
        assert running_pid(tmp_path) is None, text
    assert stop_processes([tmp_path]) == {tmp_path: NOT_RUNNING}
    assert not (tmp_path / "node.pid").exists()


@pytest.mark.timeout(60)
def test_a_tracker_is_started_detached_and_stopped_by_sigterm(tmp_path: Path) -> None:
    folder = tmp_path / "tracker"
    make_tracker_folder(folder, "127.0.0.1", free_ports(1)[0])
    pid = start_tracker(folder)
    try:
        deadline = time.monotonic() + 30
        while "listening on" not in (folder / "tracker.log").read_text(encoding="utf-8"):
            assert time.monotonic() < deadline, (folder / "tracker.log").read_text(encoding="utf-8")
            time.sleep(0.2)
        assert running_pid(folder) == pid and pid_file(folder) == folder / "tracker.pid"
    finally:
        ended = stop_processes([folder])
    assert ended == {folder: STOPPED} and running_pid(folder) is None and not pid_file(folder).exists()
    assert "tracker: stopping" in (folder / "tracker.log").read_text(encoding="utf-8")


@pytest.mark.timeout(30)
def test_a_process_that_ignores_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    make_tracker_folder(tmp_path, "127.0.0.1", 1)
    script = "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1, flush=True); " \
             "time.sleep(60)"
    process = subprocess.Popen([sys.executable, "-c", script, "tracker"], cwd=tmp_path, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stdout.readline() == b"1\n"
        pid_file(tmp_path).write_text(f"{process.pid}\n", encoding="ascii")
        assert running_pid(tmp_path) == process.pid
        assert stop_processes([tmp_path], timeout=0.5) == {tmp_path: KILLED}
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        process.kill()
        process.wait(timeout=10)


def test_net_folders_bootstrap_off_the_tracker_or_without_one_off_the_validators(tmp_path: Path) -> None:
    _init(tmp_path / "with", 2, 1, "ledger,pos", [], tracker=True)
    tracker = tracker_folder(tmp_path / "with")
    assert tracker is not None
    host, _, port = (tracker / "tracker.address").read_text(encoding="ascii").strip().partition(":")
    configs = [load_config(folder / "node.toml") for folder in node_folders(tmp_path / "with")]
    assert {config.bootstrap for config in configs} == {((host, int(port)),)}
    assert int(port) not in {config.port for config in configs}
    _init(tmp_path / "without", 2, 1, "ledger,pos", [], tracker=False)
    assert tracker_folder(tmp_path / "without") is None
    configs = [load_config(folder / "node.toml") for folder in node_folders(tmp_path / "without")]
    assert {config.bootstrap for config in configs} == {tuple(("127.0.0.1", config.port) for config in configs[:2])}


def test_the_battle_referee_serves_the_scoreboard_on_loopback_and_a_declaration_must_match_the_chain(
        tmp_path: Path) -> None:
    configs = set_up_battle(tmp_path, [("red", "vote-equivocation")], blue_validators=4, chain_id="a27-battle",
                            balance=1_000, stake=100_000, base_port=9100, rest_port=9200)
    referee, *others = [load_config(path) for path in configs]
    assert referee.rest is not None and referee.rest.url == "http://127.0.0.1:9200"
    assert referee.rest.battle == tmp_path / "battle.toml" and referee.rest.api_key is None
    assert all(config.rest is None for config in others)
    genesis = load_genesis(referee.genesis)
    declaration = prepare_battle(referee, genesis)
    assert declaration is not None and [team.name for team in declaration.teams] == ["blue", "red"]
    assert prepare_battle(others[0], genesis) is None
    (tmp_path / "battle.toml").write_text((tmp_path / "battle.toml").read_text(encoding="utf-8").replace(
        'chain_id = "a27-battle"', 'chain_id = "another"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[rest\] battle: .*chain_id 'another' is not the genesis's"):
        prepare_battle(referee, genesis)
    (tmp_path / "battle.toml").unlink()
    with pytest.raises(ConfigError, match=r"\[rest\] battle: .*battle.toml"):
        prepare_battle(referee, genesis)

