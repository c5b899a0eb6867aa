"""`spillover strategies new` writes a plugin that installs, registers and passes its own test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.plugin_helpers import ROOT, pip_install_target, spillover_with


def test_a_scaffolded_plugin_installs_and_passes_its_backtest_test(tmp_path: Path) -> None:
    made = spillover_with(tmp_path, "strategies", "new", "gap_rider", "--dir", str(tmp_path))
    assert made.returncode == 0, made.stderr
    package = tmp_path / "gap_rider"
    assert (package / "pyproject.toml").exists() and (package / "tests").is_dir()
    site = tmp_path / "site"
    pip_install_target(package, site)  # not into the venv: other tests must not see it
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]))
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package / "tests")],
        cwd=package, capture_output=True, text=True, timeout=600, check=False, env=env,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-2000:]
    assert "2 passed" in tested.stdout
    listed = spillover_with(site, "strategies", "list")
    assert listed.returncode == 0 and "gap_rider" in listed.stdout
    assert "spillover-gap-rider" in listed.stdout and "threshold: float = 0.3" in listed.stdout


def test_scaffold_refuses_bad_names_and_existing_folders(tmp_path: Path) -> None:
    for bad in ("GapRider", "json", "2fast"):
        res = spillover_with(tmp_path, "strategies", "new", bad, "--dir", str(tmp_path))
        assert res.returncode == 2 and "InputError" in res.stderr, bad
    assert (
        spillover_with(tmp_path, "strategies", "new", "x1", "--dir", str(tmp_path)).returncode == 0
    )
    again = spillover_with(tmp_path, "strategies", "new", "x1", "--dir", str(tmp_path))
    assert again.returncode == 2 and "exists already" in again.stderr
    taken = spillover_with(tmp_path, "strategies", "new", "news_momentum", "--dir", str(tmp_path))
    assert taken.returncode == 2 and "registered already by spillover" in taken.stderr
    assert not (tmp_path / "news_momentum").exists()
