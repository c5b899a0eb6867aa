"""`spillover run` as an operator runs it: a separate process, stopped by a signal."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from backtests.synth import generate


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    generate(folder, seed=3, days=1, symbols=8)
    return folder


def start(
    sample: Path, state: Path, speed: float
) -> tuple[subprocess.Popen[str], list[str], threading.Thread]:
    env = {
        **os.environ,
        "SPILLOVER_REPLAY__NEWS": str(sample / "news.parquet"),
        "SPILLOVER_REPLAY__TRADES": str(sample / "trades.parquet"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "spillover", "run", "--view", "log", "--http-port", "0",
         "--speed", str(speed), "--state-dir", str(state)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return proc, lines, reader


def finish(proc: subprocess.Popen[str], reader: threading.Thread, timeout: float) -> str:
    """Wait for the exit; return stdout (stderr went to the reader thread)."""
    proc.wait(timeout=timeout)
    reader.join(timeout=10)
    assert proc.stdout is not None
    return proc.stdout.read()


def wait_for(lines: list[str], text: str, proc: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in lines):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"never saw {text!r}; stderr:\n{''.join(lines)}")
        time.sleep(0.02)


def test_sigterm_stops_intake_flushes_the_journal_and_exits_zero(
    sample: Path, tmp_path: Path
) -> None:
    proc, lines, reader = start(sample, tmp_path, speed=300)
    wait_for(lines, '"news ', proc, timeout=120)  # it has traded at least one headline
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    stdout = finish(proc, reader, timeout=30)
    took = time.monotonic() - t0
    assert proc.returncode == 0, "".join(lines)
    print(f"SIGTERM to exit: {took:.2f} s")
    assert "headlines" in stdout and "orders sent" in stdout
    db = sqlite3.connect(tmp_path / "replay" / "journal.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    news = db.execute("SELECT COUNT(*) FROM news").fetchone()[0]
    orders = db.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    assert news >= 1 and orders >= 1
    assert not (tmp_path / "replay" / "journal.sqlite-wal").exists() or (
        (tmp_path / "replay" / "journal.sqlite-wal").stat().st_size == 0
    ), "the WAL was checkpointed on exit"


def test_the_replay_runs_to_its_end_and_reports(sample: Path, tmp_path: Path) -> None:
    proc, lines, reader = start(sample, tmp_path, speed=50_000)
    stdout = finish(proc, reader, timeout=120)
    assert proc.returncode == 0, "".join(lines)
    assert "replay finished" in "".join(lines)
    summary = stdout.strip().splitlines()[-1]
    assert "headlines" in summary and "fills" in summary
    traded = int(summary.split(" traded")[0].split()[-1])
    assert traded > 0, summary
