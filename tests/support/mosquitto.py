"""A private Mosquitto broker for tests that need to stop one (outages, restarts).

Usage::

    from tests.support.mosquitto import Mosquitto

    with Mosquitto(tmp_path) as broker:      # starts on a free port, waits until it listens
        settings = MqttSettings(host=broker.host, port=broker.port, ...)
        ...
        broker.stop()                        # an outage: clean shutdown, session state saved
        broker.start()                       # back on the same port with the same data dir
    # always stopped (killed if need be) on leaving the block

or as pytest fixtures (import them into a test module or a conftest)::

    from tests.support.mosquitto import mosquitto_broker, shared_broker

`mosquitto_broker` is a fresh `Mosquitto` per test; `shared_broker` is `(host, port)` of the
machine's broker on 127.0.0.1:1883, or of one private broker for the session when nothing
listens there. Both skip the test, saying why, when the `mosquitto` binary is missing.

The config: `listener <port> 127.0.0.1`, `allow_anonymous true`, `persistence true` in the data
dir (so a restart keeps persistent sessions and their queued QoS 1 messages),
`set_tcp_nodelay true`, and a log file `mosquitto.log` in the data dir.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

__all__ = ["Mosquitto", "find_mosquitto", "mosquitto_broker", "port_open", "shared_broker"]

SHARED_HOST = "127.0.0.1"
SHARED_PORT = 1883


def find_mosquitto() -> str | None:
    """Return the path of the `mosquitto` binary, or None."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in (
        "/usr/sbin/mosquitto",
        "/usr/local/sbin/mosquitto",
        "/opt/homebrew/sbin/mosquitto",
    ):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    """Whether something accepts TCP connections on `host:port`."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Mosquitto:
    """One `mosquitto` process on 127.0.0.1 with its own port, config and data dir.

    `start()` and `stop()` may be called again and again; the port and data dir stay, so a
    stop/start pair is a broker outage that persistent sessions survive.
    """

    host = "127.0.0.1"

    def __init__(
        self, data_dir: Path | None = None, *, port: int | None = None, start_timeout: float = 10.0
    ) -> None:
        binary = find_mosquitto()
        if binary is None:
            pytest.skip("the `mosquitto` binary is not installed (apt-get install mosquitto)")
        self.binary = binary
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mosquitto-")
            data_dir = Path(self._tmp.name)
        self.data_dir = data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port if port is not None else free_port(self.host)
        self.start_timeout = start_timeout
        self.config_path = self.data_dir / "mosquitto.conf"
        self.log_path = self.data_dir / "mosquitto.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._write_config()

    def _write_config(self) -> None:
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.data_dir}/",
            "set_tcp_nodelay true",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            # Run as root, mosquitto drops to the `mosquitto` user and could not write the data
            # dir; as anyone else this line has no effect.
            f"user {pwd.getpwuid(os.geteuid()).pw_name}",
        ]
        self.config_path.write_text("\n".join(lines) + "\n")

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the broker and wait until its port accepts connections."""
        if self.running:
            return
        self._proc = subprocess.Popen(
            [self.binary, "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                self._proc = None
                raise RuntimeError(f"mosquitto exited at start: {err.strip()}\n{self.log_tail()}")
            if port_open(self.host, self.port):
                return
            time.sleep(0.02)  # poll interval, bounded by the deadline
        self.kill()
        raise RuntimeError(
            f"mosquitto did not listen on {self.host}:{self.port} within {self.start_timeout} s"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the broker down cleanly (it saves its persistence file); kill it if it hangs."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._close(proc)

    def kill(self) -> None:
        """Kill the broker at once (no persistence save: a crash)."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        self._close(proc)

    def _close(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.stderr is not None:
            proc.stderr.close()
        self._proc = None

    def log_tail(self, lines: int = 20) -> str:
        """The end of the broker's log file, for failure messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def close(self) -> None:
        """Stop the broker and remove its temporary data dir (if it made one)."""
        try:
            self.stop()
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None

    def __enter__(self) -> Mosquitto:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@pytest.fixture
def mosquitto_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A private broker for this test, started; stopped and killed at the end whatever happens."""
    with Mosquitto(tmp_path / "mosquitto") as broker:
        yield broker


@pytest.fixture(scope="session")
def shared_broker() -> Iterator[tuple[str, int]]:
    """`(host, port)` of the machine's broker on 127.0.0.1:1883, or of a private one."""
    if port_open(SHARED_HOST, SHARED_PORT):
        yield SHARED_HOST, SHARED_PORT
        return
    with Mosquitto() as broker:
        yield broker.host, broker.port
