"""A mosquitto process on 127.0.0.1 for tests and benches: start, stop, restart, reload."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from provisioning.broker import BrokerError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalBroker:
    """A mosquitto process on 127.0.0.1 for tests and benches: start, stop, restart."""

    def __init__(self, conf: Path, port: int, binary: str = "mosquitto"):
        self.conf = Path(conf)
        self.port = port
        self.binary = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/local/sbin")
        if not self.binary:
            raise BrokerError("mosquitto not found (apt-get install mosquitto)")
        self.proc: subprocess.Popen | None = None
        self.log = self.conf.with_name("mosquitto.log")

    def start(self, timeout: float = 10.0) -> LocalBroker:
        logf = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf)], stdout=logf, stderr=subprocess.STDOUT
        )
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(
            f"mosquitto did not listen on {self.port}: {self.log.read_text()[-2000:]}"
        )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def reload(self) -> None:
        """SIGHUP: mosquitto re-reads parts of its config, but not the dynamic-security
        access file nor the CRL: after enroll, add-receiver or revoke, `restart()`."""
        if self.proc:
            self.proc.send_signal(signal.SIGHUP)

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
