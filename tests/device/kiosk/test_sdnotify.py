"""sd_notify over a real unix datagram socket: READY, watchdog only while healthy."""

from __future__ import annotations

import os
import socket

from device.kiosk.sdnotify import Notifier


def _listener(tmp_path):
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(0.5)
    return s, path


def test_ready_status_and_watchdog_reach_the_socket(tmp_path, monkeypatch):
    sock, path = _listener(tmp_path)
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    n = Notifier(path)
    assert n.watchdog_s == 2.0
    assert n.ready("up")
    assert sock.recv(256) == b"READY=1\nSTATUS=up"
    assert n.watchdog(True, now=100.0)
    assert sock.recv(256) == b"WATCHDOG=1"
    assert not n.watchdog(True, now=100.5)  # within half the period: no second ping
    assert not n.watchdog(False, now=105.0)  # unhealthy: never pinged
    assert n.watchdog(True, now=105.0)
    assert sock.recv(256) == b"WATCHDOG=1"
    n.close()
    sock.close()


def test_outside_systemd_everything_is_a_no_op(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    n = Notifier()
    assert not n.enabled
    assert not n.ready() and not n.watchdog(True)


def test_watchdog_for_another_pid_is_ignored(tmp_path, monkeypatch):
    sock, path = _listener(tmp_path)
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    monkeypatch.setenv("WATCHDOG_PID", "1")
    n = Notifier(path)
    assert n.watchdog_s is None and not n.watchdog(True)
    sock.close()
