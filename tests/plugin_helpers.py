"""Fake installed distributions for plugin tests: a dist-info folder on a path, no pip, no venv change."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fake_dist(site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
    """Write modules and a `dist-0.1.dist-info` registering `entry_points` under spillover.strategies."""
    site.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (site / f"{name}.py").write_text(source)
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[spillover.strategies]\n{lines}")
    return site


def spillover_with(
    site: Path, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `python -m spillover ARGS` with `site` on PYTHONPATH (as if a plugin were installed)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "spillover", *args],
        capture_output=True, text=True, timeout=timeout, check=False, env=env,
    )  # fmt: skip


def pip_install_target(package: Path, site: Path) -> None:
    """`pip install --no-deps --target site package`: installs a plugin without touching the venv."""
    res = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check",
         "--target", str(site), str(package)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
