"""`a27 attack NAME --record FILE` and `--replay FILE`: the recorded packets give the same report, byte for byte; a
recording of another run, a corrupt one and a truncated one are refused with one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from a27_harness.attacks.recording import RecordedPacket, RecordingError, read_recording
from a27_harness.cli import main

pytestmark = pytest.mark.slow  # each case runs an attack twice, recorded and replayed

RUNS = {
    "double-spend-lab1": ["--seed", "11", "--light-nodes", "4", "--duration", "10"],
    "vote-equivocation": ["--seed", "3", "--light-nodes", "2", "--duration", "6"],
    "hold-htlcs": ["--seed", "5", "--light-nodes", "4", "--undefended"],
    "sybil": ["--seed", "3", "--light-nodes", "2", "--duration", "6", "--undefended"],
}
"""One attack on the ledger (Lab 1), one on consensus (Lab 2), one on channels (Lab 3) and one on peers, small
networks. The last two go on sending after their ``act`` returned (the hub's channel updates, the Sybils'
introductions), and the replay sends that too while the lab goes on from where the recorded run did."""


def _run(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(arguments)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("name", sorted(RUNS))
def test_a_replay_of_the_recorded_packets_writes_the_same_report(name: str, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    record = tmp_path / "attack.rec"
    options = ["attack", name, *RUNS[name]]
    code, recorded_out, _ = _run([*options, "--record", str(record), "--out", str(tmp_path / "recorded")], capsys)
    assert code == 0
    recording = read_recording(record)
    packets = [event for event in recording.events if isinstance(event, RecordedPacket)]
    assert packets and all(packet.sender.startswith("a") for packet in packets)
    code, replayed_out, err = _run([*options, "--replay", str(record), "--out", str(tmp_path / "replayed")], capsys)
    assert code == 0
    assert f"replayed {len(recording.events):,} recorded events" in err
    assert "out of their recorded place" not in err
    assert replayed_out == recorded_out
    for report in ("report.md", "report.json"):
        assert (tmp_path / "replayed" / report).read_bytes() == (tmp_path / "recorded" / report).read_bytes()


def _recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    record = tmp_path / "attack.rec"
    code, _, _ = _run(["attack", "double-spend-lab1", *RUNS["double-spend-lab1"], "--record", str(record), "--out",
                       str(tmp_path / "recorded")], capsys)
    assert code == 0
    return record


def test_a_recording_of_another_run_a_corrupt_and_a_truncated_one_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = _recorded(tmp_path, capsys)
    lines = record.read_text().splitlines(keepends=True)
    corrupt, truncated = tmp_path / "corrupt.rec", tmp_path / "truncated.rec"
    packet = json.loads(lines[1])
    packet["packet"] = "00" + packet["packet"][2:]
    corrupt.write_text("".join([lines[0], json.dumps(packet) + "\n", *lines[2:]]))
    truncated.write_text("".join(lines[:-1]))
    options = ["attack", "double-spend-lab1", *RUNS["double-spend-lab1"], "--out", str(tmp_path / "out")]
    other_seed = [*options[:2], "--seed", "12", *RUNS["double-spend-lab1"][2:], "--out", str(tmp_path / "out")]
    other_size = [*options, "--validators", "5"]
    cases = [(other_seed, record, "seed is 11 there, 12 here"), (other_size, record, "validators is 4 there"),
             (options, corrupt, "corrupt"), (options, truncated, "truncated")]
    for arguments, path, message in cases:
        code, out, err = _run([*arguments, "--replay", str(path)], capsys)
        assert code == 2, message
        assert out == ""
        assert len(err.strip().splitlines()) == 1 and message in err
    code, _, err = _run(["attack", "vote-equivocation", *RUNS["double-spend-lab1"], "--replay", str(record)], capsys)
    assert code == 2 and "attack is 'double-spend-lab1' there" in err


@pytest.mark.parametrize("text", ["", "not json\n", '{"format": "other", "version": 1}\n{"end": 0}\n',
                                  '{"format": "a27-attack-record", "version": 1}\n{"at": 1}\n'])
def test_unreadable_recordings_raise_one_recording_error(text: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.rec"
    path.write_text(text)
    with pytest.raises(RecordingError):
        read_recording(path)
