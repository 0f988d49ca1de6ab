"""Every bad option or scenario value of every subcommand: one line on stderr, exit status 2, nothing run."""

from __future__ import annotations

from pathlib import Path

import pytest

from a27_harness.cli import PathOptionError, check_directory, main

FILE = "{file}"
"""Stands for a regular file in the test's temporary directory."""
SCENARIO = "{scenario}"
"""Stands for a scenario file holding the case's TOML text."""

PATH_CASES = [
    (["sim", "--db", FILE], None, "--db {file}: not a directory"),
    (["sim", "--db", "/dev/null"], None, "--db /dev/null: not a directory"),
    (["sim", "--db", FILE + "/ledgers"], None, "--db {file}/ledgers: not a directory"),
    (["sim", "--layers", "ledger", "--db", FILE], None, "--db {file}: not a directory"),
    (["sim", "--scenario", SCENARIO], 'db = "/dev/null"\n', "--db /dev/null: not a directory"),
    (["sim", "--out", FILE], None, "--out {file}: not a directory"),
    (["sim", "--out", "/dev/null"], None, "--out /dev/null: not a directory"),
    (["sim", "--out", FILE + "/report"], None, "--out {file}/report: not a directory"),
    (["experiment", "stake", "--out", FILE], None, "--out {file}: not a directory"),
    (["experiment", "stake", "--out", FILE + "/report"], None, "--out {file}/report: not a directory"),
    (["experiment", "topology", "--out", FILE], None, "--out {file}: not a directory"),
    (["experiment", "topology", "--out", "/dev/null"], None, "--out /dev/null: not a directory"),
]

NUMBER_CASES = [
    *[(["sim", f"--duration={value}"], None, "argument --duration: expected a finite number")
      for value in ("nan", "inf", "-inf", "NaN", "1e999")],
    (["sim", "--duration", "0"], None, "duration: expected a finite number above 0"),
    (["sim", "--duration", "1e7"], None, "duration: expected a finite number above 0 and at most 1,000,000"),
    (["sim", "--transfer-interval", "nan"], None, "argument --transfer-interval: expected a finite number"),
    (["sim", "--transfer-interval", "0"], None, "transfer_interval: expected a finite number at least 0.01"),
    (["sim", "--loss", "nan"], None, "argument --loss: expected a finite number"),
    (["sim", "--loss", "1"], None, "loss: expected a finite number at least 0 and below 1"),
    (["sim", "--validators", "0"], None, "validators: expected an integer from 1 to 1,000, got 0"),
    (["sim", "--validators", "100000"], None, "validators: expected an integer from 1 to 1,000"),
    (["sim", "--validators", "4.5"], None, "argument --validators: expected an integer, got '4.5'"),
    (["sim", "--light-nodes", "-1"], None, "light_nodes: expected an integer from 1 to 10,000"),
    (["sim", "--seed", "-1"], None, "seed: expected an integer from 0 to 2**64-1"),
    (["sim", "--seed", str(2**64)], None, "seed: expected an integer from 0 to 2**64-1"),
    (["sim", "--latency", "constant:nan"], None, "latency: expected"),
    (["sim", "--latency", "constant:1e999"], None, "latency: expected"),
    (["experiment", "stake", "--seeds", "0"], None, "argument --seeds: expected an integer from 1 to 1,000"),
    (["experiment", "stake", "--duration", "nan"], None, "argument --duration: expected a finite number above 0"),
    (["experiment", "stake", "--duration", "inf"], None, "argument --duration: expected a finite number above 0"),
    (["experiment", "stake", "--validators", "1"], None, "argument --validators: expected an integer from 2"),
    (["experiment", "stake", "--light-nodes", "0"], None, "argument --light-nodes: expected an integer from 1"),
    (["experiment", "stake", "--transfer-interval", "nan"], None, "argument --transfer-interval: expected a finite"),
    (["experiment", "stake", "--transfer-interval", "0"], None, "argument --transfer-interval: expected a finite"),
    (["experiment", "stake", "--base-stake", "0"], None, "argument --base-stake: expected an integer from 1"),
    (["experiment", "stake", "--silence-duration", "nan"], None, "argument --silence-duration: expected a finite"),
    (["experiment", "stake", "--restake-duration", "-1"], None, "argument --restake-duration: expected a finite"),
    (["experiment", "stake", "--restake-interval", "inf"], None, "argument --restake-interval: expected a finite"),
    (["experiment", "stake", "--restake-reward", "0"], None, "argument --restake-reward: expected an integer"),
    (["experiment", "stake", "--restake-seeds", "0"], None, "argument --restake-seeds: expected an integer"),
    (["experiment", "stake", "--jobs", "0"], None, "argument --jobs: expected an integer from 1"),
    (["experiment", "stake", "--cases", "1" + "0" * 400 + "x-more"], None, "unknown stake case"),
    (["experiment", "stake", "--cases", f"{10**20}x-more"], None, "stakes: expected"),
    (["experiment", "topology", "--nodes", "1"], None, "argument --nodes: expected an integer from 2 to 1,000"),
    (["experiment", "topology", "--seed", "-1"], None, "argument --seed: expected an integer from 0"),
    (["experiment", "topology", "--deposit", "0"], None, "argument --deposit: expected an integer from 1"),
    (["experiment", "topology", "--payments", "0"], None, "argument --payments: expected an integer from 1"),
    (["experiment", "topology", "--min-amount", "0"], None, "argument --min-amount: expected an integer from 1"),
    (["experiment", "topology", "--max-amount", "1e13"], None, "argument --max-amount: expected an integer"),
    (["experiment", "topology", "--rate", "nan"], None, "argument --rate: expected an integer, got 'nan'"),
    (["experiment", "topology", "--rate", "0"], None, "argument --rate: expected an integer from 1"),
    (["experiment", "topology", "--buckets", "0"], None, "argument --buckets: expected an integer from 1"),
    (["experiment", "topology", "--m", "0"], None, "argument --m: expected an integer from 1"),
    (["experiment", "topology", "--m", "50"], None, "Barabasi-Albert needs 1 <= m < n"),
    (["experiment", "topology", "--clusters", "0"], None, "argument --clusters: expected an integer from 1"),
    (["experiment", "topology", "--bridge-degree", "0"], None, "argument --bridge-degree: expected an integer"),
    (["experiment", "topology", "--offline-at", "nan"], None, "argument --offline-at: expected a finite number"),
    (["experiment", "topology", "--offline-at", "1"], None, "argument --offline-at: expected a finite number"),
]

SCENARIO_CASES = [
    (["sim", "--stakes", "abc"], None, "stakes: expected a comma-separated string or a list of integers"),
    (["sim", "--validators", "2", "--stakes", "1000,-5"], None, "stakes: expected"),
    *[(["sim", "--scenario", SCENARIO], text, message) for text, message in [
        ('validators = "ten"\n', "validators: expected an integer from 1 to 1,000, got 'ten'"),
        ("validators = 4.0\n", "validators: expected an integer from 1 to 1,000, got 4.0"),
        ("validators = true\n", "validators: expected an integer from 1 to 1,000, got True"),
        ("validators = [4]\n", "validators: expected an integer"),
        ('light_nodes = "16"\n', "light_nodes: expected an integer"),
        ('duration = "60"\n', "duration: expected a finite number above 0"),
        ("duration = nan\n", "duration: expected a finite number above 0"),
        ("duration = inf\n", "duration: expected a finite number above 0"),
        ("duration = true\n", "duration: expected a finite number above 0"),
        ("seed = 1.5\n", "seed: expected an integer"),
        ("loss = [0.1]\n", "loss: expected a finite number at least 0 and below 1"),
        ("transfer_interval = nan\n", "transfer_interval: expected a finite number"),
        ("initial_balance = 0\n", "initial_balance: expected an integer from 1"),
        ("fee = -1\n", "fee: expected an integer from 0"),
        ("overdraft_probability = 2\n", "overdraft_probability: expected a finite number"),
        ("settle_timeout = -inf\n", "settle_timeout: expected a finite number"),
        ('stakes = ["a", "b", "c", "d"]\n', "stakes: expected a comma-separated string or a list of integers"),
        ('stakes = "abc"\n', "stakes: expected a comma-separated string or a list of integers"),
        ("stakes = 5\n", "stakes: expected a comma-separated string or a list of integers"),
        ("stakes = [1.5, 2, 3, 4]\n", "stakes: expected"),
        ("block_reward = 0.5\n", "block_reward: expected an integer"),
        ('silent_validators = "x"\n', "silent_validators: expected"),
        ("silent_validators = [true]\n", "silent_validators: expected"),
        ("restake_interval = 0\n", "restake_interval: expected a finite number"),
        ("layers = 3\n", "layers: expected a comma-separated string or a list of names"),
        ("layers = [1, 2]\n", "layers: expected a comma-separated string or a list of names"),
        ("latency = 5\n", "latency: expected a latency model"),
        ('topology = "ring"\n', "topology: expected one of complete, ba, bottleneck, bottlenecks, got 'ring'"),
        ("proposer = 3\n", "proposer: expected a string, got 3"),
        ('proposer = "dice"\n', "proposer: expected weighted-round-robin or lottery, got 'dice'"),
        ("db = 5\n", "db: expected a string, got 5"),
        ('layers = "ledger,pos,channels"\nchannel_deposit = "lots"\n', "channel_deposit: expected an integer"),
        ('layers = "ledger,pos,channels"\npayments = 0\n', "payments: expected an integer from 1"),
        ('layers = "ledger,pos,channels"\nunilateral_closes = -1\n', "unilateral_closes: expected an integer"),
        ('layers = "ledger,pos,channels"\nchallenge_period = 2.5\n', "challenge_period: expected an integer"),
        ("validatorz = 4\n", "unknown scenario setting 'validatorz'; did you mean validators?"),
        ("[sim]\nlight_node = 4\n", "unknown scenario setting 'light_node'; did you mean light_nodes?"),
        ("sim = 3\n", "expected a [sim] table of settings, got 3"),
    ]],
]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run ``a27`` in process; return its exit status and stderr (argparse errors exit through SystemExit)."""
    try:
        code = main(argv)
    except SystemExit as error:
        code = error.code  # type: ignore[assignment]
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("argv", "toml", "message"), PATH_CASES + NUMBER_CASES + SCENARIO_CASES)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], toml: str | None, message: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "a-file"
    file.write_text("not a directory\n", encoding="utf-8")
    scenario = tmp_path / "scenario.toml"
    if toml is not None:
        scenario.write_text(toml, encoding="utf-8")
    argv = [part.replace(FILE, str(file)).replace(SCENARIO, str(scenario)) for part in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    code, err = _run([*argv, "--no-progress"], capsys)
    assert code == 2, err
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"a27 {argv[0] if argv[0] == 'sim' else ' '.join(argv[:2])}: "), err
    assert message.replace(FILE, str(file)) in err
    assert file.read_text(encoding="utf-8") == "not a directory\n"
    assert not (tmp_path / "out").exists()


def test_a_good_directory_is_created_and_kept(tmp_path: Path) -> None:
    folder = check_directory("--out", tmp_path / "new" / "report")
    assert folder.is_dir()
    assert list(folder.iterdir()) == []


def test_an_unwritable_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PathOptionError, match=r"^--db .*a-file/x: not a directory$"):
        (tmp_path / "a-file").write_text("", encoding="utf-8")
        check_directory("--db", tmp_path / "a-file" / "x")
