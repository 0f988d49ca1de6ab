"""
Test every a27 layer as a team would pin it: from its wheel, not from an editable checkout.

For each package: `hatch build` makes a wheel and an sdist; the wheel built from the sdist must hold the same files
as the wheel built from the tree (so nothing is lost on the way through the sdist). Then, for each layer, a fresh
virtual environment gets that layer's wheel with the wheels of the layers below it (and the layer's `test` extra),
and the layer's tests run against the installed wheel: a module or data file missing from a wheel fails here.

Run it with `tox -e wheels` (CI does), or directly: `python .ci/wheels.py [--layer pos ...]`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PACKAGES = {
    "netsim": ("packages/a27-netsim", "a27_netsim", ()),
    "ledger": ("packages/a27-ledger", "a27_ledger", ()),
    "pos": ("packages/a27-pos", "a27_pos", ("ledger",)),
    "channels": ("packages/a27-channels", "a27_channels", ("ledger", "pos")),
    "attacks": ("packages/a27-attacks", "a27_attacks", ("netsim", "ledger", "pos", "channels")),
    "harness": ("sim-harness", "a27_harness", ("netsim", "ledger", "pos", "channels", "attacks")),
}
"""layer -> (folder, import name, the layers below it that it installs)."""


def run(command: list[str], cwd: Path | None = None) -> None:
    """Run a command, echoing it; stop the script with its exit code when it fails."""
    print("+", " ".join(command), flush=True)
    completed = subprocess.run(command, cwd=cwd, check=False)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def wheel_files(wheel: Path) -> set[str]:
    """The files a wheel holds, without its RECORD (whose hashes differ between builds)."""
    with zipfile.ZipFile(wheel) as archive:
        return {name for name in archive.namelist() if not name.endswith("/RECORD")}


def build(layer: str, dist: Path) -> Path:
    """Build the layer's wheel and sdist into `dist`; check the sdist rebuilds the same wheel; return the wheel."""
    folder, module, _ = PACKAGES[layer]
    out = dist / layer
    run([sys.executable, "-m", "hatch", "build", "--target", "wheel", "--target", "sdist", str(out)], cwd=ROOT / folder)
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        sys.exit(f"{layer}: expected one wheel and one sdist in {out}, found {wheels + sdists}")
    rebuilt = out / "from-sdist"
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(rebuilt), str(sdists[0])])
    direct, via_sdist = wheel_files(wheels[0]), wheel_files(next(rebuilt.glob("*.whl")))
    if direct != via_sdist:
        sys.exit(f"{layer}: the wheel built from the sdist differs: only direct {sorted(direct - via_sdist)}, "
                 f"only via sdist {sorted(via_sdist - direct)}")
    if f"{module}/py.typed" not in direct:
        sys.exit(f"{layer}: {module}/py.typed is missing from the wheel")
    return wheels[0]


def test_installed(layer: str, wheels: dict[str, Path], work: Path, pytest_args: list[str]) -> None:
    """Install the layer's wheel (with the wheels below it) into a fresh environment and run its tests there."""
    folder, module, below = PACKAGES[layer]
    environment = work / f"venv-{layer}"
    venv.EnvBuilder(with_pip=True, clear=True).create(environment)
    python = environment / ("Scripts" if os.name == "nt" else "bin") / "python"
    requirements = [str(wheels[name]) for name in below] + [f"{wheels[layer]}[test]"]
    if layer == "harness":
        requirements.append("import-linter>=2.1")
    run([str(python), "-m", "pip", "install", "--quiet", *requirements])
    # The tests must exercise the installed wheel, not the source tree beside them.
    located = subprocess.run([str(python), "-c", f"import {module}; print({module}.__file__)"],
                             cwd=ROOT / folder / "tests", capture_output=True, text=True, check=True).stdout.strip()
    if not Path(located).resolve().is_relative_to(environment.resolve()):
        sys.exit(f"{layer}: {module} imported from {located}, not from the installed wheel")
    print(f"{layer}: testing {module} from {located}", flush=True)
    run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args, "tests"], cwd=ROOT / folder)


def main() -> None:
    """Build every package, then test the chosen layers (all by default) from their wheels."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--layer", action="append", choices=list(PACKAGES), help="test only these layers")
    parser.add_argument("--keep", type=Path, help="build and install under this folder and keep it")
    arguments, pytest_args = parser.parse_known_args()
    if importlib.util.find_spec("hatch") is None:
        sys.exit("hatch is not installed: pip install hatch")
    layers = arguments.layer or list(PACKAGES)
    needed = {name for layer in layers for name in (layer, *PACKAGES[layer][2])}
    work = arguments.keep or Path(tempfile.mkdtemp(prefix="a27-wheels-"))
    try:
        wheels = {name: build(name, work / "dist") for name in PACKAGES if name in needed}
        for layer in layers:
            test_installed(layer, wheels, work, pytest_args)
    finally:
        if arguments.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"wheels: {', '.join(layers)} pass from their wheels", flush=True)


if __name__ == "__main__":
    main()
