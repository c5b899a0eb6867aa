"""`spillover data alpaca` against the local stand-in of Alpaca's data API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.stand_in.alpaca_data_server import AlpacaDataStandIn


def test_download_then_rerun_skips_everything(tmp_path: Path) -> None:
    with AlpacaDataStandIn() as server:
        env = {
            **os.environ,
            "APCA_API_KEY_ID": server.api_key,
            "APCA_API_SECRET_KEY": server.secret_key,
        }
        args = [sys.executable, "-m", "spillover", "data", "alpaca", "--symbols", "AAPL,MSFT",
                "--start", "2024-01-01", "--end", "2024-02-29", "--out", str(tmp_path), "--url", server.url]  # fmt: skip
        first = subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert first.returncode == 0, first.stderr
        assert "3 part(s) downloaded, 0 already done" in first.stdout
        again = subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert "0 part(s) downloaded, 3 already done" in again.stdout
    assert (tmp_path / "news.jsonl").exists() and (tmp_path / "bars" / "AAPL.parquet").exists()


def test_missing_keys_say_which_variables_to_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APCA_")}
    res = subprocess.run(
        [sys.executable, "-m", "spillover", "data", "alpaca", "--symbols", "AAPL", "--start", "2024-01-01",
         "--end", "2024-01-31", "--out", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert res.returncode == 2
    assert "APCA_API_KEY_ID" in res.stderr and "Traceback" not in res.stderr
