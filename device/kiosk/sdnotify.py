"""systemd's notify protocol (READY=1, WATCHDOG=1, STATUS=...) without libsystemd.

The kiosk's unit is Type=notify with WatchdogSec: the app says READY once its screen is
up, then pings the watchdog from its main loop only while it is healthy (loop turning,
camera not stalled mid-session). A wedged loop stops the pings and systemd restarts it.
Outside systemd ($NOTIFY_SOCKET unset) every call is a no-op.
"""

from __future__ import annotations

import os
import socket
import time


class Notifier:
    def __init__(self, address: str | None = None):
        self.address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        self.watchdog_s = (
            int(usec) / 1e6 if usec.isdigit() and (not pid or pid == str(os.getpid())) else None
        )
        self._last_ping = 0.0
        self._sock = None
        if self.address:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.setblocking(False)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def notify(self, message: str) -> bool:
        """Send one notify datagram; False when not under systemd or the send failed."""
        if self._sock is None:
            return False
        addr = self.address
        if addr.startswith("@"):  # abstract namespace socket
            addr = "\0" + addr[1:]
        try:
            self._sock.sendto(message.encode("utf-8"), addr)
            return True
        except OSError:
            return False

    def ready(self, status: str = "ready") -> bool:
        return self.notify(f"READY=1\nSTATUS={status}")

    def status(self, status: str) -> bool:
        return self.notify(f"STATUS={status}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def watchdog(self, healthy: bool, now: float | None = None) -> bool:
        """Ping at most every half watchdog period, and only when `healthy`."""
        if not healthy or self.watchdog_s is None:
            return False
        now = time.monotonic() if now is None else now
        if now - self._last_ping < self.watchdog_s / 2:
            return False
        self._last_ping = now
        return self.notify("WATCHDOG=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
