"""Crash: the daemon is killed with SIGKILL after sending orders, then started again.

The stand-in Alpaca server (a separate process, so it outlives the daemon) counts every POST per
client order id: after the restart no order may have been sent twice, and the headline, when it
comes again, is not acted on again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import orjson
import paho.mqtt.client as paho

from tests.stand_in.alpaca_trading_server import StandInControl
from tests.support.mosquitto import shared_broker

__all__ = ["shared_broker"]  # fixture

META = "Meta is said to weigh renting out surplus AI data-center capacity to other companies"
PRICES = {"META": 600.0, "CRWV": 90.0, "NBIS": 100.0, "MU": 110.0, "NVDA": 180.0, "SPY": 650.0}


class Proc:
    """A child process whose stderr lines are collected by a thread."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.popen = subprocess.Popen(
            args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float = 60, after: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines[after:]):
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"never saw {text!r}; output:\n{''.join(self.lines)}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)


def publish(host: str, port: int, prefix: str) -> None:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"pub-{prefix}")
    client.connect(host, port)
    client.loop_start()
    now = time.time_ns()
    frame = {"symbol": list(PRICES), "price": list(PRICES.values()), "size": [100] * len(PRICES),
             "ts": [now] * len(PRICES)}  # fmt: skip
    client.publish(f"{prefix}/ticks/all", orjson.dumps(frame), qos=1).wait_for_publish(5)
    news = {"id": "meta-crash", "headline": META}
    client.publish(f"{prefix}/news/x", orjson.dumps(news), qos=1).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


def until(condition: object, timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_sigkill_after_orders_then_restart_never_sends_an_order_twice(
    tmp_path: Path, shared_broker: tuple[str, int]
) -> None:
    host, port = shared_broker
    prefix = f"crash-{uuid.uuid4().hex[:8]}"
    stand_in = Proc([sys.executable, "-m", "tests.stand_in.alpaca_trading_server", "--port", "0",
                     "--mode", "never"])  # fmt: skip
    try:
        stand_in.wait_for("listening on", timeout=30)
        url = next(x for x in stand_in.lines if "listening on" in x).split("listening on")[1]
        url = url.strip()
        control = StandInControl(url)
        config = tmp_path / "daemon.toml"
        config.write_text(
            f"""
[daemon]
feeds = ["mqtt"]
state_dir = "{tmp_path / "state"}"
view = "log"
[mqtt]
host = "{host}"
port = {port}
client_id = "daemon-{prefix}"
news_topic = "{prefix}/news/#"
ticks_topic = "{prefix}/ticks/#"
[broker]
kind = "alpaca"
[alpaca]
trading_url = "{url}"
poll_interval_s = 0.2
[risk]
market_hours = "off"
[http]
port = 0
"""
        )
        env = {**os.environ, "APCA_API_KEY_ID": "test-key", "APCA_API_SECRET_KEY": "test-secret"}
        command = [sys.executable, "-m", "spillover", "run", "--config", str(config)]
        daemon = Proc(command, env)
        try:
            daemon.wait_for("feed mqtt connected")
            publish(host, port, prefix)
            until(lambda: len(control.submissions()) >= 4, what="the basket at the broker")
            daemon.popen.send_signal(signal.SIGKILL)
            daemon.popen.wait(10)
            sent = control.submissions()
        finally:
            daemon.stop()
        again = Proc(command, env)
        try:
            again.wait_for("feed mqtt connected")
            again.wait_for("following up")  # the open orders, looked up by client order id
            publish(host, port, prefix)  # the same headline again, as a redelivery would
            again.wait_for("seen before")
            assert control.submissions() == sent, "no order was sent a second time"
            assert set(sent.values()) == {1}
            again.popen.send_signal(signal.SIGTERM)
            assert again.popen.wait(10) == 0
        finally:
            again.stop()
        assert "meta-crash" in "".join(again.lines)
    finally:
        stand_in.stop()
