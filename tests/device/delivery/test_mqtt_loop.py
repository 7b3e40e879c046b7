"""The one MQTT connection loop (`MqttWorker`) against a real mosquitto on 127.0.0.1: it
subscribes and calls its hooks on its own thread, backs off with growing delays while the
broker is down, reconnects after a broker restart, and stops cleanly (also after a crash
in a hook)."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from device.delivery.mqtt_loop import Backoff, BrokerSettings, MqttWorker
from device.wire.topics import ACK
from tests.support.broker import LocalBroker, free_port
from tests.support.delivery_helpers import device_broker, raw_publish, receiver_broker, wait_for

pytestmark = pytest.mark.broker


class RecordingBackoff(Backoff):
    def __init__(self, first: float = 0.1, cap: float = 0.8):
        super().__init__(first, cap)
        self.delays: list[float] = []

    def next(self) -> float:
        d = super().next()
        self.delays.append(d)
        return d


class Probe(MqttWorker):
    """A worker that records every hook call (and the thread it ran on)."""

    thread_name = "emoface-loop-probe"
    role = "probe"

    def __init__(self, broker: BrokerSettings, client_id: str, topic: str, fail_on_tick=False):
        super().__init__(broker, client_id, backoff=RecordingBackoff())
        self.topic = topic
        self.fail_on_tick = fail_on_tick
        self.events: list[str] = []
        self.errors: list[str | None] = []
        self.messages: list[tuple[str, bytes]] = []
        self.ticks = 0
        self.hook_threads: set[str] = set()

    @property
    def subscription(self) -> str:
        return self.topic

    def _note(self, event: str | None = None) -> None:
        self.hook_threads.add(threading.current_thread().name)
        if event:
            self.events.append(event)

    def configure(self, client) -> None:
        self._note("configure")

    def report(self, error: str | None) -> None:
        self._note()
        self.errors.append(error)

    def on_connected(self) -> None:
        self._note("connected")

    def on_message(self, msg) -> None:
        self._note()
        self.messages.append((msg.topic, bytes(msg.payload)))

    def on_tick(self) -> None:
        self._note()
        self.ticks += 1
        if self.fail_on_tick and self.ready.is_set():
            raise RuntimeError("boom")

    def on_lost(self) -> None:
        self._note("lost")

    def on_shutdown(self) -> None:
        self._note("shutdown")


def growing(delays: list[float]) -> bool:
    return all(a < b for a, b in zip(delays, delays[1:], strict=False))


def test_backoff_doubles_with_jitter_up_to_its_cap_and_resets():
    b = Backoff(first=0.5, cap=4.0)
    delays = [b.next() for _ in range(6)]
    for d, nominal in zip(delays, [0.5, 1, 2, 4, 4, 4], strict=True):
        assert 0.8 * nominal <= d <= 1.2 * nominal
    b.reset()
    assert 0.4 <= b.next() <= 0.6


def test_it_reconnects_after_a_broker_restart_and_stops_cleanly(clinic, live_broker, caplog):
    caplog.set_level(logging.INFO)
    topic = ACK.for_device("dev-a")
    probe = Probe(device_broker(clinic, "dev-a"), "dev-a-loop-test", topic)
    probe.start_thread()
    try:
        assert probe.ready.wait(10), f"no subscription: {probe.errors}"
        wait_for(lambda: probe.events.count("connected") == 1, timeout=5, what="on_connected")
        assert probe.errors[-1] is None
        raw_publish(receiver_broker(clinic), "loop-test-rx", topic, [b"one"])
        wait_for(lambda: probe.messages, timeout=5, what="the first message")

        live_broker.stop()  # down for a while: the worker keeps trying, slower and slower
        wait_for(lambda: not probe.ready.is_set(), timeout=5, what="the loss to be noticed")
        wait_for(lambda: len(probe.backoff.delays) >= 4, timeout=10, what="four retries")
        assert probe.is_alive()
        assert "lost" in probe.events
        assert any(e and "cannot reach broker" in e for e in probe.errors)
        assert growing(probe.backoff.delays[:4])
        assert "cannot reach broker" in caplog.text

        live_broker.start()
        assert probe.ready.wait(10), f"no reconnection: {probe.errors}"
        wait_for(lambda: probe.events.count("connected") == 2, timeout=5, what="on_connected")
        assert probe.backoff.n == 0  # reset by the new connection
        assert probe.errors[-1] is None
        raw_publish(receiver_broker(clinic), "loop-test-rx", topic, [b"two"])
        wait_for(lambda: len(probe.messages) == 2, timeout=5, what="the second message")
        assert probe.messages == [(topic, b"one"), (topic, b"two")]
    finally:
        t0 = time.monotonic()
        probe.stop(timeout=5)
    assert time.monotonic() - t0 < 2
    assert not probe.is_alive() and not probe.ready.is_set()
    assert probe.events[-2:] == ["shutdown", "lost"]
    assert probe.hook_threads == {"emoface-loop-probe"}
    assert probe.ticks > 0


@pytest.fixture
def plain_broker(tmp_path):
    """A plain (no TLS, anonymous) mosquitto on a free port, not started yet."""
    port = free_port()
    conf = tmp_path / "plain.conf"
    conf.write_text(
        f"user root\npersistence false\nlog_dest stdout\n"
        f"listener {port} 127.0.0.1\nallow_anonymous true\n"
    )
    b = LocalBroker(conf, port)
    yield b
    b.stop()


def test_a_broker_that_is_down_is_retried_with_growing_delays(plain_broker):
    url = f"mqtt://127.0.0.1:{plain_broker.port}"
    probe = Probe(BrokerSettings(url), "loop-down-test", "emoface/+/summary")
    probe.start_thread()
    try:
        wait_for(lambda: len(probe.backoff.delays) >= 4, timeout=10, what="four retries")
        assert probe.is_alive() and not probe.ready.is_set()
        assert growing(probe.backoff.delays[:4])
        assert probe.errors[0].startswith(f"cannot reach broker {url}:")
        assert "connected" not in probe.events
        plain_broker.start()
        assert probe.ready.wait(10), f"no connection once the broker is up: {probe.errors}"
        wait_for(lambda: "connected" in probe.events, timeout=5, what="on_connected")
    finally:
        probe.stop(timeout=5)
    assert not probe.is_alive()
    assert "shutdown" in probe.events


def test_a_crash_in_a_hook_is_reported_and_the_connection_closed(plain_broker, caplog):
    plain_broker.start()
    url = f"mqtt://127.0.0.1:{plain_broker.port}"
    probe = Probe(BrokerSettings(url), "loop-crash-test", "emoface/+/ack", fail_on_tick=True)
    probe.start_thread()
    try:
        wait_for(lambda: not probe.is_alive(), timeout=10, what="the worker to stop")
    finally:
        probe.stop(timeout=5)
    assert probe.errors[-1] == "probe crashed (see log)"
    assert "probe stopped by an unexpected error" in caplog.text
    assert probe.events[-2:] == ["shutdown", "lost"]
    assert not probe.ready.is_set()


def test_stop_before_any_connection_returns_at_once():
    probe = Probe(BrokerSettings(f"mqtt://127.0.0.1:{free_port()}"), "loop-idle", "x/+/y")
    probe.backoff = RecordingBackoff(first=30.0, cap=30.0)  # a long wait to interrupt
    probe.start_thread()
    wait_for(lambda: probe.backoff.delays, timeout=5, what="the first retry wait")
    t0 = time.monotonic()
    probe.stop(timeout=5)
    assert time.monotonic() - t0 < 1 and not probe.is_alive()
    assert "shutdown" not in probe.events  # there was never a client to shut down
